import Foundation

// MARK: Incremental forward pass with a key/value cache (generation)
//
// For one sequence, each layer's keys and values (after clipping and RoPE) are kept for every
// position run so far. A step runs only the new tokens: their queries attend to the cached keys
// and values plus their own, so a generated token costs one row through every matrix instead of
// the whole sequence. The arithmetic per row is that of `runForward`; only the shapes of the
// matrix products differ, so logits agree with the full pass to rounding.

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

/// Runs the views of `model`'s weights (bf16 or f32, as `runForward(model:…)` does) through `body`.
func withInferenceWeights<R>(_ model: Model, _ body: (InferenceWeights) throws -> R) throws -> R {
    if let compact = model.compact, model.paramsIfExpanded == nil {
        return try compact.bits.withUnsafeBufferPointer { b in
            try compact.vectors.withUnsafeBufferPointer { v in
                guard let bits = b.baseAddress else { throw CoreError("model has no parameters") }
                return try body(try InferenceWeights(compact, config: model.config, bits: bits, vectors: v.baseAddress))
            }
        }
    }
    let params = model.params
    return try params.data.withUnsafeBufferPointer { buf in
        guard let base = buf.baseAddress else { throw CoreError("model has no parameters") }
        let w = try WeightPointers(store: params, config: model.config, base: UnsafeMutablePointer(mutating: base))
        return try body(InferenceWeights(w))
    }
}

