import XCTest
@testable import KECore

/// The forward pass, coefficient statistics, entropy, perplexity, rescale and ablation against
/// what Hugging Face transformers computed for the same checkpoints.
final class ForwardParityTests: XCTestCase {

    /// Logits of one document run alone.
    func logits(_ model: Model, _ doc: [Int]) throws -> [Float] { try packedLogits(model, [doc]) }

    func logits(_ model: Model, _ docs: [[Int]], scale: MemoryMultipliers) throws -> [Float] {
        try packedLogits(model, docs, scale: scale)
    }

    func testLogitsMatchTransformers() throws {
        for name in Fixtures.modelNames {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let exp = try Fixtures.expected(name)
            let arrays = try Fixtures.arrays(name)
            let docs = Fixtures.docs(exp)
            XCTAssertFalse(docs.isEmpty, name)
            var all: [Float] = []
            for (d, doc) in docs.enumerated() {
                let got = try logits(model, doc)
                let want = try arrays.floats("logits.\(d)")
                // float32 forward vs transformers' float32 recording, same ops summed in another order: logits ≲ 5 differ by ≤ 6e-6 (measured); 1e-4 leaves ≥ 15× margin
                XCTAssertLessThan(maxAbsDiff(got, want), 1e-4, "\(name) doc \(d)")
                all += want
            }
            // All documents packed into one batch give the same logits: no cross-document attention.
            let packed = try logits(model, docs, scale: model.memoryMultipliers)
            // A row in a packed batch has the bits it has alone (fixed-order kernel), so the same bound as one document
            XCTAssertLessThan(maxAbsDiff(packed, all), 1e-4, "\(name) packed")
        }
    }

    func testCoefficientsEntropyAndPerplexityMatchTransformers() throws {
        for name in Fixtures.modelNames {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let exp = try Fixtures.expected(name)
            let arrays = try Fixtures.arrays(name)
            let corpus = Corpus(documents: Fixtures.docs(exp), source: "fixture")
            let e = try knowledgeEntropy(of: model, on: corpus)
            for l in 0..<model.config.numLayers {
                let want = try arrays.floats("coef_means.\(l)")
                let got = e.stats.means[l]
                for (g, w) in zip(got, want) {
                    // Double means of float32 |coef| (≤ 1.3) vs HF's float64 means rounded to float32: ~1e-7 relative, 1e-5 for margin
                    XCTAssertEqual(g, Double(w), accuracy: 1e-5 * max(1, abs(Double(w))), "\(name) layer \(l)")
                }
            }
            let we = try XCTUnwrap(exp["entropy"])
            // Entropy of means that agree to ~1e-7 relative: measured ≤ 3e-8 absolute on ≈ 8–10; 1e-5 relative
            XCTAssertEqual(e.total, try XCTUnwrap(we["total"]?.doubleValue), accuracy: 1e-5 * e.total, name)
            // normalized = total / (L log F) ≤ 1: the same ~1e-8 agreement, held to 1e-5 absolute
            XCTAssertEqual(e.normalized, try XCTUnwrap(we["normalized"]?.doubleValue), accuracy: 1e-5, name)
            XCTAssertEqual(e.tokens, we["tokens"]?.intValue, name)
            // Each layer's entropy: same ~1e-8 agreement as the total, held to 1e-5 relative
            for (g, w) in zip(e.layers, we["layers"]?.doubles ?? []) { XCTAssertEqual(g, w, accuracy: 1e-5 * w, name) }

            let p = try perplexity(of: model, on: corpus)
            let wp = try XCTUnwrap(exp["perplexity"])
            // Mean NLL ≈ 6.7 from float32 logits within ~5e-6 of HF's: measured ≤ 2e-7; 1e-5 absolute
            XCTAssertEqual(p.loss, try XCTUnwrap(wp["loss"]?.doubleValue), accuracy: 1e-5, name)
            // perplexity = exp(loss): the loss's absolute error becomes a relative error (~2e-7), held to 1e-4
            XCTAssertEqual(p.perplexity, try XCTUnwrap(wp["perplexity"]?.doubleValue), accuracy: 1e-4 * p.perplexity, name)
            XCTAssertEqual(p.tokens, wp["tokens"]?.intValue, name)
        }
    }

    func testRescaleMatchesTransformers() throws {
        for name in Fixtures.modelNames {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let exp = try Fixtures.expected(name)
            let arrays = try Fixtures.arrays(name)
            let docs = Fixtures.docs(exp)
            let corpus = Corpus(documents: docs, source: "fixture")
            let stats = try coefficientStatistics(of: model, on: corpus)
            for l in 0..<model.config.numLayers {
                let got = try resuscitationMultipliers(means: stats.means[l], fraction: 0.5, factor: 2)
                let want = try arrays.floats("rescale.multipliers.\(l)")
                // mean / m_i · 2 from means agreeing to ~1e-7 relative: measured ≤ 5e-7 of the largest multiplier; 1e-4
                XCTAssertLessThan(maxAbsDiff(got, want), 1e-4 * Double(want.max() ?? 1), "\(name) layer \(l)")
            }
            let r = try model.rescaled(bottom: 0.5, by: 2, on: corpus)
            XCTAssertEqual(r.interventions.count, 1)
            XCTAssertTrue(model.interventions.isEmpty, "the original model is unchanged")
            let got = try logits(r, docs[0])
            // Rescaled forward vs HF's hooked forward, both float32: as for plain logits (measured ≤ 5e-6)
            XCTAssertLessThan(maxAbsDiff(got, try arrays.floats("rescale.logits.0")), 1e-4, "\(name) rescaled logits")
            let e = try knowledgeEntropy(of: r, on: corpus)
            let we = try XCTUnwrap(exp["rescale"]?["entropy"])
            // Entropy of the rescaled means: as unscaled, ~1e-8 absolute, held to 1e-5 relative
            XCTAssertEqual(e.total, try XCTUnwrap(we["total"]?.doubleValue), accuracy: 1e-5 * e.total, name)
        }
    }

    func testAblationMatchesTransformers() throws {
        for name in Fixtures.modelNames {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let exp = try Fixtures.expected(name)
            let arrays = try Fixtures.arrays(name)
            let layer = try XCTUnwrap(exp["ablate"]?["layer"]?.intValue)
            let index = try XCTUnwrap(exp["ablate"]?["index"]?.intValue)
            var mult: [[Float]?] = Array(repeating: nil, count: model.config.numLayers)
            var m = [Float](repeating: 1, count: model.config.intermediateSize)
            m[index] = 0
            mult[layer] = m
            let ablated = try model.scalingMemories(mult, note: "ablate")
            let got = try logits(ablated, Fixtures.docs(exp)[0])
            // Ablated forward vs HF's hooked forward, both float32: as for plain logits (measured ≤ 5e-6)
            XCTAssertLessThan(maxAbsDiff(got, try arrays.floats("ablate.logits.0")), 1e-4, name)
        }
    }
}
