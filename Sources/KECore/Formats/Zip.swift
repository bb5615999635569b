// MARK: A minimal zip reader for PyTorch checkpoints
//
// `torch.save` (torch ≥ 1.6) writes a zip archive whose entries are STORED (method 0, not
// compressed), with the tensor data of each storage in `ARCHIVE/data/KEY`, aligned to 64 bytes
// so the data can be used in place. This reader memory-maps the file, reads the end-of-central-
// directory record (and its ZIP64 form, used by torch for large files), and validates every
// count, offset and size against the file before anything is used. Compressed or encrypted
// entries are refused: torch never writes them, and inflating is not needed.

/// One stored entry of a zip archive: its name and where its bytes are in the file.
struct ZipEntry: Equatable {
    var name: String
    /// Byte offset of the entry's data in the file.
    var dataOffset: Int
    /// Size of the data in bytes.
    var size: Int
}

/// The stored entries of a zip archive (as torch writes them).
final class ZipArchive: @unchecked Sendable {
    let file: MappedFile
    let entries: [ZipEntry]
    private let index: [String: Int]

    /// Largest number of entries accepted (a checkpoint has one per storage plus a few).
    static let maxEntries = 10_000_000

    /// Opens and validates `path` as a zip archive of stored entries.
    /// - Throws: `CoreError` naming `path` (and the byte offset) for anything that is not a well-formed archive of
    ///   stored entries: missing or malformed end record, multi-disk archive, counts that do not
    ///   fit the central directory, offsets or sizes past the end of the file, compressed or
    ///   encrypted entries, overlapping entries, repeated names.
    convenience init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    /// Validates the mapped `file` as a zip archive of stored entries.
    /// - Throws: as `init(path:)`.
    init(file: MappedFile) throws {
        self.file = file
        let (list, idx) = try withCoreErrors { try readZipDirectory(ByteCursor(file.bytes, file: file.path)) }
        entries = list
        index = idx
    }

    /// The entry called `name`, if present.
    func entry(_ name: String) -> ZipEntry? { index[name].map { entries[$0] } }

    /// The bytes of `entry` (valid while the archive lives; offsets were validated at open).
    func data(_ entry: ZipEntry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[entry.dataOffset..<(entry.dataOffset + entry.size)])
    }
}

// MARK: Reading the directory

/// Where the central directory is, from the end record (and its ZIP64 form).
private struct ZipDirectoryExtent {
    var count: Int
    var offset: Int
    var size: Int
}

/// The stored entries of the archive `r` holds, and their index by name.
/// - Throws: `ZipError` as `ZipArchive.init(path:)` says.
private func readZipDirectory(_ r: ByteCursor<ZipFormat>) throws(ZipError) -> ([ZipEntry], [String: Int]) {
    let cd = try readZipEndRecord(r)
    var list: [ZipEntry] = []
    list.reserveCapacity(cd.count)
    var idx: [String: Int] = [:]
    var q = cd.offset
    for _ in 0..<cd.count {
        let (entry, recordLength) = try readZipCentralRecord(r, at: q, directoryEnd: cd.offset + cd.size)
        guard idx[entry.name] == nil else { throw r.error("zip entry '\(entry.name)' appears twice", at: q) }
        idx[entry.name] = list.count
        list.append(entry)
        q += recordLength
    }
    if let (a, b) = firstOverlap(list, extent: { $0.dataOffset..<($0.dataOffset + $0.size) }) {
        throw r.error("zip entries '\(a.name)' and '\(b.name)' overlap", at: b.dataOffset)
    }
    return (list, idx)
}

/// The central directory's extent and entry count, from the end-of-central-directory record
/// (22 bytes + a comment of at most 65535 bytes, at the end) or its ZIP64 form, checked against
/// the file.
/// - Throws: `ZipError` for a missing or malformed record, a multi-disk archive, a directory
///   outside the file or a count it cannot hold.
private func readZipEndRecord(_ r: ByteCursor<ZipFormat>) throws(ZipError) -> ZipDirectoryExtent {
    let size = r.bytes.count
    guard size >= 22 else { throw r.error("not a zip archive: \(size) bytes, shorter than the 22-byte end record") }
    var eocd = -1
    var p = size - 22
    let lowest = max(0, size - 22 - 65535)
    while p >= lowest {
        if r.bytes[p] == 0x50, r.bytes[p + 1] == 0x4B, r.bytes[p + 2] == 0x05, r.bytes[p + 3] == 0x06 { eocd = p; break }
        p -= 1
    }
    guard eocd >= 0 else { throw r.error("not a zip archive: no end-of-central-directory record") }
    var disk = Int(try r.uint(2, at: eocd + 4)), cdDisk = Int(try r.uint(2, at: eocd + 6))
    var count = Int(try r.uint(2, at: eocd + 10))
    var cdSize = Int(try r.uint(4, at: eocd + 12)), cdOffset = Int(try r.uint(4, at: eocd + 16))
    let onDisk = try r.uint(2, at: eocd + 8)
    if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF || onDisk == 0xFFFF {
        // ZIP64: a locator (20 bytes) right before the end record points at the ZIP64 end record.
        let loc = eocd - 20
        guard loc >= 0, try r.uint(4, at: loc) == 0x0706_4B50 else {
            throw r.error("zip archive needs a ZIP64 end record but has no ZIP64 locator", at: eocd)
        }
        let z = try r.int64(at: loc + 8, what: "ZIP64 end record offset")
        guard z <= size - 56, try r.uint(4, at: z) == 0x0606_4B50 else {
            throw r.error("ZIP64 end record offset \(z) does not point at a ZIP64 end record", at: loc + 8)
        }
        disk = Int(try r.uint(4, at: z + 16)); cdDisk = Int(try r.uint(4, at: z + 20))
        count = try r.int64(at: z + 32, what: "ZIP64 entry count")
        cdSize = try r.int64(at: z + 40, what: "ZIP64 central directory size")
        cdOffset = try r.int64(at: z + 48, what: "ZIP64 central directory offset")
    }
    guard disk == 0, cdDisk == 0 else { throw r.error("multi-disk zip archives are not supported") }
    guard cdOffset <= size, cdSize <= size - cdOffset else {
        throw r.error("zip central directory [\(cdOffset), +\(cdSize)) is outside the \(size)-byte file")
    }
    // Each central record is at least 46 bytes: a count that cannot fit is refused before allocating.
    guard count <= cdSize / 46, count <= ZipArchive.maxEntries else {
        throw r.error("zip archive claims \(count) entries, more than its \(cdSize)-byte central directory can hold")
    }
    return ZipDirectoryExtent(count: count, offset: cdOffset, size: cdSize)
}

