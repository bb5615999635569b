import Foundation
import XCTest
@testable import KECore

/// A Hugging Face hub cache built in a temporary folder from the fixtures, laid out as
/// huggingface_hub lays it out: `models--ORG--NAME/blobs/<sha256>` (real files, named by the
/// SHA-256 of their bytes), `snapshots/<commit>/FILE` (relative symlinks into blobs/) and
/// `refs/<revision>` (the commit).
struct FakeHub {
    let root: String

    /// The folder of `repoID`'s cache.
    func repo(_ repoID: String) -> String { root + "/models--" + repoID.replacingOccurrences(of: "/", with: "--") }

    /// Adds a snapshot of `folder`'s files (all, or `only`) as commit `commit`, and the refs
    /// `refs` pointing to it (each written with `refSuffix` after the hash). Returns the
    /// snapshot folder.
    @discardableResult
    func add(_ repoID: String, folder: String, commit: String, refs: [String] = [], only: [String]? = nil,
             refSuffix: String = "") throws -> String {
        let fm = FileManager.default
        let repo = repo(repoID)
        let snapshot = repo + "/snapshots/" + commit
        try fm.createDirectory(atPath: repo + "/blobs", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: folder).sorted() where only?.contains(name) ?? true {
            let bytes = try readFileBytes(folder + "/" + name)
            var h = SHA256Hasher()
            h.update(bytes)
            let sha = h.hexDigest()
            let blob = repo + "/blobs/" + sha
            if !fm.fileExists(atPath: blob) { try Data(bytes).write(to: URL(fileURLWithPath: blob)) }
            let link = snapshot + "/" + name
            try? fm.removeItem(atPath: link)
            try fm.createSymbolicLink(atPath: link, withDestinationPath: "../../blobs/" + sha)
        }
        for r in refs { try setRef(repoID, r, commit + refSuffix) }
        return snapshot
    }

    func setRef(_ repoID: String, _ ref: String, _ text: String) throws {
        let path = repo(repoID) + "/refs/" + ref
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// A `.no_exist/<commit>/FILE` marker.
    func markAbsent(_ repoID: String, commit: String, file: String) throws {
        let dir = repo(repoID) + "/.no_exist/" + commit
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/" + file, contents: Data())
    }
}

/// A commit hash made from a label.
func fakeCommit(_ label: String) -> String {
    var h = SHA256Hasher()
    h.update(string: label)
    return String(h.hexDigest().prefix(40))
}

/// Sets environment variables for the duration of `body`, then restores them.
func withEnvironment<T>(_ values: [String: String?], _ body: () throws -> T) rethrows -> T {
    // (A dictionary of optionals would drop the unset ones: keep pairs.)
    let saved: [(String, String?)] = values.keys.map { ($0, getenv($0).map { String(cString: $0) }) }
    for (name, value) in values {
        if let value { setenv(name, value, 1) } else { unsetenv(name) }
    }
    defer { for (name, value) in saved { if let value { setenv(name, value, 1) } else { unsetenv(name) } } }
    return try body()
}

/// Every variable that decides the cache folder, unset.
let noCacheVariables: [String: String?] = [
    "HF_HUB_CACHE": nil, "HUGGINGFACE_HUB_CACHE": nil, "HF_HOME": nil, "XDG_CACHE_HOME": nil,
]

final class HubCacheTests: XCTestCase {
    var tmp = ""
    let series = Fixtures.root + "/series"
    let repoID = "EleutherAI/pythia-fake"

    override func setUpWithError() throws {
        tmp = NSTemporaryDirectory() + "ke-hub-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: tmp)
    }

