import Foundation
import XCTest
import KECore
@testable import KELang

/// `load "hf://…"` and `checkpoints "hf://…"` on a hub cache built in a temporary folder from the
/// fixtures (blobs named by SHA-256, snapshots of relative symlinks into blobs/, refs).
final class HubCacheLangTests: XCTestCase {
    var tmp = ""
    let series = "Tests/Fixtures/series"
    let repo = "allenai/OLMo-fake"

    override func setUpWithError() throws {
        tmp = NSTemporaryDirectory() + "ke-hub-lang-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: tmp)
    }

    private func commit(_ label: String) -> String {
        var h = SHA256Hasher()
        h.update(string: label)
        return String(h.hexDigest().prefix(40))
    }

    /// Adds `folder` as commit `label` with `refs` to the cache at `root`; returns the snapshot.
    @discardableResult
    private func add(_ root: String, _ folder: String, _ label: String, refs: [String]) throws -> String {
        let fm = FileManager.default
        let dir = root + "/models--" + repo.replacingOccurrences(of: "/", with: "--")
        let snapshot = dir + "/snapshots/" + commit(label)
        try fm.createDirectory(atPath: dir + "/blobs", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: folder) {
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
            var h = SHA256Hasher()
            h.update([UInt8](data))
            let sha = h.hexDigest()
            if !fm.fileExists(atPath: dir + "/blobs/" + sha) { try data.write(to: URL(fileURLWithPath: dir + "/blobs/" + sha)) }
            try fm.createSymbolicLink(atPath: snapshot + "/" + name, withDestinationPath: "../../blobs/" + sha)
        }
        for r in refs {
            let p = dir + "/refs/" + r
            try fm.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try commit(label).write(toFile: p, atomically: true, encoding: .utf8)
        }
        return snapshot
    }

    private func makeCache(_ root: String) throws -> String {
        try add(root, series + "/step-50", "a", refs: ["stage1-step50-tokens1B"])
        let s = try add(root, series + "/step1000", "b", refs: ["stage1-step1000-tokens4B", "main"])
        try add(root, series + "/step1000", "c", refs: ["stage1-step2000-tokens8B"])
        try add(root, series + "/checkpoint-200", "d", refs: ["stage2-ingredient1-step100-tokens1B"])
        return s
    }

    private func withEnv<T>(_ values: [String: String?], _ body: () throws -> T) rethrows -> T {
        let saved: [(String, String?)] = values.keys.map { ($0, getenv($0).map { String(cString: $0) }) }
        for (n, v) in values { if let v { setenv(n, v, 1) } else { unsetenv(n) } }
        defer { for (n, v) in saved { if let v { setenv(n, v, 1) } else { unsetenv(n) } } }
        return try body()
    }

    /// The entropy and perplexity JSON lines of `load EXPR`.
    private func figures(_ load: String) -> [String] {
        let r = runKE("let m = \(load)\nlet c = corpus \"Tests/Fixtures/corpus.txt\"\n(entropy m on c).layers\n(entropy m on c).total\n(perplexity m on c).loss", json: true)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        return r.outputs
    }

    func testLoadGivesTheSnapshotsNumbersUnderEachCacheVariable() throws {
        let none: [String: String?] = ["HF_HUB_CACHE": nil, "HUGGINGFACE_HUB_CACHE": nil, "HF_HOME": nil, "XDG_CACHE_HOME": nil]
        let snapshot = try makeCache(tmp + "/1")
        let want = figures("load \"\(snapshot)\"")
        XCTAssertEqual(want, figures("load \"\(series)/step1000\""))
        for (place, env) in [("/1", ["HF_HUB_CACHE": tmp + "/1"]), ("/2", ["HUGGINGFACE_HUB_CACHE": tmp + "/2"]),
                             ("/3/hub", ["HF_HOME": tmp + "/3"]), ("/4/huggingface/hub", ["XDG_CACHE_HOME": tmp + "/4"]),
                             ("/5/.cache/huggingface/hub", ["HOME": tmp + "/5"])] {
            if place != "/1" { _ = try makeCache(tmp + place) }
            withEnv(none) {
                withEnv(env) {
                    XCTAssertEqual(figures("load \"hf://\(repo)@stage1-step1000-tokens4B\""), want, place)
                    XCTAssertEqual(figures("load \"hf://models/\(repo)\""), want, place)  // main
                }
            }
        }
        withEnv(["HF_HUB_CACHE": tmp + "/nowhere"]) {
            XCTAssertEqual(figures("load \"hf://\(repo)@\(commit("b"))\" bf16 cache \"\(tmp)/2\""), figures("load \"\(snapshot)\" bf16"))
            let r = runKE("(load \"hf://\(repo)@stage1-step2000-tokens8B\" cache \"\(tmp)/1\").step")
            XCTAssertEqual(r.outputs, ["2000"])
        }
    }

