import Foundation

// MARK: - Options

/// Size of an SVG rendering, in pixels.
public struct SVGOptions: Sendable, Equatable {
    /// Total width in pixels (clamped to 200…4000; a sparkline accepts down to 40).
    public var width: Int
    /// Total height in pixels (clamped to 60…4000), or nil for a height chosen per kind: 400 for a
    /// line chart, growing with the number of bars for bar charts and histograms, growing with the
    /// rows for a heatmap, and 40 for a sparkline.
    public var height: Int?

    /// Options with the given width and height.
    public init(width: Int = 640, height: Int? = nil) {
        self.width = width
        self.height = height
    }

    /// `width` clamped to `minimum...4000`.
    func clampedWidth(minimum: Int = 200) -> Int { min(max(width, minimum), 4000) }

    /// `height` clamped to `minimum...4000`, or `fallback` (clamped the same way) when unset.
    func clampedHeight(default fallback: Int, minimum: Int = 60) -> Int { min(max(height ?? fallback, minimum), 4000) }
}

// MARK: - Chart → SVG

extension Chart {
    /// The chart as a standalone SVG 1.1 document (text ending in a newline).
    ///
    /// Drawn from the same data and axis rules as ``render(_:)``: 1-2-5 ticks, non-finite values
    /// skipped, `(no data)` when nothing finite is left. Series use the Okabe–Ito palette and
    /// heatmaps viridis. The output is deterministic (fixed decimals, no ids) and self-contained
    /// (`font-family="sans-serif"`, no scripts or external resources).
    public func svg(_ options: SVGOptions = SVGOptions()) -> String {
        let document: SVGDocument
        switch payload {
        case .line(let plot): document = plot.svg(title: title, options: options)
        case .bar(let plot): document = plot.svg(title: title, options: options)
        case .histogram(let plot): document = plot.svg(title: title, options: options)
        case .heatmap(let plot): document = plot.svg(title: title, options: options)
        case .spark(let values): document = Sparkline.svg(values, options: options)
        }
        return document.rendered()
    }
}

// MARK: - Palettes

/// Colours of the SVG charts, defined as data.
enum SVGPalette {
    /// Okabe & Ito's colour-blind-safe qualitative palette ("Color Universal Design", 2008), ordered
    /// for lines on white: blue, vermillion, bluish green, reddish purple, orange, sky blue, black,
    /// yellow (least contrast, last).
    static let series = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442"]

    /// Dash patterns telling apart series that share a colour (the palette cycles every 8 series).
    static let dashes: [String?] = [nil, "6 3", "2 3", "8 3 2 3"]

    /// Colour of series `index` (cycling).
    static func color(series index: Int) -> String { series[((index % series.count) + series.count) % series.count] }

    /// Dash pattern of series `index`: solid for the first 8, then a new pattern per cycle.
    static func dash(series index: Int) -> String? { dashes[(max(0, index) / series.count) % dashes.count] }

    /// Viridis (van der Walt & Smith, matplotlib 2015, CC0): every 16th entry of its 256-entry
    /// table plus the last, as (table index, red, green, blue) with channels in 0…1.
    static let viridis: [(index: Double, r: Double, g: Double, b: Double)] = [
        (0, 0.267004, 0.004874, 0.329415), (16, 0.282327, 0.094955, 0.417331),
        (32, 0.278826, 0.175490, 0.483397), (48, 0.258965, 0.251537, 0.524736),
        (64, 0.229739, 0.322361, 0.545706), (80, 0.199430, 0.387607, 0.554642),
        (96, 0.172719, 0.448791, 0.557885), (112, 0.149039, 0.508051, 0.557250),
        (128, 0.127568, 0.566949, 0.550556), (144, 0.120638, 0.625828, 0.533488),
        (160, 0.157851, 0.683765, 0.501686), (176, 0.246070, 0.738910, 0.452024),
        (192, 0.369214, 0.788888, 0.382914), (208, 0.515992, 0.831158, 0.294279),
        (224, 0.678489, 0.863742, 0.189503), (240, 0.845561, 0.887322, 0.099702),
        (255, 0.993248, 0.906157, 0.143936),
    ]

    /// The viridis colour at `t` in [0, 1] (clamped; NaN gives the low end) as `#rrggbb`, linearly
    /// interpolated between the stored entries.
    static func viridis(_ t: Double) -> String {
        let position = (t.isNaN ? 0 : min(max(t, 0), 1)) * 255
        var upper = 1
        while upper < viridis.count - 1 && viridis[upper].index < position { upper += 1 }
        let a = viridis[upper - 1], b = viridis[upper]
        let f = min(max((position - a.index) / (b.index - a.index), 0), 1)
        return hex(a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f)
    }

    /// `#rrggbb` of channels in 0…1.
    static func hex(_ r: Double, _ g: Double, _ b: Double) -> String {
        let digits = Array("0123456789abcdef")
        return "#" + String([r, g, b].flatMap { channel -> [Character] in
            let byte = Int((min(max(channel, 0), 1) * 255).rounded())
            return [digits[byte / 16], digits[byte % 16]]
        })
    }

    /// Fill of heatmap cells with no finite value.
    static let missing = "#d9d9d9"
}

// MARK: - Shared layout

/// Pieces every SVG chart shares: the title, the `(no data)` document and axis ticks in pixels.
enum SVGChartParts {
    /// Top margin above a plot: room for the title when there is one.
    static func top(title: String?) -> Double { title?.isEmpty == false ? 34 : 14 }

