import Foundation

// MARK: Training forward and backward pass (llm.c style)
//
// `lossAndGradients` runs the model on a packed batch (documents of unequal length one after
// another in an [N, D] matrix, no padding), keeps the activations the backward pass needs, and
// then walks the layers in reverse, one backward per forward piece. Every matrix product goes
// through `sgemm`/`linear`. The loss is the mean cross-entropy over every real next-token
// prediction of every document (a document of length T contributes T − 1 predictions), which is
// what Hugging Face computes for right-padded batches with labels −100 on the padding.
//
// Shapes: N tokens, D hidden, H heads, KV key/value heads, hd head width, qDim = H·hd,
// kvDim = KV·hd, F = d_ff, V vocabulary, T a document's length.

/// What training reads from a model: configuration, parameters and coefficient multipliers.
struct Network {
    var config: ModelConfig
    var params: ParameterStore
    /// Per-layer multipliers on the coefficients (nil: none), as `Model.coefficientScale`.
    var coefficientScale: [[Float]?]

    init(config: ModelConfig, params: ParameterStore, coefficientScale: [[Float]?] = []) {
        self.config = config
        self.params = params
        self.coefficientScale = coefficientScale
    }

    init(_ model: Model) {
        self.init(config: model.config, params: model.params, coefficientScale: model.coefficientScale)
    }
}

/// Activations of one layer kept for the backward pass.
struct LayerActivations {
    /// Layer input (residual stream). [N, D]
    var xIn: UnsafeMutablePointer<Float>
    /// Pre-attention norm statistics [N] and output [N, D].
    var mean1, rstd1, h1: UnsafeMutablePointer<Float>
    /// q, k, v after the projection, before clipping (only with clip_qkv). [N, qDim], [N, kvDim]
    var qPre, kPre, vPre: UnsafeMutablePointer<Float>?
    /// q, k after clipping and RoPE; v after clipping. [N, qDim], [N, kvDim]
    var q, k, v: UnsafeMutablePointer<Float>
    /// Attention probabilities, per document [H, T, T] at `probOffsets[doc]`.
    var probs: UnsafeMutablePointer<Float>
    /// Attention output before the o projection. [N, qDim]
    var att: UnsafeMutablePointer<Float>
    /// Sequential residual only: x_in + attn, the input of the MLP norm. [N, D]
    var xMid: UnsafeMutablePointer<Float>?
    /// Pre-MLP norm statistics [N] and output [N, D].
    var mean2, rstd2, h2: UnsafeMutablePointer<Float>
    /// Activation input: gate·h2 (gated) or up·h2 + b (plain). [N, F]
    var pre: UnsafeMutablePointer<Float>
    /// Up projection of gated MLPs. [N, F]
    var up: UnsafeMutablePointer<Float>?
    /// Coefficients after the multipliers: the down projection's input. [N, F]
    var coef: UnsafeMutablePointer<Float>
}

// MARK: Norm backward

/// Backward of the configured norm for `rows` rows of width D:
/// dx += ∂L/∂x, dw += Σ_r dy·x̂, db += Σ_r dy (when the norm has them).
///
/// LayerNorm: x̂ = (x − μ)·rstd, y = x̂·w + b, dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)).
/// RMSNorm:   x̂ = x·rstd,       y = x̂·w,     dx = rstd·(dx̂ − x̂·mean(dx̂·x̂)).
@inline(__always)
func normBackward(
    _ c: ModelConfig, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows n: Int,
    w: UnsafePointer<Float>?, dx: UnsafeMutablePointer<Float>,
    dw: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?
) {
    let d = c.hiddenSize
    let isRMS: Bool
    if case .rmsNorm = c.norm { isRMS = true } else { isRMS = false }
    let invD = 1 / Float(d)
    for r in 0..<n {
        let xr = x + r * d, dyr = dy + r * d, dxr = dx + r * d
        let mu: Float = isRMS ? 0 : mean[r]
        let rs = rstd[r]
        var sumG: Float = 0, sumGX: Float = 0
        for j in 0..<d {
            let xh = (xr[j] - mu) * rs
            let g = w.map { dyr[j] * $0[j] } ?? dyr[j]
            sumG += g
            sumGX += g * xh
            if let dw { dw[j] += dyr[j] * xh }
            if let db { db[j] += dyr[j] }
        }
        let mG = isRMS ? 0 : sumG * invD
        let mGX = sumGX * invD
        for j in 0..<d {
            let xh = (xr[j] - mu) * rs
            let g = w.map { dyr[j] * $0[j] } ?? dyr[j]
            dxr[j] += rs * (g - mG - xh * mGX)
        }
    }
}

