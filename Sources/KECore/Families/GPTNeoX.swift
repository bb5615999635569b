// MARK: GPT-NeoX (Pythia)
//
//   GPTNeoXConfig: hidden_act "gelu" (erf); use_parallel_residual true; layer_norm_eps 1e-5;
//   attention_bias true; tie_word_embeddings false; rope_theta ← rope_parameters.rope_theta,
//   else rotary_emb_base, else 10000; partial_rotary_factor ← rope_parameters, else
//   rotary_pct, else 0.25; rotary dims = int(head_dim · factor). MLP always has biases.
//
// Tensors: `gpt_neox.` prefix; the fused `query_key_value` [3D, D] has rows ordered (head,
// {q,k,v}, head_dim) (`HFTensorRole.neoxQKVWeight`); the head is `embed_out.weight`
// (published checkpoints; written back that way) or `lm_head.weight` (transformers ≥ 5
// renames on load).
//
// GGUF: `gptneox`, the fused q|k|v regrouped by projection; the rotary width is
// `rope.dimension_count`, set exactly after parsing.

extension Architecture {
    public static let gptNeoX = Architecture(modelType: "gpt_neox")
}

extension ModelFamily {
    static let gptNeoX = ModelFamily(
        architecture: .gptNeoX, hfClassName: "GPTNeoXForCausalLM", hfBaseClassName: "GPTNeoXModel",
        config: FamilyConfigKeys(base: .familyBase(.gptNeoX, norm: .layerNorm(bias: true), gatedMLP: false, learnedPositions: false,
                                                   mlpBias: true),
                                 keys: gptNeoXConfigKeys),
        tensors: HFTensorLayout(prefixes: ["gpt_neox.", ""], embeddingName: "embed_in.weight",
                                headName: "embed_out.weight", alternateHeadName: "lm_head.weight",
                                specs: gptNeoXTensorSpecs),
        gguf: [
            GGUFArchitecture(gguf: "gptneox", modelType: "gpt_neox", hfClass: "GPTNeoXForCausalLM",
                             globalNames: ggufNeoXGlobalNames, blockPrefix: "gpt_neox.layers.", blockNames: ggufNeoXBlockNames,
                             rewrites: ["attn_qkv.weight": .neoxQKV, "attn_qkv.bias": .neoxQKV],
                             config: { try ggufNeoXConfig($0) },
                             adjust: { m, c in
                                 // Exactly the rotary width llama.cpp uses, whatever the factor rounds to.
                                 c.rotaryDim = try ggufNeoXRotaryDim(m, headDim: c.headDim)
                             }),
        ])
}

// MARK: config.json

/// GPTNeoXConfig's keys, in reading order.
let gptNeoXConfigKeys: [ConfigKey] = [
    .int("hidden_size", \.hiddenSize, positive: true),
    ConfigKey(name: "num_attention_heads", read: { r, c in
        let D = c.hiddenSize, H = try r.int("num_attention_heads")
        try r.positive("num_attention_heads", H)
        guard D % H == 0 else {
            throw r.fail("hidden_size \(D) is not divisible by num_attention_heads \(H)")
        }
        c.numHeads = H; c.numKVHeads = H; c.headDim = D / H
    }, write: { .int($0.numHeads) }),
    // The legacy `rotary_emb_base` and `rotary_pct` are read when rope_parameters lacks them.
    ConfigKey(name: "rope_parameters", read: { r, c in
        let rp = try r.ropeParameters()
        try r.checkDefaultRope(rp)
        c.ropeTheta = try r.ropeNumber(rp, "rope_theta") ?? r.double("rotary_emb_base", 10000)
        let pct = try r.ropeNumber(rp, "partial_rotary_factor") ?? r.double("rotary_pct", 0.25)
        guard pct >= 0, pct <= 1 else { throw r.fail("partial rotary factor \(pct) must be between 0 and 1") }
        let rotaryDim = Int(Double(c.headDim) * pct)
        guard rotaryDim % 2 == 0 else {
            throw r.fail("rotary dimension \(rotaryDim) (head_dim \(c.headDim) × \(pct)) must be even")
        }
        c.rotaryDim = rotaryDim
    }, write: { c in
        // The rotary factor is written so that int(head_dim · factor) gives the rotary width back.
        var pct = Double(c.rotaryDim) / Double(c.headDim)
        if Int(Double(c.headDim) * pct) != c.rotaryDim { pct = (Double(c.rotaryDim) + 0.5) / Double(c.headDim) }
        return .object([("partial_rotary_factor", .double(pct)), ("rope_theta", .double(c.ropeTheta)),
                        ("rope_type", .string("default"))])
    }),
    .int("vocab_size", \.vocabSize, default: 50432),
    .int("num_hidden_layers", \.numLayers),
    .int("intermediate_size", \.intermediateSize),
    .int("max_position_embeddings", \.maxPositions, default: 2048),
    .normEps("layer_norm_eps", default: 1e-5),
    .activation("hidden_act", default: "gelu"),
    .bool("use_parallel_residual", \.parallelResidual, default: true),
    .bool("tie_word_embeddings", \.tieWordEmbeddings, default: false),
    .bool("attention_bias", \.attentionBias, default: true),
]

