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
    /// - Throws: `CoreError` naming `path` for a bad magic or version, a truncated header,
    ///   counts or lengths larger than the file, unknown value or tensor types, shapes that are
    ///   not whole blocks, data outside the file, misaligned or overlapping tensors.
    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        let b = file.bytes
        let size = b.count
        var pc = 0
        func fail(_ m: String) -> CoreError { CoreError(m, file: path) }
        func u(_ w: Int) throws -> UInt64 {
            guard w <= size - pc else { throw fail("truncated GGUF: a \(w)-byte field at offset \(pc) is past the end (\(size) bytes)") }
            var v: UInt64 = 0
            for i in 0..<w { v |= UInt64(b[pc + i]) << (8 * UInt64(i)) }
            pc += w
            return v
        }
        /// A count that must fit in the rest of the file at `minBytes` bytes per item.
        func count(_ what: String, minBytes: Int) throws -> Int {
            let v = try u(8)
            guard v <= UInt64((size - pc) / max(minBytes, 1)) else {
                throw fail("\(what) \(v) is larger than the rest of the file can hold")
            }
            return Int(v)
        }
        func string(_ what: String) throws -> String {
            let n = try count("\(what) length", minBytes: 1)
            let s = String(decoding: UnsafeRawBufferPointer(rebasing: b[pc..<(pc + n)]), as: UTF8.self)
            pc += n
            return s
        }
        func value(_ type: UInt32, depth: Int) throws -> GGUFValue {
            switch type {
            case 0: return .uint(try u(1))
            case 1: return .int(Int64(Int8(truncatingIfNeeded: try u(1))))
            case 2: return .uint(try u(2))
            case 3: return .int(Int64(Int16(truncatingIfNeeded: try u(2))))
            case 4: return .uint(try u(4))
            case 5: return .int(Int64(Int32(truncatingIfNeeded: try u(4))))
            case 6: return .float(Double(Float(bitPattern: UInt32(try u(4)))))
            case 7:
                let v = try u(1)
                guard v <= 1 else { throw fail("bool value \(v) at offset \(pc - 1) is neither 0 nor 1") }
                return .bool(v == 1)
            case 8: return .string(try string("string"))
            case 9:
                guard depth < ggufMaxArrayDepth else { throw fail("arrays nested deeper than \(ggufMaxArrayDepth)") }
                let t = UInt32(try u(4))
                let n = try count("array length", minBytes: t == 7 || t == 0 || t == 1 ? 1 : 2)
                var out: [GGUFValue] = []
                out.reserveCapacity(n)
                for _ in 0..<n { out.append(try value(t, depth: depth + 1)) }
                return .array(out)
            case 10: return .uint(try u(8))
            case 11: return .int(Int64(bitPattern: try u(8)))
            case 12: return .float(Double(bitPattern: try u(8)))
            default: throw fail("unknown metadata value type \(type) at offset \(pc - 4)")
            }
        }

        guard size >= 4, b[0] == 0x47, b[1] == 0x47, b[2] == 0x55, b[3] == 0x46 else {
            throw fail("not a GGUF file (no \"GGUF\" magic)")
        }
        pc = 4
        let v = try u(4)
        guard v == 2 || v == 3 else {
            throw fail("GGUF version \(v) is not supported (only 2 and 3)")
        }
        version = Int(v)
        // A tensor info is at least 8+4+8+4+8 bytes; a kv pair at least 8+4+1.
        let tensorCount = try count("tensor count", minBytes: 32)
        let kvCount = try count("metadata count", minBytes: 13)
        var meta: [(String, GGUFValue)] = []
        var mi: [String: Int] = [:]
        for _ in 0..<kvCount {
            let key = try string("key")
            let t = UInt32(try u(4))
            let val = try value(t, depth: 0)
            guard mi[key] == nil else { throw fail("metadata key '\(key)' appears twice") }
            mi[key] = meta.count
            meta.append((key, val))
        }
        metadata = meta
        metaIndex = mi
        var alignment = 32
        if let i = mi["general.alignment"] {
            guard let a = meta[i].1.intValue, a > 0, a <= 1 << 20, a & (a - 1) == 0 else {
                throw fail("general.alignment must be a power of two up to 1 MiB")
            }
            alignment = a
        }
        var raw: [(String, [Int], GGMLType, UInt64)] = []
        var ti: [String: Int] = [:]
        for _ in 0..<tensorCount {
            let name = try string("tensor name")
            let nd = Int(try u(4))
            guard nd >= 1, nd <= ggufMaxDims else { throw fail("tensor '\(name)' has \(nd) dimensions (1 to \(ggufMaxDims) allowed)") }
            var ne: [Int] = []
            for _ in 0..<nd {
                let d = try u(8)
                guard d <= UInt64(Int32.max) else { throw fail("tensor '\(name)' has dimension \(d), too large") }
                ne.append(Int(d))
            }
            let typeRaw = UInt32(try u(4))
            guard let type = GGMLType(rawValue: typeRaw) else {
                let known = ggmlUnreadTypeNames[typeRaw].map { " (\($0))" } ?? ""
                throw fail("tensor '\(name)' has ggml type \(typeRaw)\(known), which ke cannot dequantise")
            }
            let off = try u(8)
            guard ti[name] == nil else { throw fail("tensor '\(name)' appears twice") }
            ti[name] = raw.count
            raw.append((name, ne, type, off))
        }
        let dataStart = (pc + alignment - 1) / alignment * alignment
        guard dataStart <= size else { throw fail("GGUF data section starts at \(dataStart), past the end (\(size) bytes)") }
        var infos: [GGUFTensorInfo] = []
        for (name, ne, type, off) in raw {
            var n = 1
            for d in ne {
                let (p, o) = n.multipliedReportingOverflow(by: d)
                guard !o, p <= Int(Int32.max) * 16 else { throw fail("tensor '\(name)': element count overflows") }
                n = p
            }
            let (be, bb) = type.block
            guard ne[0] % be == 0 else {
                throw fail("tensor '\(name)': rows of \(ne[0]) elements are not whole \(type.name) blocks of \(be)")
            }
            let bytes = n / be * bb
            guard off <= UInt64(size - dataStart), Int(off) % alignment == 0 else {
                throw fail("tensor '\(name)': offset \(off) is outside the data section or not aligned to \(alignment)")
            }
            let start = dataStart + Int(off)
            guard bytes <= size - start else {
                throw fail("tensor '\(name)': \(bytes) bytes at \(start) run past the end of the file (\(size) bytes)")
            }
            infos.append(GGUFTensorInfo(name: name, type: type, shape: ne.reversed(), count: n, fileOffset: start, byteCount: bytes))
        }
        let sorted = infos.filter { $0.byteCount > 0 }.sorted { $0.fileOffset < $1.fileOffset }
        if sorted.count > 1 {
            for i in 1..<sorted.count where sorted[i].fileOffset < sorted[i - 1].fileOffset + sorted[i - 1].byteCount {
                throw fail("tensors '\(sorted[i - 1].name)' and '\(sorted[i].name)' overlap")
            }
        }
        tensors = infos
        tensorIndex = ti
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
