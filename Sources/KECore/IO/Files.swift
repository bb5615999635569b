import Foundation

// MARK: Reading files
//
// The one file reader (config, index, corpus, fact, run-log and script files) and the one
// UTF-8 validator (corpora, fact sets, scripts), whose errors name the byte and the line.

/// The whole file as bytes.
///
/// - Throws: `CoreError` naming `path`: "no such file", "is a directory, expected a file",
///   "cannot open: REASON", or "read failed".
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

// MARK: Lines

/// Calls `body` with the 1-based number and the byte range of each line of `bytes` (lines end at
/// `\n`; the `\n` and a `\r` before it are not in the range), in order, until `body` returns
/// false. The one line splitter of the line-based readers (corpora, task files).
///
/// - Throws: what `body` throws.
func forEachLine(_ bytes: [UInt8], _ body: (_ number: Int, _ range: Range<Int>) throws -> Bool) rethrows {
    var start = 0, number = 0
    let n = bytes.count
    while start < n {
        var end = start
        while end < n && bytes[end] != 0x0A { end += 1 }
        number += 1
        var lineEnd = end
        if lineEnd > start && bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
        guard try body(number, start..<lineEnd) else { return }
        start = end + 1
    }
}

// MARK: UTF-8

/// Where bytes stop being UTF-8: the first invalid sequence.
public struct InvalidUTF8: Error, Equatable, Sendable, CustomStringConvertible {
    /// Byte offset (0-based, in the whole buffer) of the first invalid sequence.
    public var offset: Int
    /// Line (1-based) it is on.
    public var line: Int
    public init(offset: Int, line: Int) { self.offset = offset; self.line = line }
    public var description: String { "invalid UTF-8 at byte \(offset) (line \(line))" }
}

/// The text of `bytes[range]` (all of `bytes` when nil), validated as UTF-8: no overlong forms,
/// no surrogates, nothing above U+10FFFF, no truncated sequence.
///
/// - Parameter firstLine: the line number of `range.lowerBound`, for the error.
/// - Throws: `InvalidUTF8` with the byte offset of the first invalid sequence and its line.
public func decodeUTF8(_ bytes: [UInt8], _ range: Range<Int>? = nil, firstLine: Int = 1) throws(InvalidUTF8) -> String {
    let r = range ?? 0..<bytes.count
    if let s = String(validating: bytes[r], as: UTF8.self) { return s }
    throw firstInvalidUTF8(bytes, r, firstLine: firstLine)
}

/// The first invalid sequence of `bytes[range]` (which holds one).
private func firstInvalidUTF8(_ bytes: [UInt8], _ range: Range<Int>, firstLine: Int) -> InvalidUTF8 {
    var i = range.lowerBound
    let n = range.upperBound
    var line = firstLine
    while i < n {
        let b = bytes[i]
        if b == 0x0A { line += 1 }
        let bad = InvalidUTF8(offset: i, line: line)
        let length: Int
        switch b {
        case 0x00...0x7F: length = 1
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return bad
        }
        guard i + length <= n else { return bad }
        for k in 1..<max(length, 1) where bytes[i + k] & 0xC0 != 0x80 { return bad }
        let c1 = length > 1 ? bytes[i + 1] : 0
        if length == 3 && ((b == 0xE0 && c1 < 0xA0) || (b == 0xED && c1 >= 0xA0)) { return bad }
        if length == 4 && ((b == 0xF0 && c1 < 0x90) || (b == 0xF4 && c1 >= 0x90)) { return bad }
        i += length
    }
    return InvalidUTF8(offset: n, line: line)
}

// MARK: JSON files

/// The JSON value of the file at `path`.
///
/// - Parameter what: how the error names a file that does not parse ("not valid JSON" by
///   default; "config is not valid JSON" for a config.json, say).
/// - Throws: `CoreError` naming `path` when it cannot be read (as `readFileBytes`) or is not
///   valid JSON (with the parser's line and column).
func readJSONFile(_ path: String, what: String = "not valid JSON") throws -> JSONValue {
    try parseJSONBytes(try readFileBytes(path), file: path, what: what)
}

/// `bytes` parsed as JSON; a parse error becomes a `CoreError` naming `file`.
/// - Throws: `CoreError` "`what`: DETAIL" naming `file`.
func parseJSONBytes(_ bytes: [UInt8], file: String, what: String = "not valid JSON") throws -> JSONValue {
    do { return try JSONValue.parse(bytes: bytes) }
    catch let e as JSONError { throw CoreError("\(what): \(e.description)", file: file) }
}
