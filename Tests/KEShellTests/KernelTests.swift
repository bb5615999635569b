import Foundation
import XCTest
import KECore
@testable import KELang
@testable import KEShell

/// The `ke --kernel-stdio` protocol, driven in-process through `KernelServer` (values, charts and
/// errors of the real language; no models needed), and through the binary for SIGINT.
final class KernelTests: XCTestCase {
    /// A server whose answer lines are collected, parsed.
    final class Harness {
        var lines: [JSONValue] = []
        var raw: [String] = []
        lazy var server = KernelServer { [unowned self] line in
            self.raw.append(line)
            self.lines.append((try? JSONValue.parse(line)) ?? .string("UNPARSABLE: \(line)"))
        }

        /// Sends one request line; returns the answer lines it produced.
        @discardableResult
        func send(_ request: String) -> [JSONValue] {
            let start = lines.count
            _ = server.handle(request)
            return Array(lines[start...])
        }

        func execute(_ code: String, id: String = "x") -> [JSONValue] {
            send(JSONValue.object([("id", .string(id)), ("type", .string("execute")), ("code", .string(code))]).serialized())
        }
    }

    func types(_ answers: [JSONValue]) -> [String] { answers.map { $0["type"]?.stringValue ?? "?" } }

    func testExecuteResultAndDisplayBeforeIt() throws {
        let h = Harness()
        let answers = h.execute("let xs = [1, 2, 3]\nspark xs\nsum xs", id: "7")
        XCTAssertEqual(types(answers), ["display", "result", "done"])
        XCTAssertTrue(answers.allSatisfy { $0["id"] == .string("7") })
        // The result: text/plain as the transcript prints it, application/json as --json does.
        let result = try XCTUnwrap(answers[1]["data"])
        XCTAssertEqual(result["text/plain"], .string("6"))
        XCTAssertEqual(result["application/json"], .int(6))
        // The display: a chart, with its text rendering (as the Markdown transcripts draw it).
        let display = try XCTUnwrap(answers[0]["data"])
        var printed = ""
        let plain = Session(options: Notebook.sessionOptions, output: { printed += $0 }, errorOutput: { _ in })
        XCTAssertTrue(plain.run("spark [1, 2, 3]", file: "t"))
        XCTAssertEqual(display["text/plain"], .string(printed))
        XCTAssertEqual(display["application/json"]?["kind"], .string("chart"))
        XCTAssertEqual(display["application/json"]?["type"], .string("spark"))
        XCTAssertEqual(answers[2]["status"], .string("ok"))
        // Every line is one line of JSON.
        XCTAssertTrue(h.raw.allSatisfy { !$0.contains("\n") })
    }

    func testLastStatementNotAnExpressionGivesNoResult() {
        let h = Harness()
        XCTAssertEqual(types(h.execute("1 + 1\nlet y = 3")), ["display", "done"])
        XCTAssertEqual(types(h.execute("let z = 3")), ["done"])
        XCTAssertEqual(types(h.execute("for i in range 2 { i }")), ["display", "display", "done"])
    }

    func testVariablesPersistAcrossRequests() {
        let h = Harness()
        _ = h.execute("let a = 20")
        let answers = h.execute("a + 1")
        XCTAssertEqual(answers.first?["data"]?["text/plain"], .string("21"))
    }

    func testErrorCarriesLineColumnAndCaret() throws {
        let h = Harness()
        // A run-time error in line 2: the value shown before it is display data.
        let answers = h.execute("1 + 1\nlet b = 1 + \"x\"", id: "e")
        XCTAssertEqual(types(answers), ["display", "error", "done"])
        let error = answers[1]
        XCTAssertEqual(error["ename"], .string("ke error"))
        let message = try XCTUnwrap(error["message"]?.stringValue)
        XCTAssertFalse(message.isEmpty)
        XCTAssertEqual(error["line"], .int(2))
        XCTAssertEqual(error["column"], .int(11))
        XCTAssertEqual(error["caret"], .string("let b = 1 + \"x\"\n          ^"))
        let traceback = try XCTUnwrap(error["traceback"]?.arrayValue?.first?.stringValue)
        XCTAssertEqual(traceback, "<cell>:2:11: error: \(message)\nlet b = 1 + \"x\"\n          ^")
        XCTAssertEqual(answers[2]["status"], .string("error"))
        // An unknown name stops the cell before anything runs.
        let unknown = h.execute("1 + 1\nnope")
        XCTAssertEqual(types(unknown), ["error", "done"])
        XCTAssertEqual(unknown[0]["line"], .int(2))
        XCTAssertEqual(unknown[0]["column"], .int(1))
        // The session lives on.
        XCTAssertEqual(types(h.execute("2 * 3")), ["result", "done"])
    }

