import Foundation

// MARK: Model
//
// A loaded transformer: configuration, parameters, tokenizer, and the record of interventions
// applied to it. Models are values in the experiment language: every intervention returns a
// new `Model` and leaves its input untouched.

/// A decoder-only transformer with its tokenizer.
public final class Model: @unchecked Sendable {
    public let config: ModelConfig
    /// The parameters, in the form they are held in memory (f32, bf16 or ggml blocks).
    public let storage: ParameterStorage
    public let tokenizer: Tokenizer
    /// Training step of this checkpoint, when known (from the directory name or metadata).
    public let step: Int?
    /// Coefficient multipliers applied after the activation in every pass. Used for
    /// interventions on GELU MLPs that cannot be folded exactly into the up projection; `save`
    /// folds them into the value vectors (columns of `down.w`). See `MemoryMultipliers`.
    public let memoryMultipliers: MemoryMultipliers
    /// Human-readable record of what was done to this model, oldest first.
    public let interventions: [String]
    /// Where it was loaded from, if anywhere.
    public let source: String?
    /// The directory it was loaded from and its end-of-sequence ids (nil for models not loaded
    /// from a directory). `save` copies that directory's non-weight files.
    public let directoryInfo: ModelDirectoryInfo?
    /// Numbers measured when this model was made (e.g. `perplexity_before`/`perplexity_after`
    /// of a rescale), in order; shown with the model. Models derived from it start without.
    public let measurements: [(name: String, value: Double)]
    /// What the rescale that made this model did (multipliers per layer), for a model made by
    /// `rescaled`; nil otherwise. Models derived from it start without.
    public let rescaleSummary: RescaleSummary?
    /// True when the parameters were computed in ke (training, injection, an intervention
    /// folded into the weights) rather than read from `source`: `modelFingerprint` then hashes
    /// every parameter, since the files no longer describe them.
    public let derivedParameters: Bool
    /// `modelFingerprint`'s result, computed once per model value.
    let fingerprintMemo = FingerprintMemo()
    /// f32 weight matrices packed once for the inference kernel (shared by models sharing storage).
    let inferencePanels: InferencePanels

    /// A model holding `storage` (f32, bf16 or quantised; see `ParameterStorage`).
    /// - Throws: `CoreError` when `memoryMultipliers` is not one entry per layer, or an entry is
    ///   not `intermediateSize` finite multipliers.
    public convenience init(
        config: ModelConfig, storage: ParameterStorage, tokenizer: Tokenizer, step: Int? = nil,
        memoryMultipliers: [[Float]?]? = nil, interventions: [String] = [], source: String? = nil,
        directoryInfo: ModelDirectoryInfo? = nil
    ) throws {
        self.init(config: config, storage: storage, tokenizer: tokenizer, step: step,
                  memoryMultipliers: try MemoryMultipliers(memoryMultipliers, config: config),
                  interventions: interventions, source: source, directoryInfo: directoryInfo)
    }

    private init(
        config: ModelConfig, storage: ParameterStorage, tokenizer: Tokenizer,
        step: Int?, memoryMultipliers: MemoryMultipliers, interventions: [String], source: String?,
        directoryInfo: ModelDirectoryInfo?, measurements: [(name: String, value: Double)] = [],
        rescaleSummary: RescaleSummary? = nil, derivedParameters: Bool = false,
        inferencePanels: InferencePanels = InferencePanels()
    ) {
        self.config = config
        self.storage = storage
        self.tokenizer = tokenizer
        self.step = step
        self.memoryMultipliers = memoryMultipliers
        self.interventions = interventions
        self.source = source
        self.directoryInfo = directoryInfo
        self.measurements = measurements
        self.rescaleSummary = rescaleSummary
        self.derivedParameters = derivedParameters
        self.inferencePanels = inferencePanels
    }

    /// The parameters in f32, canonical layout (see `Parameters.swift`). For a model kept as
    /// bf16 or quantised this converts the whole model (4 bytes a parameter) on every call and keeps nothing:
    /// callers that need f32 hold on to the result for as long as they need it.
    public func f32Parameters() -> ParameterStore { storage.expanded() }

    /// The bf16 parameters of a model held as bf16 (`load … bf16`), else nil.
    public var bf16: BF16Weights? { if case .bf16(let w) = storage { return w } else { return nil } }
    /// The ggml blocks of a model held as a quantised GGUF file stored them, else nil.
    public var quantized: QuantizedWeights? { if case .quantized(let w) = storage { return w } else { return nil } }

    /// A copy with some fields replaced. Without new `params`, the copy shares this model's
    /// storage as it is now (bf16, quantised, or f32).
    /// - Throws: `CoreError` when `memoryMultipliers` were made for another configuration.
    public func with(
        params: ParameterStore? = nil, memoryMultipliers: MemoryMultipliers? = nil,
        addingIntervention note: String? = nil, step: Int?? = nil
    ) throws -> Model {
        let scale = try memoryMultipliers.map { try MemoryMultipliers($0.layers, config: config) } ?? self.memoryMultipliers
        return Model(
            config: config, storage: params.map { .f32($0) } ?? storage, tokenizer: tokenizer, step: step ?? self.step, memoryMultipliers: scale,
            interventions: note.map { interventions + [$0] } ?? interventions, source: source,
            directoryInfo: directoryInfo, derivedParameters: derivedParameters || params != nil,
            inferencePanels: params == nil ? inferencePanels : InferencePanels())
    }

    /// The same model shown as coming from `source` (e.g. a built-in name instead of a cache path).
    public func named(_ source: String) -> Model { sameStorage(source: source) }

    /// The same model (same storage) carrying `measurements` (replacing any it had).
    public func measured(_ measurements: [(name: String, value: Double)]) -> Model { sameStorage(measurements: measurements) }

    /// The same model (same storage) carrying `summary` as what its rescale did.
    public func summarizingRescale(_ summary: RescaleSummary) -> Model { sameStorage(rescaleSummary: summary) }

    /// A copy sharing this model's storage and everything else, with the fields given replaced.
    private func sameStorage(source: String? = nil, measurements: [(name: String, value: Double)]? = nil,
                             rescaleSummary: RescaleSummary? = nil) -> Model {
        Model(config: config, storage: storage, tokenizer: tokenizer, step: step, memoryMultipliers: memoryMultipliers,
              interventions: interventions, source: source ?? self.source, directoryInfo: directoryInfo,
              measurements: measurements ?? self.measurements, rescaleSummary: rescaleSummary ?? self.rescaleSummary,
              derivedParameters: derivedParameters, inferencePanels: inferencePanels)
    }

    /// Number of scalar parameters (as transformers counts them: tied weights once).
    public var parameterCount: Int { storage.count }
}

/// A model's fingerprint once computed (models are immutable, so it never changes).
final class FingerprintMemo: @unchecked Sendable {
    private let lock = NSLock()
    private var value: String?

    /// The stored fingerprint, or `make()`'s result stored now.
    func get(_ make: () throws -> String) rethrows -> String {
        lock.lock(); defer { lock.unlock() }
        if let value { return value }
        let v = try make()
        value = v
        return v
    }
}
