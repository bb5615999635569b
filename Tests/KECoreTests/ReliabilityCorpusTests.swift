import Foundation
import XCTest
@testable import KECore

// MARK: Reliability: corpora and the numbers computed on them
//
// Missing or odd corpus files give errors naming the file (and the line or byte offset); an
// empty corpus says "no tokens" instead of producing NaN; results are never NaN or infinite.

final class ReliabilityCorpusTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try makeTempDir(self)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let p = dir + "/" + name
        try writeFileBytes(bytes, to: p)
        return p
    }

    /// The tiny GPT-2 fixture model (with its tokenizer).
    func model() throws -> Model { try Model.load(directory: Fixtures.modelDir("gpt2")) }

    // MARK: Files

    func testCorpusPathsThatAreNotCorpusFiles() throws {
        try FileManager.default.createDirectory(atPath: dir + "/d.txt", withIntermediateDirectories: false)
        assertNamedError(dir + "/d.txt", "is a directory") { _ = try Corpus.readDocuments(path: dir + "/d.txt") }
        assertNamedError(dir + "/missing.jsonl", "no such file") { _ = try Corpus.readDocuments(path: dir + "/missing.jsonl") }
        // A missing file is "no such file" whatever its extension; an existing one of another
        // format is named as such.
        assertNamedError(dir + "/x.parquet", "no such file") { _ = try Corpus.readDocuments(path: dir + "/x.parquet") }
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/y.parquet"))
        assertNamedError(dir + "/y.parquet", "unsupported corpus format") { _ = try Corpus.readDocuments(path: dir + "/y.parquet") }
    }

    /// JSON lines that parse but are not {"text": string} name their line.
    func testJSONLinesOfTheWrongShapeNameTheLine() throws {
        for (line, n) in [("[1, 2]", 2), ("\"text\"", 2), ("{\"text\": 5}", 2), ("{\"text\": null}", 2), ("null", 2)] {
            let p = try write("c.jsonl", Array("{\"text\": \"fine\"}\n\(line)\n".utf8))
            assertNamedError(p, "line \(n): expected an object with a string field \"text\"") { _ = try Corpus.readDocuments(path: p) }
        }
        // A JSON error names the line and the column.
        let p = try write("c.jsonl", Array("\n\n{\"text\": \"a\" \"b\"}\n".utf8))
        assertNamedError(p, "line 3: malformed JSON (expected ',' or '}' at column 14)") { _ = try Corpus.readDocuments(path: p) }
    }

    /// Invalid UTF-8 anywhere (a lone continuation byte, a truncated sequence at the end of the
    /// file, an overlong encoding, a surrogate) gives the byte offset of the first bad byte.
    func testInvalidUTF8GivesTheByteOffset() throws {
        let cases: [([UInt8], Int, Int)] = [
            (Array("abc\n".utf8) + [0x80], 4, 2),
            (Array("héllo\nwor".utf8) + [0xE2, 0x82], 10, 2),
            ([0xC0, 0x80], 0, 1),
            (Array("x".utf8) + [0xED, 0xA0, 0x80], 1, 1),
            (Array("ok\nok\nok ".utf8) + [0xF5, 0x80, 0x80, 0x80], 9, 3),
        ]
        for (bytes, offset, line) in cases {
            let p = try write("u.txt", bytes)
            assertNamedError(p, "invalid UTF-8 at byte \(offset) (line \(line))") { _ = try Corpus.readDocuments(path: p) }
        }
        // Inside a JSON line too (before the JSON is parsed).
        let p = try write("u.jsonl", Array("{\"text\": \"a\"}\n{\"text\": \"".utf8) + [0xFF] + Array("\"}\n".utf8))
        assertNamedError(p, "invalid UTF-8 at byte 24 (line 2)") { _ = try Corpus.readDocuments(path: p) }
    }

    // MARK: Empty corpora

    /// Empty files, blank lines and empty texts make a corpus with no tokens: entropy says so
    /// and names the file, perplexity too, never NaN.
    func testEmptyCorpusHasNoTokensNotNaN() throws {
        let m = try model()
        let files = [
            try write("empty.txt", []),
            try write("blank.txt", Array("\n  \n\t\r\n".utf8)),
            try write("empty.jsonl", Array("{\"text\": \"\"}\n\n".utf8)),
        ]
        for p in files {
            let corpus = try Corpus.load(path: p, tokenizer: m.tokenizer)
            XCTAssertEqual(corpus.tokenCount, 0)
            assertNamedError(p, "the corpus has no tokens") { _ = try knowledgeEntropy(of: m, on: corpus) }
            assertNamedError(p, "no token to predict") { _ = try perplexity(of: m, on: corpus) }
        }
    }

    /// One-token documents: entropy is defined (tokens are seen), perplexity has nothing to predict.
    func testOneTokenDocumentsHaveNoPerplexity() throws {
        let m = try model()
        let corpus = Corpus(documents: [[1], [2]], source: "one.txt")
        let e = try knowledgeEntropy(of: m, on: corpus)
        XCTAssertTrue(e.total.isFinite && e.normalized.isFinite)
        XCTAssertEqual(e.tokens, 2)
        assertNamedError("one.txt", "every document has fewer than 2 tokens") { _ = try perplexity(of: m, on: corpus) }
    }

    /// Token ids outside the model's vocabulary are an error, not an out-of-bounds read.
    func testTokenIDsOutsideTheVocabulary() throws {
        let m = try model()
        let V = m.config.vocabSize
        for bad in [V, -1, Int(Int32.max) + 1, Int.max] {
            let corpus = Corpus(documents: [[0, bad]], source: "ids")
            assertCoreError("outside the vocabulary") { _ = try knowledgeEntropy(of: m, on: corpus) }
            assertCoreError("outside the vocabulary") { _ = try perplexity(of: m, on: corpus) }
        }
    }

    // MARK: Numbers

    /// Layers whose coefficients are all zero or not finite are reported by number, not as NaN.
    func testDegenerateLayersAreNamed() {
        assertCoreError("layer 0: every coefficient is zero") {
            _ = try knowledgeEntropy(from: CoefficientStats(means: [[0, 0, 0]], tokens: 1))
        }
        assertCoreError("layer 1: coefficients are not finite") {
            _ = try knowledgeEntropy(from: CoefficientStats(means: [[1, 2], [.infinity, 1]], tokens: 1))
        }
        assertCoreError("layer 0: coefficients are not finite") {
            _ = try knowledgeEntropy(from: CoefficientStats(means: [[.nan, 1]], tokens: 1))
        }
    }

    /// Resuscitation multipliers: factor 0 silences the bottom memories (never 0 · ∞ = NaN),
    /// and ordinary means give finite multipliers.
    func testResuscitationMultipliersAreNeverNaN() throws {
        XCTAssertEqual(try resuscitationMultipliers(means: [1e-300, 1, 1e300], fraction: 0.5, factor: 0), [0, 0, 1])
        let means: [[Double]] = [[], [0], [0, 0, 0], [1e-6, 1, 1e6], [3, 1, 2, 0]]
        for m in means {
            for fraction in [0, 0.1, 0.5, 1] {
                for factor in [0, 1, 1e6] {
                    let r = try resuscitationMultipliers(means: m, fraction: fraction, factor: factor)
                    XCTAssertEqual(r.count, m.count)
                    XCTAssertTrue(r.allSatisfy { $0.isFinite }, "\(m) \(fraction) \(factor) → \(r)")
                }
            }
        }
    }

    /// A memory so quiet that its multiplier overflows Float makes `rescale` an error naming
    /// the layer and memory, not a model full of infinities.
    func testRescaleMultiplierOverflowIsAnError() throws {
        let m = try model()
        var p = m.f32Parameters()
        let D = m.config.hiddenSize
        guard let up = p.slot("L0.up.w"), let upB = p.slot("L0.up.b") else { return XCTFail("no up projection") }
        for j in 0..<D { p.data[up.offset + j] *= 1e-30 }
        p.data[upB.offset] *= 1e-30
        let quiet = try Model(config: m.config, storage: .f32(p), tokenizer: m.tokenizer)
        let corpus = Corpus(documents: [[1, 2, 3, 4], [5, 6, 7]], source: "c.txt")
        assertNamedError("c.txt", "layer 0, memory 0: the multiplier") {
            _ = try quiet.rescaled(bottom: 0.1, by: 1e9, on: corpus)
        }
        // A moderate factor on the same model is fine, and the result's entropy is finite.
        let r = try quiet.rescaled(bottom: 0.1, by: 1, on: corpus)
        XCTAssertTrue(try knowledgeEntropy(of: r, on: corpus).total.isFinite)
    }
}
