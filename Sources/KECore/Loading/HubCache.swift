// MARK: The Hugging Face hub cache
//
// Where `huggingface-cli download ORG/NAME --revision REV` and `from_pretrained(…, revision=…)`
// keep a model, read offline exactly as huggingface_hub reads it (`constants.py`,
// `file_download.py`, `utils/_cache_manager.py`, `utils/_hf_uris.py`):
//
//     CACHE/models--ORG--NAME/
//         refs/main                  the commit hash a revision (branch, tag, refs/pr/1, …) points to
//         snapshots/<commit>/…       the repository's files at that commit, as symlinks into blobs/
//         blobs/<sha256>             content-addressed files (LFS files by SHA-256)
//         .no_exist/<commit>/FILE    an empty marker: FILE is known not to exist at that commit
//
// CACHE is `$HF_HUB_CACHE`, else `$HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else
// `${XDG_CACHE_HOME:-~/.cache}/huggingface/hub` (`HubCacheLocation`). Models are named
// `hf://[models/]ORG/NAME[@REVISION][/PATH]` (`HubReference`); a repository is resolved by
// `HubRepository`, and a revision to its snapshot folder (`HubRevision`), which then loads like any
// model folder. Nothing here touches the network: a missing file is an error that prints the
// `huggingface-cli download` line that would fetch it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Repositories and revisions

/// A cached revision: its name (a branch, tag or `refs/pr/N`, or the commit itself), the commit,
/// and the snapshot folder of that commit.
public struct HubRevision: Sendable, Equatable {
    /// As the user names it (`step1000`, `main`, `refs/pr/1`), or the commit hash.
    public var name: String
    /// The 40-hex commit.
    public var commit: String
    /// `…/snapshots/<commit>`.
    public var snapshot: String
    /// True when `name` is a commit hash rather than a ref.
    public var isCommit: Bool { name == commit }
}

/// A repository's folder in the hub cache.
public struct HubRepository: Sendable {
    public let reference: HubReference
    public let cache: HubCacheLocation
    /// `CACHE/models--ORG--NAME`.
    public let path: String

    /// Finds the repository of `reference` in `cache`.
    ///
    /// - Throws: `CoreError` naming the repository folder when it is not in the cache (with the
    ///   cache folder, what chose it, the models it does hold, and the download line).
    public init(_ reference: HubReference, cache: HubCacheLocation) throws {
        self.reference = reference
        self.cache = cache
        self.path = cache.path + "/" + reference.folderName
        guard directoryExists(path) else {
            var message = "\(reference.repoID) is not in the hub cache \(cache.path) (chosen by \(cache.origin))"
            if !directoryExists(cache.path) {
                message += ", which does not exist"
            } else {
                let held = ((try? directoryEntries(cache.path)) ?? []).filter { $0.hasPrefix("models--") }.sorted()
                    .map { String($0.dropFirst(8)).replacing("--", with: "/") }
                message += held.isEmpty ? ", which holds no models" : "; it holds \(listed(held))"
            }
            message += ". ke reads the cache offline; fetch the model with: "
                + HubKit.downloadCommand(repoID: reference.repoID, revision: reference.revision ?? "main", cache: cache)
            throw CoreError(message, file: path)
        }
    }

    /// Every ref of the repository (`refs/main`, `refs/step1000`, `refs/refs/pr/1`, …) by name,
    /// with the commit it holds (whitespace trimmed), sorted by name.
    public func refs() -> [(name: String, commit: String)] {
        var out: [(String, String)] = []
        func walk(_ dir: String, _ prefix: String) {
            for e in ((try? directoryEntries(dir)) ?? []).sorted() where !e.hasPrefix(".") {
                let p = dir + "/" + e
                if directoryExists(p) { walk(p, prefix + e + "/") }
                else if fileExists(p), let bytes = try? readFileBytes(p) {
                    out.append((prefix + e, String(decoding: bytes, as: UTF8.self).trimmingWhitespace))
                }
            }
        }
        walk(path + "/refs", "")
        return out.sorted { $0.0 < $1.0 }
    }

    /// Every revision whose snapshot is in the cache: each ref pointing to a snapshot folder, by
    /// name, then each snapshot no ref points to, by its commit.
    public func cachedRevisions() -> [HubRevision] {
        var out: [HubRevision] = []
        var named = Set<String>()
        for (name, commit) in refs() where isCommitHash(commit) && directoryExists(snapshotPath(commit)) {
            out.append(HubRevision(name: name, commit: commit, snapshot: snapshotPath(commit)))
            named.insert(commit)
        }
        for e in ((try? directoryEntries(path + "/snapshots")) ?? []).sorted()
        where isCommitHash(e) && !named.contains(e) && directoryExists(snapshotPath(e)) {
            out.append(HubRevision(name: e, commit: e, snapshot: snapshotPath(e)))
        }
        return out
    }

