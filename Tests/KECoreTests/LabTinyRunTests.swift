import Foundation
import XCTest
@testable import KECore

/// The tiny-run builder and cache, on `TinyRunConfig.test` in a temporary cache root.
final class LabTinyRunTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "ke-lab-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        Cancellation.shared.reset()
    }

    override func tearDownWithError() throws {
        Cancellation.shared.reset()
        try? FileManager.default.removeItem(atPath: root)
    }

    // MARK: Build and cache

    func testBuildThenCacheHitDoesNotRetrain() throws {
        let cfg = TinyRunConfig.test
        let lab = TinyLab(root: root)
        XCTAssertNil(lab.completedRun(cfg))
        let before = TinyRunBuilder.buildCount
        let steps = LockedBox<[Int]>([])
        let run = try lab.run(cfg) { p in steps.mutate { $0.append(p.step) } }
        XCTAssertEqual(TinyRunBuilder.buildCount, before + 1)
        XCTAssertEqual(steps.value, Array(1...cfg.steps))
        XCTAssertEqual(run.checkpoints.map(\.step), cfg.checkpoints)
        XCTAssertEqual(run.directory, root + "/tiny-" + cfg.cacheKey)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.directory + "/complete"))
        let log = try XCTUnwrap(run.log)
        XCTAssertEqual(log.losses.count, cfg.steps)
        XCTAssertEqual(log.checkpointSteps, cfg.checkpoints)
        XCTAssertEqual(log.checkpointEntropy.count, cfg.checkpoints.count)
        // Training lowers the loss from about ln V.
        let v = Double(try World(cfg.world).vocabulary.count)
        // Loss of the freshly initialised model is ln V ± the spread of random logits (init std 0.02 on a tiny model)
        XCTAssertEqual(log.losses[0], Foundation.log(v), accuracy: 0.3)
        XCTAssertLessThan(log.losses.suffix(5).reduce(0, +) / 5, log.losses[0] - 0.5)

        // Second use: no training, no progress, same run.
        let again = try TinyLab(root: root).run(cfg) { _ in XCTFail("a cache hit must not train") }
        XCTAssertEqual(TinyRunBuilder.buildCount, before + 1)
        XCTAssertEqual(again.checkpoints, run.checkpoints)
        XCTAssertEqual(again.log, run.log)
    }

    func testCheckpointsAreHuggingFaceDirectories() throws {
        let cfg = TinyRunConfig.test
        let world = try World(cfg.world)
        let run = try TinyLab(root: root).run(cfg)
        let last = try XCTUnwrap(run.checkpoints.last)
        let config = try JSONValue.parse(bytes: readFileBytes(last.path + "/config.json"))
        XCTAssertEqual(config["architectures"], .array([.string("OlmoForCausalLM")]))
        XCTAssertEqual(config["model_type"]?.stringValue, "olmo")
        XCTAssertEqual(config["vocab_size"]?.intValue, world.vocabulary.count)
        XCTAssertEqual(config["hidden_size"]?.intValue, cfg.hidden)
        XCTAssertEqual(config["intermediate_size"]?.intValue, cfg.ffn)
        XCTAssertEqual(config["num_hidden_layers"]?.intValue, cfg.layers)
        XCTAssertEqual(config["num_attention_heads"]?.intValue, cfg.heads)
        XCTAssertEqual(config["max_position_embeddings"]?.intValue, cfg.world.sequenceLength)
        XCTAssertEqual(config["hidden_act"]?.stringValue, "silu")
        XCTAssertEqual(config["tie_word_embeddings"]?.boolValue, false)
        XCTAssertEqual(config["rope_theta"]?.doubleValue, cfg.ropeTheta)
        XCTAssertEqual(config["dtype"]?.stringValue, "float32")
        let tok = try JSONValue.parse(bytes: readFileBytes(last.path + "/tokenizer.json"))
        XCTAssertEqual(tok["model"]?["type"]?.stringValue, "WordLevel")
        XCTAssertEqual(tok, world.tokenizerJSON())
        // AutoTokenizer needs the class named (it guesses a BPE class from tokenizer.json alone).
        let tc = try JSONValue.parse(bytes: readFileBytes(last.path + "/tokenizer_config.json"))
        XCTAssertEqual(tc["tokenizer_class"]?.stringValue, "PreTrainedTokenizerFast")
        XCTAssertEqual(tc["unk_token"]?.stringValue, "[UNK]")
        // Hugging Face tensor names in the safetensors file.
        let header = try SafetensorsCheckpoint(directory: last.path)
        for name in ["model.embed_tokens.weight", "lm_head.weight", "model.layers.0.mlp.gate_proj.weight",
                     "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
                     "model.layers.0.self_attn.q_proj.weight"] {
            XCTAssertTrue(header.names.contains(name), "missing \(name)")
        }
        // It loads back, with its step, and its held-out entropy is the one logged.
        let model = try Model.load(directory: last.path)
        XCTAssertEqual(model.step, cfg.steps)
        XCTAssertEqual(model.config.architecture, .olmo)
        XCTAssertEqual(model.config.norm, .nonParametricLayerNorm)
        let e = try knowledgeEntropy(of: model, on: TinyRunBuilder.heldoutCorpus(cfg, world: world))
        // Exact: the checkpoint is float32, so the reloaded model computes the logged entropy's very operations
        XCTAssertEqual(e.total, try XCTUnwrap(run.log?.checkpointEntropy.last))
        // The series machinery reads the run directory as a checkpoint series.
        let series = try CheckpointSeries(directory: run.directory)
        XCTAssertEqual(series.steps, cfg.checkpoints.map { Optional($0) })
    }

    func testBuildIsDeterministic() throws {
        let cfg = TinyRunConfig.test
        let a = try TinyLab(root: root + "/a").run(cfg, measureEntropy: false)
        let b = try TinyLab(root: root + "/b").run(cfg, measureEntropy: false)
        for (x, y) in zip(a.checkpoints, b.checkpoints) {
            XCTAssertEqual(try readFileBytes(x.path + "/model.safetensors"), try readFileBytes(y.path + "/model.safetensors"))
        }
        XCTAssertEqual(try readFileBytes(a.files.trainText), try readFileBytes(b.files.trainText))
        XCTAssertEqual(a.log?.losses, b.log?.losses)
        // Another init seed is another run, under another key.
        var other = cfg
        other.initSeed = 2
        XCTAssertNotEqual(other.cacheKey, cfg.cacheKey)
        let c = try TinyLab(root: root + "/a").run(other, measureEntropy: false)
        XCTAssertNotEqual(c.directory, a.directory)
        XCTAssertNotEqual(try readFileBytes(c.checkpoints[0].path + "/model.safetensors"),
                          try readFileBytes(a.checkpoints[0].path + "/model.safetensors"))
    }

    func testInitialModelIsSeededNormal() throws {
        let cfg = TinyRunConfig.test
        let world = try World(cfg.world)
        let m = try TinyRunBuilder.initialModel(cfg, world: world)
        let xs = m.f32Parameters().data.map(Double.init)
        let mean = xs.reduce(0, +) / Double(xs.count)
        let std = (xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count)).squareRoot()
        // Sample mean of ~1e4 N(0, 0.02) draws: standard error ~2e-4, so 0.002 is ~10 σ
        XCTAssertEqual(mean, 0, accuracy: 0.002)
        // Sample std of ~1e4 draws: standard error ~σ/√(2n) ≈ 1.4e-4, so 0.002 is >10 σ
        XCTAssertEqual(std, cfg.initStd, accuracy: 0.002)
        XCTAssertEqual(try TinyRunBuilder.initialModel(cfg, world: world).f32Parameters().data, m.f32Parameters().data)
        XCTAssertEqual(m.config.vocabSize, world.vocabulary.count)
        XCTAssertEqual(m.step, 0)
    }

    // MARK: Atomicity

    func testCancelledBuildLeavesNoLoadableRunAndIsRebuilt() throws {
        let cfg = TinyRunConfig.test
        let lab = TinyLab(root: root)
        XCTAssertThrowsError(try lab.run(cfg) { p in
            if p.step == 25 { Cancellation.shared.cancel() }
        }) { e in XCTAssertEqual((e as? CoreError)?.message, "cancelled") }
        Cancellation.shared.reset()
        let dir = cfg.runDirectory(root: root)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/complete"))
        XCTAssertNil(lab.completedRun(cfg))
        // What was saved is whole (checkpoints before the cancel); nothing after it exists.
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir)
        let stepDirs = entries.filter { $0.hasPrefix("step-") }.sorted()
        XCTAssertEqual(stepDirs, ["step-0000005", "step-0000010", "step-0000020"])
        for d in stepDirs {
            for f in ["config.json", "model.safetensors", "tokenizer.json"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + d + "/" + f))
            }
        }
        XCTAssertFalse(entries.contains { $0.hasPrefix(".") }, "temporaries left: \(entries)")
        // The next use rebuilds from scratch and completes; the result equals an uninterrupted build.
        let before = TinyRunBuilder.buildCount
        let run = try lab.run(cfg, measureEntropy: false)
        XCTAssertEqual(TinyRunBuilder.buildCount, before + 1)
        XCTAssertEqual(run.checkpoints.map(\.step), cfg.checkpoints)
        let fresh = try TinyLab(root: root + "/fresh").run(cfg, measureEntropy: false)
        XCTAssertEqual(try readFileBytes(run.checkpoints[1].path + "/model.safetensors"),
                       try readFileBytes(fresh.checkpoints[1].path + "/model.safetensors"))
    }

    func testRunWithoutMarkerOrWithMissingCheckpointIsNotUsed() throws {
        let cfg = TinyRunConfig.test
        let run = try TinyLab(root: root).run(cfg, measureEntropy: false)
        let lab = TinyLab(root: root)
        XCTAssertNotNil(lab.completedRun(cfg))
        try FileManager.default.removeItem(atPath: run.checkpoints[2].path)
        XCTAssertNil(lab.completedRun(cfg), "a run missing a checkpoint must not be used")
        let before = TinyRunBuilder.buildCount
        _ = try lab.run(cfg, measureEntropy: false)
        XCTAssertEqual(TinyRunBuilder.buildCount, before + 1)
        XCTAssertNotNil(lab.completedRun(cfg))
    }

    // MARK: Locking

    func testConcurrentBuildersProduceOneRun() throws {
        let cfg = TinyRunConfig.test
        let before = TinyRunBuilder.buildCount
        let results = LockedBox<[TinyRun]>([])
        let errors = LockedBox<[String]>([])
        let root = self.root
        let group = DispatchGroup()
        for _ in 0..<3 {
            group.enter()
            Thread {
                do {
                    let r = try TinyLab(root: root).run(cfg, measureEntropy: false)
                    results.mutate { $0.append(r) }
                } catch { errors.mutate { $0.append("\(error)") } }
                group.leave()
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 300), .success)
        XCTAssertEqual(errors.value, [])
        XCTAssertEqual(results.value.count, 3)
        XCTAssertEqual(TinyRunBuilder.buildCount, before + 1, "one build, the others wait and reuse it")
        for r in results.value { XCTAssertEqual(r.checkpoints, results.value[0].checkpoints) }
        XCTAssertNotNil(TinyLab(root: root).completedRun(cfg))
    }

    func testDataFilesWithoutTraining() throws {
        let cfg = TinyRunConfig.test
        let before = TinyRunBuilder.buildCount
        let files = try TinyLab(root: root).files(cfg)
        XCTAssertEqual(TinyRunBuilder.buildCount, before)
        let world = try World(cfg.world)
        let train = try Corpus.readDocuments(path: files.trainText)
        XCTAssertEqual(train.count, cfg.steps * cfg.batch)
        XCTAssertEqual(Array(train.prefix(cfg.batch)), world.trainDocuments(step: 1, batch: cfg.batch))
        XCTAssertEqual(try Corpus.readDocuments(path: files.heldoutText),
                       world.heldoutDocuments(count: cfg.heldoutDocuments, step: cfg.steps))
        let known = try FactSet.load(path: files.knownFacts)
        XCTAssertEqual(known.count, cfg.world.knownPeople)
        XCTAssertEqual(known.items[0].trainContext, world.knownFacts()[0].trainContext)
        XCTAssertEqual(try FactSet.load(path: files.newFacts).count, cfg.world.newPeople)
        XCTAssertNil(TinyLab(root: root).completedRun(cfg))
    }

    // MARK: Configuration

    func testCheckpointStepsForCustomRuns() {
        XCTAssertEqual(TinyLab.checkpointSteps(forSteps: 1_200), [25, 50, 100, 200, 300, 400, 600, 800, 1_000, 1_200])
        XCTAssertEqual(TinyLab.checkpointSteps(forSteps: 1), [1])
        XCTAssertEqual(TinyLab.checkpointSteps(forSteps: 12), [1, 2, 3, 4, 6, 8, 10, 12])
        for n in [1, 2, 7, 48, 100, 999, 6_000] {
            let s = TinyLab.checkpointSteps(forSteps: n)
            XCTAssertEqual(s.last, n)
            XCTAssertTrue(zip(s, s.dropFirst()).allSatisfy { $0 < $1 })
            XCTAssertGreaterThanOrEqual(s.first ?? 0, 1)
        }
    }

    func testBuiltinConfigFromEnvironment() throws {
        let old = getenv("KE_TINY_CONFIG").map { String(cString: $0) }
        defer { if let old { setenv("KE_TINY_CONFIG", old, 1) } else { unsetenv("KE_TINY_CONFIG") } }
        setenv("KE_TINY_CONFIG", "test", 1)
        XCTAssertEqual(try TinyLab.builtinConfig(), .test)
        unsetenv("KE_TINY_CONFIG")
        XCTAssertEqual(try TinyLab.builtinConfig(), .standard)
        setenv("KE_TINY_CONFIG", "huge", 1)
        XCTAssertThrowsError(try TinyLab.builtinConfig())
    }
}

/// A value shared between threads.
final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ v: T) { stored = v }
    var value: T { lock.lock(); defer { lock.unlock() }; return stored }
    func mutate(_ f: (inout T) -> Void) { lock.lock(); f(&stored); lock.unlock() }
}
