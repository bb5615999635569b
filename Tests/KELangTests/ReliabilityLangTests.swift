import Foundation
import XCTest
@testable import KELang
import KECore

// MARK: Reliability: the language
//
// Every error rule for scripts, each as `FILE:LINE:COL: error:` at the right place; an
// error never loses the session's variables; no NaN or infinity is ever printed as a result.
// Regression inputs found by fuzzing (Fuzz/lang/seeds/crash-*) are replayed here too.

final class ReliabilityLangTests: XCTestCase {

    // MARK: Lexical and syntax errors

    func testUnterminatedStringsAndUnbalancedBrackets() {
        assertError("let s = \"abc", "1:9: error: unterminated string")
        assertError("let s = \"a\\", "1:9: error: unterminated string")
        assertError("let a = [1, 2", "1:9: error: unclosed '[': expected ']'")
        assertError("let b = (1 + 2]", "1:15: error: expected ')' to close '(' at 1:9, found ']'")
        assertError("for i in [1] {\n  i\n", "1:14: error: unclosed '{': expected '}' to end the loop body")
        assertError("1 + 2)", "1:6: error: unbalanced ')': nothing to close")
        assertError("]", "1:1: error: expected an expression, found ']'")
    }

    /// 100,000 of every bracket and prefix operator: an error at the 257th level, quickly.
    func testHostileNestingIsAnErrorForEveryConstruct() {
        let n = 100_000
        for (open, close) in [("(", ")"), ("[", "]"), ("-", ""), ("not ", ""), ("len ", "")] {
            let r = runKE(String(repeating: open, count: n) + "1" + String(repeating: close, count: n))
            XCTAssertFalse(r.ok)
            XCTAssertTrue(r.firstError?.contains("too deeply nested") ?? false, "\(open): \(r.errors)")
        }
        // Many statements in a row are not nesting: fine.
        assertOutputs(String(repeating: "let a = 1\n", count: 10_000) + "a", ["1"])
    }

    // MARK: Runtime errors

    func testUnknownNamesAndWrongArgumentTypes() {
        assertError("foo + 1", "1:1: error: unknown name 'foo' — did you mean 'for'?")
        assertError("let x = 5\nx.foo", "2:3: error: a number has no fields")
        assertError("len 5", "1:5: error: 'len' expected a list or a string, found a number")
        assertError("sum [\"a\"]", "1:5: error: 'sum' expected a list of numbers, but element 0 is a string")
        assertError("range 1.5", "1:7: error: 'range' expected a whole number, found 1.5")
        assertError("range -1", "1:7: error: 'range' must be between 0 and 10000000, found -1")
        assertError("true + 1", "1:6: error: cannot add a boolean and a number with '+'")
        assertError("entropy 1 on 2", "1:9: error: 'entropy' expected a model, found a number")
        assertError("[1, 2][1e300]", "1:8: error: an index must be a whole number, found 1e+300")
    }

    func testPercentagesOutsideZeroToHundred() {
        // The range is checked before the model is needed.
        for bad in ["150%", "-5%", "101%", "1.5", "-0.1"] {
            let r = runKE("let x = 1\nrescale x bottom \(bad) by 2 on x")
            XCTAssertFalse(r.ok)
            XCTAssertTrue(r.firstError?.contains("between 0% and 100%") ?? false, "\(bad): \(r.errors)")
        }
    }

    func testDivisionByZeroAndOverflowAreErrors() {
        assertError("1 / 0", "1:3: error: division by zero")
        assertError("0 / 0", "1:3: error: division by zero")
        assertError("[1, 2] / 0", "1:8: error: division by zero")
        assertError("1e308 * 10", "1:7: error: the result of '*' is too large (beyond ±1.8e308)")
        assertError("0 - 1e308 - 1e308", "1:11: error: the result of '-' is too large (beyond ±1.8e308)")
        assertError("1 / 1e-308 / 1e-308", "1:12: error: the result of '/' is too large (beyond ±1.8e308)")
        assertError("sum [1e308, 1e308]", "1:5: error: 'sum' is too large (beyond ±1.8e308)")
        assertError("mean [1e308, 1e308]", "1:6: error: 'mean' is too large (beyond ±1.8e308)")
        assertError("1e999", "1:1: error: number '1e999' is too large")
        // Large but finite is fine.
        assertOutputs("1e308 + 1e307 > 1e308", ["true"])
    }

