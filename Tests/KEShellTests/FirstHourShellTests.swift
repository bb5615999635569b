import Foundation
import XCTest
import KECore
@testable import KEShell

/// Issue 31 at the shell: `--check … --against`, "did you mean" for options and subcommands,
/// the banner's kernel.
final class FirstHourShellTests: XCTestCase {
    func testCheckAgainstATranscriptAnywhere() throws {
        XCTAssertEqual(try CLI.parse(["--check", "a.ke", "--against", "out/x.md"]).notebook,
                       .check(tolerance: .standard, against: "out/x.md"))
        XCTAssertEqual(try CLI.parse(["--against", "x.md", "--check", "a.ke"]).notebook,
                       .check(tolerance: .standard, against: "x.md"))
        XCTAssertEqual(try CLI.parse(["--check", "a.ke"]).notebook, .check(tolerance: .standard, against: nil))
        XCTAssertThrowsError(try CLI.parse(["--notebook", "x.md", "a.ke", "--against", "y.md"])) { e in
            XCTAssertEqual((e as? UsageError)?.message, "--against OUT.md goes with --check (ke --check SCRIPT.ke --against OUT.md)")
        }
        XCTAssertThrowsError(try CLI.parse(["--check", "a.ke", "--against"]))

        let dir = NSTemporaryDirectory() + "ke-against-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/elsewhere", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = dir + "/demo.ke"
        try "print loss 2.50000\n".write(toFile: script, atomically: true, encoding: .utf8)
        let nb = NotebookFiles(render: { source, file in
            ("# \(NotebookRenderer.baseName(file))\n" + source, true)
        })
        XCTAssertTrue(try nb.writeNotebook(scriptPath: script, to: dir + "/elsewhere/out.md"))
        XCTAssertTrue(try nb.check(scriptPath: script, against: dir + "/elsewhere/out.md", tolerance: .standard).ok)
        // Nothing beside the script: only the given transcript is read.
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/demo.md"))
        XCTAssertThrowsError(try nb.check(scriptPath: script, tolerance: .standard))
        XCTAssertThrowsError(try nb.check(scriptPath: script, against: dir + "/none.md", tolerance: .standard)) { e in
            XCTAssertTrue("\(e)".contains("ke --notebook \(dir)/none.md \(script)"), "\(e)")
        }
        try "# other\n".write(toFile: dir + "/elsewhere/out.md", atomically: true, encoding: .utf8)
        XCTAssertFalse(try nb.check(scriptPath: script, against: dir + "/elsewhere/out.md", tolerance: .standard).ok)
    }

    func testMisspeltOptionsAndSubcommandsGetASuggestion() {
        XCTAssertThrowsError(try CLI.parse(["--notebok", "x.ke"])) { e in
            XCTAssertEqual((e as? UsageError)?.message, "unknown option '--notebok' — did you mean '--notebook'?")
        }
        XCTAssertThrowsError(try CLI.parse(["--chek", "x.ke"])) { e in
            XCTAssertEqual((e as? UsageError)?.message, "unknown option '--chek' — did you mean '--check'?")
        }
        XCTAssertEqual(CLI.subcommandSuggestion("hlep"), " — did you mean 'ke help'?")
        XCTAssertEqual(CLI.subcommandSuggestion("entrpy"), " — did you mean 'ke help entropy' or 'ke -c \"entropy …\"'?")
        XCTAssertEqual(CLI.subcommandSuggestion("script.ke"), "")
    }

    func testBannerNamesTheKernelThatRunsTheProducts() {
        if matrixProductKernel == .fixedOrder {
            XCTAssertEqual(kernelBanner, "fixed-order kernel (reproducible)")
        } else {
            XCTAssertTrue(kernelBanner.hasPrefix("OpenBLAS "))
        }
        XCTAssertFalse(kernelBanner.contains("SkylakeX") && matrixProductKernel == .fixedOrder)
    }
}
