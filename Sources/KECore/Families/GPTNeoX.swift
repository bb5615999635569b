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
        config: FamilyConfigKeys(read: readGPTNeoXConfig, write: writeGPTNeoXConfig),
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

/// Reads GPTNeoXConfig's keys.
/// - Throws: `CoreError` naming the key (see `ConfigReader`).
func readGPTNeoXConfig(_ r: ConfigReader) throws -> ModelConfig {
    let D = try r.int("hidden_size"), H = try r.int("num_attention_heads")
    try r.positive("hidden_size", D); try r.positive("num_attention_heads", H)
    guard D % H == 0 else {
        throw r.fail("hidden_size \(D) is not divisible by num_attention_heads \(H)")
    }
    let headDim = D / H
    let rp = try r.ropeParameters()
    try r.checkDefaultRope(rp)
    let theta = try r.ropeNumber(rp, "rope_theta") ?? r.double("rotary_emb_base", 10000)
    let pct = try r.ropeNumber(rp, "partial_rotary_factor") ?? r.double("rotary_pct", 0.25)
    guard pct >= 0, pct <= 1 else { throw r.fail("partial rotary factor \(pct) must be between 0 and 1") }
    let rotaryDim = Int(Double(headDim) * pct)
    guard rotaryDim % 2 == 0 else {
        throw r.fail("rotary dimension \(rotaryDim) (head_dim \(headDim) × \(pct)) must be even")
    }
    return ModelConfig(
        architecture: .gptNeoX, vocabSize: try r.int("vocab_size", 50432), hiddenSize: D,
        numLayers: try r.int("num_hidden_layers"), numHeads: H, numKVHeads: H, headDim: headDim,
        intermediateSize: try r.int("intermediate_size"),
        maxPositions: try r.int("max_position_embeddings", 2048), norm: .layerNorm(bias: true),
        normEps: Float(try r.double("layer_norm_eps", 1e-5)),
        activation: try r.activation("hidden_act", "gelu"), gatedMLP: false,
        rotaryDim: rotaryDim, ropeTheta: theta, learnedPositions: false,
        parallelResidual: try r.bool("use_parallel_residual", true),
        tieWordEmbeddings: try r.bool("tie_word_embeddings", false), clipQKV: nil,
        attentionBias: try r.bool("attention_bias", true), mlpBias: true, rawJSON: r.raw)
}

/// The GPT-NeoX keys a generated config.json carries. The rotary factor is written so that
/// int(head_dim · factor) gives the rotary width back.
func writeGPTNeoXConfig(_ c: ModelConfig) -> [String: JSONValue] {
    var pct = Double(c.rotaryDim) / Double(c.headDim)
    if Int(Double(c.headDim) * pct) != c.rotaryDim { pct = (Double(c.rotaryDim) + 0.5) / Double(c.headDim) }
    return [
        "hidden_size": .int(c.hiddenSize),
        "intermediate_size": .int(c.intermediateSize),
        "num_hidden_layers": .int(c.numLayers),
        "num_attention_heads": .int(c.numHeads),
        "hidden_act": .string(activationConfigName(c.activation)),
        "max_position_embeddings": .int(c.maxPositions),
        "rope_parameters": .object([("partial_rotary_factor", .double(pct)), ("rope_theta", .double(c.ropeTheta)),
                                    ("rope_type", .string("default"))]),
        "use_parallel_residual": .bool(c.parallelResidual),
        "layer_norm_eps": .double(shortDouble(c.normEps)),
        "attention_bias": .bool(c.attentionBias),
    ]
}

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
