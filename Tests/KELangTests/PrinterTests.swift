import XCTest
@testable import KECore
@testable import KELang

final class PrinterTests: XCTestCase {
    private func json(_ v: Value, width: Int = 80) -> (String, Bool) {
        var o = SessionOptions()
        o.width = width
        o.ascii = true
        var nonFinite = false
        let s = Printer.jsonLine(v, options: o, nonFinite: &nonFinite)
        return (s, nonFinite)
    }

    private func human(_ v: Value, width: Int = 80) -> String {
        var o = SessionOptions()
        o.width = width
        o.ascii = true
        return Printer.human(v, options: o)
    }

    private func sampleEntropy() -> EntropyResult {
        EntropyResult(total: 2.5, layers: [1.25, 1.25], tokens: 1234, normalized: 0.75,
                      stats: CoefficientStats(means: [[1, 2, 3, 4], [4, 3, 2, 1]], tokens: 1234), step: 1000)
    }

    func testNumbers() {
        XCTAssertEqual(Printer.number(6), "6")
        XCTAssertEqual(Printer.number(-0.0), "0")
        XCTAssertEqual(Printer.number(2.5), "2.5")
        XCTAssertEqual(Printer.number(1.0 / 3.0), "0.333333")
        XCTAssertEqual(Printer.number(123456789), "123456789")
        XCTAssertEqual(Printer.number(1234567.891), "1.23457e+06")
        XCTAssertEqual(Printer.number(1e-7), "1e-07")
        XCTAssertEqual(Printer.number(.nan), "nan")
        XCTAssertEqual(Printer.number(-.infinity), "-inf")
    }

    func testJSONOfScalarsListsAndRecords() {
        XCTAssertEqual(json(.number(6)).0, "6")
        XCTAssertEqual(json(.number(2.5)).0, "2.5")
        XCTAssertEqual(json(.string("a\"b\n")).0, #""a\"b\n""#)
        XCTAssertEqual(json(.bool(false)).0, "false")
        XCTAssertEqual(json(.list([.number(1), .list([.string("x")])])).0, #"[1,["x"]]"#)
        let timed = Record(Timed(seconds: 0.25, value: .number(3)))
        XCTAssertEqual(json(.record(timed)).0, #"{"kind":"timed","seconds":0.25,"value":3}"#)
        XCTAssertEqual(json(.record(Record(sampleEntropy()))).0,
                       #"{"kind":"entropy","total":2.5,"layers":[1.25,1.25],"tokens":1234,"normalized":0.75}"#)
        let saved = Record(SavedPath(path: "out/m"))
        XCTAssertEqual(json(.record(saved)).0, #"{"kind":"saved","path":"out/m"}"#)
    }

    func testNonFiniteNumbersAreNullAndFlagged() {
        let (s, flagged) = json(.list([.number(1), .number(.nan), .number(.infinity)]))
        XCTAssertEqual(s, "[1,null,null]")
        XCTAssertTrue(flagged)
        XCTAssertFalse(json(.number(1)).1)
        // Through a session: the value line, then a note on the error stream.
        let c = Captured(json: true)
        c.session.define("bad", .number(.nan))
        let r = c.run("bad")
        XCTAssertTrue(r.ok)
        XCTAssertEqual(r.outputs, ["null"])
        XCTAssertEqual(r.errors, ["t.ke:1:1: note: a NaN or infinite number was written as null"])
    }

    func testJSONOfChartsAndCorpora() throws {
        let r = runKE("spark [1, 2, 3]\nbar [1, 2] labels [\"a\", \"b\"] title \"t\"", json: true)
        XCTAssertTrue(r.ok, r.errors.joined())
        let spark = try JSONValue.parse(r.outputs[0])
        XCTAssertEqual(spark["kind"], .string("chart"))
        XCTAssertEqual(spark["type"], .string("spark"))
        XCTAssertEqual(spark["values"], .array([.int(1), .int(2), .int(3)]))
        XCTAssertEqual(spark["text"]?.stringValue?.isEmpty, false)
        let bar = try JSONValue.parse(r.outputs[1])
        XCTAssertEqual(bar.objectValue?.map(\.0), ["kind", "type", "values", "labels", "title", "text"])
        XCTAssertEqual(bar["type"], .string("bar"))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ke-printer-\(UInt32.random(in: 0...UInt32.max)).txt").path
        try "a\nb\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let rc = runKE("corpus \"\(file)\"", json: true)
        XCTAssertEqual(rc.outputs, [#"{"kind":"corpus","documents":2,"tokens":null,"source":""# + file + #""}"#])
    }

    func testHumanRendering() {
        XCTAssertEqual(human(.string("plain text")), "plain text")
        XCTAssertEqual(human(.list([.number(1), .string("a"), .bool(true)])), #"[1, "a", true]"#)
        // Long lists print one element per line.
        let long = Value.list((0..<30).map { .number(Double($0) * 1000.5) })
        let lines = human(long, width: 40).split(separator: "\n")
        XCTAssertEqual(lines.count, 30)
        XCTAssertEqual(lines[1], "1000.5")

        let e = human(.record(Record(sampleEntropy())))
        XCTAssertTrue(e.hasPrefix("knowledge entropy over 1,234 tokens (step 1000)"), e)
        // Four memories per layer: ln 4 is the maximum, and 1.25 / ln 4 = 90.2%.
        XCTAssertTrue(e.contains("      0  1.25        90.2% ###"), e)
        XCTAssertTrue(e.contains("total 2.5   normalized 0.75"), e)
        XCTAssertTrue(e.contains("  layers  "), e)

        let t = human(.record(Record(Timed(seconds: 1.234, value: .number(3)))))
        XCTAssertEqual(t, "3  (1.23 s)")
        let g = human(.record(Record(kind: "probe", fields: [("accuracy", .number(0.5)), ("n", .number(10))])))
        XCTAssertEqual(g, "probe\n  accuracy  0.5\n  n         10")
    }

    func testChartsAreValues() {
        let r = runKE("let c = spark [1, 2, 3]\nc\nc.type")
        XCTAssertTrue(r.ok, r.errors.joined())
        XCTAssertEqual(r.outputs.count, 2)
        XCTAssertEqual(r.outputs[1], "spark")
        XCTAssertEqual(r.outputs[0].count, 3)
        XCTAssertTrue(runKE("plot [[1, 2], [3, 4]] labels [\"a\", \"b\"] title \"t\" xlabel \"x\" ylabel \"y\" x [0, 1]").ok)
        XCTAssertTrue(runKE("hist [1, 2, 2, 3] bins 3 log").ok)
        XCTAssertTrue(runKE("heatmap [[1, 2], [3, 4]]").ok)
        assertError("plot [1, 2] labels [\"a\", \"b\"]", "1:20: error: 'plot … labels' has 2 labels for 1 series")
        assertError("plot [1, 2] x [1]", "1:15: error: 'plot … x' has 1 values but a series has 2")
        assertError("heatmap [1, 2]", "1:9: error: 'heatmap' expected a list of lists of numbers, but row 0 is a number")
        assertError("hist [1] bins 0", "1:15: error: 'hist … bins' must be between 1 and 1000, found 0")
    }
}
