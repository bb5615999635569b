import CKernels
import Dispatch
import Foundation

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
// Vector lanes (8 floats in AVX2, 16 in AVX-512) are independent elements, and every fused
// multiply-add is IEEE's on every machine (one vfmadd instruction, or `fmaf` without FMA). Blocking follows
// Goto & van de Geijn (2008): B is packed in KC × NR panels, A in MR × KC panels (or read in
// place for a narrow C), and the register tile of MR × NR accumulators is stored to C between k-blocks,
// which rounds nothing. A constant B (a model's weight in an inference pass) can come packed
// once (`PackedPanels`, PackedPanels.swift): the same floats in the same panels.

// MARK: Register tiles
//
// Three register tiles compute the same chains: a 6 × 64 tile of AVX-512 registers (24 zmm
// accumulators, C target CKernels), a 6 × 16 tile of AVX2 registers (12 ymm accumulators, C) and
// the portable 6 × 16 tile in Swift below (SIMD8, `fmaf` where the CPU lacks FMA). A wider tile
// computes more elements at once; each element's chain is unchanged, so all three give the same
// bits (GEMMTests compares them on this machine). The widest one the CPU runs is chosen once;
// `KE_GEMM_TILE=avx512|avx2|swift` forces one (a tile the CPU cannot run falls back to the best
// that it can).

/// A register tile of the fixed-order kernel, with the blocking that suits it.
public enum GEMMMicroKernel: String, Sendable, CaseIterable {
    /// 6 × 64 floats in 24 AVX-512 registers (C, `_mm512_fmadd_ps`). Six rows of C: at a leading
    /// dimension of 1024 or 2048 floats every row of the tile maps to the same L1 set, and twelve
    /// rows (a 12 × 32 tile) overflowed its 8 ways.
    case avx512
    /// 6 × 16 floats in 12 AVX2 registers (C, `_mm256_fmadd_ps`).
    case avx2
    /// 6 × 16 floats in 12 Swift SIMD8 values: any CPU.
    case swift

    /// Rows of C in one register tile.
    var mr: Int { 6 }
    /// Columns of C in one register tile.
    var nr: Int { self == .avx512 ? 64 : 16 }
    /// Depth of one k-block. The C tile is loaded and stored once per k-block, so a deeper block
    /// costs fewer C round trips; the packed B panel (KC × NR floats, 128 KB for the C tiles)
    /// then streams from L2. Chosen by measurement on an AMD EPYC (Zen 4): 512 beat 128, 256,
    /// 384, 768 and 1024 for the C tiles.
    var kc: Int { self == .swift ? 256 : 512 }
    /// Rows of A packed at once (MC × KC floats = 192 KB for the C tiles, within L2).
    var mc: Int { self == .swift ? 144 : 96 }
    /// Columns of B packed at once (KC × NC floats, 2–4 MB at most).
    var nc: Int { 4096 }

    /// True when this CPU runs the tile.
    public var isSupported: Bool {
        switch self {
        case .avx512: return ke_cpu_has_avx512() != 0
        case .avx2: return ke_cpu_has_avx2_fma() != 0
        case .swift: return true
        }
    }

    /// What `ke --doctor` prints.
    public var summary: String {
        switch self {
        case .avx512: return "AVX-512 6×64 register tile"
        case .avx2: return "AVX2 6×16 register tile"
        case .swift: return "portable Swift 6×16 register tile"
        }
    }

    /// The widest tile this CPU runs, or `KE_GEMM_TILE` when set and supported.
    static let preferred: GEMMMicroKernel = {
        if let v = getenv("KE_GEMM_TILE"), let k = GEMMMicroKernel(rawValue: String(cString: v)), k.isSupported { return k }
        return allCases.first(where: \.isSupported) ?? .swift
    }()
}

/// The register tile the fixed-order kernel uses (see `GEMMMicroKernel`); same bits whichever.
nonisolated(unsafe) public var gemmMicroKernel: GEMMMicroKernel = GEMMMicroKernel.preferred