// MARK: Tensor names

/// The HF tensors of a GPT-NeoX model with configuration `c`, named with prefix `p` and head `headName`.
func gptNeoXTensorSpecs(_ c: ModelConfig, prefix p: String, headName: String) -> [HFTensorSpec] {
    let D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize
    var out = HFTensorSpecList(config: c)
    out.add("\(p)embed_in.weight", [V, D], .direct("embed"))
    for l in 0..<c.numLayers {
        let h = "\(p)layers.\(l)", L = "L\(l)"
        out.norm("\(h).input_layernorm", "\(L).attn_norm")
        out.add("\(h).attention.query_key_value.weight", [3 * D, D], .neoxQKVWeight(layer: l))
        if c.attentionBias { out.add("\(h).attention.query_key_value.bias", [3 * D], .neoxQKVBias(layer: l)) }
        out.add("\(h).attention.dense.weight", [D, D], .direct("\(L).o.w"))
        if c.attentionBias { out.add("\(h).attention.dense.bias", [D], .direct("\(L).o.b")) }
        out.norm("\(h).post_attention_layernorm", "\(L).mlp_norm")
        out.add("\(h).mlp.dense_h_to_4h.weight", [F, D], .direct("\(L).up.w"))
        out.add("\(h).mlp.dense_h_to_4h.bias", [F], .direct("\(L).up.b"))
        out.add("\(h).mlp.dense_4h_to_h.weight", [D, F], .direct("\(L).down.w"))
        out.add("\(h).mlp.dense_4h_to_h.bias", [D], .direct("\(L).down.b"))
    }
    out.norm("\(p)final_layer_norm", "final_norm")
    if !c.tieWordEmbeddings { out.add(headName, [V, D], .direct("lm_head")) }
    return out.specs
}

// MARK: GGUF

/// GPT-NeoX (Pythia): LayerNorms with bias, fused q|k|v, ungated MLP with biases.
let ggufNeoXGlobalNames: [(String, String)] = [
    ("token_embd.weight", "gpt_neox.embed_in.weight"),              // [V, D]
    ("output_norm.weight", "gpt_neox.final_layer_norm.weight"),     // [D]
    ("output_norm.bias", "gpt_neox.final_layer_norm.bias"),         // [D]
    ("output.weight", "embed_out.weight"),                          // [V, D]
]
let ggufNeoXBlockNames: [(String, String)] = [
    ("attn_norm.weight", "input_layernorm.weight"), ("attn_norm.bias", "input_layernorm.bias"),
    ("attn_qkv.weight", "attention.query_key_value.weight"),       // [3D, D], see neoxQKV
    ("attn_qkv.bias", "attention.query_key_value.bias"),           // [3D]
    ("attn_output.weight", "attention.dense.weight"),              // [D, D]
    ("attn_output.bias", "attention.dense.bias"),
    ("ffn_norm.weight", "post_attention_layernorm.weight"), ("ffn_norm.bias", "post_attention_layernorm.bias"),
    ("ffn_up.weight", "mlp.dense_h_to_4h.weight"),                 // [F, D]
    ("ffn_up.bias", "mlp.dense_h_to_4h.bias"),
    ("ffn_down.weight", "mlp.dense_4h_to_h.weight"),               // [D, F]
    ("ffn_down.bias", "mlp.dense_4h_to_h.bias"),
]

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
