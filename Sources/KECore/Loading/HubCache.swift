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

// MARK: Names

/// A model on the hub as `hf://[models/]ORG/NAME[@REVISION][/PATH]` names it (huggingface_hub's
/// URI grammar). The revision is everything after `@` up to the next `/`, except that the special
/// refs `refs/pr/N` and `refs/convert/NAME` are taken whole; it is percent-decoded (so
/// `refs%2Fpr%2F1` also works). PATH, if any, is a file or folder inside the snapshot (a GGUF
/// file of a repository that holds several, say).
public struct HubReference: Sendable, Equatable, CustomStringConvertible {
    /// `ORG/NAME`.
    public var repoID: String
    /// The revision after `@`, if one was given (`main` is used otherwise).
    public var revision: String?
    /// A path inside the repository, or "".
    public var pathInRepo: String

    /// True for strings that start with `hf://`.
    public static func isHubURI(_ s: String) -> Bool { s.hasPrefix("hf://") }

    /// Parses `hf://[models/]ORG/NAME[@REVISION][/PATH]`.
    ///
    /// - Throws: `CoreError` naming the URI when it does not start with `hf://`, names a dataset,
    ///   space or other non-model repository, has no `ORG/NAME`, an empty or unsafe revision
    ///   (containing `..`, or starting with `/`), or a PATH with a `..` component.
    public init(parsing uri: String) throws {
        guard uri.hasPrefix("hf://") else { throw CoreError("not an hf:// name: expected hf://ORG/NAME[@REVISION]", file: uri) }
        var location = String(uri.dropFirst(5))
        guard !location.isEmpty else { throw CoreError("nothing after hf://: expected hf://ORG/NAME[@REVISION]", file: uri) }
        // The optional type prefix.
        if let slash = location.firstIndex(of: "/") {
            let first = String(location[..<slash])
            if first == "models" {
                location = String(location[location.index(after: slash)...])
            } else if ["datasets", "spaces", "kernels", "buckets"].contains(first) {
                throw CoreError("names a \(first.dropLast()) repository; ke loads models: hf://ORG/NAME or hf://models/ORG/NAME", file: uri)
            } else if ["model", "dataset", "space", "kernel", "bucket"].contains(first) {
                throw CoreError("the type prefix is plural, as in huggingface_hub: hf://\(first)s/…", file: uri)
            }
        }
        while location.hasPrefix("/") { location.removeFirst() }
        while location.hasSuffix("/") { location.removeLast() }
        let repoID: String
        var revision: String? = nil
        var path = ""
        let at = location.firstIndex(of: "@")
        if let at, location[..<at].filter({ $0 == "/" }).count <= 1 {
            repoID = String(location[..<at])
            let rest = String(location[location.index(after: at)...])
            var raw: String
            if let special = HubReference.specialRef(prefixOf: rest) {
                raw = special
                path = String(rest.dropFirst(special.count))
            } else if let slash = rest.firstIndex(of: "/") {
                raw = String(rest[..<slash])
                path = String(rest[slash...])
            } else {
                raw = rest
            }
            while path.hasPrefix("/") { path.removeFirst() }
            raw = percentDecoded(raw)
            guard !raw.isEmpty else { throw CoreError("empty revision after '@'", file: uri) }
            revision = raw
        } else {
            let parts = location.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2 else {
                throw CoreError("the repository must be ORG/NAME (hf://ORG/NAME[@REVISION]), found '\(location)'", file: uri)
            }
            repoID = parts[0] + "/" + parts[1]
            if parts.count > 2 { path = String(parts[2]) }
        }
        let parts = repoID.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty }) else {
            throw CoreError("the repository must be ORG/NAME (hf://ORG/NAME[@REVISION]), found '\(repoID)'", file: uri)
        }
        for p in parts {
            let ok = p.unicodeScalars.allSatisfy { c in
                (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_" || c == "."
            }
            guard ok, !p.contains(".."), !p.contains("--"), !p.hasPrefix("-"), !p.hasPrefix(".") else {
                throw CoreError("'\(p)' is not a valid repository name part (letters, digits, '-', '_', '.'; no '--' or '..')", file: uri)
            }
        }
        if let revision { try HubReference.checkRevision(revision, in: uri) }
        if path.split(separator: "/").contains("..") {
            throw CoreError("the path inside the repository may not contain '..'", file: uri)
        }
        self.repoID = repoID
        self.revision = revision
        self.pathInRepo = path
    }

    /// `hf://ORG/NAME`, with `@REVISION` and `/PATH` when given.
    public var description: String {
        "hf://" + repoID + (revision.map { "@" + $0 } ?? "") + (pathInRepo.isEmpty ? "" : "/" + pathInRepo)
    }

    /// The same repository at `revision`, without a path.
    public func at(_ revision: String) -> HubReference {
        var r = self
        r.revision = revision
        r.pathInRepo = ""
        return r
    }

    /// The repository's folder in the cache: `models--ORG--NAME`.
    public var folderName: String { "models--" + repoID.split(separator: "/").joined(separator: "--") }

    /// Refuses revisions that would leave the cache's `refs/` or `snapshots/` folders.
    ///
    /// - Throws: `CoreError` naming `uri` for an empty revision, one containing `..` or a NUL,
    ///   or one starting with `/`.
    static func checkRevision(_ revision: String, in uri: String) throws {
        guard !revision.isEmpty else { throw CoreError("empty revision", file: uri) }
        guard !revision.contains(".."), !revision.hasPrefix("/"), !revision.contains("\0") else {
            throw CoreError("'\(revision)' is not a valid revision: it may not contain '..' or start with '/'", file: uri)
        }
    }

    /// `refs/pr/N` or `refs/convert/NAME` at the start of `s` (huggingface_hub's special refs).
    private static func specialRef(prefixOf s: String) -> String? {
        let chars = Array(s)
        func word(_ from: Int, _ ok: (Character) -> Bool) -> Int {
            var j = from
            while j < chars.count, ok(chars[j]) { j += 1 }
            return j
        }
        if s.hasPrefix("refs/pr/") {
            let end = word(8) { $0.isASCII && $0.isNumber }
            return end > 8 ? String(chars[0..<end]) : nil
        }
        if s.hasPrefix("refs/convert/") {
            let end = word(13) { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" || $0 == "." || $0 == "-" }
            return end > 13 ? String(chars[0..<end]) : nil
        }
        return nil
    }
}

