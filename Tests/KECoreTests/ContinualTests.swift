import Foundation
import XCTest
@testable import KECore

/// The paper's continual-pretraining protocol (`continualPretraining`) against the PyTorch
/// reference written from the paper's code (`Scripts/fixtures/continual.py`, recorded in
/// `Tests/Fixtures/continual/expected.json`).
final class ContinualTests: XCTestCase {
    static let dir = Fixtures.root + "/continual"

    func expected() throws -> JSONValue {
        try JSONValue.parse(bytes: readFileBytes(Self.dir + "/expected.json"))
    }

    func numbers(_ v: JSONValue?) -> [Double?] {
        (v?.arrayValue ?? []).map { $0.isNull ? nil : $0.doubleValue }
    }

    /// |a − b| ≤ tol · max(|b|, 1e-3), elementwise, nil only against nil.
    func assertClose(_ a: [Double?], _ b: [Double?], rel tol: Double, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "\(what): length", file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() {
            switch (x, y) {
            case (nil, nil): continue
            case let (x?, y?):
                XCTAssertLessThanOrEqual(abs(x - y), tol * max(abs(y), 1e-3), "\(what)[\(i)]: ke \(x), reference \(y)",
                                         file: file, line: line)
            default: XCTFail("\(what)[\(i)]: ke \(String(describing: x)), reference \(String(describing: y))", file: file, line: line)
            }
        }
    }

    // MARK: Packing

    /// `corpus … seq N pack` gives the reference's rows exactly, for every recorded N, and the
    /// two .npy files give the same rows.
    func testPackedRowsMatchReference() throws {
        let e = try expected()
        let model = try Model.load(directory: Fixtures.modelDir("olmo"))
        XCTAssertEqual(model.directoryInfo?.eosTokenIDs.first, e["eos"]?.intValue)
        let stream = (e["corpus"]?["stream"]?.arrayValue ?? []).compactMap(\.intValue)
        XCTAssertFalse(stream.isEmpty)
        for seq in [32, 48, 64] {
            let want = (0..<(stream.count / seq)).map { Array(stream[($0 * seq)..<(($0 + 1) * seq)]) }
            XCTAssertEqual(e["corpus"]?["rows"]?["\(seq)"]?.intValue, want.count)
            let c = try Corpus.loadPacked(path: Self.dir + "/corpus.txt", tokenizer: model.tokenizer,
                                          eos: model.directoryInfo?.eosTokenIDs.first, seq: seq, limit: nil,
                                          vocabSize: model.config.vocabSize)
            XCTAssertEqual(c.documents, want, "seq \(seq)")
            XCTAssertEqual(c.rowLength, seq)
            let npy = try Corpus.loadPacked(path: Self.dir + "/corpus.tokens.npy", tokenizer: model.tokenizer, eos: nil,
                                            seq: seq, limit: nil, vocabSize: model.config.vocabSize)
            XCTAssertEqual(npy.documents, want, "1-D .npy, seq \(seq)")
            // `limit` counts rows.
            let two = try Corpus.loadPacked(path: Self.dir + "/corpus.txt", tokenizer: model.tokenizer, eos: 0, seq: seq,
                                            limit: 2, vocabSize: model.config.vocabSize)
            XCTAssertEqual(two.documents, Array(want.prefix(2)))
        }
        let rows48 = (0..<(stream.count / 48)).map { Array(stream[($0 * 48)..<(($0 + 1) * 48)]) }
        let twoD = try Corpus.loadPacked(path: Self.dir + "/corpus.rows48.npy", tokenizer: model.tokenizer, eos: nil,
                                         seq: nil, limit: nil, vocabSize: model.config.vocabSize)
        XCTAssertEqual(twoD.documents, rows48)
        XCTAssertThrowsError(try Corpus.loadPacked(path: Self.dir + "/corpus.rows48.npy", tokenizer: model.tokenizer,
                                                   eos: nil, seq: 32, limit: nil, vocabSize: model.config.vocabSize)) {
            XCTAssertTrue("\($0)".contains("48 tokens wide"), "\($0)")
        }
        // Ids beyond a smaller vocabulary are named.
        XCTAssertThrowsError(try Corpus.loadPacked(path: Self.dir + "/corpus.tokens.npy", tokenizer: model.tokenizer,
                                                   eos: nil, seq: 32, limit: nil, vocabSize: 100)) {
            XCTAssertTrue("\($0)".contains("outside the vocabulary"), "\($0)")
        }
    }

