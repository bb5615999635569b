import XCTest
@testable import KECore

/// The training loop: determinism, learning, sampling, errors.
final class TrainingLoopTests: XCTestCase {
    func docs(_ n: Int, vocab: Int, seed: UInt64) -> [[Int]] {
        var rng = TestRNG(seed)
        return (0..<n).map { _ in
            // A learnable pattern: each document counts up from a random start.
            let s = rng.int(vocab), len = 3 + rng.int(12)
            return (0..<len).map { (s + $0) % vocab }
        }
    }

    func testLossDecreasesAndRunIsDeterministic() throws {
        let net = testNetwork(.llamaGQA)
        let d = docs(40, vocab: 23, seed: 1)
        let o = TrainOptions(steps: 60, batch: 6, seq: 10, lr: 1e-2, warmup: 5, seed: 9)
        let a = try trainNetwork(net, documents: d, source: "test", options: o, progress: nil)
        let b = try trainNetwork(net, documents: d, source: "test", options: o, progress: nil)
        XCTAssertEqual(a.losses, b.losses)
        XCTAssertEqual(a.net.params.data, b.net.params.data)
        let first = a.losses.prefix(5).reduce(0, +) / 5, last = a.losses.suffix(5).reduce(0, +) / 5
        XCTAssertLessThan(last, first * 0.6, "loss \(first) → \(last)")
        // Warm-up step 1 of 5 in Double: 1e-2 · 1 / 5 to an ulp
        XCTAssertEqual(a.lrs.first!, 2e-3, accuracy: 1e-12)
        // Cosine end in Double: cos(π) = −1 exactly leaves the 10 % floor, 1e-3 to an ulp
        XCTAssertEqual(a.lrs.last!, 1e-3, accuracy: 1e-12)
        // Another seed samples other batches.
        var o2 = o; o2.seed = 10
        let c = try trainNetwork(net, documents: d, source: "test", options: o2, progress: nil)
        XCTAssertNotEqual(a.losses, c.losses)
        // The input is untouched.
        XCTAssertEqual(net.params.data, testNetwork(.llamaGQA).params.data)
    }

    func testSamplerCoversCorpusAndCrops() {
        let d = (0..<7).map { i in Array(repeating: i, count: i == 3 ? 1 : 5 + i) }
        var s = BatchSampler(documents: d, seq: 6, seed: 1)
        let firstPass = s.next(6)
        XCTAssertEqual(Set(firstPass.map { $0[0] }), Set([0, 1, 2, 4, 5, 6]))   // doc 3 has 1 token
        XCTAssertTrue(firstPass.allSatisfy { $0.count <= 6 && $0.count >= 2 })
        // Random crops of a long document are contiguous windows.
        var s2 = BatchSampler(documents: [Array(0..<50)], seq: 8, seed: 4)
        let windows = s2.next(10)
        XCTAssertTrue(windows.allSatisfy { w in w.count == 8 && zip(w, w.dropFirst()).allSatisfy { $1 == $0 + 1 } })
        XCTAssertGreaterThan(Set(windows.map { $0[0] }).count, 1)
    }

    func testProgressReportsLoss() throws {
        let net = testNetwork(.gpt2Learned)
        let notes = NoteBox()
        _ = try trainNetwork(net, documents: docs(10, vocab: 23, seed: 2), source: "t",
                             options: TrainOptions(steps: 3, batch: 2, seq: 8, lr: 1e-3),
                             progress: { done, total, note in notes.append("\(done)/\(total) \(note)") })
        XCTAssertEqual(notes.items.count, 3)
        XCTAssertTrue(notes.items[2].hasPrefix("3/3 loss "), notes.items[2])
    }

    func testNaNLossNamesTheStep() {
        var net = testNetwork(.llamaGQA)
        net.params.data[net.params.slot("L1.up.w")!.offset] = .nan
        XCTAssertThrowsError(try trainNetwork(net, documents: docs(5, vocab: 23, seed: 3), source: "t",
                                              options: TrainOptions(steps: 2, batch: 2, seq: 8), progress: nil)) { e in
            XCTAssertTrue("\(e)".contains("step 1"), "\(e)")
        }
    }

    func testInvalidOptionsAndEmptyCorpus() {
        let net = testNetwork(.gpt2Learned)
        let d = docs(5, vocab: 23, seed: 3)
        for bad in [TrainOptions(steps: 0), TrainOptions(batch: 0), TrainOptions(seq: 1), TrainOptions(seq: 17),
                    TrainOptions(lr: .nan), TrainOptions(finalLRFraction: 2), TrainOptions(clip: 0)] {
            XCTAssertThrowsError(try trainNetwork(net, documents: d, source: "t", options: bad, progress: nil))
        }
        XCTAssertThrowsError(try trainNetwork(net, documents: [[1], []], source: "t",
                                              options: TrainOptions(steps: 1, seq: 8), progress: nil))
    }

    func testCancellation() {
        let c = Cancellation.shared
        c.cancel()
        defer { c.reset() }
        XCTAssertThrowsError(try trainNetwork(testNetwork(.gpt2Learned), documents: docs(5, vocab: 23, seed: 3),
                                              source: "t", options: TrainOptions(steps: 2, seq: 8), progress: nil)) { e in
            XCTAssertEqual((e as? CoreError)?.message, "cancelled")
        }
    }
}

/// Collects progress notes from a @Sendable closure.
final class NoteBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _items: [String] = []
    var items: [String] { lock.lock(); defer { lock.unlock() }; return _items }
    func append(_ s: String) { lock.lock(); _items.append(s); lock.unlock() }
}
