import XCTest
@testable import KELang

final class SyntaxTests: XCTestCase {
    func testNeedsContinuation() {
        XCTAssertFalse(Syntax.needsContinuation("1 + 2"))
        XCTAssertTrue(Syntax.needsContinuation("plot [1, 2,"))
        XCTAssertTrue(Syntax.needsContinuation("(1 +"))
        XCTAssertTrue(Syntax.needsContinuation("for i in range 3 {"))
        XCTAssertFalse(Syntax.needsContinuation("for i in range 3 {\n i\n}"))
        XCTAssertTrue(Syntax.needsContinuation("let s = \"abc"))
        XCTAssertFalse(Syntax.needsContinuation("let s = \"abc\""))
        XCTAssertFalse(Syntax.needsContinuation("1 + 2)"))
        XCTAssertFalse(Syntax.needsContinuation("a ! ("))
        XCTAssertFalse(Syntax.needsContinuation("# ( in a comment"))
        XCTAssertFalse(Syntax.needsContinuation("\"(\""))
    }

    func testChunks() {
        let script = """
            # Title
            # second line
            #
            # after blank comment

            let m = 1  # trailing
            let xs = [
              1, 2]; xs

            # Loop
            for i in xs {
              # inner comment stays in code
              i
            }
            """
        XCTAssertEqual(Syntax.chunks(script), [
            .prose("Title\nsecond line\n\nafter blank comment"),
            .code("let m = 1", line: 6),
            .code("let xs = [\n  1, 2]", line: 7),
            .code("xs", line: 8),
            .prose("Loop"),
            .code("for i in xs {\n  # inner comment stays in code\n  i\n}", line: 11),
        ])
        XCTAssertEqual(Syntax.chunks("# a\n\n# b\n"), [.prose("a"), .prose("b")])
        XCTAssertEqual(Syntax.chunks(""), [])
        // Unscannable text ends as one code chunk.
        XCTAssertEqual(Syntax.chunks("1\nlet s = \"open\n2"), [.code("1", line: 1), .code("let s = \"open\n2", line: 2)])
    }

    func testDecode() {
        XCTAssertEqual(try Syntax.decode(Array("let é = 1".utf8)).get(), "let é = 1")
        XCTAssertEqual(Syntax.decode([0x61, 0x0A, 0x62, 0xFF]), .failure(ScriptDecodingError(offset: 3, line: 2)))
        XCTAssertEqual(Syntax.decode([0xC3]), .failure(ScriptDecodingError(offset: 0, line: 1)))
        XCTAssertEqual(Syntax.decode([0xED, 0xA0, 0x80]), .failure(ScriptDecodingError(offset: 0, line: 1)))
        XCTAssertEqual(Syntax.decode([0xC0, 0x80]), .failure(ScriptDecodingError(offset: 0, line: 1)))
    }

    func testFirstLineOffsetsPositions() {
        let c = Captured()
        XCTAssertFalse(c.session.run("1\n1 / 0", file: "nb.ke", firstLine: 10))
        XCTAssertEqual(c.run.errors, ["nb.ke:11:3: error: division by zero\n1 / 0\n  ^"])
    }
}
