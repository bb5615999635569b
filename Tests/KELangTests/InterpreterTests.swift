import XCTest
@testable import KELang

final class InterpreterTests: XCTestCase {
    func testArithmeticAndBroadcasting() {
        assertOutputs("[1, 2] + [3]", ["[1, 2, 3]"])
        assertOutputs("\"ab\" + \"cd\"", ["abcd"])
        assertOutputs("2 * [1, 2, 3]", ["[2, 4, 6]"])
        assertOutputs("[1, 2, 3] / 2", ["[0.5, 1, 1.5]"])
        assertOutputs("10 - [1, 2]", ["[9, 8]"])
        assertOutputs("[4, 6] - [1, 2]", ["[3, 4]"])
        assertOutputs("-[1, -2]", ["[-1, 2]"])
        assertOutputs("1 / 3", ["0.333333"])
        assertOutputs("2 / 3 * 3 == 2", ["true"])
        assertOutputs("[1, [2]] == [1, [2]]", ["true"])
        assertOutputs("1 == \"1\"", ["false"])
        assertOutputs("\"a\" < \"b\"", ["true"])
    }

    func testBuiltins() {
        assertOutputs("len [1, 2, 3]; len \"héllo\"; len []", ["3", "5", "0"])
        assertOutputs("range 4; range 0", ["[0, 1, 2, 3]", "[]"])
        assertOutputs("sum [1, 2, 3.5]; mean [1, 2, 3, 4]; min [3, -1, 2]; max [3, -1, 2]", ["6.5", "2.5", "-1", "3"])
        let r = runKE("let t = time sum range 100\nt.value\nt.seconds >= 0")
        XCTAssertTrue(r.ok, r.errors.joined())
        XCTAssertEqual(Array(r.outputs.suffix(2)), ["4950", "true"])
    }

    func testLoopsAndVariables() {
        assertOutputs("for i in range 3 { i * i }", ["0", "1", "4"])
        assertOutputs("let total = 0\nfor x in [1, 2, 3] {\n  let total = total + x\n}\ntotal", ["6"])
        assertOutputs("for i in [1, 2] { for j in [10, 20] { i * j } }", ["10", "20", "20", "40"])
        assertOutputs("for s in [] { s }\n\"done\"", ["done"])
        // Variables persist across runs of one session.
        let c = Captured()
        XCTAssertTrue(c.run("let a = 2").ok)
        XCTAssertEqual(c.run("a * 21").outputs, ["42"])
        XCTAssertEqual(c.session.variableNames, ["a"])
    }

    func testIndexingAndMembers() {
        assertOutputs("let xs = [10, 20, 30]\nxs[0]; xs[-1]; xs[1 + 1]", ["10", "30", "30"])
        assertOutputs("\"héllo\"[1]", ["é"])
        assertOutputs("let t = time 5\nt.value + 1", ["6"])
        assertError("let xs = [1, 2, 3]\nxs[3]", "2:4: error: index 3 out of range for a list of 3 elements")
        assertError("let xs = [1, 2, 3]\nxs[-4]", "2:4: error: index -4 out of range for a list of 3 elements")
        assertError("[][0]", "1:4: error: index 0 out of range for a list of 0 elements")
        assertError("[1][0.5]", "1:5: error: an index must be a whole number, found 0.5")
        assertError("[1][1e300]", "1:5: error: an index must be a whole number, found 1e+300")
        assertError("[1][\"a\"]", "1:5: error: an index must be a number, found a string")
        assertError("5[0]", "1:2: error: cannot index a number; only lists and strings have elements")
        assertError("let t = time 1\nt.secnds", "2:3: error: a timed result has no field 'secnds' — did you mean 'seconds'? (fields: seconds, value)")
        assertError("let x = 1\nx.total", "2:3: error: a number has no fields")
    }

