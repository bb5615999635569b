// MARK: The tokenizer inside a GGUF file
//
// llama.cpp stores the tokenizer as metadata: `tokenizer.ggml.model` (`gpt2` for byte-level
// BPE, `llama` for SentencePiece), `.pre` (the pre-tokenizer variant), `.tokens`, `.scores`,
// `.merges`, `.token_type` (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte) and
// special ids. This builds the equivalent tokenizer.json, as transformers' GGUF converter does
// (`integrations/gguf/gguf_tokenizer_mapping.py`), so the ordinary tokenizer reads it and `save`
// writes it.

/// The split regex of each `tokenizer.ggml.pre` variant that is not GPT-2's (transformers'
/// `GGUF_PRE_TOKENIZER_SPLITS`): the llama-3 pattern (digits in runs of up to 3), Qwen2's (single
/// digits), Qwen3.5's (marks join letters), Tekken's and GPT-4o's (case-aware words). Any other
/// variant keeps the tokenizer class's own pre-tokenizer, as in transformers.
let ggufLlama3Split = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
let ggufQwen2Split = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
let ggufQwen35Split = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
let ggufTekkenSplit = #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
let ggufGPT4oSplit = #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
let ggufPreTokenizerSplits: [String: String] = [
    "llama3": ggufLlama3Split, "llama-v3": ggufLlama3Split, "llama-bpe": ggufLlama3Split,
    "falcon3": ggufLlama3Split, "falcon-h1": ggufLlama3Split, "pixtral": ggufLlama3Split,
    "midm-2.0": ggufLlama3Split, "lfm2": ggufLlama3Split, "jina-v5-nano": ggufLlama3Split,
    "dbrx": ggufLlama3Split, "smaug-bpe": ggufLlama3Split,
    "tekken": ggufTekkenSplit,
    "qwen2": ggufQwen2Split, "deepseek-r1-qwen": ggufQwen2Split, "kormo": ggufQwen2Split,
    "f2llmv2": ggufQwen2Split, "megrez": ggufQwen2Split,
    "qwen35": ggufQwen35Split,
    "gpt-4o": ggufGPT4oSplit, "llama4": ggufGPT4oSplit, "kanana2": ggufGPT4oSplit,
    "talkie": ggufGPT4oSplit, "minimax-m2": ggufGPT4oSplit,
]

/// GPT-2's byte → printable character table (`bytes_to_unicode`).
let byteLevelAlphabet: [Character] = {
    var bs = Array(33...126) + Array(161...172) + Array(174...255)
    var cs = bs
    var n = 0
    for b in 0..<256 where !bs.contains(b) { bs.append(b); cs.append(256 + n); n += 1 }
    var table = [Character](repeating: " ", count: 256)
    for (b, c) in zip(bs, cs) { table[b] = Character(Unicode.Scalar(UInt32(c))!) }
    return table
}()
let byteLevelAlphabetSet = Set(byteLevelAlphabet)

/// A tokenizer.json equivalent to the `tokenizer.ggml.*` metadata of `f`: byte-level BPE for
/// model `gpt2`, SentencePiece-style BPE with byte fallback for model `llama`.
///
/// - Throws: `CoreError` naming the file for a missing or malformed token list, token types,
///   scores, merges or special id, an unsupported tokenizer model (named), or a merge that is not
///   two tokens.
func ggufTokenizerJSON(_ f: GGUFFile) throws -> JSONValue {
    guard let model = f.value("tokenizer.ggml.model")?.stringValue else {
        throw CoreError("missing tokenizer.ggml.model (the file carries no tokenizer; load an HF directory instead)", file: f.path)
    }
    switch model {
    case "gpt2": return try ggufByteLevelJSON(f)
    case "llama": return try ggufSentencePieceJSON(f)
    default:
        throw CoreError("tokenizer.ggml.model '\(model)' is not supported yet (only 'gpt2' byte-level BPE and 'llama' SentencePiece)", file: f.path)
    }
}

