import XCTest
@testable import KECharts

/// Building blocks: number formatting, ticks, canvases, sparklines, colour and the public surface.
final class ComponentTests: XCTestCase {
    // MARK: Numbers

    func testCompactFormatting() {
        XCTAssertEqual(NumberFormat.compact(1.2e6), "1.2e6")
        XCTAssertEqual(NumberFormat.compact(0.00034), "3.4e-4")
        XCTAssertEqual(NumberFormat.compact(-2.5e9), "-2.5e9")
        XCTAssertEqual(NumberFormat.compact(12.5), "12.5")
        XCTAssertEqual(NumberFormat.compact(0.0034), "0.0034")
        XCTAssertEqual(NumberFormat.compact(12345), "12345")
        XCTAssertEqual(NumberFormat.compact(3.14159265), "3.142")
        XCTAssertEqual(NumberFormat.compact(0), "0")
        XCTAssertEqual(NumberFormat.compact(-0.0), "0")
        XCTAssertEqual(NumberFormat.compact(99999.9), "1e5")
        XCTAssertEqual(NumberFormat.compact(9.9999e-4), "1e-3")
        XCTAssertEqual(NumberFormat.compact(.nan), "NaN")
        XCTAssertEqual(NumberFormat.compact(-.infinity), "-inf")
        XCTAssertEqual(NumberFormat.compact(Double.greatestFiniteMagnitude), "1.8e308")
        XCTAssertEqual(NumberFormat.compact(Double.leastNonzeroMagnitude), "4.94e-324")
    }

    func testTickLabelsShareOneStyle() {
        XCTAssertEqual(NumberFormat.ticks([0, 0.0005, 0.001], step: 0.0005), ["0", "0.0005", "0.001"])
        XCTAssertEqual(NumberFormat.ticks([0.5, 1, 1.5], step: 0.5), ["0.5", "1", "1.5"])
        XCTAssertEqual(NumberFormat.ticks([0, 1e5, 2e5], step: 1e5), ["0", "1e5", "2e5"])
        XCTAssertEqual(NumberFormat.ticks([0, 2e-5, 4e-5], step: 2e-5), ["0", "2e-5", "4e-5"])
    }

    func testNiceSteps() {
        XCTAssertEqual(Ticks.niceStep(span: 10, target: 5), 2)
        XCTAssertEqual(Ticks.niceStep(span: 7, target: 2), 5)
        // pow(10, −2) · 1 in Double: within an ulp (~2e-18) of the literal 0.01
        XCTAssertEqual(Ticks.niceStep(span: 0.03, target: 3), 0.01, accuracy: 1e-15)
        XCTAssertEqual(Ticks.nextStep(2), 5)
        XCTAssertEqual(Ticks.nextStep(5), 10)
        // 2 · pow(10, −1) in Double: within an ulp (~3e-17) of the literal 0.2
        XCTAssertEqual(Ticks.nextStep(0.1), 0.2, accuracy: 1e-15)
        XCTAssertEqual(Ticks.multiples(of: 0.1, lo: 0, hi: 0.3).count, 4)
        XCTAssertEqual(Ticks.multiples(of: 1, lo: -.greatestFiniteMagnitude, hi: .greatestFiniteMagnitude), [])
        XCTAssertEqual(Ticks.position(1e308, lo: -1e308, hi: 1e308, count: 11), 10)
    }

    // MARK: Canvases

    func testBrailleDots() {
        var canvas = BrailleCanvas(columns: 2, rows: 1)
        canvas.setPixel(x: 0, y: 0, color: nil)
        canvas.setPixel(x: 1, y: 3, color: nil)
        canvas.setPixel(x: 99, y: 99, color: nil)   // ignored
        canvas.setPixel(x: -1, y: 0, color: nil)    // ignored
        XCTAssertEqual(canvas.character(row: 0, column: 0), "\u{2881}")
        XCTAssertEqual(canvas.character(row: 0, column: 1), " ")
        XCTAssertEqual(canvas.pixelWidth, 4)
        XCTAssertEqual(canvas.pixelHeight, 4)
    }

    func testBresenhamDiagonalAndHorizontal() {
        var canvas = BrailleCanvas(columns: 2, rows: 1)
        canvas.drawLine(x0: 0, y0: 3, x1: 3, y1: 0, color: 1)
        // Pixels (0,3) (1,2) in cell 0 and (2,1) (3,0) in cell 1: ⡠ and ⠊.
        XCTAssertEqual(canvas.lines(), ["⡠⠊"])
        XCTAssertEqual(canvas.color(row: 0, column: 1), 1)
        var ascii = AsciiCanvas(columns: 3, rows: 1)
        ascii.drawLine(x0: 0, y0: 1, x1: 5, y1: 1, color: nil)
        XCTAssertEqual(ascii.lines(), ["---"])
        // A huge off-canvas line terminates and draws only what is visible.
        var far = AsciiCanvas(columns: 2, rows: 2)
        far.drawLine(x0: Int.min / 2, y0: 0, x1: Int.max / 2, y1: 0, color: nil)
        XCTAssertEqual(far.lines(), ["''", "  "])
    }