    /// No script can make a result print as nan or inf.
    func testNoNaNOrInfinityIsEverPrinted() {
        let scripts = ["1e308 * 10", "let x = 1e308 * 10\nx - x", "sum [1e308, 1e308]", "[1e308 * 10]",
                       "mean [1e308, 1e308, 1e308]", "-(1e308 + 1e308)", "1e308 * 1e308 == 1e308 * 1e308"]
        for s in scripts {
            for json in [false, true] {
                let r = runKE(s, json: json)
                XCTAssertFalse(r.ok, s)
                for o in r.outputs {
                    XCTAssertFalse(o.contains("nan") || o.contains("inf") || o.contains("null"), "\(s) printed \(o)")
                }
            }
        }
    }

    // MARK: Sessions survive errors

    /// An error stops the run at its statement; variables defined before it, and in earlier
    /// runs, survive, and the next run works.
    func testAnErrorKeepsTheSession() {
        let c = Captured()
        XCTAssertTrue(c.run("let a = [1, 2, 3]").ok)
        let r = c.run("let b = 10\nlet d = a / 0\nlet e = 5")
        XCTAssertFalse(r.ok)
        XCTAssertEqual(r.firstError, "t.ke:2:11: error: division by zero")
        XCTAssertEqual(c.session.variableNames, ["a", "b"])
        for bad in ["let s = \"open", "(((", "nosuch", "1e999", String(repeating: "(", count: 100_000)] {
            XCTAssertFalse(c.run(bad).ok)
        }
        let after = c.run("sum a + b")
        XCTAssertTrue(after.ok, "\(after.errors)")
        XCTAssertEqual(after.outputs, ["16"])
    }

    /// A syntax error anywhere stops the whole text before anything runs (no half-run script).
    func testSyntaxErrorRunsNothing() {
        let c = Captured()
        let r = c.run("let a = 1\na\nlet b = (2")
        XCTAssertFalse(r.ok)
        XCTAssertEqual(r.outputs, [])
        XCTAssertEqual(c.session.variableNames, [])
    }

    // MARK: Ctrl-C