/// db[j] += Σ_r dy[r, j].
@inline(__always)
func addColumnSums(_ dy: UnsafePointer<Float>, rows n: Int, cols m: Int, into db: UnsafeMutablePointer<Float>) {
    for r in 0..<n {
        let row = dy + r * m
        for j in 0..<m { db[j] += row[j] }
    }
}

/// Backward of y = x·Wᵀ + b for x [n, inF], W [outF, inF]:
/// dx (+)= dy·W, dW = dyᵀ·x (overwritten: each weight is used once per pass), db += Σ_r dy.
@inline(__always)
func linearBackward(
    dy: UnsafePointer<Float>, x: UnsafePointer<Float>, rows n: Int, inFeatures: Int, outFeatures: Int,
    weight w: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, accumulateDx: Bool,
    dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>?
) {
    if let dx {
        // dx[n, in] = dy[n, out] · W[out, in]
        sgemm(m: n, n: inFeatures, k: outFeatures, a: dy, b: w, beta: accumulateDx ? 1 : 0, c: dx)
    }
    // dW[out, in] = dy[n, out]ᵀ · x[n, in]
    sgemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: dy, b: x, beta: 0, c: dw)
    if let db { addColumnSums(dy, rows: n, cols: outFeatures, into: db) }
}

// MARK: Attention backward

/// Backward of `attentionForward`: given d out [N, qDim] and the saved probabilities, fills
/// dq [N, qDim] (overwritten) and adds into dk, dv [N, kvDim] (which must start at zero);
/// query heads of one group add into their shared key/value head.
func attentionBackward(
    dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    probs: UnsafePointer<Float>, probOffsets: [Int], batch: PackedBatch, config c: ModelConfig,
    dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
    scratch dP: UnsafeMutablePointer<Float>
) {
    let L = AttentionLayout(c)
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
            // Softmax backward in place: dS = P ⊙ (dP − Σ_j P·dP); zero above the diagonal.
            for i in 0..<T {
                let pr = P + i * T, gr = dP + i * T
                var dot: Float = 0
                for j in 0...i { dot += pr[j] * gr[j] }
                for j in 0...i { gr[j] = pr[j] * (gr[j] - dot) }
                for j in (i + 1)..<T { gr[j] = 0 }
            }
            // S = scale · q_h · k_hᵀ: dq_h = scale · dS · k_h, dk_h += scale · dSᵀ · q_h
            sgemm(m: T, n: hd, k: T, alpha: scale, a: dP, lda: T, b: kh, ldb: kvStride, c: dqh, ldc: qStride)
            sgemm(transA: true, m: T, n: hd, k: T, alpha: scale, a: dP, lda: T, b: qh, ldb: qStride,
                  beta: 1, c: dkh, ldc: kvStride)
        }
    }
}

// MARK: Loss and gradients

/// Validates a batch against the configuration (token ids, learned-position range).
func checkBatch(_ batch: PackedBatch, _ c: ModelConfig) throws {
    if c.learnedPositions && batch.maxLength > c.maxPositions {
        throw CoreError("a document has \(batch.maxLength) tokens but the model has only \(c.maxPositions) positions; use 'seq \(c.maxPositions)'")
    }
    for t in batch.tokens where t < 0 || Int(t) >= c.vocabSize {
        throw CoreError("token id \(t) is outside the vocabulary of \(c.vocabSize)")
    }
    if c.numKVHeads < 1 || c.numHeads % c.numKVHeads != 0 {
        throw CoreError("\(c.numHeads) attention heads cannot be grouped over \(c.numKVHeads) key/value heads")
    }
}

/// True for parameters whose gradient `lossAndGradients` writes whole rather than accumulates:
/// the projection matrices of every layer, and the output head when it is not tied.
func gradientIsOverwritten(_ name: String, tied: Bool) -> Bool {
    if name == "lm_head" { return !tied }
    guard name.hasPrefix("L") else { return false }
    return [".q.w", ".k.w", ".v.w", ".o.w", ".gate.w", ".up.w", ".down.w"].contains { name.hasSuffix($0) }
}

/// Number of real next-token predictions in `batch`: Σ_doc (T − 1).
func predictionCount(_ batch: PackedBatch) -> Int {
    batch.lengths.reduce(0) { $0 + max(0, $1 - 1) }
}

