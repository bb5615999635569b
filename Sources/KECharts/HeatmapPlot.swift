import Foundation

// MARK: - Heatmap

/// Heatmap data and renderer: one text row per matrix row (or row group), shaded cells, a scale.
struct HeatmapPlot: Sendable {
    let matrix: [[Double]]
    let xlabel: String?
    let ylabel: String?
    let rowLabels: [String]?

    static let unicodeShades: [Character] = [" ", "░", "▒", "▓", "█"]
    static let asciiShades: [Character] = [" ", ".", ":", "-", "=", "+", "*", "#", "%", "@"]
    /// ANSI colours from low to high when colour is on: blue, cyan, green, yellow, red.
    static let colorRamp = [34, 36, 32, 33, 31]
    /// Widest a single matrix column is stretched to.
    static let maximumCellWidth = 4

    /// Mean of the finite entries of `matrix[rowRange][columnRange]` (NaN when none).
    static func mean(_ matrix: [[Double]], rows: Range<Int>, columns: Range<Int>) -> Double {
        var sum = 0.0, count = 0
        for row in rows where row < matrix.count {
            let values = matrix[row]
            for column in columns where column < values.count && values[column].isFinite {
                sum += values[column]
                count += 1
            }
        }
        guard count > 0 else { return .nan }
        let result = sum / Double(count)
        return result.isFinite ? result : (sum > 0 ? Double.greatestFiniteMagnitude : -Double.greatestFiniteMagnitude)
    }

    /// Splits `0..<count` into `groups` consecutive near-equal ranges.
    static func groups(_ count: Int, into groups: Int) -> [Range<Int>] {
        let groups = max(1, min(groups, count))
        return (0..<groups).map { group in (group * count / groups)..<((group + 1) * count / groups) }
    }

    func render(title: String?, options: RenderOptions) -> [String] {
        let rowCount = matrix.count
        let columnCount = matrix.map(\.count).max() ?? 0
        guard rowCount > 0, columnCount > 0, matrix.contains(where: { $0.contains(where: \.isFinite) }) else {
            return ChartText.empty(title: title, options: options)
        }
        let width = options.clampedWidth
        let ascii = options.ascii
        let frame = FrameGlyphs.forOptions(options)
        let shades = ascii ? Self.asciiShades : Self.unicodeShades
        let missing: Character = ascii ? "?" : "·"

        // Rows: one per matrix row, averaged into groups when taller than the height.
        let rowGroups = Self.groups(rowCount, into: options.clampedHeight(default: 40, minimum: 1))
        let names = rowGroups.map { rowName($0, ascii: ascii) }
        let labelWidth = min(names.map(\.count).max() ?? 1, max(3, width / 4))
        let leftWidth = labelWidth + 1

        // Columns: stretched when few, averaged when more than the room.
        let room = max(1, width - leftWidth - 2)
        let cellWidth = columnCount <= room ? max(1, min(room / columnCount, Self.maximumCellWidth)) : 1
        let columnGroups = Self.groups(columnCount, into: columnCount <= room ? columnCount : room)
        let cells = columnGroups.count * cellWidth

        // Displayed values (group means); the shade scale spans their range for full contrast.
        let grid = rowGroups.map { group in columnGroups.map { Self.mean(matrix, rows: group, columns: $0) } }
        let shown = grid.flatMap { $0.filter(\.isFinite) }
        let lo = shown.min() ?? 0, hi = shown.max() ?? 0

        func level(_ value: Double) -> Int {
            if hi <= lo { return shades.count / 2 }
            return min(shades.count - 1, Int(Ticks.fraction(value, lo: lo, hi: hi) * Double(shades.count - 1) + 0.5))
        }
        func colorCode(_ level: Int) -> Int {
            Self.colorRamp[min(Self.colorRamp.count - 1, level * Self.colorRamp.count / shades.count)]
        }

        var lines = ChartText.titleLines(title, width: cells, offset: leftWidth + 1, total: width, ascii: ascii)
        if let ylabel, !ylabel.isEmpty { lines.append(TextLayout.truncate(ylabel, to: width, ascii: ascii)) }
        lines.append(String(repeating: " ", count: leftWidth) + String(frame.topLeft)
                     + String(repeating: frame.horizontal, count: cells) + String(frame.topRight))
        for (index, values) in grid.enumerated() {
            var characters: [Character] = []
            var codes: [Int?] = []
            for value in values {
                let shade = value.isNaN ? missing : shades[level(value)]
                characters += Array(repeating: shade, count: cellWidth)
                codes += Array(repeating: value.isNaN ? nil : colorCode(level(value)), count: cellWidth)
            }
            let label = TextLayout.padLeft(TextLayout.truncate(names[index], to: labelWidth, ascii: ascii), labelWidth)
            lines.append(label + " " + String(frame.vertical) + ANSI.paint(characters, codes: codes, enabled: options.color)
                         + String(frame.vertical))
        }

        // Bottom frame with column-index ticks.
        let ticks = columnTicks(columnCount: columnCount, groups: columnGroups.count, cellWidth: cellWidth,
                                offset: leftWidth + 1, lineWidth: width)
        lines += frame.bottomAxis(ticks: ticks, cells: cells, leftWidth: leftWidth, width: width, xlabel: xlabel, ascii: ascii)

        // Scale: min, the shade ramp, max (indented under the plot when it fits), then any note.
        lines += scaleLines(lo: lo, hi: hi, shades: shades, indent: leftWidth + 1, width: width, options: options,
                            colorCode: colorCode)
        if let note = Self.averagingNote(rows: rowGroups.map(\.count).max() ?? 1,
                                         columns: columnGroups.map(\.count).max() ?? 1) {
            append(note: note, to: &lines, width: width)
        }
        return lines
    }