/// `s` with `%XX` escapes decoded (as Python's `urllib.parse.unquote`; bad escapes are kept).
private func percentDecoded(_ s: String) -> String {
    guard s.contains("%") else { return s }
    let bytes = Array(s.utf8)
    var out: [UInt8] = []
    var i = 0
    func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
    while i < bytes.count {
        if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, let a = hex(bytes[i + 1]), let b = hex(bytes[i + 2]) {
            out.append(a << 4 | b)
            i += 3
        } else {
            out.append(bytes[i])
            i += 1
        }
    }
    return String(decoding: out, as: UTF8.self)
}

// MARK: The cache folder

/// The hub cache folder and what chose it.
public struct HubCacheLocation: Sendable, Equatable {
    /// The folder (holding `models--ORG--NAME` folders).
    public var path: String
    /// What chose it: `cache "DIR"`, `$HF_HUB_CACHE`, `$HUGGINGFACE_HUB_CACHE`, `$HF_HOME`,
    /// `$XDG_CACHE_HOME`, or `~/.cache`.
    public var origin: String

    public init(path: String, origin: String) {
        self.path = path
        self.origin = origin
    }

    /// The cache folder as huggingface_hub's `constants.HF_HUB_CACHE` computes it: `override`
    /// (the `cache "DIR"` clause) if given; else `$HF_HUB_CACHE`; else `$HUGGINGFACE_HUB_CACHE`;
    /// else `$HF_HOME/hub`; else `$XDG_CACHE_HOME/huggingface/hub`; else
    /// `~/.cache/huggingface/hub`. `~` and `$VAR`/`${VAR}` are expanded as Python's
    /// `expanduser` and `expandvars` do. A variable set to the empty string counts as unset
    /// (huggingface_hub would read it as a relative path, the current directory).
    /// `environment` reads a variable (the process environment by default).
    public static func resolve(override: String? = nil,
                               environment: (String) -> String? = HubCacheLocation.processEnvironment) -> HubCacheLocation {
        func env(_ name: String) -> String? {
            guard let v = environment(name), !v.isEmpty else { return nil }
            return v
        }
        func expand(_ p: String) -> String { expandVariables(expandUser(p, environment: env), environment: environment) }
        var path: String
        let origin: String
        if let override {
            path = expand(override); origin = "cache \"\(override)\""
        } else if let v = env("HF_HUB_CACHE") {
            path = expand(v); origin = "$HF_HUB_CACHE"
        } else if let v = env("HUGGINGFACE_HUB_CACHE") {
            path = expand(v); origin = "$HUGGINGFACE_HUB_CACHE"
        } else if let v = env("HF_HOME") {
            path = expand(v) + "/hub"; origin = "$HF_HOME"
        } else if let v = env("XDG_CACHE_HOME") {
            path = expand(v + "/huggingface") + "/hub"; origin = "$XDG_CACHE_HOME"
        } else {
            path = expand("~/.cache/huggingface") + "/hub"; origin = "~/.cache"
        }
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return HubCacheLocation(path: path, origin: origin)
    }

