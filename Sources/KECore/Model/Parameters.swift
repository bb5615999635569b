// MARK: Parameters: one flat allocation of named views
//
// As in llm.c, all parameters of a model live in one contiguous Float buffer; each tensor is a
// named (offset, shape) view into it. Gradients and AdamW moments use the same layout, so the
// optimiser is a single loop.
//
// Canonical names (independent of the checkpoint's own names; `Loading/WeightMap.swift`
// translates, including GPT-2's Conv1D transpose and GPT-NeoX's fused QKV):
//
//   embed            [V, D]      token embedding
//   pos_embed        [P, D]      learned positions (GPT-2 only)
//   final_norm.w/.b  [D]         final norm (absent for OLMo's non-parametric LayerNorm)
//   lm_head          [V, D]      output embedding (absent when tied to `embed`)
//   L{i}.attn_norm.w/.b [D]      pre-attention norm
//   L{i}.q.w [H·hd, D]   L{i}.q.b [H·hd]
//   L{i}.k.w [KV·hd, D]  L{i}.k.b [KV·hd]
//   L{i}.v.w [KV·hd, D]  L{i}.v.b [KV·hd]
//   L{i}.o.w [D, H·hd]   L{i}.o.b [D]
//   L{i}.q_norm.w, L{i}.k_norm.w [H·hd], [KV·hd] (whole projection) or [hd] (per head)
//   L{i}.mlp_norm.w/.b [D]       pre-MLP norm
//   L{i}.post_attn_norm.w, L{i}.post_mlp_norm.w [D]  norms after the sub-blocks (OLMo 2),
//                                 which then have no attn_norm / mlp_norm
//   L{i}.gate.w [F, D] L{i}.gate.b [F]  gated MLPs only (SwiGLU: act(gate·x + b))
//   L{i}.up.w [F, D]   L{i}.up.b [F]    up projection (for GELU MLPs: W_in)
//   L{i}.down.w [D, F] L{i}.down.b [D]  value vectors: column i of down.w is memory i

/// Where one named tensor lives inside a `ParameterStore`.
public struct TensorSlot: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var offset: Int
    public var count: Int { shape.reduce(1, *) }
}

/// The canonical tensor list for a configuration, in a fixed order.
public func canonicalTensorShapes(for c: ModelConfig) -> [(name: String, shape: [Int])] {
    let D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize
    let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
    var out: [(String, [Int])] = [("embed", [V, D])]
    if c.learnedPositions { out.append(("pos_embed", [c.maxPositions, D])) }
    func norm(_ prefix: String) {
        switch c.norm {
        case .nonParametricLayerNorm: break
        case .rmsNorm: out.append(("\(prefix).w", [D]))
        case .layerNorm(let bias):
            out.append(("\(prefix).w", [D]))
            if bias { out.append(("\(prefix).b", [D])) }
        }
    }
    let pre = c.normPlacement == .beforeSublayer
    for i in 0..<c.numLayers {
        let p = "L\(i)"
        if pre { norm("\(p).attn_norm") }
        out.append(("\(p).q.w", [qDim, D]))
        if c.attentionBias { out.append(("\(p).q.b", [qDim])) }
        out.append(("\(p).k.w", [kvDim, D]))
        if c.attentionBias { out.append(("\(p).k.b", [kvDim])) }
        out.append(("\(p).v.w", [kvDim, D]))
        if c.attentionBias { out.append(("\(p).v.b", [kvDim])) }
        switch c.qkNorm {
        case .none: break
        case .fullProjection: out.append(("\(p).q_norm.w", [qDim])); out.append(("\(p).k_norm.w", [kvDim]))
        case .perHead: out.append(("\(p).q_norm.w", [c.headDim])); out.append(("\(p).k_norm.w", [c.headDim]))
        }
        out.append(("\(p).o.w", [D, qDim]))
        if c.attentionBias && c.outputProjectionBias { out.append(("\(p).o.b", [D])) }
        if pre { norm("\(p).mlp_norm") } else { norm("\(p).post_attn_norm") }
        if c.gatedMLP {
            out.append(("\(p).gate.w", [F, D]))
            if c.mlpBias { out.append(("\(p).gate.b", [F])) }
        }
        out.append(("\(p).up.w", [F, D]))
        if c.mlpBias { out.append(("\(p).up.b", [F])) }
        out.append(("\(p).down.w", [D, F]))
        if c.mlpBias { out.append(("\(p).down.b", [D])) }
        if !pre { norm("\(p).post_mlp_norm") }
    }
    norm("final_norm")
    if !c.tieWordEmbeddings { out.append(("lm_head", [V, D])) }
    return out
}

