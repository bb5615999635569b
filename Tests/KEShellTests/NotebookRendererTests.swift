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
            .prose("# Title line\n#\n# Second paragraph."),
            .code("print 1\nprint 2", line: 4),
            .code("quiet", line: 6),
            .prose("# After"),
            .code("print ```", line: 8),
        ]
        let (markdown, ok) = NotebookRenderer.render(chunks: chunks, scriptName: "demo.ke", run: fakeRun)
        XCTAssertTrue(ok)
        XCTAssertEqual(markdown, """
            <!-- Transcript of demo.ke, written by `ke --notebook`; `ke --update demo.ke` rewrites it. -->

            Title line

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
}
