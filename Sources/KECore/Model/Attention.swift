// MARK: Causal self-attention, forward and backward
//
// Queries, keys and values are packed rows: q [N, H·hd], k and v [N, KV·hd]. Attention runs per
// document and head on strided views of them, so documents never attend to each other. A query
// at position i sees the keys at positions lo(i)…i of its own document, where lo(i) = 0 for full
// causal attention and i − window + 1 for a sliding window (transformers' `sliding_window`: a
// key is visible when q_idx − kv_idx < window).

/// Where each head's rows live in q, k and v, and how scores are scaled and masked, for one layer.
struct AttentionLayout {
    let heads, headDim: Int
    /// Row strides of q (and of its gradient and the attention output) and of k/v.
    let qStride, kvStride: Int
    /// Query heads per key/value head.
    let group: Int
    /// Multiplies q·kᵀ: 1/√hd, further divided by l + 1 under GPT-2's
    /// `scale_attn_by_inverse_layer_idx`.
    let scale: Float
    /// The sliding window of this layer (nil: full causal attention).
    let window: Int?

    init(_ c: ModelConfig, layer l: Int) {
        heads = c.numHeads; headDim = c.headDim
        qStride = c.numHeads * c.headDim; kvStride = c.numKVHeads * c.headDim
        group = c.numHeads / c.numKVHeads
        let base = 1 / Float(c.headDim).squareRoot()
        scale = c.scaleAttentionByInverseLayerIndex ? base / Float(l + 1) : base
        window = c.slidingWindow(layer: l)
    }

    /// Offset of query head h of the document starting at row `start`.
    @inline(__always) func q(_ start: Int, _ h: Int) -> Int { start * qStride + h * headDim }
    /// Offset of the key/value head serving query head h.
    @inline(__always) func kv(_ start: Int, _ h: Int) -> Int { start * kvStride + (h / group) * headDim }
    /// The first key position visible to the query at position `i`.
    @inline(__always) func firstVisible(_ i: Int) -> Int {
        guard let window else { return 0 }
        return max(0, i - window + 1)
    }
}

/// In place on a row of `width` scores: softmax over positions lo…hi, zero elsewhere.
@inline(__always)
func maskedSoftmax(_ row: UnsafeMutablePointer<Float>, width: Int, lo: Int, hi: Int) {
    for j in 0..<lo { row[j] = 0 }
    let mx = vmax(row + lo, count: hi - lo + 1)
    let inv = 1 / expShiftedInPlace(row + lo, count: hi - lo + 1, shift: mx)
    for j in lo...hi { row[j] *= inv }
    for j in (hi + 1)..<width { row[j] = 0 }
}

/// Attention of a packed batch of whole documents.
///
/// q [N, H·hd], k/v [N, KV·hd] → out [N, H·hd]. `probs`, when given, receives each document's
/// attention probabilities for the backward pass ([H, T, T] per document at `probOffsets[doc]`);
/// otherwise `scratch` (≥ T·T floats for the longest document) holds one head's at a time.
func attentionForward(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>, batch: PackedBatch, layout L: AttentionLayout,
    scratch: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>? = nil,
    probOffsets: [Int]? = nil
) {
    let hd = L.headDim, qStride = L.qStride, kvStride = L.kvStride
    for (d, start) in batch.starts.enumerated() {
        let T = batch.lengths[d]
        for h in 0..<L.heads {
            let qh = q + L.q(start, h), kh = k + L.kv(start, h), vh = v + L.kv(start, h)
            let s: UnsafeMutablePointer<Float>
            if let probs, let probOffsets { s = probs + probOffsets[d] + h * T * T } else { s = scratch }
            // s[T, T] = scale · q_h · k_hᵀ
            sgemm(transB: true, m: T, n: T, k: hd, alpha: L.scale, a: qh, lda: qStride, b: kh, ldb: kvStride, c: s, ldc: T)
            for i in 0..<T { maskedSoftmax(s + i * T, width: T, lo: L.firstVisible(i), hi: i) }
            // out_h[T, hd] = s · v_h
            sgemm(m: T, n: hd, k: T, a: s, lda: T, b: vh, ldb: kvStride, c: out + L.q(start, h), ldc: qStride)
        }
    }
}