/// The `Split` + `ByteLevel` pre-tokenizer transformers installs for a `tokenizer.ggml.pre` it
/// knows (`set_split_regex`, applied whatever the tokenizer model); nil for any other variant.
func ggufSplitPreTokenizer(_ f: GGUFFile) -> JSONValue? {
    let pre = f.value("tokenizer.ggml.pre")?.stringValue ?? "default"
    return ggufPreTokenizerSplits[pre].map { regex in
        .object([("type", .string("Sequence")), ("pretokenizers", .array([
            .object([("type", .string("Split")), ("pattern", .object([("Regex", .string(regex))])),
                     ("behavior", .string("Isolated")), ("invert", .bool(false))]),
            .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)),
                     ("trim_offsets", .bool(true)), ("use_regex", .bool(false))]),
        ]))])
    }
}

/// The strings of `tokenizer.ggml.tokens`.
/// - Throws: `CoreError` when the array is missing or holds a non-string.
func ggufTokenStrings(_ f: GGUFFile) throws -> [String] {
    guard let values = f.value("tokenizer.ggml.tokens")?.arrayValue else {
        throw CoreError("missing tokenizer.ggml.tokens", file: f.path)
    }
    var tokens: [String] = []
    tokens.reserveCapacity(values.count)
    for (i, v) in values.enumerated() {
        guard let s = v.stringValue else { throw CoreError("tokenizer.ggml.tokens[\(i)] is not a string", file: f.path) }
        tokens.append(s)
    }
    return tokens
}

/// The `tokenizer.ggml.merges` as [a, b] pairs; nil when the file has none.
/// - Throws: `CoreError` for a merge that is not a string of two tokens.
func ggufMerges(_ f: GGUFFile) throws -> [JSONValue]? {
    guard let value = f.value("tokenizer.ggml.merges") else { return nil }
    guard let list = value.arrayValue else { throw CoreError("tokenizer.ggml.merges is not an array", file: f.path) }
    var merges: [JSONValue] = []
    merges.reserveCapacity(list.count)
    for (i, v) in list.enumerated() {
        guard let s = v.stringValue else { throw CoreError("tokenizer.ggml.merges[\(i)] is not a string", file: f.path) }
        let parts = s.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw CoreError("tokenizer.ggml.merges[\(i)] '\(s)' is not two tokens", file: f.path) }
        merges.append(.array([.string(String(parts[0])), .string(String(parts[1]))]))
    }
    return merges
}

/// One `added_tokens` entry of tokenizer.json.
func addedTokenJSON(id: Int, _ content: String, special: Bool, normalized: Bool) -> JSONValue {
    .object([("id", .int(id)), ("content", .string(content)), ("single_word", .bool(false)),
             ("lstrip", .bool(false)), ("rstrip", .bool(false)),
             ("normalized", .bool(normalized)), ("special", .bool(special))])
}

/// The `tokenizer.ggml.token_type` of each token (1 normal when the file has none; llama.cpp's 0
/// "undefined" is accepted and, as in transformers, means nothing special).
/// - Throws: `CoreError` for a list of the wrong length or a value outside 0…6.
func ggufTokenTypes(_ f: GGUFFile, count n: Int) throws -> [Int] {
    guard let value = f.value("tokenizer.ggml.token_type") else { return [Int](repeating: 1, count: n) }
    guard let list = value.arrayValue, list.count == n else {
        throw CoreError("tokenizer.ggml.token_type has \(value.arrayValue.map { "\($0.count) entries" } ?? "no array") for \(n) tokens", file: f.path)
    }
    return try list.enumerated().map { i, v in
        guard let t = v.intValue, (0...6).contains(t) else {
            throw CoreError("tokenizer.ggml.token_type[\(i)] is not a token type 0…6", file: f.path)
        }
        return t
    }
}

/// A vocabulary as transformers builds it (`{token: index}`): each distinct token once, in order
/// of first occurrence, with the index of its last occurrence.
struct GGUFVocabulary {
    var ids: [TokenKey: Int] = [:]
    var order: [String] = []

    init(_ tokens: [String]) {
        for (i, t) in tokens.enumerated() where ids.updateValue(i, forKey: TokenKey(t)) == nil { order.append(t) }
    }

    /// The tokenizer.json `vocab` object, by id.
    var json: JSONValue {
        .object(order.map { ($0, .int(ids[TokenKey($0)] ?? 0)) }.sorted { ($0.1.intValue ?? 0) < ($1.1.intValue ?? 0) })
    }
}

