import KECore

// MARK: Chart values
//
// Charts are values: `let c = plot xs` then `c` prints it. The value keeps the data (for JSON)
// and renders itself at print time with the session's width, canvas and colour, and as SVG for
// notebooks (`image/svg+xml`, see `MIMEBundle`).

/// A chart: its type, its data as JSON fields, and renderers for the terminal and for SVG.
public struct ChartValue: Sendable {
    /// "line", "bar", "hist", "heatmap" or "spark".
    public var type: String
    /// The chart's data and labels in JSON order (after `kind` and `type`, before `text`).
    public var fields: [(String, JSONValue)]
    /// Renders the chart: width in columns, ASCII-only canvas, ANSI colour.
    public var render: @Sendable (_ width: Int, _ ascii: Bool, _ color: Bool) -> String
    /// Renders the chart as an SVG document (nil when the chart has no SVG form).
    public var svg: (@Sendable () -> String)?

    public init(type: String, fields: [(String, JSONValue)],
                render: @escaping @Sendable (_ width: Int, _ ascii: Bool, _ color: Bool) -> String,
                svg: (@Sendable () -> String)? = nil) {
        self.type = type
        self.fields = fields
        self.render = render
        self.svg = svg
    }
}
