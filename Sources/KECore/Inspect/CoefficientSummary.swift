import Foundation

// MARK: Coefficient distributions
//
// Why is entropy low? Per layer: how unequal the mean |coefficient| vector is (Gini), how much
// of it a few memories hold (top 1 %), and how many memories are nearly silent.

/// Summary of one layer's mean |coefficient| vector m (length F = d_ff).
public struct LayerCoefficientSummary: Sendable, Equatable {
    /// H = −Σ p ln p with p = m / Σ m (nats); 0 when m sums to 0.
    public var entropy: Double
    /// H / ln F: 1 when every memory is equally active.
    public var normalizedEntropy: Double
    /// Gini coefficient of m: Σ_i Σ_j |m_i − m_j| / (2 F² mean(m)); 0 = equal, → 1 = one memory.
    public var gini: Double
    /// Share of Σ m held by the max(1, ⌊F / 100⌋) largest memories.
    public var top1Share: Double
    /// Number of memories with m_i < 1 % of mean(m).
    public var silent: Int
    /// The mean |coefficient| of every memory.
    public var mean: [Double]

    /// Summarises one mean vector.
    public init(mean m: [Double]) {
        let f = m.count
        let total = m.reduce(0, +)
        let usable = total > 0 && total.isFinite
        let h = usable ? (distributionEntropy(m) ?? 0) : 0
        entropy = h
        normalizedEntropy = f > 1 ? h / log(Double(f)) : 0
        gini = usable ? giniCoefficient(m) : 0
        let k = max(1, f / 100)
        let top = m.sorted(by: >).prefix(k).reduce(0, +)
        top1Share = usable ? top / total : 0
        let layerMean = f > 0 ? total / Double(f) : 0
        silent = m.reduce(0) { $0 + ($1 < 0.01 * layerMean ? 1 : 0) }
        mean = m
    }
}

/// Per-layer summaries of a coefficient pass.
public struct CoefficientSummary: Sendable {
    public var layers: [LayerCoefficientSummary]
    /// Tokens averaged over.
    public var tokens: Int
    /// Training step of the model, when known.
    public var step: Int?

    /// Summarises every layer of `stats`.
    public init(stats: CoefficientStats, step: Int? = nil) {
        layers = stats.means.map { LayerCoefficientSummary(mean: $0) }
        tokens = stats.tokens
        self.step = step
    }

    /// Memory-percentile profile per layer: row l has `bins` cells, cell b is the mean of the
    /// sorted (descending) mean coefficients in percentile band [b/bins, (b+1)/bins) — the
    /// heat map "layers × memory percentile" (cell 0 = the most active memories).
    public func percentileProfile(bins: Int) -> [[Double]] {
        layers.map { percentileBands($0.mean.sorted(by: >), bins: max(1, bins)) }
    }
}

/// Mean of each of `bins` equal bands of `sorted` (bands of at least one element; with fewer
/// elements than bins, one cell per element).
func percentileBands(_ sorted: [Double], bins: Int) -> [Double] {
    let n = sorted.count
    guard n > 0 else { return [] }
    let b = min(bins, n)
    var out: [Double] = []
    out.reserveCapacity(b)
    for i in 0..<b {
        let lo = i * n / b, hi = max(lo + 1, (i + 1) * n / b)
        out.append(sorted[lo..<hi].reduce(0, +) / Double(hi - lo))
    }
    return out
}

/// Gini coefficient of non-negative values: with x sorted ascending and i = 1…n,
/// G = 2 Σ i·x_i / (n Σ x) − (n + 1) / n. 0 for an empty or all-zero vector.
public func giniCoefficient(_ values: [Double]) -> Double {
    let x = values.sorted()
    let n = Double(x.count)
    let s = x.reduce(0, +)
    guard n > 0, s > 0, s.isFinite else { return 0 }
    var weighted = 0.0
    for (i, v) in x.enumerated() { weighted += Double(i + 1) * v }
    return 2 * weighted / (n * s) - (n + 1) / n
}

/// Mean |coefficient| statistics of `model` on `corpus`, summarised per layer.
///
/// - Throws: `CoreError` as `coefficientStatistics` does (a corpus without tokens, a token outside
///   the vocabulary, a document longer than the positions, an overflowing sum, cancel).
public func coefficientSummary(of model: Model, on corpus: Corpus, progress: ProgressHandler? = nil) throws -> CoefficientSummary {
    let stats = try coefficientStatistics(of: model, on: corpus, progress: progress)
    return CoefficientSummary(stats: stats, step: model.step)
}
