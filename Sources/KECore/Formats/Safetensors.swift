// MARK: Safetensors reading
//
// The format: 8 bytes little-endian header length N, then N bytes of JSON, then the data
// section. The JSON maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the data section), plus an optional "__metadata__" string map.
//
// The reader memory-maps the file read-only and validates the whole header before any tensor
// is read; a tensor is then converted to Float32 straight into a caller's buffer.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element types a safetensors file can declare.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// True for the floating types model weights may use (F32, F16, BF16).
    public var isWeightType: Bool { self == .f32 || self == .f16 || self == .bf16 }

    /// Rank used to order tensors when writing: larger alignment first, as the Python library does.
    var writeRank: Int {
        switch self {
        case .f64, .i64, .u64: return 0
        case .f32, .i32, .u32: return 1
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool: return 3
        }
    }
}

/// One tensor's header entry. Offsets are relative to the start of the data section.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public var name: String
    public var dtype: SafetensorsDType
    public var shape: [Int]
    public var begin: Int
    public var end: Int
    /// Number of elements (the product of `shape`; 1 for a scalar).
    public var count: Int
}

/// Largest header accepted (the Python library uses the same 100 MB cap).
let safetensorsMaxHeader = 100_000_000

/// A read-only, memory-mapped safetensors file.
public final class SafetensorsFile: @unchecked Sendable {
    /// The path it was opened from.
    public let path: String
    /// Tensors in header order.
    public let tensors: [SafetensorsTensorInfo]
    /// The `__metadata__` map (empty when absent).
    public let metadata: [String: String]
    private let index: [String: Int]
    private let file: MappedFile
    /// Byte offset of the data section in the file.
    private let dataStart: Int

    /// Opens and validates `path`.
    ///
    /// - Throws: `CoreError` naming the file when it cannot be opened or mapped, or its header is
    ///   invalid (sizes, offsets, overlaps, dtypes, shapes).
    public init(path: String) throws {
        self.path = path
        // Populated: every tensor is read anyway.
        let file = try MappedFile(path: path, kind: "safetensors file", populate: true)
        self.file = file
        let parsed = try parseSafetensorsHeader(file.bytes, file: path)
        tensors = parsed.tensors
        metadata = parsed.metadata
        dataStart = parsed.dataStart
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        self.index = index
    }

    // MARK: Queries

    /// Tensor names in header order.
    public var names: [String] { tensors.map(\.name) }

    /// The header entry of `name`, if present.
    public func info(_ name: String) -> SafetensorsTensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// The shape of `name`, if present.
    public func shape(of name: String) -> [Int]? { info(name)?.shape }

    /// The raw bytes of tensor `name` (valid while this object lives).
    func rawBytes(_ t: SafetensorsTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[(dataStart + t.begin)..<(dataStart + t.end)])
    }

    /// The values of `name` converted to Float32 (any numeric dtype; BOOL as 0/1).
    ///
    /// - Throws: `CoreError` when there is no tensor `name` or its dtype cannot be converted.
    public func floats(_ name: String) throws -> [Float] {
        guard let t = info(name) else { throw CoreError("no tensor named '\(name)'", file: path) }
        var out = [Float](repeating: 0, count: t.count)
        try out.withUnsafeMutableBufferPointer { try read(name, into: $0) }
        return out
    }

    /// Converts tensor `name` to Float32 into `dest`, whose count must equal the element count.
    ///
    /// - Throws: `CoreError` when there is no tensor `name`, `dest` has another element count, or its dtype cannot be converted.
    public func read(_ name: String, into dest: UnsafeMutableBufferPointer<Float>) throws {
        guard let t = info(name) else { throw CoreError("no tensor named '\(name)'", file: path) }
        guard dest.count == t.count else {
            throw CoreError("tensor '\(name)' has \(t.count) elements, destination holds \(dest.count)", file: path)
        }
        convertToFloat32(rawBytes(t), dtype: t.dtype, into: dest)
    }
}

// MARK: Header validation

