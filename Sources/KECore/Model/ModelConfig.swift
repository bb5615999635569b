// MARK: Model configuration
//
// One architecture-neutral description of a decoder-only transformer. The checkpoint loader
// (`Families/`) fills it from a Hugging Face `config.json`; the forward and
// backward passes read only this struct, never the JSON. `Architecture` (the family, named by
// its `model_type`) is defined with the family registry, Families/ModelFamily.swift.

/// Normalisation layer kind.
public enum NormKind: Sendable, Equatable {
    /// LayerNorm with learned weight (and bias when `bias` is true): GPT-2, GPT-NeoX.
    case layerNorm(bias: Bool)
    /// LayerNorm without any parameters: OLMo (`OlmoLayerNorm`).
    case nonParametricLayerNorm
    /// RMSNorm with a learned weight: Llama.
    case rmsNorm
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

    // MARK: Block options beyond the four original families (defaults: off)

    /// Where the block's norms sit: before each sub-block (the default) or after it (OLMo 2/3).
    public var normPlacement: NormPlacement = .beforeSublayer
    /// RMSNorm of the queries and keys after their projection (OLMo 2/3, Qwen 3).
    public var qkNorm: QKNorm = .none
    /// Added to every norm weight before it multiplies: 1 for Gemma's `(1 + w)`, else 0.
    public var normWeightOffset: Float = 0
    /// Multiplies the token embeddings (Gemma: √hidden_size rounded to float32), nil: none.
    public var embeddingScale: Float? = nil
    /// Per layer, the sliding attention window (a query sees the `window` most recent positions,
    /// itself included), or nil for full causal attention. Empty means full attention everywhere.
    public var slidingWindows: [Int?] = []
    /// How RoPE frequencies are rescaled (`rope_scaling` / `rope_parameters`).
    public var ropeScaling: RopeScaling = .none
    /// GPT-2 `scale_attn_by_inverse_layer_idx`: attention scores of layer l are divided by l + 1.
    public var scaleAttentionByInverseLayerIndex: Bool = false
    /// The embedding row whose gradient is always zero (`nn.Embedding(padding_idx:)`), when the
    /// architecture builds its embedding with `padding_idx = pad_token_id`.
    public var paddingIndex: Int? = nil

    /// Whether the o projection has a bias when `attentionBias` is set (Qwen 2 has q/k/v
    /// biases only).
    public var outputProjectionBias: Bool = true

    /// The longest sequence a forward pass accepts: `max_position_embeddings`, except under
    /// dynamic RoPE scaling, whose purpose is to run past it (capped at 2^20 tokens).
    public var positionLimit: Int {
        if case .dynamic = ropeScaling, !learnedPositions { return max(maxPositions, 1 << 20) }
        return maxPositions
    }

    /// The sliding window of layer `l` (nil: full causal attention).
    public func slidingWindow(layer l: Int) -> Int? {
        l < slidingWindows.count ? slidingWindows[l] : nil
    }

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

/// Where a block's norms are applied.
public enum NormPlacement: Sendable, Equatable {
    /// x + f(norm(x)): GPT-2, GPT-NeoX, Llama, OLMo, Qwen, Mistral, Gemma.
    case beforeSublayer
    /// x + norm(f(x)): OLMo 2 and 3 (`post_attention_layernorm`, `post_feedforward_layernorm`).
    case afterSublayer
}

/// RMSNorm of queries and keys after their projection, before RoPE.
public enum QKNorm: Sendable, Equatable {
    case none
    /// Over the whole projection row, [H·hd] and [KV·hd] weights (OLMo 2 and 3).
    case fullProjection
    /// Over each head separately, one [hd] weight shared by the heads (Qwen 3).
    case perHead
}

/// RoPE frequency rescaling, as transformers' `ROPE_INIT_FUNCTIONS` define it.
public enum RopeScaling: Sendable, Equatable {
    case none
    /// `linear`: inv_freq / factor.
    case linear(factor: Double)
    /// `dynamic` (NTK): θ grows with the sequence once it exceeds `originalMaxPositions`.
    case dynamic(factor: Double, originalMaxPositions: Int)
    /// `llama3`: long wavelengths divided by `factor`, short kept, a smooth band between.
    case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalMaxPositions: Int)
}
