import Foundation
import XCTest
@testable import KECore

/// `scale` / `ablate` against Hugging Face with a unit's activation zeroed, composition, save
/// round trips, and the per-token trace against the recorded coefficients.
final class InspectInterventionTests: XCTestCase {

    /// Logits [T, V] of one document.
    func logits(_ model: Model, _ doc: [Int]) throws -> [Float] { try packedLogits(model, [doc]) }

    func testAblateMatchesTransformers() throws {
        for name in Fixtures.modelNames {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let exp = try Fixtures.expected(name)
            let layer = try XCTUnwrap(exp["ablate"]?["layer"]?.intValue)
            let index = try XCTUnwrap(exp["ablate"]?["index"]?.intValue)
            let doc = Fixtures.docs(exp)[0]
            let ablated = try model.ablated(layer: layer, memories: [index])
            let want = try Fixtures.arrays(name).floats("ablate.logits.0")
            // float32 forward vs transformers' float32 recording, same ops summed in another order: logits ≲ 5 differ by ≤ 6e-6 (measured)
            XCTAssertLessThan(maxAbsDiff(try logits(ablated, doc), want), 1e-4, name)
            XCTAssertEqual(ablated.interventions, ["ablate layer 1 memories [5]"])
            // The original is unchanged.
            XCTAssertTrue(model.interventions.isEmpty)
            // The unmodified model against HF's plain logits: logits ≲ 5 differ by ≤ 6e-6 (measured)
            XCTAssertLessThan(maxAbsDiff(try logits(model, doc), try Fixtures.arrays(name).floats("logits.0")), 1e-4, name)
            // Scaling by 0 is the same intervention.
            let zero = try model.scaled(layer: layer, memories: [index], by: 0)
            // Scale by 0 gives the ablation's float32 forward: the same HF bound
            XCTAssertLessThan(maxAbsDiff(try logits(zero, doc), want), 1e-4, name)
        }
    }

    func testInterventionsCompose() throws {
        for name in ["olmo", "neox"] {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let exp = try Fixtures.expected(name)
            let doc = Fixtures.docs(exp)[0]
            let base = try logits(model, doc)
            // ×2 then ×0.5 on the same memories is the identity.
            let twice = try model.scaled(layer: 0, memories: [1, 7, 9], by: 2)
            XCTAssertGreaterThan(maxAbsDiff(try logits(twice, doc), base), 1e-3, "scaling changes the output")
            let back = try twice.scaled(layer: 0, memories: [1, 7, 9], by: 0.5)
            // Exact: ×2 then ×0.5 multiplies by powers of two, which round nothing
            XCTAssertEqual(maxAbsDiff(try logits(back, doc), base), 0, name)
            XCTAssertEqual(back.interventions, ["scale layer 0 memories [1, 7, 9] by 2",
                                                "scale layer 0 memories [1, 7, 9] by 0.5"])
            // Scaling then ablating the recorded memory equals ablating, when the memories differ.
            let both = try model.scaled(layer: 0, memories: [2], by: 3).ablated(layer: 1, memories: [5])
            let other = try model.ablated(layer: 1, memories: [5]).scaled(layer: 0, memories: [2], by: 3)
            // Exact: interventions on different layers commute, each multiplying its own coefficients or weights
            XCTAssertEqual(maxAbsDiff(try logits(both, doc), try logits(other, doc)), 0, name)
            XCTAssertEqual(both.interventions.count, 2)
        }
    }

    func testInterventionErrors() throws {
        let model = try Model.load(directory: Fixtures.modelDir("gpt2"))
        XCTAssertThrowsError(try model.ablated(layer: 2, memories: [0]))
        XCTAssertThrowsError(try model.ablated(layer: 0, memories: [128])) { e in
            XCTAssertTrue("\(e)".contains("memory 128"), "\(e)")
        }
        XCTAssertThrowsError(try model.ablated(layer: 0, memories: []))
        XCTAssertThrowsError(try model.scaled(layer: 0, memories: [1], by: .infinity))
        XCTAssertThrowsError(try model.scaled(layer: 0, memories: [-1], by: 2))
    }

