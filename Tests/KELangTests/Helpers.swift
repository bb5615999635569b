import XCTest
@testable import KELang

/// Runs source in a fresh (or given) session and collects what it printed.
struct Run {
    var outputs: [String] = []
    var errors: [String] = []
    var ok = false

    /// The single error's first line (FILE:LINE:COL: error: …).
    var firstError: String? { errors.first?.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) }
}

/// A session whose output is captured into `box`.
final class Captured {
    var run = Run()
    lazy var session: Session = Session(
        options: options,
        output: { [unowned self] in self.run.outputs.append($0) },
        errorOutput: { [unowned self] in self.run.errors.append($0) })
    var options: SessionOptions

    init(json: Bool = false, width: Int = 80, ascii: Bool = false) {
        var o = SessionOptions()
        o.json = json
        o.width = width
        o.ascii = ascii
        options = o
    }

    @discardableResult
    func run(_ source: String, file: String = "t.ke") -> Run {
        run = Run()
        run.ok = session.run(source, file: file)
        return run
    }
}

/// Runs `source` in a fresh session.
func runKE(_ source: String, json: Bool = false, width: Int = 80) -> Run {
    Captured(json: json, width: width).run(source)
}

/// Asserts that `source` fails with exactly `message` at `line:column` (first line of the report).
func assertError(_ source: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
    let r = runKE(source)
    XCTAssertFalse(r.ok, "expected an error for: \(source)", file: file, line: line)
    XCTAssertEqual(r.firstError, "t.ke:" + expected, "source: \(source)", file: file, line: line)
}

/// Asserts that `source` runs and prints exactly `outputs`.
func assertOutputs(_ source: String, _ outputs: [String], json: Bool = false, file: StaticString = #filePath, line: UInt = #line) {
    let r = runKE(source, json: json)
    XCTAssertTrue(r.ok, "unexpected error: \(r.errors.joined(separator: "\n"))", file: file, line: line)
    XCTAssertEqual(r.outputs, outputs, "source: \(source)", file: file, line: line)
}
