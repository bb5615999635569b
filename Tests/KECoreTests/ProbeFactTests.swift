import XCTest
@testable import KECore

/// Fact-set loading and probe scoring.
final class ProbeFactTests: XCTestCase {
    func write(_ text: String, _ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ke-facts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    let item = #"{"train_context": "Zorbia is a land. Its capital is Quil.", "mem_input": ["Its capital is"], "mem_target": ["Quil."], "gen_input": ["The capital of Zorbia is"], "gen_target": ["Quil."]}"#

    func testLoadJSONAndJSONL() throws {
        let hard = #"{"train_context": "B", "mem_input": ["a", "b"], "mem_target": ["c", "d"], "gen_input": [], "gen_target": [], "hard_gen_input": ["x"], "hard_gen_target": ["y"]}"#
        let json = try FactSet.load(path: try write("[\(item), \(hard)]", "f.json"))
        XCTAssertEqual(json.count, 2)
        XCTAssertEqual(json.items[0].memorization, [Probe(input: "Its capital is", target: "Quil.")])
        XCTAssertNil(json.items[0].composition)
        XCTAssertEqual(json.items[1].composition, [Probe(input: "x", target: "y")])
        XCTAssertEqual(json.probeCounts.memorization, 3)
        let jsonl = try FactSet.load(path: try write("\(item)\n\n\(hard)\n", "f.jsonl"))
        XCTAssertEqual(jsonl.items, json.items)
    }

    func testLoadErrorsNameItemAndField() throws {
        func message(_ text: String, _ name: String = "f.json") throws -> String {
            do { _ = try FactSet.load(path: try write(text, name)); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(try message(#"[\#(item), {"mem_input": [], "mem_target": [], "gen_input": [], "gen_target": []}]"#)
            .contains("item 1: missing field \"train_context\""))
        XCTAssertTrue(try message(#"[{"train_context": "a", "mem_input": ["x"], "mem_target": ["y", "z"], "gen_input": [], "gen_target": []}]"#)
            .contains("item 0: \"mem_input\" has 1 entries but \"mem_target\" has 2"))
        XCTAssertTrue(try message(#"[{"train_context": "a", "mem_input": ["x", 3], "mem_target": ["y", "z"], "gen_input": [], "gen_target": []}]"#)
            .contains("item 0: field \"mem_input\"[1] must be a string"))
        XCTAssertTrue(try message(#"[{"train_context": 5}]"#).contains("item 0: field \"train_context\" must be a string"))
        XCTAssertTrue(try message(#"[{"train_context": "a", "mem_input": [], "mem_target": []}]"#).contains("missing field \"gen_input\""))
        XCTAssertTrue(try message("\(item)\n{\"train_context\": 1", "f.jsonl").contains("line 2: malformed JSON"))
        XCTAssertTrue(try message(#"{"a": 1}"#).contains("expected a list"))
        XCTAssertTrue(try message("[]").contains("no items"))
        XCTAssertTrue(try message("x", "f.txt").contains("unsupported"))
    }

    /// Sum of log p over tokens 1..<n of `doc`, from the training forward's mean loss.
    func totalLogProb(_ net: Transformer, _ doc: [Int]) throws -> Double {
        doc.count < 2 ? 0 : -(try lossAndGradients(net, batch: PackedBatch(documents: [doc]), grads: nil)) * Double(doc.count - 1)
    }

    func testProbeLogProbMatchesIndependentComputation() throws {
        let net = testNetwork(.llamaGQA, vocab: 64)
        let probes = [Probe(input: "Its capital is", target: "Quil."), Probe(input: "The capital of Zorbia is", target: "Quil."),
                      Probe(input: "a", target: "b")]
        let tok = try probes.map { try tokenizeProbe($0, encode: charEncode, name: "p") }
        XCTAssertEqual(tok[0].targetStart, 14)
        XCTAssertEqual(tok[0].tokens.count, 20)   // " Quil." is 6 characters
        let scores = try scoreProbes(net, tok)
        for (t, s) in zip(tok, scores) {
            let expected = (try totalLogProb(net, t.tokens) - totalLogProb(net, Array(t.tokens.prefix(t.targetStart))))
                / Double(t.tokens.count - t.targetStart)
            // Two float32 forward passes of different lengths summed in Double: ~1e-6 relative per log-prob.
            XCTAssertEqual(s.logprob, expected, accuracy: 1e-4)
            let n = Double(t.tokens.count - t.targetStart)
            // accuracy = hits / n with n ≤ 20: hits recovered to within a few ulps of an integer.
            XCTAssertEqual((s.accuracy * n).rounded(), s.accuracy * n, accuracy: 1e-9)
        }
        // Packing does not change scores.
        for (i, t) in tok.enumerated() {
            let alone = try scoreProbes(net, [t])[0]
            // Exact: the fixed-order matrix product computes each row from that row alone, and
            // documents never attend to each other, so batch-mates change no bit.
            XCTAssertEqual(alone.logprob, scores[i].logprob)
            XCTAssertEqual(alone.accuracy, scores[i].accuracy)
        }
    }

    func testFactSetScoreIsMeanOverProbes() throws {
        let net = testNetwork(.neoxParallel, vocab: 64)
        let facts = try FactSet.load(path: try write("[\(item)]", "f.json"))
        let fp = try FactProbes(facts, encode: charEncode)
        let r = try fp.score(net)
        XCTAssertEqual(r.memorization.count, 1)
        XCTAssertNil(r.composition)
        let m = try scoreProbes(net, fp.memorization)[0], g = try scoreProbes(net, fp.generalization)[0]
        // Exact: the mean over one probe is that probe's score, and its forward pass does not
        // depend on what it is batched with (see above).
        XCTAssertEqual(r.memorization.logprob, m.logprob)
        XCTAssertEqual(r.generalization.accuracy, g.accuracy)
        // The pooled mean sums two Doubles in another order than (m + g) / 2: a few ulps.
        XCTAssertEqual(r.pooled.logprob, (m.logprob + g.logprob) / 2, accuracy: 1e-14 * abs(m.logprob + g.logprob))
        XCTAssertLessThan(r.memorization.logprob, 0)
    }

    func testProbeWithoutTargetTokensIsAnError() {
        XCTAssertThrowsError(try tokenizeProbe(Probe(input: "", target: ""), encode: { _ in [] }, name: "item 0 mem probe 0")) { e in
            XCTAssertTrue("\(e)".contains("item 0 mem probe 0"))
        }
    }
}
