import Foundation

// MARK: Interventions on memories
//
// Every intervention on a model's memories has its entry point here: scaling and ablating
// chosen memories, and resuscitation (rescaling the quietest memories of every layer, the
// paper's §5).
//
// Each returns a new model with a note in `interventions`; the original is unchanged. Both go
// through `scalingMemories`, so for gated MLPs in f32 they are folded exactly into the up
// projection, and for GELU MLPs and compact (bf16, quantised) models they are kept as
// `memoryMultipliers` (folded into the weights on save).
// Interventions compose by multiplication.

extension Model {
    /// A copy in which the coefficients of `memories` in `layer` are multiplied by `factor`.
    ///
    /// - Throws: `CoreError` when `factor` is not finite, `layer` is outside 0 ..< L, `memories` is
    ///   empty, or a memory is outside 0 ..< d_ff.
    public func scaled(layer: Int, memories: [Int], by factor: Double) throws -> Model {
        guard factor.isFinite else { throw CoreError("the factor must be a finite number") }
        let mult = try memoryMultipliers(layer: layer, memories: memories, value: Float(factor))
        return try scalingMemories(mult, note: "scale layer \(layer) memories \(listText(memories)) by \(numberText(factor))")
    }

    /// A copy in which the coefficients of `memories` in `layer` are 0 (LM-Debugger's "off").
    ///
    /// - Throws: `CoreError` when `layer` is outside 0 ..< L, `memories` is empty, or a memory is
    ///   outside 0 ..< d_ff.
    public func ablated(layer: Int, memories: [Int]) throws -> Model {
        let mult = try memoryMultipliers(layer: layer, memories: memories, value: 0)
        return try scalingMemories(mult, note: "ablate layer \(layer) memories \(listText(memories))")
    }

    /// One multiplier list per layer: `value` at `memories` of `layer`, 1 elsewhere.
    func memoryMultipliers(layer: Int, memories: [Int], value: Float) throws -> [[Float]?] {
        try checkLayer(self, layer)
        guard !memories.isEmpty else { throw CoreError("no memories given") }
        for i in memories { try checkMemory(self, i) }
        var m = [Float](repeating: 1, count: config.intermediateSize)
        for i in memories { m[i] = value }
        var all: [[Float]?] = Array(repeating: nil, count: config.numLayers)
        all[layer] = m
        return all
    }
}

/// "[1, 2, 3]".
func listText(_ xs: [Int]) -> String { "[" + xs.map(String.init).joined(separator: ", ") + "]" }

/// "2" for 2.0, "0.5" for 0.5.
func numberText(_ x: Double) -> String {
    if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
    return "\(x)"
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
