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
                    // Probabilities ≤ ~0.1 from float32 logits within ~5e-6 of HF's (Δp ≈ p·Δz): ≲ 1e-6; 1e-5
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

/// Stopping at end-of-sequence as transformers does (Tests/Fixtures/chat), and the key/value
/// cache against re-running the whole sequence.
final class GenerationStopTests: XCTestCase {
    func testStopsWhereTransformersStops() throws {
        let dir = Fixtures.root + "/chat"
        let exp = try JSONValue.parse(bytes: readFileBytes(dir + "/expected.json"))
        let model = try Model.load(directory: dir)
        let prompt = exp["prompt"]?.stringValue ?? ""
        let want = (exp["generate"]?["ids"]?.arrayValue ?? []).compactMap(\.intValue)
        let wantAll = (exp["generate_ignore_eos"]?["ids"]?.arrayValue ?? []).compactMap(\.intValue)
        XCTAssertEqual(want.count, 6)
        for cached in [true, false] {
            let g = try generateGreedy(model: model, text: prompt, tokens: 16, useCache: cached)
            XCTAssertEqual(g.input, (exp["prompt_ids"]?.arrayValue ?? []).compactMap(\.intValue))
            XCTAssertEqual(g.generated, want, "cache \(cached)")
            XCTAssertEqual(g.stop, "eos")
            let all = try generateGreedy(model: model, text: prompt, tokens: 16, stopIDs: [], useCache: cached)
            XCTAssertEqual(all.generated, wantAll, "cache \(cached)")
            XCTAssertEqual(all.stop, "tokens")
        }
        // Fewer tokens than the EOS needs: stopped by the count.
        let short = try generateGreedy(model: model, text: prompt, tokens: 3)
        XCTAssertEqual(short.generated, Array(want.prefix(3)))
        XCTAssertEqual(short.stop, "tokens")
        // bf16 storage of the same model takes the same path.
        XCTAssertEqual(try generateGreedy(model: model.keepingBF16(), text: prompt, tokens: 16).stop, "eos")
    }

    func testCacheGivesTheSameIdsOnEveryArchitecture() throws {
        for name in Fixtures.modelNames {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            for prompt in ["The brown fox", "Hi.", "She ordered a café au lait and"] {
                let a = try generateGreedy(model: model, text: prompt, tokens: 40, stopIDs: [], useCache: true)
                let b = try generateGreedy(model: model, text: prompt, tokens: 40, stopIDs: [], useCache: false)
                XCTAssertEqual(a.generated, b.generated, "\(name) \(prompt)")
                XCTAssertEqual(a.stop, b.stop, "\(name) \(prompt)")
                XCTAssertEqual(a.generated.count, 40, "\(name) \(prompt)")
            }
            // Up to the maximum positions, also for a model with a coefficient intervention.
            let scaled = try model.scaled(layer: 1, memories: [0, 3, 5], by: 3)
            let a = try generateGreedy(model: scaled, text: "The brown fox", tokens: 500, stopIDs: [], useCache: true)
            let b = try generateGreedy(model: scaled, text: "The brown fox", tokens: 500, stopIDs: [], useCache: false)
            XCTAssertEqual(a.generated, b.generated, name)
            if case .dynamic = model.config.ropeScaling {
                // Dynamic RoPE exists to run past max_position_embeddings.
                XCTAssertEqual(a.stop, "tokens", name)
                continue
            }
            XCTAssertEqual(a.stop, "positions", name)
            XCTAssertEqual(a.input.count + a.generated.count, model.config.maxPositions, name)
        }
    }

    func testCachedLogitsMatchTheFullPass() throws {
        for name in Fixtures.modelNames {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let ids = Array(Fixtures.docs(try Fixtures.expected(name))[0].prefix(12))
            let cache = KVCache(config: model.config, capacity: ids.count)
            let rope = RopeTable(model.config, positions: ids.count)
            let arena = Arena()
            try withInferenceWeights(model) { w in
                var t = 0
                for chunk in [5, 1, 1, 3, 2] {
                    let got = try runIncremental(config: model.config, weights: w, multipliers: model.memoryMultipliers,
                                                 tokens: Array(ids[t..<(t + chunk)]), cache: cache, rope: rope, arena: arena)
                    t += chunk
                    let want = try lastLogits(model: model, tokens: Array(ids[0..<t]))
                    // KV-cache forward and full pass are separate float32 code paths (cached vs whole-sequence attention): the HF logit bound
                    XCTAssertLessThan(maxAbsDiff(got, want), 1e-4, "\(name) after \(t) tokens")
                }
            }
        }
    }
}
