import Foundation
import XCTest
@testable import KECore

/// The elementwise loops give the same bits however their lanes run: the AVX-512 kernels
/// (Sources/CKernels/elementwise.c) against the Swift SIMD8 forms, on random inputs with edge
/// values (±0, subnormals, huge, ±∞, NaN, the formulas' branch points).
final class ElementwiseKernelTests: XCTestCase {
    static let edges: [Float] = [
        0, -0.0, 1, -1, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 1e-40, -1e-40, .leastNormalMagnitude,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .infinity, -.infinity, .nan, -.nan,
        88.7, -87.3, 88.8, -87.4, 100, -100, 0.6, -0.6, Float(0.6).nextDown, 0.04, -0.04, Float(0.04).nextUp, 9, -9, 9.5,
        1e-8, -1e-8, 20, -20, 4.5, -4.5, 1e20, -1e20,
    ]

    /// `n` values: the edge values once each, then uniform in [−scale, scale).
    static func inputs(_ n: Int, scale: Float, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { i in
            i < edges.count ? edges[i] : (Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    var kernels: [ElementwiseKernel] {
        ElementwiseKernel.preferred == .avx512 ? [.avx512] : []
    }

    func testActivationKernelsGiveTheSIMD8Bits() throws {
        if kernels.isEmpty { throw XCTSkip("this CPU has no AVX-512: only the SIMD8 form runs") }
        // 1003 = 125 groups of eight (62 of sixteen and one of eight) and a scalar tail of three.
        let n = 1003
        for scale: Float in [1, 6, 40] {
            let x = Self.inputs(n, scale: scale, seed: 7), u = Self.inputs(n, scale: 3, seed: 8).reversed().map { $0 }
            let g = Self.inputs(n, scale: 2, seed: 9).reversed().map { $0 }
            for a in ActivationTests.cases.map { $0.1 } {
                func forward(_ k: ElementwiseKernel, gated: Bool) -> [Float] {
                    var y = [Float](repeating: .nan, count: n)
                    x.withUnsafeBufferPointer { xp in
                        u.withUnsafeBufferPointer { up in
                            activate(xp.baseAddress!, into: &y, count: n, a, times: gated ? up.baseAddress! : nil, kernel: k)
                        }
                    }
                    return y
                }
                func backward(_ k: ElementwiseKernel, gated: Bool) -> ([Float], [Float]) {
                    var dc = g, dup = [Float](repeating: .nan, count: n)
                    x.withUnsafeBufferPointer { xp in
                        u.withUnsafeBufferPointer { up in
                            activationBackward(&dc, pre: xp.baseAddress!, up: gated ? up.baseAddress! : nil, dup: &dup, count: n, a, kernel: k)
                        }
                    }
                    return (dc, dup)
                }
                for k in kernels {
                    for gated in [false, true] {
                        let what = "\(a) \(k) gated \(gated) scale \(scale)"
                        assertSameBits(forward(k, gated: gated), forward(.simd8, gated: gated), "act " + what)
                        let (dNew, upNew) = backward(k, gated: gated), (dOld, upOld) = backward(.simd8, gated: gated)
                        assertSameBits(dNew, dOld, "backward " + what)
                        assertSameBits(upNew, upOld, "∂up " + what)
                    }
                    // In place (the inference buffers) as out of place.
                    var inPlace = x
                    inPlace.withUnsafeMutableBufferPointer { activateInPlace($0.baseAddress!, count: n, a, kernel: k) }
                    assertSameBits(inPlace, forward(.simd8, gated: false), "in place \(a) \(k)")
                }
            }
        }
    }

    func testRowMaximumIsTheStandardLibraryReduction() {
        // vmax as it was: eight lanes, then `SIMD8.max()`, then the scalar tail.
        func old(_ x: [Float]) -> Float {
            var m = F8(repeating: -.infinity), i = 0
            while i + 8 <= x.count {
                let v = F8(x[i..<i + 8])
                m = m.replacing(with: v, where: v .> m)
                i += 8
            }
            var r = m.max()
            while i < x.count { r = Swift.max(r, x[i]); i += 1 }
            return r
        }
        var rng = SplitMix64(seed: 5)
        for n in [0, 3, 8, 13, 16, 64, 100] {
            for trial in 0..<50 {
                // Rows of ±0 and a few other values, so ties between +0 and −0 decide the sign.
                let pool: [Float] = trial < 25 ? [0, -0.0, -1, -.infinity] : [0, -0.0, 1, .nan, -.nan, -2, 3.5]
                let x = (0..<n).map { _ in pool[rng.below(pool.count)] }
                let got = x.withUnsafeBufferPointer { vmax($0.baseAddress!, count: n) }
                assertSameBits([got], [old(x)], "vmax \(x)")
            }
        }
    }
}

/// Same bits, or both NaN (a NaN's sign and payload follow operand order, which the compilers
/// may commute: no value depends on them).
func assertSameBits(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, what, file: file, line: line)
    for i in 0..<min(a.count, b.count) where !(a[i].isNaN && b[i].isNaN) && a[i].bitPattern != b[i].bitPattern {
        XCTFail("\(what)[\(i)]: \(a[i]) vs \(b[i])", file: file, line: line)
        return
    }
}
