import Foundation

// MARK: - Line plot

/// Line chart data and renderer: series on a framed canvas with y ticks, x ticks and a legend.
struct LinePlot: Sendable {
    let series: [[Double]]
    let x: [Double]?
    let xlabel: String?
    let ylabel: String?
    let labels: [String]?
    let logY: Bool

    /// A point in data coordinates (y already log10 when `logY`).
    typealias Point = (x: Double, y: Double)

    // MARK: Data preparation

    /// Points of every series (nil marks a gap) and the count of values dropped for the log axis.
    func preparedSeries() -> (points: [[Point?]], dropped: Int) {
        var dropped = 0
        let points = series.map { values -> [Point?] in
            let count = x.map { min($0.count, values.count) } ?? values.count
            return (0..<count).map { index -> Point? in
                let xv = x?[index] ?? Double(index)
                var yv = values[index]
                guard xv.isFinite, yv.isFinite else { return nil }
                if logY {
                    guard yv > 0 else { dropped += 1; return nil }
                    yv = log10(yv)
                }
                return (xv, yv)
            }
        }
        return (points, dropped)
    }

    /// The note under a log-scale chart that dropped `dropped` non-positive values (nil when none).
    static func logFootnote(dropped: Int) -> String? {
        dropped > 0 ? "(\(dropped) non-positive value\(dropped == 1 ? "" : "s") omitted from the log scale)" : nil
    }

    /// The series names shown in the legend.
    func seriesNames() -> [String] {
        series.indices.map { index in
            if let labels, index < labels.count { return labels[index] }
            return "series \(index + 1)"
        }
    }

    // MARK: Rendering

    func render(title: String?, options: RenderOptions) -> [String] {
        let (points, dropped) = preparedSeries()
        let footnote = Self.logFootnote(dropped: dropped).map { TextLayout.wrap($0, width: options.clampedWidth) } ?? []
        let finite = points.flatMap { $0.compactMap { $0 } }
        guard let xMin = finite.map(\.x).min(), let xMax = finite.map(\.x).max(),
              let yMin = finite.map(\.y).min(), let yMax = finite.map(\.y).max() else {
            return ChartText.empty(title: title, options: options) + footnote
        }

        let width = options.clampedWidth
        let rows = options.clampedHeight(default: 15, minimum: 3)
        let ascii = options.ascii
        let frame = FrameGlyphs.forOptions(options)
        let pixelsPerRow = ascii ? 3 : 4

        // Y axis: range and tick values (tick rows need only the row count).
        let yAxis = logY ? logAxis(yMin, yMax, rows: rows, pixelsPerRow: pixelsPerRow)
                         : linearAxis(yMin, yMax, rows: rows, pixelsPerRow: pixelsPerRow)
        let yLabels = logY ? yAxis.ticks.map { NumberFormat.compact(pow(10, $0.value)) }
                           : NumberFormat.ticks(yAxis.ticks.map(\.value), step: yAxis.step)
        let tickWidth = yLabels.map(\.count).max() ?? 1
        let leftWidth = tickWidth + 1

        // Legend: to the right (direct labels at each series' end) when it fits, else below.
        let names = seriesNames()
        let showLegend = series.count > 1 || labels != nil
        let legendCap = max(6, width / 4)
        let legendTextWidth = min(names.map(\.count).max() ?? 0, legendCap)
        let rightLegendWidth = showLegend ? legendTextWidth + 1 : 0
        let legendRight = showLegend && names.count <= rows && width - leftWidth - 2 - rightLegendWidth >= max(10, width / 2)
        let columns = max(1, width - leftWidth - 2 - (legendRight ? rightLegendWidth : 0))

        // Canvas (drawn through a generic helper so pixel writes are not existential calls).
        let (xLo, xHi) = Ticks.padded(xMin, xMax)
        let pixelWidth = columns * 2, pixelHeight = rows * pixelsPerRow
        func pixel(_ point: Point) -> (Int, Int) {
            (Ticks.position(point.x, lo: xLo, hi: xHi, count: pixelWidth),
             pixelHeight - 1 - Ticks.position(point.y, lo: yAxis.lo, hi: yAxis.hi, count: pixelHeight))
        }
        let canvas: any Canvas = ascii ? Self.draw(points, on: AsciiCanvas(columns: columns, rows: rows), pixel: pixel)
                                       : Self.draw(points, on: BrailleCanvas(columns: columns, rows: rows), pixel: pixel)

        // Right legend rows: each series' last point, collisions pushed apart.
        var legendAt: [Int: Int] = [:]
        if legendRight {
            let desired = points.enumerated().map { index, line -> (Int, Int) in
                guard let last = line.last(where: { $0 != nil }) ?? nil else { return (index, rows - 1) }
                return (index, pixel(last).1 / canvas.pixelsPerRow)
            }
            for (index, row) in spread(desired, rows: rows) { legendAt[row] = index }
        }

        // Assemble.
        var lines = ChartText.titleLines(title, width: columns, offset: leftWidth + 1, total: width, ascii: ascii)
        if let ylabel, !ylabel.isEmpty { lines.append(TextLayout.truncate(ylabel, to: width, ascii: ascii)) }
        lines.append(String(repeating: " ", count: leftWidth) + String(frame.topLeft)
                     + String(repeating: frame.horizontal, count: columns) + String(frame.topRight))
        var tickLabelAt: [Int: String] = [:]
        for (tick, label) in zip(yAxis.ticks, yLabels) { tickLabelAt[tick.row] = label }
        for row in 0..<rows {
            var line = TextLayout.padLeft(tickLabelAt[row] ?? "", tickWidth) + " "
            line.append(tickLabelAt[row] == nil ? frame.vertical : frame.leftTick)
            let cells = (0..<columns).map { canvas.character(row: row, column: $0) }
            let codes = (0..<columns).map { column in canvas.color(row: row, column: column).map(ANSI.code(series:)) }
            line += ANSI.paint(cells, codes: codes, enabled: options.color)
            line.append(frame.vertical)
            if let index = legendAt[row] {
                let text = TextLayout.truncate(names[index], to: legendTextWidth, ascii: ascii)
                line += " " + ANSI.paint(text, code: ANSI.code(series: index), enabled: options.color)
            }
            lines.append(line)
        }
        let xTicks = xAxisTicks(lo: xLo, hi: xHi, columns: columns, pixelWidth: pixelWidth,
                                pixelsPerColumn: canvas.pixelsPerColumn, integral: x == nil, offset: leftWidth + 1)
        lines += frame.bottomAxis(ticks: xTicks, cells: columns, leftWidth: leftWidth, width: width, xlabel: xlabel, ascii: ascii)
        if showLegend && !legendRight {
            lines += bottomLegend(names, width: width, options: options)
        }
        return lines + footnote
    }

