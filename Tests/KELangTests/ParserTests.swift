import XCTest
@testable import KELang

final class ParserTests: XCTestCase {
    func testPrecedence() {
        assertOutputs("1 + 2 * 3", ["7"])
        assertOutputs("(1 + 2) * 3", ["9"])
        assertOutputs("10 - 4 - 3", ["3"])
        assertOutputs("12 / 3 / 2", ["2"])
        assertOutputs("-2 * -3", ["6"])
        assertOutputs("- 2 - - 3", ["1"])
        assertOutputs("1 + 2 < 4", ["true"])
        assertOutputs("not 1 > 2 and 3 > 2", ["true"])
        assertOutputs("true or false and false", ["true"])
        assertOutputs("not true or true", ["true"])
        assertOutputs("1 == 1 and 2 != 3", ["true"])
        // Builtins bind like unary minus; commands take whole expressions.
        assertOutputs("len [1, 2] + 1", ["3"])
        assertOutputs("sum [1, 2, 3] / len [1, 2, 3]", ["2"])
        assertOutputs("range len [7, 8, 9]", ["[0, 1, 2]"])
        assertOutputs("let xs = [[1, 2], [3]]\nlen xs[0]", ["2"])
        assertOutputs("(time 1 + 2).value", ["3"])
    }

    func testLiteralsAndStatements() {
        assertOutputs("3; 2.5; 1e-3; 50%; \"s\"; true; [1, [2, \"x\"]]", ["3", "2.5", "0.001", "0.5", "s", "true", "[1, [2, \"x\"]]"])
        assertOutputs("let x = 4 # four\nx * x", ["16"])
        assertOutputs("let xs = [\n  1,\n  2,\n]\nxs", ["[1, 2]"])
        assertOutputs("(1 +\n 2)", ["3"])
        assertOutputs("", [])
        assertOutputs("# only a comment\n\n", [])
    }

    func testNestedCommandsParse() {
        // `entropy load "d" on c` parses: load takes "d", entropy then sees its own keyword `on`.
        let r = runKE("let c = 1\nentropy load \"/nonexistent-dir\" on c")
        XCTAssertEqual(r.firstError, "t.ke:2:9: error: /nonexistent-dir: no such model directory")
        let r2 = runKE("let c = 1\nentropy (load \"/nonexistent-dir\") on c")
        XCTAssertEqual(r2.firstError, "t.ke:2:10: error: /nonexistent-dir: no such model directory")
    }

    func testParseErrors() {
        assertError("1 +", "1:4: error: expected an expression, found end of input")
        assertError("(1 + 2", "1:1: error: unclosed '(': expected ')'")
        assertError("[1, 2", "1:1: error: unclosed '[': expected ']'")
        assertError("(1 + 2]", "1:7: error: expected ')' to close '(' at 1:1, found ']'")
        assertError("1 + 2)", "1:6: error: unbalanced ')': nothing to close")
        assertError("let = 3", "1:5: error: expected a name after 'let', found '='")
        assertError("let for = 3", "1:5: error: 'for' is a reserved word and cannot be a name")
        assertError("let corpus = 3", "1:5: error: 'corpus' is a command and cannot be a variable name")
        assertError("let x 3", "1:7: error: expected '=' after 'let x', found a number")
        assertError("let x = 1\nx = 2", "2:3: error: use 'let x = …' to give a name to a value")
        assertError("1 < 2 < 3", "1:7: error: comparisons cannot be chained; combine them with 'and'")
        assertError("for i in [1] i", "1:14: error: expected '{' to begin the loop body, found 'i'")
        assertError("for i [1] { i }", "1:7: error: expected 'in' after 'for i', found '['")
        assertError("for i in [1] {\n i\n", "1:14: error: unclosed '{': expected '}' to end the loop body")
        assertError("1 2", "1:3: error: expected end of statement, found a number")
        assertError("let xs = [1]\nxs.", "2:4: error: expected a field name after '.', found end of input")
    }

    /// `load "DIR" tokenizer "FILE"` with or without `bf16`, in either order.
    func testLoadTokenizerClause() throws {
        func call(_ source: String) throws -> CommandCall {
            var scanner = Scanner(source)
            var parser = Parser(tokens: try scanner.scan(), known: [])
            let program = try parser.parseProgram()
            guard program.count == 1, case .expression(let e) = program[0], case .command(let c) = e.kind else {
                XCTFail("not one command: \(source)")
                return CommandCall(command: .help, arguments: [:])
            }
            return c
        }
        func string(_ a: Argument?) -> String? {
            if case .expression(let e)? = a, case .string(let s) = e.kind { return s }
            return nil
        }
        for source in ["load \"d\" tokenizer \"t.json\"", "load \"d\" tokenizer \"t.json\" bf16", "load \"d\" bf16 tokenizer \"t.json\""] {
            let c = try call(source)
            XCTAssertEqual(c.name, "load")
            XCTAssertEqual(string(c.arguments[.DIR]), "d", source)
            XCTAssertEqual(string(c.arguments[.tokenizer]), "t.json", source)
            if case .flag? = c.arguments[.bf16] { XCTAssertTrue(source.contains("bf16")) } else { XCTAssertFalse(source.contains("bf16"), source) }
        }
        // Any expression names the file; a variable named like the keyword is a value.
        let c = try call("load \"d\" tokenizer (\"t\" + \".json\")")
        guard case .expression(let e)? = c.arguments[.tokenizer], case .binary = e.kind else { return XCTFail("tokenizer is not an expression") }
        XCTAssertEqual(string(try call("checkpoints \"s\" tokenizer \"t.json\"").arguments[.tokenizer]), "t.json")
        assertError("load \"d\" tokenizer", "1:19: error: 'tokenizer' needs a value (\"FILE\") — usage: load \"DIR\" [bf16] [tokenizer \"FILE\"] [cache \"DIR\"]")
        assertError("load \"d\" tokenizer \"a\" tokenizer \"b\"", "1:24: error: 'tokenizer' given twice to 'load'")
        assertError("load \"d\" tokenzier \"a\"", "1:10: error: unknown keyword 'tokenzier' for 'load' — did you mean 'tokenizer'?")
        assertError("load \"d\" bf16 bf16", "1:15: error: 'bf16' given twice to 'load'")
    }

