import XCTest
@testable import KEShell

final class KEShellSmokeTests: XCTestCase {
    func testModuleLoads() { XCTAssertTrue(true) }
}
