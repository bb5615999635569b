import CKernels
import Foundation

// MARK: B packed once, for a product whose B never changes
//
// `gemmBlock` (GEMM.swift) packs B into KC × NR panels (`ke_pack_b`) for every (jc, pc) block of
// every call. When B is a weight that stays constant across many products (an inference pass
// over a whole corpus), the same panels are made again for every batch. `PackedPanels` holds
// them made once, in the exact layout `ke_pack_b` gives each block, so the kernel reads the
// same floats (copies of B's bits) in the same order: every element's fma chain is unchanged.
//
// Layout for B = op(B) [k, n] and a tile with NR columns and KC-deep k-blocks: the k-blocks
// follow each other (block pc holds min(KC, k − pc) rows of k), and inside a block the panels of
// NR columns follow each other, each kc × NR floats k-major, the last zero past column n:
//
//     panel of columns j ..< j + NR (j a multiple of NR) in k-block pc:  pc · roundUp(n, NR) + j · kc
//
// A `ke_pack_b` block (jc, nc) at pc is the same floats from jc · kc on, since its panels are
// consecutive with the same stride (its last panel is zero past nc, where the whole matrix's
// holds the next columns; those lanes of the register tile are discarded either way).

/// The panels of one constant B [k, n] for one register tile, made once (see above). Immutable
/// after `init`; freed with the last reference.
final class PackedPanels: @unchecked Sendable {
    /// The register tile whose NR and KC the panels follow.
    let tile: GEMMMicroKernel
    /// Depth k and width n of op(B).
    let k: Int, n: Int
    /// n rounded up to whole panels of NR columns.
    let paddedColumns: Int
    private let floats: UnsafeMutablePointer<Float>

    /// Floats held: k · roundUp(n, NR).
    var count: Int { k * paddedColumns }

    /// Floats the panels of a [k, n] op(B) hold for `tile`: k · roundUp(n, NR).
    static func count(tile: GEMMMicroKernel, k: Int, n: Int) -> Int { k * roundUp(n, tile.nr) }

    /// Packs op(B) [k, n] for `tile`: B stored [k, n] (`transB` false, row stride `ldb`) or
    /// [n, k] (`transB` true), as the `sgemm` taking it would read it. k, n ≥ 1. The panels of
    /// each k-block are packed on every core in disjoint column ranges (copies: the split
    /// changes no bit).
    init(tile: GEMMMicroKernel, transB: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int) {
        precondition(k >= 1 && n >= 1, "PackedPanels needs k, n ≥ 1")
        let NR = tile.nr, KC = tile.kc
        self.tile = tile
        self.k = k
        self.n = n
        paddedColumns = roundUp(n, NR)
        floats = UnsafeMutableRawPointer.allocate(byteCount: k * paddedColumns * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: k * paddedColumns)
        let kStride = transB ? 1 : ldb, colStride = transB ? ldb : 1
        let panels = paddedColumns / NR, dst = floats, padded = paddedColumns
        var pc = 0
        while pc < k {
            let kc = min(KC, k - pc), p0 = pc
            parallelRanges(panels, minChunk: 16) { r in
                let j0 = r.lowerBound * NR, j1 = min(n, r.upperBound * NR)
                ke_pack_b(b, kStride, colStride, p0, kc, j0, j1 - j0, NR, dst + p0 * padded + j0 * kc)
            }
            pc += KC
        }
    }

    deinit { floats.deallocate() }

    /// The packed block of k-block `pc` (a multiple of KC) from column `j` (a multiple of NR) on:
    /// what `ke_pack_b` writes for a block starting at column j.
    @inline(__always)
    func block(pc: Int, column j: Int) -> UnsafePointer<Float> {
        UnsafePointer(floats + pc * paddedColumns + j * min(tile.kc, k - pc))
    }
}

/// Columns `first ..< first + columns` of a matrix's `PackedPanels`: the B of one product (the
/// whole matrix, or a tile of it such as a range of the vocabulary).
struct PackedB {
    let panels: PackedPanels
    /// First column of the product's B in the packed matrix.
    let first: Int
    /// Width n of the product's B.
    let columns: Int

    init(_ panels: PackedPanels, first: Int = 0, columns: Int? = nil) {
        self.panels = panels
        self.first = first
        self.columns = columns ?? panels.n - first
    }

    /// True when these panels are what `kernel` would pack for a product of depth `k` and width
    /// `n`: the same tile, the same depth, the columns inside the matrix, starting on a panel.
    func serves(_ kernel: GEMMMicroKernel, k: Int, n: Int) -> Bool {
        panels.tile == kernel && panels.k == k && n == columns && first >= 0 && first % kernel.nr == 0
            && first + n <= panels.n
    }

    /// The packed block of k-block `pc` from the product's column `j` (a multiple of NR) on.
    @inline(__always)
    func block(pc: Int, column j: Int) -> UnsafePointer<Float> { panels.block(pc: pc, column: first + j) }
}
