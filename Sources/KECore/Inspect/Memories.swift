import Foundation

// MARK: Memories as knowledge sources
//
// The value vector v_i of memory i (column i of `L{l}.down.w` [D, F]) is written into the
// residual stream with weight = its coefficient. Projected onto the vocabulary with the output
// embedding W_U [V, D] (no final norm, as in Geva et al. 2022 and LM-Debugger), it shows which
// tokens the memory promotes (large W_U · v_i) and suppresses (small).
//
// For GELU models with a pending `memoryMultipliers`, the value vector is the stored one: the
// multiplier scales how strongly the memory fires, not what it writes.

/// A vocabulary token with a score.
public struct TokenScore: Sendable, Equatable {
    public var id: Int
    /// The token as text (the tokenizer's decoding of this one id).
    public var token: String
    public var score: Double
}

/// The tokens a memory promotes and suppresses.
public struct MemoryTokens: Sendable {
    public var layer: Int
    public var index: Int
    /// Highest W_U · v_i first.
    public var top: [TokenScore]
    /// Lowest W_U · v_i first.
    public var bottom: [TokenScore]
}

/// One memory with its mean |coefficient| on a corpus and the tokens it promotes.
public struct ActiveMemory: Sendable {
    public var layer: Int
    public var index: Int
    /// Mean |coefficient| over the corpus.
    public var mean: Double
    /// Its top promoted tokens.
    public var tokens: [TokenScore]
}

/// A memory found by `searchMemories`: how strongly its value vector promotes the token.
public struct MemoryMatch: Sendable, Equatable {
    public var layer: Int
    public var index: Int
    /// W_U[token] · v_i.
    public var score: Double
}

// MARK: Checks

/// Throws unless `layer` is a layer of `model`.
func checkLayer(_ model: Model, _ layer: Int) throws {
    let L = model.config.numLayers
    guard layer >= 0, layer < L else {
        throw CoreError("layer \(layer) does not exist: the model has layers 0…\(L - 1)")
    }
}

/// Throws unless `index` is a memory of a layer of `model`.
func checkMemory(_ model: Model, _ index: Int) throws {
    let F = model.config.intermediateSize
    guard index >= 0, index < F else {
        throw CoreError("memory \(index) does not exist: each layer has memories 0…\(F - 1)")
    }
}

/// The text shown for token `id`.
func tokenText(_ model: Model, _ id: Int) -> String {
    model.tokenizer.decode([id])
}

// MARK: Vocabulary projection

/// scores[t] = W_U[t] · v_i for every vocabulary token t (W_U: `lm_head`, or `embed` when tied;
/// v_i: column `index` of `L{layer}.down.w`). [V]
///
/// - Throws: `CoreError` when `layer` (0 ..< L) or `index` (0 ..< d_ff) is out of range, or the
///   weights lack the down projection or output embedding. The result has one score per vocabulary
///   entry, [V].
public func memoryScores(model: Model, layer: Int, index: Int) throws -> [Float] {
    try checkLayer(model, layer)
    try checkMemory(model, index)
    let c = model.config
    let D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize
    let p = model.f32Parameters()
    guard let down = p.slot("L\(layer).down.w"), down.count == D * F else {
        throw CoreError("internal: missing tensor L\(layer).down.w")
    }
    guard let unembed = p.slot(c.tieWordEmbeddings ? "embed" : "lm_head"), unembed.count == V * D else {
        throw CoreError("internal: missing output embedding")
    }
    var out = [Float](repeating: 0, count: V)
    p.data.withUnsafeBufferPointer { buf in
        guard let base = buf.baseAddress else { return }
        // v[D] = down.w[:, index]
        var v = [Float](repeating: 0, count: D)
        for d in 0..<D { v[d] = base[down.offset + d * F + index] }
        // out[1, V] = v[1, D] · W_U[V, D]ᵀ
        v.withUnsafeBufferPointer { vb in
            out.withUnsafeMutableBufferPointer { ob in
                guard let vp = vb.baseAddress, let op = ob.baseAddress else { return }
                linear(vp, rows: 1, inFeatures: D, weight: base + unembed.offset, outFeatures: V, bias: nil, into: op)
            }
        }
    }
    return out
}

/// Indices of the `k` largest (or smallest) values, best first; ties by lower index; NaN never
/// counts as best. Small k keeps a sorted buffer of k (one pass), large k sorts.
func extremeIndices(_ values: [Float], k: Int, largest: Bool) -> [Int] {
    let k = min(max(0, k), values.count)
    guard k > 0 else { return [] }
    // a before b: better value (NaN last), then lower index.
    func before(_ a: Int, _ b: Int) -> Bool {
        let x = values[a], y = values[b]
        if x.isNaN != y.isNaN { return y.isNaN }
        if x != y && !x.isNaN { return largest ? x > y : x < y }
        return a < b
    }
    if k > 64 { return Array(values.indices.sorted(by: before).prefix(k)) }
    var best: [Int] = []
    best.reserveCapacity(k + 1)
    for i in values.indices {
        if best.count == k, let last = best.last, !before(i, last) { continue }
        var j = best.count
        while j > 0 && before(i, best[j - 1]) { j -= 1 }
        best.insert(i, at: j)
        if best.count > k { best.removeLast() }
    }
    return best
}

