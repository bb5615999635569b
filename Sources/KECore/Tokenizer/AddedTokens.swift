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

// MARK: Numbering

/// A tokenizer.json's `added_tokens`, numbered as HF `AddedVocabulary::add_tokens` numbers them
/// when it loads the file: the list is re-added in order and the `id` fields are not used. A
/// token already known (an earlier added token, then the model vocabulary) keeps that id; any
/// other gets the next free id, counting from the model's vocabulary size (its number of
/// entries). A repeated content with identical settings is skipped; with other settings the
/// later entry replaces the earlier one under the same id.
struct AddedVocabulary {
    /// The added tokens, in the order their ids were first given (a stable matcher order).
    var tokens: [AddedToken] = []
    /// Ids of the tokens marked special.
    var specialIDs: Set<Int> = []
    /// Content of each added id.
    var contentByID: [Int: String] = [:]
    /// Id of each added content.
    var idByContent: [TokenKey: Int] = [:]

    /// Numbers `list` (the `added_tokens` value; nil or null: none) after the model vocabulary
    /// `vocabulary`.
    ///
    /// - Throws: `CoreError` naming `file`: `added_tokens` is not a list, an entry has no
    ///   `content` string or no integer `id` in range, or a new id would be out of range.
    init(_ list: JSONValue?, vocabulary vocab: [TokenKey: Int], file: String?) throws {
        var byID: [Int: AddedToken] = [:]
        var idOrder: [Int] = []
        var byContent: [TokenKey: Int] = [:]
        var specialContents: Set<TokenKey> = []
        var nextID = vocab.count
        if let list, !list.isNull {
            guard let items = list.arrayValue else { throw CoreError("\"added_tokens\" is not a list", file: file) }
            for (i, t) in items.enumerated() {
                guard var token = try Self.entry(t, index: i, file: file) else { continue }
                let key = TokenKey(token.content)
                if let known = byContent[key], let old = byID[known], old.sameSettings(as: token) { continue }
                let id: Int
                if let known = byContent[key] ?? vocab[key] {
                    id = known
                } else {
                    guard nextID < maxTokenID else {
                        throw CoreError("added token \"\(token.content)\" would get id \(nextID), out of range", file: file)
                    }
                    id = nextID
                    nextID += 1
                }
                token.id = id
                byContent[key] = id
                if token.special { specialContents.insert(key) }
                if byID[id] == nil { idOrder.append(id) }
                byID[id] = token
            }
        }
        tokens = idOrder.compactMap { byID[$0] }
        specialIDs = Set(tokens.filter { specialContents.contains(TokenKey($0.content)) }.map { $0.id })
        contentByID = byID.mapValues { $0.content }
        idByContent = byContent
    }

    /// Entry `i` of `added_tokens` (id not yet assigned), nil for an empty content (skipped).
    /// - Throws: `CoreError` naming `file` for a missing content or a missing or out-of-range id.
    static func entry(_ t: JSONValue, index i: Int, file: String?) throws -> AddedToken? {
        guard let content = t["content"]?.stringValue else {
            throw CoreError("added token \(i) has no \"content\" string", file: file)
        }
        // HF requires the field (and checks it is a u32) although it assigns its own id.
        guard let jid = t["id"]?.intValue else { throw CoreError("added token \"\(content)\" has no integer \"id\"", file: file) }
        guard jid >= 0 && jid < maxTokenID else {
            throw CoreError("added token \"\(content)\" has id \(jid), out of range", file: file)
        }
        if content.isEmpty { return nil }
        let special = t["special"]?.boolValue ?? false
        return AddedToken(
            id: -1, content: content, special: special,
            singleWord: t["single_word"]?.boolValue ?? false, lstrip: t["lstrip"]?.boolValue ?? false,
            rstrip: t["rstrip"]?.boolValue ?? false, normalized: t["normalized"]?.boolValue ?? !special)
    }
}
