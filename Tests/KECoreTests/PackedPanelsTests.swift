import XCTest
import CKernels
@testable import KECore

/// Panels packed once for a constant B (`PackedPanels`) hold exactly the floats `ke_pack_b`
/// makes per block, so a product reading them gives the bits of the product packing B itself:
/// every tile, shape edge, k-block, column view, split and thread count; and a model's
/// inference pass with its panels gives the bits of the same pass without.
final class PackedPanelsTests: XCTestCase {
    var tiles: [GEMMMicroKernel] { GEMMMicroKernel.allCases.filter(\.isSupported) }

    func randoms(_ n: Int, _ rng: inout TestRNG) -> [Float] { (0..<n).map { _ in rng.uniform() * 2 - 1 } }

    /// C = α·op(A)·op(B) + β·C for B's columns `first ..< first + n` of a [k, width] matrix
    /// (stored [width, k] when `transB`), B packed by the kernel or read from `panels`.
    func product(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, first: Int, width: Int, alpha: Float, beta: Float,
                 a: [Float], b: [Float], c: [Float], threads: Int, tile: GEMMMicroKernel, panels: PackedPanels?) -> [UInt32] {
        var out = c
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { pc in
            let ldb = transB ? k : width
            let b0 = pb.baseAddress! + (transB ? first * k : first)
            fixedOrderGEMM(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!,
                           lda: transA ? m : k, b: b0, ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: n,
                           threads: threads, tile: tile, packedB: panels.map { PackedB($0, first: first, columns: n) })
        }}}
        return out.map(\.bitPattern)
    }

    func testProductsReadingPanelsGiveThePackingBits() {
        var rng = TestRNG(41)
        // (m, width, k, first, n): edges of the tiles (6 × 16, 6 × 64), k-blocks (256, 512),
        // column blocks (NC = 4096) and views starting on a later panel (the LM head's tiles).
        let shapes = [(1, 1, 1, 0, 1), (7, 17, 257, 0, 17), (13, 130, 515, 64, 66), (97, 200, 1030, 128, 72),
                      (1, 2048, 512, 0, 2048), (193, 70, 131, 0, 70), (12, 4200, 40, 0, 4200), (30, 4300, 20, 192, 4100),
                      (5, 300, 64, 256, 44)]
        for (m, width, k, first, n) in shapes {
            for (transA, transB) in [(false, true), (false, false), (true, true)] {
                for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (0.3, 0.7)] {
                    let a = randoms(m * k, &rng), b = randoms(k * width, &rng), c = randoms(m * n, &rng)
                    for tile in tiles {
                        let panels = b.withUnsafeBufferPointer { pb in
                            PackedPanels(tile: tile, transB: transB, k: k, n: width, b: pb.baseAddress!, ldb: transB ? k : width)
                        }
                        XCTAssertTrue(PackedB(panels, first: first, columns: n).serves(tile, k: k, n: n))
                        for threads in [1, 2, 3] {
                            let args = (transA, transB, m, n, k, first, width, alpha, beta)
                            let want = product(transA: transA, transB: transB, m: m, n: n, k: k, first: first, width: width,
                                               alpha: alpha, beta: beta, a: a, b: b, c: c, threads: threads, tile: tile, panels: nil)
                            let got = product(transA: transA, transB: transB, m: m, n: n, k: k, first: first, width: width,
                                              alpha: alpha, beta: beta, a: a, b: b, c: c, threads: threads, tile: tile, panels: panels)
                            XCTAssertEqual(got, want, "\(args), \(tile), \(threads) threads")
                        }
                    }
                }
            }
        }
    }

    func testPanelsAreTheFloatsPackingMakes() {
        // Every (jc, pc) block the kernel would pack, against the panels' block: equal floats
        // over the block's whole panels (the last zero past n in both at the matrix's end).
        var rng = TestRNG(3)
        for tile in tiles {
            let (k, n) = (tile.kc * 2 + 37, tile.nc + 3 * tile.nr + 5)
            let b = randoms(k * n, &rng)
            b.withUnsafeBufferPointer { pb in
                let panels = PackedPanels(tile: tile, transB: true, k: k, n: n, b: pb.baseAddress!, ldb: k)
                XCTAssertEqual(panels.count, k * ((n + tile.nr - 1) / tile.nr * tile.nr))
                var jc = 0
                while jc < n {
                    let nc = min(tile.nc, n - jc), padded = (nc + tile.nr - 1) / tile.nr * tile.nr
                    var pc = 0
                    while pc < k {
                        let kc = min(tile.kc, k - pc)
                        var packed = [Float](repeating: .nan, count: kc * padded)
                        packed.withUnsafeMutableBufferPointer { ke_pack_b(pb.baseAddress!, 1, k, pc, kc, jc, nc, tile.nr, $0.baseAddress!) }
                        let block = Array(UnsafeBufferPointer(start: panels.block(pc: pc, column: jc), count: kc * padded))
                        XCTAssertEqual(block.map(\.bitPattern), packed.map(\.bitPattern), "\(tile) block jc \(jc) pc \(pc)")
                        pc += tile.kc
                    }
                    jc += tile.nc
                }
            }
        }
    }

    func testPanelsThatDoNotServeTheProductAreNotRead() {
        // Panels of another tile, another depth, or a view not starting on a panel: the kernel
        // packs B itself, and the bits are the reference's.
        var rng = TestRNG(9)
        let (m, width, k) = (20, 200, 70)
        let a = randoms(m * k, &rng), b = randoms(k * width, &rng), c = [Float](repeating: 0, count: m * 150)
        let kernel = gemmMicroKernel
        let other = tiles.first { $0 != kernel } ?? kernel
        let wrong: [(PackedPanels, Int)] = b.withUnsafeBufferPointer { pb in [
            (PackedPanels(tile: other, transB: true, k: k, n: width, b: pb.baseAddress!, ldb: k), 0),
            (PackedPanels(tile: kernel, transB: true, k: k - 1, n: width, b: pb.baseAddress!, ldb: k), 0),
            (PackedPanels(tile: kernel, transB: true, k: k, n: width, b: pb.baseAddress!, ldb: k), 8),
        ] }
        for (panels, first) in wrong where panels.tile != kernel || panels.k != k || first % kernel.nr != 0 {
            let want = product(transA: false, transB: true, m: m, n: 150, k: k, first: first, width: width, alpha: 1, beta: 0,
                               a: a, b: b, c: c, threads: 1, tile: kernel, panels: nil)
            XCTAssertEqual(product(transA: false, transB: true, m: m, n: 150, k: k, first: first, width: width, alpha: 1, beta: 0,
                                   a: a, b: b, c: c, threads: 1, tile: kernel, panels: panels), want)
            XCTAssertFalse(PackedB(panels, first: first, columns: 150).serves(kernel, k: k, n: 150))
        }
    }

    /// Logits, coefficient sums and next-token log-probabilities of `docs` through `weights`.
    func pass(_ model: Model, _ weights: InferenceWeights, _ docs: [[Int]]) throws -> [UInt64] {
        let c = model.config, batch = PackedBatch(documents: docs)
        var logits: [Float] = []
        var sums = ExactSums(layers: c.numLayers, memories: c.intermediateSize)
        let targets = batch.nextTokenTargets()
        var logProbs = [Double](repeating: 0, count: batch.count)
        try sums.withPointers { p in
            try targets.withUnsafeBufferPointer { t in
                try logProbs.withUnsafeMutableBufferPointer { lp in
                    try runForward(config: c, weights: weights, multipliers: model.memoryMultipliers, batch: batch,
                                   request: ForwardRequest(coefficientSums: p, logits: { _, rows, l in
                                       logits += UnsafeBufferPointer(start: l, count: rows * c.vocabSize)
                                   }, targetLogProbs: (t.baseAddress!, lp.baseAddress!)))
                }
            }
        }
        return logits.map { UInt64($0.bitPattern) } + sums.values.map(\.bitPattern) + logProbs.map(\.bitPattern)
    }

    func testAModelsPassWithPanelsGivesTheBitsOfThePassWithout() throws {
        for name in ["olmo", "llama_gqa", "gpt2", "llama_tied", "neox", "olmo2"] {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let docs = Fixtures.docs(try Fixtures.expected(name))
            let with = try withInferenceWeights(model) { w in
                // The panels are there (or the test would prove nothing): every projection and the head.
                let matrices = w.layers.flatMap { [$0.q, $0.k, $0.v, $0.o, $0.up, $0.down] + ($0.gate.map { [$0] } ?? []) } + [w.unembed]
                XCTAssertTrue(matrices.allSatisfy { if case .f32Packed = $0 { return true } else { return false } }, name)
                return try pass(model, w, docs)
            }
            // A Transformer (what training reads) has no panels to offer.
            let without = try Transformer(model).withInferenceWeights { w in
                XCTAssertFalse(w.layers.contains { if case .f32Packed = $0.up { return true } else { return false } }, name)
                return try pass(model, w, docs)
            }
            XCTAssertEqual(with, without, name)
        }
    }

    func testPanelsAreMadeOncePerModelAndTile() throws {
        let model = try Model.load(directory: Fixtures.modelDir("olmo"))
        guard case .f32(let store) = model.storage else { return XCTFail("olmo fixture is not f32") }
        let first = try model.inferencePanels.panels(of: store, config: model.config)
        let again = try model.inferencePanels.panels(of: store, config: model.config)
        XCTAssertFalse(first.isEmpty)
        XCTAssertEqual(Set(first.keys), Set(again.keys))
        for (o, p) in first { XCTAssertTrue(p === again[o]) }
        // Another buffer of floats (the same values, copied) gets no panels from this model.
        var copy = store
        copy.data = store.data.map { $0 }
        XCTAssertTrue(try model.inferencePanels.panels(of: copy, config: model.config).isEmpty)
        // A model sharing the storage shares the panels; new parameters start without.
        XCTAssertTrue(model.named("x").inferencePanels === model.inferencePanels)
        XCTAssertFalse(try model.with(params: store).inferencePanels === model.inferencePanels)
    }
}
