import Dispatch

// MARK: A matrix product whose rounding ke fixes
//
// OpenBLAS picks a kernel per CPU (Haswell, Zen, SkylakeX, Sandybridge, …) and each kernel
// blocks and accumulates the k-sum differently, so the same product rounds differently on
// different machines. This kernel fixes the order instead: every element of C is one chain of
// fused multiply-adds,
//
//     acc = β·C[i,j]   (0 when β = 0)
//     acc = fma(α·A[i,k], B[k,j], acc)   for k = 0, 1, …, K−1, in that order
//     C[i,j] = acc
//
// The chain depends on nothing but row i of A, column j of B and K: not on the blocking, the
// thread count, the tile an element falls in, the other rows of the call (so splitting a batch
// into row blocks, or a weight matrix into column tiles, gives the same bits), nor on the CPU.
// SIMD8 lanes are independent elements, and `addingProduct` is an IEEE fused multiply-add on
// every machine (one vfmadd instruction with AVX2+FMA, `fmaf` without). Blocking follows
// Goto & van de Geijn (2008): B is packed in KC × NR panels, A in MR × KC panels, and the
// register tile of MR × NR accumulators is stored to C between k-blocks, which rounds nothing.

/// Rows of C in one register tile.
let gemmMR = 6
/// Columns of C in one register tile (two SIMD8 vectors).
let gemmNR = 16
/// Depth of one k-block (a packed B panel of KC × NR floats is 16 KB, within L1).
let gemmKC = 256
/// Rows of A packed at once (MC × KC floats = 144 KB, within L2).
let gemmMC = 144
/// Columns of B packed at once (KC × NC floats = 4 MB at most).
let gemmNC = 4096

/// C[m,n] = α·op(A)·op(B) + β·C in ke's fixed summation order (see above). Row-major;
/// `transA`: A is stored [k, m]; `transB`: B is stored [n, k]. Splits the columns (or, for a
/// narrow C, the rows) of C across `threads` workers; the bits never depend on that split.
func fixedOrderGEMM(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int
) {
    if m <= 0 || n <= 0 { return }
    if beta != 0 && beta != 1 {
        for i in 0..<m { let row = c + i * ldc; for j in 0..<n { row[j] *= beta } }
    }
    if k <= 0 {
        if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    let loadC = beta != 0
    // Enough work per worker to pay for a thread hand-off (≈ 2 MFLOP).
    let workers = max(1, min(threads, (2 * m * n * k) / 2_000_000))
    let colTiles = (n + gemmNR - 1) / gemmNR, rowTiles = (m + gemmMR - 1) / gemmMR
    if workers <= 1 {
        gemmBlock(transA: transA, transB: transB, rows: 0..<m, cols: 0..<n, k: k, alpha: alpha,
                  a: a, lda: lda, b: b, ldb: ldb, loadC: loadC, c: c, ldc: ldc)
        return
    }
    let splitColumns = colTiles >= workers * 2 || colTiles >= rowTiles
    let tiles = splitColumns ? colTiles : rowTiles
    let tile = splitColumns ? gemmNR : gemmMR
    let per = (tiles + workers - 1) / workers
    let box = UncheckedBox((a, b, c))
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let (a, b, c) = box.value
        let lo = w * per * tile
        if splitColumns {
            let hi = min(n, lo + per * tile)
            if lo < hi {
                gemmBlock(transA: transA, transB: transB, rows: 0..<m, cols: lo..<hi, k: k, alpha: alpha,
                          a: a, lda: lda, b: b, ldb: ldb, loadC: loadC, c: c, ldc: ldc)
            }
        } else {
            let hi = min(m, lo + per * tile)
            if lo < hi {
                gemmBlock(transA: transA, transB: transB, rows: lo..<hi, cols: 0..<n, k: k, alpha: alpha,
                          a: a, lda: lda, b: b, ldb: ldb, loadC: loadC, c: c, ldc: ldc)
            }
        }
    }
}

