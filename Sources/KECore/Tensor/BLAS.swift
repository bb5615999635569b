import CKernels
import CBLAS
import Dispatch
import Foundation

// MARK: Matrix products through OpenBLAS
//
// Every matrix product in the project goes through `cblas_sgemm`. All matrices are row-major.

/// Which code computes matrix products.
public enum MatrixProductKernel: String, Sendable {
    /// ke's own kernel (`fixedOrderGEMM`): the same bits on every CPU and thread count.
    case fixedOrder = "fixed-order"
    /// OpenBLAS's kernel for this CPU: its rounding depends on the CPU and the kernel chosen.
    case openBLAS = "openblas"
}

/// The kernel in use: `KE_GEMM=openblas` selects OpenBLAS, anything else ke's fixed-order kernel.
nonisolated(unsafe) public var matrixProductKernel: MatrixProductKernel = {
    if let v = getenv("KE_GEMM"), String(cString: v) == "openblas" { return .openBLAS }
    return .fixedOrder
}()

/// C[m,n] = alpha · A[m,k] · B[k,n] + beta · C, with A or B optionally transposed in storage.
///
/// - `transA`: A is stored as [k, m]; `transB`: B is stored as [n, k] (the usual `x · Wᵀ` for a weight W[out, in]).
/// - `packedB`: op(B) packed once (a constant weight, `PackedPanels`): the fixed-order kernel
///   reads it instead of packing B (same bits); OpenBLAS ignores it.
@inline(__always)
func sgemm(
    transA: Bool = false, transB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
    b: UnsafePointer<Float>, ldb: Int? = nil,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil,
    packedB: PackedB? = nil
) {
    if m == 0 || n == 0 { return }
    let lda = lda ?? (transA ? m : k)
    let ldb = ldb ?? (transB ? k : n)
    let ldc = ldc ?? n
    if matrixProductKernel == .fixedOrder {
        fixedOrderGEMM(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                       b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
                       threads: elementwiseSerial ? 1 : elementwiseWorkers, tile: registerTile(columns: n),
                       packedB: packedB)
        return
    }
    cblas_sgemm(
        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// The register tile for a C `columns` wide: `gemmMicroKernel`, except that a C narrower than
/// the AVX-512 tile's 64 columns runs on the 16-wide AVX2 tile. Attention's per-head products
/// ([T, head_dim] outputs: 16 wide in the tiny run) then compute no discarded lanes and skip
/// the edge tile's copy through a buffer. Same bits either way: every tile computes each
/// element's one fma chain (`fixedOrderGEMM`, proven by GEMMTests).
@inline(__always)
func registerTile(columns n: Int, preferred k: GEMMMicroKernel = gemmMicroKernel) -> GEMMMicroKernel {
    k == .avx512 && n < k.nr && narrowTileSupported ? .avx2 : k
}

/// True when the CPU runs the AVX2 tile (checked once).
private let narrowTileSupported = GEMMMicroKernel.avx2.isSupported

/// The number of threads OpenBLAS uses.
public var blasThreads: Int { Int(openblas_get_num_threads()) }

/// Name of the OpenBLAS kernel in use (e.g. `SkylakeX`, `Prescott`).
public var blasCoreName: String {
    guard let p = openblas_get_corename() else { return "unknown" }
    return String(cString: p)
}

/// Stops OpenBLAS's helper threads (`ke_openblas_stop_threads`: its `blas_thread_shutdown_`,
/// absent from a serial OpenBLAS; its next threaded call starts them again). After each call a helper keeps spinning for a while before it sleeps, on a core the
/// next kernel being timed needs: in `GEMMShapeBenchmarkTests`, ke's two workers ran products
/// of ≤ 2 GFLOP timed after OpenBLAS at half speed (m 1024 n 512 k 2048: 113–173 GFLOP/s, and
/// 191–201 with OPENBLAS_THREAD_TIMEOUT=4, which makes the helpers sleep at once), even after a
/// 0.3 s pause. For rate measurements only: never while another thread may be in OpenBLAS.
public func quietOpenBLASThreads() { _ = ke_openblas_stop_threads() }

/// Measured FLOP/s of a square `size`³ product with `kernel`, using every thread: the best of
/// the runs after a warm-up, at least `repeats` of them and as many more as fit in
/// `minSeconds`. A 512³ product takes about 1.4 ms on 2 cores, so five runs alone span a
/// time in which a virtual machine's host can take a core away for all of them (seen here:
/// 512³ read at half its rate in one `ke --doctor` out of two). An OpenBLAS measurement ends
/// with `quietOpenBLASThreads()`, so the kernel timed next has the machine's cores to itself.
public func measureSgemmRate(size n: Int, repeats: Int = 5, minSeconds: Double = 0.3, kernel: MatrixProductKernel = matrixProductKernel) -> Double {
    let saved = matrixProductKernel
    matrixProductKernel = kernel
    defer {
        matrixProductKernel = saved
        if kernel == .openBLAS { quietOpenBLASThreads() }
    }
    let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
    var c = [Float](repeating: 0, count: n * n)
    var best = Double.infinity
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
                guard let x = pa.baseAddress, let y = pb.baseAddress, let z = pc.baseAddress else { return }
                sgemm(m: n, n: n, k: n, a: x, b: y, c: z)
                var runs = 0, spent = 0.0
                while runs < repeats || spent < minSeconds {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    sgemm(m: n, n: n, k: n, a: x, b: y, c: z)
                    let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                    best = min(best, dt)
                    runs += 1
                    spent += dt
                }
            }
        }
    }
    return 2 * Double(n) * Double(n) * Double(n) / best
}
