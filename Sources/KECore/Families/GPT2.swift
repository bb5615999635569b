// MARK: GPT-2
//
//   GPT2Config: n_inner null → 4·n_embd; activation_function "gelu_new"; layer_norm_epsilon
//   1e-5; tie_word_embeddings true; learned positions. Its `attribute_map` lets a config use
//   the generic names (`hidden_size`, `num_attention_heads`, `num_hidden_layers`,
//   `max_position_embeddings`) for `n_embd`, `n_head`, `n_layer` and `n_positions`; the GPT-2
//   names win when both are present.
//
// Tensors: `transformer.` prefix; Conv1D weights stored [in, out] (`HFTensorRole.transposed`);
// `c_attn` [D, 3D] = [in, (q|k|v)] (`HFTensorRole.gpt2QKVWeight`).
//
// GGUF: `gpt2`, Conv1D weights stored [out, in]; `n_positions` from `position_embd.weight`.

extension Architecture {
    public static let gpt2 = Architecture(modelType: "gpt2")
}

extension ModelFamily {
    static let gpt2 = ModelFamily(
        architecture: .gpt2, hfClassName: "GPT2LMHeadModel", hfBaseClassName: "GPT2Model",
        config: FamilyConfigKeys(base: .familyBase(.gpt2, norm: .layerNorm(bias: true), gatedMLP: false, learnedPositions: true,
                                                   ropeTheta: 10000, attentionBias: true, mlpBias: true),
                                 keys: gpt2ConfigKeys),
        tensors: HFTensorLayout(prefixes: ["transformer.", ""], embeddingName: "wte.weight",
                                headName: "lm_head.weight", specs: gpt2TensorSpecs),
        gguf: [
            GGUFArchitecture(gguf: "gpt2", modelType: "gpt2", hfClass: "GPT2LMHeadModel",
                             globalNames: ggufGPT2GlobalNames, blockPrefix: "transformer.h.", blockNames: ggufGPT2BlockNames,
                             rewrites: ["attn_qkv.weight": .transpose, "attn_output.weight": .transpose,
                                        "ffn_up.weight": .transpose, "ffn_down.weight": .transpose],
                             config: { try ggufGPT2Config($0) }),
        ])
}

// MARK: config.json

/// GPT2Config's keys in reading order, under GPT-2's own names (written so); the generic names
/// of its `attribute_map` are read when the GPT-2 name is absent.
let gpt2ConfigKeys: [ConfigKey] = [
    gpt2AliasedKey("n_embd", "hidden_size", \.hiddenSize, default: 768, positive: true),
    ConfigKey(name: "n_head", read: { r, c in
        let (H, hKey) = try gpt2Aliased(r, "n_head", "num_attention_heads", default: 12)
        try r.positive(hKey, H)
        let D = c.hiddenSize, dKey = gpt2AliasRead(r, "n_embd", "hidden_size")
        guard D % H == 0 else { throw r.fail("\(dKey) \(D) is not divisible by \(hKey) \(H)") }
        c.numHeads = H; c.numKVHeads = H; c.headDim = D / H
    }, write: { .int($0.numHeads) }),
    gpt2AliasedKey("n_layer", "num_hidden_layers", \.numLayers, default: 12),
    gpt2AliasedKey("n_positions", "max_position_embeddings", \.maxPositions, default: 1024),
    .readOnly("add_cross_attention") { r, _ in
        if try r.bool("add_cross_attention", false) {
            throw r.fail("GPT-2 option \"add_cross_attention\": true is not supported (cross-attention layers need an encoder)")
        }
    },
    .readOnly("scale_attn_weights") { r, _ in
        if !(try r.bool("scale_attn_weights", true)) {
            throw r.fail("GPT-2 option \"scale_attn_weights\": false is not supported")
        }
    },
    // `reorder_and_upcast_attn` computes the scores in float32 with the scaling folded into
    // the product: the same mathematics, and ke computes in float32 anyway.
    .readOnly("reorder_and_upcast_attn") { r, _ in _ = try r.bool("reorder_and_upcast_attn", false) },
    ConfigKey(name: "n_inner", read: { r, c in c.intermediateSize = try r.optionalInt("n_inner") ?? 4 * c.hiddenSize },
              write: { .int($0.intermediateSize) }),
    .int("vocab_size", \.vocabSize, default: 50257),
    .normEps("layer_norm_epsilon", default: 1e-5),
    .activation("activation_function", default: "gelu_new"),
    .bool("tie_word_embeddings", \.tieWordEmbeddings, default: true),
    // Not in a generated config.json: a model with it set keeps its original config.json.
    .bool("scale_attn_by_inverse_layer_idx", \.scaleAttentionByInverseLayerIndex, default: false, written: false),
]

