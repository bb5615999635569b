import Foundation
import XCTest
@testable import KECore
@testable import KELang

/// Issue 31, "a researcher's first hour": each friction found by a new user, on the fixtures.
final class FirstHourTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    // MARK: 1. Rescale: warnings, multipliers, cap

    func testRescaleWarnsOnStderrUnderLetAndShowsItsMultipliers() throws {
        let s = Captured(json: true)
        let r = s.run("""
            let m = load "\(fixtures)/models/olmo"
            let c = corpus "\(fixtures)/corpus.txt"
            let wild = rescale m bottom 50% by 1000 on c
            wild.multipliers
            len wild.multipliers == wild.layers
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        // The warnings reach stderr although the value was bound with `let`.
        XCTAssertTrue(r.errors.contains { $0.hasPrefix("t.ke:3:12: warning: the largest rescale multiplier is") }, "\(r.errors)")
        let layers = try JSONValue.parse(r.outputs[0]).arrayValue ?? []
        XCTAssertEqual(layers.count, 2)
        for (l, layer) in layers.enumerated() {
            XCTAssertEqual(layer["layer"]?.intValue, l)
            XCTAssertEqual(layer["count"]?.intValue, 32, "half of 64 memories")
            XCTAssertGreaterThan(layer["largest"]?.doubleValue ?? 0, 100)
        }
        XCTAssertEqual(r.outputs[1], "true")
    }

    func testCapLimitsEveryMultiplierAndIsOffByDefault() throws {
        let r = Captured(json: true).run("""
            let m = load "\(fixtures)/models/olmo"
            let c = corpus "\(fixtures)/corpus.txt"
            let capped = rescale m bottom 50% by 1000 on c cap 10
            max [x.largest for x in capped.multipliers]
            capped.interventions
            let plain = rescale m bottom 50% by 2 on c
            (entropy plain on c).total == (entropy (rescale m bottom 50% by 2 using (sums m on c)) on c).total
            plain.interventions
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        XCTAssertEqual(r.outputs[0], "10")
        XCTAssertEqual(r.outputs[1], "[\"rescale bottom 50% by 1000.0 cap 10 on \(fixtures)/corpus.txt\"]")
        XCTAssertEqual(r.outputs[2], "true")
        XCTAssertEqual(r.outputs[3], "[\"rescale bottom 50% by 2.0 on \(fixtures)/corpus.txt\"]")
        XCTAssertFalse(r.errors.contains { $0.contains("multiplier") }, "a mild capped rescale gives no warning: \(r.errors)")
        let zero = runKE("rescale (load \"\(fixtures)/models/olmo\") bottom 10% by 2 on (corpus \"\(fixtures)/corpus.txt\") cap 0")
        XCTAssertTrue(zero.firstError?.hasSuffix("error: 'cap' must be > 0, found 0") ?? false, "\(zero.errors)")
    }

    func testCappedMultipliersInCore() throws {
        XCTAssertEqual(try resuscitationMultipliers(means: [1, 2, 3, 0], fraction: 0.5, factor: 2), [3, 1, 1, 1])
        XCTAssertEqual(try resuscitationMultipliers(means: [1, 2, 3, 0], fraction: 0.5, factor: 2, cap: 2), [2, 1, 1, 1])
        let summary = RescaleSummary(layers: [.init(count: 3, largest: 250), .init(count: 0, largest: 0)], cap: nil)
        XCTAssertEqual(summary.largest?.layer, 0)
        XCTAssertEqual(summary.warnings().count, 1)
        XCTAssertEqual(summary.warnings(perplexityBefore: 26, after: 43410).count, 2)
        XCTAssertTrue(RescaleSummary(layers: [.init(count: 3, largest: 5)], cap: nil).warnings(perplexityBefore: 2, after: 3).isEmpty)
    }

    func testRescaleDisplayNamesTheMultipliers() throws {
        let r = Captured().run("""
            let m = load "\(fixtures)/models/olmo"
            rescale m bottom 50% by 2 on (corpus "\(fixtures)/corpus.txt") cap 5
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        XCTAssertTrue(r.outputs[0].contains("  multipliers    64 memories rescaled, largest "), r.outputs[0])
        XCTAssertTrue(r.outputs[0].contains(", cap 5"), r.outputs[0])
    }

    // MARK: 2 and 5. Retention on a thin retain set; composition in the old inject report

    func testThinRetainSetIsMarkedUnreliableAndCompositionIsReported() throws {
        let r = Captured(json: true).run("""
            let m = load "\(fixtures)/models/olmo"
            let f = facts "\(fixtures)/continual/facts.json"
            let r = inject f into m steps 2 lr 1e-3 batch 2 retain (facts "\(fixtures)/facts.json")
            r.retention_reliable
            r.retain_tokens > 0
            r.retain_before_correct < 20
            r.retain_after_correct >= 0
            r.composition.accuracy >= 0
            r.composition.logprob < 0
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        XCTAssertEqual(r.outputs, ["false", "true", "true", "true", "true", "true"])
        XCTAssertTrue(r.errors.contains { $0.hasPrefix("t.ke:3:9: warning: retention rests on ") && $0.contains("unreliable") },
                      "\(r.errors)")
        // Facts without hard_gen probes: composition is null.
        let plain = Captured(json: true).run("""
            (inject (facts "\(fixtures)/facts.json") into (load "\(fixtures)/models/olmo") steps 1 batch 2).composition
            """)
        XCTAssertEqual(plain.outputs, ["null"])
    }

    // MARK: 3. Indices from 0; str

    func testBarLabelsCountFromZeroAndStrBuildsLabels() throws {
        let r = Captured(width: 30, ascii: true).run("""
            bar [1, 2]
            str 3
            str 0.1234567
            str true
            "L" + str 2
            bar [1, 2] labels ["L" + str i for i in range 2]
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        XCTAssertEqual(r.outputs[0].split(separator: "\n").map { $0.prefix(2) }, ["0 ", "1 "])
        XCTAssertEqual(Array(r.outputs[1...4]), ["3", "0.123457", "true", "L2"])
        XCTAssertTrue(r.outputs[5].hasPrefix("L0 "), r.outputs[5])
        assertError("\"L\" + 1", "1:5: error: cannot add a string and a number with '+' — 'str X' turns a number into text")
        assertError("str [1]", "1:5: error: 'str' expected a number, a boolean or a string, found a list")
    }

    // MARK: 4. save of a GGUF-loaded model

    /// The saved folder's tokenizer_config.json and generation_config.json against what
    /// transformers gives for the GGUF (`from_pretrained(…, gguf_file=…)`, recorded by
    /// Scripts/fixtures/gguf_save.py).
    func testSavedGGUFCarriesTokenizerSettingsAsTransformersReadsThem() throws {
        let dir = fixtures + "/formats/gguf_save"
        let exp = try JSONValue.parse(bytes: readFileBytes(dir + "/expected.json"))
        let out = NSTemporaryDirectory() + "ke-gguf-save-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let model = try Model.load(path: dir + "/chat_llama.gguf")
        try model.save(to: out)
        let tc = try JSONValue.parse(bytes: readFileBytes(out + "/tokenizer_config.json"))
        for key in ["bos_token", "eos_token", "unk_token", "pad_token", "chat_template"] {
            XCTAssertEqual(tc[key]?.stringValue, exp[key]?.stringValue, key)
        }
        XCTAssertEqual(tc["add_bos_token"]?.boolValue, exp["add_bos_token"]?.boolValue)
        XCTAssertEqual(tc["add_eos_token"]?.boolValue, exp["add_eos_token"]?.boolValue)
        let gc = try JSONValue.parse(bytes: readFileBytes(out + "/generation_config.json"))
        XCTAssertEqual(gc["bos_token_id"]?.intValue, exp["config_bos_token_id"]?.intValue)
        XCTAssertEqual(gc["eos_token_id"]?.intValue, exp["config_eos_token_id"]?.intValue)
        XCTAssertEqual(gc["pad_token_id"]?.intValue, exp["config_pad_token_id"]?.intValue)
        // The folder loads again with the same end-of-sequence id and the same weights.
        let again = try Model.load(directory: out)
        XCTAssertEqual(again.directoryInfo?.eosTokenIDs, [exp["config_eos_token_id"]?.intValue ?? -1])
        XCTAssertEqual(again.f32Parameters().data, model.f32Parameters().data)
        // The fixture has the tensors of llama_F32.gguf.
        XCTAssertEqual(model.f32Parameters().data, try Model.load(path: fixtures + "/formats/gguf/llama_F32.gguf").f32Parameters().data)
    }

    // MARK: 6. One corpus pass per (model, corpus)

    func testOnePassPerModelAndCorpusWithTheSameNumbers() throws {
        let s = Captured(json: true)
        let r = s.run("""
            let m = load "\(fixtures)/models/olmo"
            let c = corpus "\(fixtures)/corpus.txt"
            let e = entropy m on c
            let k = coefficients m on c
            let t = top m on c layer 1 k 3
            let again = load "\(fixtures)/models/olmo"
            let e2 = entropy again on c
            e2.total == e.total
            let s = scale m layer 0 memories [1] by 3
            (entropy s on c).total == e.total
            let sm = sums m on c
            (top m using sm layer 1 k 3).memories[0].index == t.memories[0].index
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        XCTAssertEqual(r.outputs, ["true", "false", "true"])
        let cache = s.session.statisticsCache
        XCTAssertEqual(cache.misses, 2, "m (and its reload) once, the scaled model once")
        XCTAssertEqual(cache.hits, 3)
        // A cache hit prints exactly what a fresh pass prints.
        let fresh = Captured().run("let m = load \"\(fixtures)/models/olmo\"\ncoefficients m on (corpus \"\(fixtures)/corpus.txt\")")
        let cached = Captured().run("""
            let m = load "\(fixtures)/models/olmo"
            let c = corpus "\(fixtures)/corpus.txt"
            let e = entropy m on c
            coefficients m on c
            """)
        XCTAssertEqual(fresh.outputs, cached.outputs)
    }

    func testAnyChangeToTheWeightsGivesANewFingerprint() throws {
        let m = try Model.load(directory: fixtures + "/models/olmo")
        var p1 = m.f32Parameters(), p2 = m.f32Parameters()
        p1.data[5] += 1e-3
        p2.data[6] += 1e-3
        // The same note (as two trainings differing only in a seed would have).
        let a = try m.with(params: p1, addingIntervention: "train 1 steps"), b = try m.with(params: p2, addingIntervention: "train 1 steps")
        let fa = try modelFingerprint(a), fb = try modelFingerprint(b), fm = try modelFingerprint(m)
        XCTAssertNotEqual(fa, fb)
        XCTAssertNotEqual(fa, fm)
        XCTAssertEqual(fa, try modelFingerprint(try m.with(params: p1, addingIntervention: "train 1 steps")))
        // A measured or renamed copy of the same weights keeps its fingerprint.
        XCTAssertEqual(fa, try modelFingerprint(a.measured([("x", 1)])))
    }

    /// A quantised file loaded with `bf16` (F32 matrices kept as BF16 blocks) is another model.
    func testQuantizedFileLoadedWithBF16HasItsOwnFingerprint() throws {
        // gpt2_Q8_0.gguf has Q8_0 matrices and F32 ones.
        let path = fixtures + "/formats/gguf/gpt2_Q8_0.gguf"
        let plain = try Model.load(path: path), compact = try Model.load(path: path, keepBF16: true)
        XCTAssertEqual(try modelFingerprint(plain), try modelFingerprint(try Model.load(path: path)))
        XCTAssertNotEqual(plain.quantized?.matrixTypes.map(\.type), compact.quantized?.matrixTypes.map(\.type))
        XCTAssertNotEqual(try modelFingerprint(plain), try modelFingerprint(compact))
    }

    func testTheCacheIsBounded() throws {
        let m = try Model.load(directory: fixtures + "/models/olmo")
        let tok = m.tokenizer
        let bytes = 2 * 64 * 8   // one entry: 2 layers × 64 memories × 8 bytes
        let cache = StatisticsCache(capacityBytes: 2 * bytes)
        for limit in 1...4 {
            let docs = try Corpus.readDocuments(path: fixtures + "/corpus.txt", limit: limit)
            _ = try cache.statistics(of: m, on: Corpus(documents: docs.map { tok.encode($0) }, source: "c\(limit)"))
        }
        XCTAssertEqual(cache.count, 2)
        XCTAssertLessThanOrEqual(cache.storedBytes, 2 * bytes)
        XCTAssertEqual(cache.misses, 4)
    }

    // MARK: 7. argmin, argmax, if, list comprehensions

    func testArgminArgmax() {
        assertOutputs("argmin [3, 1, 2, 1]\nargmax [3, 1, 3]\nargmax [-1]", ["1", "0", "0"])
        assertError("argmin []", "1:8: error: 'argmin' of an empty list")
        assertError("argmax 3", "1:8: error: 'argmax' expected a list, found a number")
    }

    func testIfElse() {
        assertOutputs("""
            let x = 3
            if x > 2 { "big" } else { "small" }
            if x > 5 { "big" }
            if x > 5 { 1 } else if x > 2 { 2 } else { 3 }
            for i in range 3 { if i == 1 { i } }
            """, ["big", "2", "1"])
        assertError("if 1 { 2 }", "1:4: error: 'if' needs a boolean condition, found a number (compare it, e.g. 'if x > 0 { … }')")
        assertError("if { 2 }", "1:4: error: 'if' needs a condition before '{' — usage: if COND { … } else { … }")
        assertError("if true { 1 }\nelse { 2 }", "2:1: error: 'else' must be on the same line as the '}' that ends the 'if' body")
        assertError("else { 2 }", "1:1: error: 'else' without 'if': it must follow the '}' of an 'if' on the same line")
        assertError("if true { 1 ", "1:9: error: unclosed '{': expected '}' to end the 'if' body")
    }

    func testListComprehensions() {
        assertOutputs("""
            [i * i for i in range 4]
            let xs = [3, 1, 2]
            [x + 1 for x in xs]
            pearson xs [x * 2 for x in xs]
            [[a * b for a in [1, 2]] for b in [1, 10]]
            let i = 7
            [i for i in [1]]
            i
            """, ["[0, 1, 4, 9]", "[4, 2, 3]", "1", "[[1, 2], [10, 20]]", "[1]", "7"])
        assertError("[x for x in 3]", "1:13: error: a list comprehension needs a list after 'in', found a number (use 'range N' for 0, 1, …, N−1)")
        assertError("[for x in [1]]", "1:2: error: a list comprehension needs an expression before 'for': [EXPR for NAME in LIST]")
        assertError("[1, 2 for x in [1]]", "1:3: error: a list comprehension has one expression before 'for': [EXPR for NAME in LIST]")
        assertError("[x for len in [1]]", "1:8: error: 'len' is a command and cannot be a variable name")
        assertError("[x for x of [1]]", "1:10: error: expected 'in' after 'for x', found 'of'")
        assertError("[x for x in [1]", "1:1: error: unclosed '[': expected ']'")
        assertError("x", "1:1: error: unknown name 'x'")
    }

    // MARK: 10. time

    func testTimedValueIsReachedThroughValue() {
        assertError("let e = time (len [1])\ne.total", "2:3: error: a timed result has no field 'total' (fields: seconds, value)")
        let r = runKE("let e = time (entropy (load \"\(fixtures)/models/olmo\") on (corpus \"\(fixtures)/corpus.txt\"))\ne.total")
        XCTAssertEqual(r.firstError, "t.ke:2:3: error: a timed result has no field 'total'; the timed value is '.value' (e.g. e.value.total)")
        XCTAssertTrue(CommandRegistry.spec("time")?.summary.contains("e.value.total") ?? false)
        XCTAssertTrue(CommandRegistry.spec("time")?.example.contains("e.value.total") ?? false)
    }

    // MARK: 9. Messages

    func testMissingFileSaysSoBeforeFormats() {
        let r1 = runKE("facts \"nowhere/x.json\"")
        XCTAssertEqual(r1.firstError, "t.ke:1:1: error: nowhere/x.json: no such file")
        let r2 = runKE("corpus \"nowhere/x.json\"")
        XCTAssertEqual(r2.firstError, "t.ke:1:1: error: nowhere/x.json: no such file")
    }

    func testUnknownBuiltinNameWritesNothing() throws {
        let tmp = NSTemporaryDirectory() + "ke-builtin-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let saved = getenv("XDG_CACHE_HOME").map { String(cString: $0) }
        setenv("XDG_CACHE_HOME", tmp, 1)
        defer { if let saved { setenv("XDG_CACHE_HOME", saved, 1) } else { unsetenv("XDG_CACHE_HOME") } }
        let r = runKE("corpus \"tiny:heldot\"")
        XCTAssertEqual(r.firstError, "t.ke:1:8: error: unknown built-in corpus \"tiny:heldot\": use \"tiny:train\", \"tiny:heldout\" or \"tiny:shift\" — did you mean 'tiny:heldout'?")
        let f = runKE("facts \"tiny:nwe\"")
        XCTAssertTrue(f.firstError?.hasSuffix("— did you mean 'tiny:new'?") ?? false, "\(f.errors)")
        let l = runKE("load \"tiny@abc\"")
        XCTAssertTrue(l.firstError?.hasPrefix("t.ke:1:6: error: \"tiny@abc\": the tiny run has no checkpoint at step abc; available steps: ") ?? false,
                      "\(l.errors)")
        let step = runKE("load \"tiny@7\"")
        XCTAssertTrue(step.firstError?.contains("the tiny run has no checkpoint at step 7") ?? false, "\(step.errors)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp), "nothing was written to the cache")
    }

    func testHelpListsTheNewForms() {
        let help = runKE("help").outputs.first ?? ""
        for form in ["argmin LIST", "argmax LIST", "str X", "if COND { … } else { … }", "[EXPR for NAME in LIST]",
                     "rescale MODEL bottom P by Q [on CORPUS] [using SUMS] [cap X]", "top MODEL [on CORPUS] [using SUMS] layer L [k K]"] {
            XCTAssertTrue(help.contains(form), form)
        }
        XCTAssertTrue(CommandRegistry.spec("rescale")?.summary.contains("explodes") ?? false)
        XCTAssertTrue(CommandRegistry.spec("entropy")?.summary.contains("One corpus pass per (model, corpus)") ?? false)
        XCTAssertTrue(CommandRegistry.vocabulary.contains("if") && CommandRegistry.vocabulary.contains("else"))
    }
    /// Every `save` into a folder that does not exist names that folder (never a temporary file)
    /// and creates nothing.
    func testSaveIntoAMissingFolderNamesIt() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").path
        let root = NSTemporaryDirectory() + "ke-save-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        let c = Captured()
        XCTAssertTrue(c.run("""
            let m = load "\(fixtures)/models/olmo"
            let c = corpus "\(fixtures)/corpus.txt"
            let s = sums m on c
            """).ok, "\(c.run.errors)")
        for target in ["s to \"\(root)/missing/x.safetensors\"", "m to \"\(root)/missing/model\""] {
            let r = c.run("save \(target)")
            XCTAssertFalse(r.ok, target)
            let text = r.errors.joined()
            XCTAssertTrue(text.contains("\(root)/missing: parent directory does not exist"), "\(target): \(text)")
            XCTAssertFalse(text.contains(".tmp-") || text.contains("ke-tmp"), "\(target): \(text)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), [])
        // Into an existing folder both work.
        XCTAssertTrue(c.run("save s to \"\(root)/x.safetensors\"\nsave m to \"\(root)/model\"").ok, "\(c.run.errors)")
    }

}
