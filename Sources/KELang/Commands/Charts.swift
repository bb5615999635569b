import KECharts
import KECore

// MARK: Charts
//
// plot, bar, hist, heatmap, spark. Each builds a `ChartValue` that keeps the data (for JSON)
// and renders with the session's width, canvas and colour when printed. The forms for results
// (`plot` of entropy results, `hist` and `heatmap` of a coefficients result, `bar` of an
// evaluation) are in ResultCharts.swift; the options they share in ChartOptions.swift; the
// helpers every form uses at the end of this file.

extension Command {
    static let plot = Command(
        "plot", [.positional(.SERIES)] + ChartOptions.params(.title, .xlabel, .ylabel, .labels)
            + [.option(.x, "LIST"), .flag(.log), .flag(.layers)],
        group: "charts",
        brief: "Line chart of one or more series.",
        summary: """
            A line chart of one series (a list of numbers) or several (a list of lists), against \
            x (default 0, 1, …), with a legend from `labels` when several. `log` puts y on a \
            log10 axis (non-positive values are dropped). Of a list of entropy results (e.g. \
            `entropy SERIES on CORPUS`): total entropy against training step; `layers` draws one \
            line per layer.
            """,
        example: "plot [e1.layers, e2.layers] labels [\"before\", \"after\"] title \"entropy per layer\"",
        run: { inv in
            if let chart = try entropySeriesPlot(inv) { return chart }
            let series: [[Double]]
            let raw = try inv.list(.SERIES)
            if raw.contains(where: { if case .list = $0 { return true }; return false }) {
                series = try inv.matrix(.SERIES)
            } else {
                series = [try inv.numbers(.SERIES)]
            }
            let x = inv.has(.x) ? try inv.numbers(.x) : nil
            if let x, let bad = series.first(where: { $0.count != x.count }) {
                throw inv.error("'plot … x' has \(x.count) values but a series has \(bad.count)", at: .x)
            }
            let options = try ChartOptions(inv, labelling: series.count, noun: "series")
            let logY = inv.flag(.log)
            let chart = options.line(series, x: x, logY: logY)
            var fields: [(String, JSONValue)] = [("series", .array(series.map(jsonNumbers)))]
            if let x { fields.append(("x", jsonNumbers(x))) }
            fields += options.fields
            if logY { fields.append(("log", .bool(true))) }
            return .chart(chartValue(chart, fields))
        })

    static let bar = Command(
        "bar", [.positional(.VALUES)] + ChartOptions.params(.labels, .title), group: "charts",
        brief: "Horizontal bar chart.",
        summary: "Horizontal bars, one per value, labelled by index from 0 (as `xs[i]` and layers count) or by `labels`. Of an evaluation (`evaluate … on TASKS`): each task's score, labelled by task.",
        example: "bar e.layers title \"entropy per layer\"",
        run: { inv in
            if let chart = try evaluationBar(inv) { return chart }
            let values = try inv.numbers(.VALUES)
            let options = try ChartOptions(inv, labelling: values.count, noun: "values")
            return .chart(chartValue(options.bar(values), [("values", jsonNumbers(values))] + options.fields))
        })

    static let hist = Command(
        "hist", [.positional(.VALUES), .option(.layer, "L"), .option(.bins, "N"), .flag(.log)]
            + ChartOptions.params(.title, .xlabel),
        group: "charts",
        brief: "Histogram of values.",
        summary: """
            A histogram: counts of the values in N equal bins (default 20) over [min, max]. \
            `log` draws bar lengths as log10(1 + count); the printed counts stay exact. Of a \
            coefficients result C: `hist C layer L` is the distribution of layer L's mean \
            |coefficient| over its memories.
            """,
        example: "hist [0.1, 0.2, 0.2, 0.9] bins 4",
        run: { inv in
            if let chart = try coefficientsHistogram(inv) { return chart }
            let values = try inv.numbers(.VALUES)
            let bins = try inv.optionalInt(.bins, in: 1...1000) ?? 20
            let options = try ChartOptions(inv)
            let log = inv.flag(.log)
            var fields: [(String, JSONValue)] = [("values", jsonNumbers(values)), ("bins", .int(bins))]
            if log { fields.append(("log", .bool(true))) }
            return .chart(chartValue(options.histogram(values, bins: bins, logCounts: log), fields + options.fields))
        })

    static let heatmap = Command(
        "heatmap", [.positional(.MATRIX)] + ChartOptions.params(.title, .xlabel, .ylabel, .labels),
        group: "charts",
        brief: "Heatmap of a matrix.",
        summary: """
            Shades of a matrix (a list of rows, each a list of numbers) on a min–max scale; \
            columns are averaged down to the width. `labels` names the rows. Of a coefficients \
            result: layers × memory percentile (most active first), each cell the mean \
            |coefficient| of that percentile band ÷ the layer mean (1 = average).
            """,
        example: "heatmap [[1, 2, 3], [3, 2, 1]] title \"example\"",
        run: { inv in
            if let chart = try coefficientsHeatmap(inv) { return chart }
            let matrix = try inv.matrix(.MATRIX)
            let options = try ChartOptions(inv, labelling: matrix.count, noun: "rows")
            return .chart(chartValue(options.heatmap(matrix), [("matrix", .array(matrix.map(jsonNumbers)))] + options.fields))
        })

    static let spark = Command(
        "spark", [.positional(.VALUES)], group: "charts",
        brief: "One-line sparkline.",
        summary: "A one-line sparkline of a list of numbers (resampled to the width when longer).",
        example: "spark [1, 5, 2, 8, 3]",
        run: { inv in
            let values = try inv.numbers(.VALUES)
            return .chart(chartValue(Chart.sparkline(values), [("values", jsonNumbers(values))]))
        })
}

// MARK: Helpers (shared by every chart form)

/// Numbers as a JSON array (non-finite values as null).
func jsonNumbers(_ xs: [Double]) -> JSONValue { .array(xs.map(Printer.jsonNumber)) }

/// Wraps a KECharts chart as a value rendered with the session's options (and as SVG).
func chartValue(_ chart: Chart, _ fields: [(String, JSONValue)]) -> ChartValue {
    ChartValue(type: chart.kind, fields: fields, render: { width, ascii, color in
        chart.render(RenderOptions(width: width, canvas: ascii ? .ascii : .braille, color: color))
    }, svg: svgRenderer(chart))
}

/// The SVG renderer of a chart, for notebooks (KECharts' default size, 640 pixels wide).
func svgRenderer(_ chart: Chart) -> (@Sendable () -> String)? {
    { chart.svg(SVGOptions()) }
}

/// The bar chart of one number per layer (labelled by layer index from 0) that notebooks show
/// beside entropy and coefficients results.
func layerBars(_ values: [Double], title: String) -> ChartValue {
    chartValue(Chart.bar(values, labels: nil, title: title), [("values", jsonNumbers(values)), ("title", .string(title))])
}
