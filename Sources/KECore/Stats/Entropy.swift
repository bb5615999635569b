import Foundation

// MARK: Coefficient statistics and knowledge entropy

/// Mean |coefficient| of every memory of every layer over all tokens of `corpus`.
///
/// - Throws: `CoreError` when the corpus has no tokens, a token is outside the vocabulary, a
///   document is longer than the model's positions, a coefficient sum overflows, a coefficient
///   is not finite, or "cancelled".
public func coefficientStatistics(of model: Model, on corpus: Corpus, progress: ProgressHandler? = nil) throws -> CoefficientStats {
    let c = model.config
    let total = corpus.tokenCount
    guard total > 0 else { throw CoreError("the corpus has no tokens", file: corpus.source) }
    let L = c.numLayers, F = c.intermediateSize
    // Exact fixed-point sums (see `ExactSums`): independent of batching and thread count, and
    // equal to the sum of any sharding of the corpus.
    let sums = try exactCoefficientSums(of: model, on: corpus, progress: progress)
    var means: [[Double]] = []
    for l in 0..<L {
        var m = [Double](repeating: 0, count: F)
        for i in 0..<F { m[i] = sums.value(l * F + i) / Double(total) }
        if let i = m.firstIndex(where: { !$0.isFinite }) {
            throw CoreError("layer \(l), memory \(i): the coefficients are not finite (the model produces NaN or infinity)")
        }
        means.append(m)
    }
    return CoefficientStats(means: means, tokens: total)
}

/// Entropy (nats) of a non-negative vector normalised to a distribution; nil when it sums to 0
/// or is not finite.
public func distributionEntropy(_ m: [Double]) -> Double? {
    let s = m.reduce(0, +)
    guard s > 0, s.isFinite else { return nil }
    var h = 0.0
    for x in m where x > 0 {
        let p = x / s
        h -= p * log(p)
    }
    return h
}

/// Knowledge entropy of `model` on `corpus` (Kim et al. 2025): Σ_l H(mean|coef_l| / Σ mean|coef_l|).
///
/// - Throws: `CoreError` as `coefficientStatistics` and `knowledgeEntropy(from:)` do.
public func knowledgeEntropy(of model: Model, on corpus: Corpus, progress: ProgressHandler? = nil) throws -> EntropyResult {
    let stats = try coefficientStatistics(of: model, on: corpus, progress: progress)
    return try knowledgeEntropy(from: stats, step: model.step)
}

/// Knowledge entropy from precomputed statistics.
///
/// - Throws: `CoreError` naming the layer when its coefficients are not finite or all zero (the
///   entropy is then undefined).
public func knowledgeEntropy(from stats: CoefficientStats, step: Int? = nil) throws -> EntropyResult {
    var layers: [Double] = []
    for (l, m) in stats.means.enumerated() {
        guard let h = distributionEntropy(m) else {
            if m.contains(where: { !$0.isFinite }) {
                throw CoreError("layer \(l): coefficients are not finite (the model produces NaN or infinity)")
            }
            throw CoreError("layer \(l): every coefficient is zero on this corpus, so its entropy is undefined")
        }
        layers.append(h)
    }
    let total = layers.reduce(0, +)
    let F = stats.means.first?.count ?? 1
    let maxH = Double(layers.count) * log(Double(max(F, 2)))
    return EntropyResult(total: total, layers: layers, tokens: stats.tokens,
                         normalized: maxH > 0 ? total / maxH : 0, stats: stats, step: step)
}
