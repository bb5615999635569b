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
    let workers = min(elementwiseWorkers, n / max(1, minChunk))
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

/// Hands a non-Sendable value (a closure over raw pointers to disjoint data) to workers.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}
