// MARK: Tokenizer (placeholder interface; the implementation lands with the tokenizer work)

/// A tokenizer read from a Hugging Face `tokenizer.json`.
public final class Tokenizer: @unchecked Sendable {
    /// The parsed tokenizer.json, written back unchanged by `save`.
    public let json: JSONValue
    public let vocabSize: Int

    public init(json: JSONValue, file: String? = nil) throws {
        self.json = json
        self.vocabSize = 0
        throw CoreError("tokenizer not implemented yet", file: file)
    }

    /// Token ids of `text`, without added special tokens (post-processor not applied).
    public func encode(_ text: String) -> [Int] { [] }
    /// Text of `ids`, as HF `decode(skip_special_tokens=False)`.
    public func decode(_ ids: [Int]) -> String { "" }
    /// The vocabulary string of `id`, if in range.
    public func token(_ id: Int) -> String? { nil }
    /// The id of vocabulary string `token`.
    public func id(of token: String) -> Int? { nil }
}