    /// Resolves a revision as huggingface_hub does offline: a 40-hex (lowercase) revision is a
    /// commit; any other is read from `refs/<revision>` (nested refs such as `refs/pr/1` live at
    /// `refs/refs/pr/1`), whitespace trimmed. Its snapshot folder must exist.
    ///
    /// - Throws: `CoreError` naming the repository folder for an unsafe revision (`..`, a leading
    ///   `/`), a revision with no ref, a ref that does not hold a commit hash, or a commit
    ///   without a snapshot folder; each lists the cached revisions and the download line.
    public func resolve(_ revision: String) throws -> HubRevision {
        let shown = reference.at(revision).description
        try HubReference.checkRevision(revision, in: shown)
        let commit: String
        if isCommitHash(revision) {
            commit = revision
        } else {
            let refPath = path + "/refs/" + revision
            guard fileExists(refPath) else {
                throw failure("\(shown): revision '\(revision)' is not in the cache (no refs/\(revision))", revision: revision)
            }
            let text = String(decoding: try readFileBytes(refPath), as: UTF8.self).trimmingWhitespace
            guard isCommitHash(text) else {
                throw CoreError("\(shown): the ref holds '\(text.prefix(60))', not a 40-hex commit hash", file: refPath)
            }
            commit = text
        }
        let snapshot = snapshotPath(commit)
        guard directoryExists(snapshot) else {
            let what = commit == revision ? "commit \(commit) is not in the cache" : "revision '\(revision)' points to commit \(commit), which is not in the cache"
            throw failure("\(shown): \(what) (no snapshots/\(commit))", revision: revision)
        }
        return HubRevision(name: revision, commit: commit, snapshot: snapshot)
    }

    /// The folder or file to load for `revision`: the snapshot (or `pathInRepo` inside it), after
    /// checking that it is complete, or the snapshot's one GGUF file when it holds no model folder.
    ///
    /// - Throws: `CoreError` naming the snapshot when a file is missing (config, weights, a shard
    ///   an index lists, the tokenizer when `needsTokenizer`, or `pathInRepo`): what is missing,
    ///   what `.no_exist` markers say about it, the cached revisions and the download line; or
    ///   when the snapshot holds several GGUF files and nothing else to load.
    public func modelPath(of revision: HubRevision, pathInRepo: String = "", needsTokenizer: Bool = true) throws -> String {
        let target = pathInRepo.isEmpty ? revision.snapshot : revision.snapshot + "/" + pathInRepo
        if !pathInRepo.isEmpty {
            guard pathExists(target) else { throw incomplete(revision, missing: [pathInRepo]) }
            if !directoryExists(target) { return target }
        }
        let has = { (name: String) in fileExists(target + "/" + name) }
        let prefix = pathInRepo.isEmpty ? "" : pathInRepo + "/"
        if !has("config.json") && !has("config.yaml") && !has("model.pt") {
            let ggufs = (try? ggufFiles(in: target)) ?? []
            if ggufs.count == 1 { return target + "/" + ggufs[0] }
            if ggufs.count > 1 {
                throw CoreError("\(reference.at(revision.name)) holds \(ggufs.count) GGUF files and no config.json: name one, e.g. load \"\(reference.at(revision.name))/\(prefix)\(ggufs[0])\"", file: target)
            }
        }
        var missing: [String] = []
        if !has("config.json") && !has("config.yaml") { missing.append(prefix + "config.json") }
        let weightEntries = CheckpointFormat.huggingFaceFolderFormats.compactMap(\.markerFile)
        if let entry = weightEntries.first(where: has) {
            if entry.hasSuffix(".index.json") {
                let shards = try shardFileNames(indexPath: target + "/" + entry)
                missing += shards.filter { !has($0) }.sorted().map { prefix + $0 }
            }
        } else {
            missing.append(prefix + "model.safetensors")
        }
        if needsTokenizer && !has("tokenizer.json") && !(has("config.yaml") && has("model.pt")) { missing.append(prefix + "tokenizer.json") }
        guard missing.isEmpty else {
            // A missing model.safetensors also stands for the other weight formats.
            var shownMissing = missing
            if let i = shownMissing.firstIndex(of: prefix + "model.safetensors"), weightEntries.first(where: has) == nil {
                shownMissing[i] = prefix + "weights (model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json or model.pt)"
            }
            throw incomplete(revision, missing: missing, shown: shownMissing,
                             alsoMarked: missing.contains(prefix + "model.safetensors") ? weightEntries.map { prefix + $0 } : [])
        }
        return target
    }

    /// The blob names (SHA-256 of the content) of the weight files the loader reads from a
    /// snapshot folder, sorted; nil when one of them is not a link into `blobs/` (a copied file)
    /// or the folder has no weights.
    public func weightBlobs(_ snapshot: String) -> [String]? {
        guard let files = try? weightFileNames(directory: snapshot), !files.isEmpty else { return nil }
        var blobs: [String] = []
        for f in files {
            guard let target = readLink(snapshot + "/" + f) else { return nil }
            let parts = target.split(separator: "/")
            guard parts.count >= 2, parts[parts.count - 2] == "blobs", let blob = parts.last else { return nil }
            blobs.append(String(blob))
        }
        return blobs.sorted()
    }

