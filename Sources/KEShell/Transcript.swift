// MARK: - Tolerance

/// How closely numbers in a transcript must agree for `ke --check` to accept them.
///
/// Two decimal numbers a, b match when |a − b| ≤ max(absolute, relative · max(|a|, |b|)).
/// Numbers written as integers on both sides (`1000`, `-3`) must be equal exactly.
public struct Tolerance: Equatable, Sendable {
    public var relative: Double
    public var absolute: Double
    public init(relative: Double = 1e-3, absolute: Double = 1e-6) {
        self.relative = relative
        self.absolute = absolute
    }
    /// 1e-3 relative, 1e-6 absolute.
    public static let standard = Tolerance()

    func accepts(_ a: Double, _ b: Double) -> Bool {
        if a == b { return true }
        if a.isNaN && b.isNaN { return true }
        guard a.isFinite, b.isFinite else { return false }
        return abs(a - b) <= max(absolute, relative * max(abs(a), abs(b)))
    }
}

// MARK: - Comparison

/// Compares a fresh transcript with a stored one, ignoring what legitimately varies between runs:
/// small numeric differences, timings (`1.23 seconds`, `0.5 s`, `seconds: 1.2`) and absolute
/// paths (`/home/me/runs/a.json` → `<path>/a.json`).
public enum Transcript {
    /// One piece of a normalised line.
    enum Token: Equatable {
        case text(String)
        /// A number, its source text and whether it was written as an integer.
        case number(Double, String, isInteger: Bool)
    }

    // MARK: Normalisation

    /// The line with absolute paths shortened and timings replaced by `<t>`, split into tokens.
    static func tokens(_ line: String) -> [Token] {
        let scalars = Array(normalisePaths(line).unicodeScalars)
        var result: [Token] = []
        var text = ""
        var i = 0
        func flush() { if !text.isEmpty { result.append(.text(text)); text = "" } }
        while i < scalars.count {
            if let (value, length, isInteger) = number(at: i, in: scalars) {
                flush()
                let source = String(String.UnicodeScalarView(scalars[i..<(i + length)]))
                if isTiming(after: i + length, before: i, in: scalars) {
                    result.append(.text("<t>"))
                } else {
                    result.append(.number(value, source, isInteger: isInteger))
                }
                i += length
            } else {
                text.unicodeScalars.append(scalars[i])
                i += 1
            }
        }
        flush()
        return result
    }

    /// The line as it is compared (timings as `<t>`, paths shortened), for display and tests.
    static func normalised(_ line: String) -> String {
        tokens(line).map { token -> String in
            switch token {
            case .text(let s): return s
            case .number(_, let s, _): return s
            }
        }.joined()
    }

