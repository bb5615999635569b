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

/// Runs `write` on a fresh temporary sibling folder of `path`, syncs it, then renames it over
/// `path` (an existing folder there is removed first), so the folder appears whole or not at all.
/// For folders ke owns (tiny-run data); a saved model goes through `writeModelDirectory`, which
/// also refuses to replace folders it does not recognise.
/// - Throws: `CoreError` naming the folder that cannot be created or moved into place, or what
///   `write` throws (the temporary folder is removed).
func writeDirectoryAtomically(_ path: String, _ write: (String) throws -> Void) throws {
    let tmp = parentDirectory(path) + "/." + baseName(path) + ".ke-tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    do {
        try makeDirectories(tmp)
        try write(tmp)
        syncDirectory(tmp)
        if directoryExists(path) { removeTree(path) }
        guard rename(tmp, path) == 0 else {
            throw CoreError("cannot move the folder into place: \(String(cString: strerror(errno)))", file: path)
        }
        syncDirectory(parentDirectory(path))
    } catch {
        removeTree(tmp)
        throw error
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
