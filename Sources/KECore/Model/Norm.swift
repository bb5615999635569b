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

// MARK: Row statistics, eight rows at a time
//
// A row's statistics are Float chains over j in order (Σx, Σ(x − μ)², Σx², the backward's Σg and
// Σg·x̂): each add waits for the one before. Eight rows run as the eight lanes of one SIMD8 chain
// (lane q is row q's chain, the same operations in the same order), so eight chains advance
// at once; a group of fewer than eight rows runs one row at a time. The lanes' columns come from
// 8 × 8 blocks transposed in registers (loads of eight floats and shuffles, no arithmetic).

/// Element j of eight rows `d` apart: lane q is x[q·d + j].
@inline(__always)
private func column8(_ x: UnsafePointer<Float>, stride d: Int, _ j: Int) -> F8 {
    F8(x[j], x[d + j], x[2 * d + j], x[3 * d + j], x[4 * d + j], x[5 * d + j], x[6 * d + j], x[7 * d + j])
}

/// Elements j..<j+8 of eight rows `d` apart (p = x + j) as eight columns: lane q of column c is
/// p[q·d + c]. Three rounds of the perfect unshuffle (even lanes of a pair, then odd) move the
/// row index into the lanes and the column index out of them, one bit a round.
@inline(__always)
private func columns8(_ p: UnsafePointer<Float>, stride d: Int) -> (F8, F8, F8, F8, F8, F8, F8, F8) {
    @inline(__always) func u(_ a: F8, _ b: F8) -> (F8, F8) {
        (F8(lowHalf: a.evenHalf, highHalf: b.evenHalf), F8(lowHalf: a.oddHalf, highHalf: b.oddHalf))
    }
    var (v0, v1) = u(load8(p), load8(p + d))
    var (v2, v3) = u(load8(p + 2 * d), load8(p + 3 * d))
    var (v4, v5) = u(load8(p + 4 * d), load8(p + 5 * d))
    var (v6, v7) = u(load8(p + 6 * d), load8(p + 7 * d))
    (v0, v2) = u(v0, v2); (v1, v3) = u(v1, v3); (v4, v6) = u(v4, v6); (v5, v7) = u(v5, v7)
    (v0, v4) = u(v0, v4); (v1, v5) = u(v1, v5); (v2, v6) = u(v2, v6); (v3, v7) = u(v3, v7)
    return (v0, v1, v2, v3, v4, v5, v6, v7)
}

/// LayerNorm's mean and rstd of one row (`Float`) or eight (`F8`: lane q is the row at x + q·d),
/// as lanes (`NormLanes.lanes`: one row's in every lane).
@inline(__always)
private func layerNormStatistics<T: NormLanes>(_ x: UnsafePointer<Float>, dim d: Int, eps: Float, _: T.Type) -> (mean: F8, rstd: F8) {
    var sum = T.zero
    T.forEachColumn(x, x, stride: d) { _, c, _ in sum += c }
    let mean = sum / Float(d)
    var v = T.zero
    T.forEachColumn(x, x, stride: d) { _, c, _ in let t = c - mean; v += t * t }
    return (mean.lanes, (1 / (v / Float(d) + eps).squareRoot()).lanes)
}

/// RMSNorm's rstd of one row (`Float`) or eight (`F8`), as lanes.
@inline(__always)
private func rmsNormStatistics<T: NormLanes>(_ x: UnsafePointer<Float>, dim d: Int, eps: Float, _: T.Type) -> F8 {
    var ss = T.zero
    T.forEachColumn(x, x, stride: d) { _, c, _ in ss += c * c }
    return (1 / (ss / Float(d) + eps).squareRoot()).lanes
}

/// The lanes of the row statistics: one row (`Float`) or eight (`F8`).
private protocol NormLanes {
    static var zero: Self { get }
    static func += (a: inout Self, b: Self)
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    static func * (a: Self, b: Float) -> Self
    static func / (a: Self, b: Float) -> Self
    static func + (a: Self, b: Float) -> Self
    static func / (a: Float, b: Self) -> Self
    func squareRoot() -> Self
    /// As eight lanes, lane q for row q of a group: eight rows' own, or one row's in every lane.
    var lanes: F8 { get }
    /// body(j, element j of the rows at a, element j of the rows at b) for j in 0..<d, in order
    /// (one row, or eight rows `d` apart).
    static func forEachColumn(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, stride d: Int,
                              _ body: (Int, Self, Self) -> Void)
}

extension Float: NormLanes {
    var lanes: F8 { F8(repeating: self) }

    @inline(__always)
    static func forEachColumn(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, stride d: Int,
                              _ body: (Int, Float, Float) -> Void) {
        for j in 0..<d { body(j, a[j], b[j]) }
    }
}

extension SIMD8: NormLanes where Scalar == Float {
    var lanes: F8 { self }