    /// A cache at `root` with the fixture series under Pythia and OLMo 2 revision names, main,
    /// a duplicated step and a pull-request ref.
    @discardableResult
    func makeSeriesCache(at root: String) throws -> FakeHub {
        let hub = FakeHub(root: root)
        try hub.add(repoID, folder: series + "/step-50", commit: fakeCommit("50"), refs: ["step50", "refs/pr/1"])
        try hub.add(repoID, folder: series + "/step1000", commit: fakeCommit("1000"), refs: ["step1000"], refSuffix: "\n")
        try hub.add(repoID, folder: series + "/step1000", commit: fakeCommit("2000"), refs: ["step2000"])
        try hub.add(repoID, folder: series + "/step3000-tokens4B", commit: fakeCommit("3000"), refs: ["step3000-tokens12B", "main"])
        try hub.add(repoID, folder: series + "/stage1-step1500-tokens3B", commit: fakeCommit("s1"), refs: ["stage1-step1500-tokens3B"])
        try hub.add(repoID, folder: series + "/checkpoint-200", commit: fakeCommit("s2"), refs: ["stage2-ingredient1-step200-tokens1B"])
        return hub
    }

    private func corpus(for model: Model) throws -> Corpus {
        try Corpus(texts: try Corpus.readDocuments(path: Fixtures.root + "/corpus.txt"), tokenizer: model.tokenizer, source: "corpus")
    }

    /// Entropy and perplexity bits of a model.
    private func numbers(_ m: Model) throws -> [UInt64] {
        let c = try corpus(for: m)
        let e = try knowledgeEntropy(of: m, on: c)
        let p = try perplexity(of: m, on: c)
        return ([e.total, p.perplexity, p.loss] + e.layers).map(\.bitPattern)
    }

    // MARK: Names

    func testURIGrammar() throws {
        let a = try HubReference(parsing: "hf://EleutherAI/pythia-70m@step1000")
        XCTAssertEqual(a.repoID, "EleutherAI/pythia-70m")
        XCTAssertEqual(a.revision, "step1000")
        XCTAssertEqual(a.folderName, "models--EleutherAI--pythia-70m")
        let b = try HubReference(parsing: "hf://models/EleutherAI/pythia-70m")
        XCTAssertEqual(b.repoID, "EleutherAI/pythia-70m")
        XCTAssertNil(b.revision)
        XCTAssertEqual(try HubReference(parsing: "hf://o/n@refs/pr/1").revision, "refs/pr/1")
        XCTAssertEqual(try HubReference(parsing: "hf://o/n@refs%2Fpr%2F1").revision, "refs/pr/1")
        let c = try HubReference(parsing: "hf://o/n@v1/sub/model.gguf")
        XCTAssertEqual(c.revision, "v1")
        XCTAssertEqual(c.pathInRepo, "sub/model.gguf")
        XCTAssertEqual(try HubReference(parsing: "hf://o/n@refs/pr/7/x.gguf").pathInRepo, "x.gguf")
        for bad in ["hf://", "hf://onlyname", "hf://datasets/o/n", "hf://model/o/n", "hf://o/n@", "hf://o/n@a..b",
                    "hf://o/../n", "hf://o/n@v1/../../x"] {
            XCTAssertThrowsError(try HubReference(parsing: bad), bad) { e in
                XCTAssertEqual((e as? CoreError)?.file, bad)
            }
        }
    }

    func testCheckpointNames() {
        let n = CheckpointName("stage2-ingredient3-step11931-tokens50B")
        XCTAssertEqual(n.stage, 2); XCTAssertEqual(n.ingredient, 3); XCTAssertEqual(n.step, 11931); XCTAssertEqual(n.tokens, 50e9)
        XCTAssertEqual(CheckpointName("step1000-tokens4B").tokens, 4e9)
        XCTAssertEqual(CheckpointName("step143000").step, 143000)
        XCTAssertEqual(CheckpointName("stage1-step5-tokens1.5T").tokens, 1.5e12)
        XCTAssertNil(CheckpointName("main").step)
    }

    // MARK: The cache folder