/// All parameters of a model in one Float buffer, with named views.
public struct ParameterStore: Sendable {
    /// The flat storage.
    public var data: [Float]
    /// Slots in canonical order.
    public private(set) var slots: [TensorSlot]
    private var index: [String: Int]

    /// A zero-filled store with the canonical layout of `config`.
    public init(config: ModelConfig) {
        var slots: [TensorSlot] = []
        var offset = 0
        for (name, shape) in canonicalTensorShapes(for: config) {
            let s = TensorSlot(name: name, shape: shape, offset: offset)
            slots.append(s)
            offset += s.count
        }
        self.init(slots: slots, data: [Float](repeating: 0, count: offset))
    }

    /// A store with the same layout as `other`, filled with zeros (for gradients and moments).
    public init(zerosLike other: ParameterStore) {
        self.init(slots: other.slots, data: [Float](repeating: 0, count: other.data.count))
    }

    init(slots: [TensorSlot], data: [Float]) {
        self.slots = slots
        self.data = data
        var index: [String: Int] = [:]
        for (i, s) in slots.enumerated() { index[s.name] = i }
        self.index = index
    }

    /// Total number of scalars.
    public var count: Int { data.count }

    /// The slot called `name`, if the layout has it.
    public func slot(_ name: String) -> TensorSlot? {
        index[name].map { slots[$0] }
    }

    /// True when the layout has a tensor called `name`.
    public func has(_ name: String) -> Bool { index[name] != nil }

    /// Copies of a tensor's values (for tests and small tensors).
    public func values(_ name: String) -> [Float]? {
        guard let s = slot(name) else { return nil }
        return Array(data[s.offset..<(s.offset + s.count)])
    }

    /// Overwrites a tensor; `values.count` must equal the slot's element count.
    ///
    /// - Throws: `CoreError` when the layout has no tensor `name` or `values` is not its element count.
    public mutating func set(_ name: String, _ values: [Float]) throws {
        guard let s = slot(name) else { throw CoreError("no tensor named '\(name)'") }
        guard values.count == s.count else {
            throw CoreError("tensor '\(name)' needs \(s.count) values, got \(values.count)")
        }
        data.replaceSubrange(s.offset..<(s.offset + s.count), with: values)
    }
}

// MARK: Resolved views

/// One layer's tensors as the passes read them: `Matrix` for the [out, in] weights, `Vector`
/// for norm weights and biases. The same shape of struct holds offsets (`Int`), read-only
/// weights, bf16 weights and writable gradients, so every pass names a tensor the same way.
struct LayerTensors<Matrix, Vector> {
    var attnNormW, attnNormB: Vector?
    var q, k, v, o: Matrix
    var qBias, kBias, vBias, oBias: Vector?
    var qNorm, kNorm: Vector?
    var postAttnNorm: Vector?
    var mlpNormW, mlpNormB: Vector?
    var gate: Matrix?
    var up, down: Matrix
    var gateBias, upBias, downBias: Vector?
    var postMLPNorm: Vector?

    /// The same tensors with every matrix passed through `m` and every vector through `v`.
    func map<M2, V2>(_ m: (Matrix) throws -> M2, _ v: (Vector) throws -> V2) rethrows -> LayerTensors<M2, V2> {
        LayerTensors<M2, V2>(
            attnNormW: try attnNormW.map(v), attnNormB: try attnNormB.map(v),
            q: try m(q), k: try m(k), v: try m(self.v), o: try m(o),
            qBias: try qBias.map(v), kBias: try kBias.map(v), vBias: try vBias.map(v), oBias: try oBias.map(v),
            qNorm: try qNorm.map(v), kNorm: try kNorm.map(v), postAttnNorm: try postAttnNorm.map(v),
            mlpNormW: try mlpNormW.map(v), mlpNormB: try mlpNormB.map(v),
            gate: try gate.map(m), up: try m(up), down: try m(down),
            gateBias: try gateBias.map(v), upBias: try upBias.map(v), downBias: try downBias.map(v), postMLPNorm: try postMLPNorm.map(v))
    }
}

