// MARK: How one product is split between workers
//
// `fixedOrderGEMM` (GEMM.swift) hands each worker a range of C. Which range, and whether the
// workers share one packed B block, never changes a bit: each element's chain is computed by
// one worker, k-block after k-block. The workers run on ke's pool (`Sources/CKernels/pool.c`).

import CKernels
import Foundation

/// How `fixedOrderGEMM` splits one product between workers; the bits never depend on it.
enum GEMMSplit: String {
    /// Each worker takes a range of C's columns (or, for a narrow C, rows) and packs its own B
    /// and the whole of A: no barrier, twice the packing of A.
    case own
    /// The workers pack one B block together (each a share of its panels), meet at a barrier,
    /// then each computes a range of C's rows against the shared block: B is packed once.
    case rowsSharingB = "rows"
}

/// A split every product uses when set: `KE_GEMM_SPLIT=own|rows` (for measurements), or a test.
nonisolated(unsafe) var forcedGEMMSplit: GEMMSplit? = getenv("KE_GEMM_SPLIT").flatMap { GEMMSplit(rawValue: String(cString: $0)) }

/// The split for an m × n product on `workers` workers: `.own` unless forced. Measured on the
/// AMD EPYC (2 workers, alternating rounds against OpenBLAS, machine partly loaded), sharing B
/// lost at a large k (256 × 512 × 2048: 0.87 of OpenBLAS against 0.97; 1B MLP down-projection
/// 0.82 against 0.92; 512³ 0.96 against 1.02): a barrier per k-block, and half of each B block
/// comes from the other core's cache.
func gemmSplit(_ kernel: GEMMMicroKernel, m: Int, n: Int, workers: Int) -> GEMMSplit {
    forcedGEMMSplit ?? .own
}

/// `fixedOrderGEMM` with the `.rowsSharingB` split on `workers` pool workers. False (nothing
/// computed) when the pool is busy.
func gemmRowsSharingB(
    _ kernel: GEMMMicroKernel, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    loadC: Bool, c: UnsafeMutablePointer<Float>, ldc: Int, workers: Int
) -> Bool {
    let MR = kernel.mr, NR = kernel.nr, KC = kernel.kc, NC = kernel.nc
    let ncMax = min(NC, roundUp(n, NR)), kcMax = min(KC, k)
    // Two B blocks: while a worker packs block t + 1 into one, no worker still reads it (each
    // passed the barrier after block t's packing, so finished block t − 1's products).
    let blockFloats = kcMax * ncMax
    let packedB = UnsafeMutableRawPointer.allocate(byteCount: 2 * blockFloats * 4, alignment: 64)
        .bindMemory(to: Float.self, capacity: 2 * blockFloats)
    defer { packedB.deallocate() }
    let rowTiles = (m + MR - 1) / MR, per = (rowTiles + workers - 1) / workers
    let bKStride = transB ? 1 : ldb, bColStride = transB ? ldb : 1
    let box = UncheckedBox((a, b, c, packedB))
    return onPoolWorkers(workers) { w, workers in
        let (a, b, c, packedB) = box.value
        let rows = min(m, w * per * MR)..<min(m, (w + 1) * per * MR)
        let blocks = BlockWorkspace(kernel, transA: transA, rows: rows.count, cols: n, k: k, alpha: alpha)
        defer { blocks.deallocate() }
        var t = 0, jc = 0
        while jc < n {
            let nc = min(NC, n - jc)
            let panels = (nc + NR - 1) / NR, share = (panels + workers - 1) / workers
            var pc = 0
            while pc < k {
                let kc = min(KC, k - pc)
                let block = packedB + (t & 1) * blockFloats
                let p0 = min(panels, w * share), p1 = min(panels, p0 + share)
                if p0 < p1 {
                    ke_pack_b(b, bKStride, bColStride, pc, kc, jc + p0 * NR, min(nc, p1 * NR) - p0 * NR, NR, block + p0 * NR * kc)
                }
                ke_pool_barrier(workers)
                if !rows.isEmpty {
                    blockProducts(kernel, transA: transA, rows: rows, jc: jc, nc: nc, pc: pc, kc: kc, alpha: alpha,
                                  a: a, lda: lda, packedB: block, packedA: blocks.packedA,
                                  accumulate: loadC || pc > 0, c: c, ldc: ldc)
                }
                t += 1
                pc += KC
            }
            jc += NC
        }
    }
}

/// Runs `body(w, workers)` for every w in 0..<workers at once on ke's worker pool (`ke_pool_run`:
/// w = 0 on this thread; the helpers spin briefly after a task before sleeping, so back-to-back
/// products hand off in microseconds). False, with nothing run, when the pool is busy.
func onPoolWorkers(_ workers: Int, _ body: (Int, Int) -> Void) -> Bool {
    withoutActuallyEscaping(body) { body in
        var task = body
        return withUnsafeMutablePointer(to: &task) { p in
            ke_pool_run(workers, { ctx, w, workers in
                ctx!.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee(w, workers)
            }, p) != 0
        }
    }
}
