import Foundation

// MARK: Coefficient statistics, knowledge entropy, perplexity, resuscitation

/// Tokens per forward batch: documents are grouped until this many tokens. Each core runs a batch
/// of its own (`inParallelRounds`), so 1,024 keeps the activations of a Pythia-70m-sized entropy
/// pass near 0.2× its weights in all, while every GEMM still has 1,024 rows.
let batchTokenBudget = 1024

/// Splits documents into packed batches of at most `batchTokenBudget` tokens (a longer
/// document gets a batch of its own).
func packedBatches(_ docs: [[Int]]) -> [PackedBatch] {
    var out: [PackedBatch] = []
    var current: [[Int]] = []
    var tokens = 0
    for d in docs where !d.isEmpty {
        if tokens + d.count > batchTokenBudget && !current.isEmpty {
            out.append(PackedBatch(documents: current))
            current = []
            tokens = 0
        }
        current.append(d)
        tokens += d.count
    }
    if !current.isEmpty { out.append(PackedBatch(documents: current)) }
    return out
}

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

/// Perplexity of `model` on `corpus`: exp of the mean next-token NLL over every predicted token.
///
/// - Throws: `CoreError` when no document has 2 tokens, a token is outside the vocabulary, a
///   document is longer than the positions, the loss is not finite or exp(loss) overflows, or
///   "cancelled".
public func perplexity(of model: Model, on corpus: Corpus, progress: ProgressHandler? = nil) throws -> PerplexityResult {
    var nll = 0.0
    var count = 0
    let total = corpus.tokenCount
    var done = 0
    // Batches run in parallel; each returns its rows' log-probabilities, which are summed in
    // row order so the result does not depend on the thread count.
    let batches = packedBatches(corpus.documents)
    let workspaces = (0..<parallelRoundSlots).map { _ in Arena() }
    try withInferenceWeights(model) { weights in
    try inParallelRounds(batches.count, work: { b, slot -> [Double] in
        let batch = batches[b]
        let tokens = batch.tokens, positions = batch.positions
        let N = batch.count
        // Each row's target is the next token of its document (−1 at a document's end); rows
        // without one keep +∞ (a log-probability is never +∞; NaN still propagates).
        var targets = [Int32](repeating: -1, count: N)
        for r in 0..<(N - 1) where positions[r + 1] == positions[r] + 1 { targets[r] = tokens[r + 1] }
        var logProbs = [Double](repeating: .infinity, count: N)
        try targets.withUnsafeBufferPointer { t in
            try logProbs.withUnsafeMutableBufferPointer { lp in
                guard let tp = t.baseAddress, let out = lp.baseAddress else { return }
                try runForward(config: model.config, weights: weights, multipliers: model.memoryMultipliers,
                               batch: batch, request: ForwardRequest(coefficientSums: nil, logits: nil, targetLogProbs: (tp, out)),
                               workspace: workspaces[slot])
            }
        }
        return logProbs
    }, combine: { b, logProbs in
        for lp in logProbs where lp != .infinity {
            nll -= lp
            count += 1
        }
        done += batches[b].count
        progress?(done, total, "")
    })
    }
    guard count > 0 else {
        throw CoreError("no token to predict: every document has fewer than 2 tokens", file: corpus.source)
    }
    let loss = nll / Double(count)
    guard loss.isFinite else { throw CoreError("the loss is not finite (the model produces NaN or infinity)") }
    let ppl = exp(loss)
    guard ppl.isFinite else { throw CoreError("perplexity exp(\(loss)) overflows: the model assigns the corpus almost no probability") }
    return PerplexityResult(perplexity: ppl, loss: loss, tokens: count)
}

/// log softmax(row)[index], computed stably in Double.
@inline(__always)
func logSoftmaxAt(_ row: UnsafePointer<Float>, count v: Int, index: Int) -> Double {
    let mx = vmax(row, count: v)
    let s = Double(sumOfExpShifted(row, count: v, shift: mx))
    return Double(row[index] - mx) - log(s)
}

// MARK: Resuscitation

/// The `q`-quantile of `values` with linear interpolation (torch.quantile's default); 0 for no values.
/// - Throws: `CoreError` when `q` is not in [0, 1] or a value is NaN (both are errors in torch too).
public func quantile(_ values: [Double], _ q: Double) throws -> Double {
    guard q >= 0, q <= 1 else { throw CoreError("a quantile must be between 0 and 1, not \(q)") }
    guard !values.contains(where: { $0.isNaN }) else { throw CoreError("cannot take a quantile of values that include NaN") }
    let s = values.sorted()
    guard !s.isEmpty else { return 0 }
    let pos = q * Double(s.count - 1)
    let lo = Int(pos.rounded(.down)), hi = min(lo + 1, s.count - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - Double(lo))
}