    func testCacheFolderPrecedence() {
        let home = getenv("HOME").map { String(cString: $0) } ?? ""
        withEnvironment(noCacheVariables) {
            XCTAssertEqual(HubCacheLocation.resolve().path, home + "/.cache/huggingface/hub")
            withEnvironment(["XDG_CACHE_HOME": "/x"]) {
                XCTAssertEqual(HubCacheLocation.resolve().path, "/x/huggingface/hub")
                withEnvironment(["HF_HOME": "~/hf"]) {
                    XCTAssertEqual(HubCacheLocation.resolve().path, home + "/hf/hub")
                    withEnvironment(["HUGGINGFACE_HUB_CACHE": "/legacy"]) {
                        XCTAssertEqual(HubCacheLocation.resolve().path, "/legacy")
                        withEnvironment(["HF_HUB_CACHE": "$XDG_CACHE_HOME/new/"]) {
                            let l = HubCacheLocation.resolve()
                            XCTAssertEqual(l.path, "/x/new")
                            XCTAssertEqual(l.origin, "$HF_HUB_CACHE")
                            XCTAssertEqual(HubCacheLocation.resolve(override: "/o").path, "/o")
                        }
                    }
                }
            }
            withEnvironment(["HF_HOME": ""]) {  // empty counts as unset
                XCTAssertEqual(HubCacheLocation.resolve().path, home + "/.cache/huggingface/hub")
            }
        }
    }

    /// `load "hf://…@rev"` gives exactly the numbers of loading the snapshot folder, whichever
    /// variable (or the cache clause) finds the cache.
    func testLoadEqualsSnapshotUnderEveryPrecedence() throws {
        let snapshotModel = try Model.load(path: series + "/step1000")
        let want = try numbers(snapshotModel)
        let ways: [(String, [String: String?], String?)] = [
            ("/a/hub", ["HF_HUB_CACHE": tmp + "/a/hub", "HUGGINGFACE_HUB_CACHE": tmp + "/nothing", "HF_HOME": tmp + "/nothing"], nil),
            ("/b/hub", ["HUGGINGFACE_HUB_CACHE": tmp + "/b/hub", "HF_HOME": tmp + "/nothing"], nil),
            ("/c/hub", ["HF_HOME": tmp + "/c", "XDG_CACHE_HOME": tmp + "/nothing"], nil),
            ("/d/huggingface/hub", ["XDG_CACHE_HOME": tmp + "/d"], nil),
            ("/e/.cache/huggingface/hub", ["HOME": tmp + "/e"], nil),
            ("/f", ["HF_HUB_CACHE": tmp + "/nothing"], tmp + "/f"),
        ]
        for (place, env, clause) in ways {
            try makeSeriesCache(at: tmp + place)
            try withEnvironment(noCacheVariables) {
                try withEnvironment(env) {
                    let m = try Model.load(hub: "hf://\(repoID)@step1000", cacheDirectory: clause)
                    XCTAssertEqual(try numbers(m), want, place)
                    XCTAssertEqual(m.step, 1000)
                    XCTAssertTrue(m.source?.hasPrefix(tmp + place) ?? false, place)
                }
            }
        }
    }

