// MARK: Added tokens
//
// HF `AddedVocabulary`: `added_tokens` are cut out of the text before the model sees it, longest
// match first (leftmost-longest, like HF's Aho–Corasick), honouring `single_word`, `lstrip` and
// `rstrip`. Tokens with `normalized: false` are matched on the raw text; the others on each
// normalized piece.

/// One entry of `added_tokens`.
struct AddedToken {
    var id: Int
    var content: String
    var special: Bool
    var singleWord: Bool
    var lstrip: Bool
    var rstrip: Bool
    var normalized: Bool

    /// Equal apart from the id (HF compares `AddedToken`s, which carry no id).
    func sameSettings(as o: AddedToken) -> Bool {
        content == o.content && special == o.special && singleWord == o.singleWord && lstrip == o.lstrip
            && rstrip == o.rstrip && normalized == o.normalized
    }
}

/// A piece of text, or an added token already resolved to its id.
enum TextSegment {
    case text(Scalars)
    case token(Int)
}

/// A scalar trie that finds added tokens, leftmost-longest.
struct AddedTokenMatcher {
    private var children: [[UInt32: Int32]] = [[:]]
    /// Index into `tokens` of the token ending at each node, or -1.
    private var terminal: [Int] = [-1]
    private var tokens: [AddedToken] = []
    /// Scalars that start some token: ASCII in a table, the rest in a set.
    private var firstASCII = [Bool](repeating: false, count: 128)
    private var firstOther: Set<UInt32> = []

    var isEmpty: Bool { tokens.isEmpty }

    /// Adds `token`, matched as `pattern` (its content, normalized if it is a normalized token).
    mutating func add(_ token: AddedToken, pattern: Scalars) {
        guard let f = pattern.first else { return }
        if f.value < 128 { firstASCII[Int(f.value)] = true } else { firstOther.insert(f.value) }
        var node = 0
        for u in pattern {
            if let c = children[node][u.value] {
                node = Int(c)
            } else {
                children.append([:]); terminal.append(-1)
                children[node][u.value] = Int32(children.count - 1)
                node = children.count - 1
            }
        }
        if terminal[node] < 0 {  // the first token with a given pattern wins
            tokens.append(token)
            terminal[node] = tokens.count - 1
        }
    }

    /// The leftmost-longest match at or after `from`: (start, end, token).
    private func find(_ s: Scalars, from: Int) -> (Int, Int, AddedToken)? {
        var i = from
        while i < s.count {
            let v = s[i].value
            if v < 128 ? firstASCII[Int(v)] : (!firstOther.isEmpty && firstOther.contains(v)) {
                var node = 0, j = i, best = -1, bestEnd = i
                while j < s.count, let c = children[node][s[j].value] {
                    node = Int(c); j += 1
                    if terminal[node] >= 0 { best = terminal[node]; bestEnd = j }
                }
                if best >= 0 { return (i, bestEnd, tokens[best]) }
            }
            i += 1
        }
        return nil
    }

    /// HF `AddedVocabulary::find_matches` followed by the split: text and token segments.
    func split(_ s: Scalars, into out: inout [TextSegment]) {
        if isEmpty || s.isEmpty {
            if !s.isEmpty { out.append(.text(s)) }
            return
        }
        var startOffset = 0
        var searchFrom = 0
        while let (mStart, mEnd, tok) = find(s, from: searchFrom) {
            searchFrom = mEnd
            var start = mStart, stop = mEnd
            if tok.singleWord {
                let startSpace = start == 0 || !AddedTokenMatcher.isWordChar(s[start - 1])
                let stopSpace = stop == s.count || !AddedTokenMatcher.isWordChar(s[stop])
                if !startSpace || !stopSpace { continue }
            }
            if tok.lstrip {
                var k = start
                while k > 0 && CharClass.isSpace(s[k - 1]) { k -= 1 }
                start = max(k, startOffset)
            }
            if tok.rstrip {
                while stop < s.count && CharClass.isSpace(s[stop]) { stop += 1 }
            }
            if startOffset < start { out.append(.text(Array(s[startOffset..<start]))) }
            out.append(.token(tok.id))
            startOffset = stop
        }
        if startOffset < s.count { out.append(.text(Array(s[startOffset...]))) }
    }

    /// Rust regex `\w`, as HF's single-word test (`\w$` / `^\w`).
    static func isWordChar(_ u: Unicode.Scalar) -> Bool { CharClass.isWord(u) }
}
