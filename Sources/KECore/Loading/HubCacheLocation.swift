// MARK: Where the hub cache is
//
// The folder huggingface_hub keeps downloaded models in (`constants.py`): `$HF_HUB_CACHE`, else
// `$HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else `${XDG_CACHE_HOME:-~/.cache}/huggingface/hub`.
// The folder's layout is described in HubCache.swift.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
