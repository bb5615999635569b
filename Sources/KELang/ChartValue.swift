import KECore

// MARK: Chart values
//
// Charts are values: `let c = plot xs` then `c` prints it. The value keeps the data (for JSON)
// and renders itself at print time with the session's width, canvas and colour.

/// A chart: its type, its data as JSON fields, and a renderer.
public struct ChartValue: Sendable {
    /// "line", "bar", "hist", "heatmap" or "spark".
    public var type: String
    /// The chart's data and labels in JSON order (after `kind` and `type`, before `text`).
    public var fields: [(String, JSONValue)]
    /// Renders the chart: width in columns, ASCII-only canvas, ANSI colour.
    public var render: @Sendable (_ width: Int, _ ascii: Bool, _ color: Bool) -> String

    public init(type: String, fields: [(String, JSONValue)],
                render: @escaping @Sendable (_ width: Int, _ ascii: Bool, _ color: Bool) -> String) {
        self.type = type
        self.fields = fields
        self.render = render
    }
}
