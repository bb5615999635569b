import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import KECharts

/// The elements of an XML document as parsed by Foundation's `XMLParser` (a real XML parser, so
/// any malformed output fails here).
final class ParsedSVG: NSObject, XMLParserDelegate {
    struct Element {
        var name: String
        var attributes: [String: String]
        var text = ""
    }

    private(set) var elements: [Element] = []
    private var open: [Int] = []
    private(set) var error: Error?

    /// Parses `svg`; `error` is set when it is not well-formed XML.
    ///
    /// On Linux `parse()` returns true for some errors (an unclosed element, content after the
    /// root) while setting `parserError`, so both are checked, and so is the element nesting.
    init(_ svg: String) {
        super.init()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = self
        let parsed = parser.parse()
        if !parsed || parser.parserError != nil || !open.isEmpty {
            error = parser.parserError ?? CocoaError(.fileReadCorruptFile)
        }
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        open.append(elements.count)
        elements.append(Element(name: name, attributes: attributes))
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        open.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let last = open.last { elements[last].text += string }
    }

    var root: Element? { elements.first }

    /// Elements named `name` with `class="className"`.
    func count(_ name: String, class className: String) -> Int {
        elements.filter { $0.name == name && $0.attributes["class"] == className }.count
    }

    /// Texts of the `<text>` elements with `class="className"`.
    func texts(class className: String) -> [String] {
        elements.filter { $0.name == "text" && $0.attributes["class"] == className }.map(\.text)
    }
}

/// SVG renderings: goldens of every kind, structure checked with a real XML parser, escaping.
///
/// Goldens live in `Golden/svg/` (update as for the text goldens, with `KECHARTS_UPDATE_GOLDEN=1`).
/// Look at them after a change, e.g. `rsvg-convert -b white line.svg -o /tmp/line.png` (Debian's
/// librsvg2-bin); `Golden/svg/preview/` holds such renderings of `line` and `heatmap`.
final class SVGTests: XCTestCase {
    var curves: [[Double]] {
        let a = (0..<40).map { 4.2 * exp(-Double($0) / 9) + 1.1 }
        let b = (0..<40).map { 3.1 * exp(-Double($0) / 14) + 0.6 + 0.05 * sin(Double($0)) }
        return [a, b]
    }

