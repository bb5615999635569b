import XCTest
import Dispatch
@testable import KECore

/// The fixed-order matrix product: every element equals the documented scalar chain
/// (β·C, then one fused multiply-add per k in order) bit for bit, whatever the shape,
/// transposition, blocking, edge tiles and thread count.
final class GEMMTests: XCTestCase {
    struct Case { let transA, transB: Bool; let m, n, k: Int; let alpha, beta: Float }

    func randoms(_ n: Int, _ rng: inout TestRNG) -> [Float] { (0..<n).map { _ in rng.uniform() * 2 - 1 } }

    /// The definition, one element at a time.
    func reference(_ t: Case, a: [Float], b: [Float], c: [Float]) -> [Float] {
        var out = c
        for i in 0..<t.m {
            for j in 0..<t.n {
                var acc: Float = t.beta == 0 ? 0 : (t.beta == 1 ? c[i * t.n + j] : t.beta * c[i * t.n + j])
                for kk in 0..<t.k {
                    let x = t.transA ? a[kk * t.m + i] : a[i * t.k + kk]
                    let y = t.transB ? b[j * t.k + kk] : b[kk * t.n + j]
                    acc = acc.addingProduct(t.alpha == 1 ? x : t.alpha * x, y)
                }
                out[i * t.n + j] = acc
            }
        }
        return out
    }

    func run(_ t: Case, a: [Float], b: [Float], c: [Float], threads: Int) -> [Float] {
        var out = c
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { pc in
                    fixedOrderGEMM(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha,
                                   a: pa.baseAddress!, lda: t.transA ? t.m : t.k, b: pb.baseAddress!, ldb: t.transB ? t.k : t.n,
                                   beta: t.beta, c: pc.baseAddress!, ldc: t.n, threads: threads)
                }
            }
        }
        return out
    }

    func testEveryElementIsTheDocumentedChain() {
        var rng = TestRNG(17)
        // Shapes straddle the register tile (6 × 16), the k-block (256) and the row block (144).
        let shapes = [(1, 1, 1), (5, 15, 3), (6, 16, 8), (7, 17, 257), (13, 33, 64), (145, 40, 300), (64, 64, 16), (2, 600, 513)]
        for (m, n, k) in shapes {
            for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
                for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (0.125, 0), (0.3, 0.7)] {
                    let t = Case(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta)
                    let a = randoms(m * k, &rng), b = randoms(k * n, &rng), c = randoms(m * n, &rng)
                    let want = reference(t, a: a, b: b, c: c)
                    for threads in [1, 2, 3] {
                        let got = run(t, a: a, b: b, c: c, threads: threads)
                        XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(t), \(threads) threads")
                    }
                }
            }
        }
    }

    func testRowsDoNotDependOnTheirBatchMates() {
        // y = x · Wᵀ for 300 rows at once, and for rows 100..<107 alone: the same bits.
        var rng = TestRNG(5)
        let (n, k) = (70, 520)
        let x = randoms(300 * k, &rng), w = randoms(n * k, &rng)
        let all = run(Case(transA: false, transB: true, m: 300, n: n, k: k, alpha: 1, beta: 0), a: x, b: w,
                      c: [Float](repeating: 0, count: 300 * n), threads: 2)
        let part = run(Case(transA: false, transB: true, m: 7, n: n, k: k, alpha: 1, beta: 0),
                       a: Array(x[(100 * k)..<(107 * k)]), b: w, c: [Float](repeating: 0, count: 7 * n), threads: 1)
        XCTAssertEqual(part.map(\.bitPattern), all[(100 * n)..<(107 * n)].map(\.bitPattern))
    }

    func testZeroDepthAndEmptyShapes() {
        // k = 0: C = β·C (0 when β = 0, even over NaN garbage); m or n = 0: nothing is touched.
        let t = Case(transA: false, transB: false, m: 2, n: 3, k: 0, alpha: 1, beta: 0)
        XCTAssertEqual(run(t, a: [0], b: [0], c: [.nan, 1, 2, 3, 4, 5], threads: 1), [0, 0, 0, 0, 0, 0])
        let half = Case(transA: false, transB: false, m: 2, n: 3, k: 0, alpha: 1, beta: 0.5)
        XCTAssertEqual(run(half, a: [0], b: [0], c: [2, 4, 6, 8, 10, 12], threads: 1), [1, 2, 3, 4, 5, 6])
    }
}

/// Speed of the fixed-order kernel against OpenBLAS on the shapes of the bench and tiny
/// workloads, one thread each (skipped unless KE_BENCH=1; a benchmark, not a test).
final class GEMMBenchmarkTests: XCTestCase {
    func testFixedOrderAgainstOpenBLAS() throws {
        guard ProcessInfo.processInfo.environment["KE_BENCH"] == "1" else { throw XCTSkip("set KE_BENCH=1 to compare the GEMM kernels") }
        let shapes: [(Bool, Bool, Int, Int, Int, String)] = [
            (false, true, 1024, 2048, 512, "Pythia-70m up"), (false, true, 1024, 512, 2048, "Pythia-70m down"),
            (false, true, 256, 4096, 512, "Pythia-70m head tile"), (false, false, 1024, 512, 2048, "dx = dy·W"),
            (true, false, 2048, 512, 1024, "dW = dyᵀ·x"), (false, true, 1024, 256, 64, "tiny up"),
            (false, true, 1024, 2666, 64, "tiny head"), (false, true, 64, 64, 16, "tiny attention"),
        ]
        var rng = TestRNG(1)
        for (ta, tb, m, n, k, label) in shapes {
            let a = (0..<(m * k)).map { _ in rng.uniform() }, b = (0..<(n * k)).map { _ in rng.uniform() }
            var c = [Float](repeating: 0, count: m * n)
            let reps = max(1, 1_000_000_000 / (2 * m * n * k))
            var best: [MatrixProductKernel: Double] = [:]
            for kernel in [MatrixProductKernel.openBLAS, .fixedOrder, .openBLAS, .fixedOrder, .openBLAS, .fixedOrder] {
                let t0 = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<reps {
                    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                        if kernel == .openBLAS {
                            let saved = matrixProductKernel
                            matrixProductKernel = .openBLAS
                            sgemm(transA: ta, transB: tb, m: m, n: n, k: k, a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!)
                            matrixProductKernel = saved
                        } else {
                            fixedOrderGEMM(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1, a: pa.baseAddress!, lda: ta ? m : k,
                                           b: pb.baseAddress!, ldb: tb ? k : n, beta: 0, c: pc.baseAddress!, ldc: n, threads: 1)
                        }
                    }}}
                }
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 / Double(reps)
                best[kernel] = min(best[kernel] ?? .infinity, dt)
            }
            let rate = { (t: Double) in 2 * Double(m * n * k) / t / 1e9 }
            print(String(format: "%-22@ %@%@ %5d×%5d×%5d  OpenBLAS %6.1f  fixed-order %6.1f GFLOP/s  fixed/OpenBLAS %.2f",
                         label, ta ? "T" : "N", tb ? "T" : "N", m, n, k, rate(best[.openBLAS]!), rate(best[.fixedOrder]!),
                         best[.openBLAS]! / best[.fixedOrder]!))
        }
    }
}
