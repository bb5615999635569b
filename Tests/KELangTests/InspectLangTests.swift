import Foundation
import XCTest
@testable import KECore
@testable import KELang

/// The commands that look inside a model, on the Hugging Face fixtures: JSON shapes, numbers against what
/// transformers recorded, human printing, chart forms and errors.
final class InspectLangTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    private func expected(_ model: String) throws -> JSONValue {
        try JSONValue.parse(bytes: readFileBytes(fixtures + "/models/\(model)/expected.json"))
    }

    private func arrays(_ model: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: fixtures + "/models/\(model)/expected.safetensors")
    }

    /// Runs `source` (after loading `m` and corpus `c`) with JSON output; one parsed value per output.
    private func json(_ source: String, model: String = "olmo", file: StaticString = #filePath, line: UInt = #line) throws -> [JSONValue] {
        let r = runKE("""
            let m = load "\(fixtures)/models/\(model)"
            let c = corpus "\(fixtures)/corpus.txt"
            \(source)
            """, json: true)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"), file: file, line: line)
        return try r.outputs.map { try JSONValue.parse($0) }
    }

    private func keys(_ v: JSONValue?) -> [String] { v?.objectValue?.map(\.0) ?? [] }

    /// softmax of the last row of a recorded [T, V] logits array.
    private func lastSoftmax(_ logits: [Float], vocab V: Int) -> [Double] {
        let last = logits.suffix(V).map(Double.init)
        let mx = last.max() ?? 0
        let e = last.map { Foundation.exp($0 - mx) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    // MARK: Distributions

    func testCoefficientsJSONAndNumbers() throws {
        let x = try expected("neox")
        let out = try json("coefficients m on c", model: "neox")
        let v = try XCTUnwrap(out.first)
        XCTAssertEqual(keys(v), ["kind", "layers", "tokens"])
        XCTAssertEqual(v["kind"], .string("coefficients"))
        XCTAssertEqual(v["tokens"], x["entropy"]?["tokens"])
        let layers = try XCTUnwrap(v["layers"]?.arrayValue)
        XCTAssertEqual(layers.count, 2)
        let want = x["entropy"]?["layers"]?.arrayValue?.compactMap(\.doubleValue) ?? []
        for (l, layer) in layers.enumerated() {
            XCTAssertEqual(keys(layer), ["entropy", "normalized", "gini", "top1_share", "silent", "mean"])
            // Per-layer entropy from means agreeing with HF's to ~1e-7 relative: ~1e-8; 1e-5
            XCTAssertEqual(try XCTUnwrap(layer["entropy"]?.doubleValue), want[l], accuracy: 1e-5)
            // normalized = entropy / log 128 ≤ 1: the same ~1e-8; 1e-6
            XCTAssertEqual(try XCTUnwrap(layer["normalized"]?.doubleValue), want[l] / Foundation.log(128), accuracy: 1e-6)
            let mean = layer["mean"]?.arrayValue?.compactMap(\.doubleValue) ?? []
            let hf = try arrays("neox").floats("coef_means.\(l)").map(Double.init)
            XCTAssertEqual(mean.count, 128)
            // Double means of float32 |coef| vs HF's means rounded to float32: ~1e-7; 1e-5
            XCTAssertLessThan(zip(mean, hf).map { abs($0 - $1) }.max() ?? 1, 1e-5)
            // Largest mean over their sum, from means within ~1e-7 of HF's: ~1e-7 on a share ≤ 0.1; 1e-5
            XCTAssertEqual(try XCTUnwrap(layer["top1_share"]?.doubleValue), (hf.max() ?? 0) / hf.reduce(0, +), accuracy: 1e-5)
            // Gini of means within ~1e-7 of HF's (a Lipschitz function of them): ~1e-7; 1e-5
            XCTAssertEqual(layer["gini"]?.doubleValue ?? -1, giniCoefficient(hf), accuracy: 1e-5)
            XCTAssertNotNil(layer["silent"]?.intValue)
        }
    }

    func testCoefficientViews() throws {
        let out = try json("""
            let k = coefficients m on c
            hist k layer 1 bins 8 log
            hist [1, 2, 2, 3] bins 2
            rank k layer 0
            heatmap k
            heatmap [[1, 2], [3, 4]]
            let e = entropy m on c
            hist e layer 0 bins 4
            compare k (coefficients (ablate m layer 0 memories [0, 1, 2, 3, 4, 5, 6, 7]) on c)
            k.layers[1].silent >= 0
            """)
        XCTAssertEqual(out.count, 8)
        guard out.count == 8 else { return }
        // hist of a coefficients result: layer 1's 64 means in 8 bins.
        XCTAssertEqual(out[0]["type"], .string("hist"))
        XCTAssertEqual(out[0]["layer"], .int(1))
        XCTAssertEqual(out[0]["values"]?.arrayValue?.count, 64)
        XCTAssertEqual(out[0]["bins"], .int(8))
        XCTAssertEqual(out[0]["log"], .bool(true))
        XCTAssertTrue(out[0]["text"]?.stringValue?.contains("layer 1") ?? false)
        // The list form is unchanged.
        XCTAssertEqual(keys(out[1]), ["kind", "type", "values", "bins", "text"])
        // rank: sorted descending, log axis.
        XCTAssertEqual(out[2]["type"], .string("line"))
        let ranked = out[2]["values"]?.arrayValue?.compactMap(\.doubleValue) ?? []
        XCTAssertEqual(ranked.count, 64)
        XCTAssertEqual(ranked, ranked.sorted(by: >))
        // heatmap: layers × percentile bands (64 memories → 64 bands), relative to the layer mean.
        let matrix = out[3]["matrix"]?.arrayValue ?? []
        XCTAssertEqual(matrix.count, 2)
        let row = matrix.first?.arrayValue?.compactMap(\.doubleValue) ?? []
        XCTAssertEqual(row.count, 64)
        // 64 Doubles printed to JSON (shortest round trip) and summed: a few ulps of 1.
        XCTAssertEqual(row.reduce(0, +) / 64, 1, accuracy: 1e-9)
        XCTAssertEqual(out[3]["labels"], .array([.string("L0"), .string("L1")]))
        XCTAssertEqual(out[4]["matrix"], .array([.array([.int(1), .int(2)]), .array([.int(3), .int(4)])]))
        // hist of an entropy result uses its coefficient statistics.
        XCTAssertEqual(out[5]["values"]?.arrayValue?.count, 64)
        // compare: layer 0 changes (8 memories switched off), layer 1 only through the residual stream.
        XCTAssertEqual(out[6]["kind"], .string("comparison"))
        XCTAssertEqual(keys(out[6]), ["kind", "layers", "total_a", "total_b", "chart"])
        let rows = out[6]["layers"]?.arrayValue ?? []
        XCTAssertEqual(keys(rows.first), ["layer", "a", "b", "difference"])
        let a0 = rows.first?["a"]?.doubleValue ?? 0, b0 = rows.first?["b"]?.doubleValue ?? 0
        XCTAssertLessThan(b0, a0, "switching memories off lowers the layer's entropy")
        XCTAssertEqual(out[6]["chart"]?["type"], .string("line"))
        XCTAssertEqual(out[7], .bool(true))
    }

    // MARK: Memories

    func testMemoryMatchesTransformers() throws {
        for name in ["olmo", "gpt2", "llama_tied"] {
            let out = try json("memory m layer 0 index 3 top 4", model: name)
            let v = try XCTUnwrap(out.first)
            XCTAssertEqual(keys(v), ["kind", "layer", "index", "top", "bottom"])
            XCTAssertEqual(v["layer"], .int(0))
            XCTAssertEqual(v["index"], .int(3))
            let scores = try arrays(name).floats("memory.scores")
            let order = scores.indices.sorted { scores[$0] > scores[$1] }
            let top = v["top"]?.arrayValue ?? []
            XCTAssertEqual(top.compactMap { $0["id"]?.intValue }, Array(order.prefix(4)), name)
            XCTAssertEqual(keys(top.first), ["id", "token", "score"])
            for t in top {
                // float32 FMA chain over D = 32 vs HF's Double product rounded to float32: ≤ 9e-8 on scores ≤ 0.6; 1e-5
                XCTAssertEqual(t["score"]?.doubleValue ?? .nan, Double(scores[t["id"]?.intValue ?? 0]), accuracy: 1e-5)
            }
            let bottom = v["bottom"]?.arrayValue ?? []
            XCTAssertEqual(bottom.compactMap { $0["id"]?.intValue }, Array(order.reversed().prefix(4)), name)
        }
    }

    func testTopTraceAndSearch() throws {
        let out = try json("""
            top m on c layer 1 k 3
            trace m "The brown fox" layer 0 top 2
            search m " the" top 4
            """, model: "gpt2")
        XCTAssertEqual(out.count, 3)
        guard out.count == 3 else { return }
        XCTAssertEqual(keys(out[0]), ["kind", "layer", "memories"])
        let mems = out[0]["memories"]?.arrayValue ?? []
        XCTAssertEqual(mems.count, 3)
        XCTAssertEqual(keys(mems.first), ["index", "mean", "tokens"])
        let hf = try arrays("gpt2").floats("coef_means.1")
        let order = hf.indices.sorted { hf[$0] > hf[$1] }
        XCTAssertEqual(mems.compactMap { $0["index"]?.intValue }, Array(order.prefix(3)))
        XCTAssertEqual(mems.first?["tokens"]?.arrayValue?.count, 5)

        XCTAssertEqual(keys(out[1]), ["kind", "layer", "tokens"])
        let tokens = out[1]["tokens"]?.arrayValue ?? []
        let model = try Model.load(directory: fixtures + "/models/gpt2")
        XCTAssertEqual(tokens.compactMap { $0["id"]?.intValue }, model.tokenizer.encode("The brown fox"))
        XCTAssertEqual(keys(tokens.first), ["position", "id", "token", "memories"])
        XCTAssertEqual(keys(tokens.first?["memories"]?.arrayValue?.first), ["index", "coefficient"])
        XCTAssertEqual(tokens.first?["memories"]?.arrayValue?.count, 2)

        XCTAssertEqual(keys(out[2]), ["kind", "token", "id", "memories"])
        XCTAssertEqual(out[2]["token"], .string(" the"))
        let found = out[2]["memories"]?.arrayValue ?? []
        XCTAssertEqual(found.count, 4)
        XCTAssertEqual(keys(found.first), ["layer", "index", "score"])
        let scores = found.compactMap { $0["score"]?.doubleValue }
        XCTAssertEqual(scores, scores.sorted(by: >))
    }

    // MARK: Interventions and predictions

    func testPredictAndAblationMatchTransformers() throws {
        let texts = try Corpus.readDocuments(path: fixtures + "/corpus.txt")
        for name in ["olmo", "neox", "gpt2"] {
            let out = try json("""
                predict m "\(texts[0])" top 3
                predict (ablate m layer 1 memories [5]) "\(texts[0])" top 3
                """, model: name)
            XCTAssertEqual(out.count, 2)
            guard out.count == 2 else { return }
            let V = 384
            for (v, key) in zip(out, ["logits.0", "ablate.logits.0"]) {
                XCTAssertEqual(keys(v), ["kind", "top"])
                XCTAssertEqual(v["kind"], .string("prediction"))
                let p = lastSoftmax(try arrays(name).floats(key), vocab: V)
                let order = p.indices.sorted { p[$0] > p[$1] }
                let top = v["top"]?.arrayValue ?? []
                XCTAssertEqual(keys(top.first), ["id", "token", "probability"])
                XCTAssertEqual(top.compactMap { $0["id"]?.intValue }, Array(order.prefix(3)), "\(name) \(key)")
                for t in top {
                    // Probabilities ≤ ~0.1 from float32 logits within ~5e-6 of HF's (Δp ≈ p·Δz): ≲ 5e-7; 1e-6
                    XCTAssertEqual(t["probability"]?.doubleValue ?? .nan, p[t["id"]?.intValue ?? 0], accuracy: 1e-6, "\(name) \(key)")
                }
            }
        }
    }

    func testInterventionsAreListedComposeAndGenerate() throws {
        let c = Captured()
        let r = c.run("""
            let m = load "\(fixtures)/models/neox"
            let a = scale (ablate m layer 1 memories [5]) layer 0 memories [1, 2] by 2.5
            a
            a.interventions
            m.interventions
            generate m "The brown fox" tokens 3
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        guard r.outputs.count == 4 else { return XCTFail("\(r.outputs)") }
        XCTAssertTrue(r.outputs[0].contains("interventions  ablate layer 1 memories [5]"), r.outputs[0])
        XCTAssertTrue(r.outputs[0].contains("scale layer 0 memories [1, 2] by 2.5"), r.outputs[0])
        XCTAssertEqual(r.outputs[2], "[]")
        XCTAssertTrue(r.outputs[3].hasPrefix("The brown fox["), r.outputs[3])
        XCTAssertTrue(r.outputs[3].contains("(3 tokens)"), r.outputs[3])

        let g = try json("generate m \"The brown fox\" tokens 4\npredict m \"The brown fox\" top 1", model: "gpt2")
        XCTAssertEqual(keys(g.first), ["kind", "prompt", "text", "ids", "stop"])
        XCTAssertEqual(g.first?["ids"]?.arrayValue?.count, 4)
        XCTAssertEqual(g.first?["stop"], .string("tokens"))
        XCTAssertEqual(g.first?["ids"]?.arrayValue?.first, g.last?["top"]?.arrayValue?.first?["id"])
    }

    // MARK: Checkpoint series

    func testCheckpointSeriesEntropyAndPlot() throws {
        let dir = fixtures + "/series"
        let x = try JSONValue.parse(bytes: readFileBytes(dir + "/expected.json"))
        let out = try json("""
            let s = checkpoints "\(dir)"
            s
            let es = entropy s on c
            es
            plot es
            plot es layers
            (entropy s[2] on c).total
            len s
            """)
        XCTAssertEqual(out.count, 6)
        guard out.count == 6 else { return }
        let cps = out[0].arrayValue ?? []
        XCTAssertEqual(cps.compactMap { $0["name"]?.stringValue }, x["folders"]?.arrayValue?.compactMap(\.stringValue))
        XCTAssertEqual(cps.compactMap { $0["step"]?.intValue }, x["order"]?.arrayValue?.compactMap(\.intValue))
        XCTAssertEqual(keys(cps.first), ["kind", "name", "step", "path"])
        let es = out[1].arrayValue ?? []
        let want = x["checkpoints"]?.arrayValue ?? []
        XCTAssertEqual(es.count, 5)
        for (e, w) in zip(es, want) {
            XCTAssertEqual(e["kind"], .string("entropy"))
            XCTAssertEqual(e["step"], w["step"])
            // Series entropies (≈ 7) from float32 forwards vs HF's: ~1e-8, held to 1e-5
            XCTAssertEqual(e["total"]?.doubleValue ?? 0, w["entropy"]?["total"]?.doubleValue ?? 1, accuracy: 1e-5)
        }
        XCTAssertEqual(out[2]["type"], .string("line"))
        XCTAssertEqual(out[2]["x"], x["order"])
        XCTAssertEqual(out[2]["series"]?.arrayValue?.count, 1)
        XCTAssertEqual(out[3]["series"]?.arrayValue?.count, 2)
        XCTAssertEqual(out[3]["labels"], .array([.string("layer 0"), .string("layer 1")]))
        // The same series entropy picked by index: same bound
        XCTAssertEqual(out[4].doubleValue ?? 0, want[2]["entropy"]?["total"]?.doubleValue ?? 1, accuracy: 1e-5)
        XCTAssertEqual(out[5], .int(5))

        // Human form of one checkpoint.
        let h = runKE("(checkpoints \"\(dir)\")[0]")
        XCTAssertEqual(h.outputs.first, "checkpoint step-50: step 50, olmo, 2 layers × 32 memories (loaded when used)")
        // The list: one checkpoint per line, in step order.
        let list = runKE("checkpoints \"\(dir)\"").outputs.first?.split(separator: "\n") ?? []
        XCTAssertEqual(list.count, 5)
        XCTAssertTrue(list.last?.hasPrefix("checkpoint step3000-tokens4B: step 3000") ?? false, "\(list)")
    }

    // MARK: Errors and help

    func testErrors() throws {
        let setup = "let m = load \"\(fixtures)/models/olmo\"\n"
        func fails(_ source: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
            let r = runKE(setup + source)
            XCTAssertFalse(r.ok, source, file: file, line: line)
            XCTAssertTrue(r.firstError?.contains(fragment) ?? false, "\(r.errors)", file: file, line: line)
        }
        fails("memory m layer 2 index 0", "must be between 0 and 1, found 2")
        fails("memory m layer 0 index 64", "must be between 0 and 63, found 64")
        fails("ablate m layer 0 memories [70]", "memory 70 does not exist")
        fails("ablate m layer 0 memories []", "needs at least one memory")
        fails("scale m layer 0 memories [1.5] by 2", "whole numbers")
        fails("search m \"zebra crossing\"", "give a single token")
        fails("predict m \"\"", "the text has no tokens")
        fails("hist [1, 2, 3] layer 0", "'hist … layer' applies to a coefficients result")
        fails("hist (coefficients m on corpus \"\(fixtures)/corpus.txt\")", "needs 'layer L'")
        fails("plot [1, 2] layers", "applies to a list of entropy results")
        fails("rank [1, 2] layer 0", "expected a coefficients result")
        fails("checkpoints \"\(fixtures)/tokenizers\"", "no checkpoint folders")
        fails("entropy [m, 3] on corpus \"\(fixtures)/corpus.txt\"", "element 1 is a number")
    }

    func testHelpHasFormulasAndSynopses() {
        XCTAssertEqual(CommandRegistry.spec("scale")?.synopsis, "scale MODEL layer L memories [i, j, …] by Q")
        XCTAssertEqual(CommandRegistry.spec("ablate")?.synopsis, "ablate MODEL layer L memories [i, …]")
        XCTAssertEqual(CommandRegistry.spec("memory")?.synopsis, "memory MODEL layer L index I [top K]")
        XCTAssertEqual(CommandRegistry.spec("top")?.synopsis, "top MODEL [on CORPUS] [using SUMS] layer L [k K]")
        XCTAssertEqual(CommandRegistry.spec("trace")?.synopsis, "trace MODEL \"TEXT\" layer L [top K]")
        XCTAssertEqual(CommandRegistry.spec("predict")?.synopsis, "predict MODEL \"TEXT\" [top K]")
        XCTAssertEqual(CommandRegistry.spec("generate")?.synopsis, "generate MODEL \"TEXT\" [tokens N] [ignore_eos]")
        XCTAssertEqual(CommandRegistry.spec("checkpoints")?.synopsis,
                       "checkpoints \"DIR\" [tokenizer \"FILE\"] [cache \"DIR\"] [revisions […]] [every N]")
        XCTAssertEqual(CommandRegistry.spec("rank")?.synopsis, "rank C layer L")
        XCTAssertEqual(CommandRegistry.spec("compare")?.synopsis, "compare A B")
        XCTAssertTrue(CommandRegistry.spec("hist")?.synopsis.hasPrefix("hist VALUES [layer L] [bins N] [log]") ?? false)
        XCTAssertTrue(CommandRegistry.spec("memory")?.summary.contains("scores = W_U · v_I") ?? false)
        XCTAssertTrue(CommandRegistry.spec("predict")?.summary.contains("softmax") ?? false)
        XCTAssertTrue(CommandRegistry.spec("coefficients")?.summary.contains("gini = Σ_i Σ_j |m_i − m_j|") ?? false)
        XCTAssertTrue(CommandRegistry.spec("search")?.summary.contains("W_U[token] · v_i") ?? false)
    }
}
