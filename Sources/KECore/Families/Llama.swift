// MARK: Llama
//
//   LlamaConfig: rms_norm_eps 1e-6; head_dim ← hidden/heads; attention_bias false (biases on
//   q, k, v and o when true); mlp_bias false (biases on gate, up and down when true);
//   tie_word_embeddings false; rope_scaling linear, dynamic or llama3.
//
// GGUF: `llama`, q/k rows permuted for llama.cpp's adjacent-pair RoPE. Mistral models are
// written as `llama` too (Mistral.swift).

extension Architecture {
    public static let llama = Architecture(modelType: "llama")
}

extension ModelFamily {
    static let llama = LlamaLayout(mlpBias: true).family(.llama, causalLM: "LlamaForCausalLM", base: "LlamaModel", gguf: [
        GGUFArchitecture(gguf: "llama", modelType: "llama", hfClass: "LlamaForCausalLM",
                         globalNames: ggufLlamaGlobalNames, blockPrefix: "model.layers.", blockNames: ggufLlamaBlockNames,
                         rewrites: ["attn_q.weight": .ropeQ, "attn_k.weight": .ropeK],
                         config: { try ggufLlamaFamilyConfig($0) }),
    ])
}
