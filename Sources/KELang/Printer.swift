import Foundation
import KECharts
import KECore

// MARK: Printer
//
// Human and JSON renderings of values. Human: numbers to 6 significant digits, strings raw,
// short lists inline and long ones one element per line, models and results as small
// summaries/tables. JSON: numbers and strings as scalars, lists as arrays, every other value an
// object with a "kind" field; NaN and ±∞ are written as null (and reported, see `Session`).

/// Renders values for people and for programs.
public enum Printer {
    // MARK: Numbers

    /// A number in at most 6 significant digits; whole numbers below 10^15 without a fraction.
    public static func number(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return String(format: "%.6g", x)
    }

    /// A whole number with thousands separators (`1,234,567`).
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// A parameter count as 14.1M / 1.18B.
    static func short(_ n: Int) -> String {
        let x = Double(n)
        if x >= 1e9 { return String(format: "%.3gB", x / 1e9) }
        if x >= 1e6 { return String(format: "%.3gM", x / 1e6) }
        if x >= 1e3 { return String(format: "%.3gK", x / 1e3) }
        return String(n)
    }

    // MARK: Human

    /// The human rendering of `value` (no trailing newline).
    public static func human(_ value: Value, options: SessionOptions) -> String {
        switch value {
        case .null: return "null"
        case .number(let x): return number(x)
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .list(let items): return list(items, options: options)
        case .model(let m): return model(m)
        case .corpus(let c): return corpus(c)
        case .chart(let c): return c.render(options.width, options.ascii, options.color)
        case .record(let r): return record(r, options: options)
        }
    }

    /// A one-line rendering for use inside lists and tables, or nil when the value needs lines.
    static func inline(_ value: Value) -> String? {
        switch value {
        case .null: return "null"
        case .number(let x): return number(x)
        case .string(let s):
            var out = ""
            JSONValue.quote(s, into: &out)
            return out
        case .bool(let b): return b ? "true" : "false"
        case .list(let items):
            var parts: [String] = []
            var length = 0
            for item in items {
                guard let p = inline(item) else { return nil }
                length += p.count + 2
                if length > 10_000 { return nil }
                parts.append(p)
            }
            return "[" + parts.joined(separator: ", ") + "]"
        case .corpus(let c): return "<corpus \(c.name)>"
        case .model(let m): return "<model \(m.config.architecture.rawValue), \(m.config.numLayers) layers>"
        case .chart(let c): return "<\(c.type) chart>"
        case .record(let r):
            if r.kind == "saved", let p = r["path"], case .string(let s) = p { return s }
            if let line = inspectInline(r) { return line }
            if r.plain {
                // Rows such as {logprob, accuracy}: "logprob -1.2, accuracy 0.5" when short.
                var parts: [String] = []
                for (k, v) in r.fields {
                    guard let p = inline(v) else { return nil }
                    parts.append("\(k) \(p)")
                }
                let line = parts.joined(separator: ", ")
                return line.count <= 100 ? line : nil
            }
            return nil
        }
    }

    private static func list(_ items: [Value], options: SessionOptions) -> String {
        if let line = inline(.list(items)), line.count <= options.width || items.count < 2 { return line }
        var out: [String] = []
        var blank = false
        for item in items {
            if let s = inline(item) {
                out.append(s)
            } else {
                blank = true
                out.append(human(item, options: options))
            }
        }
        return out.joined(separator: blank ? "\n\n" : "\n")
    }