    func testAsciiGlyphs() {
        // bit = row * 2 + column, row 0 at the top.
        XCTAssertEqual(AsciiCanvas.glyph(for: 0), " ")
        XCTAssertEqual(AsciiCanvas.glyph(for: 0b000011), "'")
        XCTAssertEqual(AsciiCanvas.glyph(for: 0b001100), "-")
        XCTAssertEqual(AsciiCanvas.glyph(for: 0b110000), "_")
        XCTAssertEqual(AsciiCanvas.glyph(for: 0b010101), "|")
        XCTAssertEqual(AsciiCanvas.glyph(for: 0b010010), "/")
        XCTAssertEqual(AsciiCanvas.glyph(for: 0b100001), "\\")
        XCTAssertEqual(AsciiCanvas.glyph(for: 0b111111), "#")
        XCTAssertTrue(AsciiCanvas.glyphs.allSatisfy { $0.isASCII })
    }

    // MARK: Sparklines and colour

    func testSparklineFunction() {
        XCTAssertEqual(sparkline([0, 1, 2, 3, 4, 5, 6, 7]), "▁▂▃▄▅▆▇█")
        XCTAssertEqual(sparkline([0, 1, 2, 3, 4, 5, 6, 7], ascii: true), "_.:-=+*#")
        XCTAssertEqual(sparkline([1, .nan, 2]), "▁ █")
        XCTAssertEqual(sparkline([]), "")
        XCTAssertEqual(sparkline([.nan]), " ")
        // The chart form resamples long input to the width.
        let long = Chart.sparkline((0..<500).map(Double.init)).render(RenderOptions(width: 40))
        XCTAssertEqual(long.count, 40)
        XCTAssertEqual(long.first, "▁")
        XCTAssertEqual(long.last, "█")
    }

    func testColourOnlyWhenAsked() {
        let chart = Chart.line([[1, 2, 3], [3, 1, 2]], title: "c")
        let plain = chart.render(RenderOptions(width: 40))
        let coloured = chart.render(RenderOptions(width: 40, color: true))
        XCTAssertFalse(plain.contains("\u{1B}"))
        XCTAssertTrue(coloured.contains("\u{1B}[32m") && coloured.contains("\u{1B}[34m") && coloured.contains("\u{1B}[0m"))
        // Stripping the escapes gives back the plain rendering.
        let stripped = coloured.replacingOccurrences(of: "\u{1B}\\[[0-9]+m", with: "", options: .regularExpression)
        XCTAssertEqual(stripped, plain)
        for other in [Chart.bar([1, 2]), Chart.histogram([1, 2, 3]), Chart.heatmap([[1, 2]]), Chart.sparkline([1, 2])] {
            XCTAssertFalse(other.render(RenderOptions()).contains("\u{1B}"), other.kind)
            XCTAssertTrue(other.render(RenderOptions(color: true)).contains("\u{1B}["), other.kind)
        }
    }

    // MARK: Public surface

    func testKindsTitlesAndNoTrailingNewline() {
        let charts: [(Chart, String)] = [(.line([[1, 2]], title: "L"), "line"), (.bar([1], title: "B"), "bar"),
                                         (.histogram([1, 2], title: "H"), "hist"), (.heatmap([[1]], title: "M"), "heatmap"),
                                         (.sparkline([1, 2]), "spark")]
        for (chart, kind) in charts {
            XCTAssertEqual(chart.kind, kind)
            for options in [RenderOptions(), RenderOptions(canvas: .ascii)] {
                let text = chart.render(options)
                XCTAssertFalse(text.hasSuffix("\n"), kind)
                XCTAssertFalse(text.split(separator: "\n").contains { $0.hasSuffix(" ") }, "trailing blanks in \(kind)")
                if options.canvas == .ascii { XCTAssertTrue(text.allSatisfy(\.isASCII), "non-ASCII in \(kind)") }
            }
        }
        XCTAssertEqual(charts[0].0.title, "L")
        XCTAssertNil(charts[4].0.title)
    }

    func testLineWidthAndHeightAreHonoured() {
        let chart = Chart.line([[3, 1, 4, 1, 5, 9, 2, 6]], title: "pi", xlabel: "i", ylabel: "digit")
        for width in [20, 37, 80, 133] {
            let lines = chart.render(RenderOptions(width: width, height: 7)).split(separator: "\n")
            XCTAssertTrue(lines.allSatisfy { $0.count <= width }, "width \(width)")
            XCTAssertTrue(lines.contains { $0.count == width }, "frame should fill width \(width)")
            // title, ylabel, top frame, 7 rows, bottom frame, x ticks, xlabel.
            XCTAssertEqual(lines.count, 13)
        }
    }
}
