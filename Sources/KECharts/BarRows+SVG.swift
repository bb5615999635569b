import Foundation

// MARK: - Bar charts and histograms as SVG

extension BarPlot {
    /// The chart as an SVG document: one labelled horizontal bar per value (see ``BarRows/svg``).
    func svg(title: String?, options: SVGOptions) -> SVGDocument {
        guard values.contains(where: { $0.isFinite }) else {
            return SVGChartParts.empty(title: title, width: options.clampedWidth(), height: options.clampedHeight(default: 120))
        }
        return rows().svg(title: title, options: options)
    }
}

extension HistogramPlot {
    /// The chart as an SVG document: one horizontal bar per bin, labelled with its edges, lengths
    /// in counts (or log10(1 + count) with `logCounts`, named on the axis and in a note).
    func svg(title: String?, options: SVGOptions) -> SVGDocument {
        guard let rows = rows() else {
            return SVGChartParts.empty(title: title, width: options.clampedWidth(), height: options.clampedHeight(default: 120))
        }
        return rows.svg(title: title, options: options, header: xlabel,
                        axisLabel: logCounts ? "log10(1 + count)" : "count",
                        note: logCounts ? "(bar length ∝ log10(1 + count); numbers are exact counts)" : nil)
    }
}

extension BarRows {
    /// Height of one bar's row (px) when the height is chosen from the number of bars.
    static let svgRowHeight = 22.0

    /// Labelled horizontal bars on a value axis through zero, the values in a column on the right.
    ///
    /// Each finite length gets a `<rect class="bar">` (negative ones left of the zero line);
    /// non-finite ones get no bar but keep their value text. The height grows with the number of
    /// bars unless `options.height` is set; labels are thinned when rows are too thin for text.
    func svg(title: String?, options: SVGOptions, header: String? = nil, axisLabel: String? = nil,
             note: String? = nil) -> SVGDocument {
        let width = options.clampedWidth()
        let hasHeader = header?.isEmpty == false, hasAxisLabel = axisLabel?.isEmpty == false
        let top: Double = SVGChartParts.top(title: title) + (hasHeader ? 18 : 0)
        let bottom: Double = 30 + (hasAxisLabel ? 20 : 0) + (note != nil ? 18 : 0)
        let bars = Double(max(1, lengths.count))
        let natural: Double = top + bottom + bars * Self.svgRowHeight + 8
        let height = options.clampedHeight(default: Int(min(natural, 4000).rounded(.up)))
        let rowHeight: Double = max(0.5, (Double(height) - top - bottom - 8) / bars)

        let shownLabels = labels.map { SVGDocument.fitted($0, pixels: Double(width) / 3) }
        let left: Double = 12 + (shownLabels.map { SVGDocument.textWidth($0) }.max() ?? 0) + 10
        let right: Double = 16 + (valueTexts.map { SVGDocument.textWidth($0) }.max() ?? 0) + 8
        let finite = lengths.filter(\.isFinite)
        let plotWidth = max(40, Double(width) - left - right)
        let axis = SVGChartParts.ticks(lo: min(0, finite.min() ?? 0), hi: max(0, finite.max() ?? 0), length: plotWidth,
                                       extended: true)
        let area = SVGPlotArea(left: left, top: top, width: plotWidth, height: Double(height) - top - bottom)

        var document = SVGDocument(width: width, height: height, title: title)
        SVGChartParts.title(title, centre: area.left + area.width / 2, on: &document)
        if let header, hasHeader {
            document.text(SVGDocument.fitted(header, pixels: left - 10), x: left - 10, y: top - 8, anchor: .end,
                          bold: true, class: "axislabel")
        }
        area.xTicks(axis.ticks.map { (area.x($0.value, lo: axis.lo, hi: axis.hi), $0.label) }, grid: true,
                    on: &document)
        let zero = area.x(0, lo: axis.lo, hi: axis.hi)
        let labelEvery = max(1, Int((14 / rowHeight).rounded(.up)))
        let barHeight = rowHeight >= 4 ? rowHeight * 0.72 : rowHeight
        for (index, length) in lengths.enumerated() {
            let y = area.top + 4 + Double(index) * rowHeight
            if length.isFinite {
                let end = area.x(length, lo: axis.lo, hi: axis.hi)
                document.rect(x: min(zero, end), y: y + (rowHeight - barHeight) / 2, width: abs(end - zero),
                              height: barHeight, fill: SVGPalette.color(series: 0), class: "bar")
            }
            guard index % labelEvery == 0 else { continue }
            let middle = y + rowHeight / 2 + 4
            document.text(shownLabels[index], x: left - 10, y: middle, anchor: .end, class: "barlabel")
            document.text(valueTexts[index], x: area.right + 8, y: middle, class: "value")
        }
        if axis.lo < 0 {
            document.line(x1: zero, y1: area.top, x2: zero, y2: area.bottom, class: "zero")
        }
        area.frame(on: &document)
        area.axisLabels(x: axisLabel, y: nil, on: &document)
        if let note {
            document.text(SVGDocument.fitted(note, pixels: Double(width) - 16), x: 8, y: Double(height) - 8,
                          class: "note")
        }
        return document
    }
}
