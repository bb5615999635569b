// MARK: Parameters: one flat allocation of named views
//
// As in llm.c, all parameters of a model live in one contiguous Float buffer; each tensor is a
// named (offset, shape) view into it. Gradients and AdamW moments use the same layout, so the
// optimiser is a single loop.
//
// Canonical names (independent of the checkpoint's own names; `Checkpoint/WeightMap.swift`
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
//   L{i}.mlp_norm.w/.b [D]       pre-MLP norm
//   L{i}.gate.w [F, D]           gated MLPs only (SwiGLU: act(gate·x))
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
    for i in 0..<c.numLayers {
        let p = "L\(i)"
        norm("\(p).attn_norm")
        out.append(("\(p).q.w", [qDim, D]))
        if c.attentionBias { out.append(("\(p).q.b", [qDim])) }
        out.append(("\(p).k.w", [kvDim, D]))
        if c.attentionBias { out.append(("\(p).k.b", [kvDim])) }
        out.append(("\(p).v.w", [kvDim, D]))
        if c.attentionBias { out.append(("\(p).v.b", [kvDim])) }
        out.append(("\(p).o.w", [D, qDim]))
        if c.attentionBias { out.append(("\(p).o.b", [D])) }
        norm("\(p).mlp_norm")
        if c.gatedMLP { out.append(("\(p).gate.w", [F, D])) }
        out.append(("\(p).up.w", [F, D]))
        if c.mlpBias { out.append(("\(p).up.b", [F])) }
        out.append(("\(p).down.w", [D, F]))
        if c.mlpBias { out.append(("\(p).down.b", [D])) }
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
    public mutating func set(_ name: String, _ values: [Float]) throws {
        guard let s = slot(name) else { throw CoreError("no tensor named '\(name)'") }
        guard values.count == s.count else {
            throw CoreError("tensor '\(name)' needs \(s.count) values, got \(values.count)")
        }
        data.replaceSubrange(s.offset..<(s.offset + s.count), with: values)
    }
}