    /// Draws every series on `canvas`: segments between consecutive points, lone points as dots.
    static func draw<C: Canvas>(_ points: [[Point?]], on canvas: C, pixel: (Point) -> (Int, Int)) -> C {
        var canvas = canvas
        for (index, line) in points.enumerated() {
            var previous: (Int, Int)?
            for point in line {
                guard let point else { previous = nil; continue }
                let current = pixel(point)
                if let previous {
                    if previous != current {
                        canvas.drawLine(x0: previous.0, y0: previous.1, x1: current.0, y1: current.1, color: index)
                    }
                } else {
                    canvas.setPixel(x: current.0, y: current.1, color: index)
                }
                previous = current
            }
        }
        return canvas
    }

    // MARK: Axes

    /// A y axis: its data range and the ticks with the canvas row each labels.
    struct YAxis {
        var lo: Double
        var hi: Double
        var ticks: [(value: Double, row: Int)]
        /// Spacing of the tick values (in log10 units on a log axis).
        var step: Double
    }

    /// Canvas row of `value` on `lo...hi` for a canvas `rows` high.
    static func row(of value: Double, lo: Double, hi: Double, rows: Int, pixelsPerRow: Int) -> Int {
        let pixels = rows * pixelsPerRow
        return (pixels - 1 - Ticks.position(value, lo: lo, hi: hi, count: pixels)) / pixelsPerRow
    }

    /// Whether tick rows leave at least one blank row between labels.
    static func wellSpaced(_ rows: [Int]) -> Bool {
        zip(rows, rows.dropFirst()).allSatisfy { abs($0 - $1) >= 2 }
    }

