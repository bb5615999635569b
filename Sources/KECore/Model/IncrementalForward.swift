import Foundation

// MARK: Incremental forward pass with a key/value cache (generation)
//
// For one sequence, each layer's keys and values (after clipping and RoPE) are kept for every
// position run so far. A step runs only the new tokens: their queries attend to the cached keys
// and values plus their own, so a generated token costs one row through every matrix instead of
// the whole sequence. The block is `blockForward`, as in the full pass; only the attention reads the
// cache, and the matrix products have other shapes, so logits agree with the full pass to rounding.

/// Keys and values of one sequence's positions so far: per layer, [capacity, KV·hd] each.
final class KVCache {
    /// Positions the cache can hold.
    let capacity: Int
    /// Positions filled so far.
    private(set) var length = 0
    let kvDim: Int
    private let storage: UnsafeMutablePointer<Float>
    private let layers: Int

    init(config c: ModelConfig, capacity: Int) {
        self.capacity = max(1, capacity)
        kvDim = c.numKVHeads * c.headDim
        layers = c.numLayers
        storage = .allocate(capacity: 2 * layers * self.capacity * kvDim)
    }

    deinit { storage.deallocate() }

    /// Keys of layer l: [capacity, KV·hd].
    func keys(_ l: Int) -> UnsafeMutablePointer<Float> { storage + (2 * l) * capacity * kvDim }
    /// Values of layer l: [capacity, KV·hd].
    func values(_ l: Int) -> UnsafeMutablePointer<Float> { storage + (2 * l + 1) * capacity * kvDim }

    fileprivate func advance(by n: Int) { length += n }
}

/// Runs `tokens` (the next positions of the sequence in `cache`) through the model, appends their
/// keys and values to the cache and returns the logits of the last one. [V]
///
/// - Parameters:
///   - tokens: M ≥ 1 token ids; they take positions `cache.length ..< cache.length + M`.
///   - rope: a RoPE table covering at least `cache.capacity` positions.
/// - Throws: `CoreError` when the cache is full, a token is outside the vocabulary, or the
///   sequence outgrows learned positions; `CancellationError` on interrupt.
func runIncremental(
    config c: ModelConfig, weights w: InferenceWeights, multipliers: MemoryMultipliers, tokens: [Int],
    cache: KVCache, rope: RopeTable, arena: Arena
) throws -> [Float] {
    let M = tokens.count, p0 = cache.length, P = p0 + M
    guard M >= 1 else { throw CoreError("internal: no tokens to run") }
    guard P <= cache.capacity else { throw CoreError("internal: key/value cache full (\(cache.capacity) positions)") }
    let D = c.hiddenSize, V = c.vocabSize, kvDim = cache.kvDim
    for t in tokens where t < 0 || t >= V { throw CoreError("token id \(t) is outside the vocabulary of \(V)") }
    if c.learnedPositions && P > c.maxPositions {
        throw CoreError("the sequence has \(P) tokens but the model has only \(c.maxPositions) positions")
    }
    arena.reset()
    let x = arena.make(M * D, zeroed: false)
    var acts = BlockActivations(c, rows: M, arena: arena, training: false, weightTiles: w.hasCompactMatrices)
    let scores = arena.make(M * P, zeroed: false)
    let ids = tokens.map { Int32($0) }
    let positions = (p0..<P).map { Int32($0) }
    try ids.withUnsafeBufferPointer { tokBuf in
        try positions.withUnsafeBufferPointer { posBuf in
            guard let tok = tokBuf.baseAddress, let pos = posBuf.baseAddress else { return }
            embeddingForward(c, embed: w.embed, posEmbed: w.posEmbed, tokens: tok, positions: pos, rows: M,
                             into: x, rowScratch: acts.h1)
            for (l, lw) in w.layers.enumerated() {
                try Cancellation.shared.check()
                let kc = cache.keys(l), vc = cache.values(l)
                acts.k = kc + p0 * kvDim
                acts.v = vc + p0 * kvDim
                try blockForward(c, layer: l, weights: lw, multipliers: multipliers, xIn: x, xOut: x, rows: M, acts: acts,
                                 attention: .cached(keys: kc, values: vc, firstPosition: p0, scores: scores),
                                 rope: rope, positions: pos)
            }
        }
    }
    cache.advance(by: M)
    let last = x + (M - 1) * D
    let h = acts.h1
    normForward(c.hiddenNorm, last, h, rows: 1, w: w.finalNormW, b: w.finalNormB)
    let logits = arena.make(V, zeroed: false)
    linear(h, rows: 1, inFeatures: D, weight: w.unembed, outFeatures: V, bias: nil, into: logits, scratch: acts.weightTile)
    return Array(UnsafeBufferPointer(start: logits, count: V))
}