    func testRefsCommitsAndPullRequests() throws {
        let hub = try makeSeriesCache(at: tmp)
        let repo = try HubRepository(try HubReference(parsing: "hf://\(repoID)"), cache: HubCacheLocation(path: tmp, origin: "test"))
        // A ref with a trailing newline resolves; a commit hash is used directly.
        XCTAssertEqual(try repo.resolve("step1000").commit, fakeCommit("1000"))
        XCTAssertEqual(try repo.resolve(fakeCommit("1000")).snapshot, hub.repo(repoID) + "/snapshots/" + fakeCommit("1000"))
        XCTAssertEqual(try repo.resolve("refs/pr/1").commit, fakeCommit("50"))
        XCTAssertEqual(try repo.resolve("main").commit, fakeCommit("3000"))
        let byCommit = try Model.load(hub: "hf://\(repoID)@\(fakeCommit("50"))", cacheDirectory: tmp)
        let byPR = try Model.load(hub: "hf://\(repoID)@refs/pr/1", cacheDirectory: tmp)
        XCTAssertEqual(try numbers(byCommit), try numbers(try Model.load(path: series + "/step-50")))
        XCTAssertEqual(try numbers(byPR), try numbers(byCommit))
        XCTAssertNil(byCommit.step)
        // Bare name: main.
        XCTAssertEqual(try numbers(try Model.load(hub: "hf://\(repoID)", cacheDirectory: tmp)),
                       try numbers(try Model.load(path: series + "/step3000-tokens4B")))
        // Model.load(path:) reads hf:// names too, from the environment's cache.
        try withEnvironment(["HF_HUB_CACHE": tmp]) {
            XCTAssertEqual(try numbers(try Model.load(path: "hf://\(repoID)@step50")), try numbers(byCommit))
        }
    }

    func testBadRevisionsAndMissingRepository() throws {
        try makeSeriesCache(at: tmp)
        func message(_ uri: String) -> String {
            do { _ = try Model.load(hub: uri, cacheDirectory: tmp); return "" } catch { return "\(error)" }
        }
        let unknown = message("hf://\(repoID)@step999")
        XCTAssertTrue(unknown.contains("revision 'step999' is not in the cache"), unknown)
        XCTAssertTrue(unknown.contains("step1000"), unknown)  // the cached revisions are listed
        XCTAssertTrue(unknown.contains("huggingface-cli download \(repoID) --revision step999 --cache-dir \(tmp)"), unknown)
        XCTAssertTrue(message("hf://\(repoID)@a/../../x").contains("'..'"))
        let repo = try HubRepository(try HubReference(parsing: "hf://\(repoID)"), cache: HubCacheLocation(path: tmp, origin: "test"))
        XCTAssertThrowsError(try repo.resolve("/etc/passwd")) { e in XCTAssertTrue("\(e)".contains("start with '/'"), "\(e)") }
        XCTAssertThrowsError(try repo.resolve("../../x"))
        let missing = message("hf://nobody/nothing@main")
        XCTAssertTrue(missing.contains("nobody/nothing is not in the hub cache \(tmp)"), missing)
        XCTAssertTrue(missing.contains(repoID), missing)  // what the cache holds
        XCTAssertTrue(missing.contains("huggingface-cli download nobody/nothing --revision main"), missing)
        // A ref to a commit whose snapshot is gone, and a ref that holds no hash.
        try FakeHub(root: tmp).setRef(repoID, "gone", fakeCommit("gone"))
        XCTAssertTrue(message("hf://\(repoID)@gone").contains("which is not in the cache"))
        try FakeHub(root: tmp).setRef(repoID, "junk", "not a hash")
        XCTAssertTrue(message("hf://\(repoID)@junk").contains("not a 40-hex commit hash"))
    }

