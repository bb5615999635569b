import Foundation
import XCTest
@testable import KECore

/// The norms' row statistics run eight rows as the lanes of one SIMD8 chain (Model/Norm.swift):
/// the same bits as the one-row-at-a-time loops they replaced (written out here), forward and
/// backward, for every norm kind, with rows of edge values among ordinary ones.
final class NormLanesTests: XCTestCase {
    /// The LayerNorm/RMSNorm forward and backward as they were before the row statistics ran
    /// eight rows in lanes (one Float chain per row).
    struct OneRowNorm {
        var d: Int, eps: Float, rms: Bool, off: Float

        func forward(_ x: [Float], w: [Float]?, b: [Float]?) -> (y: [Float], mean: [Float], rstd: [Float]) {
            let n = x.count / d
            var y = [Float](repeating: 0, count: x.count), means = [Float](repeating: 0, count: n), rstds = means
            for r in 0..<n {
                let xr = Array(x[r * d..<(r + 1) * d])
                var mean: Float = 0, rstd: Float
                if rms {
                    var ss: Float = 0
                    for j in 0..<d { ss += xr[j] * xr[j] }
                    rstd = 1 / (ss / Float(d) + eps).squareRoot()
                } else {
                    var sum: Float = 0
                    for j in 0..<d { sum += xr[j] }
                    mean = sum / Float(d)
                    var v: Float = 0
                    for j in 0..<d { let t = xr[j] - mean; v += t * t }
                    rstd = 1 / (v / Float(d) + eps).squareRoot()
                }
                means[r] = mean; rstds[r] = rstd
                for j in 0..<d {
                    if rms {
                        y[r * d + j] = off == 0 ? xr[j] * rstd * w![j] : xr[j] * rstd * (w![j] + off)
                    } else if let w, let b {
                        y[r * d + j] = (xr[j] - mean) * rstd * w[j] + b[j]
                    } else if let w {
                        y[r * d + j] = (xr[j] - mean) * rstd * w[j]
                    } else {
                        y[r * d + j] = (xr[j] - mean) * rstd
                    }
                }
            }
            return (y, means, rstds)
        }

        func backward(dy: [Float], x: [Float], mean: [Float], rstd: [Float], w: [Float]?,
                      dx: inout [Float], dw: inout [Float], db: inout [Float]) {
            let invD = 1 / Float(d)
            for r in 0..<x.count / d {
                let mu: Float = rms ? 0 : mean[r], rs = rstd[r]
                var sumG: Float = 0, sumGX: Float = 0
                func scaled(_ g: Float, _ j: Int) -> Float {
                    guard let w else { return g }
                    return off == 0 ? g * w[j] : g * (w[j] + off)
                }
                for j in 0..<d {
                    let xh = (x[r * d + j] - mu) * rs
                    let g = scaled(dy[r * d + j], j)
                    sumG += g
                    sumGX += g * xh
                    dw[j] += dy[r * d + j] * xh
                    db[j] += dy[r * d + j]
                }
                let mG = rms ? 0 : sumG * invD, mGX = sumGX * invD
                for j in 0..<d {
                    dx[r * d + j] += rs * (scaled(dy[r * d + j], j) - mG - (x[r * d + j] - mu) * rs * mGX)
                }
            }
        }
    }

    func testNormRowsInLanesGiveTheOneRowBits() {
        // 19 rows: two groups of eight and three single rows; a width that is no multiple of 8.
        let rows = 19
        for d in [37, 64] {
            for (kind, off) in [(NormKind.layerNorm(bias: true), Float(0)), (.layerNorm(bias: false), 0), (.nonParametricLayerNorm, 0), (.rmsNorm, 0), (.rmsNorm, 1)] {
                let rms = kind == .rmsNorm, parametric = kind != .nonParametricLayerNorm
                let norm = Norm(kind: kind, dim: d, eps: 1e-5, weightOffset: off)
                let old = OneRowNorm(d: d, eps: 1e-5, rms: rms, off: off)
                // The edge values in rows 3 and 4 (inside the first group of eight): their
                // statistics are ∞ or NaN, and the other lanes' rows must not notice.
                var x = ElementwiseKernelTests.inputs(rows * d, scale: 3, seed: UInt64(d)).map { $0.isFinite ? $0 : 2 }
                x.replaceSubrange(3 * d..<3 * d + ElementwiseKernelTests.edges.count, with: ElementwiseKernelTests.edges)
                let w = parametric ? ElementwiseKernelTests.inputs(d, scale: 1, seed: 3).map { $0.isFinite ? $0 : 0.5 } : nil
                let b = kind == .layerNorm(bias: true) ? ElementwiseKernelTests.inputs(d, scale: 1, seed: 4).map { $0.isFinite ? $0 : 0.25 } : nil
                let want = old.forward(x, w: w, b: b)
                var y = [Float](repeating: .nan, count: rows * d)
                var mean = [Float](repeating: .nan, count: rows), rstd = mean
                withPointer(w) { wp in
                    withPointer(b) { bp in normForward(norm, x, &y, rows: rows, w: wp, b: bp, saveMean: &mean, saveRstd: &rstd) }
                }
                let what = "\(kind) offset \(off) d \(d)"
                assertSameBits(y, want.y, "y " + what)
                assertSameBits(rstd, want.rstd, "rstd " + what)
                if !rms { assertSameBits(mean, want.mean, "mean " + what) }

                let dy = ElementwiseKernelTests.inputs(rows * d, scale: 2, seed: 11).map { $0.isFinite ? $0 : 1 }
                var dxOld = ElementwiseKernelTests.inputs(rows * d, scale: 1, seed: 12), dwOld = ElementwiseKernelTests.inputs(d, scale: 1, seed: 13)
                var dbOld = ElementwiseKernelTests.inputs(d, scale: 1, seed: 14)
                var dxNew = dxOld, dwNew = dwOld, dbNew = dbOld
                old.backward(dy: dy, x: x, mean: want.mean, rstd: want.rstd, w: w, dx: &dxOld, dw: &dwOld, db: &dbOld)
                withPointer(w) { wp in
                    normBackward(norm, dy: dy, x: x, mean: want.mean, rstd: want.rstd, rows: rows, w: wp,
                                 dx: &dxNew, dw: &dwNew, db: &dbNew)
                }
                assertSameBits(dxNew, dxOld, "dx " + what)
                assertSameBits(dwNew, dwOld, "dw " + what)
                assertSameBits(dbNew, dbOld, "db " + what)
            }
        }
    }

    /// body(a's base address), or body(nil) for no array.
    func withPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let a else { return body(nil) }
        return a.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
