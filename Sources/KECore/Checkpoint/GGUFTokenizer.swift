// MARK: The tokenizer inside a GGUF file
//
// llama.cpp stores the tokenizer as metadata: `tokenizer.ggml.model` (`gpt2` for byte-level
// BPE, `llama` for SentencePiece), `.pre` (the pre-tokenizer variant), `.tokens`, `.merges`,
// `.token_type` (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte) and special
// ids. This builds the equivalent tokenizer.json, as transformers' GGUF converter does, so the
// ordinary tokenizer reads it and `save` writes it.

/// The split regex of each `tokenizer.ggml.pre` variant that is not GPT-2's (as transformers'
/// GGUF tokenizer mapping): the llama-3 pattern (digits in runs of up to 3) and Qwen2's (single
/// digits). Any other variant gets the plain GPT-2 byte-level pre-tokenizer, as in transformers.
let ggufLlama3Split = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
let ggufQwen2Split = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
let ggufPreTokenizerSplits: [String: String] = [
    "llama3": ggufLlama3Split, "llama-v3": ggufLlama3Split, "llama-bpe": ggufLlama3Split,
    "falcon3": ggufLlama3Split, "dbrx": ggufLlama3Split, "smaug-bpe": ggufLlama3Split,
    "qwen2": ggufQwen2Split, "deepseek-r1-qwen": ggufQwen2Split,
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

/// A tokenizer.json equivalent to the `tokenizer.ggml.*` metadata of `f`.
///
/// - Throws: `CoreError` naming the file for a missing or malformed token list, an unsupported
///   tokenizer model or pre-tokenizer (named), or a merge that is not two tokens.
func ggufTokenizerJSON(_ f: GGUFFile) throws -> JSONValue {
    guard let model = f.value("tokenizer.ggml.model")?.stringValue else {
        throw CoreError("missing tokenizer.ggml.model (the file carries no tokenizer; load an HF directory instead)", file: f.path)
    }
    guard model == "gpt2" else {
        throw CoreError("tokenizer.ggml.model '\(model)' is not supported yet (only 'gpt2' byte-level BPE)", file: f.path)
    }
    let pre = f.value("tokenizer.ggml.pre")?.stringValue ?? "default"
    guard let tokenValues = f.value("tokenizer.ggml.tokens")?.arrayValue else {
        throw CoreError("missing tokenizer.ggml.tokens", file: f.path)
    }
    var tokens: [String] = []
    tokens.reserveCapacity(tokenValues.count)
    for (i, v) in tokenValues.enumerated() {
        guard let s = v.stringValue else { throw CoreError("tokenizer.ggml.tokens[\(i)] is not a string", file: f.path) }
        // A token written in plain text (not in the byte-level alphabet) is spelled byte by byte.
        tokens.append(s.allSatisfy { byteLevelAlphabetSet.contains($0) } ? s : String(s.utf8.map { byteLevelAlphabet[Int($0)] }))
    }
    let types = f.value("tokenizer.ggml.token_type")?.arrayValue ?? []
    guard types.isEmpty || types.count == tokens.count else {
        throw CoreError("tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens", file: f.path)
    }
    var merges: [JSONValue] = []
    for (i, v) in (f.value("tokenizer.ggml.merges")?.arrayValue ?? []).enumerated() {
        guard let s = v.stringValue else { throw CoreError("tokenizer.ggml.merges[\(i)] is not a string", file: f.path) }
        let parts = s.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw CoreError("tokenizer.ggml.merges[\(i)] '\(s)' is not two tokens", file: f.path) }
        merges.append(.array([.string(String(parts[0])), .string(String(parts[1]))]))
    }
    var vocab: [(String, JSONValue)] = []
    var seen = Set<String>()
    var added: [JSONValue] = []
    for (i, t) in tokens.enumerated() {
        if seen.insert(t).inserted { vocab.append((t, .int(i))) }
        // Control (3) and user-defined (4) tokens are added tokens, matched before BPE.
        let type = i < types.count ? types[i].intValue ?? 1 : 1
        if type == 3 || type == 4 {
            added.append(.object([("id", .int(i)), ("content", .string(t)), ("single_word", .bool(false)),
                                  ("lstrip", .bool(false)), ("rstrip", .bool(false)),
                                  ("normalized", .bool(type == 4)), ("special", .bool(type == 3))]))
        }
    }
    let byteLevel: (Bool) -> JSONValue = { prefix in
        .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(prefix)),
                 ("trim_offsets", .bool(true)), ("use_regex", .bool(true))])
    }
    return .object([
        ("version", .string("1.0")),
        ("truncation", .null), ("padding", .null),
        ("added_tokens", .array(added)),
        ("normalizer", .null),
        ("pre_tokenizer", ggufPreTokenizerSplits[pre].map { regex in
            .object([("type", .string("Sequence")), ("pretokenizers", .array([
                .object([("type", .string("Split")), ("pattern", .object([("Regex", .string(regex))])),
                         ("behavior", .string("Isolated")), ("invert", .bool(false))]),
                .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)),
                         ("trim_offsets", .bool(true)), ("use_regex", .bool(false))]),
            ]))])
        } ?? byteLevel(false)),
        ("post_processor", byteLevel(true)),
        ("decoder", byteLevel(true)),
        ("model", .object([
            ("type", .string("BPE")), ("dropout", .null), ("unk_token", .null),
            ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null),
            ("fuse_unk", .bool(false)), ("byte_fallback", .bool(false)), ("ignore_merges", .bool(false)),
            ("vocab", .object(vocab)), ("merges", .array(merges)),
        ])),
    ])
}