// MARK: Blocking and packing

/// One worker's share: C[rows, cols], the Goto loop nest jc → pc → ic → jr → ir.
private func gemmBlock(
    transA: Bool, transB: Bool, rows: Range<Int>, cols: Range<Int>, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    loadC: Bool, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    let ncMax = min(gemmNC, roundUp(cols.count, gemmNR))
    let mcMax = min(gemmMC, roundUp(rows.count, gemmMR))
    let kcMax = min(gemmKC, k)
    let packedB = UnsafeMutablePointer<Float>.allocate(capacity: kcMax * ncMax)
    let packedA = UnsafeMutablePointer<Float>.allocate(capacity: kcMax * mcMax)
    defer { packedB.deallocate(); packedA.deallocate() }
    var jc = cols.lowerBound
    while jc < cols.upperBound {
        let nc = min(gemmNC, cols.upperBound - jc)
        var pc = 0
        while pc < k {
            let kc = min(gemmKC, k - pc)
            packB(transB: transB, b: b, ldb: ldb, k0: pc, kc: kc, j0: jc, nc: nc, into: packedB)
            let accumulate = loadC || pc > 0
            var ic = rows.lowerBound
            while ic < rows.upperBound {
                let mc = min(gemmMC, rows.upperBound - ic)
                packA(transA: transA, a: a, lda: lda, i0: ic, mc: mc, k0: pc, kc: kc, alpha: alpha, into: packedA)
                var jr = 0
                while jr < nc {
                    let nr = min(gemmNR, nc - jr)
                    var ir = 0
                    while ir < mc {
                        let mr = min(gemmMR, mc - ir)
                        microTile(kc: kc, a: packedA + ir * kc, b: packedB + jr * kc,
                                  c: c + (ic + ir) * ldc + jc + jr, ldc: ldc, rows: mr, cols: nr,
                                  accumulate: accumulate)
                        ir += gemmMR
                    }
                    jr += gemmNR
                }
                ic += gemmMC
            }
            pc += gemmKC
        }
        jc += gemmNC
    }
}

@inline(__always)
private func roundUp(_ x: Int, _ to: Int) -> Int { (x + to - 1) / to * to }

/// Packs B[k0..<k0+kc, j0..<j0+nc] as panels of NR columns, each kc × NR floats (k-major),
/// zero-padded past column nc.
private func packB(
    transB: Bool, b: UnsafePointer<Float>, ldb: Int, k0: Int, kc: Int, j0: Int, nc: Int,
    into dst: UnsafeMutablePointer<Float>
) {
    var p = 0
    while p < nc {
        let w = min(gemmNR, nc - p)
        let panel = dst + p * kc
        if !transB {
            for kk in 0..<kc {
                let src = b + (k0 + kk) * ldb + j0 + p, out = panel + kk * gemmNR
                out.update(from: src, count: w)
                if w < gemmNR { (out + w).update(repeating: 0, count: gemmNR - w) }
            }
        } else {
            if w < gemmNR { panel.update(repeating: 0, count: kc * gemmNR) }
            let src = b + (j0 + p) * ldb + k0
            for kk in 0..<kc {
                let out = panel + kk * gemmNR
                for jj in 0..<w { out[jj] = src[jj * ldb + kk] }
            }
        }
        p += gemmNR
    }
}

