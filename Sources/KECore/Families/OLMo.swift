// MARK: OLMo, OLMo 2, OLMo 3
//
//   OLMo      OlmoConfig: num_key_value_heads ← heads; hidden_act "silu"; attention_bias false;
//             clip_qkv null; tie_word_embeddings false; OlmoLayerNorm = F.layer_norm without
//             weight/bias, eps fixed at 1e-5; MLP gate/up/down without bias; pad_token_id 1.
//   OLMo 2    Olmo2Config: as OLMo with RMSNorm (rms_norm_eps 1e-5) after each sub-block
//             (post_attention_layernorm, post_feedforward_layernorm) and RMSNorm of the whole
//             q and k projections.
//   OLMo 3    Olmo3Config: OLMo 2 with sliding-window attention on three layers of every four
//             (window 4096; `layer_types` when given) and one set of RoPE parameters per
//             layer type.
//
// GGUF: llama.cpp writes OLMo as `olmo` (q/k permuted for its RoPE) and OLMo 2 and 3 as
// `olmo2`, OLMo 3 told apart by `attention.sliding_window` and its per-layer pattern.

extension Architecture {
    public static let olmo = Architecture(modelType: "olmo")
    public static let olmo2 = Architecture(modelType: "olmo2")
    public static let olmo3 = Architecture(modelType: "olmo3")
}

/// What OLMo 1, 2 and 3 share.
private let olmoLayout = LlamaLayout(hidden: 4096, intermediate: 11008, vocab: 50304, positions: 2048,
                                     clipQKV: true, paddingIndex: 1)

/// OLMo 2 and 3: norms after each sub-block, RMSNorm of the whole q and k projections.
private func olmo2Block(_ r: ConfigReader, _ c: inout ModelConfig) {
    c.normPlacement = .afterSublayer; c.qkNorm = .fullProjection
}

extension ModelFamily {
    static let olmo: ModelFamily = {
        var layout = olmoLayout
        layout.norm = .nonParametricLayerNorm; layout.fixedNormEps = 1e-5
        return layout.family(.olmo, causalLM: "OlmoForCausalLM", base: "OlmoModel", gguf: [
            GGUFArchitecture(gguf: "olmo", modelType: "olmo", hfClass: "OlmoForCausalLM",
                             globalNames: ggufLlamaGlobalNames, blockPrefix: "model.layers.", blockNames: ggufLlamaBlockNames,
                             rewrites: ["attn_q.weight": .ropeQ, "attn_k.weight": .ropeK],
                             config: { m in try ggufLlamaFamilyConfig(m) + m.clipQKV() }),
        ])
    }()

    static let olmo2: ModelFamily = {
        var layout = olmoLayout
        layout.rmsNormEps = 1e-5
        layout.finish = { r, c in olmo2Block(r, &c) }
        return layout.family(.olmo2, causalLM: "Olmo2ForCausalLM", base: "Olmo2Model", gguf: [
            GGUFArchitecture(gguf: "olmo2", modelType: "olmo2", hfClass: "Olmo2ForCausalLM",
                             globalNames: ggufLlamaGlobalNames, blockPrefix: "model.layers.", blockNames: ggufOLMo2BlockNames,
                             rewrites: [:], config: { m in try ggufLlamaFamilyConfig(m) + m.clipQKV() + m.olmo3Windows() }),
        ])
    }()

    static let olmo3: ModelFamily = {
        var layout = olmoLayout
        layout.rmsNormEps = 1e-5
        layout.ropePerLayerType = true
        layout.finish = { r, c in
            olmo2Block(r, &c)
            let L = c.numLayers
            c.slidingWindows = try r.layerWindows(layers: L, defaultTypes: (0..<L).map { ($0 + 1) % 4 != 0 }, window: 4096)
        }
        return layout.family(.olmo3, causalLM: "Olmo3ForCausalLM", base: "Olmo3Model")
    }()
}

extension GGUFMetadata {
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
