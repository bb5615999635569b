// MARK: A GGUF file's `ARCH.*` metadata as a transformers config.json
//
// Each architecture's table entry (GGUFModel.swift) names one of the builders below; the result
// is the config.json transformers would write for the model, parsed by ConfigParser as any other.

/// Typed access to a GGUF file's `ARCH.*` metadata, with errors naming the key.
struct GGUFMetadata {
    let file: GGUFFile
    let arch: String

    func value(_ key: String) -> GGUFValue? { file.value("\(arch).\(key)") }

    /// A required positive integer `ARCH.key`.
    /// - Throws: `CoreError` naming the file and key when it is missing or not a positive integer.
    func int(_ key: String) throws -> Int {
        guard let i = try optionalInt(key) else { throw CoreError("missing \(arch).\(key)", file: file.path) }
        return i
    }

    /// An optional positive integer `ARCH.key`.
    /// - Throws: `CoreError` naming the file and key when it is present but not a positive integer.
    func optionalInt(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue, i > 0 else { throw CoreError("\(arch).\(key) must be a positive integer", file: file.path) }
        return i
    }

    /// An optional finite number `ARCH.key`, as the decimal a float32 prints as (GGUF stores
    /// f32; `1e-6` should stay 1e-6 in config.json, not 9.99999997e-07).
    /// - Throws: `CoreError` naming the file and key when it is present but not a finite number.
    func number(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.doubleValue, d.isFinite else { throw CoreError("\(arch).\(key) must be a finite number", file: file.path) }
        if case .float = v, let shortest = Double("\(Float(d))") { return shortest }
        return d
    }

    /// An optional boolean `ARCH.key`.
    /// - Throws: `CoreError` naming the file and key when it is present but not a boolean.
    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.boolValue else { throw CoreError("\(arch).\(key) must be true or false", file: file.path) }
        return b
    }

    /// `vocab_size`: the embedding's rows, else `ARCH.vocab_size`, else the token list's length.
    var vocabSize: Int {
        if let embd = file.tensor("token_embd.weight"), embd.shape.count == 2 { return embd.shape[0] }
        return value("vocab_size")?.intValue ?? file.value("tokenizer.ggml.tokens")?.arrayValue?.count ?? 0
    }

    /// `tie_word_embeddings`: the converter writes no `output.weight` for tied embeddings.
    var tied: JSONValue { .bool(file.tensor("output.weight") == nil) }

    /// bos/eos token ids from the tokenizer metadata.
    var specialTokens: [(String, JSONValue)] {
        var d: [(String, JSONValue)] = []
        if let bos = file.value("tokenizer.ggml.bos_token_id")?.intValue { d.append(("bos_token_id", .int(bos))) }
        if let eos = file.value("tokenizer.ggml.eos_token_id")?.intValue { d.append(("eos_token_id", .int(eos))) }
        return d
    }

    /// OLMo's `clip_qkv` from `ARCH.attention.clamp_kqv`.
    /// - Throws: `CoreError` when the key is not a finite number.
    func clipQKV() throws -> [(String, JSONValue)] {
        guard let c = try number("attention.clamp_kqv") else { return [] }
        return [("clip_qkv", .double(c))]
    }

    /// OLMo 3 (written as `olmo2` by the converter): `attention.sliding_window` and the
    /// per-layer `attention.sliding_window_pattern` (true: sliding) become model_type olmo3
    /// with `sliding_window` and `layer_types`.
    /// - Throws: `CoreError` when the window is not a positive integer or the pattern is not
    ///   one boolean per layer.
    func olmo3Windows() throws -> [(String, JSONValue)] {
        guard let window = try optionalInt("attention.sliding_window") else { return [] }
        let layers = try int("block_count")
        guard let pattern = value("attention.sliding_window_pattern")?.arrayValue?.compactMap(\.boolValue),
              pattern.count == layers else {
            throw CoreError("\(arch).attention.sliding_window_pattern must list one boolean for each of the \(layers) layers", file: file.path)
        }
        return [("model_type", .string("olmo3")), ("architectures", .array([.string("Olmo3ForCausalLM")])),
                ("sliding_window", .int(window)),
                ("layer_types", .array(pattern.map { .string($0 ? "sliding_attention" : "full_attention") }))]
    }
}

/// Llama-family keys (llama, qwen2, qwen3, gemma, olmo, olmo2). `head_dim` is written
/// when `attention.key_length` differs from hidden/heads, or always with `alwaysHeadDim` (Qwen 3
/// and Gemma configs default it to 128 and 256, not hidden/heads).
///
/// - Throws: `CoreError` naming the file for a missing or malformed required key, or a
///   `rope.dimension_count` other than the head size.
func ggufLlamaFamilyConfig(_ m: GGUFMetadata, activation: String = "silu", alwaysHeadDim: Bool = false) throws -> [(String, JSONValue)] {
    let hidden = try m.int("embedding_length"), heads = try m.int("attention.head_count")
    let kvHeads = try m.optionalInt("attention.head_count_kv") ?? heads
    var d: [(String, JSONValue)] = [
        ("vocab_size", .int(m.vocabSize)),
        ("hidden_size", .int(hidden)),
        ("intermediate_size", .int(try m.int("feed_forward_length"))),
        ("num_hidden_layers", .int(try m.int("block_count"))),
        ("num_attention_heads", .int(heads)),
        ("num_key_value_heads", .int(kvHeads)),
        ("max_position_embeddings", .int(try m.int("context_length"))),
        ("hidden_act", .string(activation)),
        ("tie_word_embeddings", m.tied),
        ("rope_parameters", .object([("rope_theta", .double(try m.number("rope.freq_base") ?? 10000)),
                                     ("rope_type", .string("default"))])),
    ]
    if let eps = try m.number("attention.layer_norm_rms_epsilon") { d.append(("rms_norm_eps", .double(eps))) }
    let headDim = try m.optionalInt("attention.key_length")
    if alwaysHeadDim || (headDim != nil && headDim != hidden / heads) {
        d.append(("head_dim", .int(headDim ?? hidden / heads)))
    }
    // llama.cpp would rotate only `rope.dimension_count` dimensions; these families rotate the
    // whole head (transformers ignores the key), so any other width is refused.
    if let n = try m.optionalInt("rope.dimension_count"), n != headDim ?? hidden / heads {
        throw CoreError("\(m.arch).rope.dimension_count is \(n), not the head size \(headDim ?? hidden / heads): partial rotary embeddings are supported for gptneox only", file: m.file.path)
    }
    if m.file.tensor("blk.0.attn_q.bias") != nil { d.append(("attention_bias", .bool(true))) }
    return d + m.specialTokens
}

