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

// MARK: Skipping the masked half
//
// No query sees a later key, so above the diagonal every score is masked, every probability and
// every gradient of a score is 0, and products over those keys add nothing. Attention therefore
// runs in blocks of `causalBlockRows` queries: the block ending at query row r1 (position
// p0 + r1 − 1) scores keys 0..<kr only, kr = p0 + r1 rounded up to `causalKeyColumns` (at most
// the key count), masks the scores above the diagonal inside the block as before, and multiplies
// P·V over keys 0..<kr; the backward mirrors it (dP, dS and dq by query blocks, dk and dv by key
// blocks over the queries from the block's first key on). The products then do 81 % of the
// multiply-adds of the full ones at T = 64, 67 % at T = 128, 59 % at T = 256, tending to half.
// A sliding window's leading masked keys are still computed and masked (every window in use is
// longer than the documents scored here).
//
// The same bits as the full T × T products. A kept score, probability or score gradient is an
// element of the same product with the same row of A, column of B and k (`fixedOrderGEMM`: one
// fma chain per element, independent of the other rows and columns of the call). A product over
// keys (P·V, dS·k) or queries (Pᵀ·dO, dSᵀ·q) only drops terms fma(+0, x, acc) whose coefficient
// is a masked 0 (written as +0): trailing terms (P·V, dS·k: keys after kr) and leading ones
// (Pᵀ·dO, dSᵀ·q: queries before the key block, accumulated into dv, dk). For finite x, +0·x is
// ±0, and acc + (±0) = acc for every acc except acc = −0 with +0·x = +0, whose sum is +0. A chain
// that starts at +0 (β = 0, or dk/dv zeroed by the caller) holds −0 only after an fma whose exact
// nonzero result has magnitude ≤ 2⁻¹⁵⁰ and rounds to −0, so without such an underflow the
// results are bit-identical; with one, at most the sign of a zero result can differ. AttentionTests
// compares both formulations bit for bit (ragged document lengths, GQA, windows, signed zeros).

/// Query rows per block: each block computes keys up to its last row, so smaller blocks skip
/// more of the masked half but make more, smaller products, and pack the keys and values again
/// for each. 48 is a multiple of the register tile's 6 rows and of 16 columns; by instruction
/// count (callgrind, attention alone) it beat 32, 64 and 96 at T = 128 and 256, head dim 64
/// (−16 % to −30 % against the full products); at T = 64, head dim 16 every size is within ±2 %.
let causalBlockRows = 48

/// A block's key count is rounded up to a multiple of this: the width of the narrow (AVX2)
/// register tile, so a block's scores need no edge tile (the extra keys are masked).
let causalKeyColumns = 16

/// The keys a block of queries reads: 0..<kr for the block ending before row r1 of rows whose
/// first position is p0, out of P keys (positions 0..<P).
@inline(__always)
func causalBlockKeys(endRow r1: Int, firstPosition p0: Int, keys P: Int) -> Int {
    min(P, roundUp(p0 + r1, causalKeyColumns))
}

/// One head's attention, block by block, for M query rows at positions p0 … p0 + M − 1 over keys
/// 0 ..< p0 + M: q [M, hd] (row stride L.qStride), k, v [p0 + M, hd] (L.kvStride) → out [M, hd]
/// (L.qStride). `s` receives the probabilities, row i at s + i·ld, keys 0..<kr of its block
/// (the rest of the row is not written).
@inline(__always)
private func causalHeadForward(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, rows M: Int, firstPosition p0: Int,
    out: UnsafeMutablePointer<Float>, scores s: UnsafeMutablePointer<Float>, ld: Int, layout L: AttentionLayout
) {
    let hd = L.headDim, qStride = L.qStride, kvStride = L.kvStride
    for r0 in stride(from: 0, to: M, by: causalBlockRows) {
        let r1 = min(M, r0 + causalBlockRows), kr = causalBlockKeys(endRow: r1, firstPosition: p0, keys: p0 + M)
        let sb = s + r0 * ld
        // s[r0..<r1, 0..<kr] = scale · q · kᵀ
        sgemm(transB: true, m: r1 - r0, n: kr, k: hd, alpha: L.scale, a: q + r0 * qStride, lda: qStride,
              b: k, ldb: kvStride, c: sb, ldc: ld)
        for i in r0..<r1 { maskedSoftmax(s + i * ld, width: kr, lo: L.firstVisible(p0 + i), hi: p0 + i) }
        // out[r0..<r1] = s · v over keys 0..<kr
        sgemm(m: r1 - r0, n: hd, k: kr, a: sb, lda: ld, b: v, ldb: kvStride, c: out + r0 * qStride, ldc: qStride)
    }
}

