import Foundation
import XCTest
@testable import KECore
@testable import KELang

/// The paper's protocol through the language: `corpus … pack`, `.npy` corpora, fact versions,
/// `inject … on CORPUS`, series, `pearson`/`spearman`, and their errors.
final class ContinualLangTests: XCTestCase {
    let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path + "/continual"
    var models: String { dir + "/../models" }

    /// The recorded `olmo` run of `Tests/Fixtures/continual/expected.json` as a script.
    var olmoRun: String {
        """
        let rows = corpus "\(dir)/corpus.txt" seq 48 pack
        let f = facts "\(dir)/facts.json"
        let once = facts "\(dir)/once.json"
        let m = load "\(models)/olmo"
        let r = inject f into m on rows once once steps 7 every 2 batch 4 lr 1e-2 warmup 2 final 0.1 eps 1e-5 wd 0.1 clip 1.0
        """
    }

    func testContinualResultHasTheContractShape() throws {
        let r = Captured(json: true).run(olmoRun + "\nr\nf\nrows")
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        guard r.outputs.count == 3 else { return XCTFail("\(r.outputs)") }
        let v = try JSONValue.parse(r.outputs[0])
        XCTAssertEqual(v["kind"]?.stringValue, "continual")
        for key in ["acquisition", "forgetting", "k", "p", "curve", "steps", "events", "corpus_epochs", "fact_tokens_cut",
                    "protocol", "model", "settings"] {
            XCTAssertNotNil(v[key], key)
        }
        XCTAssertTrue(v["forgetting"]!.isNull)
        XCTAssertTrue(v["p"]!.isNull)
        XCTAssertTrue(v["protocol"]!.isNull)
        XCTAssertEqual(v["steps"]?.intValue, 7)
        XCTAssertEqual(v["events"]?.intValue, 3)
        XCTAssertEqual(v["corpus_epochs"]?.intValue, 4)
        XCTAssertEqual(v["fact_tokens_cut"]?.intValue, 61)
        XCTAssertEqual(v["curve"]?.objectValue?.map(\.0), ["step", "k", "k_paraphrase", "k_once", "loss", "lr"])
        XCTAssertEqual(v["curve"]?["step"]?.arrayValue?.compactMap(\.intValue), [0, 2, 4, 6, 7])
        XCTAssertTrue(v["curve"]?["loss"]?.arrayValue?.first?.isNull ?? false)
        XCTAssertTrue(v["curve"]?["lr"]?.arrayValue?.first?.isNull ?? false)
        for part in ["paraphrase", "once", "memorization", "generalization", "composition"] {
            XCTAssertNotNil(v["k"]?[part]?["start"]?.doubleValue, part)
            XCTAssertNotNil(v["k"]?[part]?["end"]?.doubleValue, part)
        }
        let start = v["k"]!["start"]!.doubleValue!, end = v["k"]!["end"]!.doubleValue!
        XCTAssertEqual(v["acquisition"]!.doubleValue!, 1 - end / start, accuracy: 1e-15)
        let facts = try JSONValue.parse(r.outputs[1])
        XCTAssertEqual(facts["versions"]?.intValue, 3)
        let rows = try JSONValue.parse(r.outputs[2])
        XCTAssertEqual(rows["documents"]?.intValue, 9)
    }

