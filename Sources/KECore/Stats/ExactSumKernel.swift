import CKernels

// MARK: Exact column sums of |coefficient|
//
// The entropy statistics add |a[r, j]| over every token r of a corpus for every memory j. Done in
// float, the result would depend on the order of the rows, and so on batching and threads;
// `ExactSums` keeps fixed-point integers instead, and these kernels fill them.

/// sums[j] += Σ_r |a[r, j]| exactly (see `ExactSums`); columns are split across cores. The
/// fixed-point sums are integers, so the result depends neither on the thread count nor on
/// which rows share a batch.
func accumulateExactAbsColumnSums(_ a: UnsafePointer<Float>, rows n: Int, cols f: Int, into sums: ExactSumPointers) {
    if n * f < 1 << 16 {
        accumulateExactAbsColumnSums(a, rows: n, cols: f, rowStride: f, into: sums)
        return
    }
    parallelRanges(f, minChunk: 64) { cols in
        accumulateExactAbsColumnSums(a + cols.lowerBound, rows: n, cols: cols.count, rowStride: f,
                                     into: sums.advanced(by: cols.lowerBound))
    }
}

/// sums[j] += Σ_r |a[r · rowStride + j]| for j < f: each |a| in [2^-40, 2^16) (or 0) is split
/// into whole units of 2^-32 (added to `hi`) and the rest in units of 2^-64 (added to `lo`): exact,
/// since a float32 of at least 2^-40 has no bits below 2^-64. Smaller, larger or non-finite
/// values are added to `extra` in row order, so a memory whose coefficients are all tiny keeps
/// its (tiny, nonzero) mean instead of truncating to 0.
///
/// The in-range part runs on the float bits in `ke_exact_abs_column_sums` (vector integer
/// arithmetic: m·2^(e−86) split at 2^32, the same integers as ⌊|a|·2^32⌋ and the remainder in
/// Double); the rare out-of-range values are then added here, in row order.
@inline(__always)
func accumulateExactAbsColumnSums(_ a: UnsafePointer<Float>, rows n: Int, cols f: Int, rowStride: Int, into sums: ExactSumPointers) {
    var outside: Int32 = 0
    ke_exact_abs_column_sums(a, n, f, rowStride, sums.hi, sums.lo, &outside)
    if outside == 0 { return }
    let extra = sums.extra
    for r in 0..<n {
        let row = a + r * rowStride
        for j in 0..<f {
            let x = Double(abs(row[j]))
            let d = x * 0x1p32
            if !(d < 0x1p48 && (d >= 0x1p-8 || x == 0)) { extra[j] += x }
        }
    }
}
