// MARK: Model configuration
//
// One architecture-neutral description of a decoder-only transformer. The checkpoint loader
// (`Checkpoint/ConfigParser.swift`) fills it from a Hugging Face `config.json`; the forward and
// backward passes read only this struct, never the JSON.

/// The architecture families ke supports, named as in Hugging Face `model_type`.
public enum Architecture: String, Sendable, CaseIterable {
    case olmo = "olmo"
    case llama = "llama"
    case gptNeoX = "gpt_neox"
    case gpt2 = "gpt2"

    /// The `architectures[0]` class name transformers uses for the causal LM.
    public var hfClassName: String {
        switch self {
        case .olmo: return "OlmoForCausalLM"
        case .llama: return "LlamaForCausalLM"
        case .gptNeoX: return "GPTNeoXForCausalLM"
        case .gpt2: return "GPT2LMHeadModel"
        }
    }
}

/// Normalisation layer kind.
public enum NormKind: Sendable, Equatable {
    /// LayerNorm with learned weight (and bias when `bias` is true): GPT-2, GPT-NeoX.
    case layerNorm(bias: Bool)
    /// LayerNorm without any parameters: OLMo (`OlmoLayerNorm`).
    case nonParametricLayerNorm
    /// RMSNorm with a learned weight: Llama.
    case rmsNorm
}

/// FFN activation, named as transformers' `ACT2FN` keys map them.
public enum Activation: String, Sendable {
    /// `gelu`: the exact erf form.
    case gelu
    /// `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`: the tanh approximation.
    case geluTanh
    /// `silu` / `swish`.
    case silu
    /// `relu`.
    case relu
}

/// Architecture-neutral hyper-parameters of a decoder-only transformer.
public struct ModelConfig: Sendable, Equatable {
    public var architecture: Architecture
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numLayers: Int
    public var numHeads: Int
    /// Key/value heads (grouped-query attention); equals `numHeads` when there is no GQA.
    public var numKVHeads: Int
    public var headDim: Int
    /// FFN width d_ff: the number of memories per layer.
    public var intermediateSize: Int
    public var maxPositions: Int
    public var norm: NormKind
    public var normEps: Float
    public var activation: Activation
    /// SwiGLU-style MLP: coefficient = act(gate·x) · (up·x). Otherwise coefficient = act(up·x + b).
    public var gatedMLP: Bool
    /// Number of leading dimensions of each head that get rotary embeddings (0 = no RoPE).
    public var rotaryDim: Int
    public var ropeTheta: Double
    /// GPT-2 style learned absolute positions (`wpe`).
    public var learnedPositions: Bool
    /// GPT-NeoX `use_parallel_residual`: x + attn(ln1(x)) + mlp(ln2(x)).
    public var parallelResidual: Bool
    public var tieWordEmbeddings: Bool
    /// OLMo `clip_qkv`: q, k, v are clamped to ±clip after projection.
    public var clipQKV: Float?
    /// Biases on q, k, v and o projections.
    public var attentionBias: Bool
    /// Biases on the MLP projections.
    public var mlpBias: Bool
    /// The parsed `config.json`, kept so `save` can write it back with only the changed keys.
    public var rawJSON: [String: JSONValue]

    public init(
        architecture: Architecture, vocabSize: Int, hiddenSize: Int, numLayers: Int,
        numHeads: Int, numKVHeads: Int, headDim: Int, intermediateSize: Int, maxPositions: Int,
        norm: NormKind, normEps: Float, activation: Activation, gatedMLP: Bool,
        rotaryDim: Int, ropeTheta: Double, learnedPositions: Bool, parallelResidual: Bool,
        tieWordEmbeddings: Bool, clipQKV: Float?, attentionBias: Bool, mlpBias: Bool,
        rawJSON: [String: JSONValue] = [:]
    ) {
        self.architecture = architecture; self.vocabSize = vocabSize; self.hiddenSize = hiddenSize
        self.numLayers = numLayers; self.numHeads = numHeads; self.numKVHeads = numKVHeads
        self.headDim = headDim; self.intermediateSize = intermediateSize; self.maxPositions = maxPositions
        self.norm = norm; self.normEps = normEps; self.activation = activation; self.gatedMLP = gatedMLP
        self.rotaryDim = rotaryDim; self.ropeTheta = ropeTheta; self.learnedPositions = learnedPositions
        self.parallelResidual = parallelResidual; self.tieWordEmbeddings = tieWordEmbeddings
        self.clipQKV = clipQKV; self.attentionBias = attentionBias; self.mlpBias = mlpBias
        self.rawJSON = rawJSON
    }
}