    // MARK: Runs

    struct Run {
        var name: String
        var model: Model
        var facts: FactSet
        var once: FactSet
        var corpus: Corpus
        var options: ContinualOptions
        var expected: JSONValue
    }

    func runs() throws -> [Run] {
        let e = try expected()
        return try (e["runs"]?.arrayValue ?? []).map { r in
            let o = r["options"]!
            let model = try Model.load(directory: Fixtures.modelDir(r["model"]!.stringValue!.components(separatedBy: "/").last!))
            var opts = ContinualOptions()
            opts.steps = o["steps"]!.intValue!; opts.batch = o["batch"]!.intValue!; opts.seq = o["seq"]!.intValue!
            opts.every = o["every"]!.intValue!; opts.lr = o["lr"]!.doubleValue!; opts.warmup = o["warmup"]!.intValue!
            opts.finalLRFraction = o["final"]!.doubleValue!; opts.eps = o["eps"]!.doubleValue!
            opts.weightDecay = o["wd"]!.doubleValue!; opts.clip = o["clip"]!.doubleValue!
            opts.once = try FactSet.load(path: Self.dir + "/" + o["once"]!.stringValue!)
            opts.tasks = try TaskSuite.load(path: Self.dir + "/" + o["tasks"]!.stringValue!)
            let corpus = try Corpus.loadPacked(path: Self.dir + "/" + o["corpus"]!.stringValue!, tokenizer: model.tokenizer,
                                               eos: model.directoryInfo?.eosTokenIDs.first, seq: opts.seq, limit: nil,
                                               vocabSize: model.config.vocabSize)
            return Run(name: r["name"]!.stringValue!, model: model,
                       facts: try FactSet.load(path: Self.dir + "/" + o["facts"]!.stringValue!), once: opts.once!,
                       corpus: corpus, options: opts, expected: r)
        }
    }

    /// Every step's batch — corpus rows in order, wrapping, with each event's fact groups
    /// prepended and cut — is the reference's, token for token.
    func testBatchesMatchReference() throws {
        for run in try runs() {
            let o = run.options
            let tok = run.model.tokenizer
            let eventFacts = continualEventFacts(facts: run.facts, once: run.once, events: o.steps / o.eventInterval,
                                                 eos: run.model.directoryInfo?.eosTokenIDs.first, encode: { tok.encode($0) })
            var cut = 0
            for step in run.expected["steps"]?.arrayValue ?? [] {
                let g = step["step"]!.intValue!
                let event = step["event"]?.intValue
                let (batch, c) = continualBatch(step: g, rows: run.corpus.documents, batch: o.batch, seq: o.seq!,
                                                facts: event.map { eventFacts[$0 - 1] } ?? [])
                cut += c
                let want = (step[event == nil ? "ids" : "inserted"]?.arrayValue ?? []).map { ($0.arrayValue ?? []).compactMap(\.intValue) }
                XCTAssertEqual(batch, want, "\(run.name) step \(g)")
            }
            XCTAssertEqual(cut, run.expected["fact_tokens_cut"]?.intValue, run.name)
        }
    }

