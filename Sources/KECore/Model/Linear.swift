// MARK: Linear layers, forward and backward
//
// y[n, out] = x[n, in] · Wᵀ + b for a weight W [out, in], as PyTorch's `nn.Linear`. The
// inference pass reads weights kept as bf16 as well as f32; training reads f32 only.

/// A weight matrix [out, in]: f32, or bf16 bits converted to f32 a tile of rows at a time.
enum MatrixWeights {
    case f32(UnsafePointer<Float>)
    case bf16(UnsafePointer<UInt16>)

    var isBF16: Bool { if case .bf16 = self { return true } else { return false } }

    /// Row r (`width` values) into `dst` as f32.
    @inline(__always)
    func row(_ r: Int, width: Int, into dst: UnsafeMutablePointer<Float>) {
        switch self {
        case .f32(let p): dst.update(from: p + r * width, count: width)
        case .bf16(let p): convertBF16(p + r * width, dst, count: width)
        }
    }
}

/// Weights as the inference pass reads them: matrices f32 or bf16, vectors f32.
typealias InferenceWeights = ModelTensors<MatrixWeights, UnsafePointer<Float>>

/// Output rows of a bf16 matrix converted per sgemm: `bf16TileRows × inFeatures` floats of scratch.
let bf16TileRows = 256

/// y[n, out] = x[n, in] · Wᵀ (+ bias), added to y when `accumulate`. A bf16 matrix is converted
/// `bf16TileRows` output rows at a time into `scratch` (≥ bf16TileRows × in floats), each tile one
/// sgemm writing its block of columns of y.
func linear(
    _ x: UnsafePointer<Float>, rows n: Int, inFeatures: Int, weight: MatrixWeights, outFeatures: Int,
    bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false,
    scratch: UnsafeMutablePointer<Float>
) {
    switch weight {
    case .f32(let w):
        linear(x, rows: n, inFeatures: inFeatures, weight: w, outFeatures: outFeatures, bias: bias, into: y, accumulate: accumulate)
    case .bf16(let w):
        if let bias, !accumulate {
            for r in 0..<n { (y + r * outFeatures).update(from: bias, count: outFeatures) }
        }
        let beta: Float = accumulate || bias != nil ? 1 : 0
        var o0 = 0
        while o0 < outFeatures {
            let rows = min(bf16TileRows, outFeatures - o0)
            convertBF16(w + o0 * inFeatures, scratch, count: rows * inFeatures)
            sgemm(transB: true, m: n, n: rows, k: inFeatures, a: x, b: scratch, beta: beta,
                  c: y + o0, ldc: outFeatures)
            o0 += rows
        }
        if let bias, accumulate { addBias(bias, to: y, rows: n, cols: outFeatures) }
    }
}

/// y[n, out] = x[n, in] · W[out, in]ᵀ (+ bias[out]), added to y when `accumulate`.
@inline(__always)
func linear(
    _ x: UnsafePointer<Float>, rows n: Int, inFeatures: Int,
    weight w: UnsafePointer<Float>, outFeatures: Int,
    bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false
) {
    if let bias, !accumulate {
        for r in 0..<n { (y + r * outFeatures).update(from: bias, count: outFeatures) }
        sgemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: x, b: w, beta: 1, c: y)
    } else {
        sgemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: x, b: w, beta: accumulate ? 1 : 0, c: y)
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
