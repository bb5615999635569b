// MARK: Hub model names: hf://[models/]ORG/NAME[@REVISION][/PATH]
//
// How `load "hf://…"` names a model in the Hugging Face hub cache (HubCache.swift), parsed as
// huggingface_hub's `utils/_hf_uris.py` parses it.

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
