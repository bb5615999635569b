// MARK: NumPy token files (.npy)
//
// OLMo's and Pythia's pretraining data are distributed as flat arrays of token ids
// (uint16/uint32 memmaps, and `.npy` files of the same). This is a bounded reader for the
// `.npy` format (NumPy's `format.py`: magic `\x93NUMPY`, a version byte pair, a little-endian
// header length — 2 bytes in version 1, 4 in versions 2 and 3 — then a Python dict literal with
// `descr`, `fortran_order` and `shape`, then the raw array). Only integer arrays of 1 or 2
// dimensions are token files; everything else is refused with a message naming what was found.
// The file is memory-mapped, every size is checked with overflow-checked arithmetic against the
// file before it is used, and only the rows asked for are converted.

/// The header of a `.npy` file.
struct NumPyHeader: Equatable {
    /// Element width in bytes (1, 2, 4 or 8).
    var itemSize: Int
    /// Signed (`i`) or unsigned (`u`).
    var signed: Bool
    /// Byte order of the elements ('<' or '|' little-endian / single byte, '>' big-endian).
    var bigEndian: Bool
    /// Column-major storage (`fortran_order: True`).
    var fortranOrder: Bool
    var shape: [Int]
    /// Offset of the first data byte.
    var dataOffset: Int
    /// The dtype as written (`<u2`), for messages.
    var descr: String
}

extension NumPyHeader {
    /// The rows a token file of this shape holds, before any `limit`: a 1-D stream cut into rows
    /// of `seq` (the last partial row dropped), or a 2-D array's rows, whose width `seq` (when
    /// given) must equal.
    ///
    /// - Throws: `CoreError` naming `file`: a 1-D stream without `seq`, a `seq` other than a 2-D
    ///   array's width, or more than 2 dimensions.
    func rowShape(seq: Int?, file: String) throws -> (rows: Int, width: Int) {
        switch shape.count {
        case 1:
            guard let seq else {
                throw CoreError("a 1-D .npy file is a token stream: give `seq N` to cut it into rows of N tokens", file: file)
            }
            return (shape[0] / seq, seq)
        case 2:
            if let seq, seq != shape[1] {
                throw CoreError("`seq \(seq)` does not match the rows of this 2-D .npy file, which are \(shape[1]) tokens wide", file: file)
            }
            return (shape[0], shape[1])
        default:
            throw CoreError("token ids must be a 1-D stream or a 2-D array of rows, found shape \(shape)", file: file)
        }
    }
}

/// Parses the header of a `.npy` file held in `bytes`.
///
/// - Throws: `CoreError` naming `file`: not a `.npy` file (magic), an unknown version, a header
///   past the end of the file or not a dict with `descr`, `fortran_order` and `shape`, a dtype
///   that is not a 1-, 2-, 4- or 8-byte integer, or a shape that overflows.
func parseNumPyHeader(_ bytes: UnsafeRawBufferPointer, file: String) throws -> NumPyHeader {
    let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]   // \x93NUMPY
    guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
        throw CoreError("not a NumPy .npy file (it does not start with \\x93NUMPY)", file: file)
    }
    let major = bytes[6]
    let headerLength: Int, start: Int
    switch major {
    case 1:
        headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        start = 10
    case 2, 3:
        guard bytes.count >= 12 else { throw CoreError("truncated .npy header", file: file) }
        headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        start = 12
    default:
        throw CoreError("unsupported .npy format version \(major).\(bytes[7]) (1, 2 and 3 are read)", file: file)
    }
    let (end, overflow) = start.addingReportingOverflow(headerLength)
    guard !overflow, end <= bytes.count else {
        throw CoreError("truncated .npy file: its header of \(headerLength) bytes runs past the end (\(bytes.count) bytes)", file: file)
    }
    guard let text = String(bytes: bytes[start..<end], encoding: major == 3 ? .utf8 : .isoLatin1) else {
        throw CoreError("the .npy header is not text", file: file)
    }
    var parser = NumPyDictParser(text: text, file: file)
    let dict = try parser.parse()
    guard case .string(let descr)? = dict["descr"] else {
        throw CoreError("the .npy header has no 'descr' string (structured arrays are not token files)", file: file)
    }
    guard case .bool(let fortran)? = dict["fortran_order"] else {
        throw CoreError("the .npy header has no 'fortran_order'", file: file)
    }
    guard case .tuple(let shape)? = dict["shape"] else { throw CoreError("the .npy header has no 'shape'", file: file) }
    let chars = Array(descr)
    guard chars.count >= 3, "<>|=".contains(chars[0]), chars[1] == "i" || chars[1] == "u",
          let width = Int(String(chars[2...])), [1, 2, 4, 8].contains(width) else {
        throw CoreError("token ids must be an integer array (int8 … uint64), found dtype '\(descr)'", file: file)
    }
    // '=' is the writing machine's order; NumPy writes '<' or '>' for multi-byte types, so '='
    // only appears in hand-made files: read it as little-endian, the order of every machine ke runs on.
    return NumPyHeader(itemSize: width, signed: chars[1] == "i", bigEndian: chars[0] == ">" && width > 1,
                       fortranOrder: fortran, shape: shape, dataOffset: end, descr: descr)
}