    func testInterventionsSurviveSave() throws {
        let tmp = NSTemporaryDirectory() + "ke-inspect-save-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        // GELU (coefficientScale kept until save) and gated (folded at once).
        for name in ["neox", "gpt2", "olmo", "llama_gqa"] {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let doc = Fixtures.docs(try Fixtures.expected(name))[0]
            let changed = try model.ablated(layer: 1, memories: [5]).scaled(layer: 0, memories: [3, 4], by: 2.5)
            XCTAssertEqual(!changed.memoryMultipliers.isEmpty, !model.config.gatedMLP, name)
            let dir = tmp + "/" + name
            try changed.save(to: dir)
            let reloaded = try Model.load(directory: dir)
            XCTAssertTrue(reloaded.memoryMultipliers.isEmpty)
            let want = try logits(changed, doc)
            // GELU models fold the scale into W_down on save (c·s·w vs c·(s·w)): one rounding per product, measured ≤ 1.3e-6
            XCTAssertLessThan(maxAbsDiff(try logits(reloaded, doc), want), 1e-4, name)
            XCTAssertGreaterThan(maxAbsDiff(try logits(model, doc), want), 1e-3, name)
        }
    }

    func testTraceMatchesRecordedCoefficients() throws {
        let texts = try Corpus.readDocuments(path: Fixtures.root + "/corpus.txt")
        for name in Fixtures.modelNames {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let exp = try Fixtures.expected(name)
            let arrays = try Fixtures.arrays(name)
            let doc = Fixtures.docs(exp)[0]
            let F = model.config.intermediateSize
            for layer in 0..<model.config.numLayers {
                let want = try arrays.floats("coef.0.\(layer)")
                let got = try layerCoefficients(model: model, tokens: doc, layer: layer)
                // Coefficients from the float32 forward vs HF's float32 hook capture: measured ≲ 5e-7 on values ≲ 3; 1e-4
                XCTAssertLessThan(maxAbsDiff(got, want), 1e-4, "\(name) layer \(layer)")
                let trace = try traceMemories(model: model, text: texts[0], layer: layer, top: 3)
                XCTAssertEqual(trace.tokens.map(\.id), doc, name)
                for t in trace.tokens {
                    let row = Array(want[(t.position * F)..<((t.position + 1) * F)])
                    let order = row.indices.sorted { abs(row[$0]) > abs(row[$1]) }
                    XCTAssertEqual(t.memories.map(\.index), Array(order.prefix(3)), "\(name) token \(t.position)")
                    // The same recorded coefficients as the bound just above
                    for m in t.memories { XCTAssertEqual(m.coefficient, Double(row[m.index]), accuracy: 1e-4) }
                }
            }
        }
    }

    func testTraceSeesAnAblation() throws {
        let model = try Model.load(directory: Fixtures.modelDir("gpt2"))
        let ablated = try model.ablated(layer: 1, memories: [5])
        let a = try layerCoefficients(model: ablated, tokens: [10, 20, 30], layer: 1)
        let F = model.config.intermediateSize
        for t in 0..<3 { XCTAssertEqual(a[t * F + 5], 0) }
        let before = try layerCoefficients(model: model, tokens: [10, 20, 30], layer: 1)
        XCTAssertNotEqual(before[5], 0)
        XCTAssertThrowsError(try traceMemories(model: model, text: "", layer: 0)) { e in
            XCTAssertTrue("\(e)".contains("no tokens"))
        }
        XCTAssertThrowsError(try traceMemories(model: model, text: "a", layer: 9))
        let long = String(repeating: "x ", count: 100)
        XCTAssertThrowsError(try traceMemories(model: model, text: long, layer: 0)) { e in
            XCTAssertTrue("\(e)".contains("positions"), "\(e)")
        }
    }
}
