import XCTest
@testable import KECore

/// Knowledge injection on a toy model with a character-level encoder.
final class InjectTests: XCTestCase {
    func toyFacts(_ names: [(String, String)], source: String) -> FactSet {
        FactSet(items: names.map { land, city in
            FactItem(trainContext: "The capital of \(land) is \(city). \(land)'s capital is \(city).",
                     memorization: [Probe(input: "The capital of \(land) is", target: "\(city).")],
                     generalization: [Probe(input: "\(land)'s capital is", target: "\(city).")])
        }, source: source)
    }

    func toyNetwork() -> Transformer {
        var c = testConfig(.llamaGQA, vocab: 64)
        c.hiddenSize = 32; c.numHeads = 4; c.numKVHeads = 2; c.headDim = 8; c.rotaryDim = 8; c.intermediateSize = 64
        return Transformer(config: c, params: randomParams(c, seed: 11, scale: 0.1), multipliers: try! MemoryMultipliers([nil, nil], config: c))
    }

    func testInjectionRaisesAccuracyToNearOne() throws {
        let facts = toyFacts([("Zorbia", "Quil"), ("Mavena", "Tork"), ("Ilsby", "Werp")], source: "toy")
        var o = InjectOptions(steps: 200, lr: 1e-2, batch: 3, seq: 64, evalEvery: 50)
        o.training.warmup = 5
        let (net, f) = try injectNetwork(facts, into: toyNetwork(), encode: charEncode, options: o, progress: nil)
        XCTAssertLessThan(f.before.pooled.accuracy, 0.2)
        XCTAssertGreaterThan(f.after.memorization.accuracy, 0.95)
        // The paraphrase probe starts at position 0 while its sentence was only seen after the
        // first one, so a character model gets most but not all of it.
        // (Seen 0.5–0.9 depending on float rounding; the assertion only asks for a clear rise.)
        XCTAssertGreaterThan(f.after.generalization.accuracy, f.before.generalization.accuracy + 0.3)
        XCTAssertGreaterThan(f.after.pooled.accuracy, 0.65)
        XCTAssertGreaterThan(f.after.pooled.logprob, f.before.pooled.logprob + 2)
        XCTAssertEqual(f.curve.steps, [0, 50, 100, 150, 200])
        XCTAssertEqual(f.curve.acquisition.count, 5)
        XCTAssertEqual(f.curve.acquisition.last, f.after.pooled.accuracy)
        XCTAssertTrue(f.curve.retention.isEmpty)
        XCTAssertNil(f.replayBefore)
        XCTAssertEqual(f.losses.count, 200)
        XCTAssertNotEqual(net.params.data, toyNetwork().params.data)
    }

    func testRetentionIsExactlyOneAtZeroLearningRate() throws {
        let old = toyFacts([("Zorbia", "Quil"), ("Mavena", "Tork")], source: "old")
        let new = toyFacts([("Ilsby", "Werp")], source: "new")
        // First teach the old facts so their accuracy is above 0.
        let (taught, _) = try injectNetwork(old, into: toyNetwork(), encode: charEncode,
                                            options: InjectOptions(steps: 60, lr: 1e-2, batch: 2, seq: 64), progress: nil)
        let replay = Corpus(documents: randomDocs([12, 20, 7, 30], vocab: 64, seed: 5), source: "replay")
        var o = InjectOptions(steps: 6, lr: 0, batch: 4, seq: 16, replay: replay, retain: old, evalEvery: 2)
        o.factFraction = 0.25
        let (net, f) = try injectNetwork(new, into: taught, encode: charEncode, options: o, progress: nil)
        XCTAssertGreaterThan(f.retainBefore!.pooled.accuracy, 0)
        let retention = retentionRatio(f.retainBefore, f.retainAfter)
        XCTAssertEqual(retention, 1.0)
        XCTAssertEqual(f.curve.retention, [1.0, 1.0, 1.0, 1.0])
        XCTAssertEqual(f.replayBefore, f.replayAfter)
        XCTAssertNotNil(f.replayBefore)
        XCTAssertEqual(net.params.data, taught.params.data)
    }

    func testFactWindowsAndErrors() throws {
        let facts = toyFacts([("Zorbia", "Quil")], source: "toy")
        let w = factWindows(facts, seq: 16, encode: charEncode)
        XCTAssertEqual(w.flatMap { $0 }, charEncode(facts.items[0].trainContext).prefix(w.flatMap { $0 }.count).map { $0 })
        XCTAssertTrue(w.allSatisfy { $0.count <= 16 && $0.count >= 2 })
        XCTAssertThrowsError(try injectNetwork(facts, into: toyNetwork(), encode: charEncode,
                                               options: InjectOptions(steps: 1, factFraction: 0), progress: nil))
        XCTAssertThrowsError(try injectNetwork(facts, into: toyNetwork(), encode: charEncode,
                                               options: InjectOptions(steps: 1, evalEvery: -1), progress: nil))
    }

    func testReplayPerplexityIsMeasuredOnHeldOutDocumentsOnly() throws {
        let docs = randomDocs([12, 20, 7, 30, 9, 14, 1, 25, 18, 11, 16, 22], vocab: 64, seed: 9)
        let split = try replaySplit(docs, fraction: 0.1)
        XCTAssertEqual(split, try replaySplit(docs, fraction: 0.1), "the split is fixed")
        XCTAssertEqual(split.heldout.count, 1)  // round(11 · 0.1)
        XCTAssertEqual(split.train.count, 10)
        XCTAssertTrue(Set(split.train).isDisjoint(with: split.heldout))
        XCTAssertFalse((split.train + split.heldout).contains(6), "the 1-token document is unusable")
        XCTAssertEqual(try replaySplit(docs, fraction: 0.3).heldout.count, 3)
        XCTAssertThrowsError(try replaySplit([[1, 2], [3]], fraction: 0.1, source: "r.txt")) { e in
            XCTAssertTrue("\(e)".hasPrefix("r.txt: the replay corpus needs at least 2 documents"), "\(e)")
        }

        let facts = toyFacts([("Ilsby", "Werp")], source: "new")
        let replay = Corpus(documents: docs, source: "replay")
        var o = InjectOptions(steps: 4, lr: 3e-3, batch: 4, seq: 16, replay: replay, evalEvery: 2)
        o.replayHeldoutFraction = 0.25
        let net = toyNetwork()
        let (trained, f) = try injectNetwork(facts, into: net, encode: charEncode, options: o, progress: nil)
        let sp = try XCTUnwrap(f.replaySplit)
        XCTAssertEqual(sp.heldout.count, 3)
        let heldout = sp.heldout.map { Array(docs[$0].prefix(16)) }
        XCTAssertEqual(f.replayBefore, exp(try evaluationLoss(net, documents: heldout).loss))
        XCTAssertEqual(f.replayAfter, exp(try evaluationLoss(trained, documents: heldout).loss))
        // The training loss is logged with the curve.
        XCTAssertEqual(f.curve.steps, [0, 2, 4])
        XCTAssertEqual(f.curve.loss, [nil, f.losses[1], f.losses[3]])
    }
}