/// The entry of the central directory record at `q` and the record's length, with its data
/// extent checked against the file.
/// - Throws: `ZipError` for a malformed record, a bad ZIP64 extra field, an encrypted or
///   compressed entry, sizes that differ, a bad local header or data outside the file.
private func readZipCentralRecord(_ r: ByteCursor<ZipFormat>, at q: Int, directoryEnd cdEnd: Int)
    throws(ZipError) -> (ZipEntry, Int)
{
    let size = r.bytes.count
    guard q <= cdEnd - 46, try r.uint(4, at: q) == 0x0201_4B50 else {
        throw r.error("zip central directory record is malformed", at: q)
    }
    let flags = try r.uint(2, at: q + 8), method = try r.uint(2, at: q + 10)
    var csize = Int(try r.uint(4, at: q + 20)), usize = Int(try r.uint(4, at: q + 24))
    let nameLen = Int(try r.uint(2, at: q + 28)), extraLen = Int(try r.uint(2, at: q + 30))
    let commentLen = Int(try r.uint(2, at: q + 32))
    var local = Int(try r.uint(4, at: q + 42))
    let recordLen = 46 + nameLen + extraLen + commentLen
    guard recordLen <= cdEnd - q else { throw r.error("zip central directory record runs past the directory", at: q) }
    let name = String(decoding: UnsafeRawBufferPointer(rebasing: r.bytes[(q + 46)..<(q + 46 + nameLen)]), as: UTF8.self)
    // ZIP64 extra field (id 1): the 8-byte values of the fields stored as 0xFFFFFFFF, in order.
    var e = q + 46 + nameLen
    let extraEnd = e + extraLen
    while e + 4 <= extraEnd {
        let id = try r.uint(2, at: e), len = Int(try r.uint(2, at: e + 2))
        guard len <= extraEnd - e - 4 else { throw r.error("zip entry '\(name)': extra field runs past its record", at: e) }
        if id == 1 {
            var f = e + 4
            func next(_ what: String) throws(ZipError) -> Int {
                guard f + 8 <= e + 4 + len else { throw r.error("zip entry '\(name)': ZIP64 extra field is too short", at: e) }
                defer { f += 8 }
                return try r.int64(at: f, what: what)
            }
            if usize == 0xFFFF_FFFF { usize = try next("ZIP64 size") }
            if csize == 0xFFFF_FFFF { csize = try next("ZIP64 compressed size") }
            if local == 0xFFFF_FFFF { local = try next("ZIP64 local header offset") }
        }
        e += 4 + len
    }
    guard flags & 1 == 0 else { throw r.error("zip entry '\(name)' is encrypted", at: q) }
    guard method == 0 else {
        throw r.error("zip entry '\(name)' is compressed (method \(method)); PyTorch checkpoints store entries uncompressed", at: q)
    }
    guard csize == usize else { throw r.error("zip entry '\(name)' is stored but its sizes differ (\(csize) vs \(usize))", at: q) }
    guard local <= size - 30, try r.uint(4, at: local) == 0x0403_4B50 else {
        throw r.error("zip entry '\(name)': local header offset \(local) does not point at a local header", at: q + 42)
    }
    let dataOffset = local + 30 + Int(try r.uint(2, at: local + 26)) + Int(try r.uint(2, at: local + 28))
    guard dataOffset <= size, usize <= size - dataOffset else {
        throw r.error("zip entry '\(name)': data [\(dataOffset), +\(usize)) is outside the \(size)-byte file", at: local)
    }
    return (ZipEntry(name: name, dataOffset: dataOffset, size: usize), recordLen)
}