/// C[m,n] = α·op(A)·op(B) + β·C in ke's fixed summation order (see above). Row-major;
/// `transA`: A is stored [k, m]; `transB`: B is stored [n, k]. With ≥ 2 MFLOP per worker, splits
/// the work across `threads` workers of ke's pool (`onPoolWorkers`): by rows of C against one
/// B block packed by all workers together (`GEMMSplit.rowsSharingB`, when forced), or by columns
/// (or, for a narrow C, rows) with each worker packing its own blocks (`.own`, the default). The bits never depend on the split, the thread count, nor `tile`:
/// each element's chain is computed by one worker, k-block after k-block.
///
/// `packedB`: op(B) already packed for this product (`PackedPanels`, a constant weight); used
/// when it `serves` the tile, k and n, else B is packed as usual. Its floats are the ones packing
/// would make, so the bits are the same either way.
func fixedOrderGEMM(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int,
    tile kernel: GEMMMicroKernel = gemmMicroKernel, packedB: PackedB? = nil
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
    let pre = packedB.flatMap { $0.serves(kernel, k: k, n: n) ? $0 : nil }
    // Enough work per worker to pay for a thread hand-off (≈ 2 MFLOP).
    let workers = max(1, min(threads, (2 * m * n * k) / 2_000_000))
    let colTiles = (n + kernel.nr - 1) / kernel.nr, rowTiles = (m + kernel.mr - 1) / kernel.mr
    if workers <= 1 {
        gemmBlock(kernel, transA: transA, transB: transB, rows: 0..<m, cols: 0..<n, k: k, alpha: alpha,
                  a: a, lda: lda, b: b, ldb: ldb, packedB: pre, loadC: loadC, c: c, ldc: ldc)
        return
    }
    let box = UncheckedBox((a, b, c))
    if pre == nil && gemmSplit(kernel, m: m, n: n, workers: workers) == .rowsSharingB {
        // One packed B for all workers (each packs a share of its panels), rows of C split.
        let ok = gemmRowsSharingB(kernel, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                  a: a, lda: lda, b: b, ldb: ldb, loadC: loadC, c: c, ldc: ldc, workers: workers)
        if ok { return }
    } else {
        let splitColumns = colTiles >= workers * 2 || colTiles >= rowTiles
        let tiles = splitColumns ? colTiles : rowTiles
        let tile = splitColumns ? kernel.nr : kernel.mr
        let per = (tiles + workers - 1) / workers
        let ok = onPoolWorkers(workers) { w, _ in
            let (a, b, c) = box.value
            let lo = w * per * tile
            if splitColumns {
                let hi = min(n, lo + per * tile)
                if lo < hi {
                    gemmBlock(kernel, transA: transA, transB: transB, rows: 0..<m, cols: lo..<hi, k: k, alpha: alpha,
                              a: a, lda: lda, b: b, ldb: ldb, packedB: pre, loadC: loadC, c: c, ldc: ldc)
                }
            } else {
                let hi = min(m, lo + per * tile)
                if lo < hi {
                    gemmBlock(kernel, transA: transA, transB: transB, rows: lo..<hi, cols: 0..<n, k: k, alpha: alpha,
                              a: a, lda: lda, b: b, ldb: ldb, packedB: pre, loadC: loadC, c: c, ldc: ldc)
                }
            }
        }
        if ok { return }
    }
    // The pool is busy (a product from another thread): this thread does it all, same bits.
    gemmBlock(kernel, transA: transA, transB: transB, rows: 0..<m, cols: 0..<n, k: k, alpha: alpha,
              a: a, lda: lda, b: b, ldb: ldb, packedB: pre, loadC: loadC, c: c, ldc: ldc)
}

// MARK: Blocking and packing