    /// K (and its paraphrase/once parts), the loss and the learning rate at every evaluation
    /// agree with the reference, as do A, K's subsets, the epochs, events and cut tokens.
    ///
    /// Tolerance: ke and PyTorch both train in float32 but sum in different orders (ke's
    /// fixed-order GEMM against MKL/OpenBLAS blocking), so each step's weights differ by a few
    /// float32 ulps, which AdamW's normalised update carries forward over 7 steps at lr up to 1e-2.
    /// The measured gap is at most 2.4e-7 relative (K, loss; every run); ke's bits are the same on
    /// every CPU, so the gap is fixed, and 1e-5 leaves 40× room while staying 10× inside the
    /// issue's bound of 1e-4. The learning rate is
    /// the same formula in Float64 on both sides: equal to 1e-15 relative (the reference writes
    /// OLMo's warm-up as X·(0.1 + 0.9·g/W), as ke does, and the two orders of OLMo's code differ
    /// only in the last bit).
    func testCurvesMatchReference() throws {
        for run in try runs() {
            let r = try continualPretraining(run.facts, into: run.model, on: run.corpus, options: run.options)
            let curve = run.expected["curve"]?.arrayValue ?? []
            XCTAssertEqual(r.curve.steps, curve.compactMap { $0["step"]?.intValue }, run.name)
            assertClose(r.curve.k.map(\.all), curve.map { $0["k"]?.doubleValue }, rel: 1e-5, "\(run.name) k")
            assertClose(r.curve.k.map(\.paraphrase), curve.map { $0["k_paraphrase"]?.doubleValue }, rel: 1e-5, "\(run.name) k_paraphrase")
            assertClose(r.curve.k.map(\.once), curve.map { $0["k_once"]?.doubleValue }, rel: 1e-5, "\(run.name) k_once")
            assertClose(r.curve.loss, numbers(JSONValue.array(curve.map { $0["loss"] ?? .null })), rel: 1e-5, "\(run.name) loss")
            assertClose(r.curve.lr, numbers(JSONValue.array(curve.map { $0["lr"] ?? .null })), rel: 1e-15, "\(run.name) lr")
            // Every step's loss and rate, not only the evaluated ones.
            let steps = run.expected["steps"]?.arrayValue ?? []
            assertClose(r.losses, steps.map { $0["loss"]?.doubleValue }, rel: 1e-5, "\(run.name) losses")
            assertClose(r.learningRates, steps.map { $0["lr"]?.doubleValue }, rel: 1e-15, "\(run.name) lrs")
            assertClose([r.acquisition], [run.expected["acquisition"]?.doubleValue], rel: 1e-3, "\(run.name) acquisition")
            let k = run.expected["k"]!
            for (name, part) in [("paraphrase", r.k(\.paraphrase)), ("memorization", r.k(\.memorization)),
                                 ("generalization", r.k(\.generalization)), ("once", r.k(\.once)!),
                                 ("composition", r.k(\.composition)!)] {
                assertClose([part.start, part.end], [k[name]?["start"]?.doubleValue, k[name]?["end"]?.doubleValue],
                            rel: 1e-5, "\(run.name) k.\(name)")
            }
            // P and F: task decisions are ≥ 0.0134 from flipping in the reference (its generator checks),
            // far beyond the ~1e-6 score differences, so accuracies are equal exactly.
            let p = run.expected["p"]!
            XCTAssertEqual(r.p?.start, p["start"]?.doubleValue, run.name)
            XCTAssertEqual(r.p?.end, p["end"]?.doubleValue, run.name)
            XCTAssertEqual(r.taskChanges.map(\.name), (p["tasks"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
            XCTAssertEqual(r.taskChanges.map(\.start), (p["tasks"]?.arrayValue ?? []).compactMap { $0["start"]?.doubleValue })
            XCTAssertEqual(r.taskChanges.map(\.end), (p["tasks"]?.arrayValue ?? []).compactMap { $0["end"]?.doubleValue })
            assertClose([r.forgetting], [run.expected["forgetting"]?.doubleValue], rel: 1e-12, "\(run.name) forgetting")
            XCTAssertEqual(r.corpusEpochs, run.expected["corpus_epochs"]?.intValue, run.name)
            XCTAssertEqual(r.eventSteps.count, run.expected["events"]?.intValue, run.name)
            XCTAssertEqual(r.factTokensCut, run.expected["fact_tokens_cut"]?.intValue, run.name)
            XCTAssertEqual(r.model.step, nil)
        }
    }

    /// Nothing in the protocol is random: two runs give the same bits.
    func testRunIsReproducible() throws {
        let run = try runs()[0]
        let a = try continualPretraining(run.facts, into: run.model, on: run.corpus, options: run.options)
        let b = try continualPretraining(run.facts, into: run.model, on: run.corpus, options: run.options)
        XCTAssertEqual(a.curve, b.curve)
        XCTAssertEqual(a.losses, b.losses)
    }

    /// `evaluate` on the untrained models: acc, len_norm, score and mean equal the reference's.
    func testEvaluateMatchesReference() throws {
        let e = try expected()
        let suite = try TaskSuite.load(path: Self.dir + "/tasks")
        for (name, want) in e["evaluate"]?.objectValue ?? [] {
            let got = try evaluate(try Model.load(directory: Fixtures.modelDir(name)), on: suite)
            let tasks = want["tasks"]?.arrayValue ?? []
            XCTAssertEqual(got.tasks.map(\.name), tasks.compactMap { $0["name"]?.stringValue }, name)
            XCTAssertEqual(got.tasks.map(\.acc), tasks.compactMap { $0["acc"]?.doubleValue }, name)
            XCTAssertEqual(got.tasks.map(\.lenNorm), tasks.compactMap { $0["len_norm"]?.doubleValue }, name)
            XCTAssertEqual(got.tasks.map(\.score), tasks.compactMap { $0["score"]?.doubleValue }, name)
            XCTAssertEqual(got.mean, want["mean"]?.doubleValue, name)
        }
    }

    /// The reference's malformed task files are errors naming their line.
    func testBadTaskFilesNameTheirLine() throws {
        for bad in try expected()["bad_tasks"]?.arrayValue ?? [] {
            let file = Self.dir + "/bad_tasks/" + bad["file"]!.stringValue!
            XCTAssertThrowsError(try TaskSuite.load(path: file)) {
                XCTAssertTrue("\($0)".hasPrefix("\(file):\(bad["line"]!.intValue!): error: "), "\($0)")
            }
        }
    }

    // MARK: Pieces

    func testBalancedGroupsPutTheLargerFirst() {
        XCTAssertEqual(balancedGroups(60, into: 10).map(\.count), Array(repeating: 6, count: 10))
        XCTAssertEqual(balancedGroups(7, into: 3), [0..<3, 3..<5, 5..<7])
        XCTAssertEqual(balancedGroups(3, into: 5).map(\.count), [1, 1, 1, 0, 0])
        XCTAssertEqual(balancedGroups(5, into: 0), [])
    }

    /// OLMo's CosWithWarmup at its three branches.
    func testOLMoCosineWithWarmup() {
        let lr = { (g: Int) in olmoCosineWithWarmup(step: g, total: 1600, peak: 4e-4, warmup: 80, finalFraction: 0.1) }
        XCTAssertEqual(lr(0), 4e-5, accuracy: 1e-18)
        XCTAssertEqual(lr(40), 4e-4 * (0.1 + 0.9 * 0.5), accuracy: 1e-18)
        XCTAssertEqual(lr(80), 4e-4, accuracy: 1e-18)
        XCTAssertEqual(lr(840), 4e-5 + (4e-4 - 4e-5) * 0.5, accuracy: 1e-18)
        XCTAssertEqual(lr(1600), 4e-5, accuracy: 1e-18)
        XCTAssertEqual(lr(2000), 4e-5, accuracy: 1e-18)
    }

    func testProtocolKim2025Settings() {
        let o = ContinualOptions.kim2025
        XCTAssertEqual([o.every, o.steps, o.batch, o.seq, o.warmup], [160, 1600, 128, 1024, 80])
        XCTAssertEqual([o.lr, o.finalLRFraction, o.eps, o.weightDecay, o.clip], [4e-4, 0.1, 1e-5, 0.1, 1.0])
        XCTAssertEqual(o.protocolName, "kim2025")
        XCTAssertEqual(o.adamW.decayGroups, .linearWeights)
    }

    /// Weight decay in the paper's mode touches linear weights only.
    func testLinearWeightsAreTheOnlyDecayedTensors() {
        for name in ["L0.q.w", "L3.k.w", "L1.v.w", "L0.o.w", "L2.gate.w", "L0.up.w", "L0.down.w", "lm_head"] {
            XCTAssertTrue(isLinearWeight(name), name)
        }
        for name in ["embed", "pos_embed", "L0.q.b", "L0.q_norm.w", "L0.attn_norm.w", "final_norm.w", "L0.up.b"] {
            XCTAssertFalse(isLinearWeight(name), name)
        }
    }

    // MARK: Errors

    func testUnpackedCorpusAndBadOptionsAreErrors() throws {
        let run = try runs()[0]
        let plain = Corpus(documents: run.corpus.documents, source: "plain.txt")
        XCTAssertThrowsError(try continualPretraining(run.facts, into: run.model, on: plain, options: run.options)) {
            XCTAssertTrue("\($0)".contains("packed corpus"), "\($0)")
        }
        var o = run.options
        o.seq = 32
        XCTAssertThrowsError(try continualPretraining(run.facts, into: run.model, on: run.corpus, options: o)) {
            XCTAssertTrue("\($0)".contains("differs from the corpus's rows of 48"), "\($0)")
        }
        o = run.options
        o.every = 8
        XCTAssertThrowsError(try continualPretraining(run.facts, into: run.model, on: run.corpus, options: o)) {
            XCTAssertTrue("\($0)".contains("no injection event"), "\($0)")
        }
    }
}
