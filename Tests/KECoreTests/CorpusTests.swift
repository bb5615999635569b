import Foundation
import XCTest
@testable import KECore

final class CorpusTests: XCTestCase {
    var dir: String = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "ke-corpus-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = dir + "/" + name
        FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    func testTextAndJSONLinesGiveTheSameDocuments() throws {
        let txt = try Corpus.readDocuments(path: Fixtures.root + "/corpus.txt")
        let jsonl = try Corpus.readDocuments(path: Fixtures.root + "/corpus.jsonl")
        XCTAssertEqual(txt.count, 5)
        XCTAssertEqual(txt, jsonl)
        XCTAssertEqual(try Corpus.readDocuments(path: Fixtures.root + "/corpus.txt", limit: 2), Array(txt.prefix(2)))
    }

    func testBlankLinesAndCRLFAreHandled() throws {
        let p = write("a.txt", Array("one\r\n\n  \ntwo\n".utf8))
        XCTAssertEqual(try Corpus.readDocuments(path: p), ["one", "two"])
    }

    func testInvalidUTF8NamesTheByteOffset() throws {
        let p = write("bad.txt", Array("ok\nab".utf8) + [0xC3, 0x28] + Array("\n".utf8))
        XCTAssertThrowsError(try Corpus.readDocuments(path: p)) { e in
            XCTAssertEqual((e as? CoreError)?.message, "invalid UTF-8 at byte 5 (line 2)")
        }
    }

    func testMalformedJSONLinesNameTheLine() throws {
        let p = write("bad.jsonl", Array("{\"text\": \"a\"}\n{\"text\": \n".utf8))
        XCTAssertThrowsError(try Corpus.readDocuments(path: p)) { e in
            XCTAssertTrue((e as? CoreError)?.message.hasPrefix("line 2: malformed JSON") ?? false, "\(e)")
        }
        let q = write("nofield.jsonl", Array("{\"body\": \"a\"}\n".utf8))
        XCTAssertThrowsError(try Corpus.readDocuments(path: q)) { e in
            XCTAssertEqual((e as? CoreError)?.message, "line 1: expected an object with a string field \"text\"")
        }
    }

    func testMissingFileAndWrongExtension() {
        XCTAssertThrowsError(try Corpus.readDocuments(path: dir + "/nope.txt")) { e in
            XCTAssertEqual((e as? CoreError)?.message, "no such file")
        }
        let p = write("c.csv", Array("x".utf8))
        XCTAssertThrowsError(try Corpus.readDocuments(path: p))
        XCTAssertThrowsError(try Corpus.readDocuments(path: Fixtures.root + "/corpus.txt", limit: 0))
    }

    func testPackedBatchesRespectTheBudgetAndSkipEmptyDocuments() {
        let docs = [[1, 2, 3], [], [4], Array(repeating: 5, count: batchTokenBudget)]
        let batches = packedBatches(docs)
        XCTAssertEqual(batches.count, 2)
        XCTAssertEqual(batches[0].lengths, [3, 1])
        XCTAssertEqual(batches[0].positions, [0, 1, 2, 0])
        XCTAssertEqual(batches[1].count, batchTokenBudget)
    }

    func testEntropyOfDistributions() {
        // Double: −4 · (¼ log ¼) is log 4 to a few ulps (~1e-16)
        XCTAssertEqual(distributionEntropy([1, 1, 1, 1])!, log(4.0), accuracy: 1e-12)
        // p = 1 contributes −1 · log 1 = 0 exactly in Double
        XCTAssertEqual(distributionEntropy([5, 0, 0])!, 0, accuracy: 1e-12)
        XCTAssertNil(distributionEntropy([0, 0]))
        XCTAssertNil(distributionEntropy([1, .nan]))
        XCTAssertEqual(try quantile([4, 1, 3, 2], 0.5), 2.5)
        XCTAssertEqual(try quantile([1, 2, 3], 1), 3)
        XCTAssertEqual(try resuscitationMultipliers(means: [1, 2, 3, 0], fraction: 0.5, factor: 2), [3, 1, 1, 1])
    }

    func testAllZeroLayerIsReportedNotNaN() {
        let stats = CoefficientStats(means: [[1, 2], [0, 0]], tokens: 3)
        XCTAssertThrowsError(try knowledgeEntropy(from: stats)) { e in
            XCTAssertEqual((e as? CoreError)?.message, "layer 1: every coefficient is zero on this corpus, so its entropy is undefined")
        }
    }
}
