import Foundation

// MARK: - Sparkline

/// A one-line sparkline of `values`: `▁▂▃▄▅▆▇█` scaled from min to max, one glyph per value.
///
/// Non-finite values show as a blank; all-equal values sit at mid height; no values give `""`.
public func sparkline(_ values: [Double]) -> String {
    Sparkline.line(values, ascii: false)
}

/// A one-line sparkline of `values`, in pure ASCII (`_.:-=+*#`) when `ascii` is true.
public func sparkline(_ values: [Double], ascii: Bool) -> String {
    Sparkline.line(values, ascii: ascii)
}

/// Sparkline glyph selection and resampling.
enum Sparkline {
    static let unicodeLevels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    static let asciiLevels: [Character] = ["_", ".", ":", "-", "=", "+", "*", "#"]

    /// The sparkline text of `values` (one character per value).
    static func line(_ values: [Double], ascii: Bool) -> String {
        let levels = ascii ? asciiLevels : unicodeLevels
        let finite = values.filter { $0.isFinite }
        guard let lo = finite.min(), let hi = finite.max() else { return String(repeating: " ", count: values.count) }
        return String(values.map { value -> Character in
            guard value.isFinite else { return " " }
            if hi <= lo { return levels[levels.count / 2 - 1] }
            let t = Ticks.fraction(value, lo: lo, hi: hi)
            return levels[min(levels.count - 1, Int(t * Double(levels.count - 1) + 0.5))]
        })
    }

    /// Averages `values` into `count` consecutive buckets (ignoring non-finite entries).
    static func resample(_ values: [Double], to count: Int) -> [Double] {
        guard values.count > count, count > 0 else { return values }
        return (0..<count).map { bucket in
            let start = bucket * values.count / count
            let end = max(start + 1, (bucket + 1) * values.count / count)
            let finite = values[start..<end].filter { $0.isFinite }
            return finite.isEmpty ? .nan : finite.reduce(0, +) / Double(finite.count)
        }
    }

    /// The sparkline chart line: resampled to the width, or "(no data)".
    static func render(_ values: [Double], options: RenderOptions) -> String {
        guard values.contains(where: { $0.isFinite }) else { return ChartText.noData }
        let text = line(resample(values, to: options.clampedWidth), ascii: options.ascii)
        return ANSI.paint(text, code: options.color ? ANSI.code(series: 0) : nil, enabled: options.color)
    }
}
