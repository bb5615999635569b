import Foundation
import XCTest

/// `ke --notebook / --check / --update / --tolerance` through the built binary.
final class BinaryNotebookTests: XCTestCase {
    func ke(_ args: [String], in dir: String) throws -> (status: Int32, out: String, err: String) {
        let binary = try XCTUnwrap(BinaryTerminalTests.binary, "the ke binary was not built next to the tests")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func testNotebookCheckUpdateRoundTrip() throws {
        let dir = NSTemporaryDirectory() + "ke-binnb-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "# Halves\nlet xs = [1, 3]\nmean xs\nxs\n".write(toFile: dir + "/h.ke", atomically: true, encoding: .utf8)

        let nb = try ke(["--notebook", "out.md", "h.ke"], in: dir)
        XCTAssertEqual(nb.status, 0, nb.err)
        let written = try String(contentsOfFile: dir + "/out.md", encoding: .utf8)
        XCTAssertTrue(written.contains("Halves\n\n```ke\nlet xs = [1, 3]\n```\n\n```ke\nmean xs\n```\n\n```text\n2\n```"), written)
        let toStdout = try ke(["--notebook", "h.ke"], in: dir)
        XCTAssertEqual(toStdout.out, written)

        XCTAssertEqual(try ke(["--check", "h.ke"], in: dir).status, 1)  // no h.md yet
        XCTAssertEqual(try ke(["--update", "h.ke"], in: dir).status, 0)
        XCTAssertEqual(try String(contentsOfFile: dir + "/h.md", encoding: .utf8), written)
        let same = try ke(["--check", "h.ke"], in: dir)
        XCTAssertEqual(same.status, 0, same.out + same.err)

        try written.replacingOccurrences(of: "```text\n2\n```", with: "```text\n2.01\n```")
            .write(toFile: dir + "/h.md", atomically: true, encoding: .utf8)
        let differs = try ke(["--check", "h.ke"], in: dir)
        XCTAssertEqual(differs.status, 1)
        XCTAssertTrue(differs.out.contains("-2.01\n+2\n"), differs.out)
        XCTAssertEqual(try ke(["--check", "h.ke", "--tolerance", "0.01"], in: dir).status, 0)
        XCTAssertEqual(try ke(["--check", "h.ke", "--tolerance", "x"], in: dir).status, 2)

        // A failing script: the transcript records the error and the exit status is 1.
        try "1 + 1\nnope\n".write(toFile: dir + "/bad.ke", atomically: true, encoding: .utf8)
        let bad = try ke(["--notebook", "bad.md", "bad.ke"], in: dir)
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(try String(contentsOfFile: dir + "/bad.md", encoding: .utf8).contains("bad.ke:2:1: error:"))
    }
}
