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
    ///
    /// `name` may contain a subdirectory (`svg/line`); `fileExtension` names other text formats.
    /// The file holds `text` plus one newline, unless `text` already ends in one (SVG documents).
    static func check(_ text: String, _ name: String, fileExtension: String = "txt",
                      file: StaticString = #filePath, line: UInt = #line) {
        let fileName = name + "." + fileExtension
        let url = directory.appendingPathComponent(fileName)
        let stored = text.hasSuffix("\n") ? text : text + "\n"
        if updating {
            try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            XCTAssertNoThrow(try stored.write(to: url, atomically: true, encoding: .utf8), file: file, line: line)
            return
        }
        guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
            XCTFail("missing golden \(fileName); run with KECHARTS_UPDATE_GOLDEN=1", file: file, line: line)
            return
        }
        if expected != stored {
            XCTFail("golden \(fileName) differs:\n--- expected\n\(expected)--- actual\n\(stored)", file: file, line: line)
        }
    }
}