/// The values a `.npy` header dict holds.
enum NumPyHeaderValue: Equatable {
    case string(String)
    case bool(Bool)
    case tuple([Int])
}

/// A parser for the Python dict literal of a `.npy` header: string keys; values that are strings,
/// `True`/`False` or tuples of non-negative integers.
struct NumPyDictParser {
    let chars: [Character]
    let file: String
    var i = 0

    init(text: String, file: String) {
        self.chars = Array(text)
        self.file = file
    }

    func fail(_ what: String) -> CoreError {
        CoreError("malformed .npy header: \(what) at character \(i + 1)", file: file)
    }

    mutating func skipSpace() { while i < chars.count, chars[i].isWhitespace { i += 1 } }

    mutating func expect(_ c: Character) throws {
        skipSpace()
        guard i < chars.count, chars[i] == c else { throw fail("expected '\(c)'") }
        i += 1
    }

    mutating func string() throws -> String {
        skipSpace()
        guard i < chars.count, chars[i] == "'" || chars[i] == "\"" else { throw fail("expected a quoted string") }
        let q = chars[i]
        i += 1
        var s = ""
        while i < chars.count, chars[i] != q { s.append(chars[i]); i += 1 }
        guard i < chars.count else { throw fail("unterminated string") }
        i += 1
        return s
    }

    mutating func value() throws -> NumPyHeaderValue {
        skipSpace()
        guard i < chars.count else { throw fail("expected a value") }
        if chars[i] == "'" || chars[i] == "\"" { return .string(try string()) }
        if chars[i] == "(" {
            i += 1
            var dims: [Int] = []
            while true {
                skipSpace()
                guard i < chars.count else { throw fail("unterminated shape") }
                if chars[i] == ")" { i += 1; break }
                var digits = ""
                while i < chars.count, chars[i].isASCII, chars[i].isNumber { digits.append(chars[i]); i += 1 }
                // Python may write a long as 10L.
                if i < chars.count, chars[i] == "L" { i += 1 }
                guard let d = Int(digits) else { throw fail("expected a non-negative integer in the shape") }
                dims.append(d)
                skipSpace()
                if i < chars.count, chars[i] == "," { i += 1 }
            }
            return .tuple(dims)
        }
        for (word, b) in [("True", true), ("False", false)] where String(chars[i..<min(chars.count, i + word.count)]) == word {
            i += word.count
            return .bool(b)
        }
        throw fail("expected a string, True, False or a shape")
    }

