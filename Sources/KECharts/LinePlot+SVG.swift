import Foundation

// MARK: - Line chart as SVG

/// A plot rectangle in document pixels and its mapping from data coordinates.
struct SVGPlotArea {
    var left: Double
    var top: Double
    var width: Double
    var height: Double

    var right: Double { left + width }
    var bottom: Double { top + height }

    /// Pixel x of `value` on `lo...hi` (clamped to the area).
    func x(_ value: Double, lo: Double, hi: Double) -> Double { left + Ticks.fraction(value, lo: lo, hi: hi) * width }

    /// Pixel y of `value` on `lo...hi` (up is larger; clamped to the area).
    func y(_ value: Double, lo: Double, hi: Double) -> Double { bottom - Ticks.fraction(value, lo: lo, hi: hi) * height }

    /// Draws the frame (an unfilled rectangle).
    func frame(on document: inout SVGDocument) {
        document.add("rect", [("class", "frame"), ("x", SVGDocument.number(left)), ("y", SVGDocument.number(top)),
                              ("width", SVGDocument.number(width)), ("height", SVGDocument.number(height)),
                              ("fill", "none"), ("stroke", SVGDocument.ink)])
    }

    /// Y ticks: grid line, tick mark and right-aligned label at each `(pixel y, label)`.
    func yTicks(_ ticks: [(y: Double, label: String)], grid: Bool, on document: inout SVGDocument) {
        for tick in ticks {
            if grid && tick.y > top + 0.5 && tick.y < bottom - 0.5 {
                document.line(x1: left, y1: tick.y, x2: right, y2: tick.y, stroke: SVGDocument.grid, class: "grid")
            }
            document.line(x1: left - 5, y1: tick.y, x2: left, y2: tick.y, class: "tick")
            document.text(tick.label, x: left - 8, y: tick.y + 4, anchor: .end, class: "ticklabel")
        }
    }

    /// X ticks: grid line, tick mark and centred label at each `(pixel x, label)`.
    func xTicks(_ ticks: [(x: Double, label: String)], grid: Bool, on document: inout SVGDocument) {
        for tick in ticks {
            if grid && tick.x > left + 0.5 && tick.x < right - 0.5 {
                document.line(x1: tick.x, y1: top, x2: tick.x, y2: bottom, stroke: SVGDocument.grid, class: "grid")
            }
            document.line(x1: tick.x, y1: bottom, x2: tick.x, y2: bottom + 5, class: "tick")
            document.text(tick.label, x: tick.x, y: bottom + 19, anchor: .middle, class: "ticklabel")
        }
    }

    /// The x label centred under the tick labels and the y label turned along the left edge.
    func axisLabels(x xlabel: String?, y ylabel: String?, on document: inout SVGDocument) {
        if let xlabel, !xlabel.isEmpty {
            document.text(SVGDocument.fitted(xlabel, pixels: width), x: left + width / 2, y: bottom + 38,
                          anchor: .middle, class: "axislabel")
        }
        if let ylabel, !ylabel.isEmpty {
            document.text(SVGDocument.fitted(ylabel, pixels: height), x: 16, y: top + height / 2, anchor: .middle,
                          rotated: true, class: "axislabel")
        }
    }
}

extension LinePlot {
    /// Legend rows for `names` laid out under the plot in `width` px: each entry's row and x offset.
    static func legendRows(_ names: [String], width: Double) -> [(row: Int, x: Double)] {
        var placed: [(row: Int, x: Double)] = []
        var row = 0, x = 0.0
        for name in names {
            let entry = 28 + SVGDocument.textWidth(name) + 16
            if x > 0 && x + entry > width { row += 1; x = 0 }
            placed.append((row, x))
            x += entry
        }
        return placed
    }

