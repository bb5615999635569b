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
// `blockForward` and `blockBackward` keep this residual wiring in view; each calls the pair of
// its two halves (`attentionSublayerForward`/`Backward`, `mlpCoefficientsForward`/`Backward`),
// llm.c style. The buffers are in BlockBuffers.swift, the activations in Activation.swift.
//
// Shapes: N rows, D hidden, qDim = H·hd, kvDim = KV·hd, F = d_ff.

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
    let qDim = c.numHeads * c.headDim
    let norm = c.hiddenNorm, wt = a.weightTile
    let preNorms = c.normPlacement == .beforeSublayer

    // Attention: h = norm₁(x); att = attn(h) before the o projection.
    var h = xIn
    if preNorms {
        normForward(norm, xIn, a.h1, rows: N, w: lw.attnNormW, b: lw.attnNormB, saveMean: a.mean1, saveRstd: a.rstd1)
        h = UnsafePointer(a.h1)
    }
    attentionSublayerForward(c, layer: l, weights: lw, h: h, rows: N, acts: a, attention: attention,
                             rope: rope, positions: positions)

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

    // Coefficients a[N, F] = act(gate·h)·(up·h) or act(up·h + b), then the memory multipliers.
    mlpCoefficientsForward(c, weights: lw, h: hm, rows: N, acts: a)
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

/// The attention sublayer up to the o projection: q, k, v = h·W (+ b); the q/k norms; clipping
/// (OLMo `clip_qkv`); RoPE; attention into `a.att` [N, qDim]. Saves what the backward reads.
private func attentionSublayerForward(
    _ c: ModelConfig, layer l: Int, weights lw: LayerTensors<MatrixWeights, UnsafePointer<Float>>,
    h: UnsafePointer<Float>, rows N: Int, acts a: BlockActivations, attention: BlockAttention,
    rope: RopeTable, positions: UnsafePointer<Int32>
) {
    let D = c.hiddenSize
    let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
    let wt = a.weightTile
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
}

/// The MLP's coefficients before the multipliers from its input `h` [N, D]: `a.pre` = gate·h
/// (gated) or up·h + b, `a.up` = up·h + b (gated), and `a.coef` [N, F] = act(pre)·up or act(pre),
/// one activation per row (so a row's values do not depend on the others).
private func mlpCoefficientsForward(
    _ c: ModelConfig, weights lw: LayerTensors<MatrixWeights, UnsafePointer<Float>>,
    h hm: UnsafePointer<Float>, rows N: Int, acts a: BlockActivations
) {
    let D = c.hiddenSize, F = c.intermediateSize
    let wt = a.weightTile
    var up: UnsafePointer<Float>?
    if let gw = lw.gate, let u = a.up {
        linear(hm, rows: N, inFeatures: D, weight: gw, outFeatures: F, bias: lw.gateBias, into: a.pre, scratch: wt)
        linear(hm, rows: N, inFeatures: D, weight: lw.up, outFeatures: F, bias: lw.upBias, into: u, scratch: wt)
        up = UnsafePointer(u)
    } else {
        linear(hm, rows: N, inFeatures: D, weight: lw.up, outFeatures: F, bias: lw.upBias, into: a.pre, scratch: wt)
    }
    // coef = act(pre)(·up), read from `pre` (kept for the backward in training, else the same buffer).
    let pre = UnsafePointer(a.pre), coef = a.coef, gatedBy = up
    parallelRanges(N, minChunk: 64) { r in
        for row in r {
            activate(pre + row * F, into: coef + row * F, count: F, c.activation, times: gatedBy.map { $0 + row * F })
        }
    }
}

/// out[i] = x[i] + y[i] (`out` may be `x`).
@inline(__always)
private func addRows(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count n: Int) {
    for i in 0..<n { out[i] = x[i] + y[i] }
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
    let qDim = c.numHeads * c.headDim
    let norm = c.hiddenNorm
    let preNorms = c.normPlacement == .beforeSublayer
    let dh = g.dh, dmid = g.dmid

    // Down projection (after its post-norm): dcoef [N, F] → dpre.
    let dDown = postNormBackward(norm, dy: dres, output: a.mlpOut, rstd: a.mlpOutRstd, rows: N,
                                 w: lw.postMLPNorm, dw: lg.postMLPNorm, into: g.dnorm)
    linearBackward(dy: dDown, x: a.coef, rows: N, inFeatures: F, outFeatures: D, weight: lw.down,
                   dx: g.dpre, accumulateDx: false, dw: lg.down, db: lg.downBias)
    if c.parallelResidual {
        // x_out = x_in + attn + mlp: the o projection sees the layer output's gradient, taken
        // now, before the norms add their parts into `dres`.
        linearBackward(dy: dres, x: a.att, rows: N, inFeatures: qDim, outFeatures: D, weight: lw.o,
                       dx: g.datt, accumulateDx: false, dw: lg.o, db: lg.oBias)
    }
    multipliers.apply(layer: l, to: g.dpre, rows: N)
    // Activation and the MLP projections → dh = ∂L/∂(MLP input) [N, D].
    let hm: UnsafePointer<Float> = preNorms || c.parallelResidual ? UnsafePointer(a.h2) : UnsafePointer(a.xMid ?? a.h2)
    mlpCoefficientsBackward(c, weights: lw, grads: lg, h: hm, rows: N, acts: a, buffers: g)
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
    // Attention → dh = ∂L/∂(attention input) [N, D].
    let h: UnsafePointer<Float> = preNorms ? UnsafePointer(a.h1) : xIn
    try attentionSublayerBackward(c, layer: l, weights: lw, grads: lg, h: h, rows: N, acts: a, batch: batch,
                                  probOffsets: probOffsets, scratch: scratch, rope: rope, positions: positions, buffers: g)
    // Attention norm and the residual: ∂L/∂x_in = ∂L/∂(residual) + the attention branch's part.
    if !c.parallelResidual { dres.update(from: dmid, count: N * D) }
    if preNorms {
        guard let m1 = a.mean1, let r1 = a.rstd1 else { throw CoreError("internal: attention norm statistics missing") }
        normBackward(norm, dy: dh, x: xIn, mean: m1, rstd: r1, rows: N, w: lw.attnNormW, dx: dres, dw: lg.attnNormW, db: lg.attnNormB)
    } else {
        for i in 0..<(N * D) { dres[i] += dh[i] }
    }
}

