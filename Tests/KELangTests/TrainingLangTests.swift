import Foundation
import XCTest
@testable import KECore
@testable import KELang

/// train, facts, probe, inject through the language, on the Hugging Face fixtures.
final class TrainingLangTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    func testProbeMatchesTransformersAndHasTheContractShape() throws {
        let exp = try JSONValue.parse(bytes: readFileBytes(fixtures + "/models/olmo/expected.json"))
        let probes = exp["probes"]?.arrayValue ?? []
        func mean(_ kind: String, _ field: String) -> Double {
            let xs = probes.filter { $0["kind"]?.stringValue == kind }.compactMap { $0[field]?.doubleValue }
            return xs.reduce(0, +) / Double(max(1, xs.count))
        }
        let r = Captured(json: true).run("""
            let m = load "\(fixtures)/models/olmo"
            let f = facts "\(fixtures)/facts.json"
            f
            probe m on f
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        guard r.outputs.count == 2 else { return XCTFail("\(r.outputs)") }
        let facts = try JSONValue.parse(r.outputs[0])
        XCTAssertEqual(facts["kind"]?.stringValue, "facts")
        XCTAssertEqual(facts["items"]?.intValue, 2)
        let p = try JSONValue.parse(r.outputs[1])
        XCTAssertEqual(p.objectValue?.map(\.0), ["kind", "memorization", "generalization", "composition"])
        XCTAssertTrue(p["composition"]?.isNull ?? false)
        // Mean log-probability from float32 logits vs HF's: ~1e-6 (see GradientParityTests); 1e-4
        XCTAssertEqual(p["memorization"]?["logprob"]?.doubleValue ?? 0, mean("mem", "mean_logprob"), accuracy: 1e-4)
        // Mean log-probability from float32 logits vs HF's: ~1e-6 (see GradientParityTests); 1e-4
        XCTAssertEqual(p["generalization"]?["logprob"]?.doubleValue ?? 0, mean("gen", "mean_logprob"), accuracy: 1e-4)
        // Accuracies are ratios of small integers averaged in Double: equal to a few ulps.
        XCTAssertEqual(p["memorization"]?["accuracy"]?.doubleValue ?? -1, mean("mem", "accuracy"), accuracy: 1e-9)
    }

    func testInjectReportFieldsAndRetentionAtZeroLearningRate() throws {
        let r = Captured(json: true).run("""
            let m = load "\(fixtures)/models/neox"
            let f = facts "\(fixtures)/facts.json"
            let c = corpus "\(fixtures)/corpus.txt"
            let m2 = train m on c steps 40 batch 4 seq 32 lr 3e-3
            let before = probe m2 on f
            let r = inject f into m2 steps 3 lr 0 batch 2 replay c retain f every 1
            r.acquisition == before.memorization.accuracy * 0 + r.acquisition
            r.curve.step
            len r.curve.retention
            r.replay_perplexity_before == r.replay_perplexity_after
            (perplexity r.model on c).loss == (perplexity m2 on c).loss
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        XCTAssertEqual(r.outputs, ["true", "[0,1,2,3]", "4", "true", "true"])
    }

    func testInjectionRaisesAccuracyAndTrainingLowersLoss() throws {
        let r = Captured(json: true).run("""
            let m = load "\(fixtures)/models/llama_gqa"
            let f = facts "\(fixtures)/facts.json"
            let c = corpus "\(fixtures)/corpus.txt"
            (perplexity (train m on c steps 30 batch 4 seq 32 lr 3e-3) on c).loss < (perplexity m on c).loss
            let r = inject f into m steps 60 lr 3e-3 batch 2
            r.acquisition > (probe m on f).memorization.accuracy
            r
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        guard r.outputs.count == 3 else { return XCTFail("\(r.outputs)") }
        XCTAssertEqual(Array(r.outputs.prefix(2)), ["true", "true"])
        let rep = try JSONValue.parse(r.outputs[2])
        XCTAssertEqual(rep.objectValue?.map(\.0), [
            "kind", "acquisition", "memorization", "generalization", "composition", "gain", "retention", "forgetting",
            "retention_reliable", "retain_before", "retain_after", "retain_tokens", "retain_before_correct",
            "retain_after_correct", "replay_perplexity_before", "replay_perplexity_after", "curve", "model",
            "replay_heldout_fraction", "replay_heldout_documents", "replay_train_documents",
        ])
        XCTAssertEqual(rep["curve"]?.objectValue?.map(\.0), ["step", "acquisition", "retention", "loss"])
        XCTAssertTrue(rep["curve"]?["loss"]?.arrayValue?.first?.isNull ?? false, "no training loss at step 0")
        XCTAssertEqual(rep["curve"]?["loss"]?.arrayValue?.dropFirst().allSatisfy { ($0.doubleValue ?? 0) > 0 }, true)
        XCTAssertTrue(rep["replay_heldout_fraction"]?.isNull ?? false, "no replay: no split")
        XCTAssertEqual(rep["model"]?["kind"]?.stringValue, "model")
        XCTAssertTrue(rep["retention"]?.isNull ?? false, "no retain set: retention is null")
    }

    func testTrainingArgumentErrors() {
        for (src, message) in [
            ("train 3 on 4", "expected a model"),
            ("probe (load \"\(fixtures)/models/olmo\") on 5", "expected a fact set"),
            ("facts \"\(fixtures)/nope.json\"", "no such file"),
        ] {
            let r = Captured(json: true).run(src)
            XCTAssertFalse(r.ok, src)
            XCTAssertTrue(r.errors.joined().contains(message), "\(src): \(r.errors)")
        }
    }
    func testOptimiserOptionsChangeTheRunAndAreChecked() {
        let r = Captured(json: true).run("""
            let m = load "\(fixtures)/models/olmo"
            let c = corpus "\(fixtures)/corpus.txt"
            let a = (perplexity (train m on c steps 10 batch 2 seq 16 lr 3e-3) on c).loss
            let b = (perplexity (train m on c steps 10 batch 2 seq 16 lr 3e-3 schedule "constant" wd 0 clip 0 beta1 0.8 beta2 0.99 eps 1e-6 final 0.5) on c).loss
            a == b
            a == (perplexity (train m on c steps 10 batch 2 seq 16 lr 3e-3) on c).loss
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        XCTAssertEqual(r.outputs, ["false", "true"], "options change the run; the default run is deterministic")
        for (opt, message) in [("schedule \"linear\"", "must be \"cosine\", \"constant\" or \"wsd\""),
                               ("beta1 1", "must be in [0, 1)"), ("final 2", "must be between 0 and 1"),
                               ("wd -1", "must be ≥ 0")] {
            let e = Captured(json: true).run("""
                train (load "\(fixtures)/models/olmo") on (corpus "\(fixtures)/corpus.txt") steps 1 \(opt)
                """)
            XCTAssertFalse(e.ok, opt)
            XCTAssertTrue(e.errors.joined().contains(message), "\(opt): \(e.errors)")
        }
    }
}
