import XCTest
@testable import KECore

/// Finite-difference checks of the backward pass on small random models, one per architecture
/// variant: per tensor, the directional derivative along the analytic gradient and along a random
/// direction must match the central difference of the loss.
final class GradientCheckTests: XCTestCase {
    let lengths = [5, 9, 2, 7]

    func loss(_ net: Transformer, _ batch: PackedBatch) throws -> Double {
        try lossAndGradients(net, batch: batch, grads: nil)
    }

    func gradients(_ net: Transformer, _ batch: PackedBatch) throws -> (Double, [Float]) {
        var g = [Float](repeating: 0, count: net.params.count)
        let l = try g.withUnsafeMutableBufferPointer { try lossAndGradients(net, batch: batch, grads: $0.baseAddress!) }
        return (l, g)
    }

    func check(_ arch: TestArch, eps: Float = 1e-2, file: StaticString = #filePath, line: UInt = #line) throws {
        let net = testNetwork(arch)
        let batch = PackedBatch(documents: randomDocs(lengths, vocab: net.config.vocabSize, seed: 7))
        let (l0, g) = try gradients(net, batch)
        // Same float32 forward (fixed-order products), loss summed in Double in both paths.
        XCTAssertEqual(l0, try loss(net, batch), accuracy: 1e-9, "loss with and without gradients", file: file, line: line)
        var rng = TestRNG(42)
        var worst = 0.0
        for s in net.params.slots {
            let gs = Array(g[s.offset..<(s.offset + s.count)])
            let gnorm = sqrt(gs.reduce(0.0) { $0 + Double($1) * Double($1) })
            // Directions: the gradient itself, and a random unit vector.
            var rand = (0..<s.count).map { _ in rng.normal() }
            let rn = sqrt(rand.reduce(0.0) { $0 + Double($1) * Double($1) })
            rand = rand.map { $0 / Float(rn) }
            var dirs = [rand]
            if gnorm > 0 { dirs.append(gs.map { $0 / Float(gnorm) }) }
            for u in dirs {
                var plus = net, minus = net
                for i in 0..<s.count {
                    plus.params.data[s.offset + i] += eps * u[i]
                    minus.params.data[s.offset + i] -= eps * u[i]
                }
                let fd = (try loss(plus, batch) - loss(minus, batch)) / Double(2 * eps)
                var an = 0.0
                for i in 0..<s.count { an += Double(gs[i]) * Double(u[i]) }
                let err = abs(fd - an)
                worst = max(worst, err / (gnorm + 1e-3))
                XCTAssertLessThan(err, 2e-2 * gnorm + 3e-4,
                                  "\(arch) \(s.name): finite difference \(fd) vs analytic \(an) (‖g‖ \(gnorm))",
                                  file: file, line: line)
            }
        }
        print("gradient check \(arch): loss \(l0), worst error / ‖g‖ = \(worst)")
    }

    func testLlamaGQA() throws { try check(.llamaGQA) }
    func testOLMoClipTied() throws { try check(.olmoClip, eps: 2e-3) }
    func testNeoXParallelBiases() throws { try check(.neoxParallel) }
    func testGPT2LearnedPositionsTied() throws { try check(.gpt2Learned) }
    /// ReLU has kinks: a smaller step keeps the difference from crossing them.
    func testReluCoefficientScale() throws { try check(.reluScaled, eps: 1e-3) }
    func testGatedParallelUntiedLearned() throws { try check(.gpt2Untied) }

    /// The clip_qkv model really clamps some entries (so the zero-gradient rule is exercised).
    func testClipIsActive() throws {
        let net = testNetwork(.olmoClip)
        let batch = PackedBatch(documents: randomDocs(lengths, vocab: net.config.vocabSize, seed: 7))
        var clipped = 0
        try net.params.withWeights(config: net.config) { w in
            let D = net.config.hiddenSize, q = net.config.numHeads * net.config.headDim
            var h = [Float](repeating: 0, count: batch.count * D)
            var out = [Float](repeating: 0, count: batch.count * q)
            for r in 0..<batch.count { for j in 0..<D { h[r * D + j] = w.embed[Int(batch.tokens[r]) * D + j] } }
            h.withUnsafeMutableBufferPointer { hp in
                layerNormForward(hp.baseAddress!, hp.baseAddress!, rows: batch.count, dim: D, weight: nil, bias: nil, eps: 1e-5)
                out.withUnsafeMutableBufferPointer { op in
                    linear(hp.baseAddress!, rows: batch.count, inFeatures: D, weight: w.layers[0].q, outFeatures: q, bias: nil, into: op.baseAddress!)
                }
            }
            clipped = out.filter { abs($0) > 0.6 }.count
        }
        XCTAssertGreaterThan(clipped, 0)
        XCTAssertLessThan(clipped, batch.count * 16)
    }

    /// The training forward's loss equals the inference forward's mean NLL.
    func testTrainingLossMatchesInferenceForward() throws {
        for arch in TestArch.allCases {
            let net = testNetwork(arch)
            let docs = randomDocs(lengths, vocab: net.config.vocabSize, seed: 3)
            let train = try loss(net, PackedBatch(documents: docs))
            let eval = try evaluationLoss(net, documents: docs)
            // Exact: both forwards give the same float32 rows (fixed-order products, same kernels) and sum the same per-row Double NLLs in order
            XCTAssertEqual(train, eval.loss, "\(arch)")
            XCTAssertEqual(eval.predictions, lengths.reduce(0) { $0 + $1 - 1 })
        }
    }

    /// Packing: a document's loss contribution does not depend on its neighbours.
    func testPackedEqualsSeparate() throws {
        let net = testNetwork(.llamaGQA)
        let docs = randomDocs(lengths, vocab: net.config.vocabSize, seed: 5)
        let packed = try loss(net, PackedBatch(documents: docs))
        var total = 0.0
        for d in docs { total += try loss(net, PackedBatch(documents: [d])) * Double(d.count - 1) }
        // Same float32 rows alone or packed (fixed-order kernel); only the Double sum is regrouped: ~1e-15 on a loss ≈ ln 23
        XCTAssertEqual(packed, total / Double(lengths.reduce(0) { $0 + $1 - 1 }), accuracy: 1e-12)
    }

    func testErrorsAreThrown() {
        let net = testNetwork(.gpt2Learned)
        XCTAssertThrowsError(try loss(net, PackedBatch(documents: [[1, 2, 99]])))       // out of vocabulary
        XCTAssertThrowsError(try loss(net, PackedBatch(documents: [[1]])))               // nothing to predict
        XCTAssertThrowsError(try loss(net, PackedBatch(documents: [Array(repeating: 1, count: 17)])))  // > positions
    }
}
