import CBLAS
import Dispatch
import Foundation

// MARK: Splitting elementwise work across cores
//
// OpenBLAS parallelises the matrix products; between them the elementwise kernels
// (activations, norms, RoPE, coefficient sums) ran on one core. These helpers split such loops
// into disjoint ranges, one per core, so results do not depend on the thread count.

/// Number of workers for elementwise loops: `KE_THREADS` if set, else the active cores; at least 1.
let elementwiseWorkers: Int = {
    if let v = getenv("KE_THREADS"), let n = Int(String(cString: v)), n >= 1 { return min(n, 256) }
    return max(1, ProcessInfo.processInfo.activeProcessorCount)
}()

/// Calls `body` on disjoint sub-ranges covering 0..<n, in parallel when each worker gets at least
/// `minChunk` items. Each index is handled exactly once, by one worker.
@inline(__always)
func parallelRanges(_ n: Int, minChunk: Int, _ body: (Range<Int>) -> Void) {
    let workers = elementwiseSerial ? 1 : min(elementwiseWorkers, n / max(1, minChunk))
    if workers <= 1 { body(0..<n); return }
    let per = (n + workers - 1) / workers
    withoutActuallyEscaping(body) { b in
        let box = UncheckedBox(b)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let lo = w * per, hi = min(n, lo + per)
            if lo < hi { box.value(lo..<hi) }
        }
    }
}

/// [make(0), …, make(count − 1)], computed on every core in disjoint ranges of at least
/// `minChunk` indices (one core below 8 items). The result does not depend on the split as
/// long as `make(i)` depends only on i (the tiny run's documents: each is seeded by its own
/// step, row and tag, ≈ 60 µs a document, so one core made the batch while the other waited).
func parallelMap<T>(_ count: Int, minChunk: Int = 4, _ make: (Int) -> T) -> [T] {
    let n = max(0, count)
    if n < 8 { return (0..<n).map(make) }
    var out = [T?](repeating: nil, count: n)
    out.withUnsafeMutableBufferPointer { b in
        let slots = UncheckedBox(b.baseAddress!)
        parallelRanges(n, minChunk: minChunk) { r in
            for i in r { slots.value[i] = make(i) }
        }
    }
    return out.map { $0! }
}

/// Hands a non-Sendable value (a closure over raw pointers to disjoint data) to workers.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}

// MARK: Data parallelism over independent batches
//
// For small and medium models, splitting one GEMM across cores leaves the elementwise kernels
// between GEMMs waiting on thread hand-offs, and OpenBLAS's own threads yield against ours. When
// the work is many independent batches (an entropy or perplexity pass), it is faster to give each
// core whole batches and let every GEMM run single-threaded in its caller.

/// Workers of `inParallelRounds`: the BLAS thread count, capped by `KE_THREADS`.
var parallelRoundSlots: Int { max(1, min(Int(openblas_get_num_threads()), elementwiseWorkers)) }

/// True while `inParallelRounds` runs workers: elementwise loops then stay on their worker.
nonisolated(unsafe) var elementwiseSerial = false

/// Runs `work(i, slot)` for i in 0..<count, `W` at a time (W = the BLAS thread count, capped by
/// `KE_THREADS`), each worker calling OpenBLAS single-threaded; then `combine(i, result)` on the
/// calling thread, in index order. `slot` (< `parallelRoundSlots`) is never used by two running
/// items at once, so per-slot workspaces can be reused. A last round with fewer than W items runs one item at a time
/// with all threads inside each GEMM. Results never depend on the number of workers, provided
/// `work` itself does not. The first error thrown by any `work` is rethrown after its round.
func inParallelRounds<R>(
    _ count: Int, work: (Int, Int) throws -> R, combine: (Int, R) throws -> Void
) throws {
    let blas = Int(openblas_get_num_threads())
    let W = parallelRoundSlots
    var i = 0
    while i < count {
        let n = min(W, count - i)
        if n < 2 || elementwiseSerial {
            try combine(i, try work(i, 0))
            i += 1
            continue
        }
        var results = [R?](repeating: nil, count: n)
        var errors = [Error?](repeating: nil, count: n)
        let first = i
        openblas_set_num_threads(1)
        elementwiseSerial = true
        results.withUnsafeMutableBufferPointer { res in
            errors.withUnsafeMutableBufferPointer { errs in
                withoutActuallyEscaping(work) { w in
                    let box = UncheckedBox((w, res, errs))
                    DispatchQueue.concurrentPerform(iterations: n) { j in
                        let (w, res, errs) = box.value
                        do { res[j] = try w(first + j, j) } catch { errs[j] = error }
                    }
                }
            }
        }
        elementwiseSerial = false
        openblas_set_num_threads(Int32(blas))
        if let e = errors.compactMap({ $0 }).first { throw e }
        for j in 0..<n {
            guard let r = results[j] else { throw CoreError("internal: a parallel batch produced no result") }
            try combine(first + j, r)
        }
        i += n
    }
}
