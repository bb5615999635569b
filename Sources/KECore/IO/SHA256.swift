// MARK: SHA-256
//
// SHA-256 from OpenSSL's libcrypto (Debian's libssl-dev), used for the fingerprints of models
// and corpora (not for security): ~1.5 GB/s with the CPU's SHA extensions, where the former
// Swift implementation ran at ~30 MB/s, so that a model fingerprint can cover every weight byte.

import CCrypto
import Foundation

/// An incremental SHA-256 hash (a value: a copy continues independently).
public struct SHA256Hasher: @unchecked Sendable {
    private var ctx = SHA256_CTX()

    public init() { _ = ke_sha256_init(&ctx) }

    /// Adds raw bytes to the message.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        _ = ke_sha256_update(&ctx, base, bytes.count)
    }

    /// Adds bytes to the message.
    public mutating func update(_ data: Data) {
        data.withUnsafeBytes { update($0) }
    }

    /// Adds bytes to the message.
    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        if bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) != nil { return }
        Array(bytes).withUnsafeBytes { update($0) }
    }

    /// Adds the UTF-8 bytes of a string followed by a NUL separator.
    public mutating func update(string s: String) {
        update(Array(s.utf8))
        update([0])
    }

    /// Hashes the bit patterns of `values`, each as 4 little-endian bytes.
    public mutating func update<S: Sequence>(floats values: S) where S.Element == Float {
        var bytes: [UInt8] = []
        for v in values {
            var b = v.bitPattern
            for _ in 0..<4 { bytes.append(UInt8(b & 0xff)); b >>= 8 }
        }
        update(bytes)
    }

    /// Adds a 64-bit integer, little-endian.
    public mutating func update(int v: Int) {
        withUnsafeBytes(of: UInt64(bitPattern: Int64(v)).littleEndian) { update($0) }
    }

    /// The digest as 64 lowercase hex digits (the hasher itself is left as it was).
    public func hexDigest() -> String {
        var copy = ctx
        var md = [UInt8](repeating: 0, count: 32)
        _ = ke_sha256_final(&md, &copy)
        let hex = Array("0123456789abcdef")
        var s = ""
        for b in md { s.append(hex[Int(b >> 4)]); s.append(hex[Int(b & 0xf)]) }
        return s
    }
}

// MARK: Whole files

/// Bytes read at a time when hashing a file.
let fileDigestChunk = 4 << 20

/// What identifies a file's contents without reading them: device, inode, size, modification time.
private struct FileIdentity: Hashable {
    var device: UInt64, inode: UInt64, size: Int64, mtimeSeconds: Int64, mtimeNanoseconds: Int64
}

/// Digests of the files hashed in this process, by identity.
private final class FileDigestCache: @unchecked Sendable {
    let lock = NSLock()
    var digests: [FileIdentity: String] = [:]
}
private let fileDigestCache = FileDigestCache()

/// The SHA-256 of a whole file (64 hex digits), read in 4 MiB chunks (never all in memory) and
/// remembered for the rest of the process by the file's device, inode, size and modification
/// time, so a model's weights are hashed once however often it is fingerprinted. A file changed
/// in place gets a new modification time and is hashed again.
///
/// - Throws: `CoreError` naming `path` when it cannot be opened, is not a regular file, or a
///   read fails.
public func fileSHA256(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY | O_NONBLOCK)        // a FIFO is refused below instead of waited on
    guard fd >= 0 else { throw CoreError("cannot open: \(String(cString: strerror(errno)))", file: path) }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw CoreError("cannot stat: \(String(cString: strerror(errno)))", file: path) }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw CoreError("not a regular file", file: path) }
    let id = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                          mtimeSeconds: Int64(st.st_mtim.tv_sec), mtimeNanoseconds: Int64(st.st_mtim.tv_nsec))
    fileDigestCache.lock.lock()
    let known = fileDigestCache.digests[id]
    fileDigestCache.lock.unlock()
    if let known { return known }
    var h = SHA256Hasher()
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: fileDigestChunk, alignment: 64)
    defer { buffer.deallocate() }
    while true {
        let got = read(fd, buffer.baseAddress, fileDigestChunk)
        if got < 0 {
            if errno == EINTR { continue }
            throw CoreError("cannot read: \(String(cString: strerror(errno)))", file: path)
        }
        if got == 0 { break }
        h.update(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
    }
    let digest = h.hexDigest()
    // A file written while it was read is not remembered (its identity no longer names these bytes).
    var after = stat()
    guard fstat(fd, &after) == 0, after.st_size == st.st_size, after.st_mtim.tv_sec == st.st_mtim.tv_sec,
          after.st_mtim.tv_nsec == st.st_mtim.tv_nsec else { return digest }
    fileDigestCache.lock.lock()
    fileDigestCache.digests[id] = digest
    fileDigestCache.lock.unlock()
    return digest
}
