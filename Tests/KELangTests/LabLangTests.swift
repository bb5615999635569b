import Foundation
import XCTest
import KECore
@testable import KELang

/// The built-in tiny names and `pretrain`, with KE_TINY_CONFIG=test and XDG_CACHE_HOME in a
/// temporary directory (the suite never builds the full run).
final class LabLangTests: XCTestCase {
    var cache = ""
    var saved: [String: String?] = [:]

    override func setUpWithError() throws {
        cache = NSTemporaryDirectory() + "ke-lablang-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        for name in ["KE_TINY_CONFIG", "XDG_CACHE_HOME"] {
            saved[name] = getenv(name).map { String(cString: $0) }
        }
        setenv("KE_TINY_CONFIG", "test", 1)
        setenv("XDG_CACHE_HOME", cache, 1)
        Cancellation.shared.reset()
    }

    override func tearDownWithError() throws {
        for (name, value) in saved {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
        try? FileManager.default.removeItem(atPath: cache)
    }

    private func ok(_ source: String, json: Bool = true, file: StaticString = #filePath, line: UInt = #line) -> [String] {
        let r = runKE(source, json: json)
        XCTAssertTrue(r.ok, "unexpected error: \(r.errors.joined(separator: "\n"))", file: file, line: line)
        return r.outputs
    }

    private func json(_ text: String?) throws -> JSONValue {
        try JSONValue.parse(XCTUnwrap(text))
    }

    // MARK: Checkpoints and models

    func testCheckpointsTinyListsStepsInOrder() throws {
        let cfg = TinyRunConfig.test
        let out = ok("checkpoints \"tiny\"")
        let list = try XCTUnwrap(json(out.first).arrayValue)
        XCTAssertEqual(list.map { $0["step"]?.intValue }, cfg.checkpoints.map { Optional($0) })
        let dir = cache + "/ke/tiny-" + cfg.cacheKey
        XCTAssertEqual(list.first?["path"]?.stringValue, dir + "/step-0000005")
        XCTAssertEqual(list.first?["name"]?.stringValue, "step-0000005")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/complete"))
        // Usable like any checkpoint series: one entropy result per checkpoint, with its step.
        let es = try XCTUnwrap(json(ok("entropy (checkpoints \"tiny\") on corpus \"tiny:heldout\"").first).arrayValue)
        XCTAssertEqual(es.map { $0["step"]?.intValue }, cfg.checkpoints.map { Optional($0) })
        XCTAssertTrue(es.allSatisfy { ($0["total"]?.doubleValue ?? 0) > 0 })
    }

    func testLoadTinyAndTinyAtStep() throws {
        let cfg = TinyRunConfig.test
        XCTAssertEqual(ok("let m = load \"tiny@10\"\nm.step\nm.layers\nm.memories", json: false),
                       ["10", String(cfg.layers), String(cfg.ffn)])
        XCTAssertEqual(ok("(load \"tiny\").step", json: false), [String(cfg.steps)])
        // The final checkpoint's held-out entropy equals the logged one.
        let run = try XCTUnwrap(TinyLab(root: cache + "/ke").completedRun(cfg))
        let e = try json(ok("entropy (load \"tiny\") on corpus \"tiny:heldout\"").first)
        // Exact: float32 checkpoint, same computation as the logged value, printed with shortest round-trip digits
        XCTAssertEqual(try XCTUnwrap(e["total"]?.doubleValue), try XCTUnwrap(run.log?.checkpointEntropy.last))
    }

    func testLoadTinyAtUnknownStepListsSteps() {
        assertError("load \"tiny@7\"",
                    "1:6: error: \"tiny@7\": the tiny run has no checkpoint at step 7; available steps: 5, 10, 20, 30, 40")
        assertError("load \"tiny@x\"",
                    "1:6: error: \"tiny@x\": the tiny run has no checkpoint at step x; available steps: 5, 10, 20, 30, 40")
    }

    func testSecondUseDoesNotRebuild() throws {
        _ = ok("checkpoints \"tiny\"")
        let builds = TinyRunBuilder.buildCount
        let s = Captured(json: true)
        XCTAssertTrue(s.run("let a = load \"tiny\"\nlet b = load \"tiny@5\"\nlen (checkpoints \"tiny\")").ok)
        XCTAssertEqual(s.run.outputs, ["5"])
        XCTAssertEqual(TinyRunBuilder.buildCount, builds)
    }

    // MARK: Corpora and facts

    func testTinyCorporaAndFacts() throws {
        let cfg = TinyRunConfig.test
        let builds = TinyRunBuilder.buildCount
        let c = try json(ok("corpus \"tiny:train\" limit 7 seq 10").first)
        XCTAssertEqual(c["documents"]?.intValue, 7)
        XCTAssertEqual(ok("(corpus \"tiny:heldout\").documents", json: false), [String(cfg.heldoutDocuments)])
        XCTAssertEqual(ok("(corpus \"tiny:train\").documents", json: false), [String(cfg.steps * cfg.batch)])
        let known = try json(ok("facts \"tiny:known\"").first)
        XCTAssertEqual(known["items"]?.intValue, cfg.world.knownPeople)
        XCTAssertEqual(known["memorization"]?.intValue, 5 * cfg.world.knownPeople)
        XCTAssertEqual(known["generalization"]?.intValue, 5 * cfg.world.knownPeople)
        XCTAssertEqual(known["source"]?.stringValue, "tiny:known")
        XCTAssertEqual(try json(ok("facts \"tiny:new\"").first)["items"]?.intValue, cfg.world.newPeople)
        XCTAssertEqual(TinyRunBuilder.buildCount, builds, "corpus and fact names need no training")
        assertError("facts \"tiny:old\"", "1:7: error: unknown built-in fact set \"tiny:old\": use \"tiny:known\", \"tiny:new\", \"tiny:para\" or \"tiny:once\"")
        assertError("corpus \"tiny:test\"", "1:8: error: unknown built-in corpus \"tiny:test\": use \"tiny:train\", \"tiny:heldout\" or \"tiny:shift\"")
        // Seq truncates: tokens ≤ documents × seq once a model tokenises it.
        XCTAssertEqual(ok("let c = corpus \"tiny:heldout\" limit 3 seq 10\nlet e = entropy (load \"tiny@5\") on c\ne.tokens", json: false),
                       ["30"])
    }

    func testProbeAndInjectOnTinyNames() throws {
        let out = ok("""
            let m = load "tiny"
            let p = probe m on facts "tiny:known"
            let r = inject facts "tiny:new" into m steps 3 lr 1e-3 batch 4 replay corpus "tiny:train" limit 20 retain facts "tiny:known"
            r.acquisition >= 0
            """, json: false)
        XCTAssertEqual(out, ["true"])
    }

    // MARK: pretrain

    func testPretrainBuildsCachedCustomRun() throws {
        let builds = TinyRunBuilder.buildCount
        let out = ok("pretrain steps 12 layers 1 hidden 16 heads 2 ffn 24 lr 3e-3 batch 2 warmup 2 seed 5")
        let list = try XCTUnwrap(json(out.first).arrayValue)
        XCTAssertEqual(list.map { $0["step"]?.intValue ?? -1 }, TinyLab.checkpointSteps(forSteps: 12))
        XCTAssertEqual(TinyRunBuilder.buildCount, builds + 1)
        var cfg = TinyRunConfig.test
        cfg.steps = 12; cfg.checkpoints = TinyLab.checkpointSteps(forSteps: 12); cfg.warmup = 2
        cfg.layers = 1; cfg.hidden = 16; cfg.heads = 2; cfg.ffn = 24; cfg.learningRate = 3e-3; cfg.batch = 2; cfg.initSeed = 5
        XCTAssertEqual(list.last?["path"]?.stringValue, cfg.checkpointDirectory(root: cache + "/ke", step: 12))
        let m = try Model.load(directory: XCTUnwrap(list.last?["path"]?.stringValue))
        XCTAssertEqual(m.config.numLayers, 1)
        XCTAssertEqual(m.config.intermediateSize, 24)
        // Again: cached.
        _ = ok("pretrain steps 12 layers 1 hidden 16 heads 2 ffn 24 lr 3e-3 batch 2 warmup 2 seed 5")
        XCTAssertEqual(TinyRunBuilder.buildCount, builds + 1)
    }

    func testPretrainShowsLossAndEntropyLive() throws {
        let notes = LockedNotes()
        let s = Captured(json: true)
        s.options.progress = true
        s.session.progress = { done, total, note in notes.append("\(done)/\(total) \(note)") }
        XCTAssertTrue(s.run("pretrain steps 8 layers 1 hidden 16 heads 2 ffn 16 batch 2 seed 9").ok,
                      s.run.errors.joined(separator: "\n"))
        let all = notes.all
        XCTAssertEqual(all.count, 8)
        XCTAssertTrue(all[0].hasPrefix("1/8 loss "), all[0])
        XCTAssertTrue(all[7].contains(" · entropy "), all[7])
        XCTAssertTrue(all[7].contains("%)"), all[7])
    }

    func testPretrainErrors() {
        assertError("pretrain steps 10 schedule \"linear\"",
                    "1:28: error: 'pretrain … schedule' must be \"constant\", \"wsd\" or \"cosine\", found \"linear\"")
        assertError("pretrain hidden 18 heads 2",
                    "1:26: error: 'pretrain': hidden 18 must split into 2 heads of even size (set heads A)")
        assertError("pretrain steps 0", "1:16: error: 'pretrain … steps' must be between 1 and 10000000, found 0")
        assertError("pretrain lr 2", "1:13: error: 'pretrain … lr' must be below 1, found 2")
    }

    // MARK: tiny-cosine and the continual-protocol data

    func testTinyCosineCheckpointsWithLearningRates() throws {
        let cfg = TinyRunConfig.testCosine
        let list = try XCTUnwrap(json(ok("checkpoints \"tiny-cosine\"").first).arrayValue)
        XCTAssertEqual(list.map { $0["step"]?.intValue }, cfg.checkpoints.map { Optional($0) })
        XCTAssertEqual(list.first?["path"]?.stringValue, cfg.checkpointDirectory(root: cache + "/ke", step: 5))
        // lr: the rate of the last step before each checkpoint, as logged and as the schedule gives it.
        let run = try XCTUnwrap(TinyLab(root: cache + "/ke").completedRun(cfg))
        let log = try XCTUnwrap(run.log)
        for (entry, step) in zip(list, cfg.checkpoints) {
            XCTAssertEqual(entry["lr"]?.doubleValue, log.learningRates[step - 1])
            XCTAssertEqual(entry["lr"]?.doubleValue, cfg.learningRate(atStep: step - 1))
        }
        XCTAssertLessThan(try XCTUnwrap(list.last?["lr"]?.doubleValue), try XCTUnwrap(list[1]["lr"]?.doubleValue))
        XCTAssertEqual(ok("(load \"tiny-cosine@6\").step\n(load \"tiny-cosine\").step", json: false), ["6", "40"])
        assertError("load \"tiny-cosine@7\"",
                    "1:6: error: \"tiny-cosine@7\": the tiny-cosine run has no checkpoint at step 7; available steps: 5, 6, 10, 20, 30, 40")
        // `tiny` has lr too (warm-up, then constant), and its own key and steps.
        let tiny = try XCTUnwrap(json(ok("checkpoints \"tiny\"").first).arrayValue)
        XCTAssertEqual(tiny.map { $0["lr"]?.doubleValue }, TinyRunConfig.test.checkpoints.map { TinyRunConfig.test.learningRate(atStep: $0 - 1) })
        XCTAssertNotEqual(tiny.first?["path"]?.stringValue, list.first?["path"]?.stringValue)
        // `pretrain schedule "cosine"` is tiny-cosine itself (no second build); another seed is another run.
        let builds = TinyRunBuilder.buildCount
        let same = try XCTUnwrap(json(ok("pretrain schedule \"cosine\"").first).arrayValue)
        XCTAssertEqual(same.map { $0["path"]?.stringValue }, list.map { $0["path"]?.stringValue })
        XCTAssertEqual(TinyRunBuilder.buildCount, builds)
        let seed2 = try XCTUnwrap(json(ok("pretrain schedule \"cosine\" seed 2").first).arrayValue)
        var cfg2 = cfg
        cfg2.initSeed = 2
        XCTAssertEqual(seed2.map { $0["path"]?.stringValue }, cfg2.checkpoints.map { cfg2.checkpointDirectory(root: cache + "/ke", step: $0) })
        XCTAssertEqual(seed2.map { $0["lr"]?.doubleValue }, list.map { $0["lr"]?.doubleValue })
        // A cosine run of another length keeps ~15, 50, 75 and 100 %.
        let custom = try XCTUnwrap(json(ok("pretrain steps 20 layers 1 hidden 16 heads 2 ffn 16 batch 2 schedule \"cosine\"").first).arrayValue)
        XCTAssertEqual(custom.map { $0["step"]?.intValue ?? -1 }, TinyRunConfig.withCosineMarks(TinyLab.checkpointSteps(forSteps: 20), steps: 20))
        XCTAssertTrue(Set([3, 10, 15, 20]).isSubset(of: custom.map { $0["step"]?.intValue ?? -1 }))
        assertError("checkpoints \"tiny-cosine\" tokenizer \"x\"",
                    "1:37: error: 'tokenizer' is for checkpoint directories; the built-in runs have their own tokenizer")
    }

    func testContinualDataNames() throws {
        let cfg = TinyRunConfig.test
        let builds = TinyRunBuilder.buildCount
        let para = try json(ok("facts \"tiny:para\"").first)
        XCTAssertEqual(para["items"]?.intValue, cfg.continual.paraItems)
        XCTAssertEqual(para["memorization"]?.intValue, 5 * cfg.continual.paraItems)
        XCTAssertEqual(para["generalization"]?.intValue, 5 * cfg.continual.paraItems)
        XCTAssertEqual(para["source"]?.stringValue, "tiny:para")
        XCTAssertEqual(try json(ok("facts \"tiny:once\"").first)["items"]?.intValue, cfg.continual.onceItems)
        let shift = try json(ok("corpus \"tiny:shift\"").first)
        let world = try World(cfg.world)
        XCTAssertEqual(shift["documents"]?.intValue, world.shiftDocuments(cfg.continual).count)
        XCTAssertEqual(TinyRunBuilder.buildCount, builds, "data names need no training")
        // tasks "tiny:tasks" resolves to the folder of task files (the `tasks` command reads it).
        let inv = Invocation(command: .corpus, call: CommandCall(command: .tasks, arguments: [:]),
                             position: SourcePosition(line: 1, column: 1), interpreter: Interpreter(options: SessionOptions()))
        let dir = try XCTUnwrap(try BuiltinNames.tasksPath("tiny:tasks", inv))
        XCTAssertEqual(dir, cache + "/ke/tiny-" + cfg.cacheKey + "/tasks")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(),
                       ["birth_city.jsonl", "birth_date.jsonl", "employer.jsonl", "major.jsonl", "university.jsonl"])
        XCTAssertNil(try BuiltinNames.tasksPath("Tests/Fixtures/tasks", inv))
        XCTAssertThrowsError(try BuiltinNames.tasksPath("tiny:task", inv))
        // Training on the shifted corpus and probing the new sets work like the other names.
        XCTAssertEqual(ok("""
            let m = train (load "tiny") on corpus "tiny:shift" steps 2 batch 2 seq 16
            let p = probe m on facts "tiny:para"
            p.memorization.accuracy >= 0
            """, json: false), ["true"])
    }

    /// `world W` gives the data of another world, the one `pretrain … world W` trains on; the
    /// built-in world's seed gives the built-in data; a file name refuses the clause; `tiny:shift`
    /// is packed into rows of 64 tokens; `tasks "tiny:tasks" world W` names its world.
    func testWorldClauseAndPackedShift() throws {
        let cfg = TinyRunConfig.test
        let w = cfg.world.seed
        let other = try json(ok("facts \"tiny:para\" world \(w + 1)").first)
        XCTAssertEqual(other["source"]?.stringValue, "tiny:para (world \(w + 1))")
        XCTAssertEqual(other["items"]?.intValue, cfg.continual.paraItems)
        // Different worlds give different people; the built-in world's seed gives the built-in set.
        XCTAssertEqual(ok("""
            let a = facts "tiny:para"
            let b = facts "tiny:para" world \(w)
            let c = facts "tiny:para" world \(w + 1)
            let m = load "tiny"
            [(probe m on a).memorization.logprob == (probe m on b).memorization.logprob, (probe m on a).memorization.logprob == (probe m on c).memorization.logprob]
            """, json: false), ["[true, false]"])
        XCTAssertEqual(ok("""
            let rows = corpus "tiny:shift"
            let m = load "tiny"
            perplexity m on rows
            rows
            """, json: false).last?.contains("packed"), true)
        XCTAssertEqual(ok("(tasks \"tiny:tasks\" world \(w + 1)).source", json: false), ["tiny:tasks (world \(w + 1))"])
        let r = Captured().run("facts \"x.json\" world 2")
        XCTAssertEqual(r.firstError, "t.ke:1:22: error: 'world' picks the world of a built-in tiny: name; \"x.json\" is a file")
    }

    func testHelpHasPretrain() {
        let spec = CommandRegistry.spec("pretrain")
        XCTAssertNotNil(spec)
        XCTAssertTrue(spec?.example.contains("pretrain steps") ?? false)
        XCTAssertEqual(spec?.group, "training")
    }
}

/// Progress notes collected from any thread.
final class LockedNotes: @unchecked Sendable {
    private let lock = NSLock()
    private var notes: [String] = []
    func append(_ s: String) { lock.lock(); notes.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return notes }
}
