import Foundation

// MARK: Learning-rate schedules
//
// The one definition of the learning rate over a run, used by `train`, `inject` and `pretrain`:
// a linear warm-up, then constant, cosine or warmup-stable-decay (WSD) down to a floor.
//
// Two callers pin two conventions of where the decay ends, so the end is a parameter rather
// than a second formula:
// - `train` and `inject` (`.lastStep`): the floor is reached at the last step, total − 1, and
//   WSD's decay fraction is a fraction of the steps after warm-up (rounded).
// - `pretrain` (`.afterLastStep`): the decay would reach the floor one step after the last, at
//   step `total`, and WSD's fraction is a fraction of all steps (start truncated). The tiny
//   run's cache keys, checkpoints and tests were made with this convention, so it is kept.
//
// The paper's protocol uses OLMo's own `CosWithWarmup` (`olmoCosineWithWarmup`, below): a warm-up
// from 10 % of the peak, 1-based steps, and OLMo's order of operations. It stays a formula of its
// own because folding it into `learningRate` would change the last bit of one side's rates: the
// tiny run's (whose bits are pinned) or the paper's (which the reference test matches exactly).

/// How the learning rate moves after the linear warm-up.
public enum LRSchedule: Sendable, Equatable {
    /// Cosine decay from the peak to the floor (`finalFraction` × peak).
    case cosine
    /// The peak rate throughout (after warm-up).
    case constant
    /// Warmup-stable-decay: the peak until the last `decayFraction` of the steps, then a linear
    /// decay to the floor.
    case warmupStableDecay(decayFraction: Double)

    /// A short name for intervention notes: "cosine", "constant", "wsd 0.2".
    public var name: String {
        switch self {
        case .cosine: return "cosine"
        case .constant: return "constant"
        case .warmupStableDecay(let f): return "wsd \(f)"
        }
    }
}

/// Where a decaying schedule reaches its floor (see the notes at the top of this file).
public enum LRScheduleEnd: Sendable, Equatable {
    /// At the last step, total − 1 (`train`, `inject`).
    case lastStep
    /// At step `total`, one after the last, so the last step stays above the floor (`pretrain`).
    case afterLastStep
}

/// The learning rate at 0-based `step` of `total` steps.
///
/// Warm-up: peak · (step + 1) / warmup for step < warmup. After it, `schedule` moves from the
/// peak to the floor peak · `finalFraction`, which it reaches at the step `end` names:
/// - constant: peak;
/// - cosine: floor + ½ (peak − floor)(1 + cos(π · progress)), progress = (step − warmup) /
///   (end step − warmup), at most 1;
/// - WSD: peak until the decay starts, then linear to the floor at the end step.
///
/// - Parameters:
///   - peak: the peak learning rate (the rate of a constant schedule).
///   - warmup: linear warm-up steps (≥ 0).
///   - finalFraction: the floor as a fraction of the peak, in [0, 1].
///   - end: where the floor is reached (`train` and `inject`: `.lastStep`).
public func learningRate(step: Int, total: Int, peak: Double, warmup: Int, schedule: LRSchedule,
                         finalFraction: Double = 0.1, end: LRScheduleEnd = .lastStep) -> Double {
    if step < warmup { return peak * Double(step + 1) / Double(warmup) }
    let floor = peak * finalFraction
    let endStep = end == .lastStep ? total - 1 : total
    switch schedule {
    case .constant:
        return peak
    case .cosine:
        let progress = min(1, Double(step - warmup) / Double(max(1, endStep - warmup)))
        return floor + 0.5 * (peak - floor) * (1 + cos(Double.pi * progress))
    case .warmupStableDecay(let fraction):
        let f = min(max(fraction, 0), 1)
        // The last step at the peak.
        let start: Int
        switch end {
        case .lastStep: start = total - max(1, Int((Double(total - warmup) * f).rounded())) - 1
        case .afterLastStep: start = Int(Double(total) * (1 - f))
        }
        if step <= start { return peak }
        let p = min(1, Double(step - start) / Double(max(1, endStep - start)))
        return peak - (peak - floor) * p
    }
}

/// OLMo's `CosWithWarmup` (olmo/optim.py, `alpha_f` = `finalFraction`), the schedule of the
/// paper's continual pretraining, at 1-based step `g` of `total` (OLMo calls its scheduler with
/// the global step after incrementing it, so the first update is step 1):
///
/// - g < warmup: peak · (0.1 + 0.9 · g / warmup) (`_linear_warmup`, from 10 % of the peak);
/// - warmup ≤ g < total: floor + (peak − floor) · (1 + cos(π (g − warmup) / (total − warmup))) / 2;
/// - g ≥ total: floor = peak · finalFraction.
///
/// Unlike `learningRate`, the warm-up starts at 10 % of the peak rather than at peak / warmup,
/// and the floor is reached only after the last step.
public func olmoCosineWithWarmup(step g: Int, total: Int, peak: Double, warmup: Int, finalFraction: Double) -> Double {
    let floor = peak * finalFraction
    if g < warmup { return peak * (0.1 + 0.9 * Double(g) / Double(warmup)) }
    if g >= total { return floor }
    return floor + (peak - floor) * (1 + cos(Double.pi * Double(g - warmup) / Double(total - warmup))) / 2
}
