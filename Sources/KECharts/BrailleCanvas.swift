// MARK: - Braille canvas

/// A canvas of Unicode braille cells (U+2800 block): 2 × 4 dots per character.
public struct BrailleCanvas: Canvas {
    public let columns: Int
    public let rows: Int
    public var pixelsPerColumn: Int { 2 }
    public var pixelsPerRow: Int { 4 }
    private var grid: CellGrid

    /// Dot bits by [x within cell][y within cell], per the Unicode braille layout.
    private static let bits: [[UInt16]] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]]

    /// A blank canvas of `columns` × `rows` characters (at least 1 × 1).
    public init(columns: Int, rows: Int) {
        grid = CellGrid(columns: columns, rows: rows)
        self.columns = grid.columns
        self.rows = grid.rows
    }

    public mutating func setPixel(x: Int, y: Int, color: Int?) {
        grid.setPixel(x: x, y: y, cellHeight: 4, color: color) { dx, dy in Self.bits[dx][dy] }
    }

    public func character(row: Int, column: Int) -> Character {
        let mask = grid.mask(row: row, column: column)
        if mask == 0 { return " " }
        return Character(Unicode.Scalar(0x2800 + UInt32(mask)) ?? " ")
    }

    public func color(row: Int, column: Int) -> Int? { grid.color(row: row, column: column) }
}
