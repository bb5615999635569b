import KECharts
import KECore

// MARK: Charts of results
//
// The chart forms of results: `hist C layer L` and `heatmap C` of a coefficients (or entropy)
// result, `plot ES` of a list of entropy results, `bar EV` of an evaluation. Each returns nil
// when its argument is not such a result, and the chart command falls back to its plain form
// (Charts.swift). Their titles and labels are the shared chart options (ChartOptions.swift),
// with defaults that describe the result.

/// `hist C layer L …` for a coefficients (or entropy) result; nil for a list (the plain form).
func coefficientsHistogram(_ inv: Invocation) throws -> Value? {
    let v = try inv.value(.VALUES)
    guard let s = v.coefficientSummary else {
        if inv.has(.layer) {
            throw inv.error("'hist … layer' applies to a coefficients result, not to \(v.typeName)", at: .layer)
        }
        return nil
    }
    guard inv.has(.layer) else {
        throw inv.error("'hist' of a coefficients result needs 'layer L' — usage: hist C layer L [bins N] [log]")
    }
    let l = try inv.layer(.layer, of: s.layers.count)
    let values = s.layers[l].mean
    let bins = try inv.optionalInt(.bins, in: 1...1000) ?? 20
    let log = inv.flag(.log)
    let options = try ChartOptions(inv, defaults: ChartOptions(
        title: "layer \(l): mean |coefficient| of \(values.count) memories", xlabel: "mean |coefficient|"))
    var fields: [(String, JSONValue)] = [("layer", .int(l)), ("values", jsonNumbers(values)), ("bins", .int(bins))]
    if log { fields.append(("log", .bool(true))) }
    return .chart(chartValue(options.histogram(values, bins: bins, logCounts: log), fields + options.fields))
}

/// `heatmap C`: layers × memory percentile for a coefficients (or entropy) result; nil for a
/// matrix. Cell (l, b) = mean of the sorted m_l in percentile band b ÷ mean(m_l), so 1 is the
/// layer average and rows are comparable.
func coefficientsHeatmap(_ inv: Invocation) throws -> Value? {
    guard let s = try inv.value(.MATRIX).coefficientSummary else { return nil }
    let F = s.layers.first?.mean.count ?? 0
    let profile = s.percentileProfile(bins: min(100, max(1, F)))
    let matrix: [[Double]] = zip(profile, s.layers).map { row, layer in
        let mean = layer.mean.reduce(0, +) / Double(max(1, layer.mean.count))
        return row.map { mean > 0 ? $0 / mean : 0 }
    }
    let options = try ChartOptions(inv, labelling: matrix.count, noun: "layers", defaults: ChartOptions(
        title: "mean |coefficient| ÷ layer mean, by memory percentile", xlabel: "memory percentile (most active first)",
        ylabel: "layer", labels: (0..<matrix.count).map { "L\($0)" }))
    return .chart(chartValue(options.heatmap(matrix), [("matrix", .array(matrix.map(jsonNumbers)))] + options.fields))
}

/// `plot ES [layers]` for a list of entropy results: total (or per-layer) entropy against
/// step (against position when a step is unknown). Nil for other series.
func entropySeriesPlot(_ inv: Invocation) throws -> Value? {
    let v = try inv.value(.SERIES)
    var results: [EntropyResult] = []
    var duplicateOf: [String?] = []
    if case .list(let items) = v, !items.isEmpty {
        for item in items {
            guard let e = item.result(EntropyResult.self) else { results = []; break }
            results.append(e)
            if case .record(let r) = item, case .string(let d)? = r["duplicate_of"] { duplicateOf.append(d) } else { duplicateOf.append(nil) }
        }
    }
    guard !results.isEmpty else {
        if inv.flag(.layers) {
            throw inv.error("'plot … layers' applies to a list of entropy results, not to \(v.typeName)", at: .layers)
        }
        return nil
    }
    let steps = results.compactMap(\.step)
    // Against step only when every result has one and they increase (an OLMo 2 series' stage 2
    // restarts its steps: then against position, in the series' order).
    let byStep = steps.count == results.count && zip(steps, steps.dropFirst()).allSatisfy { $0 < $1 }
    let x = byStep ? steps.map(Double.init) : (0..<results.count).map(Double.init)
    let perLayer = inv.flag(.layers)
    let series: [[Double]]
    var defaults = ChartOptions(title: perLayer ? "entropy per layer vs step" : "knowledge entropy vs step",
                                xlabel: byStep ? "step" : "checkpoint", ylabel: "entropy (nats)")
    if perLayer {
        let L = results.map(\.layers.count).max() ?? 0
        series = (0..<L).map { l in results.map { l < $0.layers.count ? $0.layers[l] : .nan } }
        defaults.labels = (0..<L).map { "layer \($0)" }
    } else {
        series = [results.map(\.total)]
    }
    let options = try ChartOptions(inv, labelling: series.count, noun: "series", defaults: defaults)
    let logY = inv.flag(.log)
    let chart = options.line(series, x: x, logY: logY)
    var fields: [(String, JSONValue)] = [("series", .array(series.map(jsonNumbers))), ("x", jsonNumbers(x))]
    fields += options.fields
    if logY { fields.append(("log", .bool(true))) }
    // Checkpoints whose weights repeat an earlier one's (`checkpoints` … duplicate_of): listed
    // under the chart, and in the JSON as "duplicates".
    let marks = results.indices.compactMap { i -> (x: Double, of: String)? in duplicateOf[i].map { (x[i], $0) } }
    guard !marks.isEmpty else { return .chart(chartValue(chart, fields)) }
    fields.append(("duplicates", .array(marks.map { .object([("x", .double($0.x)), ("duplicate_of", .string($0.of))]) })))
    let what = byStep ? "step" : "checkpoint"
    let footnote = marks.map { "  duplicate: \(what) \(Printer.number($0.x)) has the same weights as \($0.of) (the hub served one model twice)" }
    return .chart(ChartValue(type: chart.kind, fields: fields, render: { width, ascii, color in
        chart.render(RenderOptions(width: width, canvas: ascii ? .ascii : .braille, color: color)) + "\n" + footnote.joined(separator: "\n")
    }, svg: svgRenderer(chart)))
}

/// `bar EVALUATION`: one bar per task, its score, labelled by task name (unless `labels` is
/// given); nil when VALUES is not an evaluation (the plain form).
func evaluationBar(_ inv: Invocation) throws -> Value? {
    guard let ev = try inv.value(.VALUES).result(Evaluation.self) else { return nil }
    let values = ev.tasks.map(\.score)
    let options = try ChartOptions(inv, labelling: values.count, noun: "tasks", defaults: ChartOptions(
        title: "score per task (mean \(Printer.number(ev.mean)))", labels: ev.tasks.map(\.name)))
    return .chart(chartValue(options.bar(values), [("values", jsonNumbers(values))] + options.fields))
}