    /// Replaces absolute paths (`/a/b…`, at least two parts) by `<path>/` and their last part.
    static func normalisePaths(_ line: String) -> String {
        let chars = Array(line.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < chars.count {
            let startsToken = i == 0 || " \t\"'(=:,[<".unicodeScalars.contains(chars[i - 1])
            if chars[i] == "/", startsToken, i + 1 < chars.count, isPathChar(chars[i + 1]) {
                var j = i
                var parts: [String] = []
                while j < chars.count, chars[j] == "/" {
                    var k = j + 1
                    while k < chars.count, isPathChar(chars[k]) { k += 1 }
                    if k == j + 1 { break }
                    parts.append(String(String.UnicodeScalarView(chars[(j + 1)..<k])))
                    j = k
                }
                if parts.count >= 2, let last = parts.last {
                    out.append(contentsOf: "<path>/\(last)".unicodeScalars)
                    i = j
                    continue
                }
            }
            out.append(chars[i])
            i += 1
        }
        return String(out)
    }

    static func isPathChar(_ c: Unicode.Scalar) -> Bool {
        c.properties.isAlphabetic || ("0"..."9").contains(c) || "._-+@~%".unicodeScalars.contains(c)
    }

    /// A decimal number starting at `i` (sign only where it cannot be an operator): value,
    /// length in scalars, and whether it is written as an integer.
    static func number(at i: Int, in s: [Unicode.Scalar]) -> (Double, Int, Bool)? {
        func isDigit(_ k: Int) -> Bool { k < s.count && ("0"..."9").contains(s[k]) }
        func isWordChar(_ k: Int) -> Bool {
            k >= 0 && k < s.count && (s[k].properties.isAlphabetic || s[k] == "_" || ("0"..."9").contains(s[k]))
        }
        // A digit glued to a word (`layer12`, `x2`) is part of a name.
        if isWordChar(i - 1) || (i > 0 && s[i - 1] == ".") { return nil }
        var j = i
        if s[j] == "-" || s[j] == "+" {
            if isWordChar(i - 1) || (i > 0 && s[i - 1] == ")") { return nil }
            j += 1
        }
        let digitsStart = j
        while isDigit(j) { j += 1 }
        var isInteger = true
        if j < s.count, s[j] == ".", isDigit(j + 1) {
            isInteger = false
            j += 1
            while isDigit(j) { j += 1 }
        }
        if j == digitsStart { return nil }
        if j < s.count, s[j] == "e" || s[j] == "E" {
            var k = j + 1
            if k < s.count, s[k] == "-" || s[k] == "+" { k += 1 }
            if isDigit(k) {
                while isDigit(k) { k += 1 }
                j = k
                isInteger = false
            }
        }
        // `12abc` is a word, not a number (but `12%` and `3x` style suffixes are kept as text after it).
        if j < s.count, s[j] == "_" { return nil }
        let text = String(String.UnicodeScalarView(s[i..<j]))
        guard let value = Double(text) else { return nil }
        return (value, j - i, isInteger)
    }

    /// True when the number just before `after` is a duration: followed by `s`, `ms`, `sec`,
    /// `secs`, `second(s)`, or preceded by `seconds:` / `seconds=` / `"seconds": `.
    static func isTiming(after end: Int, before start: Int, in s: [Unicode.Scalar]) -> Bool {
        var j = end
        while j < s.count, s[j] == " " { j += 1 }
        var word = ""
        while j < s.count, s[j].properties.isAlphabetic { word.unicodeScalars.append(s[j]); j += 1 }
        if ["s", "ms", "sec", "secs", "second", "seconds"].contains(word) { return true }
        var k = start - 1
        while k >= 0, s[k] == " " || s[k] == "\"" { k -= 1 }
        guard k >= 0, s[k] == ":" || s[k] == "=" else { return false }
        k -= 1
        while k >= 0, s[k] == " " || s[k] == "\"" { k -= 1 }
        var before = String.UnicodeScalarView()
        while k >= 0, s[k].properties.isAlphabetic || s[k] == "_" { before.insert(s[k], at: before.startIndex); k -= 1 }
        let name = String(before)
        return name == "seconds" || name.hasSuffix("_seconds")
    }

    // MARK: Matching

    /// True when two lines agree up to the tolerance and normalisation.
    public static func linesMatch(_ a: String, _ b: String, tolerance: Tolerance = .standard) -> Bool {
        if a == b { return true }
        let ta = tokens(a), tb = tokens(b)
        guard ta.count == tb.count else { return false }
        for (x, y) in zip(ta, tb) {
            switch (x, y) {
            case (.text(let p), .text(let q)):
                if p.trimmingTrailingSpaces != q.trimmingTrailingSpaces { return false }
            case (.number(let p, let ps, let pi), .number(let q, let qs, let qi)):
                if pi && qi {
                    if ps != qs && p != q { return false }
                } else if !tolerance.accepts(p, q) {
                    return false
                }
            default:
                return false
            }
        }
        return true
    }

    // MARK: Diff

    /// A unified-style diff of `expected` (stored) against `actual` (fresh run), or nil when every
    /// line matches. Hunks carry two lines of context.
    public static func diff(expected: String, actual: String, tolerance: Tolerance = .standard,
                            expectedName: String = "expected", actualName: String = "actual") -> String? {
        let a = lines(expected), b = lines(actual)
        let ops = editScript(a, b, tolerance: tolerance)
        guard ops.contains(where: { $0.kind != .same }) else { return nil }
        var out = "--- \(expectedName)\n+++ \(actualName)\n"
        let context = 2
        // Group changed operations into hunks with `context` lines around them.
        var i = 0
        while i < ops.count {
            guard ops[i].kind != .same else { i += 1; continue }
            var start = i
            var back = 0
            while start > 0, back < context, ops[start - 1].kind == .same { start -= 1; back += 1 }
            var end = i
            while end < ops.count {
                if ops[end].kind != .same { end += 1; continue }
                // Run of unchanged lines: keep going if another change follows within 2·context.
                var run = end
                while run < ops.count, ops[run].kind == .same { run += 1 }
                if run < ops.count, run - end <= 2 * context { end = run; continue }
                end = min(run, end + context)
                break
            }
            let hunk = ops[start..<end]
            let aStart = (hunk.first?.aIndex ?? 0) + 1
            let bStart = (hunk.first?.bIndex ?? 0) + 1
            let aCount = hunk.filter { $0.kind != .insert }.count
            let bCount = hunk.filter { $0.kind != .delete }.count
            out += "@@ -\(aStart),\(aCount) +\(bStart),\(bCount) @@\n"
            for op in hunk {
                switch op.kind {
                case .same: out += " " + b[op.bIndex] + "\n"
                case .delete: out += "-" + a[op.aIndex] + "\n"
                case .insert: out += "+" + b[op.bIndex] + "\n"
                }
            }
            i = end
        }
        return out
    }

    static func lines(_ text: String) -> [String] {
        var result = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        while let last = result.last, last.isEmpty { result.removeLast() }
        return result
    }

    struct Op: Equatable {
        enum Kind { case same, delete, insert }
        var kind: Kind
        /// Index in `a` (for `.same`/`.delete`), or the position in `a` where an insert falls.
        var aIndex: Int
        /// Index in `b` (for `.same`/`.insert`), or the position in `b` where a delete falls.
        var bIndex: Int
    }

    /// The edit script from `a` to `b` by longest common subsequence (matching with tolerance).
    /// Very long inputs fall back to a line-by-line pairing.
    static func editScript(_ a: [String], _ b: [String], tolerance: Tolerance) -> [Op] {
        let n = a.count, m = b.count
        if n.multipliedReportingOverflow(by: m).partialValue > 4_000_000 || n > 100_000 || m > 100_000 {
            var ops: [Op] = []
            for k in 0..<max(n, m) {
                if k < n, k < m, linesMatch(a[k], b[k], tolerance: tolerance) {
                    ops.append(Op(kind: .same, aIndex: k, bIndex: k))
                } else {
                    if k < n { ops.append(Op(kind: .delete, aIndex: k, bIndex: min(k, m))) }
                    if k < m { ops.append(Op(kind: .insert, aIndex: min(k, n), bIndex: k)) }
                }
            }
            return ops
        }
        // lcs[i][j]: LCS length of a[i...] and b[j...], stored flat.
        var lcs = [Int32](repeating: 0, count: (n + 1) * (m + 1))
        var match = [Bool](repeating: false, count: n * m)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                if linesMatch(a[i], b[j], tolerance: tolerance) {
                    match[i * m + j] = true
                    lcs[i * (m + 1) + j] = lcs[(i + 1) * (m + 1) + j + 1] + 1
                } else {
                    lcs[i * (m + 1) + j] = max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1])
                }
            }
        }
        var ops: [Op] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, match[i * m + j] {
                ops.append(Op(kind: .same, aIndex: i, bIndex: j)); i += 1; j += 1
            } else if j < m, i == n || lcs[i * (m + 1) + j + 1] >= lcs[(i + 1) * (m + 1) + j] {
                ops.append(Op(kind: .insert, aIndex: i, bIndex: j)); j += 1
            } else {
                ops.append(Op(kind: .delete, aIndex: i, bIndex: j)); i += 1
            }
        }
        // Show deletions before insertions within a change, as unified diffs do.
        var k = 0
        while k < ops.count {
            guard ops[k].kind != .same else { k += 1; continue }
            var e = k
            while e < ops.count, ops[e].kind != .same { e += 1 }
            let block = ops[k..<e]
            ops.replaceSubrange(k..<e, with: block.filter { $0.kind == .delete } + block.filter { $0.kind == .insert })
            k = e
        }
        return ops
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var s = Substring(self)
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}
