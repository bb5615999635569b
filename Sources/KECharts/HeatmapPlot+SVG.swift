import Foundation

// MARK: - Heatmap as SVG

extension HeatmapPlot {
    /// Most rows and columns drawn as separate cells; larger matrices are averaged into groups
    /// (keeps a 1000 × 1000 matrix to at most 10 000 rectangles).
    static let svgMaximumGroups = 100

    /// Row names shown for `groups` (given labels, `first…last` for a group, else indices).
    func groupNames(_ groups: [Range<Int>]) -> [String] {
        groups.map { group -> String in
            if let rowLabels, group.lowerBound < rowLabels.count {
                let first = rowLabels[group.lowerBound]
                return group.count == 1 || group.upperBound > rowLabels.count ? first
                    : first + "…" + rowLabels[group.upperBound - 1]
            }
            return group.count == 1 ? String(group.lowerBound) : "\(group.lowerBound)-\(group.upperBound - 1)"
        }
    }

    /// The chart as an SVG document: one `<rect class="cell">` per shown cell coloured by viridis
    /// over the shown min…max, row labels, column-index ticks, axis labels and a colour scale bar.
    ///
    /// Rows are 20 px high up to 24 rows, then thinner (at least 3 px) so the height grows more
    /// slowly; `options.height` fixes the height instead. Cells with no finite entry are grey.
    func svg(title: String?, options: SVGOptions) -> SVGDocument {
        let width = options.clampedWidth()
        let rowCount = matrix.count, columnCount = matrix.map(\.count).max() ?? 0
        guard rowCount > 0, columnCount > 0, matrix.contains(where: { $0.contains(where: \.isFinite) }) else {
            return SVGChartParts.empty(title: title, width: width, height: options.clampedHeight(default: 120))
        }
        let rowGroups = Self.groups(rowCount, into: Self.svgMaximumGroups)
        let names = groupNames(rowGroups).map { SVGDocument.fitted($0, pixels: Double(width) / 4) }
        let hasYLabel = ylabel?.isEmpty == false, hasXLabel = xlabel?.isEmpty == false
        let top = SVGChartParts.top(title: title)
        let left: Double = (hasYLabel ? 28 : 10) + (names.map { SVGDocument.textWidth($0) }.max() ?? 0) + 10
        let plotWidth = max(40, Double(width) - left - 90)
        let columnGroups = Self.groups(columnCount, into: min(Self.svgMaximumGroups, max(1, Int(plotWidth / 4))))
        let note = Self.averagingNote(rows: rowGroups.map(\.count).max() ?? 1, columns: columnGroups.map(\.count).max() ?? 1)
        let bottom: Double = 30 + (hasXLabel ? 20 : 0) + (note != nil ? 18 : 0)
        let natural: Double = rowGroups.count <= 24 ? 20 : max(3, 480 / Double(rowGroups.count))
        let cellsHeight: Double = options.height == nil ? natural * Double(rowGroups.count)
                                                : Double(options.clampedHeight(default: 0)) - top - bottom
        let scaleHeight = max(cellsHeight, 40)
        let height = options.height == nil ? Int((top + scaleHeight + bottom).rounded(.up))
                                           : options.clampedHeight(default: 0)
        let rowHeight = max(0.5, cellsHeight) / Double(rowGroups.count)

        let area = SVGPlotArea(left: left, top: top, width: plotWidth, height: max(0.5, cellsHeight))
        let grid = rowGroups.map { group in columnGroups.map { Self.mean(matrix, rows: group, columns: $0) } }
        let shown = grid.flatMap { $0.filter(\.isFinite) }
        let lo = shown.min() ?? 0, hi = shown.max() ?? 0

        var document = SVGDocument(width: width, height: height, title: title)
        SVGChartParts.title(title, centre: area.left + area.width / 2, on: &document)
        let cellWidth = area.width / Double(columnGroups.count)
        // Each cell reaches 0.5 px under its right and lower neighbours: anti-aliased edges that
        // merely touch leave hairline seams.
        for (row, values) in grid.enumerated() {
            for (column, value) in values.enumerated() {
                let fill = value.isFinite ? SVGPalette.viridis(hi > lo ? Ticks.fraction(value, lo: lo, hi: hi) : 0.5)
                                          : SVGPalette.missing
                document.rect(x: area.left + Double(column) * cellWidth, y: area.top + Double(row) * rowHeight,
                              width: cellWidth + (column < values.count - 1 ? 0.5 : 0),
                              height: rowHeight + (row < grid.count - 1 ? 0.5 : 0), fill: fill, class: "cell")
            }
        }
        area.frame(on: &document)
        let labelEvery = max(1, Int((14 / rowHeight).rounded(.up)))
        for (row, name) in names.enumerated() where row % labelEvery == 0 {
            document.text(name, x: area.left - 8, y: area.top + (Double(row) + 0.5) * rowHeight + 4, anchor: .end,
                          class: "rowlabel")
        }
        let columnTicks = SVGChartParts.ticks(lo: 0, hi: Double(columnCount - 1), length: area.width, integral: true).ticks
        area.xTicks(columnTicks.map { (area.left + ($0.value + 0.5) / Double(columnCount) * area.width, $0.label) },
                    grid: false, on: &document)
        area.axisLabels(x: xlabel, y: ylabel, on: &document)
        if let note {
            document.text(SVGDocument.fitted(note, pixels: Double(width) - 16), x: 8, y: Double(height) - 8,
                          class: "note")
        }
        Self.scaleBar(lo: lo, hi: hi, x: area.right + 16, top: area.top, height: max(40, area.height),
                      on: &document)
        return document
    }

    /// The colour scale: 32 stacked viridis bands from `lo` (bottom) to `hi` (top), framed, with
    /// 1-2-5 tick labels at least 24 px apart (or just the ends when fewer than two fit).
    static func scaleBar(lo: Double, hi: Double, x: Double, top: Double, height: Double,
                         on document: inout SVGDocument) {
        let bands = 32, barWidth = 14.0
        let band = height / Double(bands)
        for index in 0..<bands {
            let t = hi > lo ? (Double(index) + 0.5) / Double(bands) : 0.5
            let overlap = index < bands - 1 ? 0.5 : 0  // under the band above, as for the cells
            document.rect(x: x, y: top + height - Double(index + 1) * band - overlap, width: barWidth,
                          height: band + overlap, fill: SVGPalette.viridis(t), class: "scale")
        }
        document.add("rect", [("x", SVGDocument.number(x)), ("y", SVGDocument.number(top)),
                              ("width", SVGDocument.number(barWidth)), ("height", SVGDocument.number(height)),
                              ("fill", "none"), ("stroke", SVGDocument.ink)])
        var ticks = SVGChartParts.ticks(lo: lo, hi: hi, length: height, spacing: { _ in 24 }).ticks
        if ticks.count < 2 { ticks = hi > lo ? [(lo, NumberFormat.compact(lo)), (hi, NumberFormat.compact(hi))]
                                             : [(lo, NumberFormat.compact(lo))] }
        for tick in ticks {
            let y = hi > lo ? top + height - Ticks.fraction(tick.value, lo: lo, hi: hi) * height : top + height / 2
            document.line(x1: x + barWidth, y1: y, x2: x + barWidth + 4, y2: y, class: "tick")
            document.text(tick.label, x: x + barWidth + 7, y: y + 4, class: "scalelabel")
        }
    }
}
