import Foundation

// MARK: Sums files
//
// A sums value on disk: a safetensors file with the float and the exact sums and the shard's
// metadata, written once and never replaced, read back by `merge`.

extension CoefficientSums {
    /// Writes a safetensors file: `sums` (F64 [L, d_ff], Σ|c| as Float64), `sums_exact` (U64
    /// [L, d_ff, 3]: the exact accumulators hi, lo and the bits of extra) and `__metadata__`
    /// (format, tokens, shard, shards, model, corpus, step). Never replaces an existing file:
    /// the data goes to a temporary sibling that is hard-linked into place (which fails when
    /// the name exists), so a reader sees either no file or the complete one.
    ///
    /// - Throws: `CoreError` naming `path` when it exists already or cannot be written.
    public func write(to path: String) throws {
        let L = layers, F = memories
        var meta: [String: String] = [
            "format": "ke-sums", "version": "1", "tokens": String(tokens),
            "shard": shard.map(String.init) ?? "null", "shards": String(shards),
            "model": model, "corpus": corpus, "layers": String(L), "memories": String(F),
        ]
        if let step { meta["step"] = String(step) }
        var values = sums.values
        var exact = [UInt64](repeating: 0, count: L * F * 3)
        for i in 0..<(L * F) {
            exact[3 * i] = sums.hi[i]
            exact[3 * i + 1] = sums.lo[i]
            exact[3 * i + 2] = sums.extra[i].bitPattern
        }
        let valueBytes = values.withUnsafeMutableBytes { Array($0) }
        let exactBytes = exact.withUnsafeBytes { Array($0) }
        try writeRawSafetensors([
            ("sums", .f64, [L, F], valueBytes),
            ("sums_exact", .u64, [L, F, 3], exactBytes),
        ], metadata: meta, to: path)
    }

    /// Reads a file written by `write(to:)`.
    ///
    /// - Throws: `CoreError` naming `path` when it is not a safetensors file, not a ke sums file,
    ///   or lacks a metadata field or the U64 tensor sums_exact [L, d_ff, 3].
    public static func read(from path: String) throws -> CoefficientSums {
        let f = try SafetensorsFile(path: path)
        let m = f.metadata
        guard m["format"] == "ke-sums" else { throw CoreError("not a ke sums file (no \"format\": \"ke-sums\" in __metadata__)", file: path) }
        guard let tokens = m["tokens"].flatMap(Int.init), let shards = m["shards"].flatMap(Int.init),
              let shardText = m["shard"], let model = m["model"], let corpus = m["corpus"] else {
            throw CoreError("__metadata__ lacks tokens, shard, shards, model or corpus", file: path)
        }
        let shard: Int? = shardText == "null" ? nil : Int(shardText)
        if shardText != "null" && shard == nil { throw CoreError("shard \"\(shardText)\" is not a number", file: path) }
        guard let info = f.info("sums_exact"), info.dtype == .u64, info.shape.count == 3, info.shape[2] == 3 else {
            throw CoreError("no U64 tensor sums_exact of shape [L, d_ff, 3]", file: path)
        }
        let L = info.shape[0], F = info.shape[1]
        let raw = f.rawBytes(info)
        var hi = [UInt64](repeating: 0, count: L * F), lo = hi
        var extra = [Double](repeating: 0, count: L * F)
        for i in 0..<(L * F) {
            hi[i] = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24 * i, as: UInt64.self))
            lo[i] = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24 * i + 8, as: UInt64.self))
            extra[i] = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24 * i + 16, as: UInt64.self)))
        }
        return CoefficientSums(sums: ExactSums(layers: L, memories: F, hi: hi, lo: lo, extra: extra),
                               tokens: tokens, shard: shard, shards: shards, model: model, corpus: corpus,
                               step: m["step"].flatMap(Int.init))
    }
}

/// Writes tensors given as raw little-endian bytes to a new safetensors file at `path`; refuses
/// to replace an existing file. Written to a temporary sibling, synced, then hard-linked into place.
///
/// - Throws: `CoreError` naming `path` when a tensor's bytes do not match its shape and dtype, the
///   file exists, or it cannot be written.
public func writeRawSafetensors(_ tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], bytes: [UInt8])],
                                metadata: [String: String], to path: String) throws {
    // The Python library's order: larger alignment first, then by name.
    let order = tensors.indices.sorted { x, y in
        let (a, b) = (tensors[x], tensors[y])
        if a.dtype.writeRank != b.dtype.writeRank { return a.dtype.writeRank < b.dtype.writeRank }
        return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
    }
    for t in tensors {
        guard t.bytes.count == t.shape.reduce(1, *) * t.dtype.size else {
            throw CoreError("tensor '\(t.name)': \(t.bytes.count) bytes do not match shape \(t.shape)", file: path)
        }
    }
    let header = safetensorsHeader(order.map { (tensors[$0].name, tensors[$0].dtype, tensors[$0].shape, tensors[$0].bytes.count) },
                                   metadata: metadata)
    try writeFileAtomically(path: path, replace: false) { put in
        try header.withUnsafeBytes { try put($0) }
        for i in order { try tensors[i].bytes.withUnsafeBytes { try put($0) } }
    }
}
