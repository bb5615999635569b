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
