import Foundation
import KECharts
import KECore

// MARK: Knowledge entropy and coefficient statistics
//
// entropy, coefficients, rank, compare; the entropy and coefficients results and how they read.
// Their chart forms (`hist C layer L`, `heatmap C`, `plot ES`) are in ResultCharts.swift, sums
// of a sharded pass in Sums.swift. Layers and memories are numbered from 0, as in Hugging Face.

extension Command {
    static let entropy = Command(
        "entropy", [.positional(.MODEL), .option(.on, "CORPUS")], group: "models",
        brief: "Knowledge entropy of a model on a corpus.",
        summary: """
            Knowledge entropy (Kim et al. 2025). Each FFN unit i of layer l is a memory whose \
            coefficient is its hidden activation. With m_l = mean over all corpus tokens of \
            |coefficient| and p_l = m_l / Σ m_l, the layer entropy is H_l = −Σ_i p_l,i ln p_l,i; \
            total = Σ_l H_l and normalized = total / (L · ln d_ff), which is 1 when every memory \
            is equally active. Fields: total, layers, tokens, normalized. Of a list of models or \
            checkpoints (`checkpoints "DIR"`): one result per element, with its step. \
            `entropy SUMS` (no corpus) computes the same from a sums value (`sums`, `merge`): \
            merged shards give exactly the figures of `entropy MODEL on CORPUS`. \(cacheNote)
            """,
        example: "let e = entropy m on c\ne.total",
        run: { inv in
            if let results = try seriesEntropy(inv) { return results }
            if let s = try inv.value(.MODEL).result(CoefficientSums.self) {
                if inv.has(.on) { throw inv.error("'entropy SUMS' takes no corpus: the sums were measured on one already", at: .on) }
                let r = try knowledgeEntropy(from: try inv.statistics(of: s, at: .MODEL))
                return .record(Record(r))
            }
            guard inv.has(.on) else { throw inv.error("'entropy' needs 'on CORPUS' — usage: entropy MODEL on CORPUS, or entropy SUMS") }
            let model = try inv.model(.MODEL)
            let corpus = try inv.corpus(.on, for: model)
            let r = try knowledgeEntropy(from: try inv.statistics(of: model, on: corpus), step: model.step)
            return .record(Record(r))
        })

    static let coefficients = Command(
        "coefficients", [.positional(.MODEL), .option(.on, "CORPUS")], group: "inspect",
        brief: "Per-layer coefficient distributions.",
        summary: """
            Mean |coefficient| of every memory per layer over all corpus tokens (m_l, as for \
            entropy) and a summary per layer: entropy H_l = −Σ p ln p with p = m_l / Σ m_l; \
            normalized = H_l / ln d_ff; gini = Σ_i Σ_j |m_i − m_j| / (2 d_ff² mean(m)) (0 = all \
            equal, near 1 = one memory holds everything); top1_share = share of Σ m_l held by the \
            top 1 % of memories (at least one); silent = memories with m_i < 1 % of the layer \
            mean. Fields: layers (each: entropy, normalized, gini, top1_share, silent, mean), \
            tokens. View it with hist, rank, heatmap and compare. `coefficients SUMS` computes \
            the same from a sums value (`sums`, `merge`). \(cacheNote)
            """,
        example: "let k = coefficients m on c\nk.layers[0].gini",
        run: { inv in
            if let s = try inv.value(.MODEL).result(CoefficientSums.self) {
                if inv.has(.on) { throw inv.error("'coefficients SUMS' takes no corpus: the sums were measured on one already", at: .on) }
                return .record(Record(CoefficientSummary(stats: try inv.statistics(of: s, at: .MODEL), step: nil)))
            }
            guard inv.has(.on) else { throw inv.error("'coefficients' needs 'on CORPUS' — usage: coefficients MODEL on CORPUS, or coefficients SUMS") }
            let model = try inv.model(.MODEL)
            let corpus = try inv.corpus(.on, for: model)
            let s = CoefficientSummary(stats: try inv.statistics(of: model, on: corpus), step: model.step)
            return .record(Record(s))
        })