/// Backward of `mlpCoefficientsForward`: on entry `g.dpre` holds ∂L/∂coef [N, F] for the
/// coefficients before the memory multipliers (the caller has applied them); on return `g.dh` =
/// ∂L/∂h [N, D] for the MLP input `h`, with the gate/up weight gradients written to `lg`. The
/// activation runs one row at a time, as the forward.
private func mlpCoefficientsBackward(
    _ c: ModelConfig, weights lw: LayerTensors<UnsafePointer<Float>, UnsafePointer<Float>>,
    grads lg: LayerTensors<UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>>,
    h hm: UnsafePointer<Float>, rows N: Int, acts a: BlockActivations, buffers g: BlockGradientBuffers
) {
    let D = c.hiddenSize, F = c.intermediateSize
    let dh = g.dh, dpre = g.dpre, dup = g.dup
    // Activation: coef = act(pre)·up (gated) or act(pre).
    let pre = UnsafePointer(a.pre), up = a.up.map { UnsafePointer($0) }
    parallelRanges(N, minChunk: 64) { r in
        for row in r {
            let o = row * F
            activationBackward(dpre + o, pre: pre + o, up: up.map { $0 + o }, dup: dup + o, count: F, c.activation)
        }
    }
    if let gw = lw.gate, let ggw = lg.gate {
        linearBackward(dy: dpre, x: hm, rows: N, inFeatures: D, outFeatures: F, weight: gw,
                       dx: dh, accumulateDx: false, dw: ggw, db: lg.gateBias)
        linearBackward(dy: dup, x: hm, rows: N, inFeatures: D, outFeatures: F, weight: lw.up,
                       dx: dh, accumulateDx: true, dw: lg.up, db: lg.upBias)
    } else {
        linearBackward(dy: dpre, x: hm, rows: N, inFeatures: D, outFeatures: F, weight: lw.up,
                       dx: dh, accumulateDx: false, dw: lg.up, db: lg.upBias)
    }
}

/// Backward of `attentionSublayerForward`: from ∂L/∂att in `g.datt` [N, qDim] to `g.dh` = ∂L/∂h
/// [N, D] for the attention input `h`, through attention, RoPE, clipping, the q/k norms and the
/// q, k, v projections (weight gradients to `lg`). Uses `g.dnorm` and `g.datt` as scratch.
/// - Throws: `CoreError` when the forward kept no attention probabilities or q/k norm inputs.
private func attentionSublayerBackward(
    _ c: ModelConfig, layer l: Int, weights lw: LayerTensors<UnsafePointer<Float>, UnsafePointer<Float>>,
    grads lg: LayerTensors<UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>>,
    h: UnsafePointer<Float>, rows N: Int, acts a: BlockActivations, batch: PackedBatch, probOffsets: [Int],
    scratch: UnsafeMutablePointer<Float>, rope: RopeTable, positions: UnsafePointer<Int32>, buffers g: BlockGradientBuffers
) throws {
    let D = c.hiddenSize
    let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
    guard let probs = a.probs else { throw CoreError("internal: the forward pass kept no attention probabilities") }
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
    linearBackward(dy: dq, x: h, rows: N, inFeatures: D, outFeatures: qDim, weight: lw.q,
                   dx: g.dh, accumulateDx: false, dw: lg.q, db: lg.qBias)
    linearBackward(dy: dk, x: h, rows: N, inFeatures: D, outFeatures: kvDim, weight: lw.k,
                   dx: g.dh, accumulateDx: true, dw: lg.k, db: lg.kBias)
    linearBackward(dy: g.dv, x: h, rows: N, inFeatures: D, outFeatures: kvDim, weight: lw.v,
                   dx: g.dh, accumulateDx: true, dw: lg.v, db: lg.vBias)
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
