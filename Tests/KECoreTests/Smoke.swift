import XCTest
@testable import KECore

final class KECoreSmokeTests: XCTestCase {
    func testModuleLoads() { XCTAssertTrue(true) }
}
