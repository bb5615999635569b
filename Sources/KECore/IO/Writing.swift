import Foundation

// MARK: Writing files
//
// Every file ke keeps (a saved model's files, sums, tiny-run data, notebooks) is written
// through a temporary sibling that is flushed and fsynced, then renamed into place, and the
// folder is fsynced so the rename itself survives a crash: a reader sees the old file or the
// whole new one, never half of it. Whole folders (a saved model) are written the same way one
// level up: a temporary sibling folder renamed into place.

/// Writes `bytes` to `path` directly (replacing it), with no temporary file: for files inside a
/// temporary folder that is itself renamed into place, and for tests.
/// - Throws: `CoreError` naming `path` when it cannot be created or written.
func writeFileBytes(_ bytes: [UInt8], to path: String) throws {
    guard let fp = fopen(path, "wb") else {
        throw CoreError("cannot create file: \(String(cString: strerror(errno)))", file: path)
    }
    let n = bytes.withUnsafeBytes { b in b.count == 0 ? 0 : fwrite(b.baseAddress!, 1, b.count, fp) }
    let closed = fclose(fp)
    guard n == bytes.count, closed == 0 else {
        throw CoreError("write failed", file: path)
    }
}

/// Writes a file through a temporary sibling, synced before it is moved into place, so `path`
/// appears complete or not at all; then syncs the folder. `body` writes the bytes through
/// `put`. With `replace` an existing file is replaced (rename); without, an existing file is an
/// error (hard link).
/// - Throws: `CoreError` naming the folder when it does not exist (`existingParentFolder`), or
///   the file when it cannot be created, written or moved into place, or exists and `replace` is
///   false.
func writeFileAtomically(
    path: String, replace: Bool, _ body: (_ put: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
) throws {
    let (parent, _) = try existingParentFolder(of: path)
    if !replace && access(path, F_OK) == 0 {
        throw CoreError("the file exists and is never overwritten", file: path)
    }
    // Hidden, and unique per process and call, so concurrent writers never share a temporary file.
    let tmp = parent + "/." + baseName(path) + ".ke-tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    guard let fp = fopen(tmp, "wb") else {
        throw CoreError("cannot create file: \(String(cString: strerror(errno)))", file: path)
    }
    var open = true
    defer { if open { fclose(fp) }; unlink(tmp) }
    try body { bytes in
        guard bytes.isEmpty || fwrite(bytes.baseAddress, 1, bytes.count, fp) == bytes.count else {
            throw CoreError("write failed: \(String(cString: strerror(errno)))", file: path)
        }
    }
    guard fflush(fp) == 0, fsync(fileno(fp)) == 0 else {
        throw CoreError("write failed: \(String(cString: strerror(errno)))", file: path)
    }
    open = false
    guard fclose(fp) == 0 else { throw CoreError("write failed: \(String(cString: strerror(errno)))", file: path) }
    if replace {
        guard rename(tmp, path) == 0 else {
            throw CoreError("cannot rename temporary file into place: \(String(cString: strerror(errno)))", file: path)
        }
    } else {
        guard link(tmp, path) == 0 else {
            let msg = errno == EEXIST ? "the file exists and is never overwritten" : "cannot move the temporary file into place: \(String(cString: strerror(errno)))"
            throw CoreError(msg, file: path)
        }
    }
    syncDirectory(parent)
}

/// Writes `bytes` to `path` atomically (see `writeFileAtomically(path:replace:_:)`), replacing
/// an existing file unless `replace` is false.
/// - Throws: as `writeFileAtomically(path:replace:_:)`.
public func writeFileAtomically(_ bytes: [UInt8], to path: String, replace: Bool = true) throws {
    try writeFileAtomically(path: path, replace: replace) { put in try bytes.withUnsafeBytes { try put($0) } }
}