/// Parses and validates a complete safetensors image (header and data extents).
///
/// - Throws: `CoreError` naming `file`: a length field past the file or the 100 MB cap, a header
///   that is not a JSON object, or an entry with a bad dtype, shape or data extent.
func parseSafetensorsHeader(_ bytes: UnsafeRawBufferPointer, file: String?)
    throws -> (tensors: [SafetensorsTensorInfo], metadata: [String: String], dataStart: Int)
{
    try withCoreErrors {
        var r = ByteCursor<SafetensorsFormat>(bytes, file: file)
        let size = bytes.count
        guard size >= 8 else { throw r.error("safetensors file is \(size) bytes, shorter than the 8-byte header length", at: 0) }
        let n = try r.u64()
        guard n <= UInt64(safetensorsMaxHeader) else {
            throw r.error("safetensors header length \(n) is larger than the 100 MB limit", at: 0)
        }
        let headerLen = Int(n)
        guard headerLen <= r.remaining else {
            throw r.error("safetensors header length \(headerLen) exceeds the \(r.remaining) bytes after the length field", at: 0)
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes: try r.take(headerLen))
        } catch let e as JSONError {
            throw r.error("safetensors header is not valid JSON: \(e.description)")
        }
        guard let pairs = json.objectValue else { throw r.error("safetensors header is not a JSON object") }
        let dataStart = r.position, dataLen = r.remaining
        var tensors: [SafetensorsTensorInfo] = []
        var metadata: [String: String] = [:]
        var seen = Set<String>()
        for (name, entry) in pairs {
            guard seen.insert(name).inserted else { throw r.error("tensor '\(name)' appears twice in the safetensors header") }
            if name == "__metadata__" {
                metadata = try safetensorsMetadata(entry, r)
            } else {
                tensors.append(try safetensorsTensorInfo(name, entry, dataLength: dataLen, r))
            }
        }
        if let (a, b) = firstOverlap(tensors, extent: { $0.begin..<$0.end }) {
            throw r.error("tensors '\(a.name)' and '\(b.name)' overlap in the data section")
        }
        return (tensors, metadata, dataStart)
    }
}

/// The `__metadata__` entry: a map of strings.
/// - Throws: `SafetensorsError` when it is not an object of strings.
private func safetensorsMetadata(_ entry: JSONValue, _ r: ByteCursor<SafetensorsFormat>) throws(SafetensorsError) -> [String: String] {
    guard let m = entry.objectValue else { throw r.error("safetensors __metadata__ is not an object") }
    var metadata: [String: String] = [:]
    for (k, v) in m {
        guard let s = v.stringValue else { throw r.error("safetensors __metadata__ value for '\(k)' is not a string") }
        metadata[k] = s
    }
    return metadata
}

/// The header entry of tensor `name`, checked: a known dtype, a shape of non-negative integers
/// whose element count does not overflow, and `data_offsets` inside the `dataLength`-byte data
/// section spanning exactly the bytes the dtype and shape need.
/// - Throws: `SafetensorsError` naming the tensor and the field that is wrong.
private func safetensorsTensorInfo(_ name: String, _ entry: JSONValue, dataLength dataLen: Int,
                                   _ r: ByteCursor<SafetensorsFormat>) throws(SafetensorsError) -> SafetensorsTensorInfo {
    func fail(_ m: String) -> SafetensorsError { r.error("tensor '\(name)': \(m)") }
    guard entry.objectValue != nil else { throw fail("header entry is not an object") }
    guard let dtypeValue = entry["dtype"] else { throw fail("missing dtype") }
    guard let dtypeName = dtypeValue.stringValue, let dtype = SafetensorsDType(rawValue: dtypeName) else {
        throw fail("unknown dtype \(dtypeValue.serialized())")
    }
    guard let shapeValue = entry["shape"] else { throw fail("missing shape") }
    guard let dims = shapeValue.arrayValue else { throw fail("shape is not an array") }
    var shape: [Int] = []
    var count = 1
    for d in dims {
        guard case .int(let v) = d else { throw fail("shape entry \(d.serialized()) is not an integer") }
        guard v >= 0 else { throw fail("negative dimension \(v) in shape") }
        let (p, o) = count.multipliedReportingOverflow(by: v)
        guard !o else { throw fail("element count overflows") }
        count = p
        shape.append(v)
    }
    guard let offsetsValue = entry["data_offsets"] else { throw fail("missing data_offsets") }
    guard let offs = offsetsValue.arrayValue, offs.count == 2, case .int(let begin) = offs[0], case .int(let end) = offs[1] else {
        throw fail("data_offsets must be [begin, end] integers")
    }
    guard begin >= 0, begin <= end else { throw fail("data_offsets [\(begin), \(end)] are not ordered begin ≤ end") }
    guard end <= dataLen else { throw fail("data_offsets end \(end) is past the data section (\(dataLen) bytes)") }
    let (bytesNeeded, o) = count.multipliedReportingOverflow(by: dtype.size)
    guard !o, bytesNeeded == end - begin else {
        throw fail("data_offsets span \(end - begin) bytes but \(dtype.rawValue) shape \(shape) needs \(o ? "too many" : String(bytesNeeded))")
    }
    return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, begin: begin, end: end, count: count)
}

