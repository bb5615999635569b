#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KECore

// MARK: - File system

/// Directory listing and home directory through the C library (no Foundation).
public enum FileSystem {
    /// The entries of `path` with whether each is a directory (symlinks followed), or nil.
    public static func list(_ path: String) -> [(name: String, isDirectory: Bool)]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var result: [(name: String, isDirectory: Bool)] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            let full = path.hasSuffix("/") ? path + name : path + "/" + name
            result.append((name, isDirectory(full)))
        }
        return result
    }

    /// True when `path` is a directory (following symlinks).
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// True when `path` exists.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// `$HOME`, or the password database entry.
    public static var home: String? {
        if let h = getenv("HOME"), h.pointee != 0 { return String(cString: h) }
        if let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir { return String(cString: dir) }
        return nil
    }

    /// Creates `path` and its parents (mode 0700 for new ones); true when it exists afterwards.
    @discardableResult
    public static func makeDirectories(_ path: String) -> Bool {
        if isDirectory(path) { return true }
        var prefix = ""
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += (prefix.isEmpty && !path.hasPrefix("/") ? "" : "/") + part
            if !isDirectory(prefix) { _ = mkdir(prefix, 0o700) }
        }
        return isDirectory(path)
    }

    /// The whole contents of a file, or nil.
    public static func read(_ path: String) -> String? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n > 0 { bytes.append(contentsOf: buffer[0..<n]) }
            if n < buffer.count { break }
        }
        if ferror(f) != 0 { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `text` to `path` atomically (KECore's `writeFileAtomically`: a synced temporary
    /// file beside it, then `rename`).
    ///
    /// - Throws: `ShellError` "cannot write PATH: REASON" when the folder does not exist, or the
    ///   file cannot be created, written (disk full, I/O error) or renamed into place.
    public static func writeAtomically(_ text: String, to path: String) throws {
        do { try writeFileAtomically(Array(text.utf8), to: path) }
        catch let e as CoreError { throw ShellError("cannot write \(e.description)") }
    }
}

/// An error from the shell layer (files it cannot read or write).
public struct ShellError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
