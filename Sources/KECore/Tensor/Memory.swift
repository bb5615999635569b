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

/// A copy of `a` on huge pages when large (for buffers that will be written, e.g. parameters
/// about to be trained: the copy-on-write copy would otherwise fault in 4 KB pages).
func privateCopy(_ a: [Float]) -> [Float] {
    a.withUnsafeBufferPointer { src in
        [Float](unsafeUninitializedCapacity: src.count) { buf, n in
            if let base = buf.baseAddress, let s = src.baseAddress {
                adviseHugePages(UnsafeMutableRawPointer(base), bytes: src.count * 4)
                base.initialize(from: s, count: src.count)
            }
            n = src.count
        }
    }
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

// MARK: Workspaces

/// Float buffers freed together, reusable across calls (training steps, inference batches).
///
/// `make` hands out buffers in order; after `reset`, the same sequence of requests gets the same
/// blocks back (re-zeroed), so a training loop touches fresh pages only on its first step.
final class Arena {
    private var blocks: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []
    private var cursor = 0

    /// A buffer of `count` floats (at least one), zero-filled unless `zeroed` is false (for
    /// buffers the caller overwrites completely before reading).
    func make(_ count: Int, zeroed: Bool = true) -> UnsafeMutablePointer<Float> {
        let n = max(1, count)
        if cursor < blocks.count, blocks[cursor].capacity >= n {
            let p = blocks[cursor].pointer
            if zeroed { p.update(repeating: 0, count: n) }
            cursor += 1
            return p
        }
        let p = allocateFloats(n)
        p.initialize(repeating: 0, count: zeroed ? n : 0)
        if cursor < blocks.count {
            blocks[cursor].pointer.deallocate()
            blocks[cursor] = (p, n)
        } else {
            blocks.append((p, n))
        }
        cursor += 1
        return p
    }

    /// Makes every block available again (their contents are dead).
    func reset() { cursor = 0 }

    deinit { for b in blocks { b.pointer.deallocate() } }
}
