import Foundation

// MARK: Loss and gradients (llm.c style)
//
// `lossAndGradients` runs the model on a packed batch (documents of unequal length one after
// another in an [N, D] matrix, no padding), keeping the activations the backward pass needs,
// then walks back through the head, the blocks in reverse and the embeddings: each a named
// forward/backward pair (`embeddingForward`/`embeddingBackward`, `blockForward`/`blockBackward`,
// `normForward`/`normBackward`, `crossEntropyForwardBackward`). The loss is the mean
// cross-entropy over every real next-token prediction of every document (a document of length
// T contributes T − 1 predictions), which is what Hugging Face computes for right-padded
// batches with labels −100 on the padding.
//
// Shapes: N tokens, D hidden, V vocabulary, T a document's length.


/// True for parameters whose gradient `lossAndGradients` writes whole rather than accumulates:
/// the projection matrices of every layer, and the output head when it is not tied.
func gradientIsOverwritten(_ name: String, tied: Bool) -> Bool {
    if name == "lm_head" { return !tied }
    return isLinearWeight(name)
}

/// Number of real next-token predictions in `batch`: Σ_doc (T − 1).
func predictionCount(_ batch: PackedBatch) -> Int {
    batch.lengths.reduce(0) { $0 + max(0, $1 - 1) }
}

/// Mean next-token cross-entropy of `batch` under `net` and, when `grads` is given, its gradient
/// with respect to every parameter (written into `grads`, which must have the layout of
/// `net.params`; it is overwritten). Returns the loss (nats).
///
/// `normalizer` replaces the batch's own prediction count as the divisor of the summed NLL (and so
/// of the gradients): a shard of a larger batch divides by the whole batch's count, so the shards'
/// losses and gradients add up to the batch's. `workspace` keeps the activation buffers between
/// calls (a training loop passes the same one every step).
/// - Throws: `CoreError` for a batch with nothing to predict, a token outside the vocabulary or
///   a document longer than learned positions; `CancellationError` on interrupt.
func lossAndGradients(_ net: Transformer, batch: PackedBatch, grads: UnsafeMutablePointer<Float>?,
                      normalizer: Int? = nil, workspace: Arena? = nil) throws -> Double {
    let c = net.config
    try checkBatch(batch, c)
    let N = batch.count
    let M = normalizer ?? predictionCount(batch)
    guard M > 0, N > 0 else { throw CoreError("no token to predict: every document has fewer than 2 tokens") }
    let D = c.hiddenSize, L = c.numLayers
    let maxT = batch.maxLength
    let rope = RopeTable(c, batch: batch)
    var probOffsets: [Int] = []
    var probTotal = 0
    for T in batch.lengths { probOffsets.append(probTotal); probTotal += c.numHeads * T * T }

    let arena = workspace ?? Arena()
    arena.reset()
    // Buffers the pass overwrites completely are not zeroed.
    func uninitialized(_ count: Int) -> UnsafeMutablePointer<Float> { arena.make(count, zeroed: false) }
    let xs = (0...L).map { _ in uninitialized(N * D) }   // residual stream: xs[l] enters layer l [N, D]
    let acts = (0..<L).map { _ in BlockActivations(c, rows: N, arena: arena, training: true, probFloats: probTotal) }
    let meanF = arena.make(N), rstdF = arena.make(N)
    let hF = uninitialized(N * D)                        // final norm output [N, D]
    let scratch = uninitialized(max(1, maxT * maxT))     // [T, T]

    return try net.params.withWeights(config: c) { w -> Double in
        let fw = w.map({ MatrixWeights.f32($0) }, { $0 })
        return try batch.tokens.withUnsafeBufferPointer { tokBuf -> Double in
            try batch.positions.withUnsafeBufferPointer { posBuf -> Double in
                guard let tokens = tokBuf.baseAddress, let positions = posBuf.baseAddress else { return 0 }
                // MARK: Forward
                embeddingForward(c, embed: fw.embed, posEmbed: fw.posEmbed, tokens: tokens, positions: positions,
                                 rows: N, into: xs[0], rowScratch: hF)
                for l in 0..<L {
                    try Cancellation.shared.check()
                    try blockForward(c, layer: l, weights: fw.layers[l], multipliers: net.multipliers,
                                     xIn: xs[l], xOut: xs[l + 1], rows: N, acts: acts[l],
                                     attention: .packed(batch, probOffsets: probOffsets, scratch: scratch),
                                     rope: rope, positions: positions)
                }
                normForward(c.hiddenNorm, xs[L], hF, rows: N, w: w.finalNormW, b: w.finalNormB, saveMean: meanF, saveRstd: rstdF)

                // MARK: Loss, and the head's backward
                let g: Gradients? = try grads.map { gb in
                    // Zero what is accumulated into; the layer matrices (written by `linearBackward`)
                    // and an untied output head (written by its first chunk) are overwritten instead.
                    for slot in net.params.slots where !gradientIsOverwritten(slot.name, tied: c.tieWordEmbeddings) {
                        (gb + slot.offset).initialize(repeating: 0, count: slot.count)
                    }
                    return try ModelTensors<Int, Int>(config: c, slots: net.params.slots).map({ gb + $0 }, { gb + $0 })
                }
                let dhF = g == nil ? nil : uninitialized(N * D)   // ∂L/∂(final norm output) [N, D]
                let loss = try batch.nextTokenTargets().withUnsafeBufferPointer { targets in
                    try crossEntropyForwardBackward(
                        c, h: hF, unembed: w.unembed, targets: targets.baseAddress!, rows: N, predictions: M,
                        dh: dhF, dUnembed: g?.unembed, arena: arena)
                }
                guard let g, let dhF else { return loss }

                // MARK: Backward
                let dres = arena.make(N * D)                     // ∂L/∂(residual stream) [N, D]
                normBackward(c.hiddenNorm, dy: dhF, x: xs[L], mean: meanF, rstd: rstdF, rows: N, w: w.finalNormW,
                             dx: dres, dw: g.finalNormW, db: g.finalNormB)
                let buffers = BlockGradientBuffers(c, rows: N, arena: arena)
                for l in stride(from: L - 1, through: 0, by: -1) {
                    try Cancellation.shared.check()
                    try blockBackward(c, layer: l, weights: w.layers[l], grads: g.layers[l], multipliers: net.multipliers,
                                      xIn: xs[l], rows: N, acts: acts[l], batch: batch, probOffsets: probOffsets,
                                      scratch: scratch, rope: rope, positions: positions, dres: dres, buffers: buffers)
                }
                embeddingBackward(c, dx: dres, tokens: tokens, positions: positions, rows: N,
                                  dEmbed: g.embed, dPosEmbed: g.posEmbed)
                return loss
            }
        }
    }
}

