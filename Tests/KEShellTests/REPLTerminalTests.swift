import Foundation
import XCTest
import KECore
@testable import KEShell

/// A stand-in language: echoes each entry as `= entry @firstLine`; `slow` runs until cancelled.
final class EchoEngine: ShellEngine {
    func run(_ source: String, firstLine: Int) -> Bool {
        if source == "slow" {
            for _ in 0..<1000 {
                if Cancellation.shared.isCancelled {
                    Terminal.write("error: cancelled\n", to: 2)
                    return false
                }
                usleep(10_000)
            }
            Terminal.write("slow finished\n")
            return true
        }
        Terminal.write("= \(source) @\(firstLine)\n")
        return true
    }

    func needsContinuation(_ source: String) -> Bool {
        var depth = 0, quotes = 0
        for c in source {
            if c == "\"" { quotes += 1 }
            if quotes % 2 == 1 { continue }
            if "([{".contains(c) { depth += 1 }
            if ")]}".contains(c) { depth -= 1 }
        }
        return depth > 0 || quotes % 2 == 1
    }

    func completionSources() -> CompletionSources {
        CompletionSources(commands: ["entropy", "perplexity", "plot"], variables: ["model"])
    }
}

/// The REPL on a real pseudo-terminal (libedit, signals, history), with the echo engine in a
/// forked child.
final class REPLTerminalTests: XCTestCase {
    var stateDir = ""

    override func setUp() {
        stateDir = NSTemporaryDirectory() + "ke-repl-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        try? FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: stateDir)
    }

    func startREPL() throws -> PTY {
        let env = ["XDG_STATE_HOME": stateDir, "HOME": stateDir]
        let pty = try XCTUnwrap(PTY.fork {
            setenv("TERM", "xterm", 1)
            setenv("HOME", env["HOME"] ?? "/", 1)
            unsetenv("LANG"); unsetenv("LC_ALL"); unsetenv("LC_CTYPE")  // C locale: REPL must switch to UTF-8
            return REPL.run(engine: EchoEngine(), welcome: "welcome to the echo shell", environment: env)
        })
        XCTAssertTrue(pty.expect("welcome to the echo shell"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        return pty
    }

    func testStatementCompletionAndExit() throws {
        let pty = try startREPL()
        pty.send("1 + 2\r")
        XCTAssertTrue(pty.expect("= 1 + 2 @1"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        // Unique command prefix completes.
        pty.send("entr\t\r")
        XCTAssertTrue(pty.expect("= entropy  @2"), pty.text)  // completed with a trailing space
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        // Ambiguous prefix lists the candidates, keeping the line.
        pty.send("p\t")
        XCTAssertTrue(pty.expect("perplexity  plot"), pty.text)
        pty.send("l\tmodel\r")
        XCTAssertTrue(pty.expect("= plot model @3"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        // UTF-8 survives the line editor even when started in the C locale.
        pty.send("\"héllo ✓\"\r")
        XCTAssertTrue(pty.expect("= \"héllo ✓\" @4"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        pty.send("\u{4}")
        XCTAssertEqual(pty.waitForExit(), 0)
    }

    func testMultiLineEntryAndInterrupts() throws {
        let pty = try startREPL()
        pty.send("for i in [1, 2] {\r")
        XCTAssertTrue(pty.expectPrompt("..> "), pty.text)
        pty.send("  print(i)\r")
        XCTAssertTrue(pty.expectPrompt("..> "), pty.text)
        pty.send("}\r")
        XCTAssertTrue(pty.expect("= for i in [1, 2] {\n  print(i)\n} @1"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        // Ctrl-C at the prompt drops the typed text and keeps the session.
        pty.send("garbage")
        XCTAssertTrue(pty.expect("garbage"))
        pty.send("\u{3}")
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        pty.send("42\r")
        XCTAssertTrue(pty.expect("= 42 @4"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        // Ctrl-C inside a continuation abandons the whole entry.
        pty.send("(1 +\r")
        XCTAssertTrue(pty.expectPrompt("..> "))
        pty.send("\u{3}")
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        pty.send("7\r")
        XCTAssertTrue(pty.expect("= 7 @6"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        // Ctrl-C while a command runs cancels it and returns to the prompt.
        pty.send("slow\r")
        usleep(200_000)
        pty.send("\u{3}")
        XCTAssertTrue(pty.expect("error: cancelled"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        pty.send("8\r")
        XCTAssertTrue(pty.expect("= 8 @"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        pty.send("\u{4}")
        XCTAssertEqual(pty.waitForExit(), 0)
    }

    func testHistoryIsSavedAndReloaded() throws {
        do {
            let pty = try startREPL()
            pty.send("let a = 1\r")
            XCTAssertTrue(pty.expect("= let a = 1"))
            XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
            pty.send("{\r")
            XCTAssertTrue(pty.expectPrompt("..> "))
            pty.send("two lines }\r")
            XCTAssertTrue(pty.expect("= {\ntwo lines }"), pty.text)
            XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
            pty.send("\u{4}")
            XCTAssertEqual(pty.waitForExit(), 0)
        }
        let historyFile = stateDir + "/ke/history"
        let saved = unvis(try String(contentsOfFile: historyFile, encoding: .utf8))
        XCTAssertTrue(saved.contains("let a = 1"), saved)
        XCTAssertEqual(saved.components(separatedBy: "two lines").count, 2, "multi-line entry saved once: \(saved)")

        let pty = try startREPL()
        // Up arrow recalls the last entry (both lines, as one entry).
        pty.send("\u{1B}[A\r")
        XCTAssertTrue(pty.expect("= {\ntwo lines } @1"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        // Ctrl-R searches history incrementally.
        pty.send("\u{12}let\r")
        XCTAssertTrue(pty.expect("= let a = 1 @"), pty.text)
        XCTAssertTrue(pty.expectPrompt("ke> "), pty.text)
        pty.send("\u{4}")
        XCTAssertEqual(pty.waitForExit(), 0)
    }
}

/// Decodes the octal escapes (`\\040`) libedit writes in its history file.
func unvis(_ text: String) -> String {
    var out: [UInt8] = []
    let b = Array(text.utf8)
    var i = 0
    while i < b.count {
        if b[i] == UInt8(ascii: "\\"), i + 3 < b.count,
           let v = UInt8(String(decoding: b[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
            out.append(v)
            i += 4
        } else {
            out.append(b[i])
            i += 1
        }
    }
    return String(decoding: out, as: UTF8.self)
}
