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

/// Pointers to one layer's weights inside the flat parameter buffer.
struct LayerWeights {
    var attnNormW, attnNormB: UnsafeMutablePointer<Float>?
    var qW, kW, vW, oW: UnsafeMutablePointer<Float>
    var qB, kB, vB, oB: UnsafeMutablePointer<Float>?
    var mlpNormW, mlpNormB: UnsafeMutablePointer<Float>?
    var gateW: UnsafeMutablePointer<Float>?
    var upW: UnsafeMutablePointer<Float>
    var upB: UnsafeMutablePointer<Float>?
    var downW: UnsafeMutablePointer<Float>
    var downB: UnsafeMutablePointer<Float>?
}

/// Pointers to all weights (or to gradients with the same layout).
struct WeightPointers {
    var embed: UnsafeMutablePointer<Float>
    var posEmbed: UnsafeMutablePointer<Float>?
    var finalNormW, finalNormB: UnsafeMutablePointer<Float>?
    /// Output embedding [V, D]: `lm_head`, or `embed` when tied.
    var unembed: UnsafeMutablePointer<Float>
    var layers: [LayerWeights]

    /// Resolves every canonical slot of `store` against `base` (the start of `store.data` or of a
    /// buffer with the same layout). The layout always matches the config, so missing required
    /// slots indicate a programming error, reported as a CoreError rather than a trap.
    init(store: ParameterStore, config c: ModelConfig, base: UnsafeMutablePointer<Float>) throws {
        func opt(_ name: String) -> UnsafeMutablePointer<Float>? {
            store.slot(name).map { base + $0.offset }
        }
        func req(_ name: String) throws -> UnsafeMutablePointer<Float> {
            guard let p = opt(name) else { throw CoreError("internal: parameter '\(name)' missing") }
            return p
        }
        embed = try req("embed")
        posEmbed = opt("pos_embed")
        finalNormW = opt("final_norm.w")
        finalNormB = opt("final_norm.b")
        unembed = c.tieWordEmbeddings ? embed : try req("lm_head")
        var ls: [LayerWeights] = []
        for i in 0..<c.numLayers {
            let p = "L\(i)."
            ls.append(LayerWeights(
                attnNormW: opt(p + "attn_norm.w"), attnNormB: opt(p + "attn_norm.b"),
                qW: try req(p + "q.w"), kW: try req(p + "k.w"), vW: try req(p + "v.w"), oW: try req(p + "o.w"),
                qB: opt(p + "q.b"), kB: opt(p + "k.b"), vB: opt(p + "v.b"), oB: opt(p + "o.b"),
                mlpNormW: opt(p + "mlp_norm.w"), mlpNormB: opt(p + "mlp_norm.b"),
                gateW: opt(p + "gate.w"), upW: try req(p + "up.w"), upB: opt(p + "up.b"),
                downW: try req(p + "down.w"), downB: opt(p + "down.b")))
        }
        layers = ls
    }
}

// MARK: Weights as the inference pass reads them

/// A weight matrix [out, in]: f32, or bf16 bits converted to f32 a tile of rows at a time.
enum MatrixWeights {
    case f32(UnsafePointer<Float>)
    case bf16(UnsafePointer<UInt16>)

    var isBF16: Bool { if case .bf16 = self { return true } else { return false } }

    /// Row r (`width` values) into `dst` as f32.
    @inline(__always)
    func row(_ r: Int, width: Int, into dst: UnsafeMutablePointer<Float>) {
        switch self {
        case .f32(let p): dst.update(from: p + r * width, count: width)
        case .bf16(let p): convertBF16(p + r * width, dst, count: width)
        }
    }
}

/// One layer's weights for the inference pass: vectors always f32, matrices f32 or bf16.
struct InferenceLayer {
    var attnNormW, attnNormB, mlpNormW, mlpNormB: UnsafePointer<Float>?
    var qB, kB, vB, oB, upB, downB: UnsafePointer<Float>?
    var q, k, v, o, up, down: MatrixWeights
    var gate: MatrixWeights?
}

