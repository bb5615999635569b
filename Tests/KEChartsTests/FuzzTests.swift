import XCTest
@testable import KECharts

/// Random inputs of every shape: rendering never traps and never exceeds the (clamped) width.
final class FuzzTests: XCTestCase {
    /// A small deterministic generator (PCG-style LCG).
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 11
        }
        mutating func int(_ range: ClosedRange<Int>) -> Int {
            range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
        }
        mutating func value() -> Double {
            switch int(0...11) {
            case 0: return .nan
            case 1: return .infinity
            case 2: return -.infinity
            case 3: return 0
            case 4: return Double(int(-3...3))
            case 5: return Double.greatestFiniteMagnitude * (int(0...1) == 0 ? 1 : -1)
            case 6: return Double.leastNonzeroMagnitude
            default:
                let mantissa = Double(next()) / Double(1 << 53) * 2 - 1
                return mantissa * pow(10, Double(int(-8...8)))
            }
        }
        mutating func values(_ count: ClosedRange<Int>) -> [Double] { (0..<int(count)).map { _ in value() } }
        mutating func text() -> String {
            String((0..<int(0...30)).map { _ in Character(Unicode.Scalar(UInt8(int(32...126)))) })
        }
    }

    func testRandomChartsStayInsideTheWidth() {
        var random = Generator(state: 2024)
        for round in 0..<600 {
            let width = random.int(-5...130)
            let height: Int? = random.int(0...3) == 0 ? nil : random.int(-2...30)
            let options = RenderOptions(width: width, height: height, canvas: random.int(0...1) == 0 ? .ascii : .braille,
                                        color: random.int(0...3) == 0)
            let chart: Chart
            switch round % 5 {
            case 0:
                let series = (0..<random.int(0...4)).map { _ in random.values(0...60) }
                let x: [Double]? = random.int(0...1) == 0 ? nil : random.values(0...60)
                let labels: [String]? = random.int(0...1) == 0 ? nil : (0..<random.int(0...5)).map { _ in random.text() }
                chart = .line(series, x: x, title: random.text(), xlabel: random.text(), ylabel: random.text(),
                              labels: labels, logY: random.int(0...2) == 0)
            case 1:
                let values = random.values(0...30)
                chart = .bar(values, labels: (0..<random.int(0...30)).map { _ in random.text() }, title: random.text())
            case 2:
                chart = .histogram(random.values(0...300), bins: random.int(-3...60), logCounts: random.int(0...1) == 0,
                                   title: random.text(), xlabel: random.text())
            case 3:
                let matrix = (0..<random.int(0...50)).map { _ in random.values(0...300) }
                chart = .heatmap(matrix, title: random.text(), xlabel: random.text(), ylabel: random.text(),
                                 rowLabels: (0..<random.int(0...50)).map { _ in random.text() })
            default:
                chart = .sparkline(random.values(0...400))
            }
            let text = chart.render(options)
                .replacingOccurrences(of: "\u{1B}\\[[0-9]+m", with: "", options: .regularExpression)
            let limit = min(max(width, RenderOptions.minimumWidth), RenderOptions.maximumWidth)
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                XCTAssertLessThanOrEqual(line.count, limit, "round \(round) \(chart.kind) width \(width): \(line)")
            }
            XCTAssertFalse(text.hasSuffix("\n"))
        }
    }
}