/// Mean next-token cross-entropy of `batch` under `net` and, when `grads` is given, its gradient
/// with respect to every parameter (written into `grads.data`, which must have the layout of
/// `net.params`; it is overwritten). Returns the loss (nats, Double).
///
/// `normalizer` replaces the batch's own prediction count as the divisor of the summed NLL (and so
/// of the gradients): a shard of a larger batch divides by the whole batch's count, so the shards'
/// losses and gradients add up to the batch's. `workspace` keeps the activation buffers between
/// calls (a training loop passes the same one every step).
func lossAndGradients(_ net: Network, batch: PackedBatch, grads: UnsafeMutablePointer<Float>?,
                      normalizer: Int? = nil, workspace: Arena? = nil) throws -> Double {
    let c = net.config
    try checkBatch(batch, c)
    let N = batch.count
    let M = normalizer ?? predictionCount(batch)
    guard M > 0, N > 0 else { throw CoreError("no token to predict: every document has fewer than 2 tokens") }
    let D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize
    let H = c.numHeads, KV = c.numKVHeads
    let qDim = H * c.headDim, kvDim = KV * c.headDim
    let maxT = batch.maxLength
    let rope = RopeTable(rotaryDim: c.rotaryDim, theta: c.ropeTheta, positions: max(1, maxT))
    var probOffsets: [Int] = []
    var probTotal = 0
    for T in batch.lengths { probOffsets.append(probTotal); probTotal += H * T * T }

    let arena = workspace ?? Arena()
    arena.reset()
    // MARK: Activations
    var acts: [LayerActivations] = []
    // Buffers the pass overwrites completely are not zeroed (`make(_, zeroed: false)`).
    func full(_ count: Int) -> UnsafeMutablePointer<Float> { arena.make(count, zeroed: false) }
    for _ in 0..<c.numLayers {
        acts.append(LayerActivations(
            xIn: full(N * D), mean1: arena.make(N), rstd1: arena.make(N), h1: full(N * D),
            qPre: c.clipQKV != nil ? full(N * qDim) : nil,
            kPre: c.clipQKV != nil ? full(N * kvDim) : nil,
            vPre: c.clipQKV != nil ? full(N * kvDim) : nil,
            q: full(N * qDim), k: full(N * kvDim), v: full(N * kvDim),
            probs: full(probTotal), att: full(N * qDim),
            xMid: c.parallelResidual ? nil : full(N * D),
            mean2: arena.make(N), rstd2: arena.make(N), h2: full(N * D),
            pre: full(N * F), up: c.gatedMLP ? full(N * F) : nil, coef: full(N * F)))
    }
    let xFinal = full(N * D)                // [N, D] final residual stream
    let meanF = arena.make(N), rstdF = arena.make(N)
    let hF = full(N * D)                    // [N, D] final norm output
    let scratch = full(maxT * maxT)         // [T, T]
    let hasGrads = grads != nil

    return try net.params.data.withUnsafeBufferPointer { buf -> Double in
        guard let base = buf.baseAddress else { throw CoreError("model has no parameters") }
        let w = try WeightPointers(store: net.params, config: c, base: UnsafeMutablePointer(mutating: base))
        let tokens = batch.tokens, positions = batch.positions

        // MARK: Forward
        // Embeddings: x = embed[tok] (+ pos_embed[pos]).
        let x0 = acts.first?.xIn ?? xFinal
        for r in 0..<N {
            (x0 + r * D).update(from: w.embed + Int(tokens[r]) * D, count: D)
            if let pe = w.posEmbed {
                let pr = pe + Int(positions[r]) * D, xr = x0 + r * D
                for j in 0..<D { xr[j] += pr[j] }
            }
        }
        for (l, lw) in w.layers.enumerated() {
            try Cancellation.shared.check()
            let a = acts[l]
            let xOut = l + 1 < acts.count ? acts[l + 1].xIn : xFinal   // [N, D]
            // Attention branch.
            normForward(c, a.xIn, a.h1, rows: N, w: lw.attnNormW, b: lw.attnNormB, saveMean: a.mean1, saveRstd: a.rstd1)
            linear(a.h1, rows: N, inFeatures: D, weight: lw.qW, outFeatures: qDim, bias: lw.qB, into: a.q)
            linear(a.h1, rows: N, inFeatures: D, weight: lw.kW, outFeatures: kvDim, bias: lw.kB, into: a.k)
            linear(a.h1, rows: N, inFeatures: D, weight: lw.vW, outFeatures: kvDim, bias: lw.vB, into: a.v)
            if let clip = c.clipQKV, let qp = a.qPre, let kp = a.kPre, let vp = a.vPre {
                qp.update(from: a.q, count: N * qDim)
                kp.update(from: a.k, count: N * kvDim)
                vp.update(from: a.v, count: N * kvDim)
                for i in 0..<(N * qDim) { a.q[i] = min(max(a.q[i], -clip), clip) }
                for i in 0..<(N * kvDim) {
                    a.k[i] = min(max(a.k[i], -clip), clip)
                    a.v[i] = min(max(a.v[i], -clip), clip)
                }
            }
            positions.withUnsafeBufferPointer { pos in
                guard let pp = pos.baseAddress else { return }
                applyRope(a.q, rows: N, stride: qDim, heads: H, headDim: c.headDim, positions: pp, table: rope)
                applyRope(a.k, rows: N, stride: kvDim, heads: KV, headDim: c.headDim, positions: pp, table: rope)
            }
            attentionForward(q: a.q, k: a.k, v: a.v, out: a.att, batch: batch, config: c, scratch: scratch,
                             probs: a.probs, probOffsets: probOffsets)
            xOut.update(from: a.xIn, count: N * D)
            linear(a.att, rows: N, inFeatures: qDim, weight: lw.oW, outFeatures: D, bias: lw.oB, into: xOut, accumulate: true)
            // MLP branch: parallel reads the layer input, sequential reads x_in + attn.
            let mlpIn: UnsafeMutablePointer<Float>
            if let mid = a.xMid { mid.update(from: xOut, count: N * D); mlpIn = mid } else { mlpIn = a.xIn }
            normForward(c, mlpIn, a.h2, rows: N, w: lw.mlpNormW, b: lw.mlpNormB, saveMean: a.mean2, saveRstd: a.rstd2)
            if let gw = lw.gateW, let up = a.up {
                linear(a.h2, rows: N, inFeatures: D, weight: gw, outFeatures: F, bias: nil, into: a.pre)
                linear(a.h2, rows: N, inFeatures: D, weight: lw.upW, outFeatures: F, bias: lw.upB, into: up)
                a.coef.update(from: a.pre, count: N * F)
                activateInPlace(a.coef, count: N * F, c.activation, times: up)
            } else {
                linear(a.h2, rows: N, inFeatures: D, weight: lw.upW, outFeatures: F, bias: lw.upB, into: a.pre)
                a.coef.update(from: a.pre, count: N * F)
                activateInPlace(a.coef, count: N * F, c.activation)
            }
            if l < net.coefficientScale.count, let mult = net.coefficientScale[l], mult.count == F {
                mult.withUnsafeBufferPointer { m in
                    guard let m = m.baseAddress else { return }
                    for r in 0..<N { let ar = a.coef + r * F; for j in 0..<F { ar[j] *= m[j] } }
                }
            }
            linear(a.coef, rows: N, inFeatures: F, weight: lw.downW, outFeatures: D, bias: lw.downB, into: xOut, accumulate: true)
        }
        normForward(c, xFinal, hF, rows: N, w: w.finalNormW, b: w.finalNormB, saveMean: meanF, saveRstd: rstdF)

        // MARK: Loss, and the LM head backward, in chunks of rows
        let g: WeightPointers? = try grads.map { gb in
            // Zero what is accumulated into; the layer matrices (written by `linearBackward`) and
            // an untied output head (written by its first chunk) are overwritten instead.
            for slot in net.params.slots where !gradientIsOverwritten(slot.name, tied: c.tieWordEmbeddings) {
                (gb + slot.offset).initialize(repeating: 0, count: slot.count)
            }
            return try WeightPointers(store: net.params, config: c, base: gb)
        }
        let dres = hasGrads ? arena.make(N * D) : xFinal   // ∂L/∂(residual stream) [N, D]
        let dhF = hasGrads ? full(N * D) : xFinal          // ∂L/∂(final norm output) [N, D]
        // Rows of logits at once: up to 32M floats, so the output embedding's gradient is
        // updated (and the embedding packed) as few times as possible.
        let chunk = min(N, max(logitChunkRows, (1 << 25) / max(1, V)))
        let logits = full(chunk * V)                        // [rows, V]
        let rowLoss = UnsafeMutablePointer<Double>.allocate(capacity: chunk)
        defer { rowLoss.deallocate() }
        let invM = 1 / Float(M)
        var nll = 0.0
        var r0 = 0
        while r0 < N {
            try Cancellation.shared.check()
            let rows = min(chunk, N - r0)
            linear(hF + r0 * D, rows: rows, inFeatures: D, weight: w.unembed, outFeatures: V, bias: nil, into: logits)
            // Softmax rows in parallel; each row's NLL lands in its own slot and the slots are
            // summed in order, so the result does not depend on scheduling.
            let first = r0
            parallelRanges(rows, minChunk: 16) { range in
                for i in range {
                    let r = first + i
                    let row = logits + i * V
                    rowLoss[i] = 0
                    guard r + 1 < N, positions[r + 1] == positions[r] + 1 else {
                        if hasGrads { row.update(repeating: 0, count: V) }
                        continue
                    }
                    let target = Int(tokens[r + 1])
                    let mx = vmax(row, count: V)
                    let zTarget = row[target] - mx
                    // row ← exp(row − max) (SIMD), and its sum.
                    let s = Double(expShiftedInPlace(row, count: V, shift: mx))
                    rowLoss[i] = log(s) - Double(zTarget)
                    if hasGrads {
                        // d logits = (softmax − onehot) / M
                        let inv = Float(1 / s) * invM
                        for j in 0..<V { row[j] *= inv }
                        row[target] -= invM
                    }
                }
            }
            for i in 0..<rows { nll += rowLoss[i] }
            if let g {
                // d hF[rows, D] = dlogits · U;  dU[V, D] += dlogitsᵀ · hF
                sgemm(m: rows, n: D, k: V, a: logits, b: w.unembed, c: dhF + r0 * D)
                sgemm(transA: true, m: V, n: D, k: rows, a: logits, b: hF + r0 * D,
                      beta: r0 == 0 && !c.tieWordEmbeddings ? 0 : 1, c: g.unembed)
            }
            r0 += rows
        }
        let loss = nll / Double(M)
        guard let g else { return loss }

        // MARK: Backward
        normBackward(c, dy: dhF, x: xFinal, mean: meanF, rstd: rstdF, rows: N, w: w.finalNormW,
                     dx: dres, dw: g.finalNormW, db: g.finalNormB)
        let dh = full(N * D)                       // [N, D] ∂L/∂(norm output)
        let dmid = c.parallelResidual ? dres : full(N * D)  // [N, D] ∂L/∂x_mid (sequential)
        let dq = full(N * qDim), datt = full(N * qDim)
        let dk = arena.make(N * kvDim), dv = arena.make(N * kvDim)
        let dpre = full(N * F)                     // [N, F] ∂L/∂pre (and ∂L/∂coef first)
        let dup = c.gatedMLP ? full(N * F) : dpre
        for l in stride(from: c.numLayers - 1, through: 0, by: -1) {
            try Cancellation.shared.check()
            let a = acts[l], lw = w.layers[l], lg = g.layers[l]
            // Down projection: x_out = x_mlp_in + coef · downᵀ + b.  dcoef [N, F] → dpre.
            linearBackward(dy: dres, x: a.coef, rows: N, inFeatures: F, outFeatures: D, weight: lw.downW,
                           dx: dpre, accumulateDx: false, dw: lg.downW, db: lg.downB)
            if c.parallelResidual {
                // x_out = x_in + attn + mlp: the o projection sees the layer output's gradient,
                // taken now, before the norms add their parts into `dres`.
                linearBackward(dy: dres, x: a.att, rows: N, inFeatures: qDim, outFeatures: D, weight: lw.oW,
                               dx: datt, accumulateDx: false, dw: lg.oW, db: lg.oB)
            }
            if l < net.coefficientScale.count, let mult = net.coefficientScale[l], mult.count == F {
                mult.withUnsafeBufferPointer { m in
                    guard let m = m.baseAddress else { return }
                    for r in 0..<N { let dr = dpre + r * F; for j in 0..<F { dr[j] *= m[j] } }
                }
            }
            // Activation: coef = act(pre)·up (gated) or act(pre).
            let pre = a.pre, up = a.up
            parallelRanges(N, minChunk: 64) { r in
                let o = r.lowerBound * F
                activationBackward(dpre + o, pre: pre + o, up: up.map { $0 + o }, dup: dup + o,
                                   count: r.count * F, c.activation)
            }
            // MLP projections → dh [N, D].
            if let gw = lw.gateW, let ggw = lg.gateW {
                linearBackward(dy: dpre, x: a.h2, rows: N, inFeatures: D, outFeatures: F, weight: gw,
                               dx: dh, accumulateDx: false, dw: ggw, db: nil)
                linearBackward(dy: dup, x: a.h2, rows: N, inFeatures: D, outFeatures: F, weight: lw.upW,
                               dx: dh, accumulateDx: true, dw: lg.upW, db: lg.upB)
            } else {
                linearBackward(dy: dpre, x: a.h2, rows: N, inFeatures: D, outFeatures: F, weight: lw.upW,
                               dx: dh, accumulateDx: false, dw: lg.upW, db: lg.upB)
            }
            // MLP norm: into x_in (parallel, dres accumulates) or into x_mid (sequential).
            if let mid = a.xMid {
                dmid.update(from: dres, count: N * D)
                normBackward(c, dy: dh, x: mid, mean: a.mean2, rstd: a.rstd2, rows: N, w: lw.mlpNormW,
                             dx: dmid, dw: lg.mlpNormW, db: lg.mlpNormB)
            } else {
                normBackward(c, dy: dh, x: a.xIn, mean: a.mean2, rstd: a.rstd2, rows: N, w: lw.mlpNormW,
                             dx: dres, dw: lg.mlpNormW, db: lg.mlpNormB)
            }
            if !c.parallelResidual {
                linearBackward(dy: dmid, x: a.att, rows: N, inFeatures: qDim, outFeatures: D, weight: lw.oW,
                               dx: datt, accumulateDx: false, dw: lg.oW, db: lg.oB)
            }
            // Attention → dq (post-RoPE), dk, dv.
            dk.update(repeating: 0, count: N * kvDim)
            dv.update(repeating: 0, count: N * kvDim)
            attentionBackward(dOut: datt, q: a.q, k: a.k, v: a.v, probs: a.probs, probOffsets: probOffsets,
                              batch: batch, config: c, dq: dq, dk: dk, dv: dv, scratch: scratch)
            positions.withUnsafeBufferPointer { pos in
                guard let pp = pos.baseAddress else { return }
                applyRope(dq, rows: N, stride: qDim, heads: H, headDim: c.headDim, positions: pp, table: rope, inverse: true)
                applyRope(dk, rows: N, stride: kvDim, heads: KV, headDim: c.headDim, positions: pp, table: rope, inverse: true)
            }
            if let clip = c.clipQKV, let qp = a.qPre, let kp = a.kPre, let vp = a.vPre {
                // clamp passes the gradient where −clip ≤ x ≤ clip, as torch.clamp.
                for i in 0..<(N * qDim) where qp[i] < -clip || qp[i] > clip { dq[i] = 0 }
                for i in 0..<(N * kvDim) {
                    if kp[i] < -clip || kp[i] > clip { dk[i] = 0 }
                    if vp[i] < -clip || vp[i] > clip { dv[i] = 0 }
                }
            }
            linearBackward(dy: dq, x: a.h1, rows: N, inFeatures: D, outFeatures: qDim, weight: lw.qW,
                           dx: dh, accumulateDx: false, dw: lg.qW, db: lg.qB)
            linearBackward(dy: dk, x: a.h1, rows: N, inFeatures: D, outFeatures: kvDim, weight: lw.kW,
                           dx: dh, accumulateDx: true, dw: lg.kW, db: lg.kB)
            linearBackward(dy: dv, x: a.h1, rows: N, inFeatures: D, outFeatures: kvDim, weight: lw.vW,
                           dx: dh, accumulateDx: true, dw: lg.vW, db: lg.vB)
            // Attention norm and the residual: dx_in = d(residual) + norm1 backward.
            if !c.parallelResidual { dres.update(from: dmid, count: N * D) }
            normBackward(c, dy: dh, x: a.xIn, mean: a.mean1, rstd: a.rstd1, rows: N, w: lw.attnNormW,
                         dx: dres, dw: lg.attnNormW, db: lg.attnNormB)
        }
        // Embeddings.
        for r in 0..<N {
            let dr = dres + r * D
            let er = g.embed + Int(tokens[r]) * D
            for j in 0..<D { er[j] += dr[j] }
            if let gp = g.posEmbed {
                let pr = gp + Int(positions[r]) * D
                for j in 0..<D { pr[j] += dr[j] }
            }
        }
        return loss
    }
}
