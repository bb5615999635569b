// MARK: - Frame glyphs

/// Box-drawing glyphs for plot frames, Unicode or ASCII.
struct FrameGlyphs: Sendable {
    let topLeft: Character, topRight: Character, bottomLeft: Character, bottomRight: Character
    let horizontal: Character, vertical: Character
    /// Left edge with a tick pointing at a label (`┤`).
    let leftTick: Character
    /// Bottom edge with a tick pointing down at a label (`┬`).
    let bottomTick: Character

    static let unicode = FrameGlyphs(topLeft: "┌", topRight: "┐", bottomLeft: "└", bottomRight: "┘",
                                     horizontal: "─", vertical: "│", leftTick: "┤", bottomTick: "┬")
    static let ascii = FrameGlyphs(topLeft: "+", topRight: "+", bottomLeft: "+", bottomRight: "+",
                                   horizontal: "-", vertical: "|", leftTick: "+", bottomTick: "+")

    static func forOptions(_ options: RenderOptions) -> FrameGlyphs { options.ascii ? ascii : unicode }
}

// MARK: The bottom axis

/// A tick under the plot: the cell it marks, its label, and the label's start column in the line.
struct AxisTick {
    var cell: Int
    var label: String
    var start: Int
}

extension FrameGlyphs {
    /// The bottom frame with tick marks, the line of tick labels, and the x label centred under
    /// the `cells` plot columns (which start after `leftWidth` columns and the frame).
    func bottomAxis(ticks: [AxisTick], cells: Int, leftWidth: Int, width: Int, xlabel: String?, ascii: Bool) -> [String] {
        var lines: [String] = []
        var bottom = Array(repeating: horizontal, count: cells)
        for tick in ticks where tick.cell >= 0 && tick.cell < cells { bottom[tick.cell] = bottomTick }
        lines.append(String(repeating: " ", count: leftWidth) + String(bottomLeft) + String(bottom) + String(bottomRight))
        var tickLine = Array(repeating: Character(" "), count: width)
        for tick in ticks {
            for (offset, character) in tick.label.enumerated() where tick.start + offset >= 0 && tick.start + offset < width {
                tickLine[tick.start + offset] = character
            }
        }
        lines.append(String(tickLine))
        if let xlabel, !xlabel.isEmpty {
            lines.append(TextLayout.centered(xlabel, width: cells, offset: leftWidth + 1, ascii: ascii))
        }
        return lines
    }
}

