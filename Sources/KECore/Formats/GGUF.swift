// MARK: GGUF files (llama.cpp)
//
// Layout (v2 and v3; all little-endian):
//
//   "GGUF"  u32 version  u64 tensor_count  u64 kv_count
//   kv_count × (string key, u32 value_type, value)
//   tensor_count × (string name, u32 n_dims, n_dims × u64 ne, u32 ggml_type, u64 offset)
//   padding to `general.alignment` (default 32), then the data section; each tensor's offset is
//   relative to it and aligned.
//
// A string is u64 length + UTF-8 bytes. `ne[0]` is the innermost (fastest) dimension, so the
// row-major shape is `ne` reversed. Every count, length and offset is checked against the file
// before it is used or allocated for; blocks are dequantised to f32 at load (GGUFDequantize.swift).

/// A metadata value of a GGUF file.
public indirect enum GGUFValue: Sendable, Equatable {
    case int(Int64)
    case uint(UInt64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    /// The value as an Int when it is an integer that fits.
    public var intValue: Int? {
        switch self {
        case .int(let v): return Int(exactly: v)
        case .uint(let v): return Int(exactly: v)
        default: return nil
        }
    }
    /// The value as a Double when it is a number.
    public var doubleValue: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .uint(let v): return Double(v)
        case .float(let v): return v
        default: return nil
        }
    }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var arrayValue: [GGUFValue]? { if case .array(let a) = self { return a }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
}

/// ggml tensor types ke can dequantise (the numbers are ggml's): every type gguf-py 0.19
/// dequantises except MXFP4 and NVFP4.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, bf16 = 30
    case iq2_XXS = 16, iq2_XS = 17, iq3_XXS = 18, iq1_S = 19, iq4_NL = 20, iq3_S = 21, iq2_S = 22, iq4_XS = 23
    case iq1_M = 29, tq1_0 = 34, tq2_0 = 35

    /// (elements per block, bytes per block).
    public var block: (elements: Int, bytes: Int) {
        switch self {
        case .f32: return (1, 4)
        case .f16, .bf16: return (1, 2)
        case .q4_0: return (32, 18)
        case .q4_1: return (32, 20)
        case .q5_0: return (32, 22)
        case .q5_1: return (32, 24)
        case .q8_0: return (32, 34)
        case .q2_K: return (256, 84)
        case .q3_K: return (256, 110)
        case .q4_K: return (256, 144)
        case .q5_K: return (256, 176)
        case .q6_K: return (256, 210)
        case .iq2_XXS: return (256, 66)
        case .iq2_XS: return (256, 74)
        case .iq2_S: return (256, 82)
        case .iq3_XXS: return (256, 98)
        case .iq3_S: return (256, 110)
        case .iq1_S: return (256, 50)
        case .iq1_M: return (256, 56)
        case .iq4_NL: return (32, 18)
        case .iq4_XS: return (256, 136)
        case .tq1_0: return (256, 54)
        case .tq2_0: return (256, 66)
        }
    }

    /// True for the plain float types (F32, F16, BF16), false for block-quantised ones.
    public var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }

    /// The name gguf-py uses (F32, Q4_K, IQ2_XXS, …).
    public var name: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q2_K: return "Q2_K"
        case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        case .iq2_XXS: return "IQ2_XXS"
        case .iq2_XS: return "IQ2_XS"
        case .iq2_S: return "IQ2_S"
        case .iq3_XXS: return "IQ3_XXS"
        case .iq3_S: return "IQ3_S"
        case .iq1_S: return "IQ1_S"
        case .iq1_M: return "IQ1_M"
        case .iq4_NL: return "IQ4_NL"
        case .iq4_XS: return "IQ4_XS"
        case .tq1_0: return "TQ1_0"
        case .tq2_0: return "TQ2_0"
        }
    }
}

/// ggml types (gguf-py 0.19's numbers and names) that ke does not read, named in its refusal.
let ggmlUnreadTypeNames: [UInt32: String] = [
    9: "Q8_1", 15: "Q8_K", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 39: "MXFP4", 40: "NVFP4", 41: "Q1_0",
]

