// MARK: Qwen 2, Qwen 3
//
//   Qwen2Config: intermediate_size 22016; vocab_size 151936; max_position_embeddings 32768;
//   q, k and v biases and no o bias (Qwen2Attention, whatever attention_bias says);
//   use_sliding_window false, else sliding_window 4096 on the layers from max_window_layers
//   (28) on, or as `layer_types` says.
//   Qwen3Config: as Qwen 2 with head_dim 128, attention_bias read as given, and RMSNorm of each
//   query and key head (q_norm, k_norm of size head_dim).
//
// GGUF: `qwen2`, `qwen3`, q/k as HF has them (llama.cpp runs them with NeoX RoPE).

extension Architecture {
    public static let qwen2 = Architecture(modelType: "qwen2")
    public static let qwen3 = Architecture(modelType: "qwen3")
}

/// Qwen's optional sliding window (`use_sliding_window`).
private func qwenSlidingWindows(_ r: ConfigReader, _ c: inout ModelConfig) throws {
    guard try r.bool("use_sliding_window", false) else { return }
    let L = c.numLayers, maxWindowLayers = try r.int("max_window_layers", 28)
    c.slidingWindows = try r.layerWindows(layers: L, defaultTypes: (0..<L).map { $0 >= maxWindowLayers }, window: 4096)
}

private let qwenLayout = LlamaLayout(hidden: 4096, intermediate: 22016, vocab: 151936, positions: 32768,
                                     finish: { r, c in try qwenSlidingWindows(r, &c) })

extension ModelFamily {
    static let qwen2: ModelFamily = {
        var layout = qwenLayout
        layout.attentionBias = true; layout.outputProjectionBias = false  // Qwen2Attention: q/k/v biases only
        return layout.family(.qwen2, causalLM: "Qwen2ForCausalLM", base: "Qwen2Model", gguf: [
            GGUFArchitecture(gguf: "qwen2", modelType: "qwen2", hfClass: "Qwen2ForCausalLM",
                             globalNames: ggufLlamaGlobalNames, blockPrefix: "model.layers.", blockNames: ggufLlamaBlockNames,
                             rewrites: [:], config: { try ggufLlamaFamilyConfig($0) }),
        ])
    }()

    static let qwen3: ModelFamily = {
        var layout = qwenLayout
        layout.headDim = 128
        layout.finish = { r, c in
            c.qkNorm = .perHead
            try qwenSlidingWindows(r, &c)
        }
        return layout.family(.qwen3, causalLM: "Qwen3ForCausalLM", base: "Qwen3Model", gguf: [
            GGUFArchitecture(gguf: "qwen3", modelType: "qwen3", hfClass: "Qwen3ForCausalLM",
                             globalNames: ggufLlamaGlobalNames, blockPrefix: "model.layers.", blockNames: ggufLlamaBlockNames,
                             rewrites: [:], config: { try ggufLlamaFamilyConfig($0, alwaysHeadDim: true) }),
        ])
    }()
}
