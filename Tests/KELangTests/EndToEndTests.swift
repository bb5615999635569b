import Foundation
import XCTest
@testable import KECore
@testable import KELang

/// The language on the tiny Hugging Face fixtures (Tests/Fixtures), against the numbers
/// transformers recorded in each model's expected.json.
final class EndToEndTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    private func path(_ p: String) throws -> String {
        let full = fixtures.appendingPathComponent(p).path
        guard FileManager.default.fileExists(atPath: full) else { throw XCTSkip("fixture \(p) missing") }
        return full
    }

    private func expected(_ model: String) throws -> JSONValue {
        let data = try Data(contentsOf: URL(fileURLWithPath: try path("models/\(model)/expected.json")))
        return try JSONValue.parse(bytes: [UInt8](data))
    }

    private func number(_ s: String) -> Double { Double(s) ?? .nan }

    func testEntropyPerplexityAndRescaleMatchTransformers() throws {
        let olmo = try path("models/olmo"), corpus = try path("corpus.txt")
        let x = try expected("olmo")
        let c = Captured(json: true)
        let r = c.run("""
            let m = load "\(olmo)"
            let c = corpus "\(corpus)"
            let e = entropy m on c
            e.total; e.normalized; e.tokens; e.layers[0]; e.layers[-1]
            let p = perplexity m on c
            p.perplexity; p.loss; p.tokens
            (entropy (rescale m bottom 50% by 2 on c) on c).total
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        XCTAssertEqual(r.outputs.count, 9)
        guard r.outputs.count == 9 else { return }
        let ent = try XCTUnwrap(x["entropy"]), ppl = try XCTUnwrap(x["perplexity"])
        // Entropy total via the shell (shortest round-trip JSON) vs HF: ~1e-8 measured in ForwardParityTests; 1e-5
        XCTAssertEqual(number(r.outputs[0]), ent["total"]?.doubleValue ?? 0, accuracy: 1e-5)
        // normalized ≈ 0.98 carries the same ~1e-8 agreement: 1e-6
        XCTAssertEqual(number(r.outputs[1]), ent["normalized"]?.doubleValue ?? 0, accuracy: 1e-6)
        XCTAssertEqual(r.outputs[2], "\(ent["tokens"]?.intValue ?? -1)")
        // Per-layer entropy ≈ 4: ~1e-8 agreement with HF, 1e-5
        XCTAssertEqual(number(r.outputs[3]), ent["layers"]?.arrayValue?.first?.doubleValue ?? 0, accuracy: 1e-5)
        // Per-layer entropy ≈ 4: ~1e-8 agreement with HF, 1e-5
        XCTAssertEqual(number(r.outputs[4]), ent["layers"]?.arrayValue?.last?.doubleValue ?? 0, accuracy: 1e-5)
        // perplexity = exp(loss): a ~2e-7 loss difference is a ~2e-7 relative difference; 1e-4
        XCTAssertEqual(number(r.outputs[5]) / (ppl["perplexity"]?.doubleValue ?? 1), 1, accuracy: 1e-4)
        // Mean NLL ≈ 6.7 from float32 logits: ~2e-7 from HF's; 1e-4
        XCTAssertEqual(number(r.outputs[6]), ppl["loss"]?.doubleValue ?? 0, accuracy: 1e-4)
        XCTAssertEqual(r.outputs[7], "\(ppl["tokens"]?.intValue ?? -1)")
        // Rescaled entropy (rescale computes the means once more): ~1e-8 from HF's; 1e-4
        XCTAssertEqual(number(r.outputs[8]), x["rescale"]?["entropy"]?["total"]?.doubleValue ?? 0, accuracy: 1e-4)
    }

    func testJSONShapesOfModelCorpusAndResults() throws {
        let gpt2 = try path("models/gpt2"), jsonl = try path("corpus.jsonl")
        let x = try expected("gpt2")
        let r = runKE("""
            let m = load "\(gpt2)"
            m
            let c = corpus "\(jsonl)" limit 3 seq 8
            c
            let e = entropy m on c
            c
            tokenize m "Hi."
            e
            """, json: true)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        guard r.outputs.count == 5 else { return XCTFail("outputs: \(r.outputs)") }
        let params = x["config_summary"]?["parameters"]?.intValue ?? -1
        XCTAssertEqual(r.outputs[0], #"{"kind":"model","architecture":"gpt2","layers":2,"memories":128,"parameters":\#(params),"step":null}"#)
        XCTAssertEqual(r.outputs[1], #"{"kind":"corpus","documents":3,"tokens":null,"source":"\#(jsonl)"}"#)
        let used = try JSONValue.parse(r.outputs[2])
        XCTAssertEqual(used["documents"], .int(3))
        XCTAssertNotNil(used["tokens"]?.intValue, "token count known after use")
        let ids = x["docs"]?.arrayValue?[2] ?? .null
        let tokens = try JSONValue.parse(r.outputs[3])
        XCTAssertEqual(tokens["kind"], .string("tokens"))
        XCTAssertEqual(tokens["ids"], ids)
        XCTAssertEqual(tokens["tokens"], .array([.string("H"), .string("i"), .string(".")]))
        let e = try JSONValue.parse(r.outputs[4])
        XCTAssertEqual(e.objectValue?.map(\.0), ["kind", "total", "layers", "tokens", "normalized"])
        XCTAssertEqual(e["kind"], .string("entropy"))
    }

    func testHumanSummariesNestedLoadAndSave() throws {
        let olmo = try path("models/olmo"), corpus = try path("corpus.txt")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("ke-lang-save-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let c = Captured()
        let r = c.run("""
            let c = corpus "\(corpus)"
            let m = load "\(olmo)"
            m
            entropy load "\(olmo)" on c
            let r = rescale m bottom 0.5 by 2 on c
            r.interventions
            save r to "\(out)"
            (load "\(out)").layers
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        guard r.outputs.count == 5 else { return XCTFail("outputs: \(r.outputs)") }
        XCTAssertTrue(r.outputs[0].hasPrefix("model olmo"), r.outputs[0])
        XCTAssertTrue(r.outputs[0].contains("  layers         2"), r.outputs[0])
        XCTAssertTrue(r.outputs[0].contains("  memories/layer 64 (d_ff)"), r.outputs[0])
        XCTAssertTrue(r.outputs[0].contains("  interventions  none"), r.outputs[0])
        XCTAssertTrue(r.outputs[1].hasPrefix("knowledge entropy over 70 tokens"), r.outputs[1])
        XCTAssertTrue(r.outputs[1].contains("total 8.14715"), r.outputs[1])
        XCTAssertTrue(r.outputs[2].contains("rescale"), r.outputs[2])
        XCTAssertEqual(r.outputs[3], "saved \(out)")
        XCTAssertEqual(r.outputs[4], "2")
        // Saving again without force is refused, reported at the command.
        let again = c.run("save r to \"\(out)\"")
        XCTAssertFalse(again.ok)
        XCTAssertTrue(again.firstError?.hasPrefix("t.ke:1:1: error: ") ?? false, again.errors.joined())
    }

    func testCorpusIsTokenisedPerTokenizer() throws {
        let olmo = try path("models/olmo"), gpt2 = try path("models/gpt2"), corpus = try path("corpus.txt")
        let r = runKE("""
            let c = corpus "\(corpus)"
            let a = entropy (load "\(olmo)") on c
            let b = entropy (load "\(gpt2)") on c
            a.tokens == b.tokens
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        XCTAssertEqual(r.outputs, ["true"])
    }
}