/// Packs α·A[i0..<i0+mc, k0..<k0+kc] as panels of MR rows, each kc × MR floats (k-major),
/// zero-padded past row mc.
private func packA(
    transA: Bool, a: UnsafePointer<Float>, lda: Int, i0: Int, mc: Int, k0: Int, kc: Int,
    alpha: Float, into dst: UnsafeMutablePointer<Float>
) {
    var p = 0
    while p < mc {
        let h = min(gemmMR, mc - p)
        let panel = dst + p * kc
        if h < gemmMR { panel.update(repeating: 0, count: kc * gemmMR) }
        if !transA {
            for ii in 0..<h {
                let src = a + (i0 + p + ii) * lda + k0
                if alpha == 1 {
                    for kk in 0..<kc { panel[kk * gemmMR + ii] = src[kk] }
                } else {
                    for kk in 0..<kc { panel[kk * gemmMR + ii] = alpha * src[kk] }
                }
            }
        } else {
            for kk in 0..<kc {
                let src = a + (k0 + kk) * lda + i0 + p, out = panel + kk * gemmMR
                if alpha == 1 {
                    for ii in 0..<h { out[ii] = src[ii] }
                } else {
                    for ii in 0..<h { out[ii] = alpha * src[ii] }
                }
            }
        }
        p += gemmMR
    }
}

// MARK: Register tile

/// C[0..<rows, 0..<cols] (+)= Apanel · Bpanel over kc, through a full MR × NR register tile.
/// Edge tiles go through a local buffer so no element outside C is read or written.
@inline(__always)
private func microTile(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int, accumulate: Bool
) {
    if rows == gemmMR && cols == gemmNR {
        microKernel(kc: kc, a: a, b: b, c: c, ldc: ldc, accumulate: accumulate)
        return
    }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: gemmMR * gemmNR) { tile in
        guard let t = tile.baseAddress else { return }
        t.update(repeating: 0, count: gemmMR * gemmNR)
        if accumulate {
            for i in 0..<rows { (t + i * gemmNR).update(from: c + i * ldc, count: cols) }
        }
        microKernel(kc: kc, a: a, b: b, c: t, ldc: gemmNR, accumulate: accumulate)
        for i in 0..<rows { (c + i * ldc).update(from: t + i * gemmNR, count: cols) }
    }
}

/// The 6 × 16 register tile: 12 SIMD8 accumulators, one fused multiply-add chain per element.
@inline(__always)
private func microKernel(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    typealias V = SIMD8<Float>
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }
    @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
    var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
    if accumulate {
        c00 = load(c); c01 = load(c + 8)
        c10 = load(c + ldc); c11 = load(c + ldc + 8)
        c20 = load(c + 2 * ldc); c21 = load(c + 2 * ldc + 8)
        c30 = load(c + 3 * ldc); c31 = load(c + 3 * ldc + 8)
        c40 = load(c + 4 * ldc); c41 = load(c + 4 * ldc + 8)
        c50 = load(c + 5 * ldc); c51 = load(c + 5 * ldc + 8)
    }
    var ap = a, bp = b
    for _ in 0..<kc {
        let b0 = load(bp), b1 = load(bp + 8)
        var x = V(repeating: ap[0])
        c00 = c00.addingProduct(x, b0); c01 = c01.addingProduct(x, b1)
        x = V(repeating: ap[1])
        c10 = c10.addingProduct(x, b0); c11 = c11.addingProduct(x, b1)
        x = V(repeating: ap[2])
        c20 = c20.addingProduct(x, b0); c21 = c21.addingProduct(x, b1)
        x = V(repeating: ap[3])
        c30 = c30.addingProduct(x, b0); c31 = c31.addingProduct(x, b1)
        x = V(repeating: ap[4])
        c40 = c40.addingProduct(x, b0); c41 = c41.addingProduct(x, b1)
        x = V(repeating: ap[5])
        c50 = c50.addingProduct(x, b0); c51 = c51.addingProduct(x, b1)
        ap += gemmMR; bp += gemmNR
    }
    store(c00, c); store(c01, c + 8)
    store(c10, c + ldc); store(c11, c + ldc + 8)
    store(c20, c + 2 * ldc); store(c21, c + 2 * ldc + 8)
    store(c30, c + 3 * ldc); store(c31, c + 3 * ldc + 8)
    store(c40, c + 4 * ldc); store(c41, c + 4 * ldc + 8)
    store(c50, c + 5 * ldc); store(c51, c + 5 * ldc + 8)
}