    /// Draws `title` centred over `centre` (cut to the document width).
    static func title(_ title: String?, centre: Double, on document: inout SVGDocument) {
        guard let title, !title.isEmpty else { return }
        let text = SVGDocument.fitted(title, pixels: Double(document.width) - 16, size: SVGDocument.titleSize)
        let half = SVGDocument.textWidth(text, size: SVGDocument.titleSize) / 2
        let x = min(max(centre, 8 + half), Double(document.width) - 8 - half)
        document.text(text, x: x, y: 22, anchor: .middle, size: SVGDocument.titleSize, bold: true, class: "title")
    }

    /// A document `width` × `height` with the title and the centred `(no data)` message.
    static func empty(title: String?, width: Int, height: Int, note: String? = nil) -> SVGDocument {
        var document = SVGDocument(width: width, height: height, title: title)
        Self.title(title, centre: Double(width) / 2, on: &document)
        let middle = (top(title: title) + Double(height)) / 2
        document.text(ChartText.noData, x: Double(width) / 2, y: middle + 4, anchor: .middle, class: "nodata")
        if let note { document.text(note, x: Double(width) / 2, y: middle + 22, anchor: .middle, class: "note") }
        return document
    }

    /// 1-2-5 ticks on an axis of `length` px showing `lo...hi`: the finest step from about one per
    /// 50 px (whole numbers only when `integral`) whose neighbouring ticks lie at least
    /// `spacing(widest label width)` px apart (default: the label width + 12 px, for labels side
    /// by side). With `extended`, the range first grows to multiples of the step, as the text
    /// charts' y axes do, so both ends get a tick. Returns the range shown and its ticks (none when
    /// no step fits).
    static func ticks(lo: Double, hi: Double, length: Double, integral: Bool = false, extended: Bool = false,
                      spacing: (Double) -> Double = { $0 + 12 })
        -> (lo: Double, hi: Double, ticks: [(value: Double, label: String)]) {
        let (lo0, hi0) = extended ? Ticks.padded(lo, hi) : (lo, hi)
        guard hi0 > lo0, length > 0 else { return (lo0, hi0, []) }
        var step = Ticks.niceStep(span: hi0 - lo0, target: max(2, Int(length / 50)))
        if integral { step = max(step, 1) }
        for _ in 0..<40 {
            let a = extended ? floor(lo0 / step) * step : lo0, b = extended ? ceil(hi0 / step) * step : hi0
            if a.isFinite, b.isFinite, b > a {
                let values = Ticks.multiples(of: step, lo: a, hi: b)
                let labels = NumberFormat.ticks(values, step: step)
                let widest = labels.map { SVGDocument.textWidth($0) }.max() ?? 0
                if values.count <= 1 || Ticks.fraction(a + step, lo: a, hi: b) * length >= spacing(widest) {
                    return (a, b, Array(zip(values, labels)))
                }
            }
            step = Ticks.nextStep(step)
        }
        return (lo0, hi0, [])
    }
}

// MARK: - Plot area

/// A plot rectangle in document pixels and its mapping from data coordinates.
struct SVGPlotArea {
    var left: Double
    var top: Double
    var width: Double
    var height: Double

    var right: Double { left + width }
    var bottom: Double { top + height }

    /// Pixel x of `value` on `lo...hi` (clamped to the area).
    func x(_ value: Double, lo: Double, hi: Double) -> Double { left + Ticks.fraction(value, lo: lo, hi: hi) * width }

    /// Pixel y of `value` on `lo...hi` (up is larger; clamped to the area).
    func y(_ value: Double, lo: Double, hi: Double) -> Double { bottom - Ticks.fraction(value, lo: lo, hi: hi) * height }

    /// Draws the frame (an unfilled rectangle).
    func frame(on document: inout SVGDocument) {
        document.add("rect", [("class", "frame"), ("x", SVGDocument.number(left)), ("y", SVGDocument.number(top)),
                              ("width", SVGDocument.number(width)), ("height", SVGDocument.number(height)),
                              ("fill", "none"), ("stroke", SVGDocument.ink)])
    }

    /// Y ticks: grid line, tick mark and right-aligned label at each `(pixel y, label)`.
    func yTicks(_ ticks: [(y: Double, label: String)], grid: Bool, on document: inout SVGDocument) {
        for tick in ticks {
            if grid && tick.y > top + 0.5 && tick.y < bottom - 0.5 {
                document.line(x1: left, y1: tick.y, x2: right, y2: tick.y, stroke: SVGDocument.grid, class: "grid")
            }
            document.line(x1: left - 5, y1: tick.y, x2: left, y2: tick.y, class: "tick")
            document.text(tick.label, x: left - 8, y: tick.y + 4, anchor: .end, class: "ticklabel")
        }
    }

    /// X ticks: grid line, tick mark and centred label at each `(pixel x, label)`.
    func xTicks(_ ticks: [(x: Double, label: String)], grid: Bool, on document: inout SVGDocument) {
        for tick in ticks {
            if grid && tick.x > left + 0.5 && tick.x < right - 0.5 {
                document.line(x1: tick.x, y1: top, x2: tick.x, y2: bottom, stroke: SVGDocument.grid, class: "grid")
            }
            document.line(x1: tick.x, y1: bottom, x2: tick.x, y2: bottom + 5, class: "tick")
            document.text(tick.label, x: tick.x, y: bottom + 19, anchor: .middle, class: "ticklabel")
        }
    }

    /// The x label centred under the tick labels and the y label turned along the left edge.
    func axisLabels(x xlabel: String?, y ylabel: String?, on document: inout SVGDocument) {
        if let xlabel, !xlabel.isEmpty {
            document.text(SVGDocument.fitted(xlabel, pixels: width), x: left + width / 2, y: bottom + 38,
                          anchor: .middle, class: "axislabel")
        }
        if let ylabel, !ylabel.isEmpty {
            document.text(SVGDocument.fitted(ylabel, pixels: height), x: 16, y: top + height / 2, anchor: .middle,
                          rotated: true, class: "axislabel")
        }
    }
}
