#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Tokenizer
//
// A Hugging Face `tokenizer.json`, run with the same pipeline as the `tokenizers` library:
//   1. cut out added tokens whose `normalized` is false (raw text),
//   2. normalize each remaining piece, cut out the normalized added tokens,
//   3. pre-tokenize each piece into words,
//   4. run the model (BPE or WordLevel) on each word.
// Decoding maps ids to token strings (added tokens first) and runs the decoder.
// The post-processor runs only when asked (`encode(_:addSpecialTokens: true)`, HF's
// `add_special_tokens=True`); plain `encode` adds no special tokens.

/// A tokenizer read from a Hugging Face `tokenizer.json`.
public final class Tokenizer: @unchecked Sendable {
    /// The parsed tokenizer.json, written back unchanged by `save`.
    public let json: JSONValue
    /// One more than the largest token id (model vocabulary and added tokens); equal to HF's
    /// `get_vocab_size(with_added_tokens=True)` when ids are dense, as in every real file.
    /// Added tokens get their ids as HF gives them (see `init(json:file:)`), not from the file.
    public let vocabSize: Int
    /// Ids of the added tokens marked special (e.g. `<|endoftext|>`).
    public let specialTokenIDs: Set<Int>

    enum Model {
        case bpe(BPEModel)
        case wordLevel(WordLevelModel)
    }

    let model: Model
    let normalizer: TokenNormalizer?
    let preTokenizer: TokenPreTokenizer?
    let decoder: TokenDecoder?
    let postProcessor: TokenPostProcessor?
    let addedTokens: [AddedToken]
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    /// Added-token content of each id (looked up before the model vocabulary).
    let addedByID: [Int: String]
    let addedByContent: [TokenKey: Int]

    // MARK: Loading

    /// Builds a tokenizer from a parsed tokenizer.json; `file` names it in errors.
    ///
    /// - Throws: `CoreError` naming `file` and the field: an unsupported model, normalizer, pre-tokenizer, decoder or post-processor type, a regex Oniguruma refuses (naming the pattern), or malformed vocabulary, merges or added tokens.
    public init(json: JSONValue, file: String? = nil) throws {
        self.json = json
        guard json.objectValue != nil else { throw CoreError("tokenizer.json is not a JSON object", file: file) }
        guard let m = json["model"], m.objectValue != nil else {
            throw CoreError("tokenizer.json has no \"model\" object", file: file)
        }
        let (model, vocab, vocabR) = try Self.readModel(m, file: file)
        self.model = model
        normalizer = try json["normalizer"].flatMap { try TokenNormalizer.parse($0, file: file) }
        preTokenizer = try json["pre_tokenizer"].flatMap { try TokenPreTokenizer.parse($0, file: file) }
        decoder = try json["decoder"].flatMap { try TokenDecoder.parse($0, file: file) }
        postProcessor = try json["post_processor"].flatMap { try TokenPostProcessor.parse($0, file: file) }

        let numbered = try AddedVocabulary(json["added_tokens"], vocabulary: vocab, file: file)
        let added = numbered.tokens
        addedTokens = added
        specialTokenIDs = numbered.specialIDs
        var raw = AddedTokenMatcher(), norm = AddedTokenMatcher()
        // Specials first, then the others: a pattern two tokens share goes to the first.
        for t in added.filter({ $0.special }) + added.filter({ !$0.special }) {
            let pattern = Array(t.content.unicodeScalars)
            if t.normalized {
                norm.add(t, pattern: normalizer?.apply(pattern) ?? pattern)
            } else {
                raw.add(t, pattern: pattern)
            }
        }
        rawMatcher = raw
        normalizedMatcher = norm
        addedByID = numbered.contentByID
        addedByContent = numbered.idByContent
        vocabSize = max(vocabR.count, (added.map { $0.id }.max() ?? -1) + 1)
    }

    /// The model of a tokenizer.json's `"model"` object `m` (its `type`, or BPE when it has
    /// merges), with its vocabulary (content → id) and the reverse (id → content).
    ///
    /// - Throws: `CoreError` naming `file`: no or an unsupported type, or as `BPEModel(json:file:)`
    ///   and `WordLevelModel(json:file:)`.
    static func readModel(_ m: JSONValue, file: String?) throws -> (Model, vocab: [TokenKey: Int], vocabR: [String?]) {
        let type = m["type"]?.stringValue ?? (m["merges"] != nil ? "BPE" : "")
        switch type {
        case "BPE":
            let b = try BPEModel(json: m, file: file)
            return (.bpe(b), b.vocab, b.vocabR)
        case "WordLevel":
            let w = try WordLevelModel(json: m, file: file)
            return (.wordLevel(w), w.vocab, w.vocabR)
        case "":
            throw CoreError("tokenizer model has no \"type\"", file: file)
        default:
            throw CoreError("unsupported tokenizer model \"\(type)\" (BPE and WordLevel are supported)", file: file)
        }
    }

