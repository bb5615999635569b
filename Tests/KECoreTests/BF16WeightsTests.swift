import XCTest
@testable import KECore

/// Models kept as bf16 (`load … bf16`): the per-tile conversion inside the forward pass gives the
/// numbers of the same bf16 weights expanded to f32, for every fixture architecture.
final class BF16WeightsTests: XCTestCase {

    func logits(_ model: Model, _ docs: [[Int]]) throws -> [Float] { try packedLogits(model, docs) }

    func testBF16ModelsMatchTheirF32Expansion() throws {
        for name in Fixtures.modelNames {
            let f32 = try Model.load(directory: Fixtures.modelDir(name))
            let bf16 = try f32.keepingBF16()
            XCTAssertTrue(bf16.isBF16, name)
            // The reference: the same rounded weights, expanded to f32 up front.
            let compact = try XCTUnwrap(bf16.bf16)
            let ref = try Model(config: f32.config, storage: .f32(compact.expanded()), tokenizer: f32.tokenizer)
            let docs = Fixtures.docs(try Fixtures.expected(name))
            let corpus = Corpus(documents: docs, source: name)

            // Exact: a bf16 matrix is converted in tiles of output rows, and the fixed-order
            // matrix product computes each output element from its own row and column only, so
            // tiling changes no bit.
            let a = try logits(bf16, docs), b = try logits(ref, docs)
            XCTAssertEqual(a, b, "\(name) logits")
            let ea = try knowledgeEntropy(of: bf16, on: corpus), eb = try knowledgeEntropy(of: ref, on: corpus)
            XCTAssertEqual(ea.total, eb.total, "\(name) entropy")
            let pa = try perplexity(of: bf16, on: corpus), pb = try perplexity(of: ref, on: corpus)
            XCTAssertEqual(pa.loss, pb.loss, "\(name) loss")
            // Nothing above needed f32 weights: the model is still bf16 (2 bytes a parameter).
            XCTAssertTrue(bf16.isBF16, "\(name) stayed bf16")
            XCTAssertEqual(bf16.parameterCount, f32.parameterCount)
            // An intervention that keeps the weights keeps them bf16; an f32 copy is made only on
            // request and is not kept by the model.
            XCTAssertTrue(try bf16.with(addingIntervention: "note").isBF16)
            XCTAssertEqual(bf16.f32Parameters().data, ref.f32Parameters().data, name)
            XCTAssertTrue(bf16.isBF16, "\(name) is still bf16 after an f32 copy was made")
        }
    }

    func testBF16CheckpointIsExact() throws {
        // olmo_clip is stored as BF16: keeping it bf16 changes no number.
        let dir = Fixtures.modelDir("olmo_clip")
        let f32 = try Model.load(directory: dir), bf16 = try f32.keepingBF16()
        XCTAssertEqual(try XCTUnwrap(bf16.bf16).expanded().data, f32.f32Parameters().data)
        let docs = Fixtures.docs(try Fixtures.expected("olmo_clip"))
        XCTAssertEqual(try logits(bf16, docs), try logits(f32, docs))   // same weights, same bits (see above)
    }

    func testLoadingAsBF16ReadsTensorByTensorToTheSameBits() throws {
        // Every fixture layout (fused QKV, Conv1D transposes, sharded files, F16/BF16 sources):
        // loading straight to bf16 equals loading to f32 and rounding.
        for name in Fixtures.modelNames {
            let direct = try Model.load(directory: Fixtures.modelDir(name), keepBF16: true)
            let rounded = try Model.load(directory: Fixtures.modelDir(name)).keepingBF16()
            XCTAssertTrue(direct.isBF16, name)
            XCTAssertEqual(try XCTUnwrap(direct.bf16).bits, try XCTUnwrap(rounded.bf16).bits, name)
            XCTAssertEqual(try XCTUnwrap(direct.bf16).vectors, try XCTUnwrap(rounded.bf16).vectors, name)
        }
        XCTAssertThrowsError(try Model.load(directory: "/nonexistent/model", keepBF16: true))
    }
}
