import Foundation
import XCTest
@testable import KEShell

/// Notebooks on the real language (numbers, lists, charts only: no models needed).
final class NotebookSessionTests: XCTestCase {
    let script = """
        ## Squares
        # A list and its summary.

        let xs = [1, 2, 3, 4]
        xs
        sum xs
        let quiet = 1

        # Means are decimals.
        mean [1, 2]
        for i in range 2 { i * 10 }
        """

    func testGoldenTranscript() {
        let (markdown, ok) = Notebook.render(script: script, file: "/somewhere/squares.ke")
        XCTAssertTrue(ok)
        XCTAssertEqual(markdown, """
            <!-- Transcript of squares.ke, written by `ke --notebook`; `ke --update squares.ke` rewrites it. -->

            # Squares
            A list and its summary.

            ```ke
            let xs = [1, 2, 3, 4]
            ```

            ```ke
            xs
            ```

            ```text
            [1, 2, 3, 4]
            ```

            ```ke
            sum xs
            ```

            ```text
            10
            ```

            ```ke
            let quiet = 1
            ```

            Means are decimals.

            ```ke
            mean [1, 2]
            ```

            ```text
            1.5
            ```

            ```ke
            for i in range 2 { i * 10 }
            ```

            ```text
            0
            10
            ```

            """)
    }

    func testChartsAreASCIIAtWidth80AndErrorsStopTheRun() {
        let source = """
            plot [[1, 4, 9, 16]] title "squares"
            missing + 1
            2 + 2
            """
        let (markdown, ok) = Notebook.render(script: source, file: "c.ke")
        XCTAssertFalse(ok)
        XCTAssertTrue(markdown.contains("squares"), markdown)
        let chartLines = markdown.split(separator: "\n").filter { $0.contains("+") || $0.contains("|") }
        XCTAssertGreaterThan(chartLines.count, 5, markdown)
        for line in markdown.split(separator: "\n") {
            XCTAssertLessThanOrEqual(line.count, 100, String(line))  // the comment header is the longest line
            XCTAssertTrue(line.unicodeScalars.allSatisfy { $0.isASCII } || line.contains("<!--"), String(line))
        }
        XCTAssertTrue(markdown.contains("c.ke:2:1: error:"), markdown)
        XCTAssertFalse(markdown.contains("2 + 2"), "the run stops at the first error")
    }

    func testUpdateCheckAndExitCodes() throws {
        let dir = NSTemporaryDirectory() + "ke-nbs-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/squares.ke"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(Notebook.run(scriptPath: path, mode: .check(tolerance: .standard)), 1)  // no transcript yet
        XCTAssertEqual(Notebook.run(scriptPath: path, mode: .update), 0)
        XCTAssertEqual(Notebook.run(scriptPath: path, mode: .check(tolerance: .standard)), 0)
        let md = dir + "/squares.md"
        let stored = try String(contentsOfFile: md, encoding: .utf8)
        try stored.replacingOccurrences(of: "\n1.5\n", with: "\n1.5001\n").write(toFile: md, atomically: true, encoding: .utf8)
        XCTAssertEqual(try Notebook.check(scriptPath: path).ok, true)
        try stored.replacingOccurrences(of: "\n1.5\n", with: "\n1.6\n").write(toFile: md, atomically: true, encoding: .utf8)
        let result = try Notebook.check(scriptPath: path)
        XCTAssertFalse(result.ok)
        XCTAssertTrue(result.diff.contains("-1.6\n+1.5\n"), result.diff)
        XCTAssertEqual(Notebook.run(scriptPath: path, mode: .check(tolerance: Tolerance(relative: 0.1))), 0)
        XCTAssertEqual(Notebook.run(scriptPath: path, mode: .render(output: dir + "/out.md")), 0)
        XCTAssertEqual(try String(contentsOfFile: dir + "/out.md", encoding: .utf8), stored)
        XCTAssertEqual(Notebook.run(scriptPath: dir + "/none.ke", mode: .update), 1)
    }
}