    /// Ctrl-C (the shared cancellation flag, set here from the progress callback as the shell's
    /// SIGINT handler would) stops a long command with an error; the variable it was to replace
    /// keeps its old value, and the next run works.
    func testInterruptLeavesValuesUnchanged() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").path
        let c = Captured()
        XCTAssertTrue(c.run("""
            let m = load "\(fixtures)/models/llama_gqa"
            let before = m
            let c = corpus "\(fixtures)/corpus.txt"
            """).ok)
        var o = c.session.options
        o.progress = true
        c.session.options = o
        c.session.progress = { _, _, _ in Cancellation.shared.cancel() }
        for command in ["train m on c steps 50 batch 2 seq 16 lr 1e-3", "rescale m bottom 10% by 2 on c"] {
            let r = c.run("let m = \(command)")
            XCTAssertFalse(r.ok, command)
            XCTAssertTrue(r.firstError?.hasPrefix("t.ke:1:") ?? false, "\(command): \(r.errors)")
            XCTAssertTrue(r.errors.joined().contains("cancelled") || r.errors.joined().contains("interrupted"), "\(r.errors)")
            c.session.progress = nil
            XCTAssertEqual(c.run("m == before").outputs, ["true"], "\(command) replaced m")
            c.session.progress = { _, _, _ in Cancellation.shared.cancel() }
        }
        // A cancelled loop stops too, keeping what it had done.
        c.session.progress = nil
        let r = c.run("let n = 0\nfor i in range 1000 { let n = n + 1 }\nn")
        XCTAssertEqual(r.outputs, ["1000"])
    }

    // MARK: Files

    /// Files that do not exist or are not what a command expects are errors at the command.
    func testFileErrorsPointAtTheCommand() throws {
        let dir = NSTemporaryDirectory() + "ke-rel-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        assertError("let m = load \"\(dir)/nope\"", "1:9: error: \(dir)/nope: no such model directory")
        assertError("let m = load \"\(dir)\"", "1:9: error: \(dir)/config.json: missing config.json")
        try Data("not json".utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        let r = runKE("\n  let m = load \"\(dir)\"")
        XCTAssertTrue(r.firstError?.hasPrefix("t.ke:2:11: error: \(dir)/config.json: config is not valid JSON") ?? false, "\(r.errors)")
    }

    // MARK: Fuzzing regressions

    /// Every committed seed of the lang fuzz target (crash inputs included) runs to an ordinary
    /// result or an ordinary diagnostic.
    func testFuzzSeedsRunCleanly() throws {
        let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/lang/seeds")
        let names = try FileManager.default.contentsOfDirectory(atPath: seeds.path).sorted()
        XCTAssertGreaterThan(names.count, 5)
        for name in names {
            let data = try Data(contentsOf: seeds.appendingPathComponent(name))
            let r = runKE(String(decoding: data, as: UTF8.self))
            if !r.ok {
                XCTAssertEqual(r.errors.count, 1, name)
                XCTAssertTrue(r.firstError?.hasPrefix("t.ke:") ?? false, "\(name): \(r.errors)")
            }
        }
    }

    // MARK: Issue 30: sums of another model

    /// Two copies of a fixture model that differ in one weight byte between the pages the former
    /// fingerprint sampled: `rescale … using SUMS` refuses the other model's sums.
    func testRescaleRefusesSumsOfAModelDifferingInOneByte() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").path
        let root = NSTemporaryDirectory() + "ke-fp-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        for dir in ["a", "b"] {
            try FileManager.default.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
            for f in ["config.json", "tokenizer.json", "model.safetensors"] {
                try FileManager.default.copyItem(atPath: "\(fixtures)/models/olmo/\(f)", toPath: "\(root)/\(dir)/\(f)")
            }
        }
        let path = root + "/b/model.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        var n = 0
        for k in 0..<8 { n |= Int(bytes[k]) << (8 * k) }
        let dataBytes = bytes.count - 8 - n
        // Halfway between the 8th and 9th of the 16 pages of 4 KiB the former fingerprint read.
        var target = 8 + n + Int(Double(dataBytes - 1) * 7.5 / 15) + 2048
        target -= (target - 8 - n) % 4
        bytes[target] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))
        let c = Captured()
        XCTAssertTrue(c.run("""
            let a = load "\(root)/a"
            let b = load "\(root)/b"
            let c = corpus "\(fixtures)/corpus.txt"
            let s = sums a on c
            let ok = rescale a bottom 50% by 2 using s
            """).ok, "\(c.run.errors)")
        let r = c.run("rescale b bottom 50% by 2 using s")
        XCTAssertFalse(r.ok)
        XCTAssertTrue(r.errors.joined().contains("the sums were measured on model"), "\(r.errors)")
    }
}

// MARK: The ke binary's exit statuses

extension CLITests {
    /// Script errors of every kind exit 1 with `FILE:LINE:COL: error:` first on stderr, after the
    /// values printed before the error; usage errors exit 2; nothing traps.
    func testReliabilityExitStatuses() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ke-rel-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String)] = [
            ("1\nlet m = load \"\(dir.path)/none\"", "s.ke:2:9: error: none: no such model directory"),
            ("1\n1e308 * 10", "s.ke:2:7: error: the result of '*' is too large (beyond ±1.8e308)"),
            ("1\n" + String(repeating: "(", count: 100_000), "s.ke:2:257: error: too deeply nested (more than 256 levels)"),
            ("1\nlet s = \"open", "s.ke:2:9: error: unterminated string"),
            ("1\nrange 20000000", "s.ke:2:7: error: 'range' must be between 0 and 10000000, found 20000000"),
        ]
        for (source, first) in cases {
            let script = dir.appendingPathComponent("s.ke")
            try source.write(to: script, atomically: true, encoding: .utf8)
            let r = try ke([script.path])
            XCTAssertEqual(r.status, 1, source)
            let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false)
            XCTAssertEqual(lines.first.map { String($0).replacingOccurrences(of: dir.path + "/", with: "") }, first)
            // A syntax error runs nothing; a runtime error runs what came before it.
            let isSyntax = source.contains("(((") || source.contains("\"open")
            XCTAssertEqual(r.stdout, isSyntax ? "" : "1\n", source)
        }
        XCTAssertEqual(try ke(["--width"]).status, 2)
        XCTAssertEqual(try ke(["--tolerance", "nan", "--check", "x.ke"]).status, 2)
        XCTAssertEqual(try ke(["-c", ""]).status, 0)
    }
}
