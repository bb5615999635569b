import Foundation
import XCTest

// MARK: - Golden files

/// Compares rendered charts with files in `Tests/KEChartsTests/Golden/`.
///
/// To regenerate every golden after an intended change, run
/// `KECHARTS_UPDATE_GOLDEN=1 swift test --filter KEChartsTests`, then review `git diff`.
enum Golden {
    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    }

    static var updating: Bool { ProcessInfo.processInfo.environment["KECHARTS_UPDATE_GOLDEN"] == "1" }

    /// Asserts `text` equals the golden `name.txt` (or rewrites it when updating).
    static func check(_ text: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        let url = directory.appendingPathComponent(name + ".txt")
        if updating {
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            XCTAssertNoThrow(try (text + "\n").write(to: url, atomically: true, encoding: .utf8), file: file, line: line)
            return
        }
        guard let stored = try? String(contentsOf: url, encoding: .utf8) else {
            XCTFail("missing golden \(name).txt; run with KECHARTS_UPDATE_GOLDEN=1", file: file, line: line)
            return
        }
        let expected = stored.hasSuffix("\n") ? String(stored.dropLast()) : stored
        if expected != text {
            XCTFail("golden \(name).txt differs:\n--- expected\n\(expected)\n--- actual\n\(text)", file: file, line: line)
        }
    }
}
