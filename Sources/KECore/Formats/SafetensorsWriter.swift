// MARK: Safetensors writing
//
// Writes a file the Python `safetensors` library loads: header JSON padded with spaces to a
// multiple of 8, `__metadata__` first, tensors laid out in the library's order (larger dtype
// alignment first, then by name; with one dtype that is simply name order). The file is written
// to a temporary sibling and renamed into place, so readers never see a half-written file.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One tensor to write: a name, a shape and a way to produce its Float32 values.
public struct SafetensorsEntry {
    public var name: String
    public var shape: [Int]
    /// Fills a buffer of exactly `shape.reduce(1, *)` elements.
    let fill: (UnsafeMutableBufferPointer<Float>) throws -> Void

    /// A tensor from an array (its count must match the shape).
    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.fill = { dest in
            guard dest.count == values.count else {
                throw CoreError("tensor '\(name)': shape \(shape) needs \(dest.count) values, got \(values.count)")
            }
            _ = values.withUnsafeBufferPointer { memcpy(dest.baseAddress!, $0.baseAddress!, 4 * values.count) }
        }
    }

    /// A tensor produced on demand (so large models are written without a full extra copy).
    public init(name: String, shape: [Int], fill: @escaping (UnsafeMutableBufferPointer<Float>) throws -> Void) {
        self.name = name
        self.shape = shape
        self.fill = fill
    }
}

/// Writes `tensors` as a safetensors file at `path`, converting to `dtype` (F32, F16 or BF16).
///
/// - Throws: `CoreError` for a `dtype` that is not F32, F16 or BF16, or naming the file when it
///   cannot be written; whatever an entry's `fill` throws.
public func writeSafetensors(
    _ tensors: [SafetensorsEntry], dtype: SafetensorsDType = .f32,
    metadata: [String: String]? = nil, to path: String
) throws {
    guard dtype.isWeightType else {
        throw CoreError("can only write F32, F16 or BF16 tensors, not \(dtype.rawValue)", file: path)
    }
    // Validate names and shapes; compute extents in write order.
    var seen = Set<String>()
    var counts: [Int] = []
    for t in tensors {
        guard t.name != "__metadata__", seen.insert(t.name).inserted else {
            throw CoreError("tensor name '\(t.name)' is reserved or repeated", file: path)
        }
        var c = 1
        for d in t.shape {
            guard d >= 0 else { throw CoreError("tensor '\(t.name)': negative dimension", file: path) }
            let (p, o) = c.multipliedReportingOverflow(by: d)
            guard !o else { throw CoreError("tensor '\(t.name)': element count overflows", file: path) }
            c = p
        }
        counts.append(c)
    }
    let order = tensors.indices.sorted { tensors[$0].name.utf8.lexicographicallyPrecedes(tensors[$1].name.utf8) }
    let header = safetensorsHeader(order.map { (tensors[$0].name, dtype, tensors[$0].shape, counts[$0] * dtype.size) },
                                   metadata: metadata)
    try writeFileAtomically(path: path, replace: true) { put in
        try header.withUnsafeBytes { try put($0) }
        for i in order {
            let n = counts[i]
            if n == 0 { continue }
            var scratch = [Float](repeating: 0, count: n)
            try scratch.withUnsafeMutableBufferPointer { try tensors[i].fill($0) }
            switch dtype {
            case .f32:
                try scratch.withUnsafeBytes { try put($0) }
            case .f16, .bf16:
                var half = [UInt16](repeating: 0, count: n)
                scratch.withUnsafeBufferPointer { s in
                    half.withUnsafeMutableBufferPointer { h in
                        if dtype == .f16 { for j in 0..<n { h[j] = floatToHalfBits(s[j]).littleEndian } }
                        else { for j in 0..<n { h[j] = floatToBF16Bits(s[j]).littleEndian } }
                    }
                }
                try half.withUnsafeBytes { try put($0) }
            default:
                break
            }
        }
    }
}

/// A safetensors file's first bytes: the 8-byte little-endian header length, then the JSON header
/// (`__metadata__` first when given, then the tensors in the given order at consecutive data
/// offsets), padded with spaces to a multiple of 8 bytes.
func safetensorsHeader(
    _ entries: [(name: String, dtype: SafetensorsDType, shape: [Int], byteCount: Int)], metadata: [String: String]?
) -> [UInt8] {
    var pairs: [(String, JSONValue)] = []
    if let metadata {
        pairs.append(("__metadata__", .object(metadata.keys.sorted().map { ($0, .string(metadata[$0] ?? "")) })))
    }
    var offset = 0
    for e in entries {
        pairs.append((e.name, .object([
            ("dtype", .string(e.dtype.rawValue)),
            ("shape", .array(e.shape.map { .int($0) })),
            ("data_offsets", .array([.int(offset), .int(offset + e.byteCount)])),
        ])))
        offset += e.byteCount
    }
    var header = Array(JSONValue.object(pairs).serialized().utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    return withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header
}

