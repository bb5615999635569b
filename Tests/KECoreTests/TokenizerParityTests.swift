import XCTest
@testable import KECore

/// Compares every fixture tokenizer with the ids and decode strings recorded from HF `tokenizers`
/// (Scripts/fixtures/tokenizers.py → Tests/Fixtures/tokenizers/expected.json).
final class TokenizerParityTests: XCTestCase {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/tokenizers").path

    func loadExpected() throws -> JSONValue {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/expected.json"))
        return try JSONValue.parse(bytes: [UInt8](data))
    }

    func testAllFixtureTokenizersMatchHF() throws {
        let expected = try loadExpected()
        let texts = try XCTUnwrap(expected["texts"]?.arrayValue).compactMap { $0.stringValue }
        let tokenizers = try XCTUnwrap(expected["tokenizers"]?.objectValue)
        XCTAssertEqual(tokenizers.count, 9)
        XCTAssertGreaterThan(texts.count, 30)
        for (name, spec) in tokenizers {
            let tok = try Tokenizer(contentsOf: Self.dir + "/\(name).json")
            XCTAssertEqual(tok.vocabSize, spec["vocab_size"]?.intValue, "\(name) vocab size")
            let cases = try XCTUnwrap(spec["cases"]?.arrayValue)
            XCTAssertEqual(cases.count, texts.count)
            var mismatches = 0
            for (text, c) in zip(texts, cases) {
                let want = try XCTUnwrap(c["ids"]?.arrayValue).compactMap { $0.intValue }
                let got = tok.encode(text)
                if got != want {
                    mismatches += 1
                    let wantTokens = c["tokens"]?.arrayValue?.compactMap { $0.stringValue } ?? []
                    XCTFail("\(name) encode \(text.debugDescription):\n got  \(got) \(got.map { tok.token($0) ?? "?" })\n want \(want) \(wantTokens)")
                }
                XCTAssertEqual(tok.decode(want), c["decode"]?.stringValue, "\(name) decode \(text.debugDescription)")
                if let prefix = c["decode_prefix"]?.stringValue {
                    XCTAssertEqual(tok.decode(Array(want.dropLast())), prefix, "\(name) decode prefix \(text.debugDescription)")
                }
            }
            XCTAssertEqual(mismatches, 0, name)
            let probe = try XCTUnwrap(spec["decode_probe"]?["ids"]?.arrayValue).compactMap { $0.intValue }
            XCTAssertEqual(tok.decode(probe), spec["decode_probe"]?["text"]?.stringValue, "\(name) decode probe")
        }
    }
}