/// All weights for the inference pass.
struct InferenceWeights {
    var embed: MatrixWeights
    var posEmbed: MatrixWeights?
    var finalNormW, finalNormB: UnsafePointer<Float>?
    var unembed: MatrixWeights
    var layers: [InferenceLayer]

    /// Views of an f32 parameter store.
    init(_ w: WeightPointers) {
        func m(_ p: UnsafeMutablePointer<Float>) -> MatrixWeights { .f32(UnsafePointer(p)) }
        func v(_ p: UnsafeMutablePointer<Float>?) -> UnsafePointer<Float>? { p.map { UnsafePointer($0) } }
        embed = m(w.embed)
        posEmbed = w.posEmbed.map(m)
        finalNormW = v(w.finalNormW); finalNormB = v(w.finalNormB)
        unembed = m(w.unembed)
        layers = w.layers.map { l in
            InferenceLayer(
                attnNormW: v(l.attnNormW), attnNormB: v(l.attnNormB), mlpNormW: v(l.mlpNormW), mlpNormB: v(l.mlpNormB),
                qB: v(l.qB), kB: v(l.kB), vB: v(l.vB), oB: v(l.oB), upB: v(l.upB), downB: v(l.downB),
                q: m(l.qW), k: m(l.kW), v: m(l.vW), o: m(l.oW), up: m(l.upW), down: m(l.downW),
                gate: l.gateW.map(m))
        }
    }

    /// Views of bf16 weights: `bits` is the start of `compact.bits`, `vectors` of `compact.vectors`
    /// (nil when the model has no 1-D tensors).
    init(_ compact: CompactWeights, config c: ModelConfig, bits: UnsafePointer<UInt16>, vectors: UnsafePointer<Float>?) throws {
        let index = compact.slotIndex
        func m(_ name: String) throws -> MatrixWeights {
            guard let s = index[name] else { throw CoreError("internal: parameter '\(name)' missing") }
            return .bf16(bits + s.offset)
        }
        func om(_ name: String) -> MatrixWeights? { index[name].map { .bf16(bits + $0.offset) } }
        func v(_ name: String) -> UnsafePointer<Float>? {
            guard let vectors, let o = compact.vectorOffset[name] else { return nil }
            return vectors + o
        }
        embed = try m("embed")
        posEmbed = om("pos_embed")
        finalNormW = v("final_norm.w"); finalNormB = v("final_norm.b")
        unembed = c.tieWordEmbeddings ? embed : try m("lm_head")
        var ls: [InferenceLayer] = []
        for i in 0..<c.numLayers {
            let p = "L\(i)."
            ls.append(InferenceLayer(
                attnNormW: v(p + "attn_norm.w"), attnNormB: v(p + "attn_norm.b"),
                mlpNormW: v(p + "mlp_norm.w"), mlpNormB: v(p + "mlp_norm.b"),
                qB: v(p + "q.b"), kB: v(p + "k.b"), vB: v(p + "v.b"), oB: v(p + "o.b"),
                upB: v(p + "up.b"), downB: v(p + "down.b"),
                q: try m(p + "q.w"), k: try m(p + "k.w"), v: try m(p + "v.w"), o: try m(p + "o.w"),
                up: try m(p + "up.w"), down: try m(p + "down.w"), gate: om(p + "gate.w")))
        }
        layers = ls
    }
}

/// Output rows of a bf16 matrix converted per sgemm: `bf16TileRows × inFeatures` floats of scratch.
let bf16TileRows = 256