    @inline(__always)
    static func forEachColumn(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, stride d: Int,
                              _ body: (Int, F8, F8) -> Void) {
        var j = 0
        while j + 8 <= d {
            let ca = columns8(a + j, stride: d)
            // The same rows twice (a single-input statistic) need one transpose.
            let cb = b == a ? ca : columns8(b + j, stride: d)
            body(j, ca.0, cb.0); body(j + 1, ca.1, cb.1); body(j + 2, ca.2, cb.2); body(j + 3, ca.3, cb.3)
            body(j + 4, ca.4, cb.4); body(j + 5, ca.5, cb.5); body(j + 6, ca.6, cb.6); body(j + 7, ca.7, cb.7)
            j += 8
        }
        while j < d { body(j, column8(a, stride: d, j), column8(b, stride: d, j)); j += 1 }
    }
}

/// Calls body(first row, rows) for consecutive groups: eight rows while eight remain, then one.
@inline(__always)
private func rowGroups(_ n: Int, _ body: (Int, Int) -> Void) {
    var r = 0
    while r < n {
        let q = n - r >= 8 ? 8 : 1
        body(r, q)
        r += q
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
    rowGroups(n) { r0, q in
        let s = q == 8 ? layerNormStatistics(x + r0 * d, dim: d, eps: eps, F8.self)
            : layerNormStatistics(x + r0 * d, dim: d, eps: eps, Float.self)
        for k in 0..<q {
            let r = r0 + k, mean = s.mean[k], rstd = s.rstd[k]
            let xr = x + r * d, yr = y + r * d
            saveMean?[r] = mean
            saveRstd?[r] = rstd
            switch (w, b) {
            case let (w?, b?): for j in 0..<d { yr[j] = (xr[j] - mean) * rstd * w[j] + b[j] }
            case let (w?, nil): for j in 0..<d { yr[j] = (xr[j] - mean) * rstd * w[j] }
            default: for j in 0..<d { yr[j] = (xr[j] - mean) * rstd }
            }
        }
    }
}

/// RMSNorm: y = x / sqrt(mean(x²) + eps) · (w + weightOffset).
@inline(__always)
func rmsNormForward(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows n: Int, dim d: Int,
    weight w: UnsafePointer<Float>, weightOffset: Float = 0, eps: Float, saveRstd: UnsafeMutablePointer<Float>? = nil
) {
    rowGroups(n) { r0, q in
        let rstds = q == 8 ? rmsNormStatistics(x + r0 * d, dim: d, eps: eps, F8.self)
            : rmsNormStatistics(x + r0 * d, dim: d, eps: eps, Float.self)
        for k in 0..<q {
            let r = r0 + k, rstd = rstds[k]
            let xr = x + r * d, yr = y + r * d
            saveRstd?[r] = rstd
            if weightOffset == 0 {
                for j in 0..<d { yr[j] = xr[j] * rstd * w[j] }
            } else {
                for j in 0..<d { yr[j] = xr[j] * rstd * (w[j] + weightOffset) }
            }
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
    let invD = 1 / Float(d)
    // Σ_j dx̂ and Σ_j dx̂·x̂ of a group of rows, dx̂_j = dy_j·scale(j); one loop per weight case
    // (a weight tested inside the loop became a masked load of the absent weight, which on AMD
    // costs a microcode assist per vector: 3 % of the tiny run's CPU time, by perf on AMD EPYC).
    @inline(__always) func scaledSums<T: NormLanes>(_ r: Int, _ load: (UnsafePointer<Float>) -> T,
                                                    _ scale: (T, Int) -> T) -> (g: F8, gx: F8) {
        let xr = x + r * d, dyr = dy + r * d
        let mu: T = isRMS ? .zero : load(mean + r), rs = load(rstd + r)
        var sumG = T.zero, sumGX = T.zero
        T.forEachColumn(xr, dyr, stride: d) { j, xc, dyc in
            let xh = (xc - mu) * rs
            let g = scale(dyc, j)
            sumG += g
            sumGX += g * xh
        }
        return (sumG.lanes, sumGX.lanes)
    }
    @inline(__always) func sums<T: NormLanes>(_ r: Int, _ load: (UnsafePointer<Float>) -> T) -> (g: F8, gx: F8) {
        guard let w else { return scaledSums(r, load) { g, _ in g } }
        return off == 0 ? scaledSums(r, load) { g, j in g * w[j] } : scaledSums(r, load) { g, j in g * (w[j] + off) }
    }
    rowGroups(rows) { r0, q in
        let s = q == 8 ? sums(r0) { load8($0) } : sums(r0) { $0[0] }
        for k in 0..<q {
            let r = r0 + k
            let xr = x + r * d, dyr = dy + r * d, dxr = dx + r * d
            let mu: Float = isRMS ? 0 : mean[r]
            let rs = rstd[r]
            if let dw { for j in 0..<d { dw[j] += dyr[j] * ((xr[j] - mu) * rs) } }
            if let db { for j in 0..<d { db[j] += dyr[j] } }
            let sumG = s.g[k], sumGX = s.gx[k]
            let mG = isRMS ? 0 : sumG * invD
            let mGX = sumGX * invD
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
}