    func testCheckpointsFlagsDuplicatesOrdersStagesAndMarksTheChart() throws {
        _ = try makeCache(tmp)
        let src = "let s = checkpoints \"hf://\(repo)\" cache \"\(tmp)\""
        let r = runKE(src + "\ns", json: true)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        let line = r.outputs.joined()
        let names = ["stage1-step50-tokens1B", "stage1-step1000-tokens4B", "stage1-step2000-tokens8B", "stage2-ingredient1-step100-tokens1B"]
        var last = line.startIndex
        for n in names {
            guard let at = line.range(of: "\"name\":\"\(n)\"", range: last..<line.endIndex) else { return XCTFail("order: \(line)") }
            last = at.upperBound
        }
        XCTAssertTrue(line.contains("\"name\":\"stage1-step2000-tokens8B\",\"step\":2000,\"stage\":1,\"tokens\":8000000000,\"commit\":\"\(commit("c"))\",\"duplicate_of\":\"stage1-step1000-tokens4B\""), line)
        XCTAssertTrue(line.contains("\"stage\":2,\"ingredient\":1"), line)
        XCTAssertEqual(line.components(separatedBy: "duplicate_of").count, 2, line)
        XCTAssertTrue(r.errors.contains { $0.hasPrefix("t.ke:1:9: warning:") && $0.contains("stage1-step2000-tokens8B and stage1-step1000-tokens4B") },
                      r.errors.joined(separator: "\n"))
        XCTAssertTrue(r.errors.contains { $0.contains("note:") && $0.contains("main (= stage1-step1000-tokens4B)") }, r.errors.joined(separator: "\n"))
        // entropy of the series computes every checkpoint and marks the duplicate; the chart lists it.
        let e = runKE(src + "\nlet es = entropy s on corpus \"Tests/Fixtures/corpus.txt\"\nlen es\nes[2].duplicate_of\nes[1].total == es[2].total\nplot es", width: 80)
        XCTAssertTrue(e.ok, e.errors.joined(separator: "\n"))
        XCTAssertEqual(Array(e.outputs.prefix(3)), ["4", "stage1-step1000-tokens4B", "true"])
        XCTAssertTrue(e.outputs.last?.contains("duplicate: checkpoint 2 has the same weights as stage1-step1000-tokens4B") ?? false, e.outputs.last ?? "")
        let sums = runKE(src + "\n(sums s on corpus \"Tests/Fixtures/corpus.txt\")[2].duplicate_of")
        XCTAssertEqual(sums.outputs, ["stage1-step1000-tokens4B"])
        // revisions and every.
        assertOutputs(src.replacingOccurrences(of: "let s = ", with: "let p = ") + " revisions [\"main\", \"stage1-step50-tokens1B\"]\nlen p\np[1].name",
                      ["2", "main"])
        assertOutputs(src + " every 3\nlen s\ns[1].name", ["2", "stage2-ingredient1-step100-tokens1B"])
    }

    func testErrors() throws {
        _ = try makeCache(tmp)
        var r = runKE("load \"hf://\(repo)@step999\" cache \"\(tmp)\"")
        XCTAssertTrue(r.firstError?.hasPrefix("t.ke:1:6: error: ") ?? false, r.errors.joined())
        XCTAssertTrue(r.errors.joined().contains("huggingface-cli download \(repo) --revision step999 --cache-dir"), r.errors.joined())
        r = runKE("load \"hf://\(repo)@a..b\" cache \"\(tmp)\"")
        XCTAssertTrue(r.errors.joined().contains("may not contain '..'"), r.errors.joined())
        r = runKE("load \"hf://someone/else\" cache \"\(tmp)\"")
        XCTAssertTrue(r.errors.joined().contains("someone/else is not in the hub cache"), r.errors.joined())
        assertError("load \"Tests/Fixtures/models/olmo\" cache \"/x\"",
                    "1:41: error: 'cache' is for hf://ORG/NAME@REVISION names; \"Tests/Fixtures/models/olmo\" is a path")
        r = runKE("checkpoints \"hf://\(repo)@main\" cache \"\(tmp)\"")
        XCTAssertTrue(r.errors.joined().contains("pick some with `revisions"), r.errors.joined())
        r = runKE("checkpoints \"hf://\(repo)\" cache \"\(tmp)\" revisions [\"nope\"]")
        XCTAssertTrue(r.errors.joined().contains("revision 'nope' is not in the cache"), r.errors.joined())
    }

    /// The committed fixture cache that `help load` and Tutorial 6 use.
    func testCommittedFixtureCache() {
        let r = runKE("let s = checkpoints \"hf://ke-fixtures/series\" cache \"Tests/Fixtures/hub\"\nlen s\ns[3].duplicate_of")
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        XCTAssertEqual(r.outputs, ["6", "step1000"])
    }
}