/// The added tokens and post-processor transformers gives a GGUF tokenizer. It adds special
/// tokens in three rounds, each skipping a content already added:
///   1. the tokenizer class's own default specials (`defaults`), given new ids after the
///      vocabulary when they are not in it — except, unlike transformers, one whose new id would
///      fall outside the file's embedding matrix (`token_embd.weight` rows): such an id could
///      never be embedded, and a saved copy of the model would not load (a Llama-3 file, whose
///      vocabulary has no GPT-2 `<|endoftext|>`, is the common case),
///   2. control tokens (type 3) as special, where `control` accepts them, and user-defined ones
///      (type 4, only if in the vocabulary) as plain added tokens, none normalized
///      (`add_gguf_special_tokens`),
///   3. the file's bos / eos / unknown / padding tokens as special (`get_gguf_tokenizer`).
/// The post-processor (`update_post_processor`) adds bos when `tokenizer.ggml.add_bos_token` is
/// true (`addBOSDefault` when absent) and eos when `add_eos_token` is.
///
/// - Throws: `CoreError` for a special id outside the token list or a flag that is not a bool.
func ggufSpecialTokens(_ f: GGUFFile, raw: [String], types: [Int], vocab: GGUFVocabulary, defaults: [String],
                       control: (String) -> Bool, addBOSDefault: Bool) throws -> (added: JSONValue, post: JSONValue) {
    let n = raw.count
    func specialToken(_ key: String) throws -> String? {
        guard let v = f.value("tokenizer.ggml.\(key)") else { return nil }
        guard let id = v.intValue, id >= 0, id < n else {
            throw CoreError("tokenizer.ggml.\(key) is not a token id below \(n)", file: f.path)
        }
        return raw[id]
    }
    func flag(_ key: String) throws -> Bool? {
        guard let v = f.value("tokenizer.ggml.\(key)") else { return nil }
        guard let b = v.boolValue else { throw CoreError("tokenizer.ggml.\(key) is not a bool", file: f.path) }
        return b
    }
    let bos = try specialToken("bos_token_id"), eos = try specialToken("eos_token_id")
    let unk = try specialToken("unknown_token_id"), pad = try specialToken("padding_token_id")
    let addBOS = try flag("add_bos_token") ?? addBOSDefault, addEOS = try flag("add_eos_token") ?? false

    // HF numbering: a content already in the vocabulary keeps its id, a new one gets the next id
    // after the vocabulary's distinct entries.
    var added: [(id: Int, content: String, special: Bool)] = []
    var addedIDs: [TokenKey: Int] = [:]
    var nextID = vocab.ids.count
    func add(_ content: String, special: Bool) {
        let key = TokenKey(content)
        guard addedIDs[key] == nil else { return }
        let id: Int
        if let known = vocab.ids[key] { id = known } else { id = nextID; nextID += 1 }
        addedIDs[key] = id
        added.append((id, content, special))
    }
    let embeddingRows = f.tensor("token_embd.weight").flatMap { $0.shape.count == 2 ? $0.shape[0] : nil }
    for t in defaults where vocab.ids[TokenKey(t)] != nil || embeddingRows.map({ nextID < $0 }) ?? true {
        add(t, special: true)
    }
    for i in 0..<n where types[i] == 3 && control(raw[i]) { add(raw[i], special: true) }
    for i in 0..<n where types[i] == 4 && (vocab.ids[TokenKey(raw[i])] != nil || addedIDs[TokenKey(raw[i])] != nil) {
        add(raw[i], special: false)
    }
    for t in [bos, eos, unk, pad].compactMap({ $0 }) { add(t, special: true) }
    let addedJSON = added.sorted { $0.id < $1.id }.map { addedTokenJSON(id: $0.id, $0.content, special: $0.special, normalized: false) }

    // `update_post_processor`'s template: [bos] $A [eos], the pair repeating it for $B.
    func piece(_ special: String?, sequence: String, typeID: Int) -> JSONValue {
        special.map { .object([("SpecialToken", .object([("id", .string($0)), ("type_id", .int(typeID))]))]) }
            ?? .object([("Sequence", .object([("id", .string(sequence)), ("type_id", .int(typeID))]))])
    }
    let bosUsed = addBOS ? bos : nil, eosUsed = addEOS ? eos : nil
    var single: [JSONValue] = [], pair: [JSONValue] = []
    for (seq, typeID) in [("A", 0), ("B", 1)] {
        var out: [JSONValue] = []
        if let b = bosUsed { out.append(piece(b, sequence: seq, typeID: typeID)) }
        out.append(piece(nil, sequence: seq, typeID: typeID))
        if let e = eosUsed { out.append(piece(e, sequence: seq, typeID: typeID)) }
        if seq == "A" { single = out }
        pair += out
    }
    var specials: [(String, JSONValue)] = []
    for t in [bosUsed, eosUsed].compactMap({ $0 }) where !specials.contains(where: { $0.0 == t }) {
        let id = addedIDs[TokenKey(t)] ?? vocab.ids[TokenKey(t)] ?? 0
        specials.append((t, .object([("id", .string(t)), ("ids", .array([.int(id)])), ("tokens", .array([.string(t)]))])))
    }
    let post = JSONValue.object([("type", .string("TemplateProcessing")), ("single", .array(single)),
                                 ("pair", .array(pair)), ("special_tokens", .object(specials))])
    return (.array(addedJSON), post)
}

