import Foundation

// MARK: Weights kept as a GGUF file's ggml blocks
//
// A quantised GGUF file stores each weight matrix [out, in] as ggml blocks along its rows (Q4_0:
// 18 bytes per 32 weights, 4.5 bits a weight). `QuantizedWeights` keeps those blocks as they are
// and the forward pass dequantises a tile of `weightTileRows` rows just before each sgemm, into
// the same f32 values gguf-py (and a load that expands everything) would produce. So a Q4 model's
// passes need its quantised size plus one tile, not its f32 size, and give the same numbers as
// the expanded model.
//
// Matrices whose canonical form is not a whole GGUF tensor (fused q|k|v split, transposed) are
// dequantised at load and kept as F32 (or BF16 with `load … bf16`) rows of the same store;
// vectors (norm weights, biases) are f32. Commands that need f32 parameters everywhere (train,
// save, memory inspection, …) ask for an explicit f32 copy (`Model.f32Parameters()`).

/// Rows of ggml blocks: row r of a matrix [rows, width] is `rowBytes` bytes at `base + r·rowBytes`.
struct GGMLRows {
    var type: GGMLType
    var base: UnsafeRawPointer
    var rowBytes: Int

    /// Rows `r` ([r.count, width] f32, row-major) into `dst`, as gguf-py dequantises them.
    @inline(__always)
    func dequantize(rows r: Range<Int>, width: Int, into dst: UnsafeMutablePointer<Float>) {
        let src = UnsafeRawBufferPointer(start: base + r.lowerBound * rowBytes, count: r.count * rowBytes)
        ggmlDequantize(src, type: type, into: UnsafeMutableBufferPointer(start: dst, count: r.count * width))
    }
}

/// A model's parameters with every matrix as ggml blocks (quantised as the file stored it, or
/// F32/F16/BF16 rows), in canonical layout, and every vector as f32.
public final class QuantizedWeights: @unchecked Sendable {
    /// Where one canonical matrix lives in `blocks`.
    struct Matrix {
        var type: GGMLType
        var rows: Int, columns: Int
        /// Byte offset of row 0 in `blocks`.
        var offset: Int
        var rowBytes: Int { columns / type.block.elements * type.block.bytes }
        var byteCount: Int { rows * rowBytes }
    }

    /// The canonical layout (as `ParameterStore`), which fixes the order and the f32 expansion.
    let slots: [TensorSlot]
    /// The 2-D slots by name.
    let matrices: [String: Matrix]
    /// Every matrix's blocks, one after another (immutable after init).
    private let storage: UnsafeMutableRawBufferPointer
    /// The 1-D tensors (norm weights, biases) as f32, each at `vectorOffset[name]`.
    let vectors: [Float]
    let vectorOffset: [String: Int]

    /// A store whose matrices are laid out as `matrices` says (offsets from 0, no overlaps) and
    /// whose vectors sit at `vectorOffset` in `vectorCount` floats; `fill` writes every matrix's
    /// bytes into the new block buffer at those offsets, and every vector.
    /// - Throws: whatever `fill` throws (the buffer is then released).
    init(slots: [TensorSlot], matrices: [String: Matrix], vectorOffset: [String: Int], vectorCount: Int,
         fill: (UnsafeMutableRawPointer, UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
        let bytes = matrices.values.map { $0.offset + $0.byteCount }.max() ?? 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes), alignment: 64)
        var v = [Float](repeating: 0, count: vectorCount)
        do {
            if let base = buffer.baseAddress { try v.withUnsafeMutableBufferPointer { try fill(base, $0) } }
        } catch {
            buffer.deallocate()
            throw error
        }
        self.slots = slots
        self.matrices = matrices
        storage = buffer
        vectors = v
        self.vectorOffset = vectorOffset
    }

    deinit { storage.deallocate() }

    /// Number of scalars (as `ParameterStore.count`).
    var count: Int { slots.reduce(0) { $0 + $1.count } }

    /// Bytes held: the blocks plus the f32 vectors.
    public var byteCount: Int { matrices.values.reduce(0) { $0 + $1.byteCount } + vectors.count * 4 }

    /// The ggml types of the matrices and how many matrices have each, most common first
    /// (e.g. `[("Q4_0", 14), ("F32", 2)]`).
    public var matrixTypes: [(type: String, count: Int)] {
        var n: [String: Int] = [:]
        for m in matrices.values { n[m.type.name, default: 0] += 1 }
        return n.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// The rows of matrix `name` as the passes read them (valid while `self` lives).
    func rows(_ name: String) -> GGMLRows? {
        guard let m = matrices[name], let base = storage.baseAddress else { return nil }
        return GGMLRows(type: m.type, base: UnsafeRawPointer(base + m.offset), rowBytes: m.rowBytes)
    }

    /// Every parameter dequantised to f32 (4 bytes a scalar).
    func expanded() -> ParameterStore {
        var data = [Float](repeating: 0, count: count)
        data.withUnsafeMutableBufferPointer { d in
            guard let base = d.baseAddress else { return }
            for s in slots {
                if s.shape.count == 1, let o = vectorOffset[s.name] {
                    vectors.withUnsafeBufferPointer { v in
                        if let vp = v.baseAddress { (base + s.offset).update(from: vp + o, count: s.count) }
                    }
                } else if let m = matrices[s.name], let r = rows(s.name) {
                    parallelRanges(m.rows, minChunk: 64) { rr in
                        r.dequantize(rows: rr, width: m.columns, into: base + s.offset + rr.lowerBound * m.columns)
                    }
                }
            }
        }
        return ParameterStore(slots: slots, data: data)
    }
}
