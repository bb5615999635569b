import Foundation

// MARK: Paths and folders
//
// The one home of the questions ke asks of a path (does it exist, is it a file or a folder,
// which folder holds it) and of the folder operations every writer shares (list, create,
// remove). Readers are in Files.swift, writers in Writing.swift.

/// True when something (a file, a directory, …) exists at `path` (symlinks followed).
func pathExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0
}

/// True when `path` exists and is a regular file (following symlinks).
func fileExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
}

/// True when `path` exists and is a directory.
func directoryExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// The folder part of `p`: "." for a bare name, "/" for an entry of the root.
func parentDirectory(_ p: String) -> String {
    guard let slash = p.lastIndex(of: "/") else { return "." }
    return slash == p.startIndex ? "/" : String(p[..<slash])
}

/// The last component of `p`.
func baseName(_ p: String) -> String {
    guard let slash = p.lastIndex(of: "/") else { return p }
    return String(p[p.index(after: slash)...])
}

/// The folder that is to hold `path` ("." for a bare name, "/" for an entry of the root) and the
/// last component. Every `save` writes into an existing folder and never creates one (a
/// mistyped folder is reported, not made), so the folder is checked first.
/// - Throws: `CoreError` naming the folder when it does not exist or is not a directory.
func existingParentFolder(of path: String) throws -> (parent: String, base: String) {
    let parent = parentDirectory(path), base = baseName(path)
    guard directoryExists(parent) else { throw CoreError("parent directory does not exist", file: parent) }
    return (parent, base)
}

/// Names in a directory, without "." and "..".
/// - Throws: `CoreError` naming `path` when it cannot be opened as a directory.
func directoryEntries(_ path: String) throws -> [String] {
    guard let d = opendir(path) else {
        throw CoreError("cannot read directory: \(String(cString: strerror(errno)))", file: path)
    }
    defer { closedir(d) }
    var out: [String] = []
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
            String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
        }
        if name != "." && name != ".." { out.append(name) }
    }
    return out
}

/// `mkdir -p`: creates `path` and its missing parents (mode 0755).
/// - Throws: `CoreError` naming the folder that cannot be created, or a path that exists and is
///   not a directory.
func makeDirectories(_ path: String) throws {
    if directoryExists(path) { return }
    let parent = parentDirectory(path)
    if parent != path && parent != "." && parent != "/" { try makeDirectories(parent) }
    if mkdir(path, 0o755) != 0 && errno != EEXIST {
        throw CoreError("cannot create directory: \(String(cString: strerror(errno)))", file: path)
    }
    guard directoryExists(path) else { throw CoreError("exists and is not a directory", file: path) }
}

/// Removes a file or a directory tree (does not follow symlinks). True on success.
@discardableResult
func removeTree(_ path: String) -> Bool {
    var st = stat()
    guard lstat(path, &st) == 0 else { return false }
    if (st.st_mode & S_IFMT) == S_IFDIR {
        guard let names = try? directoryEntries(path) else { return false }
        var ok = true
        for n in names where !removeTree(path + "/" + n) { ok = false }
        return rmdir(path) == 0 && ok
    }
    return unlink(path) == 0
}
