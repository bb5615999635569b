import Synchronization

// MARK: BPE model
//
// HF `models::bpe`: each word starts as one symbol per scalar (with optional continuing-subword
// prefix / end-of-word suffix, byte fallback `<0xNN>`, and fused unknowns), then merges are
// applied lowest rank first, ties broken leftmost, exactly as HF's priority queue does.

/// Byte-pair encoding with a merge table.
final class BPEModel: @unchecked Sendable {
    let vocab: [TokenKey: Int]
    /// Token string of each id (nil where no token has that id).
    let vocabR: [String?]
    /// (left id << 32 | right id) → (rank, merged id).
    let merges: [UInt64: (rank: Int32, id: Int32)]
    let unkID: Int?
    let prefix: String?
    let suffix: String?
    let ignoreMerges: Bool
    let fuseUnk: Bool
    /// Ids of `<0x00>`…`<0xFF>` when byte fallback is on.
    let byteFallbackIDs: [Int]?
    /// Ids of single-scalar tokens, for the common no-prefix/suffix path.
    let scalarIDs: [UInt32: Int]

    private let cache = Mutex<[TokenKey: [Int]]>([:])
    static let cacheCapacity = 200_000

    init(json m: JSONValue, file: String?) throws {
        guard let vocabPairs = m["vocab"]?.objectValue else {
            throw CoreError("BPE model has no \"vocab\" object", file: file)
        }
        let (vocab, vocabR) = try readVocab(vocabPairs, file: file)
        self.vocab = vocab
        self.vocabR = vocabR
        if let d = m["dropout"], !d.isNull, (d.doubleValue ?? 1) != 0 {
            throw CoreError("BPE dropout is not supported (it must be null)", file: file)
        }
        func optString(_ key: String) throws -> String? {
            guard let v = m[key], !v.isNull else { return nil }
            guard let s = v.stringValue else { throw CoreError("BPE \"\(key)\" must be a string", file: file) }
            return s
        }
        let unk = try optString("unk_token")
        unkID = unk.flatMap { vocab[TokenKey($0)] }
        prefix = try optString("continuing_subword_prefix")
        suffix = try optString("end_of_word_suffix")
        ignoreMerges = m["ignore_merges"]?.boolValue ?? false
        fuseUnk = m["fuse_unk"]?.boolValue ?? false
        if m["byte_fallback"]?.boolValue ?? false {
            byteFallbackIDs = (0..<256).map { b in
                let hex = String(b, radix: 16, uppercase: true)
                return vocab[TokenKey("<0x" + (hex.count < 2 ? "0" : "") + hex + ">")] ?? -1
            }
        } else {
            byteFallbackIDs = nil
        }
        var scalarIDs: [UInt32: Int] = [:]
        for (tok, id) in vocab {
            let u = tok.string.unicodeScalars
            if u.count == 1, let f = u.first { scalarIDs[f.value] = id }
        }
        self.scalarIDs = scalarIDs

        // Merges: "a b" strings or ["a", "b"] pairs; rank = position (a later duplicate wins).
        guard let list = m["merges"]?.arrayValue else {
            throw CoreError("BPE model has no \"merges\" list", file: file)
        }
        var merges: [UInt64: (rank: Int32, id: Int32)] = [:]
        merges.reserveCapacity(list.count)
        let prefixLen = prefix?.count ?? 0
        for (rank, item) in list.enumerated() {
            let a: String, b: String
            if let s = item.stringValue {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw CoreError("BPE merge \(rank) \"\(s)\" is not two tokens separated by one space", file: file)
                }
                a = String(parts[0]); b = String(parts[1])
            } else if let arr = item.arrayValue, arr.count == 2, let x = arr[0].stringValue, let y = arr[1].stringValue {
                a = x; b = y
            } else {
                throw CoreError("BPE merge \(rank) is neither \"a b\" nor [\"a\", \"b\"]", file: file)
            }
            guard let ia = vocab[TokenKey(a)] else { throw CoreError("BPE merge \(rank) uses \"\(a)\", which is not in the vocabulary", file: file) }
            guard let ib = vocab[TokenKey(b)] else { throw CoreError("BPE merge \(rank) uses \"\(b)\", which is not in the vocabulary", file: file) }
            let merged = a + (prefixLen > 0 && b.hasPrefix(prefix ?? "") ? String(b.dropFirst(prefixLen)) : b)
            guard let im = vocab[TokenKey(merged)] else {
                throw CoreError("BPE merge \(rank) makes \"\(merged)\", which is not in the vocabulary", file: file)
            }
            merges[UInt64(ia) << 32 | UInt64(ib)] = (Int32(truncatingIfNeeded: rank), Int32(im))
        }
        self.merges = merges
    }

    // MARK: Tokenising

    /// Appends the ids of `word` to `out`.
    func tokenize(_ word: Scalars, into out: inout [Int]) {
        if word.isEmpty { return }
        let key = TokenKey(String(scalars: word))
        if ignoreMerges, let id = vocab[key] { out.append(id); return }
        if let hit = cache.withLock({ $0[key] }) { out.append(contentsOf: hit); return }
        let ids = mergeWord(word)
        out.append(contentsOf: ids)
        if word.count < 256 {
            cache.withLock { c in
                if c.count < BPEModel.cacheCapacity { c[key] = ids }
            }
        }
    }

    /// Initial symbols of `word` (HF `merge_word`), then all merges.
    func mergeWord(_ word: Scalars) -> [Int] {
        var syms: [Int32] = []
        syms.reserveCapacity(word.count)
        var pendingUnk = false
        let plain = prefix == nil && suffix == nil
        for (i, u) in word.enumerated() {
            var id: Int?
            var text: String?
            if plain {
                id = scalarIDs[u.value]
            } else {
                var s = String(u)
                if i > 0, let p = prefix { s = p + s }
                if i == word.count - 1, let x = suffix { s += x }
                id = vocab[TokenKey(s)]
                text = s
            }
            if let id {
                if pendingUnk, let unkID { syms.append(Int32(unkID)); pendingUnk = false }
                syms.append(Int32(truncatingIfNeeded: id))
                continue
            }
            if let fb = byteFallbackIDs {
                var bytes: [Int32] = []
                var ok = true
                let s = text ?? String(u)
                for b in s.utf8 {
                    let t = fb[Int(b)]
                    if t < 0 { ok = false; break }
                    bytes.append(Int32(t))
                }
                if ok { syms.append(contentsOf: bytes); continue }
            }
            if let unkID {
                if pendingUnk && !fuseUnk { syms.append(Int32(unkID)) }
                pendingUnk = true
            }
        }
        if pendingUnk, let unkID { syms.append(Int32(unkID)) }
        return applyMerges(syms)
    }

    /// HF `Word::merge_all` without dropout.
    func applyMerges(_ ids: [Int32]) -> [Int] {
        let n = ids.count
        if n < 2 || merges.isEmpty { return ids.map { Int($0) } }
        var sym = ids
        var prev = [Int](0..<n).map { $0 - 1 }
        var next = [Int](1...n).map { $0 == n ? -1 : $0 }
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        for i in 0..<(n - 1) {
            if let m = merges[UInt64(UInt32(bitPattern: sym[i])) << 32 | UInt64(UInt32(bitPattern: sym[i + 1]))] {
                heap.push(.init(rank: m.rank, pos: i, id: m.id))
            }
        }
        while let top = heap.pop() {
            let p = top.pos
            guard alive[p], next[p] >= 0 else { continue }
            let q = next[p]
            guard let m = merges[key(sym[p], sym[q])], m.id == top.id else { continue }
            sym[p] = top.id
            alive[q] = false
            next[p] = next[q]
            if next[q] >= 0 { prev[next[q]] = p }
            if prev[p] >= 0, let mm = merges[key(sym[prev[p]], sym[p])] {
                heap.push(.init(rank: mm.rank, pos: prev[p], id: mm.id))
            }
            if next[p] >= 0, let mm = merges[key(sym[p], sym[next[p]])] {
                heap.push(.init(rank: mm.rank, pos: p, id: mm.id))
            }
        }
        var out: [Int] = []
        out.reserveCapacity(n)
        for i in 0..<n where alive[i] { out.append(Int(sym[i])) }
        return out
    }

    @inline(__always) private func key(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }
}

