// MARK: The transformer block, forward and backward
//
// One block, written once for every architecture and every pass (inference, training,
// generation with a key/value cache). With pre-norms (GPT-2, GPT-NeoX, Llama, OLMo, Qwen,
// Mistral, Gemma) and a sequential residual:
//
//     x = x + attn(norm₁(x))
//     x = x + mlp(norm₂(x))
//
// GPT-NeoX's parallel residual reads both branches from the layer input:
// x = x + attn(norm₁(x)) + mlp(norm₂(x)). OLMo 2 and 3 norm the branch outputs instead:
// x = x + norm₁(attn(x)), x = x + norm₂(mlp(x)).
//
// attn: q, k, v projections; optional q/k RMSNorm; optional clipping (OLMo `clip_qkv`); RoPE;
// causal (optionally sliding-window) attention; o projection.
// mlp: coefficients a = act(gate·h)·(up·h) (gated) or act(up·h + b); memory multipliers;
// y = down·a + b. The coefficients are the paper's memory coefficients.
//
// Shapes: N rows, D hidden, qDim = H·hd, kvDim = KV·hd, F = d_ff.

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

/// How the block's attention finds its keys and values.
enum BlockAttention {
    /// Whole documents packed in the rows; `scratch` holds T·T floats for the longest one.
    case packed(PackedBatch, probOffsets: [Int]?, scratch: UnsafeMutablePointer<Float>)
    /// The rows are the next positions of one sequence whose earlier keys and values are in the
    /// cache; `acts.k`/`acts.v` point at the cache rows of the new positions.
    case cached(keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>, firstPosition: Int,
                scores: UnsafeMutablePointer<Float>)
}

