// MARK: Loading a GGUF file's matrices as ggml blocks
//
// A matrix that is whole rows of one GGUF tensor (as stored, in llama.cpp's q/k RoPE order, or a
// row block of a fused q|k|v) keeps its blocks: the rows are copied, reordered when needed, and
// dequantised per tile by the passes (see `QuantizedWeights`). Everything else goes through the
// ordinary HF mapping in f32 (`planLoad`, `scatterHF`) and is kept as F32 rows (BF16 with
// `keepBF16`) or f32 vectors.

/// One canonical matrix cut straight out of a GGUF tensor's rows: canonical row r is GGUF row
/// `sourceRow(r)`.
private struct BlockRows {
    var tensor: GGUFTensorInfo
    var sourceRow: (Int) -> Int
}

/// The canonical matrices of HF tensor `s` (its `slots`, in order) as rows of the GGUF tensor it
/// came from, when every one of them is whole rows of it (nil otherwise):
///   - stored as HF has it, or transposed twice (GPT-2's Conv1D: HF [in, out] is the converter's
///     [out, in] transposed back, and canonical is [out, in] again): rows in order;
///   - llama.cpp's q/k RoPE permutation: HF row h·hd + j·hd/2 + i is GGUF row h·hd + 2i + j;
///   - fused q|k|v (GPT-2's c_attn transposed, GPT-NeoX's regrouped by projection): canonical
///     q, k, v are GGUF rows [0, D), [D, 2D), [2D, 3D).
private func blockRows(_ s: HFTensorSpec, slots: [TensorSlot], source: GGUFTensorSource, hidden D: Int) -> [BlockRows]? {
    guard let (t, transform) = source.storedTensor(s.name) else { return nil }
    let shape = t.shape
    switch (s.role, transform) {
    case (.direct, .none), (.transposed, .transpose):
        guard slots.count == 1, slots[0].shape == shape else { return nil }
        return [BlockRows(tensor: t, sourceRow: { $0 })]
    case (.direct, .unpermuteRoPE(let heads)):
        guard slots.count == 1, slots[0].shape == shape, heads > 0, shape[0] % (2 * heads) == 0 else { return nil }
        let hd = shape[0] / heads, half = hd / 2
        return [BlockRows(tensor: t, sourceRow: { r in
            let h = r / hd, within = r % hd
            return h * hd + 2 * (within % half) + within / half
        })]
    case (.gpt2QKVWeight, .transpose), (.neoxQKVWeight, .neoxQKV):
        guard shape == [3 * D, D], slots.count == 3, slots.allSatisfy({ $0.shape == [D, D] }) else { return nil }
        return (0..<3).map { j in BlockRows(tensor: t, sourceRow: { j * D + $0 }) }
    default:
        return nil
    }
}

/// Reads the parameters of `config` from `source`, keeping stored ggml blocks.
///
/// Memory holds the blocks, the vectors and one tensor in f32 at a time; each tensor's pages of
/// the mapped file are released once it has been copied. With `keepBF16`, matrices stored or
/// mapped as F32 are rounded to BF16 (nearest even); quantised, F16 and BF16 blocks are kept
/// exactly.
/// - Throws: `CoreError` naming `file` for anything `planLoad` refuses (names, shapes, types).
func loadParametersQuantized(config c: ModelConfig, from source: GGUFTensorSource, keepBF16: Bool,
                             file: String? = nil) throws -> QuantizedWeights {
    let (layout, specs, slotsFor) = try planLoad(config: c, from: source, file: file)

    // Plan: where each matrix goes in the block buffer (64-byte aligned) and each vector in `vectors`.
    typealias Matrix = QuantizedWeights.Matrix
    var matrices: [String: Matrix] = [:], vectorOffset: [String: Int] = [:]
    var bytes = 0, floats = 0
    var kept: [Int: [BlockRows]] = [:]
    func place(_ name: String, _ type: GGMLType, rows: Int, columns: Int) {
        bytes = (bytes + 63) / 64 * 64
        matrices[name] = Matrix(type: type, rows: rows, columns: columns, offset: bytes)
        bytes += matrices[name]?.byteCount ?? 0
    }
    for (i, (s, slots)) in zip(specs, slotsFor).enumerated() {
        if let rows = blockRows(s, slots: slots, source: source, hidden: c.hiddenSize) {
            for (slot, r) in zip(slots, rows) {
                place(slot.name, keepBF16 && r.tensor.type == .f32 ? .bf16 : r.tensor.type, rows: slot.shape[0], columns: slot.shape[1])
            }
            kept[i] = rows
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
            if let rows = kept[i] {
                for (slot, r) in zip(slots, rows) {
                    guard let m = matrices[slot.name] else { continue }
                    copyRows(r, count: m.rows, from: source.file, into: base + m.offset, as: m.type)
                }
                continue
            }
            // Through f32: read the HF tensor, scatter it into its canonical slots, store each.
            try readCanonical(s, slots: slots, from: source, config: c, hf: &hf, canonical: &canonical) { slot, src in
                if let o = vectorOffset[slot.name], let vp = vectors.baseAddress {
                    (vp + o).update(from: src, count: slot.count)
                } else if let m = matrices[slot.name] {
                    storeFloats(src, count: slot.count, as: m.type, into: base + m.offset)
                }
            }
        }
    }
}

/// Copies `count` rows (row r from GGUF row `rows.sourceRow(r)`) into `dst` as `type`: the
/// tensor's own type, or BF16 for F32 rows.
private func copyRows(_ rows: BlockRows, count: Int, from f: GGUFFile, into dst: UnsafeMutableRawPointer, as type: GGMLType) {
    let t = rows.tensor, columns = t.shape[1]
    let srcRowBytes = t.byteCount / max(1, t.shape[0])
    let dstRowBytes = columns / type.block.elements * type.block.bytes
    guard let fileBase = f.file.bytes.baseAddress else { return }
    let src = UnsafeRawPointer(fileBase + t.fileOffset)
    for r in 0..<count {
        let from = src + rows.sourceRow(r) * srcRowBytes, to = dst + r * dstRowBytes
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