// MARK: Merge queue

/// A binary min-heap of pending merges ordered by (rank, position).
struct MergeHeap {
    struct Entry { var rank: Int32; var pos: Int; var id: Int32 }
    private var a: [Entry] = []

    @inline(__always) private static func less(_ x: Entry, _ y: Entry) -> Bool {
        x.rank != y.rank ? x.rank < y.rank : x.pos < y.pos
    }

    mutating func push(_ e: Entry) {
        a.append(e)
        var i = a.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if !MergeHeap.less(a[i], a[p]) { break }
            a.swapAt(i, p); i = p
        }
    }

    mutating func pop() -> Entry? {
        guard let first = a.first else { return nil }
        let last = a.removeLast()
        if a.isEmpty { return first }
        a[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < a.count && MergeHeap.less(a[l], a[m]) { m = l }
            if r < a.count && MergeHeap.less(a[r], a[m]) { m = r }
            if m == i { break }
            a.swapAt(i, m); i = m
        }
        return first
    }
}

// MARK: Vocabulary

/// Largest token id accepted from a file (guards allocations against hostile input).
let maxTokenID = 1 << 24

/// Reads a `{"token": id}` vocabulary into a map and its inverse.
func readVocab(_ pairs: [(String, JSONValue)], file: String?) throws -> ([TokenKey: Int], [String?]) {
    var vocab: [TokenKey: Int] = [:]
    vocab.reserveCapacity(pairs.count)
    var maxID = -1
    for (tok, v) in pairs {
        guard let id = v.intValue else { throw CoreError("vocabulary entry \"\(tok)\" has a non-integer id", file: file) }
        guard id >= 0 && id < maxTokenID else {
            throw CoreError("vocabulary entry \"\(tok)\" has id \(id), out of range", file: file)
        }
        vocab[TokenKey(tok)] = id
        maxID = max(maxID, id)
    }
    guard maxID < 4 * vocab.count + 65_536 else {
        throw CoreError("vocabulary ids are too sparse (largest id \(maxID) for \(vocab.count) tokens)", file: file)
    }
    var r = [String?](repeating: nil, count: maxID + 1)
    for (tok, id) in vocab { r[id] = tok.string }
    return (vocab, r)
}
