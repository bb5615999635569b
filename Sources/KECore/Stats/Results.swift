// MARK: Result types of the statistics passes

/// Per-layer mean |coefficient| of every memory over a corpus.
public struct CoefficientStats: Sendable {
    /// means[l][i]: mean over all tokens of |coefficient of memory i in layer l|.
    public var means: [[Double]]
    /// Number of tokens averaged over.
    public var tokens: Int
    public init(means: [[Double]], tokens: Int) { self.means = means; self.tokens = tokens }
}

/// Knowledge entropy of a model on a corpus (Kim et al. 2025).
public struct EntropyResult: Sendable {
    /// Σ_l H_l.
    public var total: Double
    /// H_l = −Σ_i p_{l,i} ln p_{l,i}, p_l = mean|coef_l| / Σ mean|coef_l|.
    public var layers: [Double]
    public var tokens: Int
    /// total / (L · ln d_ff): 1 means every memory equally active.
    public var normalized: Double
    /// The coefficient statistics it was computed from.
    public var stats: CoefficientStats
    /// Training step of the model, when known.
    public var step: Int?
}

/// Perplexity of a model on a corpus.
public struct PerplexityResult: Sendable {
    /// exp(loss).
    public var perplexity: Double
    /// Mean next-token negative log-likelihood (nats) over every predicted token.
    public var loss: Double
    /// Number of predicted tokens (each document of length T contributes T − 1).
    public var tokens: Int
}
