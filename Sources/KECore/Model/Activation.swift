import CKernels
import Foundation

// MARK: The FFN activations: one formula each, its derivative, and the loops over rows
//
// Each activation and its derivative is written once, generically over `ActivationLanes`: one
// Float (libm's expf, erff, tanhf) or eight lanes (`F8`, the SIMD approximations of
// Tensor/VectorMath.swift). The hot loops run eight lanes at a time and finish the row with
// the scalar form; both apply the same operations in the same order. On AVX-512 CPUs the groups of
// eight run sixteen lanes at a time in C (Sources/CKernels/elementwise.c, the same operations).
//
//   gelu(x)      = x·Φ(x) = ½x(1 + erf(x/√2))                     (Hendrycks & Gimpel 2016)
//   gelu_tanh(x) = ½x(1 + tanh(√(2/π)(x + 0.044715x³)))            (the same paper's approximation)
//   silu(x)      = x·σ(x) = x / (1 + e^(−x))                       (Elfwing et al. 2018)
//   relu(x)      = max(x, 0)
//
// Gated MLPs (SwiGLU, GeGLU: Shazeer 2020) multiply act(gate·h) by up·h; `activateInPlace` and
// `activationBackward` take the `up` factor as an optional argument.

/// FFN activation, named as transformers' `ACT2FN` keys map them.
public enum Activation: String, Sendable {
    /// `gelu`: the exact erf form.
    case gelu
    /// `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`: the tanh approximation.
    case geluTanh
    /// `silu` / `swish`.
    case silu
    /// `relu`.
    case relu
}

/// The number types the activation formulas are written for: `Float` (scalar tails, tests) and
/// `F8` (eight lanes). Literals in the formulas are `Float`, so both types compute the same
/// float32 operations.
protocol ActivationLanes {
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    static func / (a: Self, b: Self) -> Self
    static func + (a: Float, b: Self) -> Self
    static func - (a: Float, b: Self) -> Self
    static func * (a: Float, b: Self) -> Self
    static func / (a: Float, b: Self) -> Self
    static func * (a: Self, b: Float) -> Self
    static prefix func - (a: Self) -> Self
    /// e^x.
    static func exp(_ x: Self) -> Self
    /// erf(x).
    static func erf(_ x: Self) -> Self
    /// tanh(x).
    static func tanh(_ x: Self) -> Self
    /// max(x, 0) (the comparison differs: a scalar `x > 0 ? x : 0`, lanes keep x unless x < 0).
    var relu: Self { get }
    /// 1 where x > 0, else 0.
    var step: Self { get }
}

extension Float: ActivationLanes {
    @inline(__always) static func exp(_ x: Float) -> Float { expf(x) }
    @inline(__always) static func erf(_ x: Float) -> Float { erff(x) }
    @inline(__always) static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inline(__always) var relu: Float { self > 0 ? self : 0 }
    @inline(__always) var step: Float { self > 0 ? 1 : 0 }
}

extension SIMD8: ActivationLanes where Scalar == Float {
    @inline(__always) static func exp(_ x: F8) -> F8 { vexp(x) }
    @inline(__always) static func erf(_ x: F8) -> F8 { verf(x) }
    @inline(__always) static func tanh(_ x: F8) -> F8 { vtanh(x) }
    @inline(__always) var relu: F8 { replacing(with: 0, where: self .< 0) }
    @inline(__always) var step: F8 { F8(repeating: 1).replacing(with: 0, where: .!(self .> 0)) }
}

extension Activation {
    /// act(x), per lane.
    @inline(__always)
    func callAsFunction<T: ActivationLanes>(_ x: T) -> T {
        switch self {
        case .silu: return x / (1 + T.exp(-x))
        case .gelu: return 0.5 * x * (1 + T.erf(x * 0.70710678118654752))
        case .geluTanh:
            let inner = x + 0.044715 * x * x * x
            let t = T.tanh(0.79788456080286536 * inner)  // √(2/π)
            return 0.5 * x * (1 + t)
        case .relu: return x.relu
        }
    }

    /// d act(x) / dx, per lane.
    @inline(__always)
    func derivative<T: ActivationLanes>(_ x: T) -> T {
        switch self {
        case .silu:
            let s = 1 / (1 + T.exp(-x))
            return s * (1 + x * (1 - s))
        case .gelu:
            let cdf = 0.5 * (1 + T.erf(x * 0.70710678118654752))
            let pdf = T.exp(-0.5 * x * x) * 0.39894228040143268  // 1/√(2π)
            return cdf + x * pdf
        case .geluTanh:
            let k: Float = 0.79788456080286536
            let t = T.tanh(k * (x + 0.044715 * x * x * x))
            let du = k * (1 + 3 * 0.044715 * x * x)
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
        case .relu: return x.step
        }
    }
}