/// Runs `tokens` (the next positions of the sequence in `cache`) through the model, appends their
/// keys and values to the cache and returns the logits of the last one. [V]
///
/// - Parameters:
///   - tokens: M ≥ 1 token ids; they take positions `cache.length ..< cache.length + M`.
///   - rope: a RoPE table covering at least `cache.capacity` positions.
///   - coefficientScale: per-layer multipliers of the coefficients (as in `ForwardRequest`).
/// - Throws: `CoreError` when the cache is full, a token is outside the vocabulary, or on cancel.
func runIncremental(
    config c: ModelConfig, weights w: InferenceWeights, tokens: [Int], cache: KVCache, rope: RopeTable,
    coefficientScale: [[Float]?], arena: Arena
) throws -> [Float] {
    let M = tokens.count, p0 = cache.length, P = p0 + M
    guard M >= 1 else { throw CoreError("internal: no tokens to run") }
    guard P <= cache.capacity else { throw CoreError("internal: key/value cache full (\(cache.capacity) positions)") }
    let D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize
    let qDim = c.numHeads * c.headDim, kvDim = cache.kvDim
    for t in tokens where t < 0 || t >= V { throw CoreError("token id \(t) is outside the vocabulary of \(V)") }
    if c.learnedPositions && P > c.maxPositions {
        throw CoreError("the sequence has \(P) tokens but the model has only \(c.maxPositions) positions")
    }
    arena.reset()
    func buffer(_ n: Int) -> UnsafeMutablePointer<Float> { arena.make(n, zeroed: false) }
    let x = buffer(M * D), h = buffer(M * D)
    let q = buffer(M * qDim), att = buffer(M * qDim)
    let a = buffer(M * F), u = buffer(c.gatedMLP ? M * F : 1)
    let scores = buffer(M * P)
    let wt = buffer(w.embed.isBF16 ? bf16TileRows * max(D, F, qDim) : 1)
    let positions = (p0..<P).map { Int32($0) }
    let L = AttentionLayout(c)

    for r in 0..<M {
        w.embed.row(tokens[r], width: D, into: x + r * D)
        if let pe = w.posEmbed {
            pe.row(p0 + r, width: D, into: h)
            for j in 0..<D { x[r * D + j] += h[j] }
        }
    }
    for (l, lw) in w.layers.enumerated() {
        try Cancellation.shared.check()
        let kc = cache.keys(l), vc = cache.values(l)
        let k = kc + p0 * kvDim, v = vc + p0 * kvDim
        normForward(c, x, h, rows: M, w: lw.attnNormW, b: lw.attnNormB)
        linear(h, rows: M, inFeatures: D, weight: lw.q, outFeatures: qDim, bias: lw.qB, into: q, scratch: wt)
        linear(h, rows: M, inFeatures: D, weight: lw.k, outFeatures: kvDim, bias: lw.kB, into: k, scratch: wt)
        linear(h, rows: M, inFeatures: D, weight: lw.v, outFeatures: kvDim, bias: lw.vB, into: v, scratch: wt)
        if let clip = c.clipQKV {
            for i in 0..<(M * qDim) { q[i] = min(max(q[i], -clip), clip) }
            for i in 0..<(M * kvDim) { k[i] = min(max(k[i], -clip), clip); v[i] = min(max(v[i], -clip), clip) }
        }
        positions.withUnsafeBufferPointer { pos in
            guard let pp = pos.baseAddress else { return }
            applyRope(q, rows: M, stride: qDim, heads: c.numHeads, headDim: c.headDim, positions: pp, table: rope)
            applyRope(k, rows: M, stride: kvDim, heads: c.numKVHeads, headDim: c.headDim, positions: pp, table: rope)
        }
        // Attention of the M new rows over all P cached positions; row i sees positions ≤ p0 + i.
        for hh in 0..<L.heads {
            let qh = q + L.q(0, hh), kh = kc + L.kv(0, hh), vh = vc + L.kv(0, hh)
            sgemm(transB: true, m: M, n: P, k: L.headDim, alpha: L.scale, a: qh, lda: L.qStride, b: kh, ldb: L.kvStride,
                  c: scores, ldc: P)
            for i in 0..<M {
                let row = scores + i * P, n = p0 + i + 1
                let mx = vmax(row, count: n)
                let inv = 1 / expShiftedInPlace(row, count: n, shift: mx)
                for j in 0..<n { row[j] *= inv }
                for j in n..<P { row[j] = 0 }
            }
            sgemm(m: M, n: L.headDim, k: P, a: scores, lda: P, b: vh, ldb: L.kvStride, c: att + L.q(0, hh), ldc: L.qStride)
        }
        if c.parallelResidual {
            normForward(c, x, h, rows: M, w: lw.mlpNormW, b: lw.mlpNormB)
            linear(att, rows: M, inFeatures: qDim, weight: lw.o, outFeatures: D, bias: lw.oB, into: x, accumulate: true, scratch: wt)
        } else {
            linear(att, rows: M, inFeatures: qDim, weight: lw.o, outFeatures: D, bias: lw.oB, into: x, accumulate: true, scratch: wt)
            normForward(c, x, h, rows: M, w: lw.mlpNormW, b: lw.mlpNormB)
        }
        if let gw = lw.gate {
            linear(h, rows: M, inFeatures: D, weight: gw, outFeatures: F, bias: nil, into: a, scratch: wt)
            linear(h, rows: M, inFeatures: D, weight: lw.up, outFeatures: F, bias: lw.upB, into: u, scratch: wt)
            activateInPlace(a, count: M * F, c.activation, times: u)
        } else {
            linear(h, rows: M, inFeatures: D, weight: lw.up, outFeatures: F, bias: lw.upB, into: a, scratch: wt)
            activateInPlace(a, count: M * F, c.activation)
        }
        if l < coefficientScale.count, let mult = coefficientScale[l] {
            for r in 0..<M { for j in 0..<F { a[r * F + j] *= mult[j] } }
        }
        linear(a, rows: M, inFeatures: F, weight: lw.down, outFeatures: D, bias: lw.downB, into: x, accumulate: true, scratch: wt)
    }
    cache.advance(by: M)
    let last = x + (M - 1) * D
    normForward(c, last, h, rows: 1, w: w.finalNormW, b: w.finalNormB)
    let logits = buffer(V)
    linear(h, rows: 1, inFeatures: D, weight: w.unembed, outFeatures: V, bias: nil, into: logits, scratch: wt)
    return Array(UnsafeBufferPointer(start: logits, count: V))
}
