// MARK: The buffers of the transformer block (Block.swift)
//
// What one block's forward writes and its backward reads, and the gradient buffers its backward
// shares across layers. Shapes as in Block.swift: N rows, D hidden, qDim = H·hd, kvDim = KV·hd,
// F = d_ff.

/// The buffers of one block for one pass. The forward writes every non-nil buffer; training
/// keeps one set per layer for the backward, inference reuses one set for every layer and
/// leaves the optional buffers nil.
struct BlockActivations {
    /// Attention-norm output [N, D] (unused without an attention pre-norm).
    var h1: UnsafeMutablePointer<Float>
    /// Saved statistics of the attention pre-norm [N] (training).
    var mean1, rstd1: UnsafeMutablePointer<Float>?
    /// q and k before their RMSNorm [N, qDim], [N, kvDim], and its rstd ([N] or [N·H], [N·KV])
    /// (training, with q/k norms).
    var qRaw, kRaw, qRstd, kRstd: UnsafeMutablePointer<Float>?
    /// q, k, v before clipping (training, with `clip_qkv`).
    var qPre, kPre, vPre: UnsafeMutablePointer<Float>?
    /// q and k after RoPE, v: the attention's inputs [N, qDim], [N, kvDim].
    var q, k, v: UnsafeMutablePointer<Float>
    /// Attention probabilities, per document [H, T, T] at `probOffsets[doc]` (training).
    var probs: UnsafeMutablePointer<Float>?
    /// Attention output before the o projection [N, qDim].
    var att: UnsafeMutablePointer<Float>
    /// With post-norms: the o projection's output [N, D] and its norm's rstd [N] (training).
    var attnOut, attnOutRstd: UnsafeMutablePointer<Float>?
    /// Sequential residual: x_in + attention, the MLP's residual input [N, D] (training).
    var xMid: UnsafeMutablePointer<Float>?
    /// MLP-norm output [N, D] (unused without an MLP pre-norm; may be `h1`).
    var h2: UnsafeMutablePointer<Float>
    /// Saved statistics of the MLP pre-norm [N] (training).
    var mean2, rstd2: UnsafeMutablePointer<Float>?
    /// The activation's input [N, F]: gate·h (gated) or up·h + b. May be `coef` (inference).
    var pre: UnsafeMutablePointer<Float>
    /// up·h + b of gated MLPs [N, F].
    var up: UnsafeMutablePointer<Float>?
    /// Coefficients after the multipliers [N, F]: the down projection's input.
    var coef: UnsafeMutablePointer<Float>
    /// With post-norms: the down projection's output [N, D] and its norm's rstd [N] (training).
    var mlpOut, mlpOutRstd: UnsafeMutablePointer<Float>?
    /// Scratch [N, D] for a post-norm's output, and for compact weight tiles (see `linear`).
    var normed, weightTile: UnsafeMutablePointer<Float>

    /// Buffers from `arena` for `rows` rows of `c`. `training` adds everything the backward
    /// reads; `probFloats` is the size of the saved attention probabilities then.
    init(_ c: ModelConfig, rows N: Int, arena: Arena, training: Bool, probFloats: Int = 0, weightTiles: Bool = false) {
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> { arena.make(n, zeroed: false) }
        func keep(_ n: Int) -> UnsafeMutablePointer<Float>? { training ? buf(n) : nil }
        let D = c.hiddenSize, F = c.intermediateSize
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        let post = c.normPlacement == .afterSublayer
        h1 = buf(N * D)
        mean1 = keep(N); rstd1 = keep(N)
        let qk = training && c.qkNorm != .none
        let perHead = c.qkNorm == .perHead
        qRaw = qk ? buf(N * qDim) : nil; kRaw = qk ? buf(N * kvDim) : nil
        qRstd = qk ? buf(perHead ? N * c.numHeads : N) : nil
        kRstd = qk ? buf(perHead ? N * c.numKVHeads : N) : nil
        let clip = training && c.clipQKV != nil
        qPre = clip ? buf(N * qDim) : nil; kPre = clip ? buf(N * kvDim) : nil; vPre = clip ? buf(N * kvDim) : nil
        q = buf(N * qDim); k = buf(N * kvDim); v = buf(N * kvDim)
        probs = training ? buf(probFloats) : nil
        att = buf(N * qDim)
        attnOut = post ? buf(N * D) : nil
        attnOutRstd = post && training ? buf(N) : nil
        xMid = training && !c.parallelResidual ? buf(N * D) : nil
        h2 = training ? buf(N * D) : h1
        mean2 = keep(N); rstd2 = keep(N)
        coef = buf(N * F)
        pre = training ? buf(N * F) : coef
        up = c.gatedMLP ? buf(N * F) : nil
        mlpOut = post ? buf(N * D) : nil
        mlpOutRstd = post && training ? buf(N) : nil
        normed = buf(post ? N * D : 1)
        weightTile = buf(weightTiles ? weightTileRows * max(D, F, qDim) : 1)
    }
}

/// Gradient buffers shared by the layers of one backward pass.
struct BlockGradientBuffers {
    /// ∂L/∂h (a norm's output) [N, D]; ∂L/∂x_mid [N, D] (sequential residual); a norm's input
    /// gradient [N, max(D, qDim)].
    var dh, dmid, dnorm: UnsafeMutablePointer<Float>
    var dq, datt: UnsafeMutablePointer<Float>
    var dk, dv: UnsafeMutablePointer<Float>
    /// ∂L/∂pre (∂L/∂coef first) and ∂L/∂up [N, F].
    var dpre, dup: UnsafeMutablePointer<Float>

    init(_ c: ModelConfig, rows N: Int, arena: Arena) {
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> { arena.make(n, zeroed: false) }
        let D = c.hiddenSize, F = c.intermediateSize
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        dh = buf(N * D); dmid = buf(N * D); dnorm = buf(N * max(D, qDim))
        dq = buf(N * qDim); datt = buf(N * qDim)
        dk = buf(N * kvDim); dv = buf(N * kvDim)
        dpre = buf(N * F)
        dup = c.gatedMLP ? buf(N * F) : dpre
    }
}
