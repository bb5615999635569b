// MARK: - SVG document

/// A standalone SVG 1.1 document that only emits elements; the plot types decide where things go.
///
/// Coordinates are pixels from the top-left corner. Numbers print with at most two decimals, no
/// exponent and no locale (``number(_:)``); text is escaped for XML (``escaped(_:)``). The output
/// has no ids, scripts, style sheets or external resources, so several documents can be inlined in
/// one HTML page (a notebook) without clashing. Elements appear in the order they were added.
struct SVGDocument {
    /// Width of the document in pixels.
    let width: Int
    /// Height of the document in pixels.
    let height: Int
    /// The elements added so far, one per line.
    private var elements: [String] = []

    /// Font size of tick labels, legends and notes (px).
    static let fontSize = 12.0
    /// Font size of titles (px).
    static let titleSize = 14.0
    /// Colour of frames, ticks and text.
    static let ink = "#333333"
    /// Colour of grid lines.
    static let grid = "#e6e6e6"

    /// Where a text's `x` lies on it.
    enum Anchor: String {
        case start, middle, end
    }

    /// An empty document of `width` × `height` pixels on a white background, with a `<title>`
    /// element (read by screen readers and shown as a tooltip) when `title` is non-empty.
    init(width: Int, height: Int, title: String?) {
        self.width = width
        self.height = height
        if let title, !title.isEmpty { add("title", [], text: title) }
        rect(x: 0, y: 0, width: Double(width), height: Double(height), fill: "#ffffff", class: "background")
    }

    // MARK: Elements

    /// Appends `<name attributes…/>`, or `<name …>text</name>` when `text` is given (escaped here).
    mutating func add(_ name: String, _ attributes: [(String, String)], text: String? = nil) {
        var element = "<" + name
        for (key, value) in attributes { element += " " + key + "=\"" + Self.escaped(value) + "\"" }
        if let text {
            element += ">" + Self.escaped(text) + "</" + name + ">"
        } else {
            element += "/>"
        }
        elements.append(element)
    }

