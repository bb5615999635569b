import Foundation

// MARK: Forward pass (inference) with coefficient capture
//
// Documents are packed one after another into a single [N, D] activation matrix (N = total
// tokens), so every linear layer is one large GEMM with no padding; attention runs per document
// and head on strided views, so documents never attend to each other.

/// Token documents packed into one batch.
public struct PackedBatch: Sendable {
    /// Token ids, all documents concatenated. [N]
    public var tokens: [Int32]
    /// Position of each token inside its document. [N]
    public var positions: [Int32]
    /// Start row of each document.
    public var starts: [Int]
    /// Length of each document.
    public var lengths: [Int]

    public init(documents: [[Int]]) {
        var t: [Int32] = [], p: [Int32] = [], s: [Int] = [], l: [Int] = []
        t.reserveCapacity(documents.reduce(0) { $0 + $1.count })
        p.reserveCapacity(t.capacity)
        for d in documents where !d.isEmpty {
            s.append(t.count)
            l.append(d.count)
            for (i, id) in d.enumerated() { t.append(Int32(truncatingIfNeeded: id)); p.append(Int32(i)) }
        }
        tokens = t; positions = p; starts = s; lengths = l
    }

    /// Total number of tokens N.
    public var count: Int { tokens.count }
    /// Longest document.
    public var maxLength: Int { lengths.max() ?? 0 }
}

// MARK: Weights as the inference pass reads them

/// Runs `body` with views of `model`'s weights: its bf16 bits or ggml blocks when it is kept
/// compact (and has not been expanded to f32), else its f32 parameters. Resolved once; valid
/// only inside `body`.
/// - Throws: whatever `body` throws; `CoreError` for a model without parameters.
func withInferenceWeights<R>(_ model: Model, _ body: (InferenceWeights) throws -> R) throws -> R {
    let c = model.config
    if let compact = model.bf16 {
        let offsets = try ModelTensors<Int, Int>(config: c, slots: compact.slots) { s in
            s.shape.count == 1 ? compact.vectorOffset[s.name] : s.offset
        }
        return try withVectorBase(compact.vectors) { vectors in
            try compact.bits.withUnsafeBufferPointer { b in
                guard let bits = b.baseAddress else { throw CoreError("model has no parameters") }
                return try body(offsets.map({ MatrixWeights.bf16(bits + $0) }, { vectors + $0 }))
            }
        }
    }
    if let q = model.quantized {
        // Resolve each tensor to its slot's index, then to its blocks or its vector.
        let position = Dictionary(q.slots.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        let index = try ModelTensors<Int, Int>(config: c, slots: q.slots) { position[$0.name] }
        return try withVectorBase(q.vectors) { vectors in
            try body(index.map({ i in
                guard let rows = q.rows(q.slots[i].name) else { throw CoreError("internal: matrix '\(q.slots[i].name)' has no blocks") }
                return MatrixWeights.blocks(rows)
            }, { i in
                guard let o = q.vectorOffset[q.slots[i].name] else { throw CoreError("internal: vector '\(q.slots[i].name)' missing") }
                return vectors + o
            }))
        }
    }
    return try model.f32Parameters().withWeights(config: c) { w in try body(w.map({ MatrixWeights.f32($0) }, { $0 })) }
}

/// `body` with the base address of a compact model's f32 vectors; a model without 1-D tensors
/// resolves no vector offset against it, so an empty array gets a placeholder address.
private func withVectorBase<R>(_ vectors: [Float], _ body: (UnsafePointer<Float>) throws -> R) throws -> R {
    var placeholder: Float = 0
    return try withUnsafePointer(to: &placeholder) { none in
        try vectors.withUnsafeBufferPointer { v in try body(v.baseAddress ?? none) }
    }
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

extension Transformer {
    /// Runs `body` with f32 weight views for the inference pass, resolved once.
    /// - Throws: whatever `body` throws; `CoreError` for a model without parameters.
    func withInferenceWeights<R>(_ body: (InferenceWeights) throws -> R) throws -> R {
        try params.withWeights(config: config) { w in try body(w.map({ MatrixWeights.f32($0) }, { $0 })) }
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