/// One worker's share: C[rows, cols], the Goto loop nest jc → pc → ic → jr → ir. A is packed
/// per block, or read in place (its rows, or columns when transposed, are the register tile's
/// broadcast streams) where packing would not pay (`BlockWorkspace`). B is packed in KC × NR
/// panels and A in MR × KC panels by `ke_pack_b` / `ke_pack_a` (copies; α ≠ 1 is one rounded
/// product per element of A), or B's blocks are read from `packedB` (already checked to serve
/// this product; `cols` starts on a panel, as every split hands out).
private func gemmBlock(
    _ kernel: GEMMMicroKernel, transA: Bool, transB: Bool, rows: Range<Int>, cols: Range<Int>, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, packedB pre: PackedB?,
    loadC: Bool, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    let NR = kernel.nr, KC = kernel.kc, NC = kernel.nc
    let ncMax = min(NC, roundUp(cols.count, NR))
    let kcMax = min(KC, k)
    // 64-byte aligned: each k step of a B panel is whole cache lines, so its vector loads never
    // straddle two lines.
    let source: BPanels = pre.flatMap { cols.lowerBound % NR == 0 ? .prepacked($0) : nil }
        ?? .packedHere(UnsafeMutableRawPointer.allocate(byteCount: kcMax * ncMax * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: kcMax * ncMax))
    let blocks = BlockWorkspace(kernel, transA: transA, rows: rows.count, cols: cols.count, k: k, alpha: alpha)
    defer { source.deallocate(); blocks.deallocate() }
    let bKStride = transB ? 1 : ldb, bColStride = transB ? ldb : 1
    var jc = cols.lowerBound
    while jc < cols.upperBound {
        let nc = min(NC, cols.upperBound - jc)
        var pc = 0
        while pc < k {
            let kc = min(KC, k - pc)
            let block: UnsafePointer<Float>
            switch source {
            case .prepacked(let panels):
                block = panels.block(pc: pc, column: jc)
            case .packedHere(let buffer):
                ke_pack_b(b, bKStride, bColStride, pc, kc, jc, nc, NR, buffer)
                block = UnsafePointer(buffer)
            }
            blockProducts(kernel, transA: transA, rows: rows, jc: jc, nc: nc, pc: pc, kc: kc, alpha: alpha,
                          a: a, lda: lda, packedB: block, packedA: blocks.packedA,
                          accumulate: loadC || pc > 0, c: c, ldc: ldc)
            pc += KC
        }
        jc += NC
    }
}

/// Where a worker's B blocks come from: panels packed once for a constant B, or a buffer of one
/// KC × NC block that it packs for every (jc, pc).
private enum BPanels {
    case prepacked(PackedB)
    case packedHere(UnsafeMutablePointer<Float>)

    func deallocate() { if case .packedHere(let p) = self { p.deallocate() } }
}

/// A worker's buffer for packed A blocks (MC × KC floats), when packing pays. Packing A costs one
/// pass over its block and pays off when the block is reused across several column panels and
/// its elements of one k are far apart: A stored [k, m] (`transA`, each k's MR values a stride
/// apart), or any A under the AVX2 and Swift 6 × 16 tiles. α ≠ 1 is applied while packing.
///
/// Under the AVX-512 6 × 64 tile a row-major A (its rows contiguous in k) is read in place: each
/// k costs the tile six broadcasts against 24 fused multiply-adds either way, six sequential
/// streams stay in the prefetchers' reach, and the pack's extra pass over A is saved. Measured
/// on the AMD EPYC, one thread, alternating rounds, min–max over 2 runs of 3 rounds: 1,024 × 512
/// × 50,304 (the LM head's dlogits·U) 94–95 → 105–106 GFLOP/s, 1,024 × 512 × 2,048 92–98 →
/// 103–104, 256 × 512 × 2,048 with pre-packed B 96–102 → 110; transposed A lost (2,048 × 512 ×
/// 1,024: 98–99 → 88–92) and the AVX2 tile showed no gain, so both still pack.
struct BlockWorkspace {
    let packedA: UnsafeMutablePointer<Float>?

    init(_ kernel: GEMMMicroKernel, transA: Bool, rows: Int, cols: Int, k: Int, alpha: Float) {
        let mcMax = min(kernel.mc, roundUp(rows, kernel.mr)), kcMax = min(kernel.kc, k)
        let reused = cols > 4 * kernel.nr, readInPlace = !transA && kernel == .avx512
        packedA = alpha != 1 || (reused && !readInPlace)
            ? UnsafeMutableRawPointer.allocate(byteCount: kcMax * mcMax * 4, alignment: 64)
                .bindMemory(to: Float.self, capacity: kcMax * mcMax)
            : nil
    }

    func deallocate() { packedA?.deallocate() }
}

