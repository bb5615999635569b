import Foundation
import XCTest
@testable import KECore

/// The SIMD exp/erf/tanh and softmax helpers against libm over a dense grid of inputs.
final class VectorMathTests: XCTestCase {
    static func grid() -> [Float] {
        var xs: [Float] = []
        var x: Float = -30
        while x <= 30 { xs.append(x); x += 0.0173 }
        return xs + [0, -0.0, 1e-8, -1e-8, 80, -80, 100, -100]
    }

    static func lanes(_ xs: [Float], _ f: (F8) -> F8) -> [Float] {
        var out: [Float] = []
        var i = 0
        while i < xs.count {
            var v = F8(repeating: 0)
            for j in 0..<8 where i + j < xs.count { v[j] = xs[i + j] }
            let r = f(v)
            for j in 0..<8 where i + j < xs.count { out.append(r[j]) }
            i += 8
        }
        return out
    }

    func testExpIsAccurateToAFewUlp() {
        let xs = Self.grid().filter { $0 > -87 && $0 < 88 }
        for (x, y) in zip(xs, Self.lanes(xs, vexp)) {
            let want = expf(x)
            // Cephes polynomial exp is ~2 ulp and libm's expf ≤ 1 ulp: 4 ulp covers both
            XCTAssertEqual(y, want, accuracy: 4 * want.ulp, "exp(\(x))")
        }
    }

    func testErfAndTanh() {
        let xs = Self.grid()
        // erf polynomial: < 1.5e-7 absolute (see verf), libm ≤ 1 ulp: 3e-7 absolute or 4 ulp
        for (x, y) in zip(xs, Self.lanes(xs, verf)) { XCTAssertEqual(y, erff(x), accuracy: max(3e-7, 4 * abs(erff(x)).ulp), "erf(\(x))") }
        for (x, y) in zip(xs, Self.lanes(xs, vtanh)) {
            // tanh via e^{2x}: a few ulp, or ~3e-7 absolute near 0 where the ulp vanishes
            XCTAssertEqual(y, tanhf(x), accuracy: max(3e-7, 4 * abs(tanhf(x)).ulp), "tanh(\(x))")
        }
    }

    func testSoftmaxHelpers() {
        var row: [Float] = (0..<37).map { Float($0) * 0.37 - 5 }
        let mx = row.withUnsafeBufferPointer { vmax($0.baseAddress!, count: $0.count) }
        XCTAssertEqual(mx, row.max())
        let want = row.reduce(Float(0)) { $0 + expf($1 - mx) }
        let s1 = row.withUnsafeBufferPointer { sumOfExpShifted($0.baseAddress!, count: $0.count, shift: mx) }
        let s2 = row.withUnsafeMutableBufferPointer { expShiftedInPlace($0.baseAddress!, count: $0.count, shift: mx) }
        // 37 exps (≤ 2 ulp each) summed in 8 lanes vs in sequence, float32: a few 1e-7 relative; 1e-5
        XCTAssertEqual(s1, want, accuracy: 1e-5 * want)
        // Same sum, written-back variant: same bound
        XCTAssertEqual(s2, want, accuracy: 1e-5 * want)
        // Exact: the maximum (index 36, in the scalar tail) is expf(0) = 1
        XCTAssertEqual(row[36], 1)
    }
}
