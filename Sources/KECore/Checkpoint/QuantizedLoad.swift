// MARK: Loading a GGUF file's matrices as ggml blocks
//
// A matrix stored whole in the GGUF file (possibly with its q/k rows in llama.cpp's RoPE order)
// keeps its blocks: the rows are copied, reordered when needed, and dequantised per tile by the
// passes (see `QuantizedWeights`). Everything else goes through the ordinary HF mapping in f32
// (`planLoad`, `scatterHF`) and is kept as F32 rows (BF16 with `keepBF16`) or f32 vectors.

/// Reads the parameters of `config` from `source`, keeping stored ggml blocks.
///
/// Memory holds the blocks, the vectors and one tensor in f32 at a time; each tensor's pages of
/// the mapped file are released once it has been copied. With `keepBF16`, matrices
/// stored or mapped as F32 are rounded to BF16 (nearest even); quantised, F16 and BF16 blocks are
/// kept exactly.
/// - Throws: `CoreError` naming `file` for anything `planLoad` refuses (names, shapes, types) or
///   a q/k tensor whose rows are not whole head pairs.
func loadParametersQuantized(config c: ModelConfig, from source: GGUFTensorSource, keepBF16: Bool,
                             file: String? = nil) throws -> QuantizedWeights {
    let (layout, specs, slotsFor) = try planLoad(config: c, from: source, file: file)

    // Plan: where each matrix goes in the block buffer (64-byte aligned) and each vector in `vectors`.
    typealias Matrix = QuantizedWeights.Matrix
    var matrices: [String: Matrix] = [:], vectorOffset: [String: Int] = [:]
    var bytes = 0, floats = 0
    var kept: [Int: (tensor: GGUFTensorInfo, unpermuteHeads: Int?, canonical: String)] = [:]
    func place(_ name: String, _ type: GGMLType, rows: Int, columns: Int) {
        bytes = (bytes + 63) / 64 * 64
        matrices[name] = Matrix(type: type, rows: rows, columns: columns, offset: bytes)
        bytes += matrices[name]?.byteCount ?? 0
    }
    for (i, (s, slots)) in zip(specs, slotsFor).enumerated() {
        if case .direct(let canonical) = s.role, s.shape.count == 2, let stored = source.storedRows(s.name),
           stored.tensor.shape == s.shape {
            let type: GGMLType = keepBF16 && stored.tensor.type == .f32 ? .bf16 : stored.tensor.type
            place(canonical, type, rows: s.shape[0], columns: s.shape[1])
            kept[i] = (stored.tensor, stored.unpermuteHeads, canonical)
            continue
        }
        for slot in slots {
            if slot.shape.count == 2 {
                place(slot.name, keepBF16 ? .bf16 : .f32, rows: slot.shape[0], columns: slot.shape[1])
            } else {
                vectorOffset[slot.name] = floats
                floats += slot.count
            }
        }
    }

    var hf: [Float] = [], canonical: [Float] = []
    return try QuantizedWeights(slots: layout.slots, matrices: matrices, vectorOffset: vectorOffset, vectorCount: floats) { base, vectors in
        for (i, (s, slots)) in zip(specs, slotsFor).enumerated() {
            // The file's copy of each tensor leaves resident memory once it is in the store.
            defer { source.releasePages(of: s.name) }
            if let (t, heads, name) = kept[i], let m = matrices[name] {
                try copyRows(of: t, from: source.file, unpermuting: heads, into: base + m.offset, as: m.type)
                continue
            }
            // Through f32: read the HF tensor, scatter it into its canonical slots, store each.
            let n = s.shape.reduce(1, *)
            if hf.count < n { hf = [Float](repeating: 0, count: n) }
            let lo = slots.map(\.offset).min() ?? 0
            let hi = slots.map { $0.offset + $0.count }.max() ?? 0
            if canonical.count < hi - lo { canonical = [Float](repeating: 0, count: hi - lo) }
            try hf.withUnsafeMutableBufferPointer { h in
                try canonical.withUnsafeMutableBufferPointer { cb in
                    guard let hp = h.baseAddress, let cp = cb.baseAddress, let vp = vectors.baseAddress else { return }
                    try source.read(s.name, into: UnsafeMutableBufferPointer(start: hp, count: n))
                    scatterHF(s, hp, into: cp - lo, slots: slots, config: c)
                    for slot in slots {
                        let src = cp + (slot.offset - lo)
                        if let o = vectorOffset[slot.name] {
                            (vp + o).update(from: src, count: slot.count)
                        } else if let m = matrices[slot.name] {
                            storeFloats(src, count: slot.count, as: m.type, into: base + m.offset)
                        }
                    }
                }
            }
        }
    }
}

/// Copies the rows of GGUF tensor `t` into `dst` as `type` (its own type, or BF16 for F32 rows),
/// undoing llama.cpp's q/k row permutation for `heads` heads: HF row h·hd + j·hd/2 + i is GGUF
/// row h·hd + 2i + j.
/// - Throws: `CoreError` naming the file when the rows are not whole head pairs.
private func copyRows(of t: GGUFTensorInfo, from f: GGUFFile, unpermuting heads: Int?, into dst: UnsafeMutableRawPointer,
                      as type: GGMLType) throws {
    let rows = t.shape[0], columns = t.shape[1]
    let srcRowBytes = t.byteCount / max(1, rows)
    let dstRowBytes = columns / type.block.elements * type.block.bytes
    guard let fileBase = f.file.bytes.baseAddress else { return }
    let src = UnsafeRawPointer(fileBase + t.fileOffset)
    var sourceRow: (Int) -> Int = { $0 }
    if let heads {
        guard heads > 0, rows % (2 * heads) == 0 else {
            throw CoreError("tensor '\(t.name)' has \(rows) rows, not a whole number of head pairs for \(heads) heads", file: f.path)
        }
        let hd = rows / heads, half = hd / 2
        sourceRow = { r in
            let h = r / hd, within = r % hd, j = within / half, i = within % half
            return h * hd + 2 * i + j
        }
    }
    for r in 0..<rows {
        let from = src + sourceRow(r) * srcRowBytes, to = dst + r * dstRowBytes
        if type == t.type {
            to.copyMemory(from: from, byteCount: dstRowBytes)
        } else {  // F32 → BF16
            let out = to.assumingMemoryBound(to: UInt16.self)
            for k in 0..<columns { out[k] = floatToBF16Bits(from.loadUnaligned(fromByteOffset: 4 * k, as: Float.self)) }
        }
    }
}

/// Writes `count` floats as F32 or BF16 (nearest even) rows at `dst`.
private func storeFloats(_ src: UnsafePointer<Float>, count: Int, as type: GGMLType, into dst: UnsafeMutableRawPointer) {
    if type == .bf16 {
        let out = dst.assumingMemoryBound(to: UInt16.self)
        for k in 0..<count { out[k] = floatToBF16Bits(src[k]) }
    } else {
        dst.copyMemory(from: src, byteCount: count * 4)
    }
}