// MARK: Conversion to Float32

/// Exact F16 → F32 for every bit pattern (subnormals, infinities, NaN payloads).
@inline(__always)
func halfBitsToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = UInt32(h >> 10) & 0x1F
    let mant = UInt32(h & 0x3FF)
    if exp == 0 {
        // Zero or subnormal: mant · 2^-24, exact in Float.
        let v = Float(mant) * 0x1p-24
        return sign != 0 ? -v : v
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
}

/// All 65 536 F16 values as Float (a lookup table makes the hot loop one load per element).
let halfToFloatTable: [Float] = (0...0xFFFF).map { halfBitsToFloat(UInt16($0)) }

/// Converts `src` (little-endian elements of `dtype`) to Float32 into `dest`.
/// `dest.count` must be `src.count / dtype.size` (checked by callers).
func convertToFloat32(_ src: UnsafeRawBufferPointer, dtype: SafetensorsDType, into dest: UnsafeMutableBufferPointer<Float>) {
    let n = dest.count
    guard n > 0, let s = src.baseAddress, let d = dest.baseAddress else { return }
    switch dtype {
    case .f32:
        memcpy(d, s, n * 4)
    case .bf16:
        for i in 0..<n {
            d[i] = bf16ToFloat(s.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        }
    case .f16:
        halfToFloatTable.withUnsafeBufferPointer { table in
            let t = table.baseAddress!
            for i in 0..<n {
                d[i] = t[Int(s.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))]
            }
        }
    case .f64: for i in 0..<n { d[i] = Float(s.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
    case .i64: for i in 0..<n { d[i] = Float(s.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
    case .u64: for i in 0..<n { d[i] = Float(s.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
    case .i32: for i in 0..<n { d[i] = Float(s.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
    case .u32: for i in 0..<n { d[i] = Float(s.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
    case .i16: for i in 0..<n { d[i] = Float(s.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
    case .u16: for i in 0..<n { d[i] = Float(s.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
    case .i8: for i in 0..<n { d[i] = Float(s.load(fromByteOffset: i, as: Int8.self)) }
    case .u8: for i in 0..<n { d[i] = Float(s.load(fromByteOffset: i, as: UInt8.self)) }
    case .bool: for i in 0..<n { d[i] = s.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
    }
}

// MARK: Conversion from Float32

/// F32 → F16 bits, round to nearest even (overflow → ±inf, NaN stays NaN).
@inline(__always)
func floatToHalfBits(_ f: Float) -> UInt16 {
    let x = f.bitPattern
    let sign = UInt16((x >> 16) & 0x8000)
    let exp = Int((x >> 23) & 0xFF)
    let mant = x & 0x7F_FFFF
    if exp == 0xFF {
        return sign | 0x7C00 | (mant != 0 ? UInt16(0x200 | (mant >> 13)) : 0)
    }
    let e = exp - 127 + 15
    if e >= 31 { return sign | 0x7C00 }
    if e <= 0 {
        // Subnormal half (or zero): value = m · 2^-24 with m = round(|f| · 2^24).
        if e < -10 { return sign }  // below half the smallest subnormal → ±0
        let full = mant | 0x80_0000  // 24-bit significand
        let shift = UInt32(14 - e)   // 14..24
        var m = full >> shift
        let rem = full & ((1 << shift) - 1)
        let half = UInt32(1) << (shift - 1)
        if rem > half || (rem == half && (m & 1) == 1) { m += 1 }
        return sign | UInt16(m)
    }
    var h = UInt32(e) << 10 | (mant >> 13)
    let rem = mant & 0x1FFF
    if rem > 0x1000 || (rem == 0x1000 && (h & 1) == 1) { h += 1 }  // may carry into the exponent: correct
    return sign | UInt16(h)
}

/// F32 → BF16 bits, round to nearest even (as torch does); NaN → quiet NaN.
@inline(__always)
func floatToBF16Bits(_ f: Float) -> UInt16 {
    if f.isNaN { return UInt16((f.bitPattern >> 16) | 0x40) }
    let x = f.bitPattern
    let rounded = x &+ 0x7FFF &+ ((x >> 16) & 1)
    return UInt16(rounded >> 16)
}
