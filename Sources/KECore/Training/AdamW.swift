import Foundation

// MARK: AdamW and learning-rate schedules
//
// One loop over the flat parameter buffer (gradients and both moments share its layout), with a
// per-element weight-decay mask: decay applies to tensors with two or more dimensions (all
// projection matrices and the embeddings), not to biases or norm weights — PyTorch's usual
// "decay on dim ≥ 2" grouping. The update is torch.optim.AdamW's, in float32:
//
//   p ← p · (1 − lr·wd)
//   m ← m + (1 − β1)(g − m)          v ← β2·v + (1 − β2)·g²
//   p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
//
// preceded by torch.nn.utils.clip_grad_norm_: g ← g · min(1, max_norm / (‖g‖₂ + 1e-6)).

/// AdamW hyper-parameters.
public struct AdamWOptions: Sendable, Equatable {
    public var beta1: Double = 0.9
    public var beta2: Double = 0.95
    public var eps: Double = 1e-8
    /// Decoupled weight decay, applied to tensors with ≥ 2 dimensions only.
    public var weightDecay: Double = 0.1
    /// Global gradient-norm clipping threshold (nil: no clipping).
    public var clip: Double? = 1.0
    public init(beta1: Double = 0.9, beta2: Double = 0.95, eps: Double = 1e-8,
                weightDecay: Double = 0.1, clip: Double? = 1.0) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecay = weightDecay; self.clip = clip
    }
}

/// AdamW optimiser state for one parameter layout.
struct AdamW {
    var options: AdamWOptions
    /// First and second moments, laid out as the parameters.
    var m: [Float]
    var v: [Float]
    /// 1 where weight decay applies (tensors with ≥ 2 dims), 0 elsewhere.
    let decayMask: [Float]
    /// Steps taken so far.
    private(set) var t = 0

    init(layout: ParameterStore, options: AdamWOptions) {
        self.options = options
        m = [Float](repeating: 0, count: layout.count)
        v = m
        var mask = m
        for s in layout.slots where s.shape.count >= 2 {
            for i in s.offset..<(s.offset + s.count) { mask[i] = 1 }
        }
        decayMask = mask
    }

    /// Clips `grads` in place to the global norm and applies one update at learning rate `lr`.
    /// Returns the gradient norm before clipping.
    @discardableResult
    mutating func step(params: inout [Float], grads: inout [Float], lr: Double) -> Double {
        let n = params.count
        precondition(grads.count == n && m.count == n, "internal: AdamW layout mismatch")
        var ss = 0.0
        grads.withUnsafeBufferPointer { g in for i in 0..<n { ss += Double(g[i]) * Double(g[i]) } }
        let norm = ss.squareRoot()
        if let maxNorm = options.clip {
            let coef = Float(min(1, maxNorm / (norm + 1e-6)))
            grads.withUnsafeMutableBufferPointer { g in for i in 0..<n { g[i] *= coef } }
        }
        t += 1
        let b1 = Float(options.beta1), b2 = Float(options.beta2)
        let bc1 = 1 - pow(options.beta1, Double(t))
        let bc2Sqrt = Float((1 - pow(options.beta2, Double(t))).squareRoot())
        let stepSize = Float(lr / bc1)
        let decay = Float(lr * options.weightDecay)
        let eps = Float(options.eps)
        params.withUnsafeMutableBufferPointer { p in
            grads.withUnsafeBufferPointer { g in
                m.withUnsafeMutableBufferPointer { m in
                    v.withUnsafeMutableBufferPointer { v in
                        decayMask.withUnsafeBufferPointer { mask in
                            for i in 0..<n {
                                let gi = g[i]
                                p[i] *= 1 - decay * mask[i]
                                m[i] += (1 - b1) * (gi - m[i])
                                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                                let denom = v[i].squareRoot() / bc2Sqrt + eps
                                p[i] -= stepSize * (m[i] / denom)
                            }
                        }
                    }
                }
            }
        }
        return norm
    }
}

// MARK: Learning-rate schedules

/// How the learning rate moves after the linear warm-up.
public enum LRSchedule: Sendable, Equatable {
    /// Cosine decay from the peak to `finalFraction` × peak at the last step.
    case cosine
    /// The peak rate throughout (after warm-up).
    case constant
    /// Warmup-stable-decay: the peak until the last `decayFraction` of the steps, then a linear
    /// decay to `finalFraction` × peak.
    case warmupStableDecay(decayFraction: Double)
}

/// Learning rate at 0-based `step` of `total`: linear warm-up over `warmup` steps
/// (lr·(step+1)/warmup), then the schedule down to `finalFraction` × `peak` at step total − 1.
public func learningRate(step: Int, total: Int, peak: Double, warmup: Int, schedule: LRSchedule,
                         finalFraction: Double = 0.1) -> Double {
    if step < warmup { return peak * Double(step + 1) / Double(warmup) }
    let minLR = peak * finalFraction
    let span = max(1, total - 1 - warmup)
    let progress = min(1, Double(step - warmup) / Double(span))
    switch schedule {
    case .constant:
        return peak
    case .cosine:
        return minLR + 0.5 * (peak - minLR) * (1 + cos(Double.pi * progress))
    case .warmupStableDecay(let fraction):
        let decaySteps = max(1, Int((Double(total - warmup) * min(max(fraction, 0), 1)).rounded()))
        let decayStart = total - decaySteps
        if step < decayStart { return peak }
        let p = min(1, Double(step - decayStart + 1) / Double(decaySteps))
        return peak - (peak - minLR) * p
    }
}
