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
// Goto & van de Geijn (2008): B is packed in KC × NR panels, A in MR × KC panels (or read in
// place for a narrow C), and the register tile of MR × NR accumulators is stored to C between k-blocks,
// which rounds nothing.

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

/// One worker's share: C[rows, cols], the Goto loop nest jc → pc → ic → jr → ir. A is packed
/// per block, or read in place (its rows, or columns when transposed, are the register tile's
/// broadcast streams) when C is narrow.
private func gemmBlock(
    transA: Bool, transB: Bool, rows: Range<Int>, cols: Range<Int>, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    loadC: Bool, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    let ncMax = min(gemmNC, roundUp(cols.count, gemmNR))
    let mcMax = min(gemmMC, roundUp(rows.count, gemmMR))
    let kcMax = min(gemmKC, k)
    // 64-byte aligned: each k step of a B panel is one cache line, so its two SIMD8 loads never
    // straddle two lines.
    let packedB = UnsafeMutableRawPointer.allocate(byteCount: kcMax * ncMax * 4, alignment: 64)
        .bindMemory(to: Float.self, capacity: kcMax * ncMax)
    // Packing A costs one pass over its block and pays off when the block is reused across
    // several column panels (its rows are then contiguous, with no cache-set conflicts between
    // rows a power of two apart); α ≠ 1 is applied while packing.
    let packsA = alpha != 1 || cols.count > 4 * gemmNR
    let packedA: UnsafeMutablePointer<Float>? = packsA ? .allocate(capacity: kcMax * mcMax) : nil
    defer { packedB.deallocate(); packedA?.deallocate() }
    // Element (i, kk) of A's block is at base + i·rowStride + kk·kStride.
    let rowStride = transA ? 1 : lda, kStride = transA ? lda : 1
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
                if let packedA {
                    packA(transA: transA, a: a, lda: lda, i0: ic, mc: mc, k0: pc, kc: kc, alpha: alpha, into: packedA)
                }
                var jr = 0
                while jr < nc {
                    let nr = min(gemmNR, nc - jr)
                    var ir = 0
                    while ir < mc {
                        let mr = min(gemmMR, mc - ir)
                        let panel = packedA.map { APanel(base: UnsafePointer($0) + ir * kc, rowStride: 1, kStride: gemmMR, rows: mr) }
                            ?? APanel(base: a + (ic + ir) * rowStride + pc * kStride, rowStride: rowStride, kStride: kStride, rows: mr)
                        microTile(kc: kc, a: panel, b: packedB + jr * kc,
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

/// Up to MR rows of A over one k-block: element (r, kk) at base + r·rowStride + kk·kStride.
struct APanel {
    let base: UnsafePointer<Float>
    let rowStride: Int, kStride: Int
    /// Valid rows (≤ MR); the register tile's other rows repeat the last one and are discarded.
    let rows: Int

    @inline(__always) func row(_ r: Int) -> UnsafePointer<Float> { base + min(r, rows - 1) * rowStride }
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
                if w == gemmNR {
                    UnsafeMutableRawPointer(out).storeBytes(of: UnsafeRawPointer(src).loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                } else {
                    for jj in 0..<w { out[jj] = src[jj] }
                    for jj in w..<gemmNR { out[jj] = 0 }
                }
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
            let src = a + (i0 + p) * lda + k0
            for kk in 0..<kc {
                let out = panel + kk * gemmMR
                if alpha == 1 {
                    for ii in 0..<h { out[ii] = src[ii * lda + kk] }
                } else {
                    for ii in 0..<h { out[ii] = alpha * src[ii * lda + kk] }
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

/// C[0..<rows, 0..<cols] (+)= A · Bpanel over kc, through a full MR × NR register tile.
/// Edge tiles go through a local buffer so no element outside C is read or written.
@inline(__always)
private func microTile(
    kc: Int, a: APanel, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int, accumulate: Bool
) {
    if rows == gemmMR && cols == gemmNR {
        microKernel(kc: kc, a: a, b: b, c: c, ldc: ldc, accumulate: accumulate)
        return
    }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: gemmMR * gemmNR) { tile in
        guard let t = tile.baseAddress else { return }
        for i in 0..<(gemmMR * gemmNR) { t[i] = 0 }
        if accumulate {
            for i in 0..<rows { for j in 0..<cols { t[i * gemmNR + j] = c[i * ldc + j] } }
        }
        microKernel(kc: kc, a: a, b: b, c: t, ldc: gemmNR, accumulate: accumulate)
        for i in 0..<rows { for j in 0..<cols { c[i * ldc + j] = t[i * gemmNR + j] } }
    }
}

/// The 6 × 16 register tile: 12 SIMD8 accumulators, one fused multiply-add chain per element.
/// Never inlined: compiled on its own, the accumulators stay in registers.
@inline(never)
private func microKernel(
    kc: Int, a: APanel, b: UnsafePointer<Float>,
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
    let a0 = a.row(0), a1 = a.row(1), a2 = a.row(2), a3 = a.row(3), a4 = a.row(4), a5 = a.row(5)
    let ks = a.kStride
    var o = 0, bp = b
    for _ in 0..<kc {
        let b0 = load(bp), b1 = load(bp + 8)
        var x = V(repeating: a0[o])
        c00 = c00.addingProduct(x, b0); c01 = c01.addingProduct(x, b1)
        x = V(repeating: a1[o])
        c10 = c10.addingProduct(x, b0); c11 = c11.addingProduct(x, b1)
        x = V(repeating: a2[o])
        c20 = c20.addingProduct(x, b0); c21 = c21.addingProduct(x, b1)
        x = V(repeating: a3[o])
        c30 = c30.addingProduct(x, b0); c31 = c31.addingProduct(x, b1)
        x = V(repeating: a4[o])
        c40 = c40.addingProduct(x, b0); c41 = c41.addingProduct(x, b1)
        x = V(repeating: a5[o])
        c50 = c50.addingProduct(x, b0); c51 = c51.addingProduct(x, b1)
        // Wrapping adds: o < kc·ks and bp stays inside the packed panel, so neither can
        // overflow, and an overflow check in this loop costs the accumulators their registers.
        o &+= ks; bp += gemmNR
    }
    store(c00, c); store(c01, c + 8)
    store(c10, c + ldc); store(c11, c + ldc + 8)
    store(c20, c + 2 * ldc); store(c21, c + 2 * ldc + 8)
    store(c30, c + 3 * ldc); store(c31, c + 3 * ldc + 8)
    store(c40, c + 4 * ldc); store(c41, c + 4 * ldc + 8)
    store(c50, c + 5 * ldc); store(c51, c + 5 * ldc + 8)
}