/// One tensor's entry in a GGUF file.
public struct GGUFTensorInfo: Sendable, Equatable {
    public var name: String
    public var type: GGMLType
    /// Row-major shape (ggml's `ne` reversed).
    public var shape: [Int]
    public var count: Int
    /// Byte offset of the data in the file.
    public var fileOffset: Int
    public var byteCount: Int
}

/// Limits on counts read from a GGUF header (checked before anything is allocated).
let ggufMaxDims = 4
let ggufMaxArrayDepth = 4

/// A read-only, memory-mapped GGUF file.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: Int
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    public let tensors: [GGUFTensorInfo]
    private let metaIndex: [String: Int]
    private let tensorIndex: [String: Int]
    let file: MappedFile

    /// Opens and validates `path`.
    /// - Throws: `CoreError` naming `path` and the byte offset for a bad magic or version, a
    ///   truncated header, counts or lengths larger than the file, unknown value or tensor types,
    ///   shapes that are not whole blocks, data outside the file, misaligned or overlapping tensors.
    public init(path: String) throws {
        self.path = path
        let file = try MappedFile(path: path)
        self.file = file
        let header = try withCoreErrors { try readGGUFHeader(ByteCursor(file.bytes, file: path)) }
        version = header.version
        metadata = header.metadata
        metaIndex = header.metaIndex
        tensors = header.tensors
        tensorIndex = header.tensorIndex
    }

    /// The metadata value of `key`, if present.
    public func value(_ key: String) -> GGUFValue? { metaIndex[key].map { metadata[$0].value } }

    /// The entry of tensor `name`, if present.
    public func tensor(_ name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// Dequantises tensor `t` to Float32 into `dest` (row-major), as gguf-py does.
    /// - Throws: `CoreError` when `dest.count` differs from the element count.
    public func read(_ t: GGUFTensorInfo, into dest: UnsafeMutableBufferPointer<Float>) throws {
        guard dest.count == t.count else {
            throw CoreError("tensor '\(t.name)' has \(t.count) elements, destination holds \(dest.count)", file: path)
        }
        let src = UnsafeRawBufferPointer(rebasing: file.bytes[t.fileOffset..<(t.fileOffset + t.byteCount)])
        ggmlDequantize(src, type: t.type, into: dest)
    }

    /// The F32 data of `t` in place, when 4-byte aligned.
    func float32Pointer(_ t: GGUFTensorInfo) -> UnsafePointer<Float>? {
        guard t.type == .f32, let base = file.bytes.baseAddress else { return nil }
        let p = base + t.fileOffset
        guard Int(bitPattern: p) % 4 == 0 else { return nil }
        return p.assumingMemoryBound(to: Float.self)
    }
}

// MARK: Reading the header

/// A GGUF header, read and checked.
private struct GGUFHeader {
    var version: Int
    var metadata: [(key: String, value: GGUFValue)]
    var metaIndex: [String: Int]
    var tensors: [GGUFTensorInfo]
    var tensorIndex: [String: Int]
}

/// A tensor info as the header states it, before its extent is checked.
private struct GGUFRawTensorInfo {
    var name: String
    /// ggml's `ne` (innermost dimension first).
    var ne: [Int]
    var type: GGMLType
    /// Offset in the data section.
    var offset: UInt64
    /// Where the info starts in the file, for errors.
    var at: Int
}

/// Reads the whole header from `r` (at 0): magic and version, counts, metadata, tensor infos,
/// then the data section's alignment and offset, and the tensors' extents in it.
/// - Throws: `GGUFError` at the offending byte.
private func readGGUFHeader(_ cursor: ByteCursor<GGUFFormat>) throws(GGUFError) -> GGUFHeader {
    var r = cursor
    let version = try r.ggufMagicAndVersion()
    // A tensor info is at least 8+4+8+4+8 bytes; a kv pair at least 8+4+1.
    let tensorCount = try r.ggufCount("tensor count", minBytes: 32)
    let kvCount = try r.ggufCount("metadata count", minBytes: 13)
    let (metadata, metaIndex) = try r.ggufMetadata(count: kvCount)
    let alignment = try ggufAlignment(metadata, metaIndex, r)
    let (raw, tensorIndex) = try r.ggufTensorInfos(count: tensorCount)
    let dataStart = (r.position + alignment - 1) / alignment * alignment
    guard dataStart <= r.bytes.count else {
        throw r.error("GGUF data section starts at \(dataStart), past the end (\(r.bytes.count) bytes)", at: r.position)
    }
    let tensors = try raw.map { t throws(GGUFError) in try ggufTensorExtent(t, dataStart: dataStart, alignment: alignment, r) }
    if let (a, b) = firstOverlap(tensors, extent: { $0.fileOffset..<($0.fileOffset + $0.byteCount) }) {
        throw r.error("tensors '\(a.name)' and '\(b.name)' overlap", at: b.fileOffset)
    }
    return GGUFHeader(version: version, metadata: metadata, metaIndex: metaIndex, tensors: tensors, tensorIndex: tensorIndex)
}