    /// The chart as an SVG document: framed plot, y ticks (linear or decades), x ticks, labels,
    /// one `<path class="series">` per series with points, and a legend (right or below).
    func svg(title: String?, options: SVGOptions) -> SVGDocument {
        let width = options.clampedWidth(), height = options.clampedHeight(default: 400, minimum: 160)
        let (points, dropped) = preparedSeries()
        let footnote = dropped > 0 ? "(\(dropped) non-positive value\(dropped == 1 ? "" : "s") omitted from the log scale)"
                                   : nil
        let finite = points.flatMap { $0.compactMap { $0 } }
        guard let xMin = finite.map(\.x).min(), let xMax = finite.map(\.x).max(),
              let yMin = finite.map(\.y).min(), let yMax = finite.map(\.y).max() else {
            return SVGChartParts.empty(title: title, width: width, height: height, note: footnote)
        }

        // Legend: to the right when it is narrow and short enough, else in rows below.
        let names = seriesNames().map { SVGDocument.fitted($0, pixels: Double(width) / 4) }
        let showLegend = series.count > 1 || labels != nil
        let legendWidth: Double = 28 + (names.map { SVGDocument.textWidth($0) }.max() ?? 0)
        let top = SVGChartParts.top(title: title)
        let hasYLabel = ylabel?.isEmpty == false, hasXLabel = xlabel?.isEmpty == false
        let bottomFixed: Double = 30 + (hasXLabel ? 20 : 0) + (footnote != nil ? 18 : 0)
        let roughHeight: Double = Double(height) - top - bottomFixed
        let legendRight = showLegend && legendWidth <= Double(width) * 0.3 && Double(names.count) * 18 <= roughHeight
        let belowRows = showLegend && !legendRight
            ? (Self.legendRows(names, width: Double(width) - 24).last?.row ?? 0) + 1 : 0
        let bottomMargin: Double = bottomFixed + Double(belowRows) * 18

        // Y axis from the text renderer's rules, with one text row per 24 px.
        let plotHeight: Double = max(40, Double(height) - top - bottomMargin)
        let rows = max(3, Int(plotHeight / 24))
        let axis = logY ? logAxis(yMin, yMax, rows: rows, pixelsPerRow: 24)
                        : linearAxis(yMin, yMax, rows: rows, pixelsPerRow: 24)
        let yLabels = logY ? axis.ticks.map { NumberFormat.compact(pow(10, $0.value)) }
                           : NumberFormat.ticks(axis.ticks.map(\.value), step: axis.step)
        let left: Double = (hasYLabel ? 28 : 10) + (yLabels.map { SVGDocument.textWidth($0) }.max() ?? 0) + 10
        let right: Double = legendRight ? legendWidth + 24 : 20
        let area = SVGPlotArea(left: left, top: top, width: max(40, Double(width) - left - right), height: plotHeight)

        var document = SVGDocument(width: width, height: height, title: title)
        SVGChartParts.title(title, centre: area.left + area.width / 2, on: &document)
        let (xLo, xHi) = Ticks.padded(xMin, xMax)
        let xTicks = SVGChartParts.horizontalTicks(lo: xLo, hi: xHi, length: area.width, integral: x == nil)
        area.yTicks(zip(axis.ticks, yLabels).map { (area.y($0.value, lo: axis.lo, hi: axis.hi), $1) }, grid: true,
                    on: &document)
        area.xTicks(xTicks.map { (area.x($0.value, lo: xLo, hi: xHi), $0.label) }, grid: true, on: &document)
        for (index, line) in points.enumerated() {
            var path = SVGPath()
            var drawing = false
            for point in line {
                guard let point else { drawing = false; continue }
                let px = area.x(point.x, lo: xLo, hi: xHi), py = area.y(point.y, lo: axis.lo, hi: axis.hi)
                if drawing { path.line(px, py) } else { path.move(px, py); path.line(px, py) }
                drawing = true
            }
            if path.isEmpty { continue }
            document.path(path, stroke: SVGPalette.color(series: index), strokeWidth: 2,
                          dash: SVGPalette.dash(series: index), class: "series")
        }
        area.frame(on: &document)
        area.axisLabels(x: xlabel, y: ylabel, on: &document)
        if showLegend {
            let origin = legendRight ? (area.right + 16, area.top + 6)
                                     : (12, area.bottom + 30 + (hasXLabel ? 20 : 0) + 6)
            Self.legend(names, origin: origin, right: legendRight, width: Double(width) - 24, on: &document)
        }
        if let footnote {
            document.text(SVGDocument.fitted(footnote, pixels: Double(width) - 16), x: 8, y: Double(height) - 8,
                          class: "note")
        }
        return document
    }

    /// Legend entries (a short stroke in the series' colour and dash, then the name) stacked from
    /// `origin` when `right`, else in rows wrapped at `width` px.
    static func legend(_ names: [String], origin: (Double, Double), right: Bool, width: Double,
                       on document: inout SVGDocument) {
        let places = right ? names.indices.map { (row: $0, x: 0.0) } : legendRows(names, width: width)
        for (index, name) in names.enumerated() {
            let x = origin.0 + places[index].x, y = origin.1 + Double(places[index].row) * 18
            var stroke = SVGPath()
            stroke.move(x, y)
            stroke.line(x + 22, y)
            document.path(stroke, stroke: SVGPalette.color(series: index), strokeWidth: 2,
                          dash: SVGPalette.dash(series: index), class: "legend")
            document.text(name, x: x + 28, y: y + 4, class: "legendlabel")
        }
    }
}

// MARK: - Sparkline as SVG

extension Sparkline {
    /// A small inline line: values (resampled to one per 2 px) from min to max, gaps at non-finite
    /// values, a dot on the last finite value; no axes. `(no data)` when nothing is finite.
    static func svg(_ values: [Double], options: SVGOptions) -> SVGDocument {
        let width = options.clampedWidth(minimum: 40), height = options.clampedHeight(default: 40, minimum: 16)
        let shown = resample(values, to: max(2, width / 2))
        let finite = shown.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else {
            var document = SVGDocument(width: width, height: height, title: nil)
            document.text(ChartText.noData, x: Double(width) / 2, y: Double(height) / 2 + 4, anchor: .middle,
                          class: "nodata")
            return document
        }
        let (yLo, yHi) = Ticks.padded(lo, hi)
        let area = SVGPlotArea(left: 4, top: 4, width: Double(width) - 8, height: Double(height) - 8)
        var document = SVGDocument(width: width, height: height, title: nil)
        var path = SVGPath()
        var drawing = false
        var last: (Double, Double)?
        for (index, value) in shown.enumerated() {
            guard value.isFinite else { drawing = false; continue }
            let px = area.x(Double(index), lo: 0, hi: Double(max(1, shown.count - 1)))
            let py = area.y(value, lo: yLo, hi: yHi)
            if drawing { path.line(px, py) } else { path.move(px, py); path.line(px, py) }
            drawing = true
            last = (px, py)
        }
        document.path(path, stroke: SVGPalette.color(series: 0), strokeWidth: 1.5, class: "series")
        if let last { document.circle(cx: last.0, cy: last.1, r: 2.5, fill: SVGPalette.color(series: 0), class: "last") }
        return document
    }
}