    func testCompletionCountsCodePoints() throws {
        let h = Harness()
        _ = h.execute("let entropyValue = 1")
        // "é" is one code point (two UTF-8 bytes): the cursor and the span count code points.
        let code = "let é = entr"
        let answers = h.send(#"{"id":"c","type":"complete","code":"\#(code)","cursor":12}"#)
        XCTAssertEqual(types(answers), ["complete", "done"])
        let matches = try XCTUnwrap(answers[0]["matches"]?.arrayValue?.compactMap(\.stringValue))
        XCTAssertTrue(matches.contains("entropy"), "\(matches)")
        XCTAssertTrue(matches.contains("entropyValue"), "\(matches)")
        XCTAssertEqual(answers[0]["cursor_start"], .int(8))
        XCTAssertEqual(answers[0]["cursor_end"], .int(12))
        // Keywords of the command being typed, as Tab offers them in the shell.
        let keywords = h.send(#"{"id":"k","type":"complete","code":"entropy m o","cursor":11}"#)
        XCTAssertEqual(keywords[0]["matches"]?.arrayValue?.contains(.string("on")), true)
    }

    func testInspectUsesHelp() throws {
        let h = Harness()
        let answers = h.send(#"{"id":"i","type":"inspect","code":"let e = entropy m on c","cursor":10}"#)
        XCTAssertEqual(types(answers), ["inspect", "done"])
        XCTAssertEqual(answers[0]["found"], .bool(true))
        var help = ""
        let session = Session(options: Notebook.sessionOptions, output: { help += $0 + "\n" }, errorOutput: { _ in })
        XCTAssertTrue(session.run("help entropy", file: "t"))
        XCTAssertEqual(answers[0]["data"]?["text/plain"], .string(help))
        // A variable shows its type and value; an unknown word is not found.
        _ = h.execute("let xs = [1, 2]")
        let variable = h.send(#"{"id":"v","type":"inspect","code":"xs","cursor":1}"#)
        XCTAssertEqual(variable[0]["data"]?["text/plain"], .string("xs: a list\n[1, 2]\n"))
        let none = h.send(#"{"id":"n","type":"inspect","code":"zzz","cursor":3}"#)
        XCTAssertEqual(none[0]["found"], .bool(false))
        XCTAssertEqual(none[0]["data"], .object([]))
    }

    func testIsComplete() {
        let h = Harness()
        func status(_ code: String) -> JSONValue? {
            h.send(JSONValue.object([("id", .string("s")), ("type", .string("is_complete")), ("code", .string(code))]).serialized())
                .first?["status"]
        }
        XCTAssertEqual(status("let xs = [1, 2"), .string("incomplete"))
        XCTAssertEqual(status("for i in range 3 {"), .string("incomplete"))
        XCTAssertEqual(status("\"open string"), .string("incomplete"))
        XCTAssertEqual(status("let xs = [1, 2]"), .string("complete"))
        XCTAssertEqual(status("1 @ 2"), .string("invalid"))  // a character the language has no use for
        XCTAssertEqual(h.lines.last?["type"], .string("done"))
    }

    func testMalformedLinesNeverCrash() {
        let h = Harness()
        for (line, id) in [("not json", JSONValue.null), ("[1, 2]", .null), (#"{"type":"execute","code":"1"}"#, .null),
                           (#"{"id":5,"type":"execute"}"#, .int(5)), (#"{"id":"a","type":"dance"}"#, .string("a")),
                           (#"{"id":"b","type":"execute"}"#, .string("b")),
                           (#"{"id":"c","type":"complete","code":"x","cursor":"end"}"#, .string("c"))] {
            let answers = h.send(line)
            XCTAssertEqual(types(answers), ["error", "done"], line)
            XCTAssertEqual(answers.first?["id"], id, line)
            XCTAssertEqual(answers.last?["status"], .string("error"), line)
        }
        XCTAssertEqual(h.send("   "), [])  // blank lines are ignored
        XCTAssertEqual(types(h.execute("1")), ["result", "done"])
    }

    func testShutdown() {
        let h = Harness()
        XCTAssertFalse(h.server.handle(#"{"id":"q","type":"shutdown"}"#))
        XCTAssertEqual(h.lines.last, .object([("id", .string("q")), ("type", .string("done")), ("status", .string("ok"))]))
    }

    func testCancellationAbortsAndKeepsVariables() {
        let h = Harness()
        _ = h.execute("let kept = 42")
        // Cancel (what SIGINT does) while a long loop runs.
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { Cancellation.shared.cancel() }
        let answers = h.execute("for i in range 5000 { for j in range 5000 { let kept2 = j } }\n1")
        XCTAssertEqual(types(answers), ["error", "done"])
        XCTAssertEqual(answers[0]["message"], .string("interrupted"))
        XCTAssertEqual(answers[1]["status"], .string("aborted"))
        XCTAssertEqual(h.execute("kept").first?["data"]?["text/plain"], .string("42"))
    }

    func testChartsHaveSVG() throws {
        let h = Harness()
        for code in ["bar [1, 2, 3] title \"a < b\"", "plot [[1, 2], [2, 1]] labels [\"x\", \"y\"]", "hist [1, 2, 2, 3] bins 3",
                     "heatmap [[1, 2], [3, 4]]", "spark [1, 5, 2]"] {
            let data = try XCTUnwrap(h.execute(code).first?["data"], code)
            XCTAssertEqual(data.objectValue?.map(\.0), ["text/plain", "application/json", "image/svg+xml"], code)
            let svg = try XCTUnwrap(data["image/svg+xml"]?.stringValue, code)
            XCTAssertTrue(svg.hasPrefix("<svg") || svg.hasPrefix("<?xml"), code)
            XCTAssertTrue(svg.contains("</svg>"), code)
        }
        // The title is escaped inside the SVG.
        let bar = try XCTUnwrap(h.execute("bar [1, 2] title \"a < b\"").first?["data"]?["image/svg+xml"]?.stringValue)
        XCTAssertTrue(bar.contains("a &lt; b"), bar)
        // Values that are not charts have no SVG.
        XCTAssertNil(h.execute("[1, 2]").first?["data"]?["image/svg+xml"])
    }

    /// SIGINT through the binary: the running request is aborted, the session lives on, an
    /// idle SIGINT is ignored.
    func testSIGINTThroughTheBinary() throws {
        let binary = try XCTUnwrap(BinaryTerminalTests.binary, "the ke binary was not built next to the tests")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["--kernel-stdio"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = FileHandle.nullDevice
        try p.run()
        let reader = LineReader(output.fileHandleForReading)
        func send(_ line: String) { input.fileHandleForWriting.write(Data((line + "\n").utf8)) }
        func answersUntilDone() -> [JSONValue] {
            var out: [JSONValue] = []
            while let line = reader.next() {
                let v = (try? JSONValue.parse(line)) ?? .null
                out.append(v)
                if v["type"] == .string("done") { break }
            }
            return out
        }
        send(#"{"id":"1","type":"execute","code":"let kept = 5"}"#)
        XCTAssertEqual(answersUntilDone().last?["status"], .string("ok"))
        kill(p.processIdentifier, SIGINT)  // idle: ignored
        send(#"{"id":"2","type":"execute","code":"for i in range 5000 { for j in range 5000 { let x = j } }"}"#)
        Thread.sleep(forTimeInterval: 0.5)
        kill(p.processIdentifier, SIGINT)
        let aborted = answersUntilDone()
        XCTAssertEqual(aborted.last?["status"], .string("aborted"), "\(aborted)")
        XCTAssertTrue(aborted.contains { $0["message"] == .string("interrupted") }, "\(aborted)")
        send(#"{"id":"3","type":"execute","code":"kept"}"#)
        XCTAssertEqual(answersUntilDone().first?["data"]?["text/plain"], .string("5"))
        send(#"{"id":"4","type":"shutdown"}"#)
        XCTAssertEqual(answersUntilDone().last?["id"], .string("4"))
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
    }
}

/// Lines from a file handle, blocking.
final class LineReader {
    let handle: FileHandle
    var buffer = Data()
    init(_ handle: FileHandle) { self.handle = handle }
    func next() -> String? {
        while true {
            if let i = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[buffer.startIndex..<i], as: UTF8.self)
                buffer = Data(buffer[(i + 1)...])
                return line
            }
            let more = handle.availableData
            if more.isEmpty { return nil }
            buffer.append(more)
        }
    }
}

/// Rich outputs of results, on the tiny fixture model (Tests/Fixtures/models/olmo).
final class KernelRichOutputTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    func testResultsHaveTablesAndLayerBars() throws {
        for p in ["models/olmo", "corpus.txt", "facts.json", "tasks"] where !FileManager.default.fileExists(atPath: fixtures + "/" + p) {
            throw XCTSkip("fixture \(p) missing")
        }
        let h = KernelTests.Harness()
        _ = h.execute("""
            let m = load "\(fixtures)/models/olmo"
            let c = corpus "\(fixtures)/corpus.txt"
            """)
        func data(_ code: String) throws -> JSONValue {
            let answers = h.execute(code)
            return try XCTUnwrap(answers.first(where: { $0["type"] == .string("result") })?["data"], "\(code): \(answers)")
        }
        // entropy: the per-layer table and the layer bars, beside the text as the terminal shows it.
        let e = try data("entropy m on c")
        XCTAssertEqual(e.objectValue?.map(\.0), ["text/plain", "application/json", "image/svg+xml", "text/html"])
        let layers = try XCTUnwrap(e["application/json"]?["layers"]?.arrayValue)
        let html = try XCTUnwrap(e["text/html"]?.stringValue)
        XCTAssertEqual(html.components(separatedBy: "<tr>").count - 1, 1 + layers.count + 1)  // header, layers, total
        XCTAssertTrue(html.contains("<th>layer</th><th>entropy</th><th>of max</th>"), html)
        XCTAssertTrue(try XCTUnwrap(e["text/plain"]?.stringValue).hasPrefix("knowledge entropy over "))
        XCTAssertTrue(try XCTUnwrap(e["image/svg+xml"]?.stringValue).contains("knowledge entropy per layer"))
        // coefficients: its table and bars.
        let k = try data("coefficients m on c")
        XCTAssertEqual(k.objectValue?.map(\.0), ["text/plain", "application/json", "image/svg+xml", "text/html"])
        XCTAssertTrue(try XCTUnwrap(k["text/html"]?.stringValue).contains("<th>gini</th>"))
        // compare: its table and its chart.
        let cmp = try data("compare (entropy m on c) (entropy m on c)")
        XCTAssertEqual(cmp.objectValue?.map(\.0), ["text/plain", "application/json", "image/svg+xml", "text/html"])
        // probe and evaluation: tables (no chart of their own; `bar EVALUATION` draws one).
        let probe = try data("probe m on facts \"\(fixtures)/facts.json\"")
        XCTAssertEqual(probe.objectValue?.map(\.0), ["text/plain", "application/json", "text/html"])
        XCTAssertTrue(try XCTUnwrap(probe["text/html"]?.stringValue).contains("<td>memorization</td>"))
        let ev = try data("evaluate m on tasks \"\(fixtures)/tasks\"")
        XCTAssertEqual(ev.objectValue?.map(\.0), ["text/plain", "application/json", "text/html"])
        XCTAssertTrue(try XCTUnwrap(ev["text/html"]?.stringValue).contains("mean score"))
        // The same table twice is the same bytes.
        XCTAssertEqual(try data("entropy m on c")["text/html"], e["text/html"])
    }
}
