// MARK: - ASCII canvas

/// A pure-ASCII canvas: 2 × 3 pixels per character, drawn as line glyphs (`- _ ' | / \ + #`).
public struct AsciiCanvas: Canvas {
    public let columns: Int
    public let rows: Int
    public var pixelsPerColumn: Int { 2 }
    public var pixelsPerRow: Int { 3 }
    private var grid: CellGrid

    /// A blank canvas of `columns` × `rows` characters (at least 1 × 1).
    public init(columns: Int, rows: Int) {
        grid = CellGrid(columns: columns, rows: rows)
        self.columns = grid.columns
        self.rows = grid.rows
    }

    public mutating func setPixel(x: Int, y: Int, color: Int?) {
        grid.setPixel(x: x, y: y, cellHeight: 3, color: color) { dx, dy in UInt16(1) << UInt16(dy * 2 + dx) }
    }

    public func character(row: Int, column: Int) -> Character {
        Self.glyphs[Int(grid.mask(row: row, column: column) & 0x3F)]
    }

    public func color(row: Int, column: Int) -> Int? { grid.color(row: row, column: column) }

    /// Glyph for each of the 64 pixel patterns (bit = row * 2 + column, row 0 at the top).
    static let glyphs: [Character] = (0..<64).map { glyph(for: $0) }

    /// Chooses the ASCII glyph that best suggests a 2 × 3 pixel pattern.
    static func glyph(for mask: Int) -> Character {
        if mask == 0 { return " " }
        var left: [Int] = [], right: [Int] = []
        for row in 0..<3 {
            if mask & (1 << (row * 2)) != 0 { left.append(row) }
            if mask & (1 << (row * 2 + 1)) != 0 { right.append(row) }
        }
        let rowsUsed = Set(left + right)
        if left.isEmpty || right.isEmpty {
            // One column: a dot-like mark or a vertical stroke.
            let used = left.isEmpty ? right : left
            if used.count > 1 { return "|" }
            return ["'", "-", "."][used[0]]
        }
        if rowsUsed.count == 1 { return ["'", "-", "_"][left[0]] }
        if left.count + right.count >= 5 { return "#" }
        let meanLeft = Double(left.reduce(0, +)) / Double(left.count)
        let meanRight = Double(right.reduce(0, +)) / Double(right.count)
        if meanLeft > meanRight { return "/" }
        if meanLeft < meanRight { return "\\" }
        return left.count == 3 && right.count == 3 ? "#" : "+"
    }
}
