// MARK: The Llama layout, shared by OLMo, Llama, Mistral, Qwen and Gemma
//
// These families use one block (`model.layers.N.self_attn.{q,k,v,o}_proj`,
// `mlp.{gate,up,down}_proj`, RoPE over the whole head, SwiGLU-style gated MLP) and one set of
// config keys (`hidden_size`, `num_key_value_heads`, `rope_parameters`, …). What differs is
// data: the defaults of each `*Config` class and a few per-family choices, held in a
// `LlamaLayout` value in each family's file. The reader, the writer, the tensor names and the
// GGUF config builder below read only that value.

/// The per-family choices of a Llama-layout family (defaults as its transformers `*Config` sets them).
struct LlamaLayout: Sendable {
    /// Defaults of hidden_size, intermediate_size, vocab_size, max_position_embeddings, rope_theta.
    var hidden = 4096, intermediate = 11008, vocab = 32000, positions = 2048
    var theta: Double = 10000
    /// Default num_key_value_heads; nil: the number of attention heads.
    var kvHeads: Int? = nil
    /// Default head_dim when the config class sets one; nil: hidden_size / num_attention_heads.
    var headDim: Int? = nil
    /// Default rms_norm_eps.
    var rmsNormEps: Double = 1e-6
    /// The norm kind of every norm.
    var norm: NormKind = .rmsNorm
    /// A norm eps fixed by the module (OlmoLayerNorm: 1e-5). Such a config class (OlmoConfig)
    /// has no rms_norm_eps or mlp_bias key; its generated config carries clip_qkv instead.
    var fixedNormEps: Float? = nil
    /// Whether `clip_qkv` is read.
    var clipQKV = false
    /// Whether `mlp_bias` is read (else the MLP has no biases).
    var mlpBias = false
    /// Attention biases fixed by the module whatever `attention_bias` says (still type-checked).
    var attentionBias: Bool? = nil
    /// Whether o_proj has a bias when the attention has biases.
    var outputProjectionBias = true
    /// Default hidden_act, and names the config class rewrites on load.
    var activation = "silu"
    var activationAliases: [String: String] = [:]
    /// Default tie_word_embeddings.
    var tieWordEmbeddings = false
    /// Default pad_token_id (the embedding's padding_idx); nil: none.
    var paddingIndex: Int? = nil
    /// `rope_parameters` keyed by layer type (full_attention / sliding_attention).
    var ropePerLayerType = false
    /// The block options beyond the common keys (norm placement, q/k norms, sliding windows, …).
    var finish: @Sendable (ConfigReader, inout ModelConfig) throws -> Void = { _, _ in }

    static let embeddingName = "embed_tokens.weight"

    /// The family entry of `arch` with this layout.
    func family(_ arch: Architecture, causalLM: String, base: String, gguf: [GGUFArchitecture] = [],
                ggufNote: String? = nil) -> ModelFamily {
        ModelFamily(architecture: arch, hfClassName: causalLM, hfBaseClassName: base,
                    config: FamilyConfigKeys(base: self.base(arch), keys: configKeys, finish: { try self.finishRead($0, &$1) }),
                    tensors: HFTensorLayout(prefixes: ["model.", ""], embeddingName: Self.embeddingName,
                                            headName: "lm_head.weight", specs: llamaLayoutTensorSpecs),
                    gguf: gguf, ggufNote: ggufNote)
    }

    // MARK: config.json

    /// The fields of a Llama-layout configuration that no key sets.
    func base(_ arch: Architecture) -> ModelConfig {
        var c = ModelConfig.familyBase(arch, norm: norm, gatedMLP: true, learnedPositions: false)
        c.outputProjectionBias = outputProjectionBias
        return c
    }

