// MARK: Pre-tokenizers
//
// The `pre_tokenizer` of tokenizer.json: splits each text piece into words that the model
// tokenises separately. Empty pieces are dropped after every step, as in HF.

/// How a Split keeps its matches (HF `SplitDelimiterBehavior`).
enum SplitBehavior: String {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"
}

/// A pre-tokenizer from tokenizer.json.
indirect enum TokenPreTokenizer {
    /// GPT-2 byte level: optional prefix space, optional GPT-2 regex split, then the byte map.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case split(TextPattern, SplitBehavior, invert: Bool)
    /// `\w+|[^\w\s]+` runs; white space removed.
    case whitespace
    /// Runs of non-White_Space.
    case whitespaceSplit
    /// Numeric scalars (Rust `char::is_numeric`) isolated (one each) or contiguous.
    case digits(individual: Bool)
    /// SentencePiece style: spaces become `replacement`, which is prepended (always, or only to
    /// the text's first piece), then optionally split before each `replacement`.
    case metaspace(replacement: Unicode.Scalar, prepend: PrependScheme, split: Bool)
    case sequence([TokenPreTokenizer])

    enum PrependScheme: String { case always, first, never }

    /// Reads a `pre_tokenizer` object; nil for JSON null.
    static func parse(_ j: JSONValue, file: String?) throws -> TokenPreTokenizer? {
        if j.isNull { return nil }
        guard let type = j["type"]?.stringValue else {
            throw CoreError("tokenizer pre_tokenizer has no \"type\"", file: file)
        }
        switch type {
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: j["add_prefix_space"]?.boolValue ?? true,
                              useRegex: j["use_regex"]?.boolValue ?? true)
        case "Split":
            let pattern = try TextPattern.parse(j["pattern"], what: "Split pre_tokenizer", file: file)
            let b = j["behavior"]?.stringValue ?? "Isolated"
            guard let behavior = SplitBehavior(rawValue: b) else {
                throw CoreError("unsupported Split behavior \"\(b)\"", file: file)
            }
            return .split(pattern, behavior, invert: j["invert"]?.boolValue ?? false)
        case "Whitespace": return .whitespace
        case "WhitespaceSplit": return .whitespaceSplit
        case "Digits": return .digits(individual: j["individual_digits"]?.boolValue ?? false)
        case "Metaspace":
            let r = j["replacement"]?.stringValue ?? "\u{2581}"
            guard r.unicodeScalars.count == 1, let u = r.unicodeScalars.first else {
                throw CoreError("tokenizer Metaspace pre_tokenizer needs a one-character \"replacement\"", file: file)
            }
            let schemeName = j["prepend_scheme"]?.stringValue
                ?? ((j["add_prefix_space"]?.boolValue ?? true) ? "always" : "never")
            guard let scheme = PrependScheme(rawValue: schemeName) else {
                throw CoreError("unsupported Metaspace prepend_scheme \"\(schemeName)\"", file: file)
            }
            return .metaspace(replacement: u, prepend: scheme, split: j["split"]?.boolValue ?? true)
        case "Sequence":
            guard let items = j["pretokenizers"]?.arrayValue else {
                throw CoreError("tokenizer Sequence pre_tokenizer has no \"pretokenizers\" list", file: file)
            }
            let parsed = try items.compactMap { try parse($0, file: file) }
            for p in parsed.dropFirst() {
                if case .metaspace(_, .first, _) = p {
                    throw CoreError("a Metaspace pre_tokenizer with prepend_scheme \"first\" is only supported first in a Sequence", file: file)
                }
            }
            return .sequence(parsed)
        default:
            throw CoreError("unsupported tokenizer pre_tokenizer \"\(type)\"", file: file)
        }
    }

    /// Splits every piece of `pieces`; empty results are dropped. `atOrigin`: the first piece
    /// starts at the beginning of the text (for Metaspace's `first` scheme).
    func apply(_ pieces: [Scalars], atOrigin: Bool = false) -> [Scalars] {
        switch self {
        case .sequence(let items):
            var cur = pieces
            for (i, p) in items.enumerated() { cur = p.apply(cur, atOrigin: atOrigin && i == 0) }
            return cur
        case .metaspace(let replacement, let prepend, let split):
            return Self.metaspace(pieces, replacement: replacement, prepend: prepend, split: split,
                                  atOrigin: atOrigin)
        case .byteLevel(let addPrefixSpace, let useRegex):
            return Self.byteLevel(pieces, addPrefixSpace: addPrefixSpace, useRegex: useRegex)
        case .split(let pattern, let behavior, let invert):
            var out: [Scalars] = []
            for p in pieces {
                var m = pattern.matches(in: p)
                if invert { m = m.map { ($0.0, !$0.1) } }
                TokenPreTokenizer.splitPieces(p, m, behavior, into: &out)
            }
            return out
        case .whitespace:
            return pieces.flatMap(Self.whitespaceWords)
        case .whitespaceSplit:
            return pieces.flatMap(Self.whitespaceSplitWords)
        case .digits(let individual):
            var out: [Scalars] = []
            for p in pieces {
                TokenPreTokenizer.splitPieces(p, Self.singleScalarMatches(p, where: CharClass.isRustNumeric),
                                              individual ? .isolated : .contiguous, into: &out)
            }
            return out
        }
    }

    /// Metaspace: spaces become `replacement`, prepended by `prepend`, then (if `split`) each
    /// piece is split before every `replacement` (HF `MergedWithNext`).
    private static func metaspace(_ pieces: [Scalars], replacement: Unicode.Scalar, prepend: PrependScheme,
                                  split: Bool, atOrigin: Bool) -> [Scalars] {
        var out: [Scalars] = []
        for (k, var p) in pieces.enumerated() {
            for i in p.indices where p[i] == " " { p[i] = replacement }
            let add = prepend == .always || (prepend == .first && k == 0 && atOrigin)
            if add && p.first != replacement { p.insert(replacement, at: 0) }
            if split {
                splitPieces(p, singleScalarMatches(p, where: { $0 == replacement }), .mergedWithNext, into: &out)
            } else if !p.isEmpty {
                out.append(p)
            }
        }
        return out
    }

    /// GPT-2 byte level: optional prefix space, optional GPT-2 regex split, then the byte map.
    private static func byteLevel(_ pieces: [Scalars], addPrefixSpace: Bool, useRegex: Bool) -> [Scalars] {
        var out: [Scalars] = []
        out.reserveCapacity(pieces.count * 2)
        for var p in pieces {
            if addPrefixSpace && p.first != " " { p.insert(" ", at: 0) }
            if useRegex {
                var i = 0
                while i < p.count {
                    let e = TextPattern.gpt2End(p, i)
                    out.append(ByteLevelMap.map(Array(p[i..<e])))
                    i = e
                }
            } else if !p.isEmpty {
                out.append(ByteLevelMap.map(p))
            }
        }
        return out
    }

    /// HF `Whitespace`: the `\w+|[^\w\s]+` runs of `p`; white space is dropped.
    private static func whitespaceWords(_ p: Scalars) -> [Scalars] {
        var out: [Scalars] = []
        var i = 0
        while i < p.count {
            let c = p[i]
            if CharClass.isSpace(c) && !CharClass.isWord(c) { i += 1; continue }
            let word = CharClass.isWord(c)
            var j = i + 1
            while j < p.count {
                let d = p[j]
                if word ? !CharClass.isWord(d) : (CharClass.isWord(d) || CharClass.isSpace(d)) { break }
                j += 1
            }
            out.append(Array(p[i..<j]))
            i = j
        }
        return out
    }

    /// HF `WhitespaceSplit`: the runs of non-White_Space of `p`.
    private static func whitespaceSplitWords(_ p: Scalars) -> [Scalars] {
        var out: [Scalars] = []
        var i = 0
        while i < p.count {
            if CharClass.isSpace(p[i]) { i += 1; continue }
            var j = i + 1
            while j < p.count && !CharClass.isSpace(p[j]) { j += 1 }
            out.append(Array(p[i..<j]))
            i = j
        }
        return out
    }

    /// The covering matches of `p` where each scalar satisfying `isMatch` is one match and the
    /// text between is one non-match (what `splitPieces` takes).
    private static func singleScalarMatches(_ p: Scalars, where isMatch: (Unicode.Scalar) -> Bool)
        -> [(Range<Int>, Bool)] {
        var m: [(Range<Int>, Bool)] = []
        var last = 0
        for (i, c) in p.enumerated() where isMatch(c) {
            if last < i { m.append((last..<i, false)) }
            m.append((i..<(i + 1), true))
            last = i + 1
        }
        if last < p.count { m.append((last..<p.count, false)) }
        return m
    }

    /// HF `NormalizedString::split`: applies `behavior` to the covering `matches` of `p`.
    static func splitPieces(_ p: Scalars, _ matches: [(Range<Int>, Bool)], _ behavior: SplitBehavior,
                            into out: inout [Scalars]) {
        var parts: [(Range<Int>, remove: Bool)] = []
        switch behavior {
        case .isolated:
            parts = matches.map { ($0.0, false) }
        case .removed:
            parts = matches.map { ($0.0, $0.1) }
        case .contiguous:
            var previous = false
            for (r, isMatch) in matches {
                if isMatch == previous, let last = parts.last {
                    parts[parts.count - 1] = (last.0.lowerBound..<r.upperBound, false)
                } else {
                    parts.append((r, false))
                }
                previous = isMatch
            }
        case .mergedWithPrevious:
            var previous = false
            for (r, isMatch) in matches {
                if isMatch && !previous, let last = parts.last {
                    parts[parts.count - 1] = (last.0.lowerBound..<r.upperBound, false)
                } else {
                    parts.append((r, false))
                }
                previous = isMatch
            }
        case .mergedWithNext:
            var previous = false
            for (r, isMatch) in matches.reversed() {
                if isMatch && !previous, let last = parts.last {
                    parts[parts.count - 1] = (r.lowerBound..<last.0.upperBound, false)
                } else {
                    parts.append((r, false))
                }
                previous = isMatch
            }
            parts.reverse()
        }
        for (r, remove) in parts where !remove && !r.isEmpty { out.append(Array(p[r])) }
    }
}
