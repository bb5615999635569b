// MARK: Linear layers, forward and backward
//
// y[n, out] = x[n, in] · Wᵀ + b for a weight W [out, in], as PyTorch's `nn.Linear`. The
// inference pass also reads weights kept compact (bf16 bits, or a GGUF file's ggml blocks),
// converted to f32 a tile of rows at a time just before each sgemm; training reads f32 only.

/// A weight matrix [out, in]: f32, bf16 bits, or ggml blocks, the last two converted to f32 a
/// tile of rows at a time.
enum MatrixWeights {
    case f32(UnsafePointer<Float>)
    /// f32 with the panels the fixed-order kernel reads for x·Wᵀ, packed once (a `Model`'s
    /// constant weights, see `InferencePanels`).
    case f32Packed(UnsafePointer<Float>, PackedPanels)
    case bf16(UnsafePointer<UInt16>)
    case blocks(GGMLRows)

    /// True when rows must be converted to f32 before use (bf16 or ggml blocks).
    var isCompact: Bool {
        switch self {
        case .f32, .f32Packed: return false
        case .bf16, .blocks: return true
        }
    }

    /// The packed panels of output rows [r0, r0 + count) as the B of x·Wᵀ, when this matrix
    /// has panels (`sgemm` packs B itself otherwise, or when they do not serve its tile).
    func packedB(rows r0: Int, count: Int) -> PackedB? {
        if case .f32Packed(_, let panels) = self { return PackedB(panels, first: r0, columns: count) }
        return nil
    }

    /// Row r (`width` values) into `dst` as f32.
    @inline(__always)
    func row(_ r: Int, width: Int, into dst: UnsafeMutablePointer<Float>) {
        switch self {
        case .f32(let p), .f32Packed(let p, _): dst.update(from: p + r * width, count: width)
        case .bf16(let p): convertBF16(p + r * width, dst, count: width)
        case .blocks(let b): b.dequantize(rows: r..<(r + 1), width: width, into: dst)
        }
    }

    /// Rows [r0, r0 + count) as f32 [count, width]: a pointer into the weights when they are f32,
    /// else the rows converted into `scratch` (≥ count × width floats), several rows at once on
    /// every core (each row converts on its own, so the values do not depend on the split).
    func rows(_ r0: Int, count: Int, width: Int, scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        switch self {
        case .f32(let p), .f32Packed(let p, _): return p + r0 * width
        case .bf16(let p):
            parallelRanges(count, minChunk: 32) { r in
                convertBF16(p + (r0 + r.lowerBound) * width, scratch + r.lowerBound * width, count: r.count * width)
            }
        case .blocks(let b):
            parallelRanges(count, minChunk: 32) { r in
                b.dequantize(rows: (r0 + r.lowerBound)..<(r0 + r.upperBound), width: width, into: scratch + r.lowerBound * width)
            }
        }
        return UnsafePointer(scratch)
    }
}

/// Weights as the inference pass reads them: matrices f32 or compact, vectors f32.
typealias InferenceWeights = ModelTensors<MatrixWeights, UnsafePointer<Float>>

extension ModelTensors where Matrix == MatrixWeights {
    /// True when some matrix is compact, so the passes need a `weightTileRows` scratch tile.
    var hasCompactMatrices: Bool {
        embed.isCompact || unembed.isCompact || posEmbed?.isCompact == true || layers.contains { l in
            [l.q, l.k, l.v, l.o, l.up, l.down].contains(where: \.isCompact) || l.gate?.isCompact == true
        }
    }
}

/// Output rows of a compact matrix converted per sgemm: `weightTileRows × inFeatures` floats of scratch.
let weightTileRows = 256

/// y[n, out] = x[n, in] · Wᵀ (+ bias), added to y when `accumulate`. A compact matrix is
/// converted `weightTileRows` output rows at a time into `scratch` (≥ weightTileRows × in
/// floats), each tile one sgemm writing its block of columns of y.
func linear(
    _ x: UnsafePointer<Float>, rows n: Int, inFeatures: Int, weight: MatrixWeights, outFeatures: Int,
    bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false,
    scratch: UnsafeMutablePointer<Float>
) {
    switch weight {
    case .f32(let w), .f32Packed(let w, _):
        return linear(x, rows: n, inFeatures: inFeatures, weight: w, outFeatures: outFeatures, bias: bias, into: y,
                      accumulate: accumulate, packedB: weight.packedB(rows: 0, count: outFeatures))
    case .bf16, .blocks: break
    }
    if let bias, !accumulate {
        for r in 0..<n { (y + r * outFeatures).update(from: bias, count: outFeatures) }
    }
    let beta: Float = accumulate || bias != nil ? 1 : 0
    var o0 = 0
    while o0 < outFeatures {
        let rows = min(weightTileRows, outFeatures - o0)
        let tile = weight.rows(o0, count: rows, width: inFeatures, scratch: scratch)
        sgemm(transB: true, m: n, n: rows, k: inFeatures, a: x, b: tile, beta: beta, c: y + o0, ldc: outFeatures)
        o0 += rows
    }
    if let bias, accumulate { addBias(bias, to: y, rows: n, cols: outFeatures) }
}

/// y[n, out] = x[n, in] · W[out, in]ᵀ (+ bias[out]), added to y when `accumulate`. `packedB`:
/// W's panels packed once, if it has them (`MatrixWeights.f32Packed`).
@inline(__always)
func linear(
    _ x: UnsafePointer<Float>, rows n: Int, inFeatures: Int,
    weight w: UnsafePointer<Float>, outFeatures: Int,
    bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false,
    packedB: PackedB? = nil
) {
    if let bias, !accumulate {
        for r in 0..<n { (y + r * outFeatures).update(from: bias, count: outFeatures) }
        sgemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: x, b: w, beta: 1, c: y, packedB: packedB)
    } else {
        sgemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: x, b: w, beta: accumulate ? 1 : 0, c: y,
              packedB: packedB)
        if let bias, accumulate { addBias(bias, to: y, rows: n, cols: outFeatures) }
    }
}

/// y[r, j] += bias[j] for every row.
@inline(__always)
private func addBias(_ bias: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, rows n: Int, cols m: Int) {
    for r in 0..<n {
        let row = y + r * m
        for j in 0..<m { row[j] += bias[j] }
    }
}

/// Backward of y = x·Wᵀ + b for x [n, inF], W [outF, inF]:
/// dx (+)= dy·W, dW = dyᵀ·x (overwritten: each weight is used once per pass), db += Σ_r dy.
@inline(__always)
func linearBackward(
    dy: UnsafePointer<Float>, x: UnsafePointer<Float>, rows n: Int, inFeatures: Int, outFeatures: Int,
    weight w: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, accumulateDx: Bool,
    dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>?
) {
    if let dx {
        // dx[n, in] = dy[n, out] · W[out, in]
        sgemm(m: n, n: inFeatures, k: outFeatures, a: dy, b: w, beta: accumulateDx ? 1 : 0, c: dx)
    }
    // dW[out, in] = dy[n, out]ᵀ · x[n, in]
    sgemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: dy, b: x, beta: 0, c: dw)
    if let db { addColumnSums(dy, rows: n, cols: outFeatures, into: db) }
}

/// db[j] += Σ_r dy[r, j].
@inline(__always)
func addColumnSums(_ dy: UnsafePointer<Float>, rows n: Int, cols m: Int, into db: UnsafeMutablePointer<Float>) {
    for r in 0..<n {
        let row = dy + r * m
        for j in 0..<m { db[j] += row[j] }
    }
}