    /// The label of a group of rows: its row label (first…last when averaged), else its index
    /// (first-last when averaged).
    func rowName(_ group: Range<Int>, ascii: Bool) -> String {
        if let rowLabels, group.lowerBound < rowLabels.count {
            let first = rowLabels[group.lowerBound]
            return group.count == 1 || group.upperBound > rowLabels.count ? first
                : first + (ascii ? ".." : "…") + rowLabels[group.upperBound - 1]
        }
        return group.count == 1 ? String(group.lowerBound) : "\(group.lowerBound)-\(group.upperBound - 1)"
    }

    /// Puts `note` after the last line when it fits within `width`, else wrapped under it.
    func append(note: String, to lines: inout [String], width: Int) {
        let last = lines.removeLast()
        if visibleWidth(last) + 2 + note.count <= width {
            lines.append(last + "  " + note)
        } else {
            lines.append(last)
            lines += TextLayout.wrap(note, width: width)
        }
    }

    /// Columns `text` occupies on screen (ANSI escape sequences take none).
    func visibleWidth(_ text: String) -> Int {
        var count = 0, escaping = false
        for character in text {
            if escaping { if character == "m" { escaping = false } ; continue }
            if character == "\u{1B}" { escaping = true; continue }
            count += 1
        }
        return count
    }

    /// The min–ramp–max scale: indented and with a doubled ramp when room allows; split when tiny.
    func scaleLines(lo: Double, hi: Double, shades: [Character], indent: Int, width: Int, options: RenderOptions,
                    colorCode: (Int) -> Int) -> [String] {
        let ascii = options.ascii
        let loText = NumberFormat.compact(lo), hiText = NumberFormat.compact(hi)
        let open = ascii ? "[" : "▕", close = ascii ? "]" : "▏"
        func ramp(doubled: Bool) -> (text: String, count: Int) {
            let characters = doubled ? shades.flatMap { [$0, $0] } : shades
            let codes = characters.indices.map { index -> Int? in colorCode(doubled ? index / 2 : index) }
            return (open + ANSI.paint(characters, codes: codes, enabled: options.color) + close, characters.count + 2)
        }
        for (pad, doubled) in [(indent, !ascii), (0, !ascii), (0, false)] {
            let bar = ramp(doubled: doubled)
            if pad + loText.count + hiText.count + bar.count + 2 <= width {
                return [String(repeating: " ", count: pad) + loText + " " + bar.text + " " + hiText]
            }
        }
        return [ramp(doubled: false).text, TextLayout.truncate(loText + " .. " + hiText, to: width, ascii: ascii)]
    }

    /// "(cell = mean of up to 2 rows x 27 columns)" when cells average several entries, else nil.
    static func averagingNote(rows: Int, columns: Int) -> String? {
        var parts: [String] = []
        if rows > 1 { parts.append("\(rows) rows") }
        if columns > 1 { parts.append("\(columns) columns") }
        guard !parts.isEmpty else { return nil }
        return "(cell = mean of up to " + parts.joined(separator: " x ") + ")"
    }

    /// Integer column-index ticks at the finest 1-2-5 step leaving three blanks between labels.
    func columnTicks(columnCount: Int, groups: Int, cellWidth: Int, offset: Int, lineWidth: Int) -> [AxisTick] {
        let last = Double(columnCount - 1)
        var step = 1.0
        for _ in 0..<40 {
            func tick(_ column: Int) -> AxisTick {
                let cell = cellWidth > 1 ? column * cellWidth + (cellWidth - 1) / 2 : column * groups / columnCount
                let label = String(column)
                let start = min(max(0, offset + cell - (label.count - 1) / 2), max(0, lineWidth - label.count))
                return AxisTick(cell: cell, label: label, start: start)
            }
            func separated(_ ticks: [AxisTick]) -> Bool {
                zip(ticks, ticks.dropFirst()).allSatisfy { $0.start + $0.label.count + 3 <= $1.start }
            }
            var ticks = Ticks.multiples(of: step, lo: 0, hi: last).map { tick(Int($0)) }
            if separated(ticks) {
                // Also mark the last column when its label fits.
                if let final = ticks.last, final.label != String(columnCount - 1),
                   separated([final, tick(columnCount - 1)]) {
                    ticks.append(tick(columnCount - 1))
                }
                return ticks
            }
            step = Ticks.nextStep(step)
        }
        return []
    }
}
