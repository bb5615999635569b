import Foundation

// MARK: Vectorised elementwise math
//
// `expf`, `erff` and `tanhf` from libm are scalar calls that the optimiser cannot vectorise,
// and they dominated the non-GEMM time of the forward pass (elementwise functions over
// N × d_ff values per layer; the output softmax over N × V). These SIMD versions use the Cephes
// range reduction and polynomials: exp to ~2 ulp; erf to ~3e-7 absolute (Maclaurin series below 0.6,
// Abramowitz & Stegun 7.1.26 above), far below the 1e-4 logit tolerance the parity tests hold us to.

typealias F8 = SIMD8<Float>

/// Eight floats from p[0..<8] (unaligned).
@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> F8 { F8(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]) }

/// Stores eight floats to p[0..<8] (unaligned).
@inline(__always)
func store8(_ v: F8, _ p: UnsafeMutablePointer<Float>) {
    p[0] = v[0]; p[1] = v[1]; p[2] = v[2]; p[3] = v[3]; p[4] = v[4]; p[5] = v[5]; p[6] = v[6]; p[7] = v[7]
}

/// e^x for eight lanes (inputs clamped to [−87.3, 88.7]: results stay finite and normal).
@inline(__always)
func vexp(_ xIn: F8) -> F8 {
    let x = vclamp(xIn, -87.3, 88.7)
    // Round x·log2(e) to the nearest integer with the 1.5·2²³ trick: adding it leaves the integer
    // in the low mantissa bits, so 2ⁿ is built with integer adds and shifts (no conversions).
    let magic = F8(repeating: 12_582_912)
    let t = x * 1.44269504088896341 + magic
    let n = t - magic
    var r = x - n * 0.693359375
    r = r - n * -2.12194440e-4
    var p = F8(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * r * r + r + 1
    let bits = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return y * unsafeBitCast(bits, to: F8.self)
}

/// erf(x) for eight lanes, absolute error below 1.5e-7.
@inline(__always)
func verf(_ x: F8) -> F8 {
    let a = vabs(x)
    let t = 1 / (1 + 0.3275911 * a)
    var p = F8(repeating: 1.061405429)
    p = p * t - 1.453152027
    p = p * t + 1.421413741
    p = p * t - 0.284496736
    p = p * t + 0.254829592
    var y = 1 - p * t * vexp(-a * a)
    y = y.replacing(with: -y, where: x .< 0)
    // Below 0.6 the Maclaurin series (9 terms, error < 1e-10) keeps the relative error small:
    // erf(x) = x · Σ_k c_k x^{2k}, c_k = 2/√π · (−1)^k / (k! (2k+1)), written out as literals so
    // the polynomial stays in registers.
    let x2 = x * x
    var s = F8(repeating: 1.646211437e-06)
    s = s * x2 + -1.492565036e-05
    s = s * x2 + 1.205533298e-04
    s = s * x2 + -8.548327023e-04
    s = s * x2 + 5.223977625e-03
    s = s * x2 + -2.686617065e-02
    s = s * x2 + 1.128379167e-01
    s = s * x2 + -3.761263890e-01
    s = s * x2 + 1.128379167e+00
    return y.replacing(with: x * s, where: a .< 0.6)
}

/// x clamped to [lo, hi] for eight lanes (NaN lanes become lo: they never reach an exponent).
@inline(__always)
func vclamp(_ x: F8, _ lo: Float, _ hi: Float) -> F8 {
    let l = F8(repeating: lo), h = F8(repeating: hi)
    var y = x.replacing(with: h, where: x .> h)
    y = y.replacing(with: l, where: .!(y .>= l))
    return y
}

/// |x| for eight lanes.
@inline(__always)
func vabs(_ x: F8) -> F8 { x.replacing(with: -x, where: x .< 0) }

/// tanh(x) for eight lanes, via e^{2x}; accurate to a few ulp away from 0 and exact-enough near 0.
@inline(__always)
func vtanh(_ x: F8) -> F8 {
    let c = vclamp(x, -9, 9)
    let e = vexp(2 * c)
    let y = (e - 1) / (e + 1)
    // Near 0 the subtraction loses relative precision: use the odd series there.
    let x2 = c * c
    var q = F8(repeating: -17.0 / 315)
    q = q * x2 + F8(repeating: 2.0 / 15)
    q = q * x2 + F8(repeating: -1.0 / 3)
    q = q * x2 + F8(repeating: 1)
    let series = c * q
    return y.replacing(with: series, where: vabs(c) .< 0.04)
}

/// In place: x[i] = e^(x[i] − shift); returns Σ x[i] (Float lanes, summed at the end).
@inline(__always)
func expShiftedInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int, shift: Float) -> Float {
    expShiftedSum(x, count: n, shift: shift, writingTo: x)
}

/// Σ e^(x[i] − shift) without writing x back.
@inline(__always)
func sumOfExpShifted(_ x: UnsafePointer<Float>, count n: Int, shift: Float) -> Float {
    expShiftedSum(x, count: n, shift: shift, writingTo: nil)
}

/// Σ e^(x[i] − shift): eight Float lanes summed at the end, plus the scalar tail; each term is
/// also stored to `out[i]` when `out` is given (`out` may be `x`).
@inline(__always)
private func expShiftedSum(
    _ x: UnsafePointer<Float>, count n: Int, shift: Float, writingTo out: UnsafeMutablePointer<Float>?
) -> Float {
    var acc = F8(repeating: 0)
    var i = 0
    let s = F8(repeating: shift)
    while i + 8 <= n {
        let e = vexp(load8(x + i) - s)
        if let out { store8(e, out + i) }
        acc += e
        i += 8
    }
    var tail: Float = 0
    while i < n { let e = expf(x[i] - shift); out?[i] = e; tail += e; i += 1 }
    return acc.sum() + tail
}

/// max_i x[i] (−∞ for n = 0).
@inline(__always)
func vmax(_ x: UnsafePointer<Float>, count n: Int) -> Float {
    var m = F8(repeating: -.infinity)
    var i = 0
    while i + 8 <= n {
        let v = load8(x + i)
        m = m.replacing(with: v, where: v .> m)
        i += 8
    }
    var r = m.max()
    while i < n { r = Swift.max(r, x[i]); i += 1 }
    return r
}