    /// The keys of this layout, in reading order, each read and written from its one entry.
    var configKeys: [ConfigKey] {
        [
            .int("hidden_size", \.hiddenSize, default: hidden, positive: true),
            .int("num_attention_heads", \.numHeads, default: 32, positive: true),
            ConfigKey(name: "num_key_value_heads", read: { [kvHeads] r, c in
                c.numKVHeads = try r.optionalInt("num_key_value_heads") ?? kvHeads ?? c.numHeads
            }, write: { .int($0.numKVHeads) }),
            ConfigKey(name: "head_dim", read: { [headDim] r, c in
                let D = c.hiddenSize, H = c.numHeads
                let hd = try r.optionalInt("head_dim") ?? headDim ?? (D / H)
                guard headDim != nil || r.value("head_dim") != nil || D % H == 0 else {
                    throw r.fail("hidden_size \(D) is not divisible by num_attention_heads \(H)")
                }
                c.headDim = hd
                c.rotaryDim = hd
            }, write: { .int($0.headDim) }),
            .int("max_position_embeddings", \.maxPositions, default: positions),
            .int("num_hidden_layers", \.numLayers, default: 32),
            ConfigKey(name: "rope_parameters", read: { r, c in
                (c.ropeTheta, c.ropeScaling) = try self.readRoPE(r, maxPositions: c.maxPositions)
            }, write: { .object([("rope_theta", .double($0.ropeTheta)), ("rope_type", .string("default"))]) }),
            // A config class with the norm eps fixed by its module (OlmoConfig) has no
            // rms_norm_eps and no mlp_bias key; its generated config carries clip_qkv instead.
            ConfigKey(name: "rms_norm_eps", read: { [rmsNormEps, fixedNormEps] r, c in
                let eps = Float(try r.double("rms_norm_eps", rmsNormEps))
                c.normEps = fixedNormEps ?? eps
            }, write: { [fixedNormEps] c in fixedNormEps == nil ? .double(shortDouble(c.normEps)) : nil }),
            ConfigKey(name: "clip_qkv", read: { [clipQKV] r, c in
                guard clipQKV, r.value("clip_qkv") != nil else { return }
                let v = try r.double("clip_qkv", 0)
                guard v > 0 else { throw r.fail("\"clip_qkv\" must be positive, found \(v)") }
                c.clipQKV = Float(v)
            }, write: { [fixedNormEps] c in fixedNormEps == nil ? nil : (c.clipQKV.map { .double(shortDouble($0)) } ?? .null) }),
            ConfigKey(name: "mlp_bias", read: { [mlpBias] r, c in
                c.mlpBias = mlpBias ? try r.bool("mlp_bias", false) : false
            }, write: { [fixedNormEps] c in fixedNormEps == nil ? .bool(c.mlpBias) : nil }),
            ConfigKey(name: "attention_bias", read: { [attentionBias] r, c in
                let given = try r.bool("attention_bias", false)
                c.attentionBias = attentionBias ?? given
            }, write: { .bool($0.attentionBias) }),
            .activation("hidden_act", default: activation, aliases: activationAliases),
            .int("vocab_size", \.vocabSize, default: vocab),
            .int("intermediate_size", \.intermediateSize, default: intermediate),
            .bool("tie_word_embeddings", \.tieWordEmbeddings, default: tieWordEmbeddings),
        ]
    }

    /// After the keys: the family's block options (`finish`), the padding index, and the check
    /// transformers makes of `layer_types` whenever a config has it, used or not.
    /// - Throws: `CoreError` naming the key (see `ConfigReader`).
    func finishRead(_ r: ConfigReader, _ c: inout ModelConfig) throws {
        try finish(r, &c)
        try readPaddingIndex(r, into: &c)
        if r.value("layer_types") != nil && c.slidingWindows.isEmpty {
            let L = c.numLayers
            _ = try r.layerWindows(layers: L, defaultTypes: Array(repeating: false, count: L), window: 4096)
        }
    }

    /// rope_theta and the RoPE scaling; with `ropePerLayerType` every layer type's parameters
    /// must be the default RoPE and the full-attention ones are used.
    func readRoPE(_ r: ConfigReader, maxPositions: Int) throws -> (Double, RopeScaling) {
        var rp = try r.ropeParameters()
        if ropePerLayerType {
            for type in ["full_attention", "sliding_attention"] {
                if let sub = rp[type]?.dictionary { try r.checkDefaultRope(sub) }
            }
            if let full = rp["full_attention"]?.dictionary { rp = full }
        }
        let theta = try r.ropeNumber(rp, "rope_theta") ?? r.double("rope_theta", self.theta)
        return (theta, try r.ropeScaling(rp, maxPositions: maxPositions))
    }

    /// Llama-layout embeddings are nn.Embedding(vocab, hidden, padding_idx=pad_token_id); an
    /// explicit null means none.
    func readPaddingIndex(_ r: ConfigReader, into c: inout ModelConfig) throws {
        let pad = r.value("pad_token_id") == nil && r.raw["pad_token_id"] != nil ? nil : try r.optionalInt("pad_token_id") ?? paddingIndex
        guard let pad else { return }
        // As nn.Embedding: a negative padding_idx counts from the end; outside is an error.
        guard pad >= -c.vocabSize, pad < c.vocabSize else {
            throw r.fail("\"pad_token_id\" \(pad) is outside the embedding's \(c.vocabSize) rows (it is the embedding's padding_idx)")
        }
        c.paddingIndex = pad < 0 ? pad + c.vocabSize : pad
    }
}

// MARK: Tensor names

