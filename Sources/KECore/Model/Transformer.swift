// MARK: A transformer without its tokenizer
//
// What training reads and updates: configuration, f32 parameters and memory multipliers, as a
// mutable value (a `Model` is immutable and carries its tokenizer, source and history).

/// A transformer without its tokenizer: what training reads and updates.
struct Transformer {
    var config: ModelConfig
    var params: ParameterStore
    /// Coefficient multipliers applied in every pass (see `MemoryMultipliers`).
    var multipliers: MemoryMultipliers

    init(config: ModelConfig, params: ParameterStore, multipliers: MemoryMultipliers? = nil) {
        self.config = config
        self.params = params
        self.multipliers = multipliers ?? MemoryMultipliers(none: config)
    }

    init(_ model: Model) {
        self.init(config: model.config, params: model.f32Parameters(), multipliers: model.memoryMultipliers)
    }
}

extension Transformer {
    /// Runs `body` with f32 weight views for the inference pass, resolved once.
    /// - Throws: whatever `body` throws; `CoreError` for a model without parameters.
    func withInferenceWeights<R>(_ body: (InferenceWeights) throws -> R) throws -> R {
        try ParameterStorage.f32(params).withInferenceWeights(config: config, body)
    }
}
