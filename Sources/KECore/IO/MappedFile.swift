// MARK: Memory-mapped files
//
// The one memory map of the core: safetensors, zip (PyTorch), GGUF, `.npy` and packed corpora
// read their bytes through it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only. The mapping lives as long as the object (munmap on deinit).
final class MappedFile: @unchecked Sendable {
    let path: String
    /// The file's bytes (empty for an empty file).
    let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?
    private let length: Int

    /// Maps `path`. An empty file maps to an empty buffer.
    ///
    /// - Parameters:
    ///   - kind: how the errors name the file ("cannot open KIND: …"), e.g. "safetensors file";
    ///     nil for "cannot open: …".
    ///   - populate: map the (page-cached) file in bulk (Linux `MAP_POPULATE`): far cheaper than a
    ///     fault per page when every byte is read anyway.
    /// - Throws: `CoreError` naming `path` when it cannot be opened, is not a regular file or
    ///   cannot be mapped.
    init(path: String, kind: String? = nil, populate: Bool = false) throws {
        self.path = path
        let what = kind.map { " " + $0 } ?? ""
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CoreError("cannot open\(what): \(String(cString: strerror(errno)))", file: path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CoreError("cannot stat\(what): \(String(cString: strerror(errno)))", file: path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw CoreError("not a regular file", file: path) }
        let size = Int(st.st_size)
        length = size
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        var flags = MAP_PRIVATE
        #if os(Linux)
        if populate { flags |= MAP_POPULATE }
        #endif
        guard let m = mmap(nil, size, PROT_READ, flags, fd, 0), m != MAP_FAILED else {
            throw CoreError("cannot memory-map\(what): \(String(cString: strerror(errno)))", file: path)
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
