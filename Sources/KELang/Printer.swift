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

    /// A size in bytes as 24.8 kB / 627 MB / 1.18 GB (SI units).
    static func bytes(_ n: Int) -> String {
        let x = Double(n)
        if x >= 1e9 { return String(format: "%.3g GB", x / 1e9) }
        if x >= 1e6 { return String(format: "%.3g MB", x / 1e6) }
        if x >= 1e3 { return String(format: "%.3g kB", x / 1e3) }
        return "\(n) bytes"
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
        case .string(let s): return quoted(s)
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
            if let line = r.result?.inline { return line }
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
        if let q = m.quantized {
            let types = q.matrixTypes.map { "\($0.type) ×\($0.count)" }.joined(separator: ", ")
            lines.append("  weights        as the file stores them: \(types) (\(bytes(q.byteCount))), dequantised a tile at a time")
        }
        if m.interventions.isEmpty {
            lines.append("  interventions  none")
        } else {
            for (i, note) in m.interventions.enumerated() {
                lines.append((i == 0 ? "  interventions  " : "                 ") + note)
            }
        }
        if let r = m.rescaleSummary {
            let count = r.layers.reduce(0) { $0 + $1.count }
            var line = "  multipliers    \(grouped(count)) memories rescaled"
            if let (l, v) = r.largest { line += ", largest \(number(v)) (layer \(l))" }
            if let cap = r.cap { line += ", cap \(number(cap))" }
            lines.append(line)
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
        var parts = [c.packed && c.tokens != nil ? "\(grouped(c.documents)) rows" : "\(grouped(c.documents)) documents"]
        if let t = c.tokens {
            parts.append("\(grouped(t)) tokens")
        } else {
            parts.append("tokenised when first used with a model")
        }
        if let l = c.limit { parts.append("limit \(l)") }
        if let s = c.seq { parts.append("seq \(s)") }
        if c.packed { parts.append("packed") }
        return "corpus \(c.name): " + parts.joined(separator: ", ")
    }

    /// A result's own rendering, or the generic table of its fields.
    private static func record(_ r: Record, options: SessionOptions) -> String {
        r.result?.human(options: options) ?? generic(r, options: options)
    }

    /// "1.23 s", "45.6 ms".
    static func seconds(_ s: Double) -> String {
        guard s.isFinite else { return number(s) + " s" }
        if s < 1 { return String(format: "%.3g ms", s * 1000) }
        return String(format: "%.3g s", s)
    }

    /// The kind, then one field a line (nested values indented).
    static func generic(_ r: Record, options: SessionOptions) -> String {
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

    // MARK: Table cells

    /// A string as a JSON literal: `"Ġthe"`.
    static func quoted(_ s: String) -> String {
        var out = ""
        JSONValue.quote(s, into: &out)
        return out
    }

    /// A number with its sign: `+0.5`, `-2`.
    static func signed(_ x: Double) -> String { (x >= 0 ? "+" : "") + number(x) }

    /// `s` right-aligned in `w` columns.
    static func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }

    /// `s` left-aligned in `w` columns.
    static func padRight(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }

    // MARK: Text

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
            ] + (m.quantized.map { q in [("weights", .object(q.matrixTypes.map { ($0.type, .int($0.count)) }))] } ?? [])
              + m.measurements.map { ($0.name, jsonNumber($0.value)) }
              + (m.rescaleSummary.map { r in [("multipliers", .array(r.layers.enumerated().map { l, layer in
                    .object([("layer", .int(l)), ("count", .int(layer.count)), ("largest", jsonNumber(layer.largest))])
                }))] } ?? []))
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