    /// Checks that every added token's id has a row in a model's embedding matrix of `rows` rows.
    /// - Throws: `CoreError` naming the first token outside it, its id, and both sizes.
    public func checkAddedTokens(fitEmbeddingRows rows: Int, file: String? = nil) throws {
        for t in addedTokens.sorted(by: { $0.id < $1.id }) where t.id >= rows {
            throw CoreError("added token \(TextPattern.jsonQuoted(t.content)) gets id \(t.id) (HF numbering; the tokenizer has \(vocabSize) ids) but the model's embedding matrix has \(rows) rows", file: file)
        }
    }

    /// Reads and parses a tokenizer.json file.
    ///
    /// - Throws: `CoreError` naming the file when it is missing, not JSON, or as `init(json:file:)`.
    public convenience init(contentsOf path: String) throws {
        try self.init(json: try readJSONFile(path), file: path)
    }

    // MARK: Encoding

    /// Token ids of `text`, without added special tokens (post-processor not applied).
    public func encode(_ text: String) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(text.utf8.count / 3 + 4)
        var stage1: [TextSegment] = []
        rawMatcher.split(Array(text.unicodeScalars), into: &stage1)
        var stage2: [TextSegment] = []
        for (k1, seg) in stage1.enumerated() {
            switch seg {
            case .token(let id): out.append(id)
            case .text(let piece):
                stage2.removeAll(keepingCapacity: true)
                normalizedMatcher.split(normalizer?.apply(piece) ?? piece, into: &stage2)
                for (k2, seg2) in stage2.enumerated() {
                    switch seg2 {
                    case .token(let id): out.append(id)
                    case .text(let p):
                        if let pre = preTokenizer {
                            // A first text segment always starts at offset 0 of its parent.
                            for word in pre.apply([p], atOrigin: k1 == 0 && k2 == 0) { tokenizeWord(word, into: &out) }
                        } else {
                            tokenizeWord(p, into: &out)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Token ids of `text`; with `addSpecialTokens` the post-processor adds its special tokens
    /// (HF `encode(text, add_special_tokens=True)`). With `maxLength` the text's own tokens are
    /// truncated first so that the result has at most `maxLength` ids, as HF truncates
    /// (`truncation=True, max_length=…`): the special tokens are kept.
    public func encode(_ text: String, addSpecialTokens: Bool, maxLength: Int? = nil) -> [Int] {
        var ids = encode(text)
        let post = addSpecialTokens ? postProcessor : nil
        if let maxLength {
            let room = max(0, maxLength - (post?.addedCount ?? 0))
            if ids.count > room { ids.removeLast(ids.count - room) }
        }
        return post?.apply(ids) ?? ids
    }

    /// Number of ids the post-processor adds to one sequence (0 without one).
    public var specialTokenCount: Int { postProcessor?.addedCount ?? 0 }

    /// Token ids and token strings of `text` (as `encode`).
    public func encodeWithTokens(_ text: String) -> [(id: Int, token: String)] {
        encode(text).map { ($0, token($0) ?? "") }
    }

    @inline(__always) private func tokenizeWord(_ word: Scalars, into out: inout [Int]) {
        switch model {
        case .bpe(let b): b.tokenize(word, into: &out)
        case .wordLevel(let w): w.tokenize(word, into: &out)
        }
    }

    // MARK: Decoding

    /// Text of `ids`, as HF `decode(skip_special_tokens=False)`; unknown ids are skipped.
    public func decode(_ ids: [Int]) -> String {
        decode(ids, skipSpecialTokens: false)
    }

    /// Text of `ids`; with `skipSpecialTokens`, special added tokens are left out.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        let special = skipSpecialTokens ? specialTokenIDs : []
        for id in ids {
            if special.contains(id) { continue }
            if let t = token(id) { tokens.append(t) }
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }

    // MARK: Vocabulary

    /// The vocabulary string of `id` (added tokens first), if in range.
    public func token(_ id: Int) -> String? {
        if let t = addedByID[id] { return t }
        let r: [String?]
        switch model {
        case .bpe(let b): r = b.vocabR
        case .wordLevel(let w): r = w.vocabR
        }
        guard id >= 0 && id < r.count else { return nil }
        return r[id]
    }

    /// The id of vocabulary string `token` (added tokens first).
    public func id(of token: String) -> Int? {
        let key = TokenKey(token)
        if let id = addedByContent[key] { return id }
        switch model {
        case .bpe(let b): return b.vocab[key]
        case .wordLevel(let w): return w.vocab[key]
        }
    }


    /// True for a WordLevel model (whole words, no subwords).
    public var isWordLevel: Bool {
        if case .wordLevel = model { return true }
        return false
    }

    // MARK: Files

    /// Writes `json` as tokenizer.json at `path` (atomically, see `writeFileAtomically`).
    ///
    /// - Throws: `CoreError` naming the file, or its folder when that does not exist, when it
    ///   cannot be written.
    public func save(to path: String) throws {
        try writeFileAtomically(Array(json.serialized().utf8), to: path)
    }
}
