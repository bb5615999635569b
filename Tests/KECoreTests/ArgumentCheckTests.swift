import XCTest
@testable import KECore

/// Public entry points reject arguments of the wrong range or shape with an error. Release builds
/// keep Swift's bounds and overflow checks, so without these checks such calls would trap.
final class ArgumentCheckTests: XCTestCase {
    /// A model whose weights hold a NaN gets an error from every measurement, never a number.
    func testNonFiniteModelIsAnErrorEverywhere() throws {
        let m = try Model.load(directory: Fixtures.modelDir("llama_gqa"))
        var p = m.f32Parameters()
        guard let up = p.slot("L0.up.w") else { return XCTFail("no up projection") }
        p.data[up.offset] = .nan
        let bad = try m.with(params: p)
        let corpus = try Corpus(texts: ["The cat sat on the mat."], tokenizer: m.tokenizer, source: "t")
        assertCoreError("not finite") { _ = try coefficientStatistics(of: bad, on: corpus) }
        assertCoreError("not finite") { _ = try exactCoefficientSums(of: bad, on: corpus) }
        assertCoreError("not finite") { _ = try layerCoefficients(model: bad, tokens: corpus.documents[0], layer: 1) }
        assertCoreError("not finite") { _ = try perplexity(of: bad, on: corpus) }
    }

    func testQuantileRejectsOutOfRangeQAndNaN() {
        assertCoreError("between 0 and 1") { _ = try quantile([1, 2, 3], 3) }
        assertCoreError("between 0 and 1") { _ = try quantile([1, 2, 3], -0.1) }
        assertCoreError("between 0 and 1") { _ = try quantile([1, 2, 3], .nan) }
        assertCoreError("NaN") { _ = try quantile([1, .nan, 3], 0.5) }
        assertCoreError("between 0 and 1") { _ = try resuscitationMultipliers(means: [1, 2], fraction: 1.5, factor: 2) }
    }

    func testAdamWRejectsMismatchedBuffers() {
        let store = ParameterStore(slots: [TensorSlot(name: "w", shape: [2, 2], offset: 0)], data: [1, 2, 3, 4])
        var opt = AdamW(layout: store, options: AdamWOptions())
        var p = store.data, short: [Float] = [0, 0, 0], g: [Float] = [0, 0, 0, 0]
        assertCoreError("all must agree") { try opt.step(params: &p, grads: &short, lr: 0.1) }
        assertCoreError("second gradient buffer") { try opt.step(params: &p, grads: &g, lr: 0.1, adding: [1]) }
        assertCoreError("learning rate") { try opt.step(params: &p, grads: &g, lr: .nan) }
        var longer: [Float] = [1, 2, 3, 4, 5], g5: [Float] = [0, 0, 0, 0, 0]
        assertCoreError("all must agree") { try opt.step(params: &longer, grads: &g5, lr: 0.1) }
    }

    func testMemoryMultipliersMustMatchTheModel() throws {
        for name in ["olmo", "gpt2"] {
            let m = try Model.load(directory: Fixtures.modelDir(name))
            let L = m.config.numLayers, F = m.config.intermediateSize
            assertCoreError("for \(L - 1) layers") {
                _ = try m.scalingMemories(Array(repeating: nil, count: L - 1), note: "x")
            }
            var wrong: [[Float]?] = Array(repeating: nil, count: L)
            wrong[0] = [Float](repeating: 2, count: F + 1)
            assertCoreError("layer 0: \(F + 1) memory multipliers given") { _ = try m.scalingMemories(wrong, note: "x") }
            wrong[0] = [Float](repeating: 2, count: F)
            wrong[0]![3] = .infinity
            assertCoreError("layer 0, memory 3") { _ = try m.scalingMemories(wrong, note: "x") }
            assertCoreError("layer 0: \(F - 1) memory multipliers given") {
                _ = try Model(config: m.config, storage: .f32(m.f32Parameters()), tokenizer: m.tokenizer,
                              memoryMultipliers: [[Float](repeating: 1, count: F - 1)] + Array(repeating: nil, count: L - 1))
            }
            assertCoreError("for 0 layers") { _ = try m.with(memoryMultipliers: try MemoryMultipliers([], config: m.config)) }
        }
    }
}
