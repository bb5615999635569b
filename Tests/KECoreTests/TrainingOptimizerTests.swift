import XCTest
@testable import KECore

/// AdamW against a scalar reference written from torch.optim.AdamW's formulas, and the schedules.
final class TrainingOptimizerTests: XCTestCase {
    /// A two-tensor layout: a [2, 3] matrix (decayed) and a [3] bias (not decayed).
    func layout() -> ParameterStore {
        ParameterStore(slots: [TensorSlot(name: "w", shape: [2, 3], offset: 0), TensorSlot(name: "b", shape: [3], offset: 6)],
                       data: [0.5, -0.25, 0.1, 0.9, -1.2, 0.3, 0.05, -0.4, 0.2])
    }

    func testAdamWMatchesReference() throws {
        let store = layout()
        var params = store.data
        var opt = AdamW(layout: store, options: AdamWOptions(weightDecay: 0.1, clip: 1.0))
        // Reference in Double.
        var rp = params.map(Double.init), rm = [Double](repeating: 0, count: 9), rv = rm
        let lr = 1e-2
        var rng = TestRNG(3)
        for t in 1...4 {
            var g = (0..<9).map { _ in rng.normal() * (t == 2 ? 3 : 0.2) }   // step 2 gets clipped
            let norm = sqrt(g.reduce(0.0) { $0 + Double($1 * $1) })
            var rg = g.map(Double.init)
            let coef = min(1, 1.0 / (norm + 1e-6))
            rg = rg.map { $0 * coef }
            for i in 0..<9 {
                if i < 6 { rp[i] *= 1 - lr * 0.1 }
                rm[i] = 0.9 * rm[i] + 0.1 * rg[i]
                rv[i] = 0.95 * rv[i] + 0.05 * rg[i] * rg[i]
                let mhat = rm[i] / (1 - pow(0.9, Double(t)))
                let denom = (rv[i]).squareRoot() / (1 - pow(0.95, Double(t))).squareRoot() + 1e-8
                rp[i] -= lr * mhat / denom
            }
            let n = try opt.step(params: &params, grads: &g, lr: lr)
            // ‖g‖ of 9 float32 squares summed in float32 lanes vs in Double: measured ≤ 7e-8 on norms ≤ 8.4; 1e-5
            XCTAssertEqual(n, norm, accuracy: 1e-5)
        }
        // float32 AdamW (4 steps, ~10 roundings each) vs the Double reference: measured ≤ 1.5e-7 on values ≤ 1.2; 2e-6
        for i in 0..<9 { XCTAssertEqual(Double(params[i]), rp[i], accuracy: 2e-6, "element \(i)") }
        // The bias had no decay: with zero gradients only matrices shrink.
        var p2 = store.data, zero = [Float](repeating: 0, count: 9)
        var opt2 = AdamW(layout: store, options: AdamWOptions(weightDecay: 0.5, clip: nil))
        try opt2.step(params: &p2, grads: &zero, lr: 0.1)
        // One float32 multiply by (1 − lr·wd) against the same in another order: 1 ulp of values ≤ 1.2.
        for i in 0..<6 { XCTAssertEqual(p2[i], store.data[i] * 0.95, accuracy: 1e-7) }
        for i in 6..<9 { XCTAssertEqual(p2[i], store.data[i]) }
    }

    func testDecayMaskCoversMatricesAndEmbeddingsOnly() {
        let net = testNetwork(.neoxParallel)
        let opt = AdamW(layout: net.params, options: AdamWOptions())
        var covered = 0
        for seg in opt.segments {
            XCTAssertEqual(seg.start, covered)
            covered = seg.end
            let slot = net.params.slots.first { seg.start >= $0.offset && seg.end <= $0.offset + $0.count }
            XCTAssertEqual(seg.decays, try XCTUnwrap(slot).shape.count >= 2)
        }
        XCTAssertEqual(covered, net.params.count)
        XCTAssertEqual(net.params.slot("embed")?.shape.count, 2)
    }

    func testSchedules() {
        // Warm-up then cosine to 10 %.
        XCTAssertEqual(learningRate(step: 0, total: 100, peak: 1, warmup: 10, schedule: .cosine), 0.1, accuracy: 1e-12)
        // Closed-form schedule in Double: exact to ~1e-16
        XCTAssertEqual(learningRate(step: 9, total: 100, peak: 1, warmup: 10, schedule: .cosine), 1.0, accuracy: 1e-12)
        // Closed-form schedule in Double: exact to ~1e-16
        XCTAssertEqual(learningRate(step: 10, total: 100, peak: 1, warmup: 10, schedule: .cosine), 1.0, accuracy: 1e-12)
        // cos(π) = −1 exactly in Double: the 10 % floor to an ulp
        XCTAssertEqual(learningRate(step: 99, total: 100, peak: 1, warmup: 10, schedule: .cosine), 0.1, accuracy: 1e-12)
        let mid = learningRate(step: 10 + 89 / 2, total: 100, peak: 1, warmup: 10, schedule: .cosine)
        // Step 54 is not the exact middle (progress 44/89): cos gives 0.558, within 0.02 of 0.55
        XCTAssertEqual(mid, 0.55, accuracy: 0.02)
        // Constant.
        XCTAssertEqual(learningRate(step: 50, total: 100, peak: 0.3, warmup: 0, schedule: .constant), 0.3)
        // WSD: stable until the last 20 %, then linear to the final fraction.
        let wsd = LRSchedule.warmupStableDecay(decayFraction: 0.2)
        XCTAssertEqual(learningRate(step: 79, total: 100, peak: 1, warmup: 0, schedule: wsd), 1)
        // Linear decay in Double: 1 − 0.9 · 1 is 0.1 to an ulp
        XCTAssertEqual(learningRate(step: 99, total: 100, peak: 1, warmup: 0, schedule: wsd, finalFraction: 0.1), 0.1, accuracy: 1e-12)
        // Linear decay in Double: 1 − 1 · 0.5 is 0.5 (exact or an ulp)
        XCTAssertEqual(learningRate(step: 89, total: 100, peak: 1, warmup: 0, schedule: wsd, finalFraction: 0), 0.5, accuracy: 1e-12)
        // Single-step runs are defined.
        XCTAssertEqual(learningRate(step: 0, total: 1, peak: 1, warmup: 0, schedule: .cosine), 1)
    }
}