/// GPT-NeoX keys. The rotary width is `rope.dimension_count` (llama.cpp's default when absent:
/// the whole head); `Model.load(gguf:)` sets it exactly after parsing, since the factor written
/// here need not multiply back to an integer.
///
/// - Throws: `CoreError` naming the file for a missing or malformed required key, or a rotary
///   width that is odd or wider than a head.
func ggufNeoXConfig(_ m: GGUFMetadata) throws -> [(String, JSONValue)] {
    let hidden = try m.int("embedding_length"), heads = try m.int("attention.head_count")
    let rotary = try ggufNeoXRotaryDim(m, headDim: hidden / heads)
    return [
        ("vocab_size", .int(m.vocabSize)),
        ("hidden_size", .int(hidden)),
        ("intermediate_size", .int(try m.int("feed_forward_length"))),
        ("num_hidden_layers", .int(try m.int("block_count"))),
        ("num_attention_heads", .int(heads)),
        ("max_position_embeddings", .int(try m.int("context_length"))),
        ("hidden_act", .string("gelu")),
        ("layer_norm_eps", .double(try m.number("attention.layer_norm_epsilon") ?? 1e-5)),
        ("use_parallel_residual", .bool(try m.bool("use_parallel_residual") ?? true)),
        ("attention_bias", .bool(m.file.tensor("blk.0.attn_qkv.bias") != nil)),
        ("tie_word_embeddings", m.tied),
        ("rope_parameters", .object([("rope_theta", .double(try m.number("rope.freq_base") ?? 10000)),
                                     ("rope_type", .string("default")),
                                     ("partial_rotary_factor", .double(Double(rotary) / Double(max(1, hidden / heads))))])),
    ] + m.specialTokens
}

/// The rotary width of a GPT-NeoX GGUF: `rope.dimension_count`, else the whole head.
/// - Throws: `CoreError` naming the file when it is odd or wider than a head.
func ggufNeoXRotaryDim(_ m: GGUFMetadata, headDim: Int) throws -> Int {
    let rotary = try m.optionalInt("rope.dimension_count") ?? headDim
    guard rotary % 2 == 0, rotary <= headDim else {
        throw CoreError("\(m.arch).rope.dimension_count \(rotary) must be even and at most the head size \(headDim)", file: m.file.path)
    }
    return rotary
}

/// GPT-2 keys. `n_positions` is the row count of `position_embd.weight` when present.
///
/// - Throws: `CoreError` naming the file for a missing or malformed required key.
func ggufGPT2Config(_ m: GGUFMetadata) throws -> [(String, JSONValue)] {
    let hidden = try m.int("embedding_length")
    var positions = try m.int("context_length")
    if let wpe = m.file.tensor("position_embd.weight"), wpe.shape.count == 2 { positions = wpe.shape[0] }
    return [
        ("vocab_size", .int(m.vocabSize)),
        ("n_embd", .int(hidden)),
        ("n_head", .int(try m.int("attention.head_count"))),
        ("n_layer", .int(try m.int("block_count"))),
        ("n_positions", .int(positions)),
        ("n_inner", .int(try m.optionalInt("feed_forward_length") ?? 4 * hidden)),
        ("activation_function", .string("gelu_new")),
        ("layer_norm_epsilon", .double(try m.number("attention.layer_norm_epsilon") ?? 1e-5)),
        ("tie_word_embeddings", m.tied),
    ] + m.specialTokens
}

/// The transformers config.json (as JSON) that a GGUF file's `ARCH.*` metadata describes.
///
/// - Throws: `CoreError` naming the file for an unknown architecture or a missing or malformed
///   required key.
func ggufHuggingFaceConfig(_ f: GGUFFile) throws -> (json: JSONValue, architecture: GGUFArchitecture) {
    guard let archName = f.value("general.architecture")?.stringValue else {
        throw CoreError("missing general.architecture", file: f.path)
    }
    guard let arch = ggufArchitectures.first(where: { $0.gguf == archName }) else {
        // llama.cpp's converter writes Mistral models as `llama`; gguf-py has no `mistral`.
        let hint = archName == "mistral" ? "; llama.cpp writes Mistral models as 'llama'" : ""
        throw CoreError("GGUF architecture '\(archName)' is not supported (supported: \(ggufArchitectures.map(\.gguf).joined(separator: ", "))\(hint))", file: f.path)
    }
    var d: [(String, JSONValue)] = [("architectures", .array([.string(arch.hfClass)])), ("model_type", .string(arch.modelType))]
    for (key, value) in try arch.config(GGUFMetadata(file: f, arch: archName)) {
        // A later key (OLMo 3's model_type) replaces an earlier one.
        if let i = d.firstIndex(where: { $0.0 == key }) { d[i].1 = value } else { d.append((key, value)) }
    }
    return (.object(d), arch)
}