/// Attention of a packed batch of whole documents.
///
/// q [N, H·hd], k/v [N, KV·hd] → out [N, H·hd]. `probs`, when given, receives each document's
/// attention probabilities for the backward pass ([H, T, T] per document at `probOffsets[doc]`;
/// of row i only the keys of its block, `causalBlockKeys`, are written); otherwise `scratch`
/// (≥ T·T floats for the longest document) holds one head's at a time.
func attentionForward(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>, batch: PackedBatch, layout L: AttentionLayout,
    scratch: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>? = nil,
    probOffsets: [Int]? = nil
) {
    for (d, start) in batch.starts.enumerated() {
        let T = batch.lengths[d]
        for h in 0..<L.heads {
            let s: UnsafeMutablePointer<Float>
            if let probs, let probOffsets { s = probs + probOffsets[d] + h * T * T } else { s = scratch }
            causalHeadForward(q: q + L.q(start, h), k: k + L.kv(start, h), v: v + L.kv(start, h), rows: T,
                              firstPosition: 0, out: out + L.q(start, h), scores: s, ld: T, layout: L)
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
    for h in 0..<L.heads {
        causalHeadForward(q: q + L.q(0, h), k: keys + L.kv(0, h), v: values + L.kv(0, h), rows: M,
                          firstPosition: p0, out: out + L.q(0, h), scores: scores, ld: p0 + M, layout: L)
    }
}

/// Backward of the packed `attentionForward`: given ∂L/∂out [N, H·hd] and the saved
/// probabilities, fills dq [N, H·hd] (overwritten) and adds into dk, dv [N, KV·hd] (which must
/// start at zero); query heads of one group add into their shared key/value head. Masked
/// positions have probability 0, so they receive no gradient. `dP` holds T·T floats.
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
            let P = probs + probOffsets[d] + h * T * T                // [T, T], row i: keys of its block
            let qo = L.q(start, h), kvo = L.kv(start, h)             // [T, hd] views, strides qStride / kvStride
            let dOh = dOut + qo, qh = q + qo, dqh = dq + qo
            let kh = k + kvo, vh = v + kvo, dkh = dk + kvo, dvh = dv + kvo
            for r0 in stride(from: 0, to: T, by: causalBlockRows) {
                let r1 = min(T, r0 + causalBlockRows), kr = causalBlockKeys(endRow: r1, firstPosition: 0, keys: T)
                // dP[r0..<r1, 0..<kr] = dO_h · v_hᵀ, then dS = P ⊙ (dP − Σ_j P·dP) in place.
                sgemm(transB: true, m: r1 - r0, n: kr, k: hd, a: dOh + r0 * qStride, lda: qStride, b: vh, ldb: kvStride,
                      c: dP + r0 * T, ldc: T)
                for i in r0..<r1 {
                    softmaxBackward(dP + i * T, probs: P + i * T, width: kr, lo: L.firstVisible(i), hi: i, scale: scale)
                }
                // S = scale · q_h · k_hᵀ: dq_h[r0..<r1] = (scale · dS) · k_h over keys 0..<kr.
                sgemm(m: r1 - r0, n: hd, k: kr, a: dP + r0 * T, lda: T, b: kh, ldb: kvStride, c: dqh + r0 * qStride, ldc: qStride)
            }
            // Keys c0..<c1 get gradient from queries c0..<T only (rows c0… hold keys through c1).
            for c0 in stride(from: 0, to: T, by: causalBlockRows) {
                let c1 = min(T, c0 + causalBlockRows), corner = c0 * T + c0
                // dv_h[c0..<c1] += Pᵀ · dO_h, dk_h[c0..<c1] += (scale · dS)ᵀ · q_h
                sgemm(transA: true, m: c1 - c0, n: hd, k: T - c0, a: P + corner, lda: T, b: dOh + c0 * qStride,
                      ldb: qStride, beta: 1, c: dvh + c0 * kvStride, ldc: kvStride)
                sgemm(transA: true, m: c1 - c0, n: hd, k: T - c0, a: dP + corner, lda: T, b: qh + c0 * qStride,
                      ldb: qStride, beta: 1, c: dkh + c0 * kvStride, ldc: kvStride)
            }
        }
    }
}

/// Softmax backward in place on one row of `width` score gradients: scale · dS, dS = P ⊙ (dP −
/// Σ_j P·dP) over the visible keys lo…hi, 0 elsewhere. `row` holds dP on entry. The product
/// with `scale` is the rounded α·A[i,k] that `sgemm(alpha: scale)` formed while packing dS, done
/// once here for both products that read dS (dq and dk), which then read it in place, unpacked.
@inline(__always)
private func softmaxBackward(_ row: UnsafeMutablePointer<Float>, probs pr: UnsafePointer<Float>, width: Int, lo: Int, hi: Int,
                             scale: Float) {
    var dot: Float = 0
    for j in lo...hi { dot += pr[j] * row[j] }
    for j in 0..<lo { row[j] = 0 }
    for j in lo...hi { row[j] = scale * (pr[j] * (row[j] - dot)) }
    for j in (hi + 1)..<width { row[j] = 0 }
}