/// Per-memory multipliers of the resuscitation rule for one layer: memories whose mean
/// |coefficient| is ≤ the `fraction`-quantile get (layer mean / own mean) · `factor`; others 1.
/// A memory that never fires (mean 0) keeps 1: no finite multiplier can revive it. With `cap`,
/// no multiplier exceeds it (nil: the paper's rule, unbounded).
/// - Throws: `CoreError` when `fraction` is not in [0, 1] (see `quantile`).
public func resuscitationMultipliers(means m: [Double], fraction: Double, factor: Double, cap: Double? = nil) throws -> [Float] {
    let thr = try quantile(m, fraction)
    let layerMean = m.reduce(0, +) / Double(max(1, m.count))
    return m.map { x in
        guard x <= thr && x > 0 else { return 1 }
        // factor 0 silences the memory (0 · ∞ would be NaN when x is tiny).
        if factor == 0 { return 0 }
        let r = layerMean / x * factor
        return Float(cap.map { Swift.min(r, $0) } ?? r)
    }
}

/// What a rescale did, per layer: how many memories the rule touched and their largest
/// multiplier. Kept with the rescaled model; `warnings` says when the rule ran wild.
public struct RescaleSummary: Sendable, Equatable {
    /// One layer: memories rescaled (at or below the quantile and ever active) and the largest
    /// multiplier among them (0 when none was).
    public struct Layer: Sendable, Equatable {
        public var count: Int
        public var largest: Double
        public init(count: Int, largest: Double) { self.count = count; self.largest = largest }
    }
    public var layers: [Layer]
    /// The `cap` the multipliers were limited to, if any.
    public var cap: Double?

    public init(layers: [Layer], cap: Double?) { self.layers = layers; self.cap = cap }

    /// A multiplier above this is reported by `warnings`.
    public static let largeMultiplier = 100.0

    /// The largest multiplier of all layers and its layer, or nil when nothing was rescaled.
    public var largest: (layer: Int, value: Double)? {
        var best: (layer: Int, value: Double)?
        for (l, layer) in layers.enumerated() where layer.count > 0 && layer.largest > (best?.value ?? -1) {
            best = (l, layer.largest)
        }
        return best
    }

    /// Warnings about this rescale (empty when all is well): a multiplier above
    /// `largeMultiplier`, and, given the perplexities on the rescale's corpus, a perplexity
    /// more than doubled.
    public func warnings(perplexityBefore before: Double? = nil, after: Double? = nil) -> [String] {
        var out: [String] = []
        if let (l, v) = largest, v > RescaleSummary.largeMultiplier {
            let over = layers.enumerated().filter { $0.element.largest > RescaleSummary.largeMultiplier }.map { String($0.offset) }
            out.append("the largest rescale multiplier is \(shortNumber(v)) (layer \(l)); layers with multipliers above "
                       + "\(shortNumber(RescaleSummary.largeMultiplier)): \(over.joined(separator: ", ")). A few very active memories "
                       + "inflate the layer mean, so (layer mean / own mean) · Q explodes for the quiet ones; 'cap X' limits every multiplier to X")
        }
        if let before, let after, after > 2 * before {
            out.append("the rescale raised the perplexity on its own corpus from \(shortNumber(before)) to \(shortNumber(after)) "
                       + "(\(shortNumber(after / before))-fold, more than 2×)")
        }
        return out
    }
}

/// A number with 6 significant digits, as the language prints numbers ("43410.2", "1.5e+06").
func shortNumber(_ x: Double) -> String {
    if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
    return String(format: "%.6g", x)
}

