// MARK: - Bar plot

/// Horizontal bar chart data and renderer.
struct BarPlot: Sendable {
    let values: [Double]
    let labels: [String]?

    /// The bars: each value with its label (default: its index) and compact value text.
    func rows() -> BarRows {
        let names = values.indices.map { index -> String in
            if let labels, index < labels.count { return labels[index] }
            return String(index)
        }
        return BarRows(labels: names, lengths: values, valueTexts: values.map { NumberFormat.compact($0) })
    }

    func render(title: String?, options: RenderOptions) -> [String] {
        guard values.contains(where: { $0.isFinite }) else { return ChartText.empty(title: title, options: options) }
        return rows().render(title: title, options: options)
    }
}

// MARK: - Shared horizontal bars

/// Labelled horizontal bars with value texts; shared by bar charts and histograms.
struct BarRows {
    /// Label of each bar.
    var labels: [String]
    /// Bar lengths in data units (non-finite: no bar; negative: drawn left of the zero axis).
    var lengths: [Double]
    /// Text printed after each bar.
    var valueTexts: [String]

    /// Eighth blocks from 1/8 to 8/8.
    static let eighths: [Character] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"]

    /// Title, optional header, one line per bar.
    func render(title: String?, options: RenderOptions, header: String? = nil) -> [String] {
        let width = options.clampedWidth
        let ascii = options.ascii
        let labelWidth = min(labels.map(\.count).max() ?? 0, max(4, width / 3))
        let valueWidth = valueTexts.map(\.count).max() ?? 0
        let axis: Character = ascii ? "|" : "┤"
        let full: Character = ascii ? "#" : "█"
        let barSpace = max(1, width - labelWidth - 2 - 1 - valueWidth)
        let finite = lengths.filter { $0.isFinite }
        let positive = max(0, finite.max() ?? 0)
        let negative = max(0, -(finite.min() ?? 0))
        let negativeWidth = negative > 0
            ? min(barSpace - 1, max(1, Int((Double(barSpace) * ((negative / 2) / (positive / 2 + negative / 2))).rounded()))) : 0
        let positiveWidth = max(0, barSpace - negativeWidth)

        var lines = ChartText.titleLines(title, width: width, ascii: ascii)
        if let header, !header.isEmpty {
            lines.append(header.count <= labelWidth ? TextLayout.padLeft(header, labelWidth)
                                                    : TextLayout.truncate(header, to: width, ascii: ascii))
        }
        for (index, length) in lengths.enumerated() {
            let label = TextLayout.padLeft(TextLayout.truncate(labels[index], to: labelWidth, ascii: ascii), labelWidth)
            var negativePart = String(repeating: " ", count: negativeWidth)
            var positivePart = ""
            if length.isFinite && length < 0 && negative > 0 {
                let cells = min(negativeWidth, Int((min(1, -length / negative) * Double(negativeWidth)).rounded()))
                negativePart = String(repeating: " ", count: negativeWidth - cells) + String(repeating: full, count: cells)
            } else if length.isFinite && length > 0 && positive > 0 {
                let fraction = min(1, length / positive)
                if ascii {
                    positivePart = String(repeating: full, count: Int((fraction * Double(positiveWidth)).rounded()))
                } else {
                    let units = Int((fraction * Double(positiveWidth * 8)).rounded())
                    positivePart = String(repeating: full, count: units / 8)
                    if units % 8 > 0 { positivePart.append(Self.eighths[units % 8 - 1]) }
                }
            }
            let bar = ANSI.paint(negativePart, code: ANSI.code(series: 0), enabled: options.color)
                + String(axis) + ANSI.paint(positivePart, code: ANSI.code(series: 0), enabled: options.color)
            lines.append(label + " " + bar + " " + valueTexts[index])
        }
        return lines
    }
}