// MARK: Byte-level BPE (`gpt2`)

/// `tokenizer.ggml.scores` by token, for deriving merges (`generate_merges`) when the file has
/// none, as transformers' `get_merges` does.
/// - Throws: `CoreError` naming the file when the scores are missing (the merges cannot be
///   derived), not one finite float per token.
func ggufScores(_ f: GGUFFile, tokens: [String]) throws -> [TokenKey: Double] {
    let n = tokens.count
    guard let value = f.value("tokenizer.ggml.scores") else {
        throw CoreError("the file has neither tokenizer.ggml.merges nor tokenizer.ggml.scores to derive them from", file: f.path)
    }
    guard let list = value.arrayValue, list.count == n else {
        throw CoreError("tokenizer.ggml.scores has \(value.arrayValue.map { "\($0.count) entries" } ?? "no array") for \(n) tokens", file: f.path)
    }
    var score: [TokenKey: Double] = [:]
    for (i, v) in list.enumerated() {
        guard case .float = v, let d = v.doubleValue, d.isFinite else {
            throw CoreError("tokenizer.ggml.scores[\(i)] is not a finite float", file: f.path)
        }
        score[TokenKey(tokens[i])] = d
    }
    return score
}

/// The tokenizer.json of a `gpt2` GGUF tokenizer (transformers' `byte_level_tokenizer`, built by
/// GPT2Tokenizer, whose default specials are `<|endoftext|>`).
func ggufByteLevelJSON(_ f: GGUFFile) throws -> JSONValue {
    let raw = try ggufTokenStrings(f)
    // A token written in plain text (not in the byte-level alphabet) is spelled byte by byte.
    let inAlphabet: (String) -> Bool = { $0.allSatisfy { byteLevelAlphabetSet.contains($0) } }
    let tokens = raw.map { s in inAlphabet(s) ? s : String(s.utf8.map { byteLevelAlphabet[Int($0)] }) }
    let types = try ggufTokenTypes(f, count: raw.count)
    let vocab = GGUFVocabulary(tokens)
    // A control token outside the alphabet is a llama.cpp mislabel: transformers leaves it out.
    let (added, post) = try ggufSpecialTokens(f, raw: raw, types: types, vocab: vocab, defaults: ["<|endoftext|>"],
                                              control: inAlphabet, addBOSDefault: false)
    // Merges: the file's, else derived from the scores; with neither the vocabulary would
    // tokenise as single characters, silently.
    let merges = try ggufMerges(f) ?? ggufDerivedMerges(order: vocab.order, ids: vocab.ids, score: try ggufScores(f, tokens: tokens))
    let byteLevel: (Bool) -> JSONValue = { prefix in
        .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(prefix)),
                 ("trim_offsets", .bool(true)), ("use_regex", .bool(true))])
    }
    return .object([
        ("version", .string("1.0")),
        ("truncation", .null), ("padding", .null),
        ("added_tokens", added),
        ("normalizer", .null),
        ("pre_tokenizer", ggufSplitPreTokenizer(f) ?? byteLevel(false)),
        ("post_processor", post),
        ("decoder", byteLevel(true)),
        ("model", .object([
            ("type", .string("BPE")), ("dropout", .null), ("unk_token", .null),
            // GPT2Tokenizer sets both to "", which tokenises exactly as null (ke's faster path).
            ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null),
            ("fuse_unk", .bool(false)), ("byte_fallback", .bool(false)), ("ignore_merges", .bool(false)),
            ("vocab", vocab.json), ("merges", .array(merges)),
        ])),
    ])
}