    /// `huggingface-cli download ORG/NAME --revision REV` (with `--cache-dir` when the cache
    /// was given by a `cache` clause, which the CLI would not know).
    public func downloadCommand(revision: String) -> String {
        HubKit.downloadCommand(repoID: reference.repoID, revision: revision, cache: cache)
    }

    /// The cached revisions' names, for messages.
    public func cachedRevisionList() -> String {
        let names = cachedRevisions().map(\.name)
        return names.isEmpty ? "none" : listed(names)
    }

    // MARK: Private

    private func snapshotPath(_ commit: String) -> String { path + "/snapshots/" + commit }

    private func failure(_ message: String, revision: String) -> CoreError {
        CoreError(message + ". Cached revisions: \(cachedRevisionList()). ke reads the cache offline; fetch it with: "
                  + downloadCommand(revision: revision), file: path)
    }

    private func incomplete(_ revision: HubRevision, missing: [String], shown: [String]? = nil,
                            alsoMarked: [String] = []) -> CoreError {
        let uri = reference.at(revision.name)
        var message = "\(uri): the cached snapshot is incomplete: missing \((shown ?? missing).joined(separator: ", "))"
        for m in missing where isLink(revision.snapshot + "/" + m) {
            message += "; \(m) links to a blob that is not in blobs/ (an interrupted download?)"
        }
        let noExist = path + "/.no_exist/" + revision.commit + "/"
        let marked = (missing + alsoMarked).filter { fileExists(noExist + $0) }
        var seen = Set<String>()
        let markedOnce = marked.filter { seen.insert($0).inserted }
        if !markedOnce.isEmpty {
            message += "; the cache records that the hub has no \(markedOnce.joined(separator: ", ")) at commit \(revision.commit) (.no_exist/\(revision.commit)/)"
        }
        message += ". Cached revisions: \(cachedRevisionList()). ke reads the cache offline; fetch it with: "
            + downloadCommand(revision: revision.name)
        return CoreError(message, file: revision.snapshot)
    }
}

/// Helpers shared by the hub types.
enum HubKit {
    static func downloadCommand(repoID: String, revision: String, cache: HubCacheLocation) -> String {
        var line = "huggingface-cli download \(repoID) --revision \(shellQuoted(revision))"
        if cache.origin.hasPrefix("cache ") { line += " --cache-dir \(shellQuoted(cache.path))" }
        return line
    }
}

/// `s` as a shell word (quoted only when it needs to be).
private func shellQuoted(_ s: String) -> String {
    let plain = s.unicodeScalars.allSatisfy { c in
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || "-_./:=@%+,".unicodeScalars.contains(c)
    }
    return plain && !s.isEmpty ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// Up to 20 names joined by commas, then how many there are in all.
private func listed(_ names: [String]) -> String {
    names.count <= 20 ? names.joined(separator: ", ")
        : names.prefix(20).joined(separator: ", ") + ", … (\(names.count) in all)"
}

/// True for a 40-character lowercase hexadecimal string (huggingface_hub's `REGEX_COMMIT_HASH`).
func isCommitHash(_ s: String) -> Bool {
    s.utf8.count == 40 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
}

/// The target of a symbolic link, nil when `path` is not one.
private func readLink(_ path: String) -> String? {
    var buf = [UInt8](repeating: 0, count: 4096)
    let n = buf.withUnsafeMutableBufferPointer { p in
        p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: 4096) { readlink(path, $0, 4096) }
    }
    guard n > 0 else { return nil }
    return String(decoding: buf[0..<n], as: UTF8.self)
}

/// True when `path` is a symbolic link (dangling or not).
private func isLink(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
}

extension String {
    /// Without leading and trailing spaces, tabs and line breaks.
    fileprivate var trimmingWhitespace: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}

// MARK: Loading

extension Model {
    /// Loads `hf://ORG/NAME[@REVISION][/PATH]` from the hub cache (`cacheDirectory`, else the
    /// folder `HubCacheLocation.resolve` finds): the revision's snapshot folder, checked to be
    /// complete, loads as `load(path:)` loads any folder, so it gives exactly the numbers of
    /// loading that folder directly. The model's step is parsed from the revision's name
    /// (`stepN`, `stageK-stepN-tokensM`, …).
    ///
    /// - Throws: `CoreError` as `HubReference(parsing:)`, `HubRepository.init`, `resolve`,
    ///   `modelPath(of:)` and `load(path:)` do.
    public static func load(hub uri: String, cacheDirectory: String? = nil, keepBF16: Bool = false,
                            tokenizerFile: String? = nil) throws -> Model {
        let reference = try HubReference(parsing: uri)
        let repository = try HubRepository(reference, cache: .resolve(override: cacheDirectory))
        let revision = try repository.resolve(reference.revision ?? "main")
        let path = try repository.modelPath(of: revision, pathInRepo: reference.pathInRepo,
                                            needsTokenizer: tokenizerFile == nil)
        let model = try load(path: path, keepBF16: keepBF16, tokenizerFile: tokenizerFile)
        guard !revision.isCommit, let step = CheckpointName(revision.name).step else { return model }
        return try model.with(step: .some(step))
    }
}
