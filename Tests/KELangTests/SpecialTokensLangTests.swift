import Foundation
import XCTest
@testable import KELang
import KECore

/// `tokenize … special` and `corpus … special` (HF `add_special_tokens=True`), and the load-time
/// check of added-token ids against the embedding matrix, on a copy of the OLMo fixture whose
/// tokenizer.json gets an OLMo-2-style post-processor (`<|endoftext|> $A`).
final class SpecialTokensLangTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// A copy of models/olmo with `edit` applied to its tokenizer.json.
    func model(_ edit: (inout [String: Any]) -> Void) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ke-special-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("models/olmo"), to: dir)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let tokPath = dir.appendingPathComponent("tokenizer.json")
        var tok = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: tokPath)) as? [String: Any])
        edit(&tok)
        try JSONSerialization.data(withJSONObject: tok).write(to: tokPath)
        return dir.path
    }

    func withBOS(_ tok: inout [String: Any]) {
        tok["post_processor"] = [
            "type": "TemplateProcessing",
            "single": [["SpecialToken": ["id": "<|endoftext|>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
            "pair": [["Sequence": ["id": "A", "type_id": 0]], ["Sequence": ["id": "B", "type_id": 1]]],
            "special_tokens": ["<|endoftext|>": ["id": "<|endoftext|>", "ids": [0], "tokens": ["<|endoftext|>"]]],
        ] as [String: Any]
    }

    func testSpecialAddsThePostProcessorTokens() throws {
        let dir = try model(withBOS)
        let corpus = fixtures.appendingPathComponent("corpus.txt").path
        let r = runKE("""
            let m = load "\(dir)"
            (tokenize m "Hi there." special).ids
            (tokenize m "Hi there.").ids
            (perplexity m on corpus "\(corpus)" limit 3 special).tokens
            (perplexity m on corpus "\(corpus)" limit 3).tokens
            (entropy m on corpus "\(corpus)" limit 3 special).tokens
            (entropy m on corpus "\(corpus)" limit 3).tokens
            let c = corpus "\(corpus)" limit 2 seq 4 special
            perplexity m on c
            """, json: true)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        guard r.outputs.count == 7 else { return XCTFail("outputs: \(r.outputs)") }
        let special = try JSONValue.parse(r.outputs[0]).arrayValue?.compactMap { $0.intValue } ?? []
        let plain = try JSONValue.parse(r.outputs[1]).arrayValue?.compactMap { $0.intValue } ?? []
        XCTAssertEqual(special, [0] + plain)
        // One more token per document: perplexity predicts it (T + 1 tokens predict T), entropy counts it.
        XCTAssertEqual(Int(r.outputs[2]), (Int(r.outputs[3]) ?? 0) + 3)
        XCTAssertEqual(Int(r.outputs[4]), (Int(r.outputs[5]) ?? 0) + 3)
        // seq 4 keeps the BOS: 3 text tokens + BOS per document, 3 predicted each.
        XCTAssertEqual(try JSONValue.parse(r.outputs[6])["tokens"]?.intValue, 6)
    }

    func testSpecialOnBuiltInCorpusIsAnError() {
        let r = runKE(#"corpus "tiny:heldout" special"#)
        XCTAssertFalse(r.ok)
        XCTAssertTrue(r.firstError?.contains("error: 'special' is for corpus files") ?? false, r.errors.joined())
    }

    func testAddedTokenOutsideTheEmbeddingIsALoadError() throws {
        // 384 vocabulary entries and 384 embedding rows: the first new added token gets id 384.
        let dir = try model { tok in
            var added = tok["added_tokens"] as? [[String: Any]] ?? []
            added.append(["id": 7, "content": "<|user|>", "single_word": false, "lstrip": false, "rstrip": false,
                          "normalized": false, "special": true])
            tok["added_tokens"] = added
        }
        let r = runKE("load \"\(dir)\"")
        XCTAssertFalse(r.ok)
        let e = r.errors.joined()
        XCTAssertTrue(e.contains("tokenizer.json: added token \"<|user|>\" gets id 384") && e.contains("385 ids")
                      && e.contains("384 rows"), e)
    }
}