/// Layer `l` on `rows` rows: xOut = block(xIn). `xOut` may be `xIn` (updated in place).
/// `observe` sees the coefficients [N, F] after the multipliers, before the down projection.
func blockForward(
    _ c: ModelConfig, layer l: Int, weights lw: LayerTensors<MatrixWeights, UnsafePointer<Float>>,
    multipliers: MemoryMultipliers, xIn: UnsafePointer<Float>, xOut: UnsafeMutablePointer<Float>, rows N: Int,
    acts a: BlockActivations, attention: BlockAttention, rope: RopeTable, positions: UnsafePointer<Int32>,
    observe: ((UnsafeMutablePointer<Float>) throws -> Void)? = nil
) throws {
    let D = c.hiddenSize, F = c.intermediateSize
    let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
    let norm = c.hiddenNorm, wt = a.weightTile
    let preNorms = c.normPlacement == .beforeSublayer

    // Attention: h = norm₁(x); q, k, v; q/k norms; clipping; RoPE; attention.
    var h = xIn
    if preNorms {
        normForward(norm, xIn, a.h1, rows: N, w: lw.attnNormW, b: lw.attnNormB, saveMean: a.mean1, saveRstd: a.rstd1)
        h = UnsafePointer(a.h1)
    }
    linear(h, rows: N, inFeatures: D, weight: lw.q, outFeatures: qDim, bias: lw.qBias, into: a.q, scratch: wt)
    linear(h, rows: N, inFeatures: D, weight: lw.k, outFeatures: kvDim, bias: lw.kBias, into: a.k, scratch: wt)
    linear(h, rows: N, inFeatures: D, weight: lw.v, outFeatures: kvDim, bias: lw.vBias, into: a.v, scratch: wt)
    if let (qn, kn) = c.queryKeyNorms() {
        let qRows = N * qDim / qn.dim, kRows = N * kvDim / kn.dim
        if let qr = a.qRaw, let kr = a.kRaw {
            qr.update(from: a.q, count: N * qDim)
            kr.update(from: a.k, count: N * kvDim)
        }
        normForward(qn, a.q, a.q, rows: qRows, w: lw.qNorm, b: nil, saveRstd: a.qRstd)
        normForward(kn, a.k, a.k, rows: kRows, w: lw.kNorm, b: nil, saveRstd: a.kRstd)
    }
    if let clip = c.clipQKV {
        if let qp = a.qPre, let kp = a.kPre, let vp = a.vPre {
            qp.update(from: a.q, count: N * qDim)
            kp.update(from: a.k, count: N * kvDim)
            vp.update(from: a.v, count: N * kvDim)
        }
        for i in 0..<(N * qDim) { a.q[i] = min(max(a.q[i], -clip), clip) }
        for i in 0..<(N * kvDim) { a.k[i] = min(max(a.k[i], -clip), clip); a.v[i] = min(max(a.v[i], -clip), clip) }
    }
    applyRope(a.q, rows: N, stride: qDim, heads: c.numHeads, headDim: c.headDim, positions: positions, table: rope)
    applyRope(a.k, rows: N, stride: kvDim, heads: c.numKVHeads, headDim: c.headDim, positions: positions, table: rope)
    let layout = AttentionLayout(c, layer: l)
    switch attention {
    case .packed(let batch, let probOffsets, let scratch):
        attentionForward(q: a.q, k: a.k, v: a.v, out: a.att, batch: batch, layout: layout, scratch: scratch,
                         probs: a.probs, probOffsets: probOffsets)
    case .cached(let keys, let values, let p0, let scores):
        attentionForward(q: a.q, keys: keys, values: values, firstPosition: p0, rows: N, out: a.att,
                         layout: layout, scores: scores)
    }

    // The parallel residual's MLP reads the layer input: norm it before xOut overwrites it.
    if c.parallelResidual {
        normForward(norm, xIn, a.h2, rows: N, w: lw.mlpNormW, b: lw.mlpNormB, saveMean: a.mean2, saveRstd: a.rstd2)
    }
    // Residual: xOut = xIn + o·att (+ b), or xIn + norm(o·att) with post-norms.
    if let out = a.attnOut {
        linear(a.att, rows: N, inFeatures: qDim, weight: lw.o, outFeatures: D, bias: lw.oBias, into: out, scratch: wt)
        normForward(norm, out, a.normed, rows: N, w: lw.postAttnNorm, b: nil, saveRstd: a.attnOutRstd)
        addRows(xIn, a.normed, into: xOut, count: N * D)
    } else {
        if xOut != UnsafeMutablePointer(mutating: xIn) { xOut.update(from: xIn, count: N * D) }
        linear(a.att, rows: N, inFeatures: qDim, weight: lw.o, outFeatures: D, bias: lw.oBias, into: xOut, accumulate: true, scratch: wt)
    }

    // MLP input: the sequential residual reads x_in + attention.
    var hm = UnsafePointer(a.h2)
    if !c.parallelResidual {
        var mid = UnsafePointer(xOut)
        if let saved = a.xMid { saved.update(from: xOut, count: N * D); mid = UnsafePointer(saved) }
        if preNorms {
            normForward(norm, mid, a.h2, rows: N, w: lw.mlpNormW, b: lw.mlpNormB, saveMean: a.mean2, saveRstd: a.rstd2)
        } else {
            hm = mid
        }
    }

    // Coefficients a[N, F], one activation per row (so a row's values do not depend on the others).
    if let gw = lw.gate, let up = a.up {
        linear(hm, rows: N, inFeatures: D, weight: gw, outFeatures: F, bias: lw.gateBias, into: a.pre, scratch: wt)
        linear(hm, rows: N, inFeatures: D, weight: lw.up, outFeatures: F, bias: lw.upBias, into: up, scratch: wt)
        if a.coef != a.pre { a.coef.update(from: a.pre, count: N * F) }
        let coef = a.coef
        parallelRanges(N, minChunk: 64) { r in
            for row in r { activateInPlace(coef + row * F, count: F, c.activation, times: up + row * F) }
        }
    } else {
        linear(hm, rows: N, inFeatures: D, weight: lw.up, outFeatures: F, bias: lw.upBias, into: a.pre, scratch: wt)
        if a.coef != a.pre { a.coef.update(from: a.pre, count: N * F) }
        let coef = a.coef
        parallelRanges(N, minChunk: 64) { r in
            for row in r { activateInPlace(coef + row * F, count: F, c.activation) }
        }
    }
    multipliers.apply(layer: l, to: a.coef, rows: N)
    try observe?(a.coef)

    // Down projection: the coefficient-weighted sum of the value vectors.
    if let out = a.mlpOut {
        linear(a.coef, rows: N, inFeatures: F, weight: lw.down, outFeatures: D, bias: lw.downBias, into: out, scratch: wt)
        normForward(norm, out, a.normed, rows: N, w: lw.postMLPNorm, b: nil, saveRstd: a.mlpOutRstd)
        addRows(xOut, a.normed, into: xOut, count: N * D)
    } else {
        linear(a.coef, rows: N, inFeatures: F, weight: lw.down, outFeatures: D, bias: lw.downBias, into: xOut, accumulate: true, scratch: wt)
    }
}