/// Where the activation loops (`activate`, `activationBackward`) run their lanes. Both apply the
/// SIMD8 formulas' operations in the same order, so they give the same bits
/// (ElementwiseKernelTests); the wider one computes more elements per instruction. Rows finish
/// with the scalar form past their last whole group of eight either way. (The softmax's
/// exponentials stay in SIMD8: sixteen lanes ran 1.4× faster on rows in L1 but no faster in the
/// passes, where the rows of logits arrive from memory.)
enum ElementwiseKernel: Sendable, CaseIterable {
    /// Sixteen AVX-512 lanes (C, Sources/CKernels/elementwise.c).
    case avx512
    /// Eight Swift SIMD lanes: any CPU.
    case simd8

    /// The widest this CPU runs (the choice of `GEMMMicroKernel`'s AVX-512 tile).
    static let preferred: ElementwiseKernel = ke_cpu_has_avx512() != 0 ? .avx512 : .simd8
}

extension Activation {
    /// The kind number of the C kernels (`KE_ACT_*`, Sources/CKernels/include/KEElementwise.h).
    var kernelKind: Int32 {
        switch self {
        case .gelu: return Int32(KE_ACT_GELU)
        case .geluTanh: return Int32(KE_ACT_GELU_TANH)
        case .silu: return Int32(KE_ACT_SILU)
        case .relu: return Int32(KE_ACT_RELU)
        }
    }
}

/// One row of `n` floats: y[i] = act(x[i]), times u[i] when `u` is given (the gated product
/// act(gate·h)·(up·h)). `y` may be `x` (in place). The whole groups of eight run on `kernel`'s
/// lanes, the rest in the scalar form.
func activate(
    _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int, _ a: Activation,
    times u: UnsafePointer<Float>? = nil, kernel: ElementwiseKernel = .preferred
) {
    var i = 0
    if kernel == .avx512 {
        i = n / 8 * 8
        ke_activate_avx512(a.kernelKind, x, u, y, i)
    }
    if let u {
        while i + 8 <= n {
            store8(a(load8(x + i)) * load8(u + i), y + i)
            i += 8
        }
        while i < n { y[i] = a(x[i]) * u[i]; i += 1 }
    } else {
        while i + 8 <= n {
            store8(a(load8(x + i)), y + i)
            i += 8
        }
        while i < n { y[i] = a(x[i]); i += 1 }
    }
}

/// In place on one row of `n` floats: x[i] = act(x[i]), times u[i] when `u` is given.
func activateInPlace(
    _ x: UnsafeMutablePointer<Float>, count n: Int, _ a: Activation, times u: UnsafePointer<Float>? = nil,
    kernel: ElementwiseKernel = .preferred
) {
    activate(x, into: x, count: n, a, times: u, kernel: kernel)
}

/// Backward of `activate`, in place on the coefficient gradient `g` (= ∂L/∂coef) of one
/// row of `n`: plain, g[i] ← g[i]·act′(pre[i]); gated (coef = act(pre)·up), dup[i] ←
/// g[i]·act(pre[i]) and g[i] ← g[i]·up[i]·act′(pre[i]). Whole groups of eight on `kernel`'s lanes.
func activationBackward(
    _ g: UnsafeMutablePointer<Float>, pre: UnsafePointer<Float>, up: UnsafePointer<Float>?,
    dup: UnsafeMutablePointer<Float>, count n: Int, _ a: Activation, kernel: ElementwiseKernel = .preferred
) {
    var i = 0
    if kernel == .avx512 {
        i = n / 8 * 8
        ke_activation_backward_avx512(a.kernelKind, g, pre, up, dup, i)
    }
    if let up {
        while i + 8 <= n {
            let dc = load8(g + i), p = load8(pre + i)
            store8(dc * a(p), dup + i)
            store8(dc * load8(up + i) * a.derivative(p), g + i)
            i += 8
        }
        while i < n {
            let dc = g[i], p = pre[i]
            dup[i] = dc * a(p)
            g[i] = dc * up[i] * a.derivative(p)
            i += 1
        }
    } else {
        while i + 8 <= n {
            store8(load8(g + i) * a.derivative(load8(pre + i)), g + i)
            i += 8
        }
        while i < n { g[i] *= a.derivative(pre[i]); i += 1 }
    }
}
