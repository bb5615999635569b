// MARK: Split patterns
//
// The `pattern` of Split pre-tokenizers and Replace normalizers/decoders: `{"String": s}` or
// `{"Regex": r}`. Regexes run on Oniguruma with HF's options (`OnigPattern`). The two regexes that
// matter in practice (GPT-2's, and the cl100k one used by Llama-3 / OLMo-2, plus Qwen-2's
// single-digit variant) also have hand-written scanners that follow Oniguruma's leftmost-first
// backtracking and classify with the same Unicode 16 classes (`CharClass`); they are used as fast
// paths because TokenizerUnicodeTests proves them identical to the Oniguruma path on a random
// corpus over every general category, including scalars new in Unicode 15.1, 16.0 and 17.0.

/// A literal or regex pattern that finds non-overlapping matches in scalar text.
enum TextPattern {
    case literal(Scalars)
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// `(?i:'s|…|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case cl100k(maxDigits: Int)
    case regex(OnigPattern)

    static let gpt2Source = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Source =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Source =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Reads `{"String": …}` or `{"Regex": …}`.
    static func parse(_ j: JSONValue?, what: String, file: String?) throws -> TextPattern {
        if let s = j?["String"]?.stringValue {
            // HF escapes the string into a regex; the empty one matches the empty string at every
            // position, which only Oniguruma's iteration reproduces.
            if s.isEmpty { return try onig(s, what: what, file: file) }
            return .literal(Array(s.unicodeScalars))
        }
        guard let r = j?["Regex"]?.stringValue else {
            throw CoreError("tokenizer \(what) has no pattern {\"String\": …} or {\"Regex\": …}", file: file)
        }
        return try regex(r, what: what, file: file)
    }

    /// A known scanner for `source`, else the Oniguruma regex.
    /// - Throws: `CoreError` naming the pattern when Oniguruma rejects it.
    static func regex(_ source: String, what: String, file: String?) throws -> TextPattern {
        switch source {
        case gpt2Source: return .gpt2
        case llama3Source: return .cl100k(maxDigits: 3)
        case qwen2Source: return .cl100k(maxDigits: 1)
        default: return try onig(source, what: what, file: file)
        }
    }

    /// `source` compiled by Oniguruma, never a scanner.
    /// - Throws: `CoreError` naming the pattern when Oniguruma rejects it.
    static func onig(_ source: String, what: String, file: String?) throws -> TextPattern {
        do {
            return .regex(try OnigPattern(source))
        } catch {
            throw CoreError("tokenizer \(what) has an invalid regex \(jsonQuoted(source)): \(error.message)", file: file)
        }
    }

    /// `s` as a JSON string literal, so control characters in a pattern stay readable.
    static func jsonQuoted(_ s: String) -> String { JSONValue.string(s).serialized() }

    // MARK: Matching

    /// Matches and the text between them, in order, covering all of `s`; `true` marks a match.
    /// Empty text gives one empty non-match (as HF).
    func matches(in s: Scalars) -> [(Range<Int>, Bool)] {
        if s.isEmpty { return [(0..<0, false)] }
        var out: [(Range<Int>, Bool)] = []
        var prev = 0
        forEachMatch(in: s) { r in
            if prev != r.lowerBound { out.append((prev..<r.lowerBound, false)) }
            out.append((r, true))
            prev = r.upperBound
        }
        if prev != s.count { out.append((prev..<s.count, false)) }
        return out
    }

    /// Calls `body` with each match, left to right.
    func forEachMatch(in s: Scalars, _ body: (Range<Int>) -> Void) {
        let n = s.count
        switch self {
        case .literal(let p):
            guard !p.isEmpty, p.count <= n else { return }
            var i = 0
            while i + p.count <= n {
                var ok = true
                for k in 0..<p.count where s[i + k] != p[k] { ok = false; break }
                if ok { body(i..<(i + p.count)); i += p.count } else { i += 1 }
            }
        case .gpt2:
            var i = 0
            while i < n { let e = TextPattern.gpt2End(s, i); body(i..<e); i = e }
        case .cl100k(let maxDigits):
            var i = 0
            while i < n { let e = TextPattern.cl100kEnd(s, i, maxDigits); body(i..<e); i = e }
        case .regex(let re):
            // A search error (Oniguruma's retry limit on a pathological pattern) ends the matches
            // there; HF panics instead.
            re.forEachMatch(in: s, body)
        }
    }