    static let rank = Command(
        "rank", [.positional(.C), .keyword(.layer, "L")], group: "inspect",
        brief: "A layer's mean coefficients by rank.",
        summary: """
            The mean |coefficient| of every memory of layer L sorted from most to least active, \
            against rank 1 … d_ff on a log10 y axis: a steep drop means a few memories carry the \
            layer (low entropy). Memories with mean 0 cannot be drawn on the log axis and are \
            left out (noted under the chart). C is a coefficients (or entropy) result.
            """,
        example: "let k = coefficients m on c\nrank k layer 0",
        run: { inv in
            let s = try inv.coefficientSummary(.C)
            let l = try inv.layer(.layer, of: s.layers.count)
            let sorted = s.layers[l].mean.sorted(by: >)
            let x = sorted.indices.map { Double($0 + 1) }
            let title = "layer \(l): mean |coefficient| by rank"
            let chart = Chart.line([sorted], x: x, title: title, xlabel: "rank", ylabel: "mean |coefficient|", logY: true)
            return .chart(chartValue(chart, [
                ("layer", .int(l)), ("values", jsonNumbers(sorted)), ("title", .string(title)), ("log", .bool(true)),
            ]))
        })

    static let compare = Command(
        "compare", [.positional(.A), .positional(.B)], group: "inspect",
        brief: "Per-layer entropy of two results.",
        summary: """
            Compares two coefficients (or entropy) results layer by layer: H_l of A, H_l of B and \
            the difference B − A, with the totals Σ_l H_l, and a chart of both per-layer curves. \
            Fields: layers (each: layer, a, b, difference), total_a, total_b, chart.
            """,
        example: "let k1 = coefficients m on c\nlet k2 = coefficients (rescale m bottom 10% by 2 on c) on c\ncompare k1 k2",
        run: { inv in
            let a = try inv.layerEntropies(.A)
            let b = try inv.layerEntropies(.B)
            guard a.count == b.count else {
                throw inv.error("'compare' needs results with the same number of layers (\(a.count) and \(b.count))", at: .B)
            }
            let chart = Chart.line([a, b], x: (0..<a.count).map(Double.init), title: "entropy per layer",
                                   xlabel: "layer", ylabel: "entropy (nats)", labels: ["A", "B"])
            let drawn = chartValue(chart, [("series", .array([jsonNumbers(a), jsonNumbers(b)])),
                                           ("labels", .array([.string("A"), .string("B")]))])
            return .record(Record(EntropyComparison(a: a, b: b, chart: drawn)))
        })
}

/// The help text's note on the session's cache of corpus passes.
let cacheNote = """
    One corpus pass per (model, corpus) in a session: entropy, coefficients, top and rescale … on \
    keep its statistics, keyed by the model's fingerprint (weights, interventions, multipliers: \
    any change gives a new one) and the corpus's token ids, and reuse them with the same numbers; \
    at most 64 MiB of them are kept, the least recently used dropped first.
    """

// MARK: Results

extension EntropyResult: CommandResult {
    var kind: String { "entropy" }

    var fields: [(String, Value)] {
        [("total", .number(total)), ("layers", numberList(layers)), ("tokens", .number(Double(tokens))),
         ("normalized", .number(normalized))]
    }

    /// Per-layer table: entropy, its share of the maximum ln d_ff, a bar of that share; then a
    /// sparkline over layers and the totals.
    func human(options: SessionOptions) -> String? {
        var lines = ["knowledge entropy over \(Printer.grouped(tokens)) tokens" + (step.map { " (step \($0))" } ?? "")]
        let barWidth = max(10, min(40, options.width - 32))
        lines.append("  layer  entropy    of max")
        for (i, h) in layers.enumerated() {
            let label = String(repeating: " ", count: max(0, 7 - String(i).count)) + String(i)
            let value = Printer.number(h)
            let pad = String(repeating: " ", count: max(0, 9 - value.count))
            // Share of the largest possible entropy ln(d_ff) (every memory equally active).
            let memories = i < stats.means.count ? stats.means[i].count : 0
            var share = ""
            var bar = ""
            if memories > 1, h.isFinite {
                let f = h / Foundation.log(Double(memories))
                share = String(format: "%5.1f%%", f * 100)
                let n = Int((Swift.min(Swift.max(f, 0), 1) * Double(barWidth)).rounded())
                bar = " " + String(repeating: options.ascii ? "#" : "█", count: n)
            }
            lines.append("\(label)  \(value)\(pad)  \(share)\(bar)")
        }
        lines.append("  layers  " + sparkline(layers, ascii: options.ascii))
        lines.append("  total \(Printer.number(total))   normalized \(Printer.number(normalized))")
        return lines.joined(separator: "\n")
    }

