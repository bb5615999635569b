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
        assertError("facts \"tiny:old\"", "1:7: error: unknown built-in fact set \"tiny:old\": use \"tiny:known\" or \"tiny:new\"")
        assertError("corpus \"tiny:test\"", "1:8: error: unknown built-in corpus \"tiny:test\": use \"tiny:train\" or \"tiny:heldout\"")
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