/// The LM head and the loss, forward and backward, in chunks of rows: logits = h · Uᵀ, the summed
/// negative log-likelihood of each row's target (`PackedBatch.nextTokenTargets`; rows with a
/// negative target predict nothing), divided by `predictions`. With `dh`, also
/// ∂L/∂h [N, D] (overwritten) and ∂L/∂U [V, D] (overwritten when the head is untied, else added
/// to the embedding's gradient).
/// - Throws: `CancellationError` on interrupt.
func crossEntropyForwardBackward(
    _ c: ModelConfig, h: UnsafePointer<Float>, unembed: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
    rows N: Int, predictions M: Int,
    dh: UnsafeMutablePointer<Float>?, dUnembed: UnsafeMutablePointer<Float>?, arena: Arena
) throws -> Double {
    let D = c.hiddenSize, V = c.vocabSize
    let hasGrads = dh != nil
    // Rows of logits at once: up to 32M floats, so the output embedding's gradient is updated
    // (and the embedding packed) as few times as possible.
    let chunk = min(N, max(logitChunkRows, (1 << 25) / max(1, V)))
    let logits = arena.make(chunk * V, zeroed: false)     // [rows, V]
    let rowLoss = UnsafeMutablePointer<Double>.allocate(capacity: chunk)
    defer { rowLoss.deallocate() }
    let invM = 1 / Float(M)
    var nll = 0.0
    var r0 = 0
    while r0 < N {
        try Cancellation.shared.check()
        let rows = min(chunk, N - r0)
        linear(h + r0 * D, rows: rows, inFeatures: D, weight: unembed, outFeatures: V, bias: nil, into: logits)
        // Softmax rows in parallel; each row's NLL lands in its own slot and the slots are
        // summed in order, so the result does not depend on scheduling.
        let first = r0
        parallelRanges(rows, minChunk: 16) { range in
            for i in range {
                let r = first + i
                let row = logits + i * V
                rowLoss[i] = 0
                guard targets[r] >= 0 else {
                    if hasGrads { row.update(repeating: 0, count: V) }
                    continue
                }
                let target = Int(targets[r])
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
        if let dh, let dU = dUnembed {
            // dh[rows, D] = dlogits · U;  dU[V, D] += dlogitsᵀ · h
            sgemm(m: rows, n: D, k: V, a: logits, b: unembed, c: dh + r0 * D)
            sgemm(transA: true, m: V, n: D, k: rows, a: logits, b: h + r0 * D,
                  beta: r0 == 0 && !c.tieWordEmbeddings ? 0 : 1, c: dU)
        }
        r0 += rows
    }
    return nll / Double(M)
}