    /// The per-layer table of `human` (entropy and its share of ln d_ff), totals under it.
    var htmlTable: HTMLTable? {
        let rows = layers.enumerated().map { i, h -> [String] in
            let memories = i < stats.means.count ? stats.means[i].count : 0
            let share = memories > 1 && h.isFinite ? String(format: "%.1f%%", h / Foundation.log(Double(memories)) * 100) : ""
            return [String(i), Printer.number(h), share]
        }
        return HTMLTable(caption: "knowledge entropy over \(Printer.grouped(tokens)) tokens" + (step.map { " (step \($0))" } ?? ""),
                         header: ["layer", "entropy", "of max"], rows: rows,
                         notes: ["total \(Printer.number(total)), normalized \(Printer.number(normalized))"])
    }

    /// The layer bars: entropy H_l per layer.
    var displayChart: ChartValue? { layerBars(layers, title: "knowledge entropy per layer") }
}

extension CoefficientSummary: CommandResult {
    var kind: String { "coefficients" }

    var fields: [(String, Value)] {
        let rows: [Value] = layers.map { l in
            .record(plainRecord("layer", [
                ("entropy", .number(l.entropy)), ("normalized", .number(l.normalizedEntropy)),
                ("gini", .number(l.gini)), ("top1_share", .number(l.top1Share)),
                ("silent", .number(Double(l.silent))), ("mean", numberList(l.mean)),
            ]))
        }
        var fields: [(String, Value)] = [("layers", .list(rows)), ("tokens", .number(Double(tokens)))]
        if let step { fields.append(("step", .number(Double(step)))) }
        return fields
    }

    func human(options: SessionOptions) -> String? {
        var lines = ["coefficients over \(Printer.grouped(tokens)) tokens" + (step.map { " (step \($0))" } ?? "")]
        lines.append("  layer  entropy    normalized  gini       top 1%     silent")
        for (i, l) in layers.enumerated() {
            lines.append("  " + Printer.pad(String(i), 5) + "  " + Printer.padRight(Printer.number(l.entropy), 9) + "  "
                         + Printer.padRight(Printer.number(l.normalizedEntropy), 10) + "  "
                         + Printer.padRight(Printer.number(l.gini), 9) + "  "
                         + Printer.padRight(String(format: "%.3g%%", l.top1Share * 100), 9) + "  \(l.silent)/\(l.mean.count)")
        }
        lines.append("  entropy per layer " + sparkline(layers.map(\.entropy), ascii: options.ascii))
        return lines.joined(separator: "\n")
    }

    /// The table of `human`, one row per layer.
    var htmlTable: HTMLTable? {
        let rows = layers.enumerated().map { i, l -> [String] in
            [String(i), Printer.number(l.entropy), Printer.number(l.normalizedEntropy), Printer.number(l.gini),
             String(format: "%.3g%%", l.top1Share * 100), "\(l.silent)/\(l.mean.count)"]
        }
        return HTMLTable(caption: "coefficients over \(Printer.grouped(tokens)) tokens" + (step.map { " (step \($0))" } ?? ""),
                         header: ["layer", "entropy", "normalized", "gini", "top 1%", "silent"], rows: rows)
    }

    /// The layer bars: coefficient entropy per layer.
    var displayChart: ChartValue? { layerBars(layers.map(\.entropy), title: "coefficient entropy per layer") }
}

/// `compare A B`: per-layer entropies of two results and a chart of both.
struct EntropyComparison: CommandResult {
    let a: [Double]
    let b: [Double]
    let chart: ChartValue

    var kind: String { "comparison" }

    var fields: [(String, Value)] {
        let rows: [Value] = (0..<a.count).map { l in
            .record(plainRecord("layer", [
                ("layer", .number(Double(l))), ("a", .number(a[l])), ("b", .number(b[l])),
                ("difference", .number(b[l] - a[l])),
            ]))
        }
        return [("layers", .list(rows)), ("total_a", .number(a.reduce(0, +))), ("total_b", .number(b.reduce(0, +))),
                ("chart", .chart(chart))]
    }