    func testProtocolSetsThePaperValuesAndClausesOverrideThem() throws {
        // The paper's rows are 1,024 tokens; this corpus's are 48, so seq must be given.
        let r = Captured(json: true).run(olmoRun + """

            let p = inject f into m on rows protocol "kim2025" steps 4 every 2 batch 2 seq 48
            p.settings
            p.protocol
            p.curve.lr
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        guard r.outputs.count == 3 else { return XCTFail("\(r.outputs)") }
        let s = try JSONValue.parse(r.outputs[0])
        XCTAssertEqual(s["steps"]?.intValue, 4)
        XCTAssertEqual(s["every"]?.intValue, 2)
        XCTAssertEqual(s["batch"]?.intValue, 2)
        XCTAssertEqual(s["seq"]?.intValue, 48)
        XCTAssertEqual(s["lr"]?.doubleValue, 4e-4)
        XCTAssertEqual(s["warmup"]?.intValue, 80)
        XCTAssertEqual(s["final"]?.doubleValue, 0.1)
        XCTAssertEqual(s["eps"]?.doubleValue, 1e-5)
        XCTAssertEqual(s["wd"]?.doubleValue, 0.1)
        XCTAssertEqual(s["clip"]?.doubleValue, 1.0)
        XCTAssertEqual(r.outputs[1], "\"kim2025\"")
        // All four steps are in the 80-step warm-up: X·(0.1 + 0.9·g/80).
        let lrs = try JSONValue.parse(r.outputs[2]).arrayValue ?? []
        XCTAssertEqual(lrs.compactMap(\.doubleValue), [2, 4].map { 4e-4 * (0.1 + 0.9 * Double($0) / 80) })
    }

    func testSeriesGivesOneResultPerCheckpointWithItsStep() throws {
        let r = Captured(json: true).run("""
            let rows = corpus "\(dir)/corpus.txt" seq 32 pack
            let f = facts "\(dir)/facts.json"
            let rs = inject f into (checkpoints "\(dir)/../series") on rows steps 2 every 1 batch 2 lr 1e-3
            len rs
            [rs[0].step, rs[-1].step]
            rs[0].events
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        XCTAssertEqual(r.outputs.first, "5")
        XCTAssertEqual(r.outputs.dropFirst().first, "[50,3000]")
        XCTAssertEqual(r.outputs.last, "2")
    }

    func testErrors() {
        let pre = """
            let f = facts "\(dir)/facts.json"
            let m = load "\(models)/olmo"
            let plain = corpus "\(dir)/corpus.txt"
            let rows = corpus "\(dir)/corpus.txt" seq 48 pack

            """
        // Line 5 is the statement under test.
        assertError(pre + "inject f into m on plain steps 2", "5:20: error: the paper's protocol trains on the rows of a packed corpus: write corpus \"FILE\" seq N pack (or use a .npy token file)")
        assertError(pre + "inject f into m on rows seq 32 steps 2", "5:29: error: 'seq 32' differs from the corpus's rows of 48 tokens: pack the corpus with seq 32, or leave seq out")
        assertError(pre + "inject f into m on rows steps 2 replay plain", "5:40: error: 'inject … replay' belongs to ke's own injection mode; the paper's protocol ('on CORPUS') takes its rows in order, with no replay, retain set or seed")
        assertError(pre + "inject f into m once f steps 2", "5:22: error: 'inject … once' belongs to the paper's protocol, which trains on a packed corpus: add 'on CORPUS'")
        assertError(pre + "inject f into m on rows protocol \"olmo\"", "5:34: error: unknown protocol \"olmo\": the one defined is \"kim2025\" (Kim et al. 2025)")
        assertError(pre + "inject f into m on rows steps 4 every 5", "5:39: error: 'inject … every 5' is more than steps 4: no injection event would happen")
        assertError(pre + "corpus \"\(dir)/corpus.txt\" pack", "5:\(dir.count + 22): error: 'pack' cuts the documents into rows of N tokens: give 'seq N' too")
    }

    func testNumPyCorpora() throws {
        let r = Captured(json: true).run("""
            let m = load "\(models)/olmo"
            let a = corpus "\(dir)/corpus.tokens.npy" seq 32
            let b = corpus "\(dir)/corpus.rows48.npy"
            a
            b
            perplexity m on b
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        XCTAssertEqual(try JSONValue.parse(r.outputs[0])["documents"]?.intValue, 13)
        XCTAssertEqual(try JSONValue.parse(r.outputs[1])["documents"]?.intValue, 9)
        let bad = runKE("corpus \"\(dir)/corpus.rows48.npy\" seq 32")
        XCTAssertFalse(bad.ok)
        XCTAssertTrue(bad.firstError?.contains("does not match the rows of this 2-D .npy file, which are 48 tokens wide") ?? false,
                      bad.firstError ?? "")
        let flat = runKE("corpus \"\(dir)/corpus.tokens.npy\"")
        XCTAssertTrue(flat.firstError?.contains("give `seq N`") ?? false, flat.firstError ?? "")
    }

    func testPearsonAndSpearman() {
        assertOutputs("pearson [1, 2, 3] [2, 4, 6]", ["1"])
        assertOutputs("pearson [1, 2, 3] [3, 2, 1]", ["-1"])
        assertOutputs("spearman [1, 2, 3, 4] [1, 8, 27, 64]", ["1"])
        // Ties share the average rank: ranks [1, 2.5, 2.5, 4] against [1, 2, 3, 4] (scipy: 0.9486833).
        assertOutputs("spearman [1, 2, 2, 3] [1, 2, 3, 4]", ["0.948683"])
        assertError("pearson [1, 2] [1, 2]", "1:9: error: 'pearson' needs at least 3 points, found 2")
        assertError("spearman [1, 2, 3] [1, 2]", "1:20: error: 'spearman' needs two lists of the same length, found 3 and 2")
        assertError("pearson [1, 1, 1] [1, 2, 3]", "1:9: error: 'pearson' is undefined: every value of the first list is the same")
    }
}
