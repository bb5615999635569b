import XCTest
@testable import KEShell

final class NotebookRendererTests: XCTestCase {
    /// A fake language: `print X` prints X, `fail` fails, `quiet` prints nothing.
    func fakeRun(_ code: String, _ line: Int) -> (output: String, ok: Bool) {
        var out = ""
        for stmt in code.split(separator: "\n") {
            if stmt.hasPrefix("print ") { out += stmt.dropFirst(6) + "\n" }
            if stmt == "fail" { return (out + "<script>:\(line): error: it failed\n", false) }
        }
        return (out, true)
    }

    func testGoldenTranscript() {
        let chunks: [NotebookChunk] = [
            .prose("# Title line\n\nSecond paragraph.  \n"),
            .code("print 1\nprint 2", line: 4),
            .code("quiet", line: 6),
            .prose("After"),
            .code("print ```", line: 8),
        ]
        let (markdown, ok) = NotebookRenderer.render(chunks: chunks, scriptName: "demo.ke", run: fakeRun)
        XCTAssertTrue(ok)
        XCTAssertEqual(markdown, """
            <!-- Transcript of demo.ke, written by `ke --notebook`; `ke --update demo.ke` rewrites it. -->

            # Title line

            Second paragraph.

            ```ke
            print 1
            print 2
            ```

            ```text
            1
            2
            ```

            ```ke
            quiet
            ```

            After

            ````ke
            print ```
            ````

            ````text
            ```
            ````

            """)
    }

    func testErrorEndsTheTranscript() {
        let chunks: [NotebookChunk] = [.code("print a", line: 1), .code("fail", line: 2), .code("print never", line: 3)]
        let (markdown, ok) = NotebookRenderer.render(chunks: chunks, scriptName: "x.ke", run: fakeRun)
        XCTAssertFalse(ok)
        XCTAssertTrue(markdown.contains("```text\n<script>:2: error: it failed\n```\n"), markdown)
        XCTAssertFalse(markdown.contains("never"))
    }

    func testTranscriptPath() {
        XCTAssertEqual(NotebookRenderer.transcriptPath(for: "dir/a.ke"), "dir/a.md")
        XCTAssertEqual(NotebookRenderer.transcriptPath(for: "script"), "script.md")
        XCTAssertEqual(NotebookRenderer.baseName("/x/y/z.ke"), "z.ke")
    }

    // MARK: Files

    /// Fake renderer: each line `print X` prints X; chunks are single lines.
    func files() -> NotebookFiles {
        NotebookFiles(render: { source, file in
            let chunks = source.split(separator: "\n").enumerated().map { NotebookChunk.code(String($0.element), line: $0.offset + 1) }
            return NotebookRenderer.render(chunks: chunks, scriptName: NotebookRenderer.baseName(file), run: self.fakeRun)
        })
    }

    func testUpdateThenCheckWithToleranceAndDiff() throws {
        let dir = NSTemporaryDirectory() + "ke-nb-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = dir + "/demo.ke"
        try "print loss 2.50000\nprint done in 3.2 seconds\n".write(toFile: script, atomically: true, encoding: .utf8)
        let nb = files()
        XCTAssertThrowsError(try nb.check(scriptPath: script, tolerance: .standard)) { error in
            XCTAssertTrue("\(error)".contains("ke --update"), "\(error)")
        }
        XCTAssertTrue(try nb.update(scriptPath: script))
        let md = try String(contentsOfFile: dir + "/demo.md", encoding: .utf8)
        XCTAssertTrue(md.contains("```text\nloss 2.50000\n```"), md)
        XCTAssertEqual(try nb.check(scriptPath: script, tolerance: .standard).ok, true)

        // A small numeric drift and a different timing still match.
        try md.replacingOccurrences(of: "2.50000", with: "2.50100").replacingOccurrences(of: "3.2 seconds", with: "9 seconds")
            .write(toFile: dir + "/demo.md", atomically: true, encoding: .utf8)
        let drift = try nb.check(scriptPath: script, tolerance: .standard)
        XCTAssertTrue(drift.ok, drift.diff)
        XCTAssertEqual(drift.diff, "")
        // Beyond the tolerance: a diff naming both sides.
        XCTAssertFalse(try nb.check(scriptPath: script, tolerance: Tolerance(relative: 1e-5)).ok)
        try md.replacingOccurrences(of: "2.50000", with: "2.6").write(toFile: dir + "/demo.md", atomically: true, encoding: .utf8)
        let changed = try nb.check(scriptPath: script, tolerance: .standard)
        XCTAssertFalse(changed.ok)
        XCTAssertTrue(changed.diff.contains("-loss 2.6\n+loss 2.50000\n"), changed.diff)
        XCTAssertTrue(changed.diff.hasPrefix("--- \(dir)/demo.md\n+++ \(script) (this run)\n"), changed.diff)

        // --notebook to another path; a failing script still writes its transcript.
        try "print a\nfail\n".write(toFile: script, atomically: true, encoding: .utf8)
        XCTAssertFalse(try nb.writeNotebook(scriptPath: script, to: dir + "/out.md"))
        XCTAssertTrue(try String(contentsOfFile: dir + "/out.md", encoding: .utf8).contains("error: it failed"))
        XCTAssertThrowsError(try nb.writeNotebook(scriptPath: dir + "/missing.ke", to: dir + "/x.md"))
    }
}
