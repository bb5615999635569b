import XCTest
@testable import KEShell

final class TranscriptTests: XCTestCase {
    func testNumbersWithinToleranceMatch() {
        XCTAssertTrue(Transcript.linesMatch("entropy 3.14159", "entropy 3.1416"))
        XCTAssertTrue(Transcript.linesMatch("loss = 2.5000", "loss = 2.5020"))   // 8e-4 relative
        XCTAssertFalse(Transcript.linesMatch("loss = 2.5000", "loss = 2.5100"))  // 4e-3 relative
        XCTAssertTrue(Transcript.linesMatch("x 0.0000001", "x 0.0000009"))      // absolute 1e-6
        XCTAssertFalse(Transcript.linesMatch("x 0.00001", "x 0.00003"))
        XCTAssertTrue(Transcript.linesMatch("[1.0, -2.0e-3]", "[1.0004, -2.0001e-3]"))
        XCTAssertTrue(Transcript.linesMatch("nan", "nan"))
        // Custom tolerance.
        XCTAssertTrue(Transcript.linesMatch("2.5", "2.6", tolerance: Tolerance(relative: 0.05)))
    }

    func testIntegersMustBeExact() {
        XCTAssertFalse(Transcript.linesMatch("1000 tokens", "1001 tokens"))
        XCTAssertTrue(Transcript.linesMatch("1000 tokens", "1000 tokens  "))
        XCTAssertTrue(Transcript.linesMatch("mean 2", "mean 2.0000001"))  // one side decimal: tolerance
    }

    func testTextMustMatchAndNamesKeepTheirDigits() {
        XCTAssertFalse(Transcript.linesMatch("entropy 3.14", "perplexity 3.14"))
        XCTAssertFalse(Transcript.linesMatch("layer12 0.5", "layer13 0.5"))
        XCTAssertFalse(Transcript.linesMatch("a 1 2", "a 1"))
        XCTAssertTrue(Transcript.linesMatch("a-1", "a-1"))
    }

    func testTimingsAreIgnored() {
        XCTAssertTrue(Transcript.linesMatch("trained in 1.52 seconds", "trained in 17.9 seconds"))
        XCTAssertTrue(Transcript.linesMatch("took 0.3s", "took 12s"))
        XCTAssertTrue(Transcript.linesMatch("step 3 (120 ms)", "step 3 (95 ms)"))
        XCTAssertTrue(Transcript.linesMatch("{\"seconds\": 1.5, \"loss\": 2.0}", "{\"seconds\": 9.25, \"loss\": 2.0}"))
        XCTAssertTrue(Transcript.linesMatch("wall_seconds = 3", "wall_seconds = 4"))
        XCTAssertFalse(Transcript.linesMatch("step 3 (120 ms)", "step 4 (120 ms)"))
        XCTAssertFalse(Transcript.linesMatch("3 steps", "4 steps"))
        XCTAssertEqual(Transcript.normalised("done in 2.5 seconds"), "done in <t> seconds")
    }

    func testAbsolutePathsAreNormalised() {
        XCTAssertEqual(Transcript.normalised("saved /tmp/abc123/run.json"), "saved <path>/run.json")
        XCTAssertTrue(Transcript.linesMatch("saved \"/home/a/x/run.json\"", "saved \"/work/b/run.json\""))
        XCTAssertFalse(Transcript.linesMatch("saved /tmp/a/run.json", "saved /tmp/a/other.json"))
        // Chart strokes and single slashes are not paths.
        XCTAssertEqual(Transcript.normalised("  /\\  /\\ a/b 1/2"), "  /\\  /\\ a/b 1/2")
    }

    func testDiffIsNilWhenMatchingAndUnifiedOtherwise() throws {
        let expected = "# title\n\n```text\nloss 2.000\n```\nend\n"
        XCTAssertNil(Transcript.diff(expected: expected, actual: "# title\n\n```text\nloss 2.0001\n```\nend\n"))
        let diff = try XCTUnwrap(Transcript.diff(expected: expected, actual: "# title\n\n```text\nloss 2.5\n```\nend\n",
                                                  expectedName: "a.md", actualName: "a.ke (this run)"))
        XCTAssertEqual(diff, """
            --- a.md
            +++ a.ke (this run)
            @@ -2,5 +2,5 @@
             
             ```text
            -loss 2.000
            +loss 2.5
             ```
             end

            """)
    }

    func testDiffInsertionsDeletionsAndSeparateHunks() throws {
        let a = (1...20).map { "line \($0)" }.joined(separator: "\n")
        var bLines = (1...20).map { "line \($0)" }
        bLines.remove(at: 2)            // delete "line 3"
        bLines.insert("new", at: 15)    // insert after "line 16" (index shifted)
        let diff = try XCTUnwrap(Transcript.diff(expected: a, actual: bLines.joined(separator: "\n")))
        XCTAssertEqual(diff.components(separatedBy: "\n@@").count - 1, 2, diff)
        XCTAssertTrue(diff.contains("-line 3\n"))
        XCTAssertTrue(diff.contains("+new\n"))
        XCTAssertFalse(diff.contains("line 10"))
        // Trailing blank lines do not count.
        XCTAssertNil(Transcript.diff(expected: "a\n\n\n", actual: "a"))
    }
}
