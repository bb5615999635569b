import Foundation
import XCTest
@testable import KECore

/// The FFN activations (`Activation`, Sources/KECore/Model/Activation.swift) and their derivatives,
/// scalar and eight-lane forms, against transformers' `ACT2FN` and torch autograd in float32
/// (`Tests/Fixtures/activations/expected.json`, recorded by `Scripts/fixtures/activations.py`).
final class ActivationTests: XCTestCase {
    static let cases: [(String, Activation)] = [("gelu", .gelu), ("gelu_new", .geluTanh), ("silu", .silu), ("relu", .relu)]

    struct Reference {
        var x: [Float]
        var values: [String: [Float]] = [:]
        var grads: [String: [Float]] = [:]
    }

    func reference() throws -> Reference {
        let json = try JSONValue.parse(bytes: readFileBytes(Fixtures.root + "/activations/expected.json"))
        func floats(_ v: JSONValue?) throws -> [Float] {
            guard let a = v?.arrayValue else { throw CoreError("activations fixture: missing array") }
            return try a.map { guard let d = $0.doubleValue else { throw CoreError("activations fixture: not a number") }; return Float(d) }
        }
        var r = Reference(x: try floats(json["x"]))
        for (name, _) in Self.cases {
            r.values[name] = try floats(json[name]?["value"])
            r.grads[name] = try floats(json[name]?["grad"])
            XCTAssertEqual(r.values[name]?.count, r.x.count, name)
        }
        XCTAssertGreaterThan(r.x.count, 400)
        return r
    }

    /// f applied eight lanes at a time (the last group padded with zeros).
    func lanes(_ xs: [Float], _ f: (F8) -> F8) -> [Float] { VectorMathTests.lanes(xs, f) }

    func testValuesAndDerivativesMatchTorch() throws {
        let ref = try reference()
        for (name, a) in Self.cases {
            let forms: [(String, [Float], [Float])] = [
                ("scalar", ref.x.map { a($0) }, ref.x.map { a.derivative($0) }),
                ("lanes", lanes(ref.x) { a($0) }, lanes(ref.x) { a.derivative($0) }),
            ]
            for (form, values, grads) in forms {
                for (i, x) in ref.x.enumerated() {
                    let want = ref.values[name]![i], wantGrad = ref.grads[name]![i]
                    // Values: libm or the SIMD polynomials (erf ≤ 1.5e-7 absolute, exp/tanh a few ulp)
                    // against torch's kernels, scaled by ½|x| ≤ 20 and rounded to float32: 4e-6
                    // absolute below 1, relative above.
                    XCTAssertEqual(values[i], want, accuracy: 4e-6 * max(1, abs(want)), "\(name) \(form) act(\(x))")
                    // Derivatives (|act′| ≤ 1.13): ke's closed form against autograd's chain of the same
                    // float32 functions, a few ulp of terms ≤ 2 in size each: 4e-6 absolute.
                    XCTAssertEqual(grads[i], wantGrad, accuracy: 4e-6, "\(name) \(form) act′(\(x))")
                }
            }
        }
    }

    func testRowLoopsApplyTheFormulaToEveryElement() {
        // 37 elements: four groups of eight and a scalar tail of five.
        let x: [Float] = (0..<37).map { Float($0) * 0.31 - 5.2 }
        let u: [Float] = (0..<37).map { 1 + Float($0 % 5) * 0.25 }
        let g: [Float] = (0..<37).map { Float($0 % 7) - 3 }
        for (name, a) in Self.cases {
            // Lanes and scalar tail apply the same float32 operations in the same order: exact.
            var plain = x
            plain.withUnsafeMutableBufferPointer { activateInPlace($0.baseAddress!, count: 37, a) }
            var gated = x
            gated.withUnsafeMutableBufferPointer { p in u.withUnsafeBufferPointer { activateInPlace(p.baseAddress!, count: 37, a, times: $0.baseAddress!) } }
            var dPlain = g, dGated = g, dUp = [Float](repeating: .nan, count: 37), unused = dUp
            x.withUnsafeBufferPointer { pre in
                activationBackward(&dPlain, pre: pre.baseAddress!, up: nil, dup: &unused, count: 37, a)
                u.withUnsafeBufferPointer { activationBackward(&dGated, pre: pre.baseAddress!, up: $0.baseAddress!, dup: &dUp, count: 37, a) }
            }
            let eight = lanes(x) { a($0) }, eightGrad = lanes(x) { a.derivative($0) }
            for i in 0..<37 {
                let lane = i < 32
                XCTAssertEqual(plain[i], lane ? eight[i] : a(x[i]), "\(name)[\(i)]")
                XCTAssertEqual(gated[i], (lane ? eight[i] : a(x[i])) * u[i], "\(name) gated[\(i)]")
                XCTAssertEqual(dPlain[i], g[i] * (lane ? eightGrad[i] : a.derivative(x[i])), "\(name) backward[\(i)]")
                XCTAssertEqual(dUp[i], g[i] * (lane ? eight[i] : a(x[i])), "\(name) ∂up[\(i)]")
                XCTAssertEqual(dGated[i], g[i] * u[i] * (lane ? eightGrad[i] : a.derivative(x[i])), "\(name) ∂gate[\(i)]")
            }
            XCTAssertTrue(unused.allSatisfy(\.isNaN), "\(name): the plain backward leaves dup alone")
        }
    }
}
