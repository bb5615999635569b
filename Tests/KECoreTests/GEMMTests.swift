import XCTest
import Dispatch
import CBLAS
import CKernels
import Foundation
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

    func run(_ t: Case, a: [Float], b: [Float], c: [Float], threads: Int, tile: GEMMMicroKernel = gemmMicroKernel) -> [Float] {
        var out = c
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { pc in
                    fixedOrderGEMM(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha,
                                   a: pa.baseAddress!, lda: t.transA ? t.m : t.k, b: pb.baseAddress!, ldb: t.transB ? t.k : t.n,
                                   beta: t.beta, c: pc.baseAddress!, ldc: t.n, threads: threads, tile: tile)
                }
            }
        }
        return out
    }

    /// The register tiles this CPU runs (AVX-512 6 × 64, AVX2 6 × 16, portable Swift 6 × 16).
    var tiles: [GEMMMicroKernel] { GEMMMicroKernel.allCases.filter(\.isSupported) }

    func testEveryElementIsTheDocumentedChain() {
        var rng = TestRNG(17)
        // Shapes straddle the register tiles (6 × 16, 6 × 64), the k-blocks (256, 512) and the
        // row blocks (96, 144); m = 1, k = 1 and odd sizes reach every edge path.
        let shapes = [(1, 1, 1), (5, 15, 3), (6, 16, 8), (7, 17, 257), (13, 33, 64), (145, 40, 300), (64, 64, 16),
                      (2, 600, 513), (12, 32, 128), (11, 31, 129), (25, 65, 1), (1, 97, 200), (193, 70, 131), (97, 130, 515)]
        for (m, n, k) in shapes {
            for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
                for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (0.125, 0), (0.3, 0.7)] {
                    let t = Case(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta)
                    let a = randoms(m * k, &rng), b = randoms(k * n, &rng), c = randoms(m * n, &rng)
                    let want = reference(t, a: a, b: b, c: c)
                    for tile in tiles {
                        for threads in [1, 2, 3] {
                            let got = run(t, a: a, b: b, c: c, threads: threads, tile: tile)
                            XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(t), \(tile), \(threads) threads")
                        }
                    }
                }
            }
        }
    }

    /// The rate measurements stop OpenBLAS's helper threads after its turn; its next call must
    /// start them again and compute what it computed before, on every thread.
    func testOpenBLASRunsAgainAfterItsThreadsAreStopped() {
        var rng = TestRNG(29)
        let n = 384
        let a = randoms(n * n, &rng), b = randoms(n * n, &rng)
        func product() -> [Float] {
            var c = [Float](repeating: 0, count: n * n)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n),
                        b, Int32(n), 0, &c, Int32(n))
            return c
        }
        let before = product()
        // 0 on a threaded OpenBLAS (the Debian build the scripts install), −1 on a serial one.
        XCTAssertTrue([0, -1].contains(ke_openblas_stop_threads()))
        let after = product()
        quietOpenBLASThreads()
        XCTAssertEqual(after.map(\.bitPattern), before.map(\.bitPattern))
        XCTAssertEqual(product().map(\.bitPattern), before.map(\.bitPattern))
    }

    func testEveryTileGivesTheSameBitsOnLargeProducts() throws {
        // Products too large for the scalar reference: the tiles against each other (each is the
        // reference chain on the shapes above). Many k-blocks, row blocks and column panels, with
        // ragged edges; 2 and 3 workers (the split sharing one packed B meets at barriers).
        let tiles = self.tiles
        print("GEMMTests: register tiles on this CPU: \(tiles.map(\.rawValue).joined(separator: ", ")); default \(gemmMicroKernel.rawValue)")
        guard tiles.count > 1 else { throw XCTSkip("only the portable tile runs on this CPU") }
        var rng = TestRNG(23)
        for (m, n, k) in [(300, 517, 700), (1, 2048, 512), (1025, 33, 259), (400, 4200, 130)] {
            for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
                let t = Case(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, beta: 1)
                let a = randoms(m * k, &rng), b = randoms(k * n, &rng), c = randoms(m * n, &rng)
                let want = run(t, a: a, b: b, c: c, threads: 1, tile: .swift).map(\.bitPattern)
                for tile in tiles where tile != .swift {
                    for threads in [2, 3] {
                        for split in [GEMMSplit.own, .rowsSharingB] {
                            let saved = forcedGEMMSplit
                            forcedGEMMSplit = split
                            defer { forcedGEMMSplit = saved }
                            XCTAssertEqual(run(t, a: a, b: b, c: c, threads: threads, tile: tile).map(\.bitPattern), want,
                                           "\(t), \(tile), \(threads) threads, split \(split)")
                        }
                    }
                }
            }
        }
    }

    func testTheDefaultTileIsTheWidestThisCPURuns() {
        // KE_GEMM_TILE unset (as in the test scripts): AVX-512 where the CPU has it, else AVX2, else Swift.
        guard getenv("KE_GEMM_TILE") == nil else { return }
        XCTAssertEqual(gemmMicroKernel, tiles.first)
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        if flags.contains(" avx512f ") { XCTAssertEqual(gemmMicroKernel, .avx512) }
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

/// The sizes `ke --doctor` measures, every thread, in alternating rounds: OpenBLAS and each
/// register tile of the fixed-order kernel in one process, so machine load hits them alike
/// (skipped unless KE_BENCH=1; a benchmark, not a test). Prints min/median/max of the rates and
/// of the per-round ratio fixed-order / OpenBLAS.
final class GEMMSquareBenchmarkTests: XCTestCase {
    func testSquareProductsInAlternatingRounds() throws {
        guard ProcessInfo.processInfo.environment["KE_BENCH"] == "1" else { throw XCTSkip("set KE_BENCH=1 to compare the GEMM kernels") }
        let rounds = Int(ProcessInfo.processInfo.environment["KE_BENCH_ROUNDS"] ?? "") ?? 5
        let tiles = GEMMMicroKernel.allCases.filter(\.isSupported)
        let saved = gemmMicroKernel
        defer { gemmMicroKernel = saved }
        print("threads \(blasThreads), OpenBLAS \(blasCoreName), tiles \(tiles.map(\.rawValue))")
        for n in [512, 1024, 2048] {
            var rates: [String: [Double]] = [:], ratios: [String: [Double]] = [:]
            for round in 0..<rounds {
                var entrants: [String] = ["openblas"] + tiles.map(\.rawValue)
                if round % 2 == 1 { entrants.reverse() }
                var this: [String: Double] = [:]
                for e in entrants {
                    if let tile = GEMMMicroKernel(rawValue: e) {
                        gemmMicroKernel = tile
                        this[e] = measureSgemmRate(size: n, repeats: 3, kernel: .fixedOrder) / 1e9
                    } else {
                        this[e] = measureSgemmRate(size: n, repeats: 3, kernel: .openBLAS) / 1e9
                    }
                    rates[e, default: []].append(this[e]!)
                }
                for t in tiles { ratios[t.rawValue, default: []].append(this[t.rawValue]! / this["openblas"]!) }
            }
            print("sgemm \(n)³ GFLOP/s min/median/max: " + (["openblas"] + tiles.map(\.rawValue)).map { "\($0) \(mmm(rates[$0]!))" }.joined(separator: "  "))
            print("sgemm \(n)³ ratio to OpenBLAS (same round): " + tiles.map { "\($0.rawValue) \(mmm(ratios[$0.rawValue]!))" }.joined(separator: "  "))
        }
    }

    /// One thread each, timed in the thread's CPU time: on a machine shared with other jobs the
    /// wall time of a 2-thread product measures the scheduler (OpenBLAS's threads spin-wait for
    /// each other), while CPU time counts only the cycles the product ran (still slowed by
    /// caches shared with the other jobs).
    func testSquareProductsOneThreadCPUTime() throws {
        guard ProcessInfo.processInfo.environment["KE_BENCH"] == "1" else { throw XCTSkip("set KE_BENCH=1 to compare the GEMM kernels") }
        let rounds = Int(ProcessInfo.processInfo.environment["KE_BENCH_ROUNDS"] ?? "") ?? 5
        let tiles = GEMMMicroKernel.allCases.filter(\.isSupported)
        let blas = blasThreads
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(blas)) }
        func cpuSeconds() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
        }
        for n in [512, 1024, 2048] {
            let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
            var c = [Float](repeating: 0, count: n * n)
            let reps = n <= 512 ? 10 : (n == 1024 ? 3 : 1)
            func rate(_ e: String) -> Double {
                var best = Double.infinity
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                    for _ in 0..<reps {
                        let t0 = cpuSeconds()
                        if let tile = GEMMMicroKernel(rawValue: e) {
                            fixedOrderGEMM(transA: false, transB: false, m: n, n: n, k: n, alpha: 1, a: pa.baseAddress!, lda: n,
                                           b: pb.baseAddress!, ldb: n, beta: 0, c: pc.baseAddress!, ldc: n, threads: 1, tile: tile)
                        } else {
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
                                        pa.baseAddress!, Int32(n), pb.baseAddress!, Int32(n), 0, pc.baseAddress!, Int32(n))
                        }
                        best = min(best, cpuSeconds() - t0)
                    }
                }}}
                return 2 * Double(n * n * n) / best / 1e9
            }
            var rates: [String: [Double]] = [:], ratios: [String: [Double]] = [:]
            for round in 0..<rounds {
                var entrants = ["openblas"] + tiles.map(\.rawValue)
                if round % 2 == 1 { entrants.reverse() }
                var this: [String: Double] = [:]
                for e in entrants { this[e] = rate(e); rates[e, default: []].append(this[e]!) }
                for t in tiles { ratios[t.rawValue, default: []].append(this[t.rawValue]! / this["openblas"]!) }
            }
            print("1 thread, CPU time: sgemm \(n)³ GFLOP/s min/median/max: " + (["openblas"] + tiles.map(\.rawValue)).map { "\($0) \(mmm(rates[$0]!))" }.joined(separator: "  "))
            print("1 thread, CPU time: sgemm \(n)³ ratio to OpenBLAS (same round): " + tiles.map { "\($0.rawValue) \(mmm(ratios[$0.rawValue]!))" }.joined(separator: "  "))
        }
    }
}

