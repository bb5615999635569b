import XCTest
@testable import KECore

/// Memory projections (`memory`, `top`, `search`) against Hugging Face's W_U · v_i.
final class InspectMemoryTests: XCTestCase {

    func testMemoryScoresMatchTransformers() throws {
        for name in Fixtures.modelNames {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let exp = try Fixtures.expected(name)
            let layer = try XCTUnwrap(exp["memory"]?["layer"]?.intValue)
            let index = try XCTUnwrap(exp["memory"]?["index"]?.intValue)
            let want = try Fixtures.arrays(name).floats("memory.scores")
            let got = try memoryScores(model: model, layer: layer, index: index)
            XCTAssertEqual(got.count, model.config.vocabSize, name)
            // float32 FMA chain over D = 32 vs HF's Double product rounded to float32: measured ≤ 9e-8 on scores ≤ 0.6; 1e-5
            XCTAssertLessThan(maxAbsDiff(got, want), 1e-5, name)

            // Top and bottom tokens are HF's scores sorted.
            let mt = try memoryTokens(model: model, layer: layer, index: index, top: 5)
            let order = want.indices.sorted { want[$0] > want[$1] }
            XCTAssertEqual(mt.top.map(\.id), Array(order.prefix(5)), name)
            XCTAssertEqual(mt.bottom.map(\.id), Array(order.reversed().prefix(5)), name)
            for t in mt.top + mt.bottom {
                // The same scores as above, widened to Double
                XCTAssertEqual(t.score, Double(want[t.id]), accuracy: 1e-5, name)
                XCTAssertEqual(t.token, model.tokenizer.decode([t.id]), name)
            }
            XCTAssertEqual(mt.layer, layer)
            XCTAssertEqual(mt.index, index)
        }
    }

    func testMemoryRejectsBadLayerAndIndex() throws {
        let model = try Model.load(directory: Fixtures.modelDir("olmo"))
        XCTAssertThrowsError(try memoryTokens(model: model, layer: 2, index: 0)) { e in
            XCTAssertTrue("\(e)".contains("layers 0…1"), "\(e)")
        }
        XCTAssertThrowsError(try memoryTokens(model: model, layer: -1, index: 0))
        XCTAssertThrowsError(try memoryTokens(model: model, layer: 0, index: 64)) { e in
            XCTAssertTrue("\(e)".contains("0…63"), "\(e)")
        }
        XCTAssertThrowsError(try memoryTokens(model: model, layer: 0, index: 0, top: 0))
    }

    func testSearchFindsTheStrongestPromoters() throws {
        for name in ["olmo", "neox", "gpt2", "llama_tied"] {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let token = try singleTokenID(model.tokenizer, " the")
            XCTAssertEqual(model.tokenizer.decode([token]), " the")
            let found = try searchMemories(model: model, tokenID: token, top: 7)
            XCTAssertEqual(found.count, 7)
            // Brute force over every memory with the memory projection.
            var all: [(Int, Int, Double)] = []
            for l in 0..<model.config.numLayers {
                for i in 0..<model.config.intermediateSize {
                    all.append((l, i, Double(try memoryScores(model: model, layer: l, index: i)[token])))
                }
            }
            all.sort { $0.2 > $1.2 }
            for (f, b) in zip(found, all) {
                XCTAssertEqual(f.layer, b.0, name)
                XCTAssertEqual(f.index, b.1, name)
                // Exact: search and memoryScores run the same FMA chain over d (multiplicands swapped, fma is commutative)
                XCTAssertEqual(f.score, b.2, name)
            }
        }
    }

    func testSingleTokenLookup() throws {
        let tok = try Model.load(directory: Fixtures.modelDir("olmo")).tokenizer
        // Vocabulary string and the text it stands for name the same id.
        XCTAssertEqual(try singleTokenID(tok, "Ġthe"), try singleTokenID(tok, " the"))
        XCTAssertThrowsError(try singleTokenID(tok, "")) { e in XCTAssertTrue("\(e)".contains("no token")) }
        XCTAssertThrowsError(try singleTokenID(tok, "zebra crossing")) { e in
            XCTAssertTrue("\(e)".contains("tokens"), "\(e)")
        }
    }

    func testTopMemoriesAreTheLargestMeans() throws {
        let model = try Model.load(directory: Fixtures.modelDir("neox"))
        let exp = try Fixtures.expected("neox")
        let arrays = try Fixtures.arrays("neox")
        let corpus = Corpus(documents: Fixtures.docs(exp), source: "fixture")
        let top = try topMemories(model: model, corpus: corpus, layer: 1, k: 4, tokens: 3)
        let want = try arrays.floats("coef_means.1")
        let order = want.indices.sorted { want[$0] > want[$1] }
        XCTAssertEqual(top.map(\.index), Array(order.prefix(4)))
        for m in top {
            // Double means of float32 |coef| vs HF's means rounded to float32: ~1e-7 on means ≤ 0.8; 1e-5
            XCTAssertEqual(m.mean, Double(want[m.index]), accuracy: 1e-5)
            XCTAssertEqual(m.tokens.count, 3)
            let mt = try memoryTokens(model: model, layer: 1, index: m.index, top: 3)
            XCTAssertEqual(m.tokens, mt.top)
        }
        XCTAssertThrowsError(try topMemories(model: model, corpus: corpus, layer: 5))
    }

    func testExtremeIndices() {
        let v: [Float] = [3, .nan, 5, 5, -1, 0]
        XCTAssertEqual(extremeIndices(v, k: 3, largest: true), [2, 3, 0])
        XCTAssertEqual(extremeIndices(v, k: 2, largest: false), [4, 5])
        XCTAssertEqual(extremeIndices(v, k: 10, largest: true), [2, 3, 0, 5, 4, 1])
        XCTAssertEqual(extremeIndices(v, k: 0, largest: true), [])
        // The large-k path (sort) agrees with the buffer path.
        let big = (0..<300).map { Float(($0 * 37) % 101) }
        let sorted = big.indices.sorted { big[$0] != big[$1] ? big[$0] > big[$1] : $0 < $1 }
        XCTAssertEqual(extremeIndices(big, k: 100, largest: true), Array(sorted.prefix(100)))
        XCTAssertEqual(extremeIndices(big, k: 20, largest: true), Array(sorted.prefix(20)))
    }
}
