import Foundation
import XCTest

/// The built `ke` binary on a pseudo-terminal: the REPL with the real language.
final class BinaryTerminalTests: XCTestCase {
    var stateDir = ""

    override func setUp() {
        stateDir = NSTemporaryDirectory() + "ke-bin-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        try? FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: stateDir)
    }

    /// `ke` beside the test bundle (SwiftPM builds every product before running tests).
    static var binary: String? {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("ke").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    func startKe() throws -> PTY {
        let binary = try XCTUnwrap(BinaryTerminalTests.binary, "the ke binary was not built next to the tests")
        let env = ["TERM": "xterm", "LANG": "C.UTF-8", "HOME": stateDir, "XDG_STATE_HOME": stateDir,
                   "PATH": "/usr/bin:/bin"]
        let pty = try XCTUnwrap(PTY.spawn(binary, [], environment: env))
        XCTAssertTrue(pty.expect("type help"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        return pty
    }

    func testStatementsCompletionUTF8AndExit() throws {
        let pty = try startKe()
        pty.send("1 + 2\r")
        XCTAssertTrue(pty.expect("1 + 2\n3\n"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "))
        // Tab completes a command prefix, then the keyword of that command.
        pty.send("entr\t")
        XCTAssertTrue(pty.expect("entropy "), pty.text)
        pty.send("\u{3}")  // drop the half-typed command
        XCTAssertTrue(pty.expectPrompt("ke> "))
        // Variables complete too.
        pty.send("let alpha = 5\r")
        XCTAssertTrue(pty.expectPrompt("ke> "))
        pty.send("alp\t * 2\r")
        XCTAssertTrue(pty.expect("alpha * 2\n10\n"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "))
        // UTF-8 in and out.
        pty.send("\"héllo ✓\"\r")
        XCTAssertTrue(pty.expect("\"héllo ✓\"\nhéllo ✓\n"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "))
        // An error leaves the session (and its variables) intact.
        pty.send("nosuch + 1\r")
        XCTAssertTrue(pty.expect("error"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "))
        pty.send("alpha\r")
        XCTAssertTrue(pty.expect("alpha\n5\n"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "))
        pty.send("\u{4}")
        XCTAssertEqual(pty.waitForExit(), 0)
    }

    func testMultiLineEntryCtrlCAndHistoryAcrossRuns() throws {
        do {
            let pty = try startKe()
            // Ctrl-C during a long loop cancels it and returns to the prompt.
            pty.send("for i in range 10000 { for j in range 10000 { let z = j } }\r")
            usleep(300_000)
            pty.send("\u{3}")
            XCTAssertTrue(pty.expect("interrupted", timeout: 10), pty.text)
            XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
            pty.send("for i in range 3 {\r")
            XCTAssertTrue(pty.expectPrompt("..> "), pty.text)
            pty.send("i * i\r")
            XCTAssertTrue(pty.expectPrompt("..> "), pty.text)
            pty.send("}\r")
            XCTAssertTrue(pty.expect("0\n1\n4\n"), pty.text)
            XCTAssertTrue(pty.expectPrompt("ke> "))
            // Ctrl-C clears the line; the session goes on.
            pty.send("garbage")
            XCTAssertTrue(pty.expect("garbage"))
            pty.send("\u{3}")
            XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
            pty.send("6 * 7\r")
            XCTAssertTrue(pty.expect("6 * 7\n42\n"), pty.text)
            XCTAssertTrue(pty.expectPrompt("ke> "))
            pty.send("\u{4}")
            XCTAssertEqual(pty.waitForExit(), 0)
        }
        let history = try String(contentsOfFile: stateDir + "/ke/history", encoding: .utf8)
        XCTAssertTrue(history.hasPrefix("_HiStOrY_V2_"), history)
        XCTAssertFalse(history.contains("garbage"), history)

        // A second run recalls the entries: Up gives `6 * 7`, Up again the whole `for` entry.
        let pty = try startKe()
        pty.send("\u{1B}[A\u{1B}[A\r")
        XCTAssertTrue(pty.expect("0\n1\n4\n"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "))
        pty.send("\u{1B}[A\u{1B}[A\r")
        XCTAssertTrue(pty.expect("42\n"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "))
        pty.send("\u{4}")
        XCTAssertEqual(pty.waitForExit(), 0)
    }
}
