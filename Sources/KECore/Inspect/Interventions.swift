// MARK: Interventions on memories
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
