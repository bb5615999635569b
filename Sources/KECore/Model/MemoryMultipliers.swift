// MARK: Memory multipliers: the one intervention on FFN memories
//
// `scale`, `ablate` and the paper's resuscitation (`rescale`) all multiply the coefficient of
// chosen memories. A gated MLP's coefficient act(gate·x)·(up·x) is linear in the up projection,
// so the multiplier is folded into row i of `up` (and its bias) exactly. A GELU MLP's is not, so
// the multipliers ride along with the model, applied after the activation in every pass, and
// `save` folds them into the value vectors (column i of `down`), exact for the output.

/// Per-layer, per-memory coefficient multipliers, [numLayers][intermediateSize]; nil for a
/// layer left alone. Always valid for the configuration it was made for.
public struct MemoryMultipliers: Sendable, Equatable {
    /// One entry per layer: `intermediateSize` finite multipliers, or nil for none.
    public private(set) var layers: [[Float]?]

    /// No multipliers on any of `config`'s layers.
    public init(none config: ModelConfig) {
        layers = Array(repeating: nil, count: config.numLayers)
    }

    /// `layers` checked against `config` (nil: no multipliers anywhere).
    /// - Throws: `CoreError` naming the layer and both counts when there is not one entry per
    ///   layer or an entry is not `intermediateSize` long, or naming the memory of a multiplier
    ///   that is not a finite number.
    public init(_ layers: [[Float]?]?, config: ModelConfig) throws {
        guard let layers else { self.init(none: config); return }
        guard layers.count == config.numLayers else {
            throw CoreError("memory multipliers are given for \(layers.count) layers, but the model has \(config.numLayers)")
        }
        for (l, m) in layers.enumerated() {
            guard let m else { continue }
            guard m.count == config.intermediateSize else {
                throw CoreError("layer \(l): \(m.count) memory multipliers given, but the layer has \(config.intermediateSize) memories")
            }
            if let i = m.firstIndex(where: { !$0.isFinite }) {
                throw CoreError("layer \(l), memory \(i): the multiplier \(m[i]) is not a finite number")
            }
        }
        self.init(validated: layers)
    }

    private init(validated layers: [[Float]?]) { self.layers = layers }

    /// True when no layer has multipliers.
    public var isEmpty: Bool { layers.allSatisfy { $0 == nil } }

    /// The multipliers of layer `l` (nil: none, or no such layer).
    public subscript(layer l: Int) -> [Float]? { l >= 0 && l < layers.count ? layers[l] : nil }

    /// These multipliers followed by `other`'s (their product), for the same configuration.
    func composed(with other: MemoryMultipliers) -> MemoryMultipliers {
        var out = self
        for (l, m) in other.layers.enumerated() where l < out.layers.count {
            guard let m else { continue }
            if let old = out.layers[l] { out.layers[l] = zip(old, m).map { $0 * $1 } } else { out.layers[l] = m }
        }
        return out
    }

    /// x[r, i] *= m[i] for `rows` rows of layer `l`'s coefficients [rows, intermediateSize]
    /// (or their gradients). Nothing happens for a layer without multipliers.
    func apply(layer l: Int, to x: UnsafeMutablePointer<Float>, rows: Int) {
        guard let m = self[layer: l] else { return }
        let F = m.count
        m.withUnsafeBufferPointer { mp in
            guard let mp = mp.baseAddress else { return }
            for r in 0..<rows {
                let xr = x + r * F
                for j in 0..<F { xr[j] *= mp[j] }
            }
        }
    }

    /// `params` with the multipliers folded into the weights: for gated MLPs row i of `up.w`
    /// (and `up.b[i]`) times multiplier i, exact for the coefficient and the output; otherwise
    /// column i of `down.w` times multiplier i, exact for the output (the coefficient measured
    /// on the result is then the unscaled one).
    /// - Throws: `CoreError` when `params` lacks the tensors of `config` (a programming error).
    func folded(into params: ParameterStore, config c: ModelConfig) throws -> ParameterStore {
        var p = params
        let F = c.intermediateSize, D = c.hiddenSize
        for (l, m) in layers.enumerated() {
            guard let m else { continue }
            if c.gatedMLP {
                guard let up = p.slot("L\(l).up.w"), up.count == F * D else { throw CoreError("internal: missing tensor L\(l).up.w") }
                let bias = p.slot("L\(l).up.b")
                p.data.withUnsafeMutableBufferPointer { b in
                    for i in 0..<F where m[i] != 1 {
                        let row = up.offset + i * D
                        for d in 0..<D { b[row + d] *= m[i] }
                        if let bias { b[bias.offset + i] *= m[i] }
                    }
                }
            } else {
                guard let down = p.slot("L\(l).down.w"), down.count == F * D else { throw CoreError("internal: missing tensor L\(l).down.w") }
                p.data.withUnsafeMutableBufferPointer { b in
                    for d in 0..<D {
                        let row = down.offset + d * F
                        for i in 0..<F { b[row + i] *= m[i] }
                    }
                }
            }
        }
        return p
    }
}
