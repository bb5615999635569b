// MARK: Mistral
//
//   MistralConfig: num_key_value_heads 8; max_position_embeddings 4096·32; intermediate_size
//   14336; no attention biases (MistralAttention has none, whatever attention_bias says);
//   sliding_window 4096 on every layer unless the key says null.
//
// GGUF: llama.cpp's converter writes Mistral models as `llama` (it has no `mistral`
// architecture and records no sliding window), so they load as Llama.

extension Architecture {
    public static let mistral = Architecture(modelType: "mistral")
}

extension ModelFamily {
    static let mistral = LlamaLayout(
        hidden: 4096, intermediate: 14336, vocab: 32000, positions: 4096 * 32, kvHeads: 8, attentionBias: false,
        finish: { r, c in
            // MistralConfig: sliding_window 4096 unless the key says null.
            if let w = r.raw["sliding_window"] == nil ? 4096 : try r.optionalInt("sliding_window") {
                try r.positive("sliding_window", w)
                c.slidingWindows = Array(repeating: w, count: c.numLayers)
            }
        }
    ).family(.mistral, causalLM: "MistralForCausalLM", base: "MistralModel",
             // llama.cpp's converter writes Mistral models as `llama`; gguf-py has no `mistral`.
             ggufNote: "llama.cpp writes Mistral models as 'llama'")
}
