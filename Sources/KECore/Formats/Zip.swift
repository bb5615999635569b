// MARK: A minimal zip reader for PyTorch checkpoints
//
// `torch.save` (torch ≥ 1.6) writes a zip archive whose entries are STORED (method 0, not
// compressed), with the tensor data of each storage in `ARCHIVE/data/KEY`, aligned to 64 bytes
// so the data can be used in place. This reader memory-maps the file, reads the end-of-central-
// directory record (and its ZIP64 form, used by torch for large files), and validates every
// count, offset and size against the file before anything is used. Compressed or encrypted
// entries are refused: torch never writes them, and inflating is not needed.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only. The mapping lives as long as the object.
final class MappedFile: @unchecked Sendable {
    let path: String
    let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?
    private let length: Int

    /// Maps `path`. An empty file maps to an empty buffer.
    /// - Throws: `CoreError` naming `path` when it cannot be opened, is not a regular file or
    ///   cannot be mapped.
    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CoreError("cannot open: \(String(cString: strerror(errno)))", file: path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CoreError("cannot stat: \(String(cString: strerror(errno)))", file: path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw CoreError("not a regular file", file: path) }
        let size = Int(st.st_size)
        length = size
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
            throw CoreError("cannot memory-map: \(String(cString: strerror(errno)))", file: path)
        }
        base = m
        bytes = UnsafeRawBufferPointer(start: m, count: size)
    }

    deinit { if let base { munmap(base, length) } }

    /// Drops the whole pages inside `range` from this process's resident memory (they are read
    /// again from the file if touched later), so a loader that has copied a tensor out does not
    /// also keep the file's copy resident.
    func releasePages(_ range: Range<Int>) {
        guard let base, range.lowerBound >= 0, range.upperBound <= length else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        let lo = (range.lowerBound + page - 1) / page * page, hi = range.upperBound / page * page
        if hi > lo { _ = madvise(base + lo, hi - lo, MADV_DONTNEED) }
    }
}

