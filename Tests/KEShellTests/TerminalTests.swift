import XCTest
@testable import KEShell

final class TerminalTests: XCTestCase {
    func testWidthFromEnvironment() {
        XCTAssertEqual(Terminal.width(environment: ["COLUMNS": "132"]), 132)
        XCTAssertEqual(Terminal.width(environment: ["COLUMNS": " 100 "]), 100)
        XCTAssertEqual(Terminal.width(environment: ["COLUMNS": "abc"]), 80)
        XCTAssertEqual(Terminal.width(environment: ["COLUMNS": "3"]), 80)
        XCTAssertEqual(Terminal.width(environment: [:]), 80)
    }

    func testColourNeedsTTYAndNoNoColor() {
        XCTAssertTrue(Terminal.colorAllowed(isTTY: true, environment: [:]))
        XCTAssertFalse(Terminal.colorAllowed(isTTY: false, environment: [:]))
        XCTAssertFalse(Terminal.colorAllowed(isTTY: true, environment: ["NO_COLOR": "1"]))
        XCTAssertTrue(Terminal.colorAllowed(isTTY: true, environment: ["NO_COLOR": ""]))
        XCTAssertFalse(Terminal.colorAllowed(isTTY: true, environment: ["TERM": "dumb"]))
    }

    func testUTF8LocaleDetection() {
        XCTAssertTrue(Terminal.supportsUTF8(environment: ["LANG": "en_US.UTF-8"]))
        XCTAssertTrue(Terminal.supportsUTF8(environment: ["LC_CTYPE": "C.utf8", "LANG": "C"]))
        XCTAssertFalse(Terminal.supportsUTF8(environment: ["LC_ALL": "C", "LANG": "en_US.UTF-8"]))
        XCTAssertFalse(Terminal.supportsUTF8(environment: [:]))
    }

    func testHistoryPath() {
        XCTAssertEqual(LineEditor.defaultHistoryPath(environment: ["XDG_STATE_HOME": "/s", "HOME": "/h"]), "/s/ke/history")
        XCTAssertEqual(LineEditor.defaultHistoryPath(environment: ["HOME": "/h"]), "/h/.local/state/ke/history")
        // A relative XDG_STATE_HOME is invalid per the spec and ignored.
        XCTAssertEqual(LineEditor.defaultHistoryPath(environment: ["XDG_STATE_HOME": "rel", "HOME": "/h"]), "/h/.local/state/ke/history")
    }

    func testAtomicWriteAndMakeDirectories() throws {
        let dir = NSTemporaryDirectory() + "ke-fs-\(getpid())/a/b"
        defer { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "ke-fs-\(getpid())") }
        XCTAssertTrue(FileSystem.makeDirectories(dir))
        try FileSystem.writeAtomically("héllo\n", to: dir + "/x.md")
        XCTAssertEqual(FileSystem.read(dir + "/x.md"), "héllo\n")
        try FileSystem.writeAtomically("second\n", to: dir + "/x.md")
        XCTAssertEqual(FileSystem.read(dir + "/x.md"), "second\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["x.md"])  // no temp left
        XCTAssertThrowsError(try FileSystem.writeAtomically("x", to: dir + "/missing/x.md"))
    }
}

final class ProgressBarTests: XCTestCase {
    func testRenderFitsWidthAndShowsPercentRateAndNote() {
        let line = ProgressBar.render(label: "train", done: 25, total: 100, note: "loss 2.31",
                                      elapsed: 2, width: 80, unicode: false)
        XCTAssertTrue(line.hasPrefix("train ["), line)
        XCTAssertTrue(line.contains(" 25%"), line)
        XCTAssertTrue(line.contains("25/100"), line)
        XCTAssertTrue(line.contains("12.5/s"), line)
        XCTAssertTrue(line.hasSuffix("loss 2.31"), line)
        let barWidth = line.filter { $0 == "#" || $0 == "-" }.count
        XCTAssertGreaterThanOrEqual(barWidth, 5)
        XCTAssertEqual(line.filter { $0 == "#" }.count, barWidth / 4)
        XCTAssertLessThan(line.count, 80)
        let narrow = ProgressBar.render(label: "x", done: 1, total: 3, note: "a long note that does not fit",
                                        elapsed: 1, width: 20, unicode: true)
        XCTAssertLessThanOrEqual(narrow.count, 19)
        let unicode = ProgressBar.render(label: "", done: 3, total: 3, note: "", elapsed: 0, width: 60, unicode: true)
        XCTAssertTrue(unicode.contains("█") && !unicode.contains("░") && unicode.contains("100%"), unicode)
    }

    func testThrottledAndClearedAtTheEnd() {
        final class Sink: @unchecked Sendable { var writes: [String] = [] }
        let sink = Sink()
        final class Clock: @unchecked Sendable { var now = 0.0 }
        let clock = Clock()
        let bar = ProgressBar(label: "", sink: { sink.writes.append($0) }, width: { 80 },
                              unicode: false, minInterval: 0.05, clock: { clock.now })
        let handler = bar.handler
        for i in 0..<100 {
            clock.now = Double(i) * 0.01  // 100 updates over one second
            handler(i, 100, "")
        }
        XCTAssertEqual(bar.redraws, 20)  // ≤ 20 per second
        XCTAssertTrue(sink.writes.allSatisfy { $0.hasPrefix("\r") })
        handler(100, 100, "")
        XCTAssertEqual(sink.writes.last, "\r\u{1B}[K")
        // A second piece of work draws again at once and measures its own rate.
        clock.now = 10
        handler(1, 10, "")
        XCTAssertEqual(bar.redraws, 21)
        clock.now = 11
        handler(5, 10, "")
        XCTAssertTrue(sink.writes.last?.contains("5.0/s") == true, sink.writes.last ?? "")
        bar.finish()
        XCTAssertEqual(sink.writes.last, "\r\u{1B}[K")
        let silent = ProgressBar(label: "", sink: nil)
        silent.update(done: 1, total: 2, note: "")
        XCTAssertEqual(silent.redraws, 0)
    }
}
