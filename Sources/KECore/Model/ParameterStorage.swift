// MARK: How a model holds its parameters
//
// A model's parameters are held in one of three forms, chosen when it is loaded:
//
//   f32        every tensor as Float, canonical layout (`Parameters.swift`)
//   bf16       matrices as bf16 bits, vectors as f32 (`load … bf16`; `BF16Weights`)
//   quantized  matrices as the ggml blocks a GGUF file stored, vectors as f32 (`QuantizedWeights`)
//
// Every pass reads weights through `withInferenceWeights`, which resolves each tensor once into
// the view the kernels take (`MatrixWeights`: f32 rows, bf16 rows or ggml blocks). Commands
// that need f32 everywhere (training, save, memory inspection) ask for `expanded()`. A new form
// (f16, or f32 mapped from disk) is one new case here and its two functions.

/// The parameters of a model, in the form they are held in memory.
public enum ParameterStorage: Sendable {
    /// Every tensor in f32, canonical layout.
    case f32(ParameterStore)
    /// Matrices as bf16 bits (rounded to nearest even), vectors in f32.
    case bf16(BF16Weights)
    /// Matrices as ggml blocks, vectors in f32.
    case quantized(QuantizedWeights)

    /// Number of scalar parameters (tied weights once, as transformers counts them).
    public var count: Int {
        switch self {
        case .f32(let p): return p.count
        case .bf16(let w): return w.count
        case .quantized(let w): return w.count
        }
    }

    /// The form's name as the model fingerprint hashes it: "f32", "bf16" or "ggml".
    var formName: String {
        switch self {
        case .f32: return "f32"
        case .bf16: return "bf16"
        case .quantized: return "ggml"
        }
    }

    /// The parameters in f32, canonical layout. For bf16 or quantised storage this converts the
    /// whole model (4 bytes a parameter) on every call and keeps nothing.
    public func expanded() -> ParameterStore {
        switch self {
        case .f32(let p): return p
        case .bf16(let w): return w.expanded()
        case .quantized(let w): return w.expanded()
        }
    }

    /// Runs `body` with views of these weights as the inference pass reads them (bf16 bits, ggml
    /// blocks or f32 rows, vectors in f32), resolved once for `config`; valid only inside `body`.
    /// With `panels` (a `Model`'s, whose storage never changes), f32 matrices come with their
    /// panels packed once (`MatrixWeights.f32Packed`).
    /// - Throws: whatever `body` throws; `CoreError` for storage without parameters or a tensor
    ///   of `config` missing from it.
    func withInferenceWeights<R>(config c: ModelConfig, panels: InferencePanels? = nil,
                                 _ body: (InferenceWeights) throws -> R) throws -> R {
        switch self {
        case .f32(let p):
            let packed = try panels?.panels(of: p, config: c) ?? [:]
            return try p.withWeights(config: c, matrix: { o, w in
                packed[o].map { MatrixWeights.f32Packed(w, $0) } ?? MatrixWeights.f32(w)
            }, body)
        case .bf16(let compact):
            let offsets = try ModelTensors<Int, Int>(config: c, slots: compact.slots) { s in
                s.shape.count == 1 ? compact.vectorOffset[s.name] : s.offset
            }
            return try withVectorBase(compact.vectors) { vectors in
                try compact.bits.withUnsafeBufferPointer { b in
                    guard let bits = b.baseAddress else { throw CoreError("model has no parameters") }
                    return try body(offsets.map({ MatrixWeights.bf16(bits + $0) }, { vectors + $0 }))
                }
            }
        case .quantized(let q):
            // Resolve each tensor to its slot's index, then to its blocks or its vector.
            let position = Dictionary(q.slots.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
            let index = try ModelTensors<Int, Int>(config: c, slots: q.slots) { position[$0.name] }
            return try withVectorBase(q.vectors) { vectors in
                try body(index.map({ i in
                    guard let rows = q.rows(q.slots[i].name) else {
                        throw CoreError("internal: matrix '\(q.slots[i].name)' has no blocks")
                    }
                    return MatrixWeights.blocks(rows)
                }, { i in
                    guard let o = q.vectorOffset[q.slots[i].name] else {
                        throw CoreError("internal: vector '\(q.slots[i].name)' missing")
                    }
                    return vectors + o
                }))
            }
        }
    }
}

/// `body` with the base address of a compact model's f32 vectors; a model without 1-D tensors
/// resolves no vector offset against it, so an empty array gets a placeholder address.
private func withVectorBase<R>(_ vectors: [Float], _ body: (UnsafePointer<Float>) throws -> R) throws -> R {
    var placeholder: Float = 0
    return try withUnsafePointer(to: &placeholder) { none in
        try vectors.withUnsafeBufferPointer { v in try body(v.baseAddress ?? none) }
    }
}
