import Foundation
import Dispatch

// MARK: AdamW
//
// One loop over the flat parameter buffer (gradients and both moments share its layout), with a
// per-element weight-decay mask. Two groupings (`WeightDecayGroups`): by default decay applies to
// tensors with two or more dimensions (all projection matrices and the embeddings), not to biases
// or norm weights — PyTorch's usual "decay on dim ≥ 2" grouping; OLMo's trainer
// (`get_param_groups` in olmo/optim.py) decays only the weights of linear layers, not the
// embeddings. The update is torch.optim.AdamW's, in float32:
//
//   p ← p · (1 − lr·wd)
//   m ← m + (1 − β1)(g − m)          v ← β2·v + (1 − β2)·g²
//   p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
//
// preceded by torch.nn.utils.clip_grad_norm_: g ← g · min(1, max_norm / (‖g‖₂ + 1e-6)).

/// Which parameters weight decay applies to.
public enum WeightDecayGroups: Sendable, Equatable {
    /// Every tensor with ≥ 2 dimensions: projection matrices, embeddings, an untied head.
    case matrices
    /// Only the weights of linear layers (q, k, v, o, gate, up, down and an untied output head),
    /// as OLMo's `get_param_groups`: no decay on embeddings (a tied head is the embedding),
    /// positional embeddings, norms or biases.
    case linearWeights

    /// Whether the canonical tensor `name` of `shape` decays.
    func decays(_ name: String, shape: [Int]) -> Bool {
        switch self {
        case .matrices: return shape.count >= 2
        case .linearWeights: return isLinearWeight(name)
        }
    }
}

/// True for the canonical name of a linear layer's weight: a layer's q, k, v, o, gate, up or down
/// projection, or the untied output head `lm_head`.
func isLinearWeight(_ name: String) -> Bool {
    if name == "lm_head" { return true }
    guard name.hasPrefix("L") else { return false }
    return [".q.w", ".k.w", ".v.w", ".o.w", ".gate.w", ".up.w", ".down.w"].contains { name.hasSuffix($0) }
}

/// AdamW hyper-parameters.
public struct AdamWOptions: Sendable, Equatable {
    public var beta1: Double = 0.9
    public var beta2: Double = 0.95
    public var eps: Double = 1e-8
    /// Decoupled weight decay, applied to the tensors `decayGroups` names.
    public var weightDecay: Double = 0.1
    /// Global gradient-norm clipping threshold (nil: no clipping).
    public var clip: Double? = 1.0
    /// Which tensors decay (default: every tensor with ≥ 2 dimensions).
    public var decayGroups: WeightDecayGroups = .matrices
    public init(beta1: Double = 0.9, beta2: Double = 0.95, eps: Double = 1e-8,
                weightDecay: Double = 0.1, clip: Double? = 1.0, decayGroups: WeightDecayGroups = .matrices) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecay = weightDecay; self.clip = clip; self.decayGroups = decayGroups
    }
}

/// A raw pointer handed to `concurrentPerform` workers that touch disjoint ranges of it.
struct SharedPointer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
}

/// A contiguous run of the flat buffer with one weight-decay setting.
struct AdamWSegment {
    var start: Int
    var end: Int
    /// True for tensors that decay (`WeightDecayGroups`).
    var decays: Bool
}

/// AdamW optimiser state for one parameter layout.
struct AdamW {
    var options: AdamWOptions
    /// First and second moments, laid out as the parameters.
    var m: [Float]
    var v: [Float]
    /// The layout cut into runs of at most `segmentSize` elements, each with its decay flag;
    /// segments are updated in parallel (each thread owns whole segments, so results do not
    /// depend on the thread count).
    let segments: [AdamWSegment]
    /// Steps taken so far.
    private(set) var t = 0

    static let segmentSize = 1 << 18

    init(layout: ParameterStore, options: AdamWOptions) {
        self.options = options
        m = zeroFloats(layout.count)
        v = zeroFloats(layout.count)
        var segs: [AdamWSegment] = []
        for s in layout.slots {
            var a = s.offset
            let end = s.offset + s.count
            while a < end {
                let b = min(end, a + AdamW.segmentSize)
                segs.append(AdamWSegment(start: a, end: b, decays: options.decayGroups.decays(s.name, shape: s.shape)))
                a = b
            }
        }
        segments = segs
    }