/// C[rows, jc..<jc+nc] (+)= A[rows, pc..<pc+kc] · B-block, the loops ic → jr → ir over one packed
/// B block (`ke_pack_b`, panels of NR columns). A is packed per MC rows into `packedA` (α
/// applied) when given, else read in place (its rows, or columns when transposed, are the
/// register tile's broadcast streams).
@inline(__always)
func blockProducts(
    _ kernel: GEMMMicroKernel, transA: Bool, rows: Range<Int>, jc: Int, nc: Int, pc: Int, kc: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, packedB: UnsafePointer<Float>, packedA: UnsafeMutablePointer<Float>?,
    accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    let MR = kernel.mr, NR = kernel.nr, MC = kernel.mc
    // Element (i, kk) of A is at a + i·rowStride + kk·kStride.
    let rowStride = transA ? 1 : lda, kStride = transA ? lda : 1
    var ic = rows.lowerBound
    while ic < rows.upperBound {
        let mc = min(MC, rows.upperBound - ic)
        if let packedA {
            ke_pack_a(a, rowStride, kStride, ic, mc, pc, kc, alpha, MR, packedA)
        }
        var jr = 0
        while jr < nc {
            let nr = min(NR, nc - jr)
            var ir = 0
            while ir < mc {
                let mr = min(MR, mc - ir)
                let panel = packedA.map { APanel(base: UnsafePointer($0) + ir * kc, rowStride: 1, kStride: MR, rows: mr) }
                    ?? APanel(base: a + (ic + ir) * rowStride + pc * kStride, rowStride: rowStride, kStride: kStride, rows: mr)
                microTile(kernel, kc: kc, a: panel, b: packedB + jr * kc,
                          c: c + (ic + ir) * ldc + jc + jr, ldc: ldc, rows: mr, cols: nr,
                          accumulate: accumulate)
                ir += MR
            }
            jr += NR
        }
        ic += MC
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
func roundUp(_ x: Int, _ to: Int) -> Int { (x + to - 1) / to * to }

// MARK: Register tile

/// C[0..<rows, 0..<cols] (+)= A · Bpanel over kc, through a full MR × NR register tile. The C
/// tiles mask an edge tile's loads and stores of C themselves; the Swift tile's edge tiles go
/// through a local buffer. Either way no element outside C is read or written.
@inline(__always)
private func microTile(
    _ kernel: GEMMMicroKernel, kc: Int, a: APanel, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int, accumulate: Bool
) {
    let MR = kernel.mr, NR = kernel.nr
    switch kernel {
    case .avx512:
        ke_sgemm_tile_6x64_avx512(kc, a.base, a.rowStride, a.kStride, a.rows, cols, b, c, ldc, accumulate ? 1 : 0)
        return
    case .avx2:
        ke_sgemm_tile_6x16_avx2(kc, a.base, a.rowStride, a.kStride, a.rows, cols, b, c, ldc, accumulate ? 1 : 0)
        return
    case .swift:
        break
    }
    if rows == MR && cols == NR {
        microKernel(kc: kc, a: a, b: b, c: c, ldc: ldc, accumulate: accumulate)
        return
    }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: MR * NR) { tile in
        guard let t = tile.baseAddress else { return }
        t.update(repeating: 0, count: MR * NR)
        if accumulate {
            for i in 0..<rows { for j in 0..<cols { t[i * NR + j] = c[i * ldc + j] } }
        }
        microKernel(kc: kc, a: a, b: b, c: t, ldc: NR, accumulate: accumulate)
        for i in 0..<rows { for j in 0..<cols { c[i * ldc + j] = t[i * NR + j] } }
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
        o &+= ks; bp += 16
    }
    store(c00, c); store(c01, c + 8)
    store(c10, c + ldc); store(c11, c + ldc + 8)
    store(c20, c + 2 * ldc); store(c21, c + 2 * ldc + 8)
    store(c30, c + 3 * ldc); store(c31, c + 3 * ldc + 8)
    store(c40, c + 4 * ldc); store(c41, c + 4 * ldc + 8)
    store(c50, c + 5 * ldc); store(c51, c + 5 * ldc + 8)
}
