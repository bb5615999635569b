import Foundation

// MARK: - Line chart as SVG

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
        let footnote = Self.logFootnote(dropped: dropped)
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

        // Y axis from the text renderer's rules with a 16 px "row": labels at least 32 px apart.
        let plotHeight: Double = max(40, Double(height) - top - bottomMargin)
        let rows = max(3, Int(plotHeight / 16))
        let axis = logY ? logAxis(yMin, yMax, rows: rows, pixelsPerRow: 16)
                        : linearAxis(yMin, yMax, rows: rows, pixelsPerRow: 16)
        let yLabels = logY ? axis.ticks.map { NumberFormat.compact(pow(10, $0.value)) }
                           : NumberFormat.ticks(axis.ticks.map(\.value), step: axis.step)
        let left: Double = (hasYLabel ? 28 : 10) + (yLabels.map { SVGDocument.textWidth($0) }.max() ?? 0) + 10
        let right: Double = legendRight ? legendWidth + 24 : 20
        let area = SVGPlotArea(left: left, top: top, width: max(40, Double(width) - left - right), height: plotHeight)

        var document = SVGDocument(width: width, height: height, title: title)
        SVGChartParts.title(title, centre: area.left + area.width / 2, on: &document)
        let (xLo, xHi) = Ticks.padded(xMin, xMax)
        let xTicks = SVGChartParts.ticks(lo: xLo, hi: xHi, length: area.width, integral: x == nil).ticks
        area.yTicks(zip(axis.ticks, yLabels).map { (area.y($0.value, lo: axis.lo, hi: axis.hi), $1) }, grid: true,
                    on: &document)
        area.xTicks(xTicks.map { (area.x($0.value, lo: xLo, hi: xHi), $0.label) }, grid: true, on: &document)
        if logY && axis.step == 1 { Self.minorLogTicks(lo: axis.lo, hi: axis.hi, area: area, on: &document) }
        for (index, line) in points.enumerated() {
            let pixels = line.map { point in point.map { (area.x($0.x, lo: xLo, hi: xHi), area.y($0.y, lo: axis.lo, hi: axis.hi)) } }
            let runs = SVGPath.runs(pixels)
            if runs.isEmpty { continue }
            document.path(SVGPath.polylines(runs), stroke: SVGPalette.color(series: index), strokeWidth: 2,
                          dash: SVGPalette.dash(series: index), class: "series")
            // A point with no neighbour is only a cap-sized dot in the path; mark it visibly.
            for run in runs where run.count == 1 {
                document.circle(cx: run[0].x, cy: run[0].y, r: 3, fill: SVGPalette.color(series: index), class: "point")
            }
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

    /// Unlabelled short ticks at 2…9 × 10^k inside each decade of a log axis spanning `lo...hi`
    /// (in log10 units), when the decades are at least 40 px tall.
    static func minorLogTicks(lo: Double, hi: Double, area: SVGPlotArea, on document: inout SVGDocument) {
        guard hi > lo, hi - lo <= 40, area.height / (hi - lo) >= 40 else { return }
        for decade in stride(from: lo, to: hi, by: 1) {
            for multiple in 2...9 {
                let y = area.y(decade + log10(Double(multiple)), lo: lo, hi: hi)
                document.line(x1: area.left - 3, y1: y, x2: area.left, y2: y, class: "minortick")
            }
        }
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
        let pixels = shown.enumerated().map { index, value -> (x: Double, y: Double)? in
            guard value.isFinite else { return nil }
            return (area.x(Double(index), lo: 0, hi: Double(max(1, shown.count - 1))), area.y(value, lo: yLo, hi: yHi))
        }
        document.path(SVGPath.polylines(SVGPath.runs(pixels)), stroke: SVGPalette.color(series: 0), strokeWidth: 1.5,
                      class: "series")
        if let last = pixels.last(where: { $0 != nil }) ?? nil {
            document.circle(cx: last.x, cy: last.y, r: 2.5, fill: SVGPalette.color(series: 0), class: "last")
        }
        return document
    }
}