    func human(options: SessionOptions) -> String? {
        let ta = a.reduce(0, +), tb = b.reduce(0, +)
        var lines = ["entropy per layer", "  layer  A          B          B − A"]
        for l in 0..<a.count {
            lines.append("  " + Printer.pad(Printer.number(Double(l)), 5) + "  " + Printer.padRight(Printer.number(a[l]), 9)
                         + "  " + Printer.padRight(Printer.number(b[l]), 9) + "  " + Printer.signed(b[l] - a[l]))
        }
        lines.append("  total  " + Printer.padRight(Printer.number(ta), 9) + "  " + Printer.padRight(Printer.number(tb), 9)
                     + "  " + Printer.signed(tb - ta))
        lines.append("")
        lines.append(chart.render(options.width, options.ascii, options.color))
        return lines.joined(separator: "\n")
    }

    /// The table of `human`, the totals as its last row.
    var htmlTable: HTMLTable? {
        let ta = a.reduce(0, +), tb = b.reduce(0, +)
        var rows = (0..<a.count).map { l in
            [Printer.number(Double(l)), Printer.number(a[l]), Printer.number(b[l]), Printer.signed(b[l] - a[l])]
        }
        rows.append(["total", Printer.number(ta), Printer.number(tb), Printer.signed(tb - ta)])
        return HTMLTable(caption: "entropy per layer", header: ["layer", "A", "B", "B − A"], rows: rows)
    }

    var displayChart: ChartValue? { chart }
}

// MARK: Arguments

extension Invocation {
    /// The coefficient summary of a coefficients or entropy result.
    func coefficientSummary(_ key: ArgumentKey) throws -> CoefficientSummary {
        let v = try value(key)
        guard let s = v.coefficientSummary else { throw typeError(key, expected: "a coefficients result", found: v) }
        return s
    }

    /// Per-layer entropies of a coefficients or entropy result.
    func layerEntropies(_ key: ArgumentKey) throws -> [Double] {
        let v = try value(key)
        if let e = v.result(EntropyResult.self) { return e.layers }
        guard let s = v.coefficientSummary else {
            throw typeError(key, expected: "a coefficients or entropy result", found: v)
        }
        return s.layers.map(\.entropy)
    }
}

extension Value {
    /// The coefficient summary behind a coefficients or entropy result, or nil.
    var coefficientSummary: CoefficientSummary? {
        if let s = result(CoefficientSummary.self) { return s }
        if let e = result(EntropyResult.self) { return CoefficientSummary(stats: e.stats, step: e.step) }
        return nil
    }
}

// MARK: Entropy of a series

/// `entropy SERIES on CORPUS`: a list of models, checkpoints or sums gives one entropy result
/// per element (each checkpoint loaded in turn and released); nil for a single value.
func seriesEntropy(_ inv: Invocation) throws -> Value? {
    guard case .list(let items) = try inv.value(.MODEL) else { return nil }
    var out: [Value] = []
    for (i, item) in items.enumerated() {
        if let s = item.result(CoefficientSums.self) {
            var rec = Record(try knowledgeEntropy(from: try inv.statistics(of: s, at: .MODEL), step: s.step))
            if let st = s.step { rec.fields.append(("step", .number(Double(st)))) }
            out.append(.record(rec))
            continue
        }
        guard let model = try inv.modelOrCheckpoint(item, at: .MODEL) else {
            throw inv.error("'entropy' of a list needs models or checkpoints, but element \(i) is \(item.typeName)", at: .MODEL)
        }
        guard inv.has(.on) else { throw inv.error("'entropy' of models needs 'on CORPUS'") }
        let corpus = try inv.corpus(.on, for: model)
        let r = try knowledgeEntropy(from: try inv.interpreter.statisticsCache.statistics(of: model, on: corpus), step: model.step)
        var rec = Record(r)
        if let s = r.step { rec.fields.append(("step", .number(Double(s)))) }
        // Duplicated weights are computed like any other checkpoint, and marked.
        if let d = item.result(CheckpointReference.self)?.duplicateOf { rec.fields.append(("duplicate_of", .string(d))) }
        out.append(.record(rec))
        inv.progress?(i + 1, items.count, "")
    }
    return .list(out)
}
