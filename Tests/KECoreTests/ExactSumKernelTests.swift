import XCTest
@testable import KECore

/// The column sums of |coefficient| on the float bits give the integers (and the row-ordered
/// Double remainder) of the definition: hi += ⌊|a|·2^32⌋, lo += (|a|·2^32 − ⌊|a|·2^32⌋)·2^32
/// in Double for 2^-40 ≤ |a| < 2^16 or a = 0; everything else added to `extra` in row order.
final class ExactSumKernelTests: XCTestCase {
    func definition(_ a: [Float], rows: Int, cols: Int, rowStride: Int) -> ([UInt64], [UInt64], [Double]) {
        var hi = [UInt64](repeating: 0, count: cols), lo = hi, extra = [Double](repeating: 0, count: cols)
        for r in 0..<rows {
            for j in 0..<cols {
                let x = Double(abs(a[r * rowStride + j]))
                let d = x * 0x1p32
                if d < 0x1p48 && (d >= 0x1p-8 || x == 0) {
                    let whole = d.rounded(.down)
                    hi[j] &+= UInt64(whole)
                    lo[j] &+= UInt64((d - whole) * 0x1p32)
                } else {
                    extra[j] += x
                }
            }
        }
        return (hi, lo, extra)
    }

    func kernel(_ a: [Float], rows: Int, cols: Int, rowStride: Int) -> ([UInt64], [UInt64], [Double]) {
        var hi = [UInt64](repeating: 0, count: cols), lo = hi, extra = [Double](repeating: 0, count: cols)
        a.withUnsafeBufferPointer { pa in
            hi.withUnsafeMutableBufferPointer { h in lo.withUnsafeMutableBufferPointer { l in extra.withUnsafeMutableBufferPointer { e in
                accumulateExactAbsColumnSums(pa.baseAddress!, rows: rows, cols: cols, rowStride: rowStride,
                                             into: ExactSumPointers(hi: h.baseAddress!, lo: l.baseAddress!, extra: e.baseAddress!))
            }}}
        }
        return (hi, lo, extra)
    }

    func testTheBitsGiveTheDefinitionsIntegers() {
        var rng = TestRNG(41)
        let (rows, cols, stride) = (37, 53, 61)
        // Every range boundary, then random values of every magnitude (2^-50 … 2^20, both signs),
        // zeros, random bit patterns (subnormals, infinities, NaNs) and ordinary activations.
        let edges: [Float] = [0, -0, 0x1p-40, Float(0x1p-40).nextDown, 0x1p16, Float(0x1p16).nextDown, -0x1p15,
                              .leastNonzeroMagnitude, .leastNormalMagnitude, .infinity, -.infinity, .greatestFiniteMagnitude,
                              0x1p-32, Float(0x1p-32).nextUp, 1, Float(1).nextDown, 0x1.fffffep-9, 3]
        var a = [Float](repeating: 0, count: rows * stride)
        for i in a.indices {
            switch rng.next() % 4 {
            case 0: a[i] = (rng.uniform() * 2 - 1) * Float(sign: .plus, exponent: Int(rng.next() % 70) - 50, significand: 1)
            case 1: a[i] = rng.uniform() * 4 - 2
            case 2: a[i] = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
            default: a[i] = 0
            }
        }
        for (i, e) in edges.enumerated() { a[i * 3] = e }
        let want = definition(a, rows: rows, cols: cols, rowStride: stride)
        let got = kernel(a, rows: rows, cols: cols, rowStride: stride)
        XCTAssertEqual(got.0, want.0)
        XCTAssertEqual(got.1, want.1)
        XCTAssertEqual(got.2.map(\.bitPattern), want.2.map(\.bitPattern))
        // Ordinary activations only: nothing reaches `extra`.
        let plain = (0..<(rows * stride)).map { _ in rng.uniform() * 8 - 4 }
        let w = definition(plain, rows: rows, cols: cols, rowStride: stride), g = kernel(plain, rows: rows, cols: cols, rowStride: stride)
        XCTAssertEqual(g.0, w.0)
        XCTAssertEqual(g.1, w.1)
        XCTAssertEqual(g.2, [Double](repeating: 0, count: cols))
    }
}