    mutating func parse() throws -> [String: NumPyHeaderValue] {
        try expect("{")
        var out: [String: NumPyHeaderValue] = [:]
        while true {
            skipSpace()
            guard i < chars.count else { throw fail("unterminated dict") }
            if chars[i] == "}" { i += 1; break }
            let key = try string()
            try expect(":")
            out[key] = try value()
            skipSpace()
            if i < chars.count, chars[i] == "," { i += 1 }
        }
        return out
    }
}

/// Rows of token ids from a `.npy` file of integers.
///
/// A 1-D array is the token stream cut into rows of `seq` tokens (the last partial row is
/// dropped); a 2-D array [rows, width] is one row per line, and `seq`, when given, must equal
/// the width. At most `limit` rows are read (the rest of the file is never touched).
///
/// - Parameters:
///   - seq: tokens per row (required for a 1-D array).
///   - limit: at most this many rows.
///   - vocabSize: ids must be in 0 ..< vocabSize.
/// - Returns: the rows, each exactly `seq` (or the width) tokens.
/// - Throws: `CoreError` naming the file: not a `.npy` file, a non-integer dtype, more than 2
///   dimensions, a file shorter than its shape says, a 1-D array without `seq`, a `seq` that is
///   not the width of a 2-D array, no whole row, or an id outside the vocabulary (the first one,
///   with its row and column).
func readNumPyTokenRows(path: String, seq: Int?, limit: Int?, vocabSize: Int) throws -> [[Int]] {
    let file = try MappedFile(path: path)
    let bytes = file.bytes
    let h = try parseNumPyHeader(bytes, file: path)
    var count = 1
    for d in h.shape {
        let (p, o) = count.multipliedReportingOverflow(by: d)
        guard !o else { throw CoreError("the .npy shape \(h.shape) overflows", file: path) }
        count = p
    }
    let (dataBytes, o) = count.multipliedReportingOverflow(by: h.itemSize)
    guard !o, dataBytes <= bytes.count - h.dataOffset else {
        throw CoreError("truncated .npy file: shape \(h.shape) of '\(h.descr)' needs \(dataBytes) bytes of data, the file has \(bytes.count - h.dataOffset)", file: path)
    }
    let (rows, width) = try h.rowShape(seq: seq, file: path)
    guard width >= 1, rows >= 1 else {
        throw CoreError("no whole row of \(width) tokens in shape \(h.shape)", file: path)
    }
    let take = min(rows, limit ?? rows)
    let base = bytes.baseAddress! + h.dataOffset
    /// Element at flat index `e` (row-major order of the stored array), as an Int (nil when it
    /// does not fit: an unsigned 64-bit id ≥ 2^63).
    func element(_ e: Int) -> Int? {
        let p = base + e * h.itemSize
        var u: UInt64 = 0
        for b in 0..<h.itemSize {
            let byte = UInt64(p.load(fromByteOffset: h.bigEndian ? h.itemSize - 1 - b : b, as: UInt8.self))
            u |= byte << (8 * UInt64(b))
        }
        if h.signed {
            let shift = UInt64(64 - 8 * h.itemSize)
            return Int(Int64(bitPattern: u << shift) >> Int64(shift))
        }
        return u <= UInt64(Int.max) ? Int(u) : nil
    }
    var out: [[Int]] = []
    out.reserveCapacity(take)
    for r in 0..<take {
        try Cancellation.shared.check()
        var row = [Int](repeating: 0, count: width)
        for c in 0..<width {
            // A Fortran-ordered [rows, width] array stores column c of every row together.
            let e = h.shape.count == 2 && h.fortranOrder ? c * rows + r : r * width + c
            guard let id = element(e), id >= 0, id < vocabSize else {
                let shown = element(e).map(String.init) ?? "≥ 2^63"
                throw CoreError("token id \(shown) at row \(r), column \(c) is outside the vocabulary (0 ..< \(vocabSize))", file: path)
            }
            row[c] = id
        }
        out.append(row)
    }
    return out
}