/// y[n, out] = x[n, in] · Wᵀ (+ bias): `linear` for either kind of weights. A bf16 matrix is
/// converted `bf16TileRows` output rows at a time into `scratch` (≥ bf16TileRows × in floats),
/// each tile one sgemm writing its block of columns of y.
func linear(
    _ x: UnsafePointer<Float>, rows n: Int, inFeatures: Int, weight: MatrixWeights, outFeatures: Int,
    bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false,
    scratch: UnsafeMutablePointer<Float>
) {
    switch weight {
    case .f32(let w):
        linear(x, rows: n, inFeatures: inFeatures, weight: w, outFeatures: outFeatures, bias: bias, into: y, accumulate: accumulate)
    case .bf16(let w):
        if let bias, !accumulate {
            for r in 0..<n { (y + r * outFeatures).update(from: bias, count: outFeatures) }
        }
        let beta: Float = accumulate || bias != nil ? 1 : 0
        var o0 = 0
        while o0 < outFeatures {
            let rows = min(bf16TileRows, outFeatures - o0)
            convertBF16(w + o0 * inFeatures, scratch, count: rows * inFeatures)
            sgemm(transB: true, m: n, n: rows, k: inFeatures, a: x, b: scratch, beta: beta,
                  c: y + o0, ldc: outFeatures)
            o0 += rows
        }
        if let bias, accumulate {
            for r in 0..<n {
                let row = y + r * outFeatures
                for j in 0..<outFeatures { row[j] += bias[j] }
            }
        }
    }
}

/// Applies the configured normalisation.
@inline(__always)
func normForward(
    _ c: ModelConfig, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int,
    w: UnsafePointer<Float>?, b: UnsafePointer<Float>?,
    saveMean: UnsafeMutablePointer<Float>? = nil, saveRstd: UnsafeMutablePointer<Float>? = nil
) {
    if saveMean == nil && saveRstd == nil && rows >= 256 {
        // Inference: rows are independent, so split them across cores.
        let D = c.hiddenSize
        parallelRanges(rows, minChunk: 128) { r in
            normForwardSerial(c, x + r.lowerBound * D, y + r.lowerBound * D, rows: r.count, w: w, b: b)
        }
        return
    }
    normForwardSerial(c, x, y, rows: rows, w: w, b: b, saveMean: saveMean, saveRstd: saveRstd)
}

@inline(__always)
func normForwardSerial(
    _ c: ModelConfig, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int,
    w: UnsafePointer<Float>?, b: UnsafePointer<Float>?,
    saveMean: UnsafeMutablePointer<Float>? = nil, saveRstd: UnsafeMutablePointer<Float>? = nil
) {
    switch c.norm {
    case .rmsNorm:
        if let w {
            rmsNormForward(x, y, rows: rows, dim: c.hiddenSize, weight: w, eps: c.normEps, saveRstd: saveRstd)
        }
    case .layerNorm, .nonParametricLayerNorm:
        layerNormForward(x, y, rows: rows, dim: c.hiddenSize, weight: w, bias: b, eps: c.normEps,
                         saveMean: saveMean, saveRstd: saveRstd)
    }
}

// MARK: Attention

/// Where each head's rows live in the packed q [N, H·hd] and k/v [N, KV·hd] matrices: shared by
/// the attention forward and backward, so both read the same views.
struct AttentionLayout {
    let heads, headDim: Int
    /// Row strides of q (and its gradients, the attention output) and of k/v.
    let qStride, kvStride: Int
    /// Query heads per key/value head.
    let group: Int
    /// 1/√hd.
    let scale: Float

    init(_ c: ModelConfig) {
        heads = c.numHeads; headDim = c.headDim
        qStride = c.numHeads * c.headDim; kvStride = c.numKVHeads * c.headDim
        group = c.numHeads / c.numKVHeads
        scale = 1 / Float(c.headDim).squareRoot()
    }

    /// Offset of query head h of the document starting at row `start`.
    @inline(__always) func q(_ start: Int, _ h: Int) -> Int { start * qStride + h * headDim }
    /// Offset of the key/value head serving query head h.
    @inline(__always) func kv(_ start: Int, _ h: Int) -> Int { start * kvStride + (h / group) * headDim }
}