    private static func model(_ m: Model) -> String {
        var lines = [
            "model \(m.config.architecture.rawValue)" + (m.source.map { " from \($0)" } ?? ""),
            "  layers         \(m.config.numLayers)",
            "  memories/layer \(grouped(m.config.intermediateSize)) (d_ff)",
            "  parameters     \(grouped(m.parameterCount)) (\(short(m.parameterCount)))",
            "  step           \(m.step.map(String.init) ?? "unknown")",
        ]
        if m.interventions.isEmpty {
            lines.append("  interventions  none")
        } else {
            for (i, note) in m.interventions.enumerated() {
                lines.append((i == 0 ? "  interventions  " : "                 ") + note)
            }
        }
        let measured = Dictionary(m.measurements.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b })
        if let before = measured["perplexity_before"], let after = measured["perplexity_after"] {
            lines.append("  perplexity     \(number(before)) before, \(number(after)) after, on the rescale's corpus")
            if after > 2 * before {
                lines.append("  warning: the rescale raised the perplexity on its own corpus "
                             + "\(number(after / before))-fold (more than 2×)")
            }
        }
        return lines.joined(separator: "\n")
    }

    private static func corpus(_ c: CorpusValue) -> String {
        var parts = ["\(grouped(c.documents)) documents"]
        if let t = c.tokens {
            parts.append("\(grouped(t)) tokens")
        } else {
            parts.append("tokenised when first used with a model")
        }
        if let l = c.limit { parts.append("limit \(l)") }
        if let s = c.seq { parts.append("seq \(s)") }
        return "corpus \(c.name): " + parts.joined(separator: ", ")
    }

    private static func record(_ r: Record, options: SessionOptions) -> String {
        switch r.kind {
        case "entropy":
            if let e = r.native as? EntropyResult { return entropy(e, options: options) }
        case "perplexity":
            if let p = r.native as? PerplexityResult {
                return "perplexity \(number(p.perplexity)) (loss \(number(p.loss)) nats over \(grouped(p.tokens)) tokens)"
            }
        case "tokens":
            if case .list(let ids)? = r["ids"], case .list(let strings)? = r["tokens"] {
                return tokens(ids, strings, options: options)
            }
        case "timed":
            if let v = r["value"], case .number(let s)? = r["seconds"] {
                let body = human(v, options: options)
                return body + (body.contains("\n") ? "\n" : "  ") + "(\(seconds(s)))"
            }
        case "saved":
            if case .string(let p)? = r["path"] { return "saved \(p)" }
        case "help":
            return help(r, options: options)
        default:
            if let text = inspectHuman(r, options: options) { return text }
        }
        return generic(r, options: options)
    }

    /// "1.23 s", "45.6 ms".
    static func seconds(_ s: Double) -> String {
        guard s.isFinite else { return number(s) + " s" }
        if s < 1 { return String(format: "%.3g ms", s * 1000) }
        return String(format: "%.3g s", s)
    }

    private static func generic(_ r: Record, options: SessionOptions) -> String {
        let width = r.fields.map(\.0.count).max() ?? 0
        var lines = r.plain ? [] : [r.kind]
        for (k, v) in r.fields {
            let body = inline(v) ?? human(v, options: options)
            let pad = String(repeating: " ", count: width - k.count)
            if body.contains("\n") {
                lines.append("  \(k):")
                lines += body.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }
            } else {
                lines.append("  \(k)\(pad)  \(body)")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Per-layer table: entropy, its share of the maximum ln d_ff, a bar of that share; then a
    /// sparkline over layers and the totals.
    private static func entropy(_ e: EntropyResult, options: SessionOptions) -> String {
        var lines = ["knowledge entropy over \(grouped(e.tokens)) tokens" + (e.step.map { " (step \($0))" } ?? "")]
        let barWidth = max(10, min(40, options.width - 32))
        lines.append("  layer  entropy    of max")
        for (i, h) in e.layers.enumerated() {
            let label = String(repeating: " ", count: max(0, 7 - String(i).count)) + String(i)
            let value = number(h)
            let pad = String(repeating: " ", count: max(0, 9 - value.count))
            // Share of the largest possible entropy ln(d_ff) (every memory equally active).
            let memories = i < e.stats.means.count ? e.stats.means[i].count : 0
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
        lines.append("  layers  " + sparkline(e.layers, ascii: options.ascii))
        lines.append("  total \(number(e.total))   normalized \(number(e.normalized))")
        return lines.joined(separator: "\n")
    }

    private static func tokens(_ ids: [Value], _ strings: [Value], options: SessionOptions) -> String {
        var lines = ["\(ids.count) token\(ids.count == 1 ? "" : "s")"]
        for (id, s) in zip(ids, strings) {
            let idText = inline(id) ?? "?"
            lines.append(String(repeating: " ", count: max(0, 8 - idText.count)) + idText + "  " + (inline(s) ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    private static func help(_ r: Record, options: SessionOptions) -> String {
        if case .list(let entries)? = r["commands"] {
            var lines = ["Commands (help NAME for details):"]
            var group = ""
            let specs = entries.compactMap { v -> CommandSpec? in
                guard case .record(let e) = v, case .string(let n)? = e["name"] else { return nil }
                return CommandRegistry.spec(n)
            }
            let width = min(30, specs.map(\.synopsis.count).max() ?? 0)
            for spec in specs {
                if spec.group != group {
                    group = spec.group
                    lines.append("")
                    lines.append("  \(group)")
                }
                let brief = spec.brief
                if spec.synopsis.count > width {
                    lines.append("    \(spec.synopsis)")
                    lines.append("    " + String(repeating: " ", count: width + 2) + clip(brief, options.width - width - 6))
                } else {
                    let pad = String(repeating: " ", count: width - spec.synopsis.count + 2)
                    lines.append("    \(spec.synopsis)\(pad)\(clip(brief, options.width - width - 6))")
                }
            }
            lines.append("")
            lines.append("Statements: let NAME = EXPR · for NAME in LIST { … } · # comment")
            return lines.joined(separator: "\n")
        }
        guard case .string(let synopsis)? = r["synopsis"], case .string(let summary)? = r["summary"],
              case .string(let example)? = r["example"] else { return generic(r, options: options) }
        var lines = ["  " + synopsis, ""]
        lines += wrap(summary, width: max(40, options.width - 2)).map { "  " + $0 }
        lines.append("")
        lines.append("  Example:")
        lines += example.split(separator: "\n").map { "    " + $0 }
        return lines.joined(separator: "\n")
    }

    /// The text up to and including the first sentence-ending ". " (not "et al. "), or all of it.
    static func firstSentence(_ text: String) -> String {
        var searchStart = text.startIndex
        while let r = text.range(of: ". ", range: searchStart..<text.endIndex) {
            let before = text[..<r.lowerBound]
            if before.hasSuffix(" al") || before.hasSuffix("e.g") || before.hasSuffix("i.e") {
                searchStart = r.upperBound
                continue
            }
            return String(before) + "."
        }
        return text
    }

    /// `text` cut to `width` characters with an ellipsis.
    static func clip(_ text: String, _ width: Int) -> String {
        let w = max(10, width)
        return text.count <= w ? text : String(text.prefix(w - 1)) + "…"
    }

    /// Greedy word wrap.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    // MARK: JSON

    /// A number as JSON: an integer when whole, null when not finite.
    static func jsonNumber(_ x: Double) -> JSONValue {
        guard x.isFinite else { return .null }
        if x == x.rounded(), abs(x) < 9.007_199_254_740_992e15 { return .int(Int(x)) }
        return .double(x)
    }

    /// The JSON form of `value`; `nonFinite` is set when a NaN or ±∞ was written as null.
    public static func json(_ value: Value, options: SessionOptions, nonFinite: inout Bool) -> JSONValue {
        switch value {
        case .null: return .null
        case .number(let x):
            if !x.isFinite { nonFinite = true }
            return jsonNumber(x)
        case .string(let s): return .string(s)
        case .bool(let b): return .bool(b)
        case .list(let items): return .array(items.map { json($0, options: options, nonFinite: &nonFinite) })
        case .model(let m):
            return .object([
                ("kind", .string("model")),
                ("architecture", .string(m.config.architecture.rawValue)),
                ("layers", .int(m.config.numLayers)),
                ("memories", .int(m.config.intermediateSize)),
                ("parameters", .int(m.parameterCount)),
                ("step", m.step.map { .int($0) } ?? .null),
            ] + m.measurements.map { ($0.name, jsonNumber($0.value)) })
        case .corpus(let c):
            return .object([
                ("kind", .string("corpus")),
                ("documents", .int(c.documents)),
                ("tokens", c.tokens.map { .int($0) } ?? .null),
                ("source", .string(c.name)),
            ])
        case .chart(let c):
            var pairs: [(String, JSONValue)] = [("kind", .string("chart")), ("type", .string(c.type))]
            for (k, v) in c.fields {
                if containsNull(v) { nonFinite = true }
                pairs.append((k, v))
            }
            pairs.append(("text", .string(c.render(options.width, options.ascii, false))))
            return .object(pairs)
        case .record(let r):
            var pairs: [(String, JSONValue)] = r.plain ? [] : [("kind", .string(r.kind))]
            for (k, v) in r.fields { pairs.append((k, json(v, options: options, nonFinite: &nonFinite))) }
            return .object(pairs)
        }
    }

    private static func containsNull(_ v: JSONValue) -> Bool {
        switch v {
        case .null: return true
        case .array(let a): return a.contains(where: containsNull)
        default: return false
        }
    }

    /// One line of JSON for `value`.
    public static func jsonLine(_ value: Value, options: SessionOptions, nonFinite: inout Bool) -> String {
        json(value, options: options, nonFinite: &nonFinite).serialized()
    }
}
