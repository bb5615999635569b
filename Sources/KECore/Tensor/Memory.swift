#if canImport(Glibc)
import Glibc
#endif

// MARK: Large buffers
//
// Activations, gradients and optimiser moments are tens to hundreds of MB. Touching fresh 4 KB
// pages one fault at a time cost several percent of a training step; transparent huge pages
// (2 MB) cut the faults 512-fold where the kernel offers them on request ("madvise" mode).

/// Asks the kernel for transparent huge pages on a large fresh buffer (fewer page faults when
/// it is first written). A hint only: failures are ignored.
func adviseHugePages(_ p: UnsafeMutableRawPointer, bytes: Int) {
    #if os(Linux)
    let page = 4096
    let start = (Int(bitPattern: p) + page - 1) / page * page
    let end = (Int(bitPattern: p) + bytes) / page * page
    if end - start >= 4 << 20 {
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE)
    }
    #endif
}

/// An uninitialised buffer of `count` floats (at least one), on huge pages when large.
func allocateFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
    adviseHugePages(UnsafeMutableRawPointer(p), bytes: max(1, count) * 4)
    return p
}

/// `count` zeros, on huge pages when large.
func zeroFloats(_ count: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { buf, n in
        if let base = buf.baseAddress {
            adviseHugePages(UnsafeMutableRawPointer(base), bytes: count * 4)
            base.initialize(repeating: 0, count: count)
        }
        n = count
    }
}
