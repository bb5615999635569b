// MARK: The tokenizer inside a GGUF file
//
// llama.cpp stores the tokenizer as metadata: `tokenizer.ggml.model` (`gpt2` for byte-level
// BPE, `llama` for SentencePiece), `.pre` (the pre-tokenizer variant), `.tokens`, `.merges`,
// `.token_type` (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte) and special
// ids. This builds the equivalent tokenizer.json, as transformers' GGUF converter does, so the
// ordinary tokenizer reads it and `save` writes it.

/// Pre-tokenizer variants whose tokenizer.json is the plain GPT-2 byte-level one.
let ggufGPT2PreTypes: Set<String> = ["default", "gpt-2", "gpt2"]

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
    guard ggufGPT2PreTypes.contains(pre) else {
        throw CoreError("tokenizer.ggml.pre '\(pre)' is not supported yet (only \(ggufGPT2PreTypes.sorted().joined(separator: ", ")))", file: f.path)
    }
    guard let tokenValues = f.value("tokenizer.ggml.tokens")?.arrayValue else {
        throw CoreError("missing tokenizer.ggml.tokens", file: f.path)
    }
    var tokens: [String] = []
    tokens.reserveCapacity(tokenValues.count)
    for (i, v) in tokenValues.enumerated() {
        guard let s = v.stringValue else { throw CoreError("tokenizer.ggml.tokens[\(i)] is not a string", file: f.path) }
        tokens.append(s)
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
        ("pre_tokenizer", byteLevel(false)),
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