/// Attention of M new rows of one sequence over a key/value cache: the rows are positions
/// p0 … p0 + M − 1, and `keys`/`values` [p0 + M, KV·hd] hold every position so far, theirs
/// included. q [M, H·hd] → out [M, H·hd]; `scores` holds M·(p0 + M) floats.
func attentionForward(
    q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, firstPosition p0: Int,
    rows M: Int, out: UnsafeMutablePointer<Float>, layout L: AttentionLayout, scores: UnsafeMutablePointer<Float>
) {
    let P = p0 + M
    for h in 0..<L.heads {
        let qh = q + L.q(0, h), kh = keys + L.kv(0, h), vh = values + L.kv(0, h)
        sgemm(transB: true, m: M, n: P, k: L.headDim, alpha: L.scale, a: qh, lda: L.qStride, b: kh, ldb: L.kvStride,
              c: scores, ldc: P)
        for i in 0..<M { maskedSoftmax(scores + i * P, width: P, lo: L.firstVisible(p0 + i), hi: p0 + i) }
        sgemm(m: M, n: L.headDim, k: P, a: scores, lda: P, b: vh, ldb: L.kvStride, c: out + L.q(0, h), ldc: L.qStride)
    }
}

/// Backward of the packed `attentionForward`: given ∂L/∂out [N, H·hd] and the saved
/// probabilities, fills dq [N, H·hd] (overwritten) and adds into dk, dv [N, KV·hd] (which must
/// start at zero); query heads of one group add into their shared key/value head. Masked
/// positions have probability 0, so they receive no gradient.
func attentionBackward(
    dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    probs: UnsafePointer<Float>, probOffsets: [Int], batch: PackedBatch, layout L: AttentionLayout,
    dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
    scratch dP: UnsafeMutablePointer<Float>
) {
    let hd = L.headDim, qStride = L.qStride, kvStride = L.kvStride, scale = L.scale
    for (d, start) in batch.starts.enumerated() {
        let T = batch.lengths[d]
        for h in 0..<L.heads {
            let P = probs + probOffsets[d] + h * T * T                // [T, T]
            let qo = L.q(start, h), kvo = L.kv(start, h)             // [T, hd] views, strides qStride / kvStride
            let dOh = dOut + qo, qh = q + qo, dqh = dq + qo
            let kh = k + kvo, vh = v + kvo, dkh = dk + kvo, dvh = dv + kvo
            // dP[T, T] = dO_h · v_hᵀ
            sgemm(transB: true, m: T, n: T, k: hd, a: dOh, lda: qStride, b: vh, ldb: kvStride, c: dP, ldc: T)
            // dv_h[T, hd] += Pᵀ · dO_h
            sgemm(transA: true, m: T, n: hd, k: T, a: P, lda: T, b: dOh, ldb: qStride, beta: 1, c: dvh, ldc: kvStride)
            // Softmax backward in place: dS = P ⊙ (dP − Σ_j P·dP) over the visible keys, 0 elsewhere.
            for i in 0..<T {
                let pr = P + i * T, gr = dP + i * T, lo = L.firstVisible(i)
                var dot: Float = 0
                for j in lo...i { dot += pr[j] * gr[j] }
                for j in 0..<lo { gr[j] = 0 }
                for j in lo...i { gr[j] = pr[j] * (gr[j] - dot) }
                for j in (i + 1)..<T { gr[j] = 0 }
            }
            // S = scale · q_h · k_hᵀ: dq_h = scale · dS · k_h, dk_h += scale · dSᵀ · q_h
            sgemm(m: T, n: hd, k: T, alpha: scale, a: dP, lda: T, b: kh, ldb: kvStride, c: dqh, ldc: qStride)
            sgemm(transA: true, m: T, n: hd, k: T, alpha: scale, a: dP, lda: T, b: qh, ldb: qStride,
                  beta: 1, c: dkh, ldc: kvStride)
        }
    }
}