/// Which of a GPT-2 key and its `attribute_map` alias a config gives: the GPT-2 name wins, and
/// is the one meant when neither is given.
private func gpt2AliasRead(_ r: ConfigReader, _ key: String, _ alias: String) -> String {
    r.value(key) != nil || r.value(alias) == nil ? key : alias
}

/// The value of `key` or its alias (`gpt2AliasRead`), and the name it was read under.
/// - Throws: `CoreError` naming the key read (see `ConfigReader`).
private func gpt2Aliased(_ r: ConfigReader, _ key: String, _ alias: String, default def: Int) throws -> (Int, String) {
    let name = gpt2AliasRead(r, key, alias)
    return (try r.int(name, name == key ? def : nil), name)
}

/// An integer GPT-2 key with an `attribute_map` alias, holding `field` (written under `key`).
private func gpt2AliasedKey(_ key: String, _ alias: String, _ field: WritableKeyPath<ModelConfig, Int>,
                            default def: Int, positive: Bool = false) -> ConfigKey {
    ConfigKey(name: key, read: { r, c in
        let (v, name) = try gpt2Aliased(r, key, alias, default: def)
        if positive { try r.positive(name, v) }
        c[keyPath: field] = v
    }, write: { .int($0[keyPath: field]) })
}

// MARK: Tensor names

/// The HF tensors of a GPT-2 model with configuration `c`, named with prefix `p` and head `headName`.
func gpt2TensorSpecs(_ c: ModelConfig, prefix p: String, headName: String) -> [HFTensorSpec] {
    let D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize
    var out = HFTensorSpecList(config: c)
    out.add("\(p)wte.weight", [V, D], .direct("embed"))
    out.add("\(p)wpe.weight", [c.maxPositions, D], .direct("pos_embed"))
    for l in 0..<c.numLayers {
        let h = "\(p)h.\(l)", L = "L\(l)"
        out.norm("\(h).ln_1", "\(L).attn_norm")
        out.add("\(h).attn.c_attn.weight", [D, 3 * D], .gpt2QKVWeight(layer: l))
        out.add("\(h).attn.c_attn.bias", [3 * D], .gpt2QKVBias(layer: l))
        out.add("\(h).attn.c_proj.weight", [D, D], .transposed("\(L).o.w"))
        out.add("\(h).attn.c_proj.bias", [D], .direct("\(L).o.b"))
        out.norm("\(h).ln_2", "\(L).mlp_norm")
        out.add("\(h).mlp.c_fc.weight", [D, F], .transposed("\(L).up.w"))
        out.add("\(h).mlp.c_fc.bias", [F], .direct("\(L).up.b"))
        out.add("\(h).mlp.c_proj.weight", [F, D], .transposed("\(L).down.w"))
        out.add("\(h).mlp.c_proj.bias", [D], .direct("\(L).down.b"))
    }
    out.norm("\(p)ln_f", "final_norm")
    if !c.tieWordEmbeddings { out.add(headName, [V, D], .direct("lm_head")) }
    return out.specs
}

// MARK: GGUF

/// GPT-2: learned positions, LayerNorms with bias, Conv1D layers (HF [in, out], GGUF [out, in]).
let ggufGPT2GlobalNames: [(String, String)] = [
    ("token_embd.weight", "transformer.wte.weight"),       // [V, D]
    ("position_embd.weight", "transformer.wpe.weight"),    // [P, D]
    ("output_norm.weight", "transformer.ln_f.weight"),     // [D]
    ("output_norm.bias", "transformer.ln_f.bias"),
    ("output.weight", "lm_head.weight"),                   // [V, D]; older converters copy wte here
]
let ggufGPT2BlockNames: [(String, String)] = [
    ("attn_norm.weight", "ln_1.weight"), ("attn_norm.bias", "ln_1.bias"),
    ("attn_qkv.weight", "attn.c_attn.weight"),     // GGUF [3D, D] (q|k|v rows) → HF [D, 3D]
    ("attn_qkv.bias", "attn.c_attn.bias"),         // [3D]
    ("attn_output.weight", "attn.c_proj.weight"),  // GGUF [D, D] → HF [D, D] transposed
    ("attn_output.bias", "attn.c_proj.bias"),
    ("ffn_norm.weight", "ln_2.weight"), ("ffn_norm.bias", "ln_2.bias"),
    ("ffn_up.weight", "mlp.c_fc.weight"),          // GGUF [F, D] → HF [D, F]
    ("ffn_up.bias", "mlp.c_fc.bias"),
    ("ffn_down.weight", "mlp.c_proj.weight"),      // GGUF [D, F] → HF [F, D]
    ("ffn_down.bias", "mlp.c_proj.bias"),
]

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