/// `general.alignment` (default 32), checked to be a power of two up to 1 MiB.
/// - Throws: `GGUFError` for any other value.
private func ggufAlignment(_ metadata: [(key: String, value: GGUFValue)], _ index: [String: Int],
                           _ r: ByteCursor<GGUFFormat>) throws(GGUFError) -> Int {
    guard let i = index["general.alignment"] else { return 32 }
    guard let a = metadata[i].value.intValue, a > 0, a <= 1 << 20, a & (a - 1) == 0 else {
        throw r.error("general.alignment must be a power of two up to 1 MiB")
    }
    return a
}

/// The info of `t` with its element count and byte extent, checked: whole blocks per row, an
/// aligned offset inside the data section (at `dataStart`), and data inside the file.
/// - Throws: `GGUFError` at the tensor's info.
private func ggufTensorExtent(_ t: GGUFRawTensorInfo, dataStart: Int, alignment: Int,
                              _ r: ByteCursor<GGUFFormat>) throws(GGUFError) -> GGUFTensorInfo {
    let size = r.bytes.count
    var n = 1
    for d in t.ne {
        let (p, o) = n.multipliedReportingOverflow(by: d)
        guard !o, p <= Int(Int32.max) * 16 else { throw r.error("tensor '\(t.name)': element count overflows", at: t.at) }
        n = p
    }
    let (be, bb) = t.type.block
    guard t.ne[0] % be == 0 else {
        throw r.error("tensor '\(t.name)': rows of \(t.ne[0]) elements are not whole \(t.type.name) blocks of \(be)", at: t.at)
    }
    let bytes = n / be * bb
    guard t.offset <= UInt64(size - dataStart), Int(t.offset) % alignment == 0 else {
        throw r.error("tensor '\(t.name)': offset \(t.offset) is outside the data section or not aligned to \(alignment)", at: t.at)
    }
    let start = dataStart + Int(t.offset)
    guard bytes <= size - start else {
        throw r.error("tensor '\(t.name)': \(bytes) bytes at \(start) run past the end of the file (\(size) bytes)", at: t.at)
    }
    return GGUFTensorInfo(name: t.name, type: t.type, shape: t.ne.reversed(), count: n, fileOffset: start, byteCount: bytes)
}

extension ByteCursor where Format == GGUFFormat {
    /// The "GGUF" magic and the version (2 or 3).
    /// - Throws: `GGUFError` for another magic or version.
    mutating func ggufMagicAndVersion() throws(GGUFError) -> Int {
        guard bytes.count >= 4, bytes[0] == 0x47, bytes[1] == 0x47, bytes[2] == 0x55, bytes[3] == 0x46 else {
            throw error("not a GGUF file (no \"GGUF\" magic)")
        }
        position = 4
        let v = try u32()
        guard v == 2 || v == 3 else { throw error("GGUF version \(v) is not supported (only 2 and 3)", at: 4) }
        return Int(v)
    }

    /// A u64 count that must fit in the rest of the file at `minBytes` bytes per item (checked
    /// before anything is allocated for it).
    /// - Throws: `GGUFError` "WHAT N is larger than the rest of the file can hold".
    mutating func ggufCount(_ what: String, minBytes: Int) throws(GGUFError) -> Int {
        let at = position
        let v = try u64()
        guard v <= UInt64(remaining / max(minBytes, 1)) else {
            throw error("\(what) \(v) is larger than the rest of the file can hold", at: at)
        }
        return Int(v)
    }

    /// A string: u64 length, then UTF-8 bytes.
    /// - Throws: `GGUFError` for a length past the end.
    mutating func ggufString(_ what: String) throws(GGUFError) -> String {
        try string(length: try ggufCount("\(what) length", minBytes: 1))
    }