    func testRuntimeErrors() {
        assertError("1 / 0", "1:3: error: division by zero")
        assertError("[1, 2] / 0", "1:8: error: division by zero")
        assertError("1 + true", "1:3: error: cannot add a number and a boolean with '+'")
        assertError("[1] * [1, 2]", "1:5: error: '*' needs lists of the same length, found 1 and 2")
        assertError("\"a\" * 2", "1:5: error: cannot multiply a string and a number with '*'")
        assertError("-\"a\"", "1:1: error: cannot negate a string")
        assertError("not 1", "1:5: error: 'not' expects a boolean, found a number")
        assertError("1 and true", "1:1: error: 'and' expects booleans, found a number")
        assertError("[1] < [2]", "1:5: error: cannot compare a list with a list using '<'")
        assertError("for i in 3 { i }", "1:10: error: 'for' needs a list, found a number (use 'range N' for 0, 1, …, N−1)")
        assertError("len 3", "1:5: error: 'len' expected a list or a string, found a number")
        assertError("sum []", "1:5: error: 'sum' of an empty list")
        assertError("mean []", "1:6: error: 'mean' of an empty list")
        assertError("min []", "1:5: error: 'min' of an empty list")
        assertError("max [1, \"a\"]", "1:5: error: 'max' expected a list of numbers, but element 1 is a string")
        assertError("range -1", "1:7: error: 'range' must be between 0 and 10000000, found -1")
        assertError("range 2.5", "1:7: error: 'range' expected a whole number, found 2.5")
        assertError("range 1e300", "1:7: error: 'range' expected a whole number, found 1e+300")
        assertError("load 3", "1:6: error: 'load' expected a string, found a number")
        assertError("entropy 3 on 4", "1:9: error: 'entropy' expected a model, found a number")
        assertError("tokenize \"m\" \"text\"", "1:10: error: 'tokenize' expected a model, found a string")
        assertError("save 1 to \"x\"", "1:6: error: 'save' expected a model, found a number")
        // The first error stops the run; earlier statements already printed.
        let r = runKE("1\n1 / 0\n2")
        XCTAssertEqual(r.outputs, ["1"])
        XCTAssertFalse(r.ok)
    }

    func testPercentArguments() {
        assertError("let m = 1\nlet c = 2\nrescale m bottom 150% by 2 on c",
                    "3:18: error: 'rescale … bottom' must be a fraction between 0 and 1 or a percentage between 0% and 100%, found 150%")
        assertError("let m = 1\nlet c = 2\nrescale m bottom 10 by 2 on c",
                    "3:18: error: 'rescale … bottom' must be a fraction between 0 and 1 or a percentage between 0% and 100%, found 10 (for 10 percent write 10%)")
        assertError("let m = 1\nlet c = 2\nrescale m bottom -5% by 2 on c",
                    "3:18: error: 'rescale … bottom' must be a fraction between 0 and 1 or a percentage between 0% and 100%, found -5%")
        assertError("let m = 1\nlet c = 2\nrescale m bottom 10% by -1 on c", "3:25: error: 'rescale … by' must not be negative")
        // A valid percentage or fraction passes on to the model check.
        assertError("let m = 1\nlet c = 2\nrescale m bottom 10% by 2 on c", "3:9: error: 'rescale' expected a model, found a number")
        assertError("let m = 1\nlet c = 2\nrescale m bottom 0.1 by 2 on c", "3:9: error: 'rescale' expected a model, found a number")
    }

    func testCorpusIsLazyAndCoreErrorsPointAtTheCommand() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ke-lang-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let txt = dir.appendingPathComponent("c.txt").path
        try "one doc\n\nsecond doc\nthird\n".write(toFile: txt, atomically: true, encoding: .utf8)
        let jsonl = dir.appendingPathComponent("c.jsonl").path
        try "{\"text\": \"a\"}\n{\"text\": \"\"}\n{\"id\": 3}\n{\"text\": \"b\"}\n".write(toFile: jsonl, atomically: true, encoding: .utf8)

        assertOutputs("let c = corpus \"\(txt)\"\nc.documents\nc.source", ["3", txt])
        assertOutputs("(corpus \"\(txt)\" limit 2).documents", ["2"])
        assertOutputs("(corpus \"\(jsonl)\").documents", ["2"])
        assertError("corpus \"\(txt)\" limit 0", "1:\(17 + txt.count): error: 'corpus … limit' must be at least 1, found 0")
        assertError("corpus \"\(dir.path)/missing.txt\"", "1:1: error: \(dir.path)/missing.txt: no such file")
        assertError("let c = corpus \"\(txt)\"\nc.tokens",
                    "2:3: error: the corpus is tokenised when first used with a model; its token count is not known yet")
        assertOutputs("corpus \"\(txt)\" seq 8", ["corpus \(txt): 3 documents, tokenised when first used with a model, seq 8"])
    }

    func testFieldNamesMatchMemberAccess() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ke-fields-\(UInt32.random(in: 0...UInt32.max)).txt").path
        try "a\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let c = Captured()
        XCTAssertTrue(c.run("let c = corpus \"\(file)\"\nlet t = time 1\nlet s = spark [1]").ok)
        for name in ["c", "t", "s"] {
            let v = try XCTUnwrap(c.session.value(of: name))
            XCTAssertEqual(v.fieldNames, Interpreter.fields(of: v, options: SessionOptions())?.map(\.0), name)
            XCTAssertFalse(v.fieldNames.isEmpty)
        }
        XCTAssertEqual(Value.number(1).fieldNames, [])
    }

    func testValueNestingLimit() {
        let r = runKE("let a = [1]\nfor i in range 300 { let a = [a] }")
        XCTAssertFalse(r.ok)
        XCTAssertEqual(r.firstError, "t.ke:2:30: error: lists nested more than 256 deep")
    }
}