/// The products the passes run, fixed-order kernel against OpenBLAS (`cblas_sgemm`), every
/// thread, in alternating rounds (skipped unless KE_BENCH=1; a benchmark, not a test). Prints
/// min/median/max of the per-round ratio fixed-order / OpenBLAS and the rates, and for a weight's
/// product (Bᵀ) also with B pre-packed, as the inference passes run it. Shapes: the
/// bench model's linears at 256 tokens (D = 512, F = 2048) and in the batched entropy pass
/// (16,384 rows), its training step's products (1,024 tokens; LM head V = 50,304 forward and
/// backward, a layer's weight and input gradients), and an OLMo-1B-shaped MLP (2,048 × 8,192).
final class GEMMShapeBenchmarkTests: XCTestCase {
    struct Shape { let name: String; let transA, transB: Bool; let m, n, k: Int }

    static let shapes: [Shape] = [
        Shape(name: "square 512", transA: false, transB: false, m: 512, n: 512, k: 512),
        Shape(name: "square 1024", transA: false, transB: false, m: 1024, n: 1024, k: 1024),
        Shape(name: "bench x·W1ᵀ 256 tok", transA: false, transB: true, m: 256, n: 2048, k: 512),
        Shape(name: "bench x·W2ᵀ 256 tok", transA: false, transB: true, m: 256, n: 512, k: 2048),
        Shape(name: "bench x·W1ᵀ 16384 rows", transA: false, transB: true, m: 16384, n: 2048, k: 512),
        Shape(name: "train head h·Uᵀ", transA: false, transB: true, m: 1024, n: 50304, k: 512),
        Shape(name: "train head dlogits·U", transA: false, transB: false, m: 1024, n: 512, k: 50304),
        Shape(name: "train head dlogitsᵀ·h", transA: true, transB: false, m: 50304, n: 512, k: 1024),
        Shape(name: "train dW1 dyᵀ·x", transA: true, transB: false, m: 2048, n: 512, k: 1024),
        Shape(name: "train dx dy·W1", transA: false, transB: false, m: 1024, n: 512, k: 2048),
        Shape(name: "1B x·W1ᵀ 256 tok", transA: false, transB: true, m: 256, n: 8192, k: 2048),
        Shape(name: "1B x·W2ᵀ 256 tok", transA: false, transB: true, m: 256, n: 2048, k: 8192),
    ]

