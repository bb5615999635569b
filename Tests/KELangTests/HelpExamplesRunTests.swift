import Foundation
import XCTest
import KECore
@testable import KELang

/// Every command's help example runs as written, in a session where the names examples use
/// exist (`m`, `c`, `e`, `e1`, `e2`, `r`, `xs`), on the test-sized built-in tiny run
/// (KE_TINY_CONFIG=test, cache in a temporary directory), from the repository root so the
/// fixture paths resolve; files an example writes go to a temporary directory.
final class HelpExamplesRunTests: XCTestCase {
    func testEveryExampleRuns() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let tmp = NSTemporaryDirectory() + "ke-examples-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: tmp + "/out", withIntermediateDirectories: true)
        var saved: [String: String?] = [:]
        for name in ["KE_TINY_CONFIG", "XDG_CACHE_HOME"] { saved[name] = getenv(name).map { String(cString: $0) } }
        setenv("KE_TINY_CONFIG", "test", 1)
        setenv("XDG_CACHE_HOME", tmp + "/cache", 1)
        let cwd = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(root)
        defer {
            FileManager.default.changeCurrentDirectoryPath(cwd)
            for (name, value) in saved { if let value { setenv(name, value, 1) } else { unsetenv(name) } }
            try? FileManager.default.removeItem(atPath: tmp)
        }
        Cancellation.shared.reset()
        let prelude = """
            let m = load "tiny"
            let c = corpus "tiny:heldout" limit 8
            let e = entropy m on c
            let e1 = e
            let r = rescale m bottom 10% by 2 on c
            let e2 = entropy r on c
            let xs = [1, 2, 3]
            """
        for spec in CommandRegistry.all {
            // `save` writes where its example says: keep that out of the repository.
            let example = spec.example.replacingOccurrences(of: "\"out/", with: "\"\(tmp)/out/")
            let session = Captured(width: 80, ascii: true)
            XCTAssertTrue(session.run(prelude).ok, "prelude: \(session.run.errors)")
            let run = session.run(example, file: "help \(spec.name)")
            XCTAssertTrue(run.ok, "example of \(spec.name) failed:\n\(example)\n\(run.errors.joined(separator: "\n"))")
        }
    }
}
