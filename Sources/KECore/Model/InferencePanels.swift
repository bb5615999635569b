import Foundation

// MARK: A model's weight matrices packed once for the inference kernel
//
// Every linear layer of the inference pass is y = x·Wᵀ with a weight W that never changes, yet
// the fixed-order kernel packs W into its panels on every call: in an entropy or perplexity
// pass, once per batch and layer (the LM head [V, D] alone is 25.7M floats per batch for
// Pythia-70m). A `Model` keeps those panels (`PackedPanels`) made once, on its first inference
// pass, and the pass reads them instead of packing (same floats, so the same bits).
//
// Only a `Model` holds panels: it is immutable (its storage is a `let` of value type), so its
// panels can never go stale. Training reads a `Transformer`, whose weights change every step
// and which has no panels to offer (`Transformer.withInferenceWeights` passes none).
//
// Bounded: f32 weights only (bf16 and ggml blocks are converted a tile at a time, see
// `linear`), never more floats than the model's own parameters, and all live models' panels
// together at most a quarter of the machine's memory; past that the pass packs as before.

/// The panels of one model's f32 weight matrices (q, k, v, o, gate, up, down, the output
/// embedding) for the register tile in use, made on first request; thread-safe; freed with
/// the model.
final class InferencePanels: @unchecked Sendable {
    private let lock = NSLock()
    /// The panels by the matrix's offset in the parameter store whose floats start at `source`,
    /// for `tile`; nil until made.
    private var made: (tile: GEMMMicroKernel, source: UnsafePointer<Float>?, byOffset: [Int: PackedPanels])?
    /// Bytes this model's panels hold (counted in `PanelBudget`).
    private var bytes = 0

    /// The panels of `store`'s weight matrices for `config` and the current register tile, by
    /// each matrix's offset in `store`, made now on first use (empty when ke multiplies with
    /// OpenBLAS, or when they would exceed the budget). `store` is the model's own (immutable)
    /// parameters; another store's floats (another buffer) get none.
    /// - Throws: `CoreError` when a tensor of `config` is missing from `store`.
    func panels(of store: ParameterStore, config c: ModelConfig) throws -> [Int: PackedPanels] {
        guard matrixProductKernel == .fixedOrder else { return [:] }
        let tile = gemmMicroKernel
        // The buffer's address identifies it (compared, never read through).
        let source = store.data.withUnsafeBufferPointer { $0.baseAddress }
        lock.lock(); defer { lock.unlock() }
        if let made, made.source != source { return [:] }
        if let made, made.tile == tile { return made.byOffset }
        // Another tile was selected since (tests compare tiles): the old panels are released
        // here, and live on only in passes still holding them.
        PanelBudget.shared.release(bytes)
        bytes = 0
        made = nil
        let matrices = try Self.weightMatrices(of: store, config: c)
        let floats = matrices.reduce(0) { total, s in
            total + PackedPanels.count(tile: registerTile(columns: s.shape[0], preferred: tile), k: s.shape[1], n: s.shape[0])
        }
        var byOffset: [Int: PackedPanels] = [:]
        if floats <= store.count && PanelBudget.shared.reserve(floats * 4) {
            bytes = floats * 4
            store.data.withUnsafeBufferPointer { buf in
                guard let base = buf.baseAddress else { return }
                for s in matrices {
                    let out = s.shape[0], inF = s.shape[1]
                    byOffset[s.offset] = PackedPanels(tile: registerTile(columns: out, preferred: tile), transB: true,
                                                      k: inF, n: out, b: base + s.offset, ldb: inF)
                }
            }
        }
        made = (tile, source, byOffset)
        return byOffset
    }

    deinit { PanelBudget.shared.release(bytes) }

    /// The slots of the matrices the inference pass multiplies by (as W in x·Wᵀ): every layer's
    /// projections and the output embedding; not the input embedding (rows are looked up).
    private static func weightMatrices(of store: ParameterStore, config c: ModelConfig) throws -> [TensorSlot] {
        let t = try ModelTensors<Int, Int>(config: c, slots: store.slots)
        let bySlot = Dictionary(store.slots.map { ($0.offset, $0) }, uniquingKeysWith: { a, _ in a })
        var offsets = t.layers.flatMap { l in [l.q, l.k, l.v, l.o, l.up, l.down] + (l.gate.map { [$0] } ?? []) }
        offsets.append(t.unembed)
        return offsets.compactMap { o in bySlot[o].flatMap { $0.shape.count == 2 && $0.count > 0 ? $0 : nil } }
    }
}

/// The bytes all live models' panels may hold together: a quarter of the machine's memory.
final class PanelBudget: @unchecked Sendable {
    static let shared = PanelBudget(limit: Int(min(ProcessInfo.processInfo.physicalMemory / 4, UInt64(Int.max))))

    private let lock = NSLock()
    private let limit: Int
    private var used = 0

    init(limit: Int) { self.limit = limit }

    /// True, with `bytes` counted, when they fit beside what live panels hold.
    func reserve(_ bytes: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        if used + bytes > limit { return false }
        used += bytes
        return true
    }

    /// Gives back `bytes` reserved earlier.
    func release(_ bytes: Int) {
        lock.lock(); defer { lock.unlock() }
        used -= bytes
    }
}
