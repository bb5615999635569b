import XCTest
@testable import KECharts

/// Robustness: empty, non-finite, constant, single-point and tiny-width inputs never crash and read sensibly.
final class EdgeCaseTests: XCTestCase {
    let kinds: [CanvasKind] = [.ascii, .braille]

    /// Every chart kind built from `values` (as series, bars, histogram input, one-row matrix, sparkline).
    func allCharts(_ values: [Double]) -> [Chart] {
        [Chart.line([values]), Chart.line([values], logY: true), Chart.bar(values), Chart.histogram(values),
         Chart.heatmap([values]), Chart.sparkline(values)]
    }

    func testEmptyInputsSayNoData() {
        for chart in allCharts([]) + [Chart.line([]), Chart.heatmap([]), Chart.heatmap([[], []])] {
            for kind in kinds {
                let text = chart.render(RenderOptions(canvas: kind))
                XCTAssertEqual(text, "(no data)", "\(chart.kind) \(kind)")
            }
        }
        let titled = Chart.bar([], title: "Nothing").render(RenderOptions(width: 30, canvas: .ascii))
        XCTAssertEqual(titled, "           Nothing\n(no data)")
    }

    func testAllNonFiniteSaysNoData() {
        for chart in allCharts([.nan, .infinity, -.infinity]) {
            XCTAssertTrue(chart.render(RenderOptions()).hasSuffix("(no data)"), chart.kind)
        }
    }

    func testNonFiniteEntriesAreSkipped() {
        let values: [Double] = [1, .nan, 3, .infinity, 2, -.infinity, 4]
        for chart in allCharts(values) {
            for kind in kinds {
                let text = chart.render(RenderOptions(width: 40, canvas: kind))
                XCTAssertFalse(text.contains("(no data)"), "\(chart.kind)")
                XCTAssertFalse(text.isEmpty)
            }
        }
        // Histogram counts only the four finite values.
        let hist = Chart.histogram(values, bins: 3).render(RenderOptions(width: 40, canvas: .ascii))
        let counts = hist.split(separator: "\n").compactMap { Int($0.split(separator: " ").last ?? "") }
        XCTAssertEqual(counts.reduce(0, +), 4)
        // The bar chart still lists the NaN entry, with no bar.
        let bar = Chart.bar(values).render(RenderOptions(width: 40, canvas: .ascii))
        XCTAssertTrue(bar.contains("1 | NaN"), bar)
    }

    func testConstantValues() {
        let line = Chart.line([[5, 5, 5, 5]]).render(RenderOptions(width: 40, height: 6, canvas: .ascii))
        Golden.check(line, "edge_constant_line")
        let hist = Chart.histogram([2, 2, 2]).render(RenderOptions(width: 30, canvas: .ascii))
        XCTAssertEqual(hist, "[2, 2] |#################### 3")
        let heat = Chart.heatmap([[1, 1], [1, 1]]).render(RenderOptions(width: 30, canvas: .ascii))
        XCTAssertTrue(heat.contains("|++++++++|"), heat)
        XCTAssertEqual(sparkline([3, 3, 3]), "▄▄▄")
    }

    func testSinglePoint() {
        let line = Chart.line([[0.25]], title: "one").render(RenderOptions(width: 30, height: 5, canvas: .ascii))
        Golden.check(line, "edge_single_point")
        XCTAssertEqual(Chart.bar([7]).render(RenderOptions(width: 20, canvas: .ascii)), "0 |############### 7")
    }

    func testTinyWidthClampsToMinimum() {
        let options = RenderOptions(width: 10, height: 4, canvas: .ascii)
        let charts = [Chart.line([[1, 2, 3], [3, 2, 1]], title: "A rather long title", labels: ["up", "down"]),
                      Chart.bar([1, 2], labels: ["a long label", "b"]), Chart.histogram([1, 2, 3, 4], bins: 2),
                      Chart.heatmap([[1, 2, 3], [4, 5, 6]]), Chart.sparkline((0..<50).map(Double.init))]
        for chart in charts {
            let text = chart.render(options)
            for line in text.split(separator: "\n") {
                XCTAssertLessThanOrEqual(line.count, RenderOptions.minimumWidth, "\(chart.kind): \(line)")
            }
        }
        Golden.check(charts[0].render(options), "edge_width10_line")
        // Zero and negative widths/heights are clamped too.
        XCTAssertFalse(Chart.line([[1, 2]]).render(RenderOptions(width: -5, height: -3)).isEmpty)
        XCTAssertFalse(Chart.heatmap([[1, 2]]).render(RenderOptions(width: 0, height: 0)).isEmpty)
    }

    func testHugeAndTinyValues() {
        let text = Chart.bar([1.2e6, 3.4e-4, -2.5e9], labels: ["a", "b", "c"]).render(RenderOptions(canvas: .ascii))
        XCTAssertTrue(text.contains(" 1.2e6"), text)
        XCTAssertTrue(text.contains(" 3.4e-4"), text)
        XCTAssertTrue(text.contains(" -2.5e9"), text)
        // Extreme ranges must not overflow.
        for chart in allCharts([-Double.greatestFiniteMagnitude, 0, Double.greatestFiniteMagnitude, 1e-300]) {
            XCTAssertFalse(chart.render(RenderOptions(width: 50)).isEmpty, chart.kind)
        }
    }

    func testRaggedAndMismatchedInputs() {
        // x shorter than the series, labels shorter than the series, ragged heatmap rows.
        let line = Chart.line([[1, 2, 3, 4], [2, 1]], x: [0, 10, 20], labels: ["only one"])
        let text = line.render(RenderOptions(width: 50, canvas: .ascii))
        XCTAssertTrue(text.contains("only one") && text.contains("series 2"), text)
        let heat = Chart.heatmap([[1, 2, 3], [4], []], rowLabels: ["r0"]).render(RenderOptions(width: 30, canvas: .ascii))
        XCTAssertTrue(heat.contains("r0") && heat.contains("?"), heat)
        XCTAssertEqual(Chart.bar([1, 2], labels: ["x"]).render(RenderOptions(width: 20, canvas: .ascii)),
                       "x |######## 1\n1 |############### 2")
        XCTAssertEqual(Chart.histogram([1, 2], bins: 0).render(RenderOptions(width: 20, canvas: .ascii)),
                       "[1, 2] |########## 2")
    }
}
