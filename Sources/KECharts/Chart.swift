// MARK: - Options

/// Which canvas draws plot areas.
public enum CanvasKind: Sendable {
    /// Unicode braille dots, box-drawing frames and block shades.
    case braille
    /// Pure ASCII (7-bit) output.
    case ascii
}

/// How a chart is laid out.
public struct RenderOptions: Sendable, Equatable {
    /// Total columns available (clamped to at least 20).
    public var width: Int
    /// Plot rows of a line chart (nil: 15), or the most rows a heatmap shows (nil: 40; taller
    /// matrices have groups of rows averaged). Bar charts and histograms use one row per bar.
    public var height: Int?
    /// Canvas and glyph set.
    public var canvas: CanvasKind
    /// Whether to emit ANSI colour codes.
    public var color: Bool

    /// Options with the given width, height, canvas and colour.
    public init(width: Int = 80, height: Int? = nil, canvas: CanvasKind = .braille, color: Bool = false) {
        self.width = width
        self.height = height
        self.canvas = canvas
        self.color = color
    }

    /// Smallest width honoured; narrower requests are widened to it.
    public static let minimumWidth = 20
    /// Largest width honoured (protects against absurd allocations).
    public static let maximumWidth = 1000

    /// `width` clamped to `minimumWidth...maximumWidth`.
    var clampedWidth: Int { min(max(width, Self.minimumWidth), Self.maximumWidth) }

    /// `height` clamped to `minimum...500`, or `fallback` when unset.
    func clampedHeight(default fallback: Int, minimum: Int = 2) -> Int {
        min(max(height ?? fallback, minimum), 500)
    }

    var ascii: Bool { canvas == .ascii }
}

// MARK: - Chart

/// A chart description; render it to text with ``render(_:)``.
public struct Chart: Sendable {
    /// The data of each chart kind.
    enum Payload: Sendable {
        case line(LinePlot)
        case bar(BarPlot)
        case histogram(HistogramPlot)
        case heatmap(HeatmapPlot)
        case spark([Double])
    }

    let payload: Payload
    /// The chart's title, if any.
    public let title: String?

    /// `"line"`, `"bar"`, `"hist"`, `"heatmap"` or `"spark"`.
    public var kind: String {
        switch payload {
        case .line: return "line"
        case .bar: return "bar"
        case .histogram: return "hist"
        case .heatmap: return "heatmap"
        case .spark: return "spark"
        }
    }

    /// One or more series against a shared x (given, or 0…n−1), with a legend when several.
    ///
    /// Non-finite points are skipped (the line breaks there). With `logY`, y is on a log10 axis
    /// and non-positive values are dropped (noted in a footnote).
    public static func line(_ series: [[Double]], x: [Double]? = nil, title: String? = nil, xlabel: String? = nil,
                            ylabel: String? = nil, labels: [String]? = nil, logY: Bool = false) -> Chart {
        Chart(payload: .line(LinePlot(series: series, x: x, xlabel: xlabel, ylabel: ylabel, labels: labels, logY: logY)),
              title: title)
    }

    /// Horizontal bars with labels (default `0…n−1`, indices as the language counts them) and values.
    public static func bar(_ values: [Double], labels: [String]? = nil, title: String? = nil) -> Chart {
        Chart(payload: .bar(BarPlot(values: values, labels: labels)), title: title)
    }

    /// Counts of `values` in `bins` equal bins over [min, max], drawn as horizontal bars.
    ///
    /// With `logCounts`, bar lengths follow log10(1 + count) (the printed counts stay exact).
    public static func histogram(_ values: [Double], bins: Int = 20, logCounts: Bool = false, title: String? = nil,
                                 xlabel: String? = nil) -> Chart {
        Chart(payload: .histogram(HistogramPlot(values: values, bins: bins, logCounts: logCounts, xlabel: xlabel)),
              title: title)
    }

    /// Shades of a matrix (rows × columns), columns averaged down to the width, with a min–max scale.
    public static func heatmap(_ matrix: [[Double]], title: String? = nil, xlabel: String? = nil,
                               ylabel: String? = nil, rowLabels: [String]? = nil) -> Chart {
        Chart(payload: .heatmap(HeatmapPlot(matrix: matrix, xlabel: xlabel, ylabel: ylabel, rowLabels: rowLabels)),
              title: title)
    }

    /// A one-line sparkline (resampled to the width when longer).
    public static func sparkline(_ values: [Double]) -> Chart {
        Chart(payload: .spark(values), title: nil)
    }

    /// The chart as text lines joined by newlines (no trailing newline).
    public func render(_ options: RenderOptions) -> String {
        let lines: [String]
        switch payload {
        case .line(let plot): lines = plot.render(title: title, options: options)
        case .bar(let plot): lines = plot.render(title: title, options: options)
        case .histogram(let plot): lines = plot.render(title: title, options: options)
        case .heatmap(let plot): lines = plot.render(title: title, options: options)
        case .spark(let values): lines = [Sparkline.render(values, options: options)]
        }
        return TextLayout.join(lines)
    }
}

// MARK: - Shared pieces

/// Lines every chart shares: the title and the "(no data)" message.
enum ChartText {
    /// The message shown when a chart has no finite values.
    static let noData = "(no data)"

    /// The title centred over a field of `width` columns after `offset`, or nothing.
    ///
    /// A title too long for the field is centred over the whole line of `total` columns instead
    /// (and cut to it).
    static func titleLines(_ title: String?, width: Int, offset: Int = 0, total: Int? = nil,
                           ascii: Bool) -> [String] {
        guard let title, !title.isEmpty else { return [] }
        if let total, title.count > width {
            return [TextLayout.centered(title, width: total, ascii: ascii)]
        }
        return [TextLayout.centered(title, width: width, offset: offset, ascii: ascii)]
    }

    /// Title (when any) followed by the "(no data)" line.
    static func empty(title: String?, options: RenderOptions) -> [String] {
        titleLines(title, width: options.clampedWidth, ascii: options.ascii) + [noData]
    }
}