    func testPassShapesInAlternatingRounds() throws {
        guard ProcessInfo.processInfo.environment["KE_BENCH"] == "1" else { throw XCTSkip("set KE_BENCH=1 to compare the GEMM kernels") }
        let rounds = Int(ProcessInfo.processInfo.environment["KE_BENCH_ROUNDS"] ?? "") ?? 5
        let only = ProcessInfo.processInfo.environment["KE_BENCH_SHAPES"]
        print("threads \(blasThreads), OpenBLAS \(blasCoreName), tile \(gemmMicroKernel.rawValue)")
        for s in Self.shapes where only == nil || s.name.contains(only!) {
            var rng = TestRNG(7)
            let a = (0..<(s.m * s.k)).map { _ in rng.uniform() - 0.5 }
            let b = (0..<(s.k * s.n)).map { _ in rng.uniform() - 0.5 }
            var c = [Float](repeating: 0, count: s.m * s.n)
            let flops = 2 * Double(s.m) * Double(s.n) * Double(s.k)
            let reps = max(1, min(10, Int(2e9 / flops)))
            // A weight's product as the inference passes run it (B = Wᵀ packed once per model,
            // `InferencePanels`): timed as a third side where B is a weight (transB).
            let panels = s.transB ? b.withUnsafeBufferPointer {
                PackedPanels(tile: gemmMicroKernel, transB: true, k: s.k, n: s.n, b: $0.baseAddress!, ldb: s.k)
            } : nil
            func rate(openBLAS: Bool, prePacked: Bool = false) -> Double {
                var best = Double.infinity
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                    let lda = s.transA ? s.m : s.k, ldb = s.transB ? s.k : s.n
                    for _ in 0..<reps {
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        if openBLAS {
                            cblas_sgemm(CblasRowMajor, s.transA ? CblasTrans : CblasNoTrans, s.transB ? CblasTrans : CblasNoTrans,
                                        Int32(s.m), Int32(s.n), Int32(s.k), 1, pa.baseAddress!, Int32(lda),
                                        pb.baseAddress!, Int32(ldb), 0, pc.baseAddress!, Int32(s.n))
                        } else {
                            fixedOrderGEMM(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, alpha: 1,
                                           a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb,
                                           beta: 0, c: pc.baseAddress!, ldc: s.n, threads: blasThreads,
                                           packedB: prePacked ? panels.map { PackedB($0) } : nil)
                        }
                        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                    }
                }}}
                return flops / best / 1e9
            }
            // Each side is timed on a quiet machine: OpenBLAS's helper threads keep spinning after
            // a call, on the core ke's second worker needs, so its turn ends by stopping them
            // (`quietOpenBLASThreads`). Without that, products of ≤ 2 GFLOP timed right after
            // OpenBLAS ran ke at half speed (m 256 n 2048 k 512: 88 GFLOP/s against 177), and a
            // 0.3 s pause did not always suffice. ke's pool spins only 100 µs (KE_SPIN_US).
            func quiet<T>(_ f: () -> T) -> T { let r = f(); quietOpenBLASThreads(); return r }
            _ = quiet { rate(openBLAS: true) }; _ = quiet { rate(openBLAS: false) }   // warm-up: pages, threads
            var ours: [Double] = [], theirs: [Double] = [], ratios: [Double] = [], packed: [Double] = [], packedRatios: [Double] = []
            for round in 0..<rounds {
                let (x, y): (Double, Double)
                if round % 2 == 0 { let o = quiet { rate(openBLAS: true) }; x = quiet { rate(openBLAS: false) }; y = o }
                else { x = quiet { rate(openBLAS: false) }; y = quiet { rate(openBLAS: true) } }
                ours.append(x); theirs.append(y); ratios.append(x / y)
                if panels != nil { let z = quiet { rate(openBLAS: false, prePacked: true) }; packed.append(z); packedRatios.append(z / y) }
            }
            let withPanels = packed.isEmpty ? "" : "  B pre-packed: ratio \(mmm(packedRatios)), \(mmm(packed)) GFLOP/s"
            print("GEMM shape \(s.name) [m \(s.m) n \(s.n) k \(s.k)\(s.transA ? " Aᵀ" : "")\(s.transB ? " Bᵀ" : "")]: ratio \(mmm(ratios))  fixed-order \(mmm(ours))  OpenBLAS \(mmm(theirs)) GFLOP/s\(withPanels)")
        }
    }
}

/// "min/median/max" of the benchmarks' rates or ratios (upper median for an even count).
private func mmm(_ xs: [Double]) -> String {
    let v = xs.sorted()
    return String(format: "%.2f/%.2f/%.2f", v.first!, v[v.count / 2], v.last!)
}
