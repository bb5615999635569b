import XCTest
@testable import KECore

/// The public entry points on a real (fixture) model with its tokenizer.
final class TrainingModelTests: XCTestCase {
    func testTrainReturnsNewModelWithStepAndNote() throws {
        let model = try Model.load(directory: Fixtures.modelDir("llama_gqa")).with(step: .some(100))
        let corpus = try Corpus.load(path: Fixtures.root + "/corpus.txt", tokenizer: model.tokenizer)
        let before = model.f32Parameters().data
        let notes = NoteBox()
        let run = try trainRun(model, on: corpus, options: TrainOptions(steps: 4, batch: 3, seq: 16, lr: 1e-3),
                               progress: { _, _, n in notes.append(n) })
        XCTAssertEqual(model.f32Parameters().data, before, "input unchanged")
        XCTAssertNotEqual(run.model.f32Parameters().data, before)
        XCTAssertEqual(run.model.step, 104)
        XCTAssertEqual(run.losses.count, 4)
        XCTAssertTrue(run.model.interventions.last?.hasPrefix("train 4 steps on") ?? false)
        XCTAssertTrue(notes.items.allSatisfy { $0.hasPrefix("loss ") })
        // Unknown step stays unknown.
        let fresh = try Model.load(directory: Fixtures.modelDir("gpt2"))
        XCTAssertNil(try train(try fresh.with(step: .some(nil)), on: corpus, options: TrainOptions(steps: 1, batch: 2, seq: 16)).step)
    }

    func testInjectReportOnFixtureFacts() throws {
        let model = try Model.load(directory: Fixtures.modelDir("olmo"))
        let facts = try FactSet.load(path: Fixtures.root + "/facts.json")
        let replay = try Corpus.load(path: Fixtures.root + "/corpus.txt", tokenizer: model.tokenizer)
        var o = InjectOptions(steps: 30, lr: 3e-3, batch: 4, seq: 32, replay: replay, retain: facts, evalEvery: 10)
        o.training.seed = 3
        let r = try inject(facts, into: model, options: o)
        XCTAssertEqual(r.before, try probe(model, on: facts))
        XCTAssertEqual(r.after, try probe(r.model, on: facts))
        XCTAssertEqual(r.acquisition, r.after.pooled.accuracy)
        XCTAssertGreaterThan(r.gain, 0.5, "log-probability of the injected facts rises")
        XCTAssertEqual(r.curve.steps, [0, 10, 20, 30])
        XCTAssertNotNil(r.replayPerplexityBefore)
        XCTAssertNotNil(r.replayPerplexityAfter)
        XCTAssertEqual(r.retainBefore, r.before)
        // Exact: forgetting is defined as 1 − retention, the same Double operation
        if let ret = r.retention { XCTAssertEqual(r.forgetting!, 1 - ret) }
        XCTAssertNil(r.model.step)
        XCTAssertEqual(r.losses.count, 30)
    }
}