    /// A linear y axis with 1-2-5 tick labels at least two rows apart.
    ///
    /// Preferred: the range extended to multiples of the label step, so both frame edges are
    /// labelled, unless that wastes much room (over 35% more than the finest extension); then the
    /// range keeps the fine extension and the labels use a coarser step inside it.
    func linearAxis(_ yMin: Double, _ yMax: Double, rows: Int, pixelsPerRow: Int) -> YAxis {
        let (lo0, hi0) = Ticks.padded(yMin, yMax)
        func extended(_ step: Double) -> (Double, Double) {
            let lo = floor(lo0 / step) * step, hi = ceil(hi0 / step) * step
            return lo.isFinite && hi.isFinite && hi > lo ? (lo, hi) : (lo0, hi0)
        }
        func ticks(_ step: Double, _ lo: Double, _ hi: Double) -> [(value: Double, row: Int)] {
            Ticks.multiples(of: step, lo: lo, hi: hi)
                .map { ($0, Self.row(of: $0, lo: lo, hi: hi, rows: rows, pixelsPerRow: pixelsPerRow)) }
        }
        let fineStep = Ticks.niceStep(span: hi0 - lo0, target: max(2, rows / 2))
        let (fineLo, fineHi) = extended(fineStep)
        var step = fineStep
        for _ in 0..<4 {
            let (lo, hi) = extended(step)
            if hi / 2 - lo / 2 > 1.35 * (fineHi / 2 - fineLo / 2) { break }
            let candidate = ticks(step, lo, hi)
            if candidate.count >= 2 && Self.wellSpaced(candidate.map(\.row)) {
                return YAxis(lo: lo, hi: hi, ticks: candidate, step: step)
            }
            step = Ticks.nextStep(step)
        }
        step = fineStep
        for _ in 0..<40 {
            let candidate = ticks(step, fineLo, fineHi)
            if candidate.count < 2 { break }
            if Self.wellSpaced(candidate.map(\.row)) { return YAxis(lo: fineLo, hi: fineHi, ticks: candidate, step: step) }
            step = Ticks.nextStep(step)
        }
        return YAxis(lo: fineLo, hi: fineHi, ticks: [(fineHi, 0), (fineLo, rows - 1)], step: fineHi - fineLo)
    }

    /// A log10 y axis spanning whole decades, ticks at every (or every k-th) decade.
    func logAxis(_ yMin: Double, _ yMax: Double, rows: Int, pixelsPerRow: Int) -> YAxis {
        var lo = floor(yMin), hi = ceil(yMax)
        if hi <= lo { lo -= 1; hi += 1 }
        var step = 1.0
        while true {
            let values = Ticks.multiples(of: step, lo: lo, hi: hi)
            let ticks = values.map { ($0, Self.row(of: $0, lo: lo, hi: hi, rows: rows, pixelsPerRow: pixelsPerRow)) }
            if Self.wellSpaced(ticks.map(\.1)) || values.count <= 2 || step > 1e6 {
                return YAxis(lo: lo, hi: hi, ticks: ticks, step: step)
            }
            step *= 2
        }
    }

    /// Nice x ticks inside `lo...hi` whose labels do not overlap (integers only when `integral`).
    func xAxisTicks(lo: Double, hi: Double, columns: Int, pixelWidth: Int, pixelsPerColumn: Int,
                    integral: Bool, offset: Int) -> [AxisTick] {
        var step = Ticks.niceStep(span: hi - lo, target: max(2, columns / 8))
        if integral { step = max(step, 1) }
        let lineWidth = offset + columns + 1
        for _ in 0..<40 {
            let values = Ticks.multiples(of: step, lo: lo, hi: hi)
            let labels = NumberFormat.ticks(values, step: step)
            let ticks = zip(values, labels).map { value, label -> AxisTick in
                let column = Ticks.position(value, lo: lo, hi: hi, count: pixelWidth) / pixelsPerColumn
                let start = min(max(0, offset + column - (label.count - 1) / 2), max(0, lineWidth - label.count))
                return AxisTick(cell: column, label: label, start: start)
            }
            let separated = zip(ticks, ticks.dropFirst()).allSatisfy { $0.start + $0.label.count + 1 < $1.start }
            if separated { return ticks }
            step = Ticks.nextStep(step)
        }
        return []
    }

    // MARK: Legend

    /// Assigns each (series, desired row) a distinct row in `0..<rows`, keeping order and closeness.
    func spread(_ desired: [(Int, Int)], rows: Int) -> [(Int, Int)] {
        let sorted = desired.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
        var assigned: [(Int, Int)] = []
        var next = 0
        for (index, row) in sorted {
            let placed = max(row, next)
            assigned.append((index, placed))
            next = placed + 1
        }
        // Push back up from the bottom if we ran past the last row.
        var limit = rows - 1
        for position in stride(from: assigned.count - 1, through: 0, by: -1) {
            if assigned[position].1 > limit { assigned[position].1 = limit }
            limit = assigned[position].1 - 1
        }
        return assigned
    }

    /// The legend as wrapped lines below the plot.
    func bottomLegend(_ names: [String], width: Int, options: RenderOptions) -> [String] {
        var lines: [String] = []
        var current = ""
        var currentWidth = 0
        for (index, name) in names.enumerated() {
            let text = TextLayout.truncate(name, to: width - 2, ascii: options.ascii)
            let entryWidth = text.count + 2
            if currentWidth > 0 && currentWidth + entryWidth > width {
                lines.append(current)
                current = ""
                currentWidth = 0
            }
            current += "  " + ANSI.paint(text, code: ANSI.code(series: index), enabled: options.color)
            currentWidth += entryWidth
        }
        if currentWidth > 0 { lines.append(current) }
        return lines
    }
}
