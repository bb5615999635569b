// MARK: - Canvas protocol

/// A character grid drawn on by setting pixels; each cell packs several pixels.
///
/// Pixel coordinates have their origin at the top-left; out-of-range pixels are ignored,
/// so callers never need to clip. Implementations: ``BrailleCanvas`` and ``AsciiCanvas``.
public protocol Canvas: Sendable {
    /// Character columns of the grid.
    var columns: Int { get }
    /// Character rows of the grid.
    var rows: Int { get }
    /// Pixels per character column.
    var pixelsPerColumn: Int { get }
    /// Pixels per character row.
    var pixelsPerRow: Int { get }
    /// Turns pixel (`x`, `y`) on, remembering `color` (an index into the series palette) for its cell.
    mutating func setPixel(x: Int, y: Int, color: Int?)
    /// The glyph of cell (`row`, `column`); a space when empty or out of range.
    func character(row: Int, column: Int) -> Character
    /// The colour index last used in cell (`row`, `column`), if any.
    func color(row: Int, column: Int) -> Int?
}

extension Canvas {
    /// Width of the pixel grid.
    public var pixelWidth: Int { columns * pixelsPerColumn }
    /// Height of the pixel grid.
    public var pixelHeight: Int { rows * pixelsPerRow }

    /// Draws a straight pixel line from (`x0`, `y0`) to (`x1`, `y1`) (Bresenham, both ends set).
    public mutating func drawLine(x0: Int, y0: Int, x1: Int, y1: Int, color: Int?) {
        // Clamp to a margin around the grid so the loop length stays bounded.
        let bound = 4 * (pixelWidth + pixelHeight) + 8
        var x = min(max(x0, -bound), bound), y = min(max(y0, -bound), bound)
        let tx = min(max(x1, -bound), bound), ty = min(max(y1, -bound), bound)
        let dx = abs(tx - x), dy = -abs(ty - y)
        let sx = x < tx ? 1 : -1, sy = y < ty ? 1 : -1
        var error = dx + dy
        while true {
            setPixel(x: x, y: y, color: color)
            if x == tx && y == ty { break }
            let doubled = 2 * error
            if doubled >= dy { error += dy; x += sx }
            if doubled <= dx { error += dx; y += sy }
        }
    }

    /// The grid as text lines, without colour.
    public func lines() -> [String] {
        (0..<rows).map { row in String((0..<columns).map { character(row: row, column: $0) }) }
    }
}

// MARK: - Shared cell storage

/// Bit masks and colours of a grid of cells (internal storage for the canvases).
struct CellGrid: Sendable {
    let columns: Int
    let rows: Int
    private(set) var masks: [UInt16]
    private(set) var colors: [Int?]

    init(columns: Int, rows: Int) {
        self.columns = max(1, columns)
        self.rows = max(1, rows)
        masks = Array(repeating: 0, count: self.columns * self.rows)
        colors = Array(repeating: nil, count: self.columns * self.rows)
    }

    /// Ors `bit` into cell (`row`, `column`) and records `color` when given.
    mutating func set(row: Int, column: Int, bit: UInt16, color: Int?) {
        guard row >= 0, row < rows, column >= 0, column < columns else { return }
        masks[row * columns + column] |= bit
        if let color { colors[row * columns + column] = color }
    }

    /// Turns on pixel (`x`, `y`) of a grid whose cells are 2 × `cellHeight` pixels, recording
    /// `color`; `bit` gives the mask bit of a pixel from its place (dx, dy) within its cell.
    /// Pixels outside the grid are ignored.
    mutating func setPixel(x: Int, y: Int, cellHeight: Int, color: Int?, bit: (_ dx: Int, _ dy: Int) -> UInt16) {
        guard x >= 0, y >= 0, x < columns * 2, y < rows * cellHeight else { return }
        set(row: y / cellHeight, column: x / 2, bit: bit(x % 2, y % cellHeight), color: color)
    }

    func mask(row: Int, column: Int) -> UInt16 {
        guard row >= 0, row < rows, column >= 0, column < columns else { return 0 }
        return masks[row * columns + column]
    }

    func color(row: Int, column: Int) -> Int? {
        guard row >= 0, row < rows, column >= 0, column < columns else { return nil }
        return colors[row * columns + column]
    }
}