    /// `count` metadata pairs (string key, u32 value type, value), in file order, and the index
    /// of their keys.
    /// - Throws: `GGUFError` for a bad value or a repeated key.
    mutating func ggufMetadata(count: Int) throws(GGUFError) -> ([(key: String, value: GGUFValue)], [String: Int]) {
        var meta: [(key: String, value: GGUFValue)] = []
        var index: [String: Int] = [:]
        for _ in 0..<count {
            let at = position
            let key = try ggufString("key")
            let value = try ggufValue(type: try u32(), depth: 0)
            guard index[key] == nil else { throw error("metadata key '\(key)' appears twice", at: at) }
            index[key] = meta.count
            meta.append((key, value))
        }
        return (meta, index)
    }

    /// A metadata value of gguf type `type` (0–12); arrays nest at most `ggufMaxArrayDepth` deep.
    /// - Throws: `GGUFError` for an unknown type, a bool that is not 0 or 1, or a bad array.
    mutating func ggufValue(type: UInt32, depth: Int) throws(GGUFError) -> GGUFValue {
        switch type {
        case 0: return .uint(UInt64(try u8()))
        case 1: return .int(Int64(try i8()))
        case 2: return .uint(UInt64(try u16()))
        case 3: return .int(Int64(try i16()))
        case 4: return .uint(UInt64(try u32()))
        case 5: return .int(Int64(try i32()))
        case 6: return .float(Double(try f32()))
        case 7:
            let v = try u8()
            guard v <= 1 else { throw error("bool value \(v) is neither 0 nor 1", at: position - 1) }
            return .bool(v == 1)
        case 8: return .string(try ggufString("string"))
        case 9: return try ggufArray(depth: depth)
        case 10: return .uint(try u64())
        case 11: return .int(try i64())
        case 12: return .float(try f64())
        default: throw error("unknown metadata value type \(type)", at: position - 4)
        }
    }

    /// An array value: u32 element type, u64 length, the elements.
    /// - Throws: `GGUFError` for arrays nested too deeply or a length past the end.
    mutating func ggufArray(depth: Int) throws(GGUFError) -> GGUFValue {
        guard depth < ggufMaxArrayDepth else { throw error("arrays nested deeper than \(ggufMaxArrayDepth)", at: position) }
        let t = try u32()
        let n = try ggufCount("array length", minBytes: t == 7 || t == 0 || t == 1 ? 1 : 2)
        var out: [GGUFValue] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try ggufValue(type: t, depth: depth + 1)) }
        return .array(out)
    }

    /// `count` tensor infos (string name, u32 n_dims, n_dims × u64 ne, u32 ggml type, u64
    /// offset) and the index of their names.
    /// - Throws: `GGUFError` for a bad rank, dimension or type, or a repeated name.
    fileprivate mutating func ggufTensorInfos(count: Int) throws(GGUFError) -> ([GGUFRawTensorInfo], [String: Int]) {
        var raw: [GGUFRawTensorInfo] = []
        var index: [String: Int] = [:]
        for _ in 0..<count {
            let at = position
            let name = try ggufString("tensor name")
            let nd = Int(try u32())
            guard nd >= 1, nd <= ggufMaxDims else { throw error("tensor '\(name)' has \(nd) dimensions (1 to \(ggufMaxDims) allowed)", at: at) }
            var ne: [Int] = []
            for _ in 0..<nd {
                let d = try u64()
                guard d <= UInt64(Int32.max) else { throw error("tensor '\(name)' has dimension \(d), too large", at: at) }
                ne.append(Int(d))
            }
            let typeRaw = try u32()
            guard let type = GGMLType(rawValue: typeRaw) else {
                let known = ggmlUnreadTypeNames[typeRaw].map { " (\($0))" } ?? ""
                throw error("tensor '\(name)' has ggml type \(typeRaw)\(known), which ke cannot dequantise", at: at)
            }
            let offset = try u64()
            guard index[name] == nil else { throw error("tensor '\(name)' appears twice", at: at) }
            index[name] = raw.count
            raw.append(GGUFRawTensorInfo(name: name, ne: ne, type: type, offset: offset, at: at))
        }
        return (raw, index)
    }
}
