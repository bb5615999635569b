import XCTest
@testable import KELang

final class KELangSmokeTests: XCTestCase {
    func testModuleLoads() { XCTAssertTrue(true) }
}