    var histogramValues: [Double] {
        var state: UInt64 = 42
        return (0..<2000).map { _ -> Double in
            var sum = 0.0
            for _ in 0..<6 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                sum += Double(state >> 11) / Double(1 << 53)
            }
            return sum
        }
    }

    var lineChart: Chart {
        Chart.line(curves, title: "Training loss", xlabel: "epoch", ylabel: "loss", labels: ["baseline", "rescaled"])
    }

    var heatmapChart: Chart {
        let matrix = (0..<8).map { row in (0..<24).map { column in Double(row) * sin(Double(column) / 4) } }
        return Chart.heatmap(matrix, title: "Coefficients", xlabel: "unit", ylabel: "layer")
    }

    /// Every chart of the goldens, by golden name.
    var goldenCharts: [(String, Chart, SVGOptions)] {
        let x = (0..<30).map { Double($0) * 500 }
        let many = (0..<12).map { layer in (0..<20).map { Double(layer) + sin(Double($0) / 3) } }
        let wide = (0..<4).map { row in (0..<1000).map { column in Double(column * (row + 1)) } }
        return [
            ("line", lineChart, SVGOptions()),
            ("line_x", Chart.line([x.map { 7.5 - 0.8 * log(1 + $0 / 100) }], x: x, title: "Knowledge entropy",
                                  xlabel: "step", ylabel: "H"), SVGOptions(width: 480, height: 300)),
            ("line_logy", Chart.line([[1000, 300, 120, 0, 40, 9, -2, 2.5, 0.9, 0.2]], title: "log scale", logY: true),
             SVGOptions(width: 400, height: 300)),
            ("line_many", Chart.line(many, title: "Per-layer", labels: (0..<12).map { "layer \($0)" }), SVGOptions()),
            ("bar", Chart.bar([3.2, 7.75, 0, 12.5, 5.1], labels: ["alpha", "beta", "gamma", "delta", "epsilon"],
                              title: "Scores"), SVGOptions()),
            ("bar_negative", Chart.bar([2.5, -1.25, 4, -3, .nan], labels: ["a", "b", "c", "d", "e"],
                                       title: "Mixed signs"), SVGOptions(width: 400)),
            ("hist", Chart.histogram(histogramValues, bins: 12, title: "Sum of 6 uniforms", xlabel: "value"),
             SVGOptions()),
            ("hist_log", Chart.histogram(histogramValues, bins: 12, logCounts: true, title: "log counts"), SVGOptions()),
            ("heatmap", heatmapChart, SVGOptions()),
            ("heatmap_wide", Chart.heatmap(wide, title: "Wide", rowLabels: ["L0", "L1", "L2", "L3"]),
             SVGOptions(width: 400)),
            ("spark", Chart.sparkline((0..<30).map { sin(Double($0) / 4) }), SVGOptions(width: 160)),
            ("nodata", Chart.line([[.nan, .infinity]], title: "Nothing"), SVGOptions(width: 300, height: 200)),
        ]
    }

    func testParserRejectsMalformedXML() {
        // The structural tests below rely on this parser noticing broken documents.
        XCTAssertNotNil(ParsedSVG("<svg><text>a & b</text></svg>").error)
        XCTAssertNotNil(ParsedSVG("<svg><g></svg>").error)
        XCTAssertNotNil(ParsedSVG("<svg><a></b></svg>").error)
        XCTAssertNotNil(ParsedSVG("<svg/><x/>").error)
        XCTAssertNil(ParsedSVG("<svg><text>a &amp; b</text></svg>").error)
    }

    func testGoldens() {
        for (name, chart, options) in goldenCharts {
            Golden.check(chart.svg(options), "svg/" + name, fileExtension: "svg")
        }
    }

    func testEveryGoldenChartIsWellFormedWithItsSize() {
        for (name, chart, options) in goldenCharts {
            let svg = ParsedSVG(chart.svg(options))
            XCTAssertNil(svg.error, name)
            guard let root = svg.root else { XCTFail(name); continue }
            XCTAssertEqual(root.name, "svg", name)
            XCTAssertEqual(root.attributes["xmlns"], "http://www.w3.org/2000/svg", name)
            XCTAssertEqual(root.attributes["version"], "1.1", name)
            let width = root.attributes["width"], height = root.attributes["height"]
            XCTAssertEqual(width, String(options.width), name)
            XCTAssertEqual(root.attributes["viewBox"], "0 0 \(width ?? "?") \(height ?? "?")", name)
            if let fixed = options.height { XCTAssertEqual(height, String(fixed), name) }
        }
    }

    func testSeriesBarsAndCellsAreCounted() {
        let line = ParsedSVG(lineChart.svg(SVGOptions(width: 500, height: 300)))
        XCTAssertEqual(line.root?.attributes["width"], "500")
        XCTAssertEqual(line.root?.attributes["height"], "300")
        XCTAssertEqual(line.count("path", class: "series"), 2)
        XCTAssertEqual(line.texts(class: "legendlabel"), ["baseline", "rescaled"])
        XCTAssertEqual(line.texts(class: "title"), ["Training loss"])
        XCTAssertEqual(line.texts(class: "axislabel"), ["epoch", "loss"])

        let gappy = ParsedSVG(Chart.line([[1, .nan, 2, 3, .nan], [.nan, .nan], [4]]).svg())
        XCTAssertEqual(gappy.count("path", class: "series"), 2, "a series with no finite point draws no path")
        XCTAssertEqual(gappy.count("circle", class: "point"), 2, "isolated points are marked")
        XCTAssertEqual(gappy.texts(class: "legendlabel"), ["series 1", "series 2", "series 3"])

        let bars = ParsedSVG(Chart.bar([1, 2, .nan, 4]).svg())
        XCTAssertEqual(bars.count("rect", class: "bar"), 3, "one bar per finite value")
        XCTAssertEqual(bars.texts(class: "barlabel"), ["0", "1", "2", "3"])
        XCTAssertEqual(bars.texts(class: "value"), ["1", "2", "NaN", "4"])

        let hist = ParsedSVG(Chart.histogram(histogramValues, bins: 7).svg())
        XCTAssertEqual(hist.count("rect", class: "bar"), 7)
        XCTAssertEqual(hist.texts(class: "value").compactMap { Int($0) }.reduce(0, +), 2000)

        let heat = ParsedSVG(heatmapChart.svg())
        XCTAssertEqual(heat.count("rect", class: "cell"), 8 * 24)
        XCTAssertEqual(heat.texts(class: "rowlabel"), (0..<8).map(String.init))
        XCTAssertEqual(heat.count("rect", class: "scale"), 32)

        let spark = ParsedSVG(Chart.sparkline([1, 3, 2, .nan, 5]).svg())
        XCTAssertEqual(spark.count("path", class: "series"), 1)
        XCTAssertEqual(spark.root?.attributes["height"], "40")
    }

    func testDefaultHeightsGrowWithBarsAndRows() {
        func height(_ chart: Chart) -> Int? { ParsedSVG(chart.svg()).root?.attributes["height"].flatMap { Int($0) } }
        XCTAssertEqual(height(lineChart), 400)
        let fewBars = height(Chart.bar([1, 2])) ?? 0, manyBars = height(Chart.bar((0..<40).map(Double.init))) ?? 0
        XCTAssertGreaterThan(manyBars, fewBars)
        let fewRows = height(Chart.heatmap((0..<5).map { _ in [1, 2, 3] })) ?? 0
        let manyRows = height(Chart.heatmap((0..<60).map { Double($0) }.map { [$0, 2 * $0] })) ?? 0
        XCTAssertGreaterThan(manyRows, fewRows)
    }

    func testTextIsEscaped() {
        let hostile = "a <b> & \"c\" 'd' \u{1}"
        let charts = [
            Chart.line([[1, 2]], title: hostile, xlabel: hostile, ylabel: hostile, labels: [hostile, hostile]),
            Chart.bar([1], labels: [hostile], title: hostile),
            Chart.histogram([1, 2], title: hostile, xlabel: hostile),
            Chart.heatmap([[1]], title: hostile, xlabel: hostile, ylabel: hostile, rowLabels: [hostile]),
            Chart.line([[Double.nan]], title: hostile),
        ]
        for chart in charts {
            let text = chart.svg()
            XCTAssertTrue(text.contains("a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#39; \u{FFFD}"), chart.kind)
            XCTAssertFalse(text.contains("<b>"), chart.kind)
            let svg = ParsedSVG(text)
            XCTAssertNil(svg.error, chart.kind)
            XCTAssertEqual(svg.elements.first { $0.name == "title" }?.text, "a <b> & \"c\" 'd' \u{FFFD}", chart.kind)
        }
    }

    func testNoDataChartsAreValidDocuments() {
        let empty = [Chart.line([]), Chart.line([[.nan]], logY: true), Chart.bar([]), Chart.histogram([.nan]),
                     Chart.heatmap([]), Chart.heatmap([[.nan]]), Chart.sparkline([])]
        for chart in empty {
            let svg = ParsedSVG(chart.svg(SVGOptions(width: 300)))
            XCTAssertNil(svg.error, chart.kind)
            XCTAssertEqual(svg.root?.attributes["width"], "300", chart.kind)
            XCTAssertEqual(svg.texts(class: "nodata"), ["(no data)"], chart.kind)
            XCTAssertEqual(svg.count("path", class: "series") + svg.count("rect", class: "bar"), 0, chart.kind)
        }
        let dropped = ParsedSVG(Chart.line([[0, -1]], logY: true).svg())
        XCTAssertEqual(dropped.texts(class: "note"), ["(2 non-positive values omitted from the log scale)"])
    }

    func testOutputIsDeterministicAndSelfContained() {
        for (name, chart, options) in goldenCharts {
            let text = chart.svg(options)
            XCTAssertEqual(text, chart.svg(options), name)
            // No scripts, style sheets, ids or links; no non-finite or exponent numbers in attributes.
            for banned in ["<script", "<style", " id=", "href", "url(", "@import", "=\"nan", "=\"inf", "=\"-inf", "e+"] {
                XCTAssertFalse(text.lowercased().contains(banned), "\(name) contains \(banned)")
            }
        }
    }

    func testSizesAreClampedAndExtremeValuesStayFinite() {
        let huge = Chart.line([[1e308, -1e308, 5e-324, 0]], x: [0, 1e300, -1e300, 2])
        let svg = ParsedSVG(huge.svg(SVGOptions(width: 1_000_000, height: -5)))
        XCTAssertNil(svg.error)
        XCTAssertEqual(svg.root?.attributes["width"], "4000")
        XCTAssertEqual(svg.root?.attributes["height"], "160")
        let manyBars = ParsedSVG(Chart.bar((0..<5000).map(Double.init)).svg())
        XCTAssertEqual(manyBars.root?.attributes["height"], "4000")
        XCTAssertEqual(manyBars.count("rect", class: "bar"), 5000)
        let bigMatrix = ParsedSVG(Chart.heatmap((0..<1000).map { row in (0..<1000).map { Double($0 * row) } }).svg())
        XCTAssertEqual(bigMatrix.count("rect", class: "cell"), 100 * 100)
    }

    func testViridisEndsAndOkabeItoCycle() {
        XCTAssertEqual(SVGPalette.viridis(0), "#440154")
        XCTAssertEqual(SVGPalette.viridis(1), "#fde725")
        XCTAssertEqual(SVGPalette.viridis(128 / 255), "#21918c")
        XCTAssertEqual(SVGPalette.viridis(.nan), "#440154")
        XCTAssertEqual(SVGPalette.color(series: 8), SVGPalette.color(series: 0))
        XCTAssertNil(SVGPalette.dash(series: 7))
        XCTAssertNotNil(SVGPalette.dash(series: 8))
    }
}
