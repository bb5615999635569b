import Foundation

// MARK: - Histogram

/// Histogram data and renderer: equal bins over [min, max] drawn as horizontal bars.
struct HistogramPlot: Sendable {
    let values: [Double]
    let bins: Int
    let logCounts: Bool
    let xlabel: String?

    /// Bin edges (count + 1 of them) and counts; a single bin when all values are equal.
    func binned() -> (edges: [Double], counts: [Int])? {
        let finite = values.filter { $0.isFinite }
        guard let lo = finite.min(), let hi = finite.max() else { return nil }
        if hi <= lo { return ([lo, hi], [finite.count]) }
        let binCount = min(max(bins, 1), 1000)
        var counts = Array(repeating: 0, count: binCount)
        for value in finite {
            let index = min(binCount - 1, Int(Ticks.fraction(value, lo: lo, hi: hi) * Double(binCount)))
            counts[index] += 1
        }
        let edges = (0...binCount).map { index -> Double in
            if index == binCount { return hi }
            let t = Double(index) / Double(binCount)
            return lo * (1 - t) + hi * t
        }
        return (edges, counts)
    }

    /// Edge texts: fixed decimals fine enough for the bin width (aligned, zeros kept) when the
    /// numbers are moderate, else compact texts with enough digits to tell neighbours apart.
    static func edgeTexts(_ edges: [Double]) -> [String] {
        let magnitude = edges.map { abs($0) }.max() ?? 0
        let binWidth = edges.count > 1 ? (edges[1] / 2 - edges[0] / 2) * 2 : 0
        if binWidth > 0, binWidth.isFinite, magnitude < 1e6 {
            let integral = edges.allSatisfy { $0 == $0.rounded() }
            let decimals = integral ? 0 : max(0, 1 - Int(floor(log10(binWidth))))
            if decimals <= 6 {
                let texts = edges.map { NumberFormat.fixed($0, decimals: decimals, keepZeros: true) }
                if zip(texts, texts.dropFirst()).allSatisfy({ $0 != $1 }) { return texts }
            }
        }
        var texts = edges.map { NumberFormat.compact($0, significant: 3) }
        for digits in 4...10 {
            if zip(texts, texts.dropFirst()).allSatisfy({ $0 != $1 }) { break }
            texts = edges.map { NumberFormat.compact($0, significant: digits) }
        }
        return texts
    }

    /// The bars: one per bin, labelled `[lo, hi)` (the last `[lo, hi]`), lengths the counts (or
    /// log10(1 + count) with `logCounts`), value texts the exact counts; nil when nothing is finite.
    func rows() -> BarRows? {
        guard let (edges, counts) = binned() else { return nil }
        let texts = Self.edgeTexts(edges)
        let leftWidth = texts.dropLast().map(\.count).max() ?? 1
        let rightWidth = texts.dropFirst().map(\.count).max() ?? 1
        let labels = counts.indices.map { index -> String in
            let close = index == counts.count - 1 ? "]" : ")"
            return "[" + TextLayout.padLeft(texts[index], leftWidth) + ", "
                + TextLayout.padLeft(texts[index + 1], rightWidth) + close
        }
        let lengths = counts.map { logCounts ? log10(1 + Double($0)) : Double($0) }
        return BarRows(labels: labels, lengths: lengths, valueTexts: counts.map { String($0) })
    }

    func render(title: String?, options: RenderOptions) -> [String] {
        guard let rows = rows() else { return ChartText.empty(title: title, options: options) }
        var lines = rows.render(title: title, options: options, header: xlabel)
        if logCounts {
            lines += TextLayout.wrap(options.ascii ? "(bar length ~ log10(1 + count))" : "(bar length ∝ log10(1 + count))",
                                     width: options.clampedWidth)
        }
        return lines
    }
}
