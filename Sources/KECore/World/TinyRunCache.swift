import Foundation

// MARK: Where the tiny run lives on disk

extension TinyRunConfig {
    /// The cache root: `$XDG_CACHE_HOME/ke` when that is set and absolute, else `$HOME/.cache/ke`
    /// (the XDG base-directory rule). Throws when neither variable gives an absolute path.
    ///
    /// - Throws: `CoreError` when neither XDG_CACHE_HOME nor HOME is set.
    public static func cacheRoot(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let x = environment["XDG_CACHE_HOME"], x.hasPrefix("/") { return trimSlash(x) + "/ke" }
        if let h = environment["HOME"], h.hasPrefix("/") { return trimSlash(h) + "/.cache/ke" }
        throw CoreError("cannot find a cache directory: set XDG_CACHE_HOME or HOME")
    }

    /// The run's directory: `<cacheRoot>/tiny-<cacheKey>`.
    public func runDirectory(root: String) -> String { TinyRunConfig.trimSlash(root) + "/tiny-" + cacheKey }

    /// The Hugging Face directory of the checkpoint after `step`: `<run>/step-<step, 7 digits>`.
    public func checkpointDirectory(root: String, step: Int) -> String {
        let s = String(max(0, step))
        return runDirectory(root: root) + "/step-" + String(repeating: "0", count: max(0, 7 - s.count)) + s
    }

    static func trimSlash(_ p: String) -> String {
        var s = p
        while s.count > 1 && s.hasSuffix("/") { s.removeLast() }
        return s
    }
}