extension Model {
    /// The paper's resuscitation: per layer, memories whose mean |coefficient| on `corpus` is at
    /// or below the `fraction`-quantile get their coefficient multiplied by
    /// (layer mean / own mean) · `factor`. Gated MLPs fold this exactly into row i of the up
    /// projection; GELU MLPs keep a per-memory coefficient multiplier (folded into the value
    /// vectors on save).
    ///
    /// With `cap`, no multiplier exceeds it. The result carries a `RescaleSummary`.
    ///
    /// - Throws: `CoreError` when `fraction` is outside [0, 1], `factor` is negative or not finite,
    ///   `cap` is not a finite number > 0, or as `coefficientStatistics` does.
    public func rescaled(bottom fraction: Double, by factor: Double, cap: Double? = nil, on corpus: Corpus,
                         progress: ProgressHandler? = nil) throws -> Model {
        try checkRescale(fraction, factor, cap)
        let stats = try coefficientStatistics(of: self, on: corpus, progress: progress)
        return try rescaled(bottom: fraction, by: factor, cap: cap, stats: stats, source: corpus.source)
    }

    /// The same rescaling from statistics computed elsewhere (e.g. merged shard sums, or a
    /// cached pass); `source` names them in the intervention note and errors.
    ///
    /// - Throws: `CoreError` when `fraction` is outside [0, 1], `factor` is negative or not finite,
    ///   `cap` is not a finite number > 0, `stats` is not [L][d_ff] of this model, or a
    ///   multiplier overflows.
    public func rescaled(bottom fraction: Double, by factor: Double, cap: Double? = nil, stats: CoefficientStats,
                         source: String) throws -> Model {
        try checkRescale(fraction, factor, cap)
        guard stats.means.count == config.numLayers, stats.means.allSatisfy({ $0.count == config.intermediateSize }) else {
            throw CoreError("the statistics are [\(stats.means.count), \(stats.means.first?.count ?? 0)] but the model has \(config.numLayers) layers of \(config.intermediateSize) memories")
        }
        let mults = try stats.means.map { try resuscitationMultipliers(means: $0, fraction: fraction, factor: factor, cap: cap) }
        var summary: [RescaleSummary.Layer] = []
        for (l, m) in mults.enumerated() {
            if let i = m.firstIndex(where: { !$0.isFinite }) {
                throw CoreError("layer \(l), memory \(i): the multiplier (layer mean / own mean) · \(factor) overflows (own mean |coefficient| \(stats.means[l][i]))", file: source)
            }
            // The memories the rule touched: at or below the quantile and ever active.
            let thr = try quantile(stats.means[l], fraction)
            var count = 0
            var largest = 0.0
            for (i, x) in stats.means[l].enumerated() where x <= thr && x > 0 {
                count += 1
                largest = Swift.max(largest, Double(m[i]))
            }
            summary.append(RescaleSummary.Layer(count: count, largest: largest))
        }
        let note = "rescale bottom \(formatPercent(fraction)) by \(factor)" + (cap.map { " cap \(numberText($0))" } ?? "") + " on \(source)"
        return try scalingMemories(mults, note: note).summarizingRescale(RescaleSummary(layers: summary, cap: cap))
    }

    private func checkRescale(_ fraction: Double, _ factor: Double, _ cap: Double? = nil) throws {
        guard fraction >= 0, fraction <= 1, fraction.isFinite else {
            throw CoreError("the bottom fraction must be between 0% and 100%")
        }
        guard factor.isFinite, factor >= 0 else { throw CoreError("the factor must be a finite number ≥ 0") }
        if let cap { guard cap.isFinite, cap > 0 else { throw CoreError("the cap must be a finite number > 0") } }
    }

    /// A copy whose coefficients are multiplied per memory (`multipliers[layer][memory]`, nil for
    /// a layer left alone): folded into the up projection for gated MLPs kept in f32, carried as
    /// `memoryMultipliers` otherwise (see `MemoryMultipliers`): GELU MLPs, and models kept
    /// compact (bf16 or quantised blocks), which so stay compact instead of being expanded to f32
    /// whole; `save` then folds the multipliers into the up rows exactly as the f32 path does.
    /// - Throws: `CoreError` when `multipliers` is not [numLayers][intermediateSize] finite numbers.
    public func scalingMemories(_ multipliers: [[Float]?], note: String) throws -> Model {
        let m = try MemoryMultipliers(multipliers, config: config)
        if config.gatedMLP && bf16 == nil && quantized == nil {
            return try with(params: try m.folded(into: f32Parameters(), config: config), addingIntervention: note)
        }
        return try with(memoryMultipliers: memoryMultipliers.composed(with: m), addingIntervention: note)
    }
}

/// "50%" for 0.5; up to 4 significant digits.
func formatPercent(_ f: Double) -> String {
    let v = f * 100
    if v == v.rounded() { return "\(Int(v))%" }
    return String(format: "%.4g%%", v)
}
