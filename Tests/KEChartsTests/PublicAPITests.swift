import KECharts
import XCTest

/// The public surface other modules code against, used exactly as documented (no `@testable`).
final class PublicAPITests: XCTestCase {
    func testDocumentedSignatures() {
        let options = RenderOptions(width: 60, height: 8, canvas: .ascii, color: false)
        let defaults = RenderOptions()
        XCTAssertEqual(defaults.width, 80)
        XCTAssertNil(defaults.height)
        XCTAssertEqual(defaults.canvas, .braille)
        XCTAssertFalse(defaults.color)

        let line = Chart.line([[1, 2, 3]], x: [0, 1, 2], title: "t", xlabel: "x", ylabel: "y", labels: ["a"], logY: false)
        let bar = Chart.bar([1, 2], labels: ["a", "b"], title: "t")
        let hist = Chart.histogram([1, 2, 3], bins: 20, logCounts: false, title: "t", xlabel: "x")
        let heat = Chart.heatmap([[1, 2], [3, 4]], title: "t", xlabel: "x", ylabel: "y", rowLabels: ["r0", "r1"])
        let spark = Chart.sparkline([1, 2, 3])
        XCTAssertEqual([line, bar, hist, heat, spark].map(\.kind), ["line", "bar", "hist", "heatmap", "spark"])
        XCTAssertEqual([line, bar, hist, heat, spark].map(\.title), ["t", "t", "t", "t", nil])
        for chart in [line, bar, hist, heat, spark] {
            XCTAssertFalse(chart.render(options).isEmpty)
            XCTAssertFalse(chart.render(defaults).isEmpty)
        }
        // SVG: the contract the notebook kernel codes against.
        let svgDefaults = SVGOptions()
        XCTAssertEqual(svgDefaults.width, 640)
        XCTAssertNil(svgDefaults.height)
        XCTAssertEqual(SVGOptions(width: 300, height: 200), SVGOptions(width: 300, height: 200))
        for chart in [line, bar, hist, heat, spark] {
            let text: String = chart.svg(SVGOptions(width: 300, height: 200))
            XCTAssertTrue(text.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""), chart.kind)
            XCTAssertTrue(text.contains(" width=\"300\" height=\"200\" viewBox=\"0 0 300 200\""), chart.kind)
            XCTAssertTrue(chart.svg().hasSuffix("</svg>\n"), chart.kind)
        }

        let plain: ([Double]) -> String = sparkline
        XCTAssertEqual(plain([1, 2]), "▁█")
        XCTAssertEqual(sparkline([1, 2], ascii: true), "_#")

        // Canvases are usable directly.
        var canvas = AsciiCanvas(columns: 2, rows: 1)
        canvas.drawLine(x0: 0, y0: 2, x1: 3, y1: 0, color: nil)
        XCTAssertEqual(canvas.lines().count, 1)
        let braille: any Canvas = BrailleCanvas(columns: 3, rows: 2)
        XCTAssertEqual(braille.pixelWidth, 6)
        XCTAssertEqual(braille.pixelHeight, 8)
    }
}