/// The `top` tokens memory `index` of `layer` promotes most and the `top` it suppresses most.
///
/// - Throws: `CoreError` when `k` < 1, or as `memoryScores` does.
public func memoryTokens(model: Model, layer: Int, index: Int, top k: Int = 10) throws -> MemoryTokens {
    guard k >= 1 else { throw CoreError("top must be at least 1") }
    let s = try memoryScores(model: model, layer: layer, index: index)
    func scored(_ ids: [Int]) -> [TokenScore] {
        ids.map { TokenScore(id: $0, token: tokenText(model, $0), score: Double(s[$0])) }
    }
    return MemoryTokens(layer: layer, index: index,
                        top: scored(extremeIndices(s, k: k, largest: true)),
                        bottom: scored(extremeIndices(s, k: k, largest: false)))
}

// MARK: Most active memories

/// The `k` memories of `layer` with the largest mean |coefficient| in `stats`, each with its
/// `tokens` top promoted tokens.
///
/// - Throws: `CoreError` when `k` < 1, `layer` is outside 0 ..< L, or `stats` is not [L][d_ff] of
///   this model.
public func topMemories(model: Model, stats: CoefficientStats, layer: Int, k: Int = 10, tokens: Int = 5) throws -> [ActiveMemory] {
    try checkLayer(model, layer)
    guard k >= 1 else { throw CoreError("k must be at least 1") }
    guard layer < stats.means.count, stats.means[layer].count == model.config.intermediateSize else {
        throw CoreError("the coefficient statistics do not match this model")
    }
    let m = stats.means[layer]
    let order = m.indices.sorted { m[$0] != m[$1] ? m[$0] > m[$1] : $0 < $1 }
    return try order.prefix(k).map { i in
        let t = try memoryTokens(model: model, layer: layer, index: i, top: max(1, tokens))
        return ActiveMemory(layer: layer, index: i, mean: m[i], tokens: t.top)
    }
}

/// The `k` most active memories of `layer` on `corpus` (mean |coefficient|).
///
/// - Throws: `CoreError` as `coefficientStatistics` and the statistics form do.
public func topMemories(model: Model, corpus: Corpus, layer: Int, k: Int = 10, tokens: Int = 5,
                        progress: ProgressHandler? = nil) throws -> [ActiveMemory] {
    try checkLayer(model, layer)
    let stats = try coefficientStatistics(of: model, on: corpus, progress: progress)
    return try topMemories(model: model, stats: stats, layer: layer, k: k, tokens: tokens)
}

// MARK: Search by token

/// The vocabulary id named by `token`: a vocabulary string (`Ġthe`), else a text that encodes
/// to exactly one token (` the`).
///
/// - Throws: `CoreError` when `token` is neither a vocabulary string nor a text of exactly one
///   token (no token, or several).
public func singleTokenID(_ tokenizer: Tokenizer, _ token: String) throws -> Int {
    if let id = tokenizer.id(of: token) { return id }
    let ids = tokenizer.encode(token)
    guard ids.count == 1, let id = ids.first else {
        if ids.isEmpty { throw CoreError("\"\(token)\" gives no token") }
        let parts = ids.map { "\"\(tokenizer.token($0) ?? "?")\"" }.joined(separator: ", ")
        throw CoreError("\"\(token)\" is \(ids.count) tokens (\(parts)); give a single token")
    }
    return id
}

/// The `top` memories across all layers whose value vectors promote `tokenID` most:
/// score = W_U[tokenID] · v_i, largest first.
///
/// - Throws: `CoreError` when `tokenID` is outside 0 ..< V, `k` < 1, or the weights lack a down
///   projection or the output embedding.
public func searchMemories(model: Model, tokenID: Int, top k: Int = 10) throws -> [MemoryMatch] {
    let c = model.config
    let D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize
    guard tokenID >= 0, tokenID < V else { throw CoreError("token id \(tokenID) is outside the vocabulary of \(V)") }
    guard k >= 1 else { throw CoreError("top must be at least 1") }
    let p = model.f32Parameters()
    guard let unembed = p.slot(c.tieWordEmbeddings ? "embed" : "lm_head"), unembed.count == V * D else {
        throw CoreError("internal: missing output embedding")
    }
    var all: [MemoryMatch] = []
    all.reserveCapacity(c.numLayers * F)
    for l in 0..<c.numLayers {
        guard let down = p.slot("L\(l).down.w"), down.count == D * F else {
            throw CoreError("internal: missing tensor L\(l).down.w")
        }
        // scores[1, F] = W_U[token] [1, D] · down.w [D, F]
        var scores = [Float](repeating: 0, count: F)
        p.data.withUnsafeBufferPointer { buf in
            scores.withUnsafeMutableBufferPointer { sb in
                guard let base = buf.baseAddress, let sp = sb.baseAddress else { return }
                sgemm(m: 1, n: F, k: D, a: base + unembed.offset + tokenID * D, b: base + down.offset, c: sp)
            }
        }
        for i in 0..<F { all.append(MemoryMatch(layer: l, index: i, score: Double(scores[i]))) }
    }
    all.sort { a, b in
        if a.score != b.score { return a.score > b.score }
        return (a.layer, a.index) < (b.layer, b.index)
    }
    return Array(all.prefix(k))
}
