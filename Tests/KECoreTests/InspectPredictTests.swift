import Foundation
import XCTest
@testable import KECore

/// `predict` against HF softmax; greedy `generate`.
final class InspectPredictTests: XCTestCase {

    func testPredictMatchesTransformersSoftmax() throws {
        let texts = try Corpus.readDocuments(path: Fixtures.root + "/corpus.txt")
        for name in Fixtures.modelNames {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let exp = try Fixtures.expected(name)
            let arrays = try Fixtures.arrays(name)
            let docs = Fixtures.docs(exp)
            let V = model.config.vocabSize
            for d in [0, 2] {
                let all = try arrays.floats("logits.\(d)")
                let last = Array(all[((docs[d].count - 1) * V)...])
                // HF softmax, in Double.
                let mx = Double(last.max() ?? 0)
                let e = last.map { Foundation.exp(Double($0) - mx) }
                let s = e.reduce(0, +)
                let p = e.map { $0 / s }
                let order = p.indices.sorted { p[$0] > p[$1] }
                let got = try predictNext(model: model, text: texts[d], top: 5)
                XCTAssertEqual(got.input, docs[d], name)
                XCTAssertEqual(got.top.map(\.id), Array(order.prefix(5)), "\(name) doc \(d)")
                for t in got.top {
                    XCTAssertEqual(t.probability, p[t.id], accuracy: 1e-5, name)
                    XCTAssertEqual(t.token, model.tokenizer.decode([t.id]))
                }
                // The full distribution sums to 1.
                let full = try predictNext(model: model, text: texts[d], top: V)
                // Softmax in Double over ≤ 1e3 entries: the sum is 1 to ~1e-13.
                XCTAssertEqual(full.top.reduce(0) { $0 + $1.probability }, 1, accuracy: 1e-9)
            }
        }
    }

    func testGenerateIsGreedy() throws {
        for name in ["olmo", "gpt2"] {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let g = try generateGreedy(model: model, text: "The brown fox", tokens: 6)
            XCTAssertEqual(g.generated.count, 6)
            XCTAssertEqual(g.stop, "tokens")
            XCTAssertEqual(g.text, model.tokenizer.decode(g.generated))
            // Each generated token is the most probable next token of the sequence so far.
            var seq = g.input
            for next in g.generated {
                let logits = try lastLogits(model: model, tokens: seq)
                XCTAssertEqual(extremeIndices(logits, k: 1, largest: true), [next], name)
                seq.append(next)
            }
            // The first token is predict's most probable token.
            let first = try predictNext(model: model, text: "The brown fox", top: 1)
            XCTAssertEqual(first.top.first?.id, g.generated.first)
            let zero = try generateGreedy(model: model, text: "The brown fox", tokens: 0)
            XCTAssertEqual(zero.generated, [])
        }
    }

    func testGenerateStopsAtMaxPositions() throws {
        let model = try Model.load(directory: Fixtures.modelDir("gpt2"))  // 64 learned positions
        let g = try generateGreedy(model: model, text: "The brown fox jumps over the lazy dog.", tokens: 500)
        XCTAssertEqual(g.input.count + g.generated.count, model.config.maxPositions)
        XCTAssertEqual(g.stop, "positions")
        XCTAssertThrowsError(try generateGreedy(model: model, text: "", tokens: 3))
        XCTAssertThrowsError(try predictNext(model: model, text: "x", top: 0))
    }
}
