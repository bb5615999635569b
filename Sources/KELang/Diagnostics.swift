// MARK: Diagnostics
//
// The single error-reporting path. Every error the language raises — scanning, parsing, name
// resolution, evaluation, or a `CoreError` from the library — becomes a `LangError` carrying a
// source position, and `Diagnostics.format` renders it as
//
//     FILE:LINE:COL: error: MESSAGE
//     <the source line>
//         ^

/// An error in a script, at a position.
public struct LangError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var position: SourcePosition
    public init(_ message: String, at position: SourcePosition) {
        self.message = message
        self.position = position
    }
    public var description: String { "\(position): error: \(message)" }
}

/// Formats errors with file, line, column, the source line and a caret.
public enum Diagnostics {
    /// `FILE:LINE:COL: error: MESSAGE`, then the source line and a caret under the column.
    ///
    /// `source` is the text the position refers to; `firstLine` is the line number its first
    /// line has in `file` (positions inside `error` are already absolute).
    public static func format(_ error: LangError, file: String, source: String, firstLine: Int = 1) -> String {
        let p = error.position
        var out = "\(file):\(p.line):\(p.column): error: \(error.message)"
        let index = p.line - firstLine
        guard index >= 0 else { return out }
        var lineNo = 0
        var current: [Unicode.Scalar] = []
        var found = false
        for u in source.unicodeScalars {
            if u == "\n" {
                if lineNo == index { found = true; break }
                lineNo += 1
                current.removeAll(keepingCapacity: true)
                continue
            }
            if lineNo == index { current.append(u) }
        }
        if !found && lineNo != index { return out }
        if current.last == "\r" { current.removeLast() }
        // Long lines (e.g. 100,000 parentheses) are cut to a window around the column.
        var column = max(p.column - 1, 0)
        var start = 0
        if current.count > 160 {
            start = max(0, min(column - 60, current.count - 160))
            current = Array(current[start..<min(current.count, start + 160)])
            column -= start
        }
        let text = String(String.UnicodeScalarView(current))
        out += "\n" + text + "\n"
        for u in current.prefix(column) { out += u == "\t" ? "\t" : " " }
        out += "^"
        return out
    }

    /// Levenshtein distance between two strings (by Unicode scalars).
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        var current = Array(repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }

    /// The candidate nearest to `word`, if it is close enough to be a plausible typo
    /// (distance at most 2, and at most a third of the word's length rounded up).
    public static func nearest(_ word: String, in candidates: [String]) -> String? {
        guard word.unicodeScalars.count <= 64 else { return nil }
        let limit = min(2, max(1, (word.count + 2) / 3))
        var best: (String, Int)?
        for c in candidates where c != word {
            let d = editDistance(word.lowercased(), c.lowercased())
            if d <= limit, d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        return best?.0
    }

    /// " — did you mean 'X'?" when a near candidate exists, else "".
    public static func suggestion(_ word: String, in candidates: [String]) -> String {
        guard let n = nearest(word, in: candidates) else { return "" }
        return " — did you mean '\(n)'?"
    }
}
