import XCTest
@testable import KECharts

final class KEChartsSmokeTests: XCTestCase {
    func testModuleLoads() { XCTAssertTrue(true) }
}