/// What `writeDirectoryAtomically` may replace at its path.
enum FolderReplacement {
    /// A folder ke owns (tiny-run data): a folder there is replaced whatever it holds, and
    /// missing parent folders are created.
    case owned
    /// A saved model: the parent folder must exist; `.`, `..` and `/` are refused, and so is a
    /// non-directory, and a non-empty folder unless `force` and it holds a config.json (so a
    /// mistyped path cannot wipe an unrelated folder).
    case modelDirectory(force: Bool)
}

/// Runs `write` on a fresh temporary sibling folder of `path`, syncs it, then renames it into
/// place, so the folder appears whole or not at all: an existing non-empty folder is first moved
/// aside (and restored if the rename fails), an empty one is replaced by the rename itself. What
/// may be replaced is `replacing` (see `FolderReplacement`). The one folder writer: a saved
/// model (`saveHuggingFaceDirectory`) and tiny-run data.
///
/// - Throws: `CoreError` naming the folder that is refused (`FolderReplacement`), cannot be
///   created or moved into place, or what `write` throws (the temporary folder is removed).
func writeDirectoryAtomically(_ path: String, replacing: FolderReplacement = .owned, _ write: (String) throws -> Void) throws {
    var dir = path
    while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
    let replaceNonEmpty = try replacing.checkTarget(dir, as: path)
    let parent: String, base = baseName(dir)
    switch replacing {
    case .owned: parent = parentDirectory(dir); try makeDirectories(parent)
    case .modelDirectory: parent = try existingParentFolder(of: dir).parent
    }
    // Hidden, and unique per process and call, so concurrent writers never share a folder.
    let unique = "\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    let tmp = "\(parent)/.\(base).ke-tmp-\(unique)"
    guard mkdir(tmp, 0o755) == 0 else {
        throw CoreError("cannot create directory: \(String(cString: strerror(errno)))", file: tmp)
    }
    do {
        try write(tmp)
    } catch {
        removeTree(tmp)
        throw error
    }
    syncDirectory(tmp)
    defer { syncDirectory(parent) }
    guard replaceNonEmpty else {
        // rename(2) replaces an empty directory atomically.
        guard rename(tmp, dir) == 0 else {
            let msg = String(cString: strerror(errno))
            removeTree(tmp)
            throw CoreError("cannot move the new directory into place: \(msg)", file: dir)
        }
        return
    }
    let old = "\(parent)/.\(base).ke-old-\(unique)"
    guard rename(dir, old) == 0 else {
        let msg = String(cString: strerror(errno))
        removeTree(tmp)
        throw CoreError("cannot move the old directory aside: \(msg)", file: dir)
    }
    guard rename(tmp, dir) == 0 else {
        let msg = String(cString: strerror(errno))
        _ = rename(old, dir)
        removeTree(tmp)
        throw CoreError("cannot move the new directory into place: \(msg)", file: dir)
    }
    removeTree(old)
}

extension FolderReplacement {
    /// Checks what stands at `dir` (`path` as given, trailing slashes removed); true when it is
    /// a non-empty folder to be moved aside.
    /// - Throws: `CoreError` naming the folder when this policy refuses it.
    func checkTarget(_ dir: String, as path: String) throws -> Bool {
        guard case .modelDirectory(let force) = self else {
            return directoryExists(dir) && !((try? directoryEntries(dir))?.isEmpty ?? true)
        }
        guard !dir.isEmpty, dir != "/", dir != ".", dir != ".." else {
            throw CoreError("refusing to save into this directory", file: path)
        }
        var st = stat()
        guard lstat(dir, &st) == 0 else { return false }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw CoreError("exists and is not a directory", file: dir) }
        let entries = try directoryEntries(dir)
        if entries.isEmpty { return false }
        guard force else { throw CoreError("directory is not empty (use force to replace it)", file: dir) }
        guard entries.contains("config.json") else {
            throw CoreError("directory is not empty and holds no config.json; refusing to replace it even with force", file: dir)
        }
        return true
    }
}

/// fsyncs the folder `path` so that renames into it are durable. Best effort: a file system
/// that cannot sync folders loses only durability, never the file's integrity.
func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_DIRECTORY)
    guard fd >= 0 else { return }
    _ = fsync(fd)
    close(fd)
}
