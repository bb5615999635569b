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
            return lo + (hi / 2 - lo / 2) * 2 * Double(index) / Double(binCount)
        }
        return (edges, counts)
    }

    /// Edge texts with just enough significant digits to tell neighbouring edges apart.
    static func edgeTexts(_ edges: [Double]) -> [String] {
        var texts = edges.map { NumberFormat.compact($0, significant: 3) }
        for digits in 4...10 {
            let distinct = zip(texts, texts.dropFirst()).allSatisfy { $0 != $1 }
            if distinct { break }
            texts = edges.map { NumberFormat.compact($0, significant: digits) }
        }
        return texts
    }

    func render(title: String?, options: RenderOptions) -> [String] {
        guard let (edges, counts) = binned() else { return ChartText.empty(title: title, options: options) }
        let texts = Self.edgeTexts(edges)
        let leftWidth = texts.dropLast().map(\.count).max() ?? 1
        let rightWidth = texts.dropFirst().map(\.count).max() ?? 1
        let labels = counts.indices.map { index -> String in
            let close = index == counts.count - 1 ? "]" : ")"
            return "[" + TextLayout.padLeft(texts[index], leftWidth) + ", "
                + TextLayout.padLeft(texts[index + 1], rightWidth) + close
        }
        let lengths = counts.map { logCounts ? log10(1 + Double($0)) : Double($0) }
        let rows = BarRows(labels: labels, lengths: lengths, valueTexts: counts.map { String($0) })
        var lines = rows.render(title: title, options: options, header: xlabel)
        if logCounts {
            lines.append(options.ascii ? "(bar length ~ log10(1 + count))" : "(bar length ∝ log10(1 + count))")
        }
        return lines
    }
}