    func testPartialSnapshotAndNoExistMarker() throws {
        let hub = FakeHub(root: tmp)
        try hub.add(repoID, folder: series + "/step1000", commit: fakeCommit("p"), refs: ["step7"],
                    only: ["config.json", "model.safetensors"])
        try hub.markAbsent(repoID, commit: fakeCommit("p"), file: "tokenizer.json")
        try hub.add(repoID, folder: series + "/step1000", commit: fakeCommit("w"), refs: ["step8"],
                    only: ["config.json", "tokenizer.json"])
        func message(_ uri: String) -> String {
            do { _ = try Model.load(hub: uri, cacheDirectory: tmp); return "" } catch { return "\(error)" }
        }
        let noTok = message("hf://\(repoID)@step7")
        XCTAssertTrue(noTok.contains("incomplete: missing tokenizer.json"), noTok)
        XCTAssertTrue(noTok.contains("the cache records that the hub has no tokenizer.json at commit \(fakeCommit("p"))"), noTok)
        XCTAssertTrue(noTok.contains("Cached revisions: step7, step8"), noTok)
        XCTAssertTrue(noTok.contains("huggingface-cli download \(repoID) --revision step7"), noTok)
        let noWeights = message("hf://\(repoID)@step8")
        XCTAssertTrue(noWeights.contains("missing weights (model.safetensors"), noWeights)
        XCTAssertFalse(noWeights.contains("the cache records"), noWeights)
        // With a tokenizer given by hand, the missing tokenizer.json does not matter.
        let m = try Model.load(hub: "hf://\(repoID)@step7", cacheDirectory: tmp, tokenizerFile: series + "/step1000")
        XCTAssertEqual(try numbers(m), try numbers(try Model.load(path: series + "/step1000")))
        // A blob that is gone (an interrupted download).
        let snap = hub.repo(repoID) + "/snapshots/" + fakeCommit("w")
        try FileManager.default.createSymbolicLink(atPath: snap + "/model.safetensors", withDestinationPath: "../../blobs/" + String(repeating: "0", count: 64))
        XCTAssertTrue(message("hf://\(repoID)@step8").contains("links to a blob that is not in blobs/"))
        // A series leaves partial revisions out with a warning; naming one is an error.
        try hub.add(repoID, folder: series + "/step-50", commit: fakeCommit("ok"), refs: ["step9"])
        let s = try CheckpointSeries(hub: "hf://\(repoID)", cacheDirectory: tmp)
        XCTAssertEqual(s.checkpoints.map(\.name), ["step9"])
        XCTAssertTrue(s.warnings.contains { $0.contains("left out step7") }, "\(s.warnings)")
        XCTAssertThrowsError(try CheckpointSeries(hub: "hf://\(repoID)", cacheDirectory: tmp, revisions: ["step8"]))
    }

    func testEveryFormatLoadsFromASnapshot() throws {
        let hub = FakeHub(root: tmp)
        let formats = Fixtures.root + "/formats"
        let cases: [(String, String)] = [
            ("sharded", Fixtures.modelDir("llama_sharded")), ("bin", formats + "/olmo_bin"), ("binsharded", formats + "/olmo_bin_sharded"),
        ]
        for (rev, folder) in cases {
            try hub.add(repoID, folder: folder, commit: fakeCommit(rev), refs: [rev])
            XCTAssertEqual(try numbers(try Model.load(hub: "hf://\(repoID)@\(rev)", cacheDirectory: tmp)),
                           try numbers(try Model.load(path: folder)), rev)
        }
        // A repository of GGUF files: the only one loads by itself; with two, /PATH names one.
        try hub.add("o/gguf", folder: formats + "/gguf", commit: fakeCommit("g1"), refs: ["one"], only: ["llama_F32.gguf"])
        try hub.add("o/gguf", folder: formats + "/gguf", commit: fakeCommit("g2"), refs: ["two"], only: ["llama_F32.gguf", "gpt2_F32.gguf"])
        let want = try numbers(try Model.load(path: formats + "/gguf/llama_F32.gguf"))
        XCTAssertEqual(try numbers(try Model.load(hub: "hf://o/gguf@one", cacheDirectory: tmp)), want)
        XCTAssertEqual(try numbers(try Model.load(hub: "hf://o/gguf@two/llama_F32.gguf", cacheDirectory: tmp)), want)
        XCTAssertThrowsError(try Model.load(hub: "hf://o/gguf@two", cacheDirectory: tmp)) { e in
            XCTAssertTrue("\(e)".contains("holds 2 GGUF files"), "\(e)")
        }
        // A shard the index lists but the cache lacks.
        try hub.add(repoID, folder: Fixtures.modelDir("llama_sharded"), commit: fakeCommit("half"), refs: ["half"],
                    only: ["config.json", "tokenizer.json", "model.safetensors.index.json", "model-00001-of-00003.safetensors"])
        XCTAssertThrowsError(try Model.load(hub: "hf://\(repoID)@half", cacheDirectory: tmp)) { e in
            XCTAssertTrue("\(e)".contains("missing model-00002-of-00003.safetensors, model-00003-of-00003.safetensors"), "\(e)")
        }
    }