/// Causal self-attention for one packed batch, per document and head.
///
/// q [N, H·hd], k/v [N, KV·hd] → out [N, H·hd]. `probs`, when given, receives each document's
/// attention probabilities for training ([H, T, T] per document, at `probOffsets[doc]`).
func attentionForward(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>, batch: PackedBatch, config c: ModelConfig,
    scratch: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>? = nil,
    probOffsets: [Int]? = nil
) {
    let L = AttentionLayout(c)
    let hd = L.headDim, qStride = L.qStride, kvStride = L.kvStride, scale = L.scale
    for (d, start) in batch.starts.enumerated() {
        let T = batch.lengths[d]
        for h in 0..<L.heads {
            let qh = q + L.q(start, h), kh = k + L.kv(start, h), vh = v + L.kv(start, h)
            let s: UnsafeMutablePointer<Float>
            if let probs, let probOffsets { s = probs + probOffsets[d] + h * T * T } else { s = scratch }
            // s[T, T] = scale · q_h · k_hᵀ
            sgemm(transB: true, m: T, n: T, k: hd, alpha: scale, a: qh, lda: qStride, b: kh, ldb: kvStride, c: s, ldc: T)
            // Causal softmax row by row; entries above the diagonal become 0.
            for i in 0..<T {
                let row = s + i * T
                let mx = vmax(row, count: i + 1)
                let inv = 1 / expShiftedInPlace(row, count: i + 1, shift: mx)
                for j in 0...i { row[j] *= inv }
                for j in (i + 1)..<T { row[j] = 0 }
            }
            // out_h[T, hd] = s · v_h
            sgemm(m: T, n: hd, k: T, a: s, lda: T, b: vh, ldb: kvStride, c: out + L.q(start, h), ldc: qStride)
        }
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
    /// Per-layer, per-memory multipliers applied to the coefficients (interventions).
    var coefficientScale: [[Float]?] = []
    /// Called once per layer with (layer, rows N, coefficients [N, F]) after `coefficientScale`
    /// is applied: the per-token coefficients, e.g. for a trace. Valid only during the call.
    var layerCoefficients: ((Int, Int, UnsafePointer<Float>) throws -> Void)? = nil
    /// Row r's next-token log-probability log softmax(logits_r)[targets[r]] is written to
    /// out[r] (rows with a negative target are left alone), without materialising full rows
    /// of logits: the LM head runs over vocabulary tiles with a running log-sum-exp.
    var targetLogProbs: (targets: UnsafePointer<Int32>, out: UnsafeMutablePointer<Double>)? = nil
}

/// Rows of logits computed at once (bounds the [rows, V] buffer).
let logitChunkRows = 256

/// Runs the model on `batch`, accumulating coefficient statistics and/or streaming logits.
/// A model kept as bf16 runs on its bf16 weights (unless it has been converted to f32 already).
func runForward(model: Model, batch: PackedBatch, request: ForwardRequest, workspace: Arena? = nil) throws {
    if let compact = model.compact, model.paramsIfExpanded == nil {
        try compact.bits.withUnsafeBufferPointer { b in
            try compact.vectors.withUnsafeBufferPointer { v in
                guard let bits = b.baseAddress else { throw CoreError("model has no parameters") }
                let w = try InferenceWeights(compact, config: model.config, bits: bits, vectors: v.baseAddress)
                try runForward(config: model.config, weights: w, batch: batch, request: request, workspace: workspace)
            }
        }
        return
    }
    try runForward(config: model.config, params: model.params, batch: batch, request: request, workspace: workspace)
}

/// The forward pass on a configuration and parameter store (no tokenizer needed; used by training).
func runForward(config: ModelConfig, params: ParameterStore, batch: PackedBatch, request: ForwardRequest,
                workspace: Arena? = nil) throws {
    try params.data.withUnsafeBufferPointer { buf in
        // Read-only use: the pointers are typed mutable only so gradients can share `WeightPointers`.
        guard let base = buf.baseAddress else { throw CoreError("model has no parameters") }
        let w = try WeightPointers(store: params, config: config, base: UnsafeMutablePointer(mutating: base))
        try runForward(config: config, weights: InferenceWeights(w), batch: batch, request: request, workspace: workspace)
    }
}

/// The forward pass proper. Its activation buffers come from `workspace` when given (kept for the
/// next batch), else they are allocated and freed here.
func runForward(config: ModelConfig, weights w: InferenceWeights, batch: PackedBatch, request: ForwardRequest,
                workspace: Arena? = nil) throws {
    let c = config
    let N = batch.count
    if N == 0 { return }
    let D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize
    let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
    let maxT = batch.maxLength
    if c.learnedPositions && maxT > c.maxPositions {
        throw CoreError("a document has \(maxT) tokens but the model has only \(c.maxPositions) positions; use 'seq \(c.maxPositions)'")
    }
    for t in batch.tokens where t < 0 || Int(t) >= V {
        throw CoreError("token id \(t) is outside the vocabulary of \(V)")
    }
    let rope = RopeTable(rotaryDim: c.rotaryDim, theta: c.ropeTheta, positions: max(1, maxT))

    // Workspace: every buffer is written before it is read.
    let arena = workspace ?? Arena()
    arena.reset()
    func buffer(_ n: Int) -> UnsafeMutablePointer<Float> { arena.make(n, zeroed: false) }
    let x = buffer(N * D), h = buffer(N * D)
    let q = buffer(N * qDim), k = buffer(N * kvDim), v = buffer(N * kvDim), att = buffer(N * qDim)
    let a = buffer(N * F), u = buffer(c.gatedMLP ? N * F : 1)
    let scores = buffer(max(1, maxT * maxT))

    // Scratch for bf16 weight tiles (see `linear(…, scratch:)`); one float when weights are f32.
    let tileFloats = bf16TileRows * max(D, F, qDim)
    let wt = buffer(w.embed.isBF16 ? tileFloats : 1)
    do {
        // Embeddings: x = embed[tok] (+ pos_embed[pos]).
        for r in 0..<N {
            w.embed.row(Int(batch.tokens[r]), width: D, into: x + r * D)
            if let pe = w.posEmbed {
                pe.row(Int(batch.positions[r]), width: D, into: h)
                let xr = x + r * D
                for j in 0..<D { xr[j] += h[j] }
            }
        }

        for (l, lw) in w.layers.enumerated() {
            try Cancellation.shared.check()
            // Attention: h = norm1(x); q, k, v; RoPE; attention; o-projection.
            normForward(c, x, h, rows: N, w: lw.attnNormW, b: lw.attnNormB)
            linear(h, rows: N, inFeatures: D, weight: lw.q, outFeatures: qDim, bias: lw.qB, into: q, scratch: wt)
            linear(h, rows: N, inFeatures: D, weight: lw.k, outFeatures: kvDim, bias: lw.kB, into: k, scratch: wt)
            linear(h, rows: N, inFeatures: D, weight: lw.v, outFeatures: kvDim, bias: lw.vB, into: v, scratch: wt)
            if let clip = c.clipQKV {
                for i in 0..<(N * qDim) { q[i] = min(max(q[i], -clip), clip) }
                for i in 0..<(N * kvDim) { k[i] = min(max(k[i], -clip), clip); v[i] = min(max(v[i], -clip), clip) }
            }
            batch.positions.withUnsafeBufferPointer { pos in
                guard let pp = pos.baseAddress else { return }
                applyRope(q, rows: N, stride: qDim, heads: c.numHeads, headDim: c.headDim, positions: pp, table: rope)
                applyRope(k, rows: N, stride: kvDim, heads: c.numKVHeads, headDim: c.headDim, positions: pp, table: rope)
            }
            attentionForward(q: q, k: k, v: v, out: att, batch: batch, config: c, scratch: scores)

            // MLP input: parallel residual reads the layer input, sequential reads x + attn.
            if c.parallelResidual {
                normForward(c, x, h, rows: N, w: lw.mlpNormW, b: lw.mlpNormB)
                linear(att, rows: N, inFeatures: qDim, weight: lw.o, outFeatures: D, bias: lw.oB, into: x, accumulate: true, scratch: wt)
            } else {
                linear(att, rows: N, inFeatures: qDim, weight: lw.o, outFeatures: D, bias: lw.oB, into: x, accumulate: true, scratch: wt)
                normForward(c, x, h, rows: N, w: lw.mlpNormW, b: lw.mlpNormB)
            }

            // Coefficients a[N, F].
            if let gw = lw.gate {
                linear(h, rows: N, inFeatures: D, weight: gw, outFeatures: F, bias: nil, into: a, scratch: wt)
                linear(h, rows: N, inFeatures: D, weight: lw.up, outFeatures: F, bias: lw.upB, into: u, scratch: wt)
                parallelRanges(N, minChunk: 64) { r in
                    activateInPlace(a + r.lowerBound * F, count: r.count * F, c.activation, times: u + r.lowerBound * F)
                }
            } else {
                linear(h, rows: N, inFeatures: D, weight: lw.up, outFeatures: F, bias: lw.upB, into: a, scratch: wt)
                parallelRanges(N, minChunk: 64) { r in
                    activateInPlace(a + r.lowerBound * F, count: r.count * F, c.activation)
                }
            }
            if l < request.coefficientScale.count, let mult = request.coefficientScale[l] {
                mult.withUnsafeBufferPointer { m in
                    for r in 0..<N {
                        let ar = a + r * F
                        for j in 0..<F { ar[j] *= m[j] }
                    }
                }
            }
            if let sums = request.coefficientSums {
                accumulateExactAbsColumnSums(a, rows: N, cols: F, into: sums.advanced(by: l * F))
            }
            if let each = request.layerCoefficients { try each(l, N, a) }
            // Down projection: the coefficient-weighted sum of value vectors.
            linear(a, rows: N, inFeatures: F, weight: lw.down, outFeatures: D, bias: lw.downB, into: x, accumulate: true, scratch: wt)
        }

        if request.logits == nil && request.targetLogProbs == nil { return }
        normForward(c, x, h, rows: N, w: w.finalNormW, b: w.finalNormB)
        if let (targets, out) = request.targetLogProbs {
            let tile = headTileColumns(rows: N, vocab: V)
            try headLogProbs(h, rows: N, dim: D, unembed: w.unembed, vocab: V, targets: targets, into: out,
                             logits: buffer(N * tile), embeddingRows: buffer(w.unembed.isBF16 ? tile * D : 1))
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
            linear(h + r0 * D, rows: rows, inFeatures: D, weight: w.unembed, outFeatures: V, bias: nil, into: logits, scratch: wt)
            try emit(r0, rows, logits)
            r0 += rows
        }
    }
}

/// Vocabulary entries per tile of `headLogProbs`: about 4M floats of logits at a time, in whole
/// 16-column blocks.
func headTileColumns(rows n: Int, vocab v: Int) -> Int {
    min(v, max(256, ((1 << 22) / max(1, n)) / 16 * 16))
}

/// out[r] = log softmax(h_r · Eᵀ)[targets[r]] for every row with targets[r] ≥ 0. `logits` holds
/// n × `headTileColumns` floats; `embeddingRows` holds that many rows of E in f32 when E is bf16.
///
/// The head runs over tiles of the vocabulary, each one GEMM over all rows (so the output
/// embedding is packed once per batch rather than once per chunk of rows); each row keeps a
/// running maximum and a Float64 sum of exponentials rescaled to it.
func headLogProbs(
    _ h: UnsafePointer<Float>, rows n: Int, dim d: Int, unembed: MatrixWeights, vocab v: Int,
    targets: UnsafePointer<Int32>, into out: UnsafeMutablePointer<Double>,
    logits: UnsafeMutablePointer<Float>, embeddingRows rowsF32: UnsafeMutablePointer<Float>
) throws {
    let tile = headTileColumns(rows: n, vocab: v)
    let rowMax = UnsafeMutablePointer<Float>.allocate(capacity: n)
    let rowSum = UnsafeMutablePointer<Double>.allocate(capacity: n)
    let picked = UnsafeMutablePointer<Float>.allocate(capacity: n)
    rowMax.initialize(repeating: -.infinity, count: n)
    rowSum.initialize(repeating: 0, count: n)
    picked.initialize(repeating: .nan, count: n)
    defer { rowMax.deallocate(); rowSum.deallocate(); picked.deallocate() }
    var v0 = 0
    while v0 < v {
        try Cancellation.shared.check()
        let vt = min(tile, v - v0)
        // logits[n, vt] = h · E[v0..<v0+vt]ᵀ
        let e: UnsafePointer<Float>
        switch unembed {
        case .f32(let p): e = p + v0 * d
        case .bf16(let p):
            convertBF16(p + v0 * d, rowsF32, count: vt * d)
            e = UnsafePointer(rowsF32)
        }
        sgemm(transB: true, m: n, n: vt, k: d, a: h, b: e, c: logits, ldc: vt)
        parallelRanges(n, minChunk: 64) { rows in
            for r in rows {
                let row = logits + r * vt
                let m = vmax(row, count: vt)
                let s = Double(sumOfExpShifted(row, count: vt, shift: m))
                let old = rowMax[r]
                if m > old {
                    rowSum[r] = rowSum[r] * exp(Double(old) - Double(m)) + s
                    rowMax[r] = m
                } else {
                    rowSum[r] += s * exp(Double(m) - Double(old))
                }
                let t = Int(targets[r]) - v0
                if t >= 0 && t < vt { picked[r] = row[t] }
            }
        }
        v0 += vt
    }
    for r in 0..<n where targets[r] >= 0 {
        out[r] = Double(picked[r]) - Double(rowMax[r]) - log(rowSum[r])
    }
}

/// sums[j] += Σ_r |a[r, j]| exactly (see `ExactSums`); columns are split across cores. The
/// fixed-point sums are integers, so the result depends neither on the thread count nor on
/// which rows share a batch.
func accumulateExactAbsColumnSums(_ a: UnsafePointer<Float>, rows n: Int, cols f: Int, into sums: ExactSumPointers) {
    if n * f < 1 << 16 {
        accumulateExactAbsColumnSums(a, rows: n, cols: f, rowStride: f, into: sums)
        return
    }
    parallelRanges(f, minChunk: 64) { cols in
        accumulateExactAbsColumnSums(a + cols.lowerBound, rows: n, cols: cols.count, rowStride: f,
                                     into: sums.advanced(by: cols.lowerBound))
    }
}

/// sums[j] += Σ_r |a[r · rowStride + j]| for j < f: each |a| in [2^-40, 2^16) (or 0) is split
/// into whole units of 2^-32 (added to `hi`) and the rest in units of 2^-64 (added to `lo`): exact,
/// since a float32 of at least 2^-40 has no bits below 2^-64. Smaller, larger or non-finite
/// values are added to `extra` in row order, so a memory whose coefficients are all tiny keeps
/// its (tiny, nonzero) mean instead of truncating to 0.
@inline(__always)
func accumulateExactAbsColumnSums(_ a: UnsafePointer<Float>, rows n: Int, cols f: Int, rowStride: Int, into sums: ExactSumPointers) {
    let hi = sums.hi, lo = sums.lo, extra = sums.extra
    for r in 0..<n {
        let row = a + r * rowStride
        for j in 0..<f {
            let x = Double(abs(row[j]))
            let d = x * 0x1p32
            if d < 0x1p48 && (d >= 0x1p-8 || x == 0) {
                let whole = d.rounded(.down)
                hi[j] &+= UInt64(whole)
                lo[j] &+= UInt64((d - whole) * 0x1p32)
            } else {
                extra[j] += x
            }
        }
    }
}
