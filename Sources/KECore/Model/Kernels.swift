import Foundation

// MARK: Elementwise kernels shared by the forward and backward passes
//
// All buffers are row-major; `n` rows of width `d`. These loops are the only non-BLAS
// arithmetic on the hot path, written so the optimiser can vectorise them.

/// LayerNorm over the last dimension: y = (x − mean) / sqrt(var + eps) · w + b.
/// `w`/`b` may be nil (OLMo's non-parametric LayerNorm). Saves mean and rstd per row when asked.
@inline(__always)
func layerNormForward(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows n: Int, dim d: Int,
    weight w: UnsafePointer<Float>?, bias b: UnsafePointer<Float>?, eps: Float,
    saveMean: UnsafeMutablePointer<Float>? = nil, saveRstd: UnsafeMutablePointer<Float>? = nil
) {
    for r in 0..<n {
        let xr = x + r * d, yr = y + r * d
        var sum: Float = 0
        for j in 0..<d { sum += xr[j] }
        let mean = sum / Float(d)
        var v: Float = 0
        for j in 0..<d { let t = xr[j] - mean; v += t * t }
        let rstd = 1 / (v / Float(d) + eps).squareRoot()
        saveMean?[r] = mean
        saveRstd?[r] = rstd
        switch (w, b) {
        case let (w?, b?): for j in 0..<d { yr[j] = (xr[j] - mean) * rstd * w[j] + b[j] }
        case let (w?, nil): for j in 0..<d { yr[j] = (xr[j] - mean) * rstd * w[j] }
        default: for j in 0..<d { yr[j] = (xr[j] - mean) * rstd }
        }
    }
}

/// RMSNorm: y = x / sqrt(mean(x²) + eps) · w.
@inline(__always)
func rmsNormForward(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows n: Int, dim d: Int,
    weight w: UnsafePointer<Float>, eps: Float, saveRstd: UnsafeMutablePointer<Float>? = nil
) {
    for r in 0..<n {
        let xr = x + r * d, yr = y + r * d
        var ss: Float = 0
        for j in 0..<d { ss += xr[j] * xr[j] }
        let rstd = 1 / (ss / Float(d) + eps).squareRoot()
        saveRstd?[r] = rstd
        for j in 0..<d { yr[j] = xr[j] * rstd * w[j] }
    }
}

// MARK: Activations

/// act(x) for the configured activation.
@inline(__always)
func activate(_ x: Float, _ a: Activation) -> Float {
    switch a {
    case .silu: return x / (1 + expf(-x))
    case .gelu: return 0.5 * x * (1 + erff(x * 0.70710678118654752))
    case .geluTanh:
        let k: Float = 0.79788456080286536  // sqrt(2/π)
        return 0.5 * x * (1 + tanhf(k * (x + 0.044715 * x * x * x)))
    case .relu: return x > 0 ? x : 0
    }
}

/// d act(x) / dx.
@inline(__always)
func activateGrad(_ x: Float, _ a: Activation) -> Float {
    switch a {
    case .silu:
        let s = 1 / (1 + expf(-x))
        return s * (1 + x * (1 - s))
    case .gelu:
        let cdf = 0.5 * (1 + erff(x * 0.70710678118654752))
        let pdf = expf(-0.5 * x * x) * 0.39894228040143268  // 1/sqrt(2π)
        return cdf + x * pdf
    case .geluTanh:
        let k: Float = 0.79788456080286536
        let u = k * (x + 0.044715 * x * x * x)
        let t = tanhf(u)
        let du = k * (1 + 3 * 0.044715 * x * x)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    case .relu: return x > 0 ? 1 : 0
    }
}

// MARK: Rotary position embedding (Hugging Face rotate-half layout)

/// Cos/sin tables for positions 0..<maxPos and `rotaryDim / 2` frequencies:
/// inv_freq_j = θ^(−2j / rotaryDim), angle = pos · inv_freq_j.
struct RopeTable {
    let half: Int
    let cos: [Float]
    let sin: [Float]

    init(rotaryDim: Int, theta: Double, positions: Int) {
        half = rotaryDim / 2
        var c = [Float](repeating: 0, count: max(1, positions * half))
        var s = c
        if half > 0 {
            for j in 0..<half {
                // Computed as transformers does: inv_freq in float32, angle in float32.
                let invFreq = Float(1.0 / pow(theta, Double(2 * j) / Double(rotaryDim)))
                for p in 0..<positions {
                    let angle = Float(p) * invFreq
                    c[p * half + j] = Foundation.cos(angle)
                    s[p * half + j] = Foundation.sin(angle)
                }
            }
        }
        cos = c
        sin = s
    }
}

/// Applies RoPE in place to `heads` heads of width `headDim` in each of `n` rows (row stride
/// `stride`), rotating the first `2·half` dims: x1 = x[:half], x2 = x[half:2half];
/// x1' = x1·cos − x2·sin, x2' = x2·cos + x1·sin. `inverse` applies the transpose (for backward).
@inline(__always)
func applyRope(
    _ x: UnsafeMutablePointer<Float>, rows n: Int, stride: Int, heads: Int, headDim: Int,
    positions: UnsafePointer<Int32>, table: RopeTable, inverse: Bool = false
) {
    let half = table.half
    if half == 0 { return }
    table.cos.withUnsafeBufferPointer { cosT in
        table.sin.withUnsafeBufferPointer { sinT in
            for r in 0..<n {
                let p = Int(positions[r])
                let cp = cosT.baseAddress! + p * half, sp = sinT.baseAddress! + p * half
                for h in 0..<heads {
                    let v = x + r * stride + h * headDim
                    for j in 0..<half {
                        let a = v[j], b = v[j + half]
                        let c = cp[j], s = inverse ? -sp[j] : sp[j]
                        v[j] = a * c - b * s
                        v[j + half] = b * c + a * s
                    }
                }
            }
        }
    }
}
