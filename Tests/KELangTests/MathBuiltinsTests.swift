import XCTest
@testable import KELang

/// log, exp, sqrt on numbers and lists, and their domain errors.
final class MathBuiltinsTests: XCTestCase {
    func testEntropyOfADistributionCanBeWrittenInTheLanguage() {
        let r = runKE("""
            let p = [0.5, 0.25, 0.25]
            -(sum (p * log p))
            log 256
            exp 0
            sqrt [4, 9]
            """, json: true)
        XCTAssertTrue(r.ok, r.errors.joined())
        XCTAssertEqual(r.outputs.count, 4)
        // Double entropy of (½, ¼, ¼) printed with round-trip digits: 1.5 log 2 to a few ulps
        XCTAssertEqual(Double(r.outputs[0]) ?? 0, 1.5 * log(2.0), accuracy: 1e-12)
        // log 256 in Double, printed with round-trip digits: exact or an ulp
        XCTAssertEqual(Double(r.outputs[1]) ?? 0, log(256.0), accuracy: 1e-12)
        XCTAssertEqual(r.outputs[2], "1")
        XCTAssertEqual(r.outputs[3], "[2,3]")
    }

    func testDomainErrorsAreErrorsNotNaN() {
        for (src, message) in [("log 0", "'log' needs a positive number, found 0"),
                               ("sqrt [1, -4]", "'sqrt' needs a non-negative number, found -4"),
                               ("exp 1000", "'exp' needs a number below 709, found 1000"),
                               ("log \"x\"", "expected a number or a list of numbers")] {
            let r = runKE(src)
            XCTAssertFalse(r.ok, src)
            XCTAssertTrue(r.errors.joined().contains(message), "\(src): \(r.errors)")
        }
    }
}