/// All of a model's tensors as the passes read them (see `LayerTensors`).
struct ModelTensors<Matrix, Vector> {
    var embed: Matrix
    var posEmbed: Matrix?
    var finalNormW, finalNormB: Vector?
    /// The output embedding [V, D]: `lm_head`, or `embed` when tied.
    var unembed: Matrix
    var layers: [LayerTensors<Matrix, Vector>]

    func map<M2, V2>(_ m: (Matrix) throws -> M2, _ v: (Vector) throws -> V2) rethrows -> ModelTensors<M2, V2> {
        ModelTensors<M2, V2>(
            embed: try m(embed), posEmbed: try posEmbed.map(m),
            finalNormW: try finalNormW.map(v), finalNormB: try finalNormB.map(v),
            unembed: try m(unembed), layers: try layers.map { try $0.map(m, v) })
    }
}

extension ModelTensors where Matrix == Int, Vector == Int {
    /// The offset of every tensor of `config` in a buffer laid out as `slots` (offsets counted
    /// by `offset`, e.g. the slot offset itself, or a position among the 1-D tensors).
    ///
    /// - Throws: `CoreError` when a tensor the configuration needs is not in the layout (a
    ///   programming error: layouts are made from the same configuration).
    init(config c: ModelConfig, slots: [TensorSlot], offset: (TensorSlot) -> Int? = { $0.offset }) throws {
        var index: [String: TensorSlot] = [:]
        for s in slots { index[s.name] = s }
        func opt(_ name: String) -> Int? { index[name].flatMap(offset) }
        func req(_ name: String) throws -> Int {
            guard let o = opt(name) else { throw CoreError("internal: parameter '\(name)' missing") }
            return o
        }
        embed = try req("embed")
        posEmbed = opt("pos_embed")
        finalNormW = opt("final_norm.w")
        finalNormB = opt("final_norm.b")
        unembed = c.tieWordEmbeddings ? embed : try req("lm_head")
        layers = try (0..<c.numLayers).map { i in
            let p = "L\(i)."
            return LayerTensors(
                attnNormW: opt(p + "attn_norm.w"), attnNormB: opt(p + "attn_norm.b"),
                q: try req(p + "q.w"), k: try req(p + "k.w"), v: try req(p + "v.w"), o: try req(p + "o.w"),
                qBias: opt(p + "q.b"), kBias: opt(p + "k.b"), vBias: opt(p + "v.b"), oBias: opt(p + "o.b"),
                qNorm: opt(p + "q_norm.w"), kNorm: opt(p + "k_norm.w"), postAttnNorm: opt(p + "post_attn_norm.w"),
                mlpNormW: opt(p + "mlp_norm.w"), mlpNormB: opt(p + "mlp_norm.b"),
                gate: opt(p + "gate.w"), up: try req(p + "up.w"), down: try req(p + "down.w"),
                gateBias: opt(p + "gate.b"), upBias: opt(p + "up.b"), downBias: opt(p + "down.b"), postMLPNorm: opt(p + "post_mlp_norm.w"))
        }
    }
}

/// f32 weights as the training pass reads them.
typealias Weights = ModelTensors<UnsafePointer<Float>, UnsafePointer<Float>>
/// Gradients (or any buffer) with the parameter layout, written by the backward pass.
typealias Gradients = ModelTensors<UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>>

extension ParameterStore {
    /// Runs `body` with read-only views of every tensor, resolved once.
    /// - Throws: whatever `body` throws; `CoreError` for an empty store.
    func withWeights<R>(config c: ModelConfig, _ body: (Weights) throws -> R) throws -> R {
        try withWeights(config: c, matrix: { $1 }, body)
    }

    /// `withWeights` with each matrix given as `matrix(offset, pointer)`: its offset in this
    /// store and its floats (e.g. an inference view that also carries the matrix's packed panels).
    /// - Throws: whatever `body` throws; `CoreError` for an empty store.
    func withWeights<M, R>(config c: ModelConfig, matrix: (Int, UnsafePointer<Float>) -> M,
                           _ body: (ModelTensors<M, UnsafePointer<Float>>) throws -> R) throws -> R {
        let offsets = try ModelTensors<Int, Int>(config: c, slots: slots)
        return try data.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { throw CoreError("model has no parameters") }
            return try body(offsets.map({ matrix($0, base + $0) }, { base + $0 }))
        }
    }
}