/// Little-endian reads with bounds checks (a bad offset throws instead of trapping).
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let file: String?

    func u(_ offset: Int, _ width: Int) throws -> UInt64 {
        guard offset >= 0, width <= 8, offset <= bytes.count - width else {
            throw CoreError("truncated: a \(width)-byte field at offset \(offset) is past the end (\(bytes.count) bytes)", file: file)
        }
        var v: UInt64 = 0
        for i in 0..<width { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        return v
    }
    func u16(_ o: Int) throws -> Int { Int(try u(o, 2)) }
    func u32(_ o: Int) throws -> Int { Int(try u(o, 4)) }
    /// A u64 that must fit in Int (file offsets and sizes).
    func u64(_ o: Int, what: String) throws -> Int {
        let v = try u(o, 8)
        guard v <= UInt64(Int.max) else { throw CoreError("\(what) \(v) is too large", file: file) }
        return Int(v)
    }
}

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
    /// - Throws: `CoreError` naming `path` for anything that is not a well-formed archive of
    ///   stored entries: missing or malformed end record, multi-disk archive, counts that do not
    ///   fit the central directory, offsets or sizes past the end of the file, compressed or
    ///   encrypted entries, overlapping entries, repeated names.
    convenience init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        let r = ByteReader(bytes: file.bytes, file: path)
        let size = file.bytes.count
        // End of central directory: 22 bytes + a comment of at most 65535 bytes, at the end.
        guard size >= 22 else { throw CoreError("not a zip archive: \(size) bytes, shorter than the 22-byte end record", file: path) }
        var eocd = -1
        var p = size - 22
        let lowest = max(0, size - 22 - 65535)
        while p >= lowest {
            if file.bytes[p] == 0x50, file.bytes[p + 1] == 0x4B, file.bytes[p + 2] == 0x05, file.bytes[p + 3] == 0x06 {
                eocd = p; break
            }
            p -= 1
        }
        guard eocd >= 0 else { throw CoreError("not a zip archive: no end-of-central-directory record", file: path) }
        var disk = try r.u16(eocd + 4), cdDisk = try r.u16(eocd + 6)
        var count = try r.u16(eocd + 10)
        var cdSize = try r.u32(eocd + 12), cdOffset = try r.u32(eocd + 16)
        let onDisk = try r.u16(eocd + 8)
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF || onDisk == 0xFFFF {
            // ZIP64: a locator (20 bytes) right before the end record points at the ZIP64 end record.
            let loc = eocd - 20
            guard loc >= 0, try r.u32(loc) == 0x0706_4B50 else {
                throw CoreError("zip archive needs a ZIP64 end record but has no ZIP64 locator", file: path)
            }
            let z = try r.u64(loc + 8, what: "ZIP64 end record offset")
            guard z <= size - 56, try r.u32(z) == 0x0606_4B50 else {
                throw CoreError("ZIP64 end record offset \(z) does not point at a ZIP64 end record", file: path)
            }
            disk = try r.u32(z + 16); cdDisk = try r.u32(z + 20)
            count = try r.u64(z + 32, what: "ZIP64 entry count")
            cdSize = try r.u64(z + 40, what: "ZIP64 central directory size")
            cdOffset = try r.u64(z + 48, what: "ZIP64 central directory offset")
        }
        guard disk == 0, cdDisk == 0 else { throw CoreError("multi-disk zip archives are not supported", file: path) }
        guard cdOffset <= size, cdSize <= size - cdOffset else {
            throw CoreError("zip central directory [\(cdOffset), +\(cdSize)) is outside the \(size)-byte file", file: path)
        }
        // Each central record is at least 46 bytes: a count that cannot fit is refused before allocating.
        guard count <= cdSize / 46, count <= ZipArchive.maxEntries else {
            throw CoreError("zip archive claims \(count) entries, more than its \(cdSize)-byte central directory can hold", file: path)
        }
        var list: [ZipEntry] = []
        list.reserveCapacity(count)
        var idx: [String: Int] = [:]
        var q = cdOffset
        let cdEnd = cdOffset + cdSize
        for _ in 0..<count {
            guard q <= cdEnd - 46, try r.u32(q) == 0x0201_4B50 else {
                throw CoreError("zip central directory record at offset \(q) is malformed", file: path)
            }
            let flags = try r.u16(q + 8), method = try r.u16(q + 10)
            var csize = try r.u32(q + 20), usize = try r.u32(q + 24)
            let nameLen = try r.u16(q + 28), extraLen = try r.u16(q + 30), commentLen = try r.u16(q + 32)
            var local = try r.u32(q + 42)
            let recordLen = 46 + nameLen + extraLen + commentLen
            guard recordLen <= cdEnd - q else {
                throw CoreError("zip central directory record at offset \(q) runs past the directory", file: path)
            }
            let nameBytes = UnsafeRawBufferPointer(rebasing: file.bytes[(q + 46)..<(q + 46 + nameLen)])
            let name = String(decoding: nameBytes, as: UTF8.self)
            // ZIP64 extra field (id 1): the 8-byte values of the fields stored as 0xFFFFFFFF, in order.
            var e = q + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = try r.u16(e), len = try r.u16(e + 2)
                guard len <= extraEnd - e - 4 else { throw CoreError("zip entry '\(name)': extra field runs past its record", file: path) }
                if id == 1 {
                    var f = e + 4
                    func next(_ what: String) throws -> Int {
                        guard f + 8 <= e + 4 + len else { throw CoreError("zip entry '\(name)': ZIP64 extra field is too short", file: path) }
                        defer { f += 8 }
                        return try r.u64(f, what: what)
                    }
                    if usize == 0xFFFF_FFFF { usize = try next("ZIP64 size") }
                    if csize == 0xFFFF_FFFF { csize = try next("ZIP64 compressed size") }
                    if local == 0xFFFF_FFFF { local = try next("ZIP64 local header offset") }
                }
                e += 4 + len
            }
            guard flags & 1 == 0 else { throw CoreError("zip entry '\(name)' is encrypted", file: path) }
            guard method == 0 else {
                throw CoreError("zip entry '\(name)' is compressed (method \(method)); PyTorch checkpoints store entries uncompressed", file: path)
            }
            guard csize == usize else {
                throw CoreError("zip entry '\(name)' is stored but its sizes differ (\(csize) vs \(usize))", file: path)
            }
            guard local <= size - 30, try r.u32(local) == 0x0403_4B50 else {
                throw CoreError("zip entry '\(name)': local header offset \(local) does not point at a local header", file: path)
            }
            let dataOffset = local + 30 + (try r.u16(local + 26)) + (try r.u16(local + 28))
            guard dataOffset <= size, usize <= size - dataOffset else {
                throw CoreError("zip entry '\(name)': data [\(dataOffset), +\(usize)) is outside the \(size)-byte file", file: path)
            }
            guard idx[name] == nil else { throw CoreError("zip entry '\(name)' appears twice", file: path) }
            idx[name] = list.count
            list.append(ZipEntry(name: name, dataOffset: dataOffset, size: usize))
            q += recordLen
        }
        let sorted = list.filter { $0.size > 0 }.sorted { $0.dataOffset < $1.dataOffset }
        if sorted.count > 1 {
            for i in 1..<sorted.count where sorted[i].dataOffset < sorted[i - 1].dataOffset + sorted[i - 1].size {
                throw CoreError("zip entries '\(sorted[i - 1].name)' and '\(sorted[i].name)' overlap", file: path)
            }
        }
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
