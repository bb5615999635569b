import Foundation
import XCTest
@testable import KELang

/// The README's command reference is the registry's `help` listing.
final class ReadmeTests: XCTestCase {
    func testReadmeListsEveryCommandAsHelpDoes() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let readme = try String(contentsOf: url, encoding: .utf8)
        guard let a = readme.range(of: "<!-- BEGIN COMMANDS"), let b = readme.range(of: "<!-- END COMMANDS -->") else {
            return XCTFail("README.md has no command reference markers")
        }
        let block = String(readme[a.upperBound..<b.lowerBound])
        let help = runKE("help")
        XCTAssertTrue(help.ok)
        for spec in CommandRegistry.all {
            XCTAssertTrue(block.contains(spec.synopsis), "README lacks \(spec.synopsis) — paste the output of `ke -c help`")
        }
        XCTAssertTrue(block.contains(help.outputs.first ?? "<none>"),
                      "README's command list differs from `ke -c help`; paste its output between the markers")
    }
}
