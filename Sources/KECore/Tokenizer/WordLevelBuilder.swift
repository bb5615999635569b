// MARK: Building WordLevel tokenizers
//
// A WordLevel tokenizer.json written from a word list, in the format HF `tokenizers` loads, so
// a built-in model can ship a tokenizer that transformers reads unchanged.

extension Tokenizer {
    /// A WordLevel tokenizer.json: `vocabulary` in id order, `unkToken` for unknown words,
    /// `specialTokens` registered as special added tokens. With `splitPunctuation` the
    /// pre-tokenizer is `Whitespace` (`\w+|[^\w\s]+`), else `WhitespaceSplit`.
    ///
    /// - Throws: `CoreError` when a vocabulary entry is empty or repeated, or lacks `unkToken` or a special token.
    public static func wordLevelJSON(vocabulary: [String], unkToken: String, specialTokens: [String] = [],
                                     splitPunctuation: Bool = true) throws -> JSONValue {
        var ids: [TokenKey: Int] = [:]
        for (i, w) in vocabulary.enumerated() {
            if w.isEmpty { throw CoreError("word-level vocabulary entry \(i) is empty") }
            if ids[TokenKey(w)] != nil { throw CoreError("word-level vocabulary lists \"\(w)\" twice") }
            ids[TokenKey(w)] = i
        }
        guard ids[TokenKey(unkToken)] != nil else {
            throw CoreError("the unknown token \"\(unkToken)\" is not in the word-level vocabulary")
        }
        var added: [JSONValue] = []
        for s in specialTokens {
            guard let id = ids[TokenKey(s)] else {
                throw CoreError("special token \"\(s)\" is not in the word-level vocabulary")
            }
            added.append(.object([
                ("id", .int(id)), ("content", .string(s)), ("single_word", .bool(false)),
                ("lstrip", .bool(false)), ("rstrip", .bool(false)), ("normalized", .bool(false)),
                ("special", .bool(true)),
            ]))
        }
        return .object([
            ("version", .string("1.0")),
            ("truncation", .null),
            ("padding", .null),
            ("added_tokens", .array(added)),
            ("normalizer", .null),
            ("pre_tokenizer", .object([("type", .string(splitPunctuation ? "Whitespace" : "WhitespaceSplit"))])),
            ("post_processor", .null),
            ("decoder", .null),
            ("model", .object([
                ("type", .string("WordLevel")),
                ("vocab", .object(vocabulary.enumerated().map { ($0.element, .int($0.offset)) })),
                ("unk_token", .string(unkToken)),
            ])),
        ])
    }

    /// A WordLevel tokenizer over `vocabulary` (see `wordLevelJSON`).
    ///
    /// - Throws: `CoreError` as `wordLevelJSON`, or as `init(json:file:)`.
    public convenience init(vocabulary: [String], unkToken: String = "[UNK]", specialTokens: [String] = [],
                            splitPunctuation: Bool = true) throws {
        try self.init(json: Tokenizer.wordLevelJSON(
            vocabulary: vocabulary, unkToken: unkToken, specialTokens: specialTokens,
            splitPunctuation: splitPunctuation))
    }
}