/// The HF tensors of a Llama-layout model with configuration `c`, named with prefix `p` and head `headName`.
func llamaLayoutTensorSpecs(_ c: ModelConfig, prefix p: String, headName: String) -> [HFTensorSpec] {
    let D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize
    let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
    var out = HFTensorSpecList(config: c)
    let pre = c.normPlacement == .beforeSublayer
    out.add("\(p)embed_tokens.weight", [V, D], .direct("embed"))
    for l in 0..<c.numLayers {
        let h = "\(p)layers.\(l)", L = "L\(l)"
        if pre { out.norm("\(h).input_layernorm", "\(L).attn_norm") }
        for (n, rows) in [("q", qDim), ("k", kvDim), ("v", kvDim)] {
            out.add("\(h).self_attn.\(n)_proj.weight", [rows, D], .direct("\(L).\(n).w"))
            if c.attentionBias { out.add("\(h).self_attn.\(n)_proj.bias", [rows], .direct("\(L).\(n).b")) }
        }
        switch c.qkNorm {
        case .none: break
        case .fullProjection:
            out.add("\(h).self_attn.q_norm.weight", [qDim], .direct("\(L).q_norm.w"))
            out.add("\(h).self_attn.k_norm.weight", [kvDim], .direct("\(L).k_norm.w"))
        case .perHead:
            out.add("\(h).self_attn.q_norm.weight", [c.headDim], .direct("\(L).q_norm.w"))
            out.add("\(h).self_attn.k_norm.weight", [c.headDim], .direct("\(L).k_norm.w"))
        }
        out.add("\(h).self_attn.o_proj.weight", [D, qDim], .direct("\(L).o.w"))
        if c.attentionBias && c.outputProjectionBias { out.add("\(h).self_attn.o_proj.bias", [D], .direct("\(L).o.b")) }
        // Pre-norm blocks call the MLP's norm post_attention_layernorm; OLMo 2 and 3 use that
        // name for the norm of the attention output.
        out.norm("\(h).post_attention_layernorm", pre ? "\(L).mlp_norm" : "\(L).post_attn_norm")
        for (n, shape) in [("gate", [F, D]), ("up", [F, D]), ("down", [D, F])] {
            out.add("\(h).mlp.\(n)_proj.weight", shape, .direct("\(L).\(n).w"))
            if c.mlpBias { out.add("\(h).mlp.\(n)_proj.bias", [shape[0]], .direct("\(L).\(n).b")) }
        }
        if !pre { out.norm("\(h).post_feedforward_layernorm", "\(L).post_mlp_norm") }
    }
    out.norm("\(p)norm", "final_norm")
    if !c.tieWordEmbeddings { out.add(headName, [V, D], .direct("lm_head")) }
    return out.specs
}

// MARK: GGUF
//
// llama.cpp's names of the Llama-layout tensors, and the config keys its `ARCH.*` metadata gives.

/// Outside the blocks: the Llama layout (`model.` prefix, head `lm_head`).
let ggufLlamaGlobalNames: [(String, String)] = [
    ("token_embd.weight", "model.embed_tokens.weight"),   // [V, D]
    ("output_norm.weight", "model.norm.weight"),          // [D]
    ("output.weight", "lm_head.weight"),                  // [V, D]; absent when tied
]

/// Inside a block: attention and gated MLP of the Llama layout, with every optional tensor a
/// family may have (biases, per-head or full q/k norms). qDim = heads·hd, kvDim = kvHeads·hd.
let ggufLlamaAttentionMLPNames: [(String, String)] = [
    ("attn_q.weight", "self_attn.q_proj.weight"),              // [qDim, D]
    ("attn_k.weight", "self_attn.k_proj.weight"),              // [kvDim, D]
    ("attn_v.weight", "self_attn.v_proj.weight"),              // [kvDim, D]
    ("attn_output.weight", "self_attn.o_proj.weight"),         // [D, qDim]
    ("attn_q.bias", "self_attn.q_proj.bias"),                  // [qDim]   qwen2
    ("attn_k.bias", "self_attn.k_proj.bias"),                  // [kvDim]
    ("attn_v.bias", "self_attn.v_proj.bias"),                  // [kvDim]
    ("attn_output.bias", "self_attn.o_proj.bias"),             // [D]      llama attention_bias
    ("attn_q_norm.weight", "self_attn.q_norm.weight"),         // [hd] qwen3, [qDim] olmo2
    ("attn_k_norm.weight", "self_attn.k_norm.weight"),         // [hd] qwen3, [kvDim] olmo2
    ("ffn_gate.weight", "mlp.gate_proj.weight"),               // [F, D]
    ("ffn_up.weight", "mlp.up_proj.weight"),                   // [F, D]
    ("ffn_down.weight", "mlp.down_proj.weight"),               // [D, F]
]

/// Pre-norm blocks (llama, qwen, gemma): norms before attention and before the MLP, [D] each.
let ggufLlamaBlockNames: [(String, String)] = [
    ("attn_norm.weight", "input_layernorm.weight"),
    ("ffn_norm.weight", "post_attention_layernorm.weight"),
] + ggufLlamaAttentionMLPNames

/// OLMo 2/3 blocks: norms of the attention and MLP outputs, [D] each (HF calls the first one
/// post_attention_layernorm, as the pre-norm MLP norm elsewhere).
let ggufOLMo2BlockNames: [(String, String)] = [
    ("post_attention_norm.weight", "post_attention_layernorm.weight"),
    ("post_ffw_norm.weight", "post_feedforward_layernorm.weight"),
] + ggufLlamaAttentionMLPNames

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