    func testUnknownNamesAndCommandsSuggest() {
        assertError("let c = 1\nlet m = 2\nentrpy m on c", "3:1: error: unknown command 'entrpy' — did you mean 'entropy'?")
        assertError("lod \"x\"", "1:1: error: unknown command 'lod' — did you mean 'load'?")
        assertError("let total = 1\ntotl + 1", "2:1: error: unknown name 'totl' — did you mean 'total'?")
        assertError("zzzz", "1:1: error: unknown name 'zzzz'")
        assertError("let m = 1\nentropy m", "2:1: error: 'entropy' needs 'on CORPUS' — usage: entropy MODEL on CORPUS, or entropy SUMS")
        assertError("let m = 1\nlet c = 2\nentropy m onn c", "3:11: error: unknown keyword 'onn' for 'entropy' — did you mean 'on'?")
        assertError("entropy", "1:8: error: 'entropy' needs MODEL — usage: entropy MODEL [on CORPUS]")
        assertError("corpus \"f\" limit", "1:17: error: 'limit' needs a value (N) — usage: corpus \"FILE\" [limit N] [seq N] [special] [pack] [world W]")
        assertError("corpus \"f\" limit 1 limit 2", "1:20: error: 'limit' given twice to 'corpus'")
        assertError("let m = 1\nlet c = 2\nentropy m on c limit 3", "3:16: error: 'limit' is not a keyword of 'entropy' — usage: entropy MODEL [on CORPUS]")
        assertError("bar [1] titel \"x\"", "1:9: error: unknown keyword 'titel' for 'bar' — did you mean 'title'?")
        // A name used before its `let` is unknown, even if defined later in the same text.
        assertError("y\nlet y = 1", "1:1: error: unknown name 'y'")
    }

    func testDeepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "(", count: 100_000) + "1" + String(repeating: ")", count: 100_000)
        let r = runKE(deep)
        XCTAssertFalse(r.ok)
        XCTAssertEqual(r.firstError, "t.ke:1:257: error: too deeply nested (more than 256 levels)")
        // The caret line is cut to a window around the column.
        XCTAssertLessThan(r.errors[0].count, 500)

        let ok = String(repeating: "(", count: 256) + "1" + String(repeating: ")", count: 256)
        assertOutputs(ok, ["1"])
        XCTAssertFalse(runKE(String(repeating: "[", count: 100_000)).ok)
        XCTAssertFalse(runKE(String(repeating: "-", count: 100_000) + "1").ok)
        XCTAssertFalse(runKE(String(repeating: "not ", count: 100_000) + "true").ok)
        XCTAssertFalse(runKE(String(repeating: "for i in [1] {", count: 10_000)).ok)
        XCTAssertFalse(runKE(String(repeating: "len ", count: 100_000) + "[]").ok)
    }

    func testErrorReportHasSourceLineAndCaret() {
        let r = runKE("let x = 1\nx + \"a\"")
        XCTAssertEqual(r.errors, ["t.ke:2:3: error: cannot add a number and a string with '+' — 'str X' turns a number into text\nx + \"a\"\n  ^"])
    }
}

final class KeywordNameTests: XCTestCase {
    func testVariablesNamedLikeKeywords() {
        // `x`, `log`, `title` are keywords of `plot`; a variable of that name still works as a value.
        let r = runKE("let x = [1, 2, 3]\nlet title = \"t\"\nlet c = plot x x x title title\nc.type")
        XCTAssertTrue(r.ok, r.errors.joined())
        XCTAssertEqual(r.outputs, ["line"])
        assertError("entropy on 3", "1:9: error: 'entropy' needs MODEL, found 'on' — usage: entropy MODEL [on CORPUS]")
    }

    func testDeepButAllowedValues() {
        let depth = 200
        let source = String(repeating: "[", count: depth) + "1" + String(repeating: "]", count: depth)
        let r = runKE("let v = " + source + "\nlen v\nv")
        XCTAssertTrue(r.ok, r.errors.joined())
        XCTAssertEqual(r.outputs.first, "1")
        XCTAssertEqual(r.outputs.last, source)
        XCTAssertEqual(runKE(String(repeating: "-", count: 256) + "1").outputs, ["1"])
    }
}