    // MARK: Series

    func testSeriesOrderFieldsAndDuplicates() throws {
        try makeSeriesCache(at: tmp)
        let s = try CheckpointSeries(hub: "hf://\(repoID)", cacheDirectory: tmp)
        XCTAssertEqual(s.checkpoints.map(\.name), ["step50", "step1000", "stage1-step1500-tokens3B", "step2000",
                                                   "step3000-tokens12B", "stage2-ingredient1-step200-tokens1B"])
        XCTAssertEqual(s.checkpoints.map(\.step), [50, 1000, 1500, 2000, 3000, 200])
        XCTAssertEqual(s.checkpoints.map(\.stage), [nil, nil, 1, nil, nil, 2])
        XCTAssertEqual(s.checkpoints[5].ingredient, 1)
        XCTAssertEqual(s.checkpoints[4].tokens, 12e9)
        XCTAssertEqual(s.checkpoints.map(\.duplicateOf), [nil, nil, nil, 1, nil, nil])
        XCTAssertEqual(s.warnings.count, 1)
        XCTAssertTrue(s.warnings[0].contains("step2000 and step1000"), s.warnings[0])
        XCTAssertEqual(s.unsteppedRevisions, ["main (= step3000-tokens12B)", "refs/pr/1 (= step50)"])
        // Each checkpoint is its snapshot: the same numbers as the folder, with the step.
        let m = try s.model(at: 1)
        XCTAssertEqual(m.step, 1000)
        XCTAssertEqual(try numbers(m), try numbers(try Model.load(path: series + "/step1000")))
        // revisions and every.
        let picked = try CheckpointSeries(hub: "hf://\(repoID)", cacheDirectory: tmp, revisions: ["main", "step2000", "step50", "step1000"])
        XCTAssertEqual(picked.checkpoints.map(\.name), ["step50", "step1000", "step2000", "main"])
        XCTAssertEqual(picked.checkpoints.map(\.duplicateOf), [nil, nil, 1, nil])
        let thin = try CheckpointSeries(hub: "hf://\(repoID)", cacheDirectory: tmp, every: 2)
        XCTAssertEqual(thin.checkpoints.map(\.name), ["step50", "stage1-step1500-tokens3B", "step3000-tokens12B"])
        XCTAssertTrue(thin.warnings.isEmpty)
        XCTAssertThrowsError(try CheckpointSeries(hub: "hf://\(repoID)", cacheDirectory: tmp, revisions: ["nope"]))
        XCTAssertThrowsError(try CheckpointSeries(hub: "hf://\(repoID)@main", cacheDirectory: tmp))
    }

    /// Plain folders: the weights fingerprint finds the same duplicate.
    func testPlainFolderDuplicates() throws {
        let fm = FileManager.default
        for (name, from) in [("step100", "step-50"), ("step200", "step1000"), ("step300", "step1000")] {
            try fm.copyItem(atPath: series + "/" + from, toPath: tmp + "/" + name)
        }
        let s = try CheckpointSeries(directory: tmp)
        XCTAssertEqual(s.checkpoints.map(\.duplicateOf), [nil, nil, 1])
        XCTAssertTrue(s.warnings.first?.contains("step300 and step200") ?? false, "\(s.warnings)")
        XCTAssertEqual(try CheckpointSeries(directory: tmp, revisions: ["step300", "step100"]).checkpoints.map(\.name), ["step100", "step300"])
        XCTAssertEqual(try CheckpointSeries(directory: series).warnings, [])
    }
}