/// out[i] = x[i] + y[i] (`out` may be `x`).
@inline(__always)
private func addRows(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count n: Int) {
    for i in 0..<n { out[i] = x[i] + y[i] }
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

/// Backward of `blockForward` on a packed batch, the mirror of its steps. On entry `dres` holds
/// ∂L/∂xOut [N, D]; on return ∂L/∂xIn. Weight gradients go to `lg`: the matrices are
/// overwritten, norm weights and biases accumulated.
func blockBackward(
    _ c: ModelConfig, layer l: Int, weights lw: LayerTensors<UnsafePointer<Float>, UnsafePointer<Float>>,
    grads lg: LayerTensors<UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>>,
    multipliers: MemoryMultipliers, xIn: UnsafePointer<Float>, rows N: Int, acts a: BlockActivations,
    batch: PackedBatch, probOffsets: [Int], scratch: UnsafeMutablePointer<Float>,
    rope: RopeTable, positions: UnsafePointer<Int32>,
    dres: UnsafeMutablePointer<Float>, buffers g: BlockGradientBuffers
) throws {
    let D = c.hiddenSize, F = c.intermediateSize
    let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
    let norm = c.hiddenNorm
    let preNorms = c.normPlacement == .beforeSublayer
    guard let probs = a.probs else { throw CoreError("internal: the forward pass kept no attention probabilities") }
    let dh = g.dh, dmid = g.dmid, dpre = g.dpre, dup = g.dup

    // Down projection (after its post-norm): dcoef [N, F] → dpre.
    let dDown = postNormBackward(norm, dy: dres, output: a.mlpOut, rstd: a.mlpOutRstd, rows: N,
                                 w: lw.postMLPNorm, dw: lg.postMLPNorm, into: g.dnorm)
    linearBackward(dy: dDown, x: a.coef, rows: N, inFeatures: F, outFeatures: D, weight: lw.down,
                   dx: dpre, accumulateDx: false, dw: lg.down, db: lg.downBias)
    if c.parallelResidual {
        // x_out = x_in + attn + mlp: the o projection sees the layer output's gradient, taken
        // now, before the norms add their parts into `dres`.
        linearBackward(dy: dres, x: a.att, rows: N, inFeatures: qDim, outFeatures: D, weight: lw.o,
                       dx: g.datt, accumulateDx: false, dw: lg.o, db: lg.oBias)
    }
    multipliers.apply(layer: l, to: dpre, rows: N)
    // Activation: coef = act(pre)·up (gated) or act(pre), one row at a time as the forward.
    let pre = UnsafePointer(a.pre), up = a.up.map { UnsafePointer($0) }
    parallelRanges(N, minChunk: 64) { r in
        for row in r {
            let o = row * F
            activationBackward(dpre + o, pre: pre + o, up: up.map { $0 + o }, dup: dup + o, count: F, c.activation)
        }
    }
    // MLP projections → dh = ∂L/∂(MLP input) [N, D].
    let hm: UnsafePointer<Float> = preNorms || c.parallelResidual ? UnsafePointer(a.h2) : UnsafePointer(a.xMid ?? a.h2)
    if let gw = lw.gate, let ggw = lg.gate {
        linearBackward(dy: dpre, x: hm, rows: N, inFeatures: D, outFeatures: F, weight: gw,
                       dx: dh, accumulateDx: false, dw: ggw, db: lg.gateBias)
        linearBackward(dy: dup, x: hm, rows: N, inFeatures: D, outFeatures: F, weight: lw.up,
                       dx: dh, accumulateDx: true, dw: lg.up, db: lg.upBias)
    } else {
        linearBackward(dy: dpre, x: hm, rows: N, inFeatures: D, outFeatures: F, weight: lw.up,
                       dx: dh, accumulateDx: false, dw: lg.up, db: lg.upBias)
    }
    // MLP norm: into x_in (parallel: dres accumulates) or into x_mid (sequential).
    if c.parallelResidual {
        guard let m2 = a.mean2, let r2 = a.rstd2 else { throw CoreError("internal: MLP norm statistics missing") }
        normBackward(norm, dy: dh, x: xIn, mean: m2, rstd: r2, rows: N, w: lw.mlpNormW, dx: dres, dw: lg.mlpNormW, db: lg.mlpNormB)
    } else {
        guard let mid = a.xMid else { throw CoreError("internal: residual input of the MLP missing") }
        dmid.update(from: dres, count: N * D)
        if preNorms {
            guard let m2 = a.mean2, let r2 = a.rstd2 else { throw CoreError("internal: MLP norm statistics missing") }
            normBackward(norm, dy: dh, x: mid, mean: m2, rstd: r2, rows: N, w: lw.mlpNormW, dx: dmid, dw: lg.mlpNormW, db: lg.mlpNormB)
        } else {
            for i in 0..<(N * D) { dmid[i] += dh[i] }
        }
        // o projection (after its post-norm) → ∂L/∂att.
        let dO = postNormBackward(norm, dy: dmid, output: a.attnOut, rstd: a.attnOutRstd, rows: N,
                                  w: lw.postAttnNorm, dw: lg.postAttnNorm, into: g.dnorm)
        linearBackward(dy: dO, x: a.att, rows: N, inFeatures: qDim, outFeatures: D, weight: lw.o,
                       dx: g.datt, accumulateDx: false, dw: lg.o, db: lg.oBias)
    }
    // Attention → dq, dk, dv (after RoPE), then undo RoPE, clipping and the q/k norms.
    g.dk.update(repeating: 0, count: N * kvDim)
    g.dv.update(repeating: 0, count: N * kvDim)
    attentionBackward(dOut: g.datt, q: a.q, k: a.k, v: a.v, probs: probs, probOffsets: probOffsets,
                      batch: batch, layout: AttentionLayout(c, layer: l), dq: g.dq, dk: g.dk, dv: g.dv, scratch: scratch)
    applyRope(g.dq, rows: N, stride: qDim, heads: c.numHeads, headDim: c.headDim, positions: positions, table: rope, inverse: true)
    applyRope(g.dk, rows: N, stride: kvDim, heads: c.numKVHeads, headDim: c.headDim, positions: positions, table: rope, inverse: true)
    if let clip = c.clipQKV, let qp = a.qPre, let kp = a.kPre, let vp = a.vPre {
        // clamp passes the gradient where −clip ≤ x ≤ clip, as torch.clamp.
        for i in 0..<(N * qDim) where qp[i] < -clip || qp[i] > clip { g.dq[i] = 0 }
        for i in 0..<(N * kvDim) {
            if kp[i] < -clip || kp[i] > clip { g.dk[i] = 0 }
            if vp[i] < -clip || vp[i] > clip { g.dv[i] = 0 }
        }
    }
    var dq = UnsafePointer(g.dq), dk = UnsafePointer(g.dk)
    if let (qn, kn) = c.queryKeyNorms() {
        guard let qr = a.qRaw, let kr = a.kRaw, let qs = a.qRstd, let ks = a.kRstd else {
            throw CoreError("internal: q/k norm inputs missing")
        }
        // ∂L/∂q_raw into `dnorm`, ∂L/∂k_raw into `datt` (free now).
        g.dnorm.update(repeating: 0, count: N * qDim)
        normBackward(qn, dy: g.dq, x: qr, mean: qs, rstd: qs, rows: N * qDim / qn.dim, w: lw.qNorm, dx: g.dnorm, dw: lg.qNorm, db: nil)
        g.datt.update(repeating: 0, count: N * kvDim)
        normBackward(kn, dy: g.dk, x: kr, mean: ks, rstd: ks, rows: N * kvDim / kn.dim, w: lw.kNorm, dx: g.datt, dw: lg.kNorm, db: nil)
        dq = UnsafePointer(g.dnorm); dk = UnsafePointer(g.datt)
    }
    let h: UnsafePointer<Float> = preNorms ? UnsafePointer(a.h1) : xIn
    linearBackward(dy: dq, x: h, rows: N, inFeatures: D, outFeatures: qDim, weight: lw.q,
                   dx: dh, accumulateDx: false, dw: lg.q, db: lg.qBias)
    linearBackward(dy: dk, x: h, rows: N, inFeatures: D, outFeatures: kvDim, weight: lw.k,
                   dx: dh, accumulateDx: true, dw: lg.k, db: lg.kBias)
    linearBackward(dy: g.dv, x: h, rows: N, inFeatures: D, outFeatures: kvDim, weight: lw.v,
                   dx: dh, accumulateDx: true, dw: lg.v, db: lg.vBias)
    // Attention norm and the residual: ∂L/∂x_in = ∂L/∂(residual) + the attention branch's part.
    if !c.parallelResidual { dres.update(from: dmid, count: N * D) }
    if preNorms {
        guard let m1 = a.mean1, let r1 = a.rstd1 else { throw CoreError("internal: attention norm statistics missing") }
        normBackward(norm, dy: dh, x: xIn, mean: m1, rstd: r1, rows: N, w: lw.attnNormW, dx: dres, dw: lg.attnNormW, db: lg.attnNormB)
    } else {
        for i in 0..<(N * D) { dres[i] += dh[i] }
    }
}

/// The gradient at a sub-block's output before its post-norm (OLMo 2/3): `dy` through the RMSNorm
/// of `output` [rows, D] into `dx` (returned), adding the norm weight's gradient to `dw`. Without
/// a post-norm (`output` nil) it is `dy` itself.
private func postNormBackward(
    _ norm: Norm, dy: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>?, rstd: UnsafeMutablePointer<Float>?,
    rows N: Int, w: UnsafePointer<Float>?, dw: UnsafeMutablePointer<Float>?, into dx: UnsafeMutablePointer<Float>
) -> UnsafePointer<Float> {
    guard let output, let rstd else { return dy }
    dx.update(repeating: 0, count: N * norm.dim)
    normBackward(norm, dy: dy, x: output, mean: rstd, rstd: rstd, rows: N, w: w, dx: dx, dw: dw, db: nil)
    return UnsafePointer(dx)
}