    /// A rectangle; `stroke` draws its outline.
    mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String, stroke: String? = nil,
                       class name: String? = nil) {
        var attributes = Self.classed(name) + [("x", Self.number(x)), ("y", Self.number(y)),
                                               ("width", Self.number(max(0, width))),
                                               ("height", Self.number(max(0, height))), ("fill", fill)]
        if let stroke { attributes.append(("stroke", stroke)) }
        add("rect", attributes)
    }

    /// A straight line from (`x1`, `y1`) to (`x2`, `y2`).
    mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String = ink, strokeWidth: Double = 1,
                       class name: String? = nil) {
        add("line", Self.classed(name) + [("x1", Self.number(x1)), ("y1", Self.number(y1)), ("x2", Self.number(x2)),
                                          ("y2", Self.number(y2)), ("stroke", stroke),
                                          ("stroke-width", Self.number(strokeWidth))])
    }

    /// An unfilled path with round joins and caps (so a one-point subpath shows as a dot).
    mutating func path(_ data: SVGPath, stroke: String, strokeWidth: Double, dash: String? = nil,
                       class name: String? = nil) {
        var attributes = Self.classed(name) + [("d", data.text), ("fill", "none"), ("stroke", stroke),
                                               ("stroke-width", Self.number(strokeWidth)),
                                               ("stroke-linejoin", "round"), ("stroke-linecap", "round")]
        if let dash { attributes.append(("stroke-dasharray", dash)) }
        add("path", attributes)
    }

    /// A filled circle.
    mutating func circle(cx: Double, cy: Double, r: Double, fill: String, class name: String? = nil) {
        add("circle", Self.classed(name) + [("cx", Self.number(cx)), ("cy", Self.number(cy)), ("r", Self.number(r)),
                                            ("fill", fill)])
    }

    /// One line of text whose baseline starts (or centres, or ends) at (`x`, `y`); `rotated` turns
    /// it a quarter turn counter-clockwise about that point (for y-axis labels).
    mutating func text(_ content: String, x: Double, y: Double, anchor: Anchor = .start, size: Double = fontSize,
                       bold: Bool = false, fill: String = ink, rotated: Bool = false, class name: String? = nil) {
        var attributes = Self.classed(name) + [("x", Self.number(x)), ("y", Self.number(y))]
        if anchor != .start { attributes.append(("text-anchor", anchor.rawValue)) }
        if size != Self.fontSize { attributes.append(("font-size", Self.number(size))) }
        if bold { attributes.append(("font-weight", "bold")) }
        attributes.append(("fill", fill))
        if rotated { attributes.append(("transform", "rotate(-90 " + Self.number(x) + " " + Self.number(y) + ")")) }
        add("text", attributes, text: content)
    }

    /// The document as text: the `<svg>` root with its size, view box and default font, the
    /// elements one per line, and a trailing newline.
    func rendered() -> String {
        let size = "width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\""
        let open = "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" " + size
            + " font-family=\"sans-serif\" font-size=\"" + Self.number(Self.fontSize) + "\">"
        return ([open] + elements + ["</svg>"]).joined(separator: "\n") + "\n"
    }

    // MARK: Formatting

    private static func classed(_ name: String?) -> [(String, String)] { name.map { [("class", $0)] } ?? [] }

    /// `value` with at most two decimals (trailing zeros dropped); non-finite values print as 0 and
    /// magnitudes are capped at 1e6 px so a wild input cannot produce a huge or invalid number.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let text = NumberFormat.fixed(min(max(value, -1e6), 1e6), decimals: 2)
        return text == "-0" ? "0" : text
    }

    /// `text` safe inside XML character data and quoted attributes: `& < > " '` become entities,
    /// line breaks and tabs become spaces, and characters XML 1.0 forbids become U+FFFD.
    static func escaped(_ text: String) -> String {
        var result = ""
        result.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            case "\t", "\n", "\r": result += " "
            default:
                let forbidden = scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF
                result.unicodeScalars.append(forbidden ? "\u{FFFD}" : scalar)
            }
        }
        return result
    }

    /// Estimated width in pixels of `text` at font size `size` (0.6 em per character: a typical
    /// sans-serif average; used only for layout, so labels keep clear of each other).
    static func textWidth(_ text: String, size: Double = fontSize) -> Double {
        Double(text.count) * size * 0.6
    }

    /// `text` cut (with an ellipsis) to fit `pixels` at font size `size`.
    static func fitted(_ text: String, pixels: Double, size: Double = fontSize) -> String {
        TextLayout.truncate(text, to: max(1, Int(pixels / (size * 0.6))), ascii: false)
    }
}

// MARK: - Path data

/// Path data built from pen moves: `M x y` starts a subpath, `L x y` continues it.
struct SVGPath {
    /// The `d` attribute text.
    private(set) var text = ""

    /// Whether nothing has been drawn.
    var isEmpty: Bool { text.isEmpty }

    /// Starts a new subpath at (`x`, `y`).
    mutating func move(_ x: Double, _ y: Double) {
        text += (text.isEmpty ? "M" : " M") + SVGDocument.number(x) + " " + SVGDocument.number(y)
    }

    /// Draws a straight segment to (`x`, `y`).
    mutating func line(_ x: Double, _ y: Double) {
        text += " L" + SVGDocument.number(x) + " " + SVGDocument.number(y)
    }

    /// A polyline per run of consecutive points; a run of one point becomes a zero-length
    /// segment, which round caps draw as a dot (as the text canvas sets one pixel).
    static func polylines(_ runs: [[(x: Double, y: Double)]]) -> SVGPath {
        var path = SVGPath()
        for run in runs {
            guard let first = run.first else { continue }
            path.move(first.x, first.y)
            for point in run.count == 1 ? run : Array(run.dropFirst()) { path.line(point.x, point.y) }
        }
        return path
    }

    /// `points` split into runs at the nil entries (gaps), empty runs dropped.
    static func runs(_ points: [(x: Double, y: Double)?]) -> [[(x: Double, y: Double)]] {
        var runs: [[(x: Double, y: Double)]] = [[]]
        for point in points {
            if let point { runs[runs.count - 1].append(point) } else if !runs[runs.count - 1].isEmpty { runs.append([]) }
        }
        return runs.filter { !$0.isEmpty }
    }
}

/// `text` safe inside XML or HTML character data and quoted attributes (see
/// `SVGDocument.escaped`): the one markup escaper, used by the SVG charts and by the notebooks'
/// HTML tables.
public func markupEscaped(_ text: String) -> String { SVGDocument.escaped(text) }