    /// Reads a variable of the process environment (`getenv`, so `setenv` is seen at once).
    public static let processEnvironment: @Sendable (String) -> String? = { name in
        getenv(name).map { String(cString: $0) }
    }
}

/// Python's `os.path.expanduser`: a leading `~` or `~/…` becomes `$HOME` (else the password
/// database's home), `~USER/…` that user's home; anything else is unchanged.
private func expandUser(_ p: String, environment: (String) -> String?) -> String {
    guard p.hasPrefix("~") else { return p }
    let slash = p.firstIndex(of: "/") ?? p.endIndex
    let user = String(p[p.index(after: p.startIndex)..<slash])
    var home: String?
    if user.isEmpty {
        home = environment("HOME") ?? getpwuid(getuid()).map { String(cString: $0.pointee.pw_dir) }
    } else {
        home = getpwnam(user).map { String(cString: $0.pointee.pw_dir) }
    }
    guard var h = home else { return p }
    while h.count > 1 && h.hasSuffix("/") { h.removeLast() }
    return h + p[slash...]
}

/// Python's `os.path.expandvars`: `$NAME` and `${NAME}` of set variables are replaced; others
/// are left as they are.
private func expandVariables(_ p: String, environment: (String) -> String?) -> String {
    guard p.contains("$") else { return p }
    let c = Array(p)
    var out = ""
    var i = 0
    func isName(_ ch: Character) -> Bool { ch.isASCII && (ch.isLetter || ch.isNumber || ch == "_") }
    while i < c.count {
        guard c[i] == "$", i + 1 < c.count else { out.append(c[i]); i += 1; continue }
        if c[i + 1] == "{", let close = c[(i + 2)...].firstIndex(of: "}") {
            let name = String(c[(i + 2)..<close])
            if let v = environment(name) { out += v } else { out += String(c[i...close]) }
            i = close + 1
        } else {
            var j = i + 1
            while j < c.count, isName(c[j]) { j += 1 }
            let name = String(c[(i + 1)..<j])
            if !name.isEmpty, let v = environment(name) { out += v } else { out += String(c[i..<j]) }
            i = max(j, i + 1)
        }
    }
    return out
}

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
            let ggufs = ((try? directoryEntries(target)) ?? []).filter { $0.lowercased().hasSuffix(".gguf") && fileExists(target + "/" + $0) }.sorted()
            if ggufs.count == 1 { return target + "/" + ggufs[0] }
            if ggufs.count > 1 {
                throw CoreError("\(reference.at(revision.name)) holds \(ggufs.count) GGUF files and no config.json: name one, e.g. load \"\(reference.at(revision.name))/\(prefix)\(ggufs[0])\"", file: target)
            }
        }
        var missing: [String] = []
        if !has("config.json") && !has("config.yaml") { missing.append(prefix + "config.json") }
        let weightEntries = ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt"]
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
