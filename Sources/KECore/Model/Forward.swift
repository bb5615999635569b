import Foundation

// MARK: Forward pass (inference) with coefficient capture
//
// Documents are packed one after another into a single [N, D] activation matrix (N = total
// tokens; see `PackedBatch`), so every linear layer is one large GEMM with no padding; attention
// runs per document and head on strided views, so documents never attend to each other.

// MARK: Weights as the inference pass reads them

/// Runs `body` with views of `model`'s weights in the form it holds them (see
/// `ParameterStorage.withInferenceWeights`), f32 matrices with their panels packed once (see
/// `InferencePanels`). Resolved once; valid only inside `body`.
/// - Throws: whatever `body` throws; `CoreError` for a model without parameters.
func withInferenceWeights<R>(_ model: Model, _ body: (InferenceWeights) throws -> R) throws -> R {
    try model.storage.withInferenceWeights(config: model.config, panels: model.inferencePanels, body)
}

// MARK: The forward pass

/// What the inference forward pass should produce besides the hidden states.
struct ForwardRequest {
    /// Per layer, per memory: Σ |coefficient| over the batch is added here ([L][F], exact
    /// fixed-point accumulators, see `ExactSums`).
    var coefficientSums: ExactSumPointers?
    /// Called with (first row, row count, logits [rows, V]) for consecutive chunks of rows.
    var logits: ((Int, Int, UnsafePointer<Float>) throws -> Void)?
    /// Called once per layer with (layer, rows N, coefficients [N, F]) after the memory
    /// multipliers: the per-token coefficients, e.g. for a trace. Valid only during the call.
    var layerCoefficients: ((Int, Int, UnsafePointer<Float>) throws -> Void)? = nil
    /// Row r's next-token log-probability log softmax(logits_r)[targets[r]] is written to
    /// out[r] (rows with a negative target are left alone), without materialising full rows
    /// of logits: the LM head runs over vocabulary tiles with a running log-sum-exp.
    var targetLogProbs: (targets: UnsafePointer<Int32>, out: UnsafeMutablePointer<Double>)? = nil
}

/// The inference pass of `model` on one batch (weights resolved for this call).
/// - Throws: as `runForward(config:weights:multipliers:batch:request:workspace:)`.
func runForward(model: Model, batch: PackedBatch, request: ForwardRequest, workspace: Arena? = nil) throws {
    try withInferenceWeights(model) { w in
        try runForward(config: model.config, weights: w, multipliers: model.memoryMultipliers, batch: batch,
                       request: request, workspace: workspace)
    }
}


/// Rows of logits computed at once (bounds the [rows, V] buffer).
let logitChunkRows = 256

/// The inference pass of `config` with `weights` on `batch`: embeddings, every block, then the
/// head as `request` asks. Activation buffers come from `workspace` when given (kept for the next
/// batch), else they are allocated and freed here.
/// - Throws: `CoreError` for a token outside the vocabulary or a document longer than learned
///   positions; `CancellationError` when the user interrupts; whatever a request callback throws.
func runForward(config c: ModelConfig, weights w: InferenceWeights, multipliers: MemoryMultipliers,
                batch: PackedBatch, request: ForwardRequest, workspace: Arena? = nil) throws {
    let N = batch.count
    if N == 0 { return }
    try checkBatch(batch, c)
    let D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize
    let maxT = batch.maxLength
    let rope = RopeTable(c, batch: batch)

    // Workspace: every buffer is written before it is read.
    let arena = workspace ?? Arena()
    arena.reset()
    let x = arena.make(N * D, zeroed: false)
    let acts = BlockActivations(c, rows: N, arena: arena, training: false, weightTiles: w.hasCompactMatrices)
    let scores = arena.make(max(1, maxT * maxT), zeroed: false)
    try batch.tokens.withUnsafeBufferPointer { tokBuf in
        try batch.positions.withUnsafeBufferPointer { posBuf in
            guard let tokens = tokBuf.baseAddress, let positions = posBuf.baseAddress else { return }
            embeddingForward(c, embed: w.embed, posEmbed: w.posEmbed, tokens: tokens, positions: positions,
                             rows: N, into: x, rowScratch: acts.h1)
            for (l, lw) in w.layers.enumerated() {
                try Cancellation.shared.check()
                try blockForward(c, layer: l, weights: lw, multipliers: multipliers, xIn: x, xOut: x, rows: N,
                                 acts: acts, attention: .packed(batch, probOffsets: nil, scratch: scores),
                                 rope: rope, positions: positions) { coef in
                    if let sums = request.coefficientSums {
                        accumulateExactAbsColumnSums(coef, rows: N, cols: F, into: sums.advanced(by: l * F))
                    }
                    try request.layerCoefficients?(l, N, coef)
                }
            }
        }
    }
    if request.logits == nil && request.targetLogProbs == nil { return }
    let h = acts.h1
    normForward(c.hiddenNorm, x, h, rows: N, w: w.finalNormW, b: w.finalNormB)
    if let (targets, out) = request.targetLogProbs {
        let tile = headTileColumns(rows: N, vocab: V)
        try headLogProbs(h, rows: N, dim: D, unembed: w.unembed, vocab: V, targets: targets, into: out,
                         logits: arena.make(N * tile, zeroed: false),
                         embeddingRows: arena.make(w.unembed.isCompact ? tile * D : 1, zeroed: false))
    }
    guard let emit = request.logits else { return }
    // LM head in chunks of rows.
    let chunk = min(logitChunkRows, N)
    let logits = UnsafeMutablePointer<Float>.allocate(capacity: chunk * V)
    defer { logits.deallocate() }
    var r0 = 0
    while r0 < N {
        try Cancellation.shared.check()
        let rows = min(chunk, N - r0)
        linear(h + r0 * D, rows: rows, inFeatures: D, weight: w.unembed, outFeatures: V, bias: nil, into: logits,
               scratch: acts.weightTile)
        try emit(r0, rows, logits)
        r0 += rows
    }
}
