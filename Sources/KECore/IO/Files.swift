import Foundation

// MARK: Small-file reading shared by config, tokenizer, corpus and fact loaders

/// The whole file as bytes, with a clear error when it is missing, a directory, or unreadable.
public func readFileBytes(_ path: String) throws -> [UInt8] {
    var st = stat()
    guard stat(path, &st) == 0 else {
        if errno == ENOENT { throw CoreError("no such file", file: path) }
        throw CoreError("cannot open: \(String(cString: strerror(errno)))", file: path)
    }
    if (st.st_mode & S_IFMT) == S_IFDIR { throw CoreError("is a directory, expected a file", file: path) }
    guard let fp = fopen(path, "rb") else {
        throw CoreError("cannot open: \(String(cString: strerror(errno)))", file: path)
    }
    defer { fclose(fp) }
    var out: [UInt8] = []
    out.reserveCapacity(Int(st.st_size))
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buf.withUnsafeMutableBytes { b -> Int in
            guard let base = b.baseAddress else { return 0 }
            return fread(base, 1, b.count, fp)
        }
        if n > 0 { out.append(contentsOf: buf[0..<n]) }
        if n < buf.count {
            if ferror(fp) != 0 { throw CoreError("read failed", file: path) }
            break
        }
    }
    return out
}
