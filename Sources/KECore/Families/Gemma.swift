// MARK: Gemma
//
//   GemmaConfig: hidden_size 3072; intermediate_size 24576; vocab_size 256000;
//   max_position_embeddings 8192; head_dim 256; hidden_act "gelu_pytorch_tanh" (a legacy
//   "gelu" is rewritten to it); tie_word_embeddings true; pad_token_id 0. GemmaRMSNorm
//   multiplies by (1 + w); the embeddings are scaled by √hidden_size (rounded to float32).
//
// GGUF: `gemma`, norm weights stored as 1 + w; its SentencePiece vocabulary is built the
// GemmaTokenizer way.

extension Architecture {
    public static let gemma = Architecture(modelType: "gemma")
}

extension ModelFamily {
    static let gemma = LlamaLayout(
        hidden: 3072, intermediate: 24576, vocab: 256000, positions: 8192, headDim: 256,
        activation: "gelu_pytorch_tanh", activationAliases: ["gelu": "gelu_pytorch_tanh"],  // GemmaConfig's legacy fix-up
        tieWordEmbeddings: true, paddingIndex: 0,
        finish: { _, c in
            c.normWeightOffset = 1
            c.embeddingScale = Float(Double(c.hiddenSize).squareRoot())
        }
    ).family(.gemma, causalLM: "GemmaForCausalLM", base: "GemmaModel", gguf: [
        GGUFArchitecture(gguf: "gemma", modelType: "gemma", hfClass: "GemmaForCausalLM",
                         globalNames: ggufLlamaGlobalNames, blockPrefix: "model.layers.", blockNames: ggufLlamaBlockNames,
                         rewrites: ["attn_norm.weight": .minusOne, "ffn_norm.weight": .minusOne, "output_norm.weight": .minusOne],
                         config: { try ggufLlamaFamilyConfig($0, activation: "gelu_pytorch_tanh", alwaysHeadDim: true) },
                         tokenizerFlavour: .gemma),
    ])
}