    /// Clips `grads` to the global norm (folded into the update) and applies one update at
    /// learning rate `lr`. Returns the gradient norm before clipping.
    ///
    /// `adding`, when not empty, is a second gradient buffer (another shard's) added into
    /// `grads` during the norm pass, so the sum costs no extra sweep over memory. `grads` is left
    /// holding the unclipped (summed) gradient.
    /// - Throws: `CoreError` when `params`, `grads`, `adding` (if not empty) and the optimiser's
    ///   moments do not all have the same length, or `lr` is not a finite number ≥ 0.
    @discardableResult
    mutating func step(params: inout [Float], grads: inout [Float], lr: Double, adding extra: [Float] = []) throws -> Double {
        let n = params.count
        guard grads.count == n, m.count == n, v.count == n else {
            throw CoreError("AdamW: \(n) parameters, \(grads.count) gradients and \(m.count) moments; all must agree")
        }
        guard extra.isEmpty || extra.count == n else {
            throw CoreError("AdamW: the second gradient buffer has \(extra.count) entries for \(n) parameters")
        }
        guard lr.isFinite, lr >= 0 else { throw CoreError("AdamW: the learning rate must be a finite number ≥ 0, not \(lr)") }
        if n == 0 { return 0 }
        let norm = squaredNormPerSegment(&grads, adding: extra).reduce(0, +).squareRoot()
        let coef: Float = options.clip.map { Float(min(1, $0 / (norm + 1e-6))) } ?? 1
        t += 1
        update(params: &params, grads: grads, gradientScale: coef, lr: lr)
        return norm
    }

    /// ‖g‖² of each segment (Double over blocks of 1024, 8 Float lanes within a block), after adding
    /// `extra` (when not empty) into `grads`. Each segment is one worker's, and the caller sums
    /// the parts in segment order: deterministic.
    private func squaredNormPerSegment(_ grads: inout [Float], adding extra: [Float]) -> [Double] {
        let segs = segments
        var partial = [Double](repeating: 0, count: segs.count)
        grads.withUnsafeMutableBufferPointer { gb in
            extra.withUnsafeBufferPointer { eb in
                partial.withUnsafeMutableBufferPointer { pb in
                    let gs = SharedPointer(p: gb.baseAddress!), ps = SharedPointer(p: pb.baseAddress!)
                    let es = extra.isEmpty ? nil : eb.baseAddress.map { SharedPointer(p: UnsafeMutablePointer(mutating: $0)) }
                    DispatchQueue.concurrentPerform(iterations: segs.count) { si in
                        let g = gs.p
                        var acc = 0.0
                        var i = segs[si].start
                        let end = segs[si].end
                        while i < end {
                            let e = min(end, i + 1024)
                            var lanes = F8(repeating: 0)
                            var tail: Float = 0
                            var j = i
                            if let x = es?.p {
                                while j + 8 <= e {
                                    let v = load8(g + j) + load8(x + j)
                                    store8(v, g + j)
                                    lanes += v * v
                                    j += 8
                                }
                                while j < e { g[j] += x[j]; tail += g[j] * g[j]; j += 1 }
                            } else {
                                while j + 8 <= e { let v = load8(g + j); lanes += v * v; j += 8 }
                                while j < e { tail += g[j] * g[j]; j += 1 }
                            }
                            acc += Double(lanes.sum() + tail)
                            i = e
                        }
                        ps.p[si] = acc
                    }
                }
            }
        }
        return partial
    }

    /// The AdamW update of step `t` on every segment in parallel, with the gradient scaled by
    /// `gradientScale` (the clipping coefficient) as it is read.
    private mutating func update(params: inout [Float], grads: [Float], gradientScale coef: Float, lr: Double) {
        let segs = segments
        let b1 = Float(options.beta1), b2 = Float(options.beta2)
        let bc1 = 1 - pow(options.beta1, Double(t))
        let bc2Sqrt = Float((1 - pow(options.beta2, Double(t))).squareRoot())
        let stepSize = Float(lr / bc1)
        let decay = Float(lr * options.weightDecay)
        let eps = Float(options.eps)
        params.withUnsafeMutableBufferPointer { pb in
            grads.withUnsafeBufferPointer { gb in
                m.withUnsafeMutableBufferPointer { mb in
                    v.withUnsafeMutableBufferPointer { vb in
                        let ps = SharedPointer(p: pb.baseAddress!), gs = SharedPointer(p: UnsafeMutablePointer(mutating: gb.baseAddress!))
                        let ms = SharedPointer(p: mb.baseAddress!), vs = SharedPointer(p: vb.baseAddress!)
                        DispatchQueue.concurrentPerform(iterations: segs.count) { si in
                            let p = ps.p, g = gs.p, m = ms.p, v = vs.p
                            let keep: Float = segs[si].decays ? 1 - decay : 1
                            var i = segs[si].start
                            let end = segs[si].end
                            // Eight lanes at a time; the same operations in the same order as the
                            // scalar tail, so every element gets the same result either way.
                            while i + 8 <= end {
                                let gi = load8(g + i) * coef
                                let mi = load8(m + i) + (1 - b1) * (gi - load8(m + i))
                                let vi = b2 * load8(v + i) + (1 - b2) * gi * gi
                                let denom = vi.squareRoot() / bc2Sqrt + eps
                                store8(mi, m + i)
                                store8(vi, v + i)
                                store8(load8(p + i) * keep - stepSize * (mi / denom), p + i)
                                i += 8
                            }
                            while i < end {
                                let gi = g[i] * coef
                                m[i] += (1 - b1) * (gi - m[i])
                                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                                let denom = v[i].squareRoot() / bc2Sqrt + eps
                                p[i] = p[i] * keep - stepSize * (m[i] / denom)
                                i += 1
                            }
                        }
                    }
                }
            }
        }
    }
}
