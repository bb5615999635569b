// MARK: Normalisation layers, forward and backward
//
// LayerNorm: x̂ = (x − μ)·rstd, y = x̂·w + b, rstd = 1/√(var + eps).
// RMSNorm:   x̂ = x·rstd,       y = x̂·(w + offset), rstd = 1/√(mean(x²) + eps);
//            offset is 1 for Gemma's `(1 + weight)`, else 0.

/// One normalisation as a pass applies it: the kind, the row width and the constants.
struct Norm {
    var kind: NormKind
    /// Row width.
    var dim: Int
    var eps: Float
    /// Added to the weight before it multiplies (RMSNorm only).
    var weightOffset: Float = 0
}

extension ModelConfig {
    /// The norm of the residual stream (attention, MLP, final), width `hiddenSize`.
    var hiddenNorm: Norm { Norm(kind: norm, dim: hiddenSize, eps: normEps, weightOffset: normWeightOffset) }

    /// The query and key norms (RMSNorm), over whole projections or single heads.
    func queryKeyNorms() -> (q: Norm, k: Norm)? {
        switch qkNorm {
        case .none: return nil
        case .fullProjection:
            return (Norm(kind: .rmsNorm, dim: numHeads * headDim, eps: normEps, weightOffset: normWeightOffset),
                    Norm(kind: .rmsNorm, dim: numKVHeads * headDim, eps: normEps, weightOffset: normWeightOffset))
        case .perHead:
            let n = Norm(kind: .rmsNorm, dim: headDim, eps: normEps, weightOffset: normWeightOffset)
            return (n, n)
        }
    }
}

/// y = norm(x) for `rows` rows of width `n.dim`; saves each row's mean and rstd when asked
/// (training). Without saving, long inputs are split across cores (rows are independent).
func normForward(
    _ n: Norm, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int,
    w: UnsafePointer<Float>?, b: UnsafePointer<Float>?,
    saveMean: UnsafeMutablePointer<Float>? = nil, saveRstd: UnsafeMutablePointer<Float>? = nil
) {
    if saveMean == nil && saveRstd == nil && rows >= 256 {
        let d = n.dim
        parallelRanges(rows, minChunk: 128) { r in
            normRows(n, x + r.lowerBound * d, y + r.lowerBound * d, rows: r.count, w: w, b: b, saveMean: nil, saveRstd: nil)
        }
        return
    }
    normRows(n, x, y, rows: rows, w: w, b: b, saveMean: saveMean, saveRstd: saveRstd)
}

@inline(__always)
private func normRows(
    _ n: Norm, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int,
    w: UnsafePointer<Float>?, b: UnsafePointer<Float>?,
    saveMean: UnsafeMutablePointer<Float>?, saveRstd: UnsafeMutablePointer<Float>?
) {
    switch n.kind {
    case .rmsNorm:
        if let w {
            rmsNormForward(x, y, rows: rows, dim: n.dim, weight: w, weightOffset: n.weightOffset, eps: n.eps, saveRstd: saveRstd)
        }
    case .layerNorm, .nonParametricLayerNorm:
        layerNormForward(x, y, rows: rows, dim: n.dim, weight: w, bias: b, eps: n.eps,
                         saveMean: saveMean, saveRstd: saveRstd)
    }
}

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

/// RMSNorm: y = x / sqrt(mean(x²) + eps) · (w + weightOffset).
@inline(__always)
func rmsNormForward(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows n: Int, dim d: Int,
    weight w: UnsafePointer<Float>, weightOffset: Float = 0, eps: Float, saveRstd: UnsafeMutablePointer<Float>? = nil
) {
    for r in 0..<n {
        let xr = x + r * d, yr = y + r * d
        var ss: Float = 0
        for j in 0..<d { ss += xr[j] * xr[j] }
        let rstd = 1 / (ss / Float(d) + eps).squareRoot()
        saveRstd?[r] = rstd
        if weightOffset == 0 {
            for j in 0..<d { yr[j] = xr[j] * rstd * w[j] }
        } else {
            for j in 0..<d { yr[j] = xr[j] * rstd * (w[j] + weightOffset) }
        }
    }
}

/// Backward of `normForward` for `rows` rows: dx += ∂L/∂x, dw += Σ_r dy·x̂, db += Σ_r dy (for
/// the tensors the norm has), from the saved mean (LayerNorm) and rstd.
///
/// LayerNorm: dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)); RMSNorm: dx = rstd·(dx̂ − x̂·mean(dx̂·x̂)),
/// where dx̂ = dy·(w + offset) (dy without a weight).
func normBackward(
    _ n: Norm, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int,
    w: UnsafePointer<Float>?, dx: UnsafeMutablePointer<Float>,
    dw: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?
) {
    let d = n.dim
    let isRMS: Bool
    if case .rmsNorm = n.kind { isRMS = true } else { isRMS = false }
    let off = n.weightOffset
    @inline(__always) func scaled(_ g: Float, _ j: Int) -> Float {
        guard let w else { return g }
        return off == 0 ? g * w[j] : g * (w[j] + off)
    }
    let invD = 1 / Float(d)
    for r in 0..<rows {
        let xr = x + r * d, dyr = dy + r * d, dxr = dx + r * d
        let mu: Float = isRMS ? 0 : mean[r]
        let rs = rstd[r]
        var sumG: Float = 0, sumGX: Float = 0
        for j in 0..<d {
            let xh = (xr[j] - mu) * rs
            let g = scaled(dyr[j], j)
            sumG += g
            sumGX += g * xh
            if let dw { dw[j] += dyr[j] * xh }
            if let db { db[j] += dyr[j] }
        }
        let mG = isRMS ? 0 : sumG * invD
        let mGX = sumGX * invD
        // One loop per weight case, each `scaled` written out: a weight tested inside the loop
        // became a masked load of the (absent) weight, which on AMD costs a microcode assist per
        // vector (3 % of the tiny run's CPU time, by perf on AMD EPYC).
        if let w {
            if off == 0 {
                for j in 0..<d { dxr[j] += rs * (dyr[j] * w[j] - mG - (xr[j] - mu) * rs * mGX) }
            } else {
                for j in 0..<d { dxr[j] += rs * (dyr[j] * (w[j] + off) - mG - (xr[j] - mu) * rs * mGX) }
            }
        } else {
            for j in 0..<d { dxr[j] += rs * (dyr[j] - mG - (xr[j] - mu) * rs * mGX) }
        }
    }
}