    // MARK: Scanners

    @inline(__always) static func isOther(_ u: Unicode.Scalar) -> Bool {
        !CharClass.isSpace(u) && !CharClass.isLetter(u) && !CharClass.isNumber(u)
    }

    /// End of the whitespace alternatives `\s+(?!\S)|\s+` starting at a space at `i`.
    @inline(__always) static func spaceRunEnd(_ s: Scalars, _ i: Int) -> Int {
        var j = i + 1
        while j < s.count && CharClass.isSpace(s[j]) { j += 1 }
        if j == s.count || j - i < 2 { return j }
        return j - 1
    }

    /// End of the GPT-2 match starting at `i` (the pattern matches every scalar).
    static func gpt2End(_ s: Scalars, _ i: Int) -> Int {
        let n = s.count
        let c = s[i]
        if c == "'" && i + 1 < n {
            let d = s[i + 1]
            if d == "s" || d == "t" || d == "m" || d == "d" { return i + 2 }
            if i + 2 < n {
                let e = s[i + 2]
                if (d == "r" && e == "e") || (d == "v" && e == "e") || (d == "l" && e == "l") { return i + 3 }
            }
        }
        var k = i
        if c == " " && i + 1 < n && !CharClass.isSpace(s[i + 1]) { k = i + 1 }
        let first = s[k]
        if CharClass.isLetter(first) {
            var j = k + 1
            while j < n && CharClass.isLetter(s[j]) { j += 1 }
            return j
        }
        if CharClass.isNumber(first) {
            var j = k + 1
            while j < n && CharClass.isNumber(s[j]) { j += 1 }
            return j
        }
        if !CharClass.isSpace(first) {
            var j = k + 1
            while j < n && isOther(s[j]) { j += 1 }
            return j
        }
        return spaceRunEnd(s, i)
    }

    /// Case-folds the scalars the `(?i:…)` contractions compare with.
    @inline(__always) static func fold(_ u: Unicode.Scalar) -> Unicode.Scalar {
        if u >= "A" && u <= "Z" { return Unicode.Scalar(u.value + 32) ?? u }
        if u == "\u{17F}" { return "s" }  // LATIN SMALL LETTER LONG S folds to s
        return u
    }

    /// End of the cl100k-style match starting at `i` (the pattern matches every scalar).
    static func cl100kEnd(_ s: Scalars, _ i: Int, _ maxDigits: Int) -> Int {
        let n = s.count
        let c = s[i]
        if c == "'" && i + 1 < n {
            let d = fold(s[i + 1])
            if d == "s" || d == "t" || d == "m" || d == "d" { return i + 2 }
            if i + 2 < n {
                let e = fold(s[i + 2])
                if (d == "r" && e == "e") || (d == "v" && e == "e") || (d == "l" && e == "l") { return i + 3 }
            }
        }
        let cLetter = CharClass.isLetter(c), cNumber = CharClass.isNumber(c)
        // [^\r\n\p{L}\p{N}]?\p{L}+
        var start = -1
        if cLetter { start = i }
        else if !cNumber && c != "\r" && c != "\n" && i + 1 < n && CharClass.isLetter(s[i + 1]) { start = i + 1 }
        if start >= 0 {
            var j = start + 1
            while j < n && CharClass.isLetter(s[j]) { j += 1 }
            return j
        }
        // \p{N}{1,max}
        if cNumber {
            var j = i + 1
            while j < n && j - i < maxDigits && CharClass.isNumber(s[j]) { j += 1 }
            return j
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        var k = i
        if c == " " && i + 1 < n && isOther(s[i + 1]) { k = i + 1 }
        if isOther(s[k]) {
            var j = k + 1
            while j < n && isOther(s[j]) { j += 1 }
            while j < n && (s[j] == "\r" || s[j] == "\n") { j += 1 }
            return j
        }
        // \s*[\r\n]+ : up to the last line break of the whitespace run
        var j = i
        var lastBreak = -1
        while j < n && CharClass.isSpace(s[j]) {
            if s[j] == "\r" || s[j] == "\n" { lastBreak = j }
            j += 1
        }
        if lastBreak >= 0 { return lastBreak + 1 }
        return spaceRunEnd(s, i)
    }
}
