import Foundation
import XCTest

/// Golden runs of the built `ke` binary (built by `swift build`; skipped when absent).
final class CLITests: XCTestCase {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The `ke` executable next to this test bundle, or under the package's `.build`.
    static func binary() -> URL? {
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["KE_BINARY"] { candidates.append(URL(fileURLWithPath: env)) }
        // The test bundle lives in the build products directory, next to the executable.
        let bundle = Bundle(for: CLITests.self).bundleURL
        candidates.append(bundle.deletingLastPathComponent().appendingPathComponent("ke"))
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/ke"))
        candidates.append(root.appendingPathComponent(".build/release/ke"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    func ke(_ args: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Result {
        guard let exe = CLITests.binary() else {
            throw XCTSkip("the ke binary is not built (run `swift build` first, or set KE_BINARY)")
        }
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }

    func testSourceAndStdin() throws {
        let r = try ke(["-c", "let x = 2\nx * 3\n[1, 2] + [3]"])
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stdout, "6\n[1, 2, 3]\n")
        XCTAssertEqual(r.stderr, "")
        let s = try ke([], stdin: "let y = 2\ny * 3\n")
        XCTAssertEqual(s.stdout, "6\n")
        XCTAssertEqual(s.status, 0)
    }

    func testJSONLines() throws {
        let r = try ke(["--json", "-c", "let e = 1\n[1, 2.5]\n\"s\"\ntrue\n(time 4).value"])
        XCTAssertEqual(r.stdout, "[1,2.5]\n\"s\"\ntrue\n4\n")
    }

    func testErrorsExitOneWithCaret() throws {
        let r = try ke(["-c", "let c = 1\nlet m = 2\nentrpy m on c"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, "<command line>:3:1: error: unknown command 'entrpy' — did you mean 'entropy'?\nentrpy m on c\n^\n")
    }

    func testScriptFilesAndInvalidUTF8() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ke-cli-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.ke")
        try "# a script\nlet xs = range 4\nsum xs\n".write(to: good, atomically: true, encoding: .utf8)
        let r = try ke([good.path])
        XCTAssertEqual(r.stdout, "6\n")
        XCTAssertEqual(r.status, 0)

        let bad = dir.appendingPathComponent("bad.ke")
        try Data([0x31, 0x0A, 0x22, 0xFF, 0x22, 0x0A]).write(to: bad)
        let b = try ke([bad.path])
        XCTAssertEqual(b.status, 1)
        XCTAssertEqual(b.stderr, "\(bad.path): error: invalid UTF-8 at byte 3 (line 2)\n")

        let missing = try ke([dir.appendingPathComponent("nope.ke").path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("no such file"), missing.stderr)
    }

    func testUsageErrorsExitTwo() throws {
        let r = try ke(["--bogus"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("ke: unknown option '--bogus'\n\nusage: ke"), r.stderr)
        XCTAssertEqual(try ke(["a.ke", "b.ke"]).status, 2)
        XCTAssertEqual(try ke(["-c"]).status, 2)
        XCTAssertEqual(try ke(["--width", "x", "-c", "1"]).status, 2)
        let h = try ke(["--help"])
        XCTAssertEqual(h.status, 0)
        XCTAssertTrue(h.stdout.hasPrefix("usage: ke"))
        let v = try ke(["--version"])
        XCTAssertTrue(v.stdout.hasPrefix("ke "))
    }

    /// `ke help` and `ke help NAME` at the shell print what `help` prints in a script.
    func testHelpAtTheShell() throws {
        let list = try ke(["help"])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertEqual(list.stdout, try ke(["-c", "help"]).stdout)
        XCTAssertTrue(list.stdout.hasPrefix("Commands (help NAME for details):"), list.stdout)
        let load = try ke(["help", "load"])
        XCTAssertEqual(load.status, 0, load.stderr)
        XCTAssertEqual(load.stdout, try ke(["-c", "help load"]).stdout)
        XCTAssertTrue(load.stdout.contains("load \"DIR\" [bf16] [tokenizer \"FILE\"]"), load.stdout)
        // Options still apply, before or after.
        XCTAssertEqual(try ke(["--json", "help", "load"]).stdout, try ke(["--json", "-c", "help load"]).stdout)
        XCTAssertEqual(try ke(["help", "load", "--width", "40"]).stdout, try ke(["--width", "40", "-c", "help load"]).stdout)
        // An unknown name is a usage error at the shell (exit 2, no usage text) …
        let unknown = try ke(["help", "lod"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertEqual(unknown.stderr, "ke: no help for 'lod': no command has that name — did you mean 'load'? (`ke help` lists every command)\n")
        let nonsense = try ke(["help", "nonsense"])
        XCTAssertEqual(nonsense.status, 2)
        XCTAssertEqual(nonsense.stdout, "")
        XCTAssertEqual(nonsense.stderr, "ke: no help for 'nonsense': no command has that name (`ke help` lists every command)\n")
        // … and a script error in a script, as before.
        let script = try ke(["-c", "help nonsense"])
        XCTAssertEqual(script.status, 1)
        XCTAssertEqual(script.stderr, "<command line>:1:6: error: no command named 'nonsense'\nhelp nonsense\n     ^\n")
        for bad in [["help", "load", "save"], ["help", "load \"x\""], ["help", "-c", "1"]] {
            let r = try ke(bad)
            XCTAssertEqual(r.status, 2, "\(bad): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("ke: "), r.stderr)
        }
        // After `--`, help is a file name.
        let file = try ke(["--", "help"])
        XCTAssertEqual(file.status, 1)
        XCTAssertEqual(file.stderr, "ke: no such file 'help'\n")
    }

    func testASCIICharts() throws {
        let r = try ke(["--ascii", "--width", "40", "-c", "bar [1, 2, 3]"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.utf8.allSatisfy { $0 < 0x80 }, r.stdout)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 3)
    }

    func testDeepestNestingRunsOnASmallCallerStack() throws {
        guard let exe = CLITests.binary() else { throw XCTSkip("the ke binary is not built") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ke-deep-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        /// Runs a script with a 1 MB main-thread stack (the session runs on its own thread).
        func runSmallStack(_ source: String) throws -> (Int32, String, String) {
            let script = dir.appendingPathComponent("deep.ke")
            try source.write(to: script, atomically: true, encoding: .utf8)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "ulimit -s 1024; exec \"$0\" \"$1\"", exe.path, script.path]
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return (p.terminationStatus, o, e)
        }

        let deepest = String(repeating: "(", count: 256) + "1" + String(repeating: ")", count: 256) + "\n"
            + "(" + String(repeating: "time ", count: 255) + "0).seconds >= 0\n"
            + "len " + String(repeating: "[", count: 255) + "2" + String(repeating: "]", count: 255) + "\n"
        let (status, out, err) = try runSmallStack(deepest)
        XCTAssertEqual(status, 0, err)
        XCTAssertEqual(out, "1\ntrue\n1\n")

        let (status2, out2, err2) = try runSmallStack(String(repeating: "(", count: 100_000))
        XCTAssertEqual(status2, 1)
        XCTAssertEqual(out2, "")
        XCTAssertTrue(err2.contains("deep.ke:1:257: error: too deeply nested (more than 256 levels)"), err2)
    }

    func testUserOpenBLASCoreTypeIsKept() throws {
        // With the variable set, ke must run normally (no re-exec loop); unset, it re-executes once.
        XCTAssertEqual(try ke(["-c", "1"], environment: ["OPENBLAS_CORETYPE": "Haswell"]).stdout, "1\n")
        XCTAssertEqual(try ke(["-c", "1"]).stdout, "1\n")
    }
}
