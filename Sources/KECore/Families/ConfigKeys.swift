// MARK: A family's config.json keys, declared once for reading and writing
//
// Each family lists its config.json keys in reading order (`FamilyConfigKeys.keys`). An entry
// names the key and says both how it is read into a `ModelConfig` (its type, its default or that
// it is required, the checks on it) and what a generated config.json writes for it, so a key
// cannot be written in one way and read in another, or written and never read
// (ConfigRoundTripTests). Keys whose value is not one field (RoPE parameters, GPT-2's aliases)
// are entries too, with their own read and write side by side. What a family derives from keys
// that are never written (sliding windows, padding index) is its `finish` step.

/// One config.json key of a family: how it is read and what is written for it.
struct ConfigKey: @unchecked Sendable {  // the closures capture only key paths and constants
    /// The config.json key.
    let name: String
    /// Reads the key (its default when absent) into the configuration being built.
    /// - Throws: `CoreError` naming the key (see `ConfigReader`).
    let read: (ConfigReader, inout ModelConfig) throws -> Void
    /// The value a generated config.json carries for this configuration; nil: not written.
    let write: (ModelConfig) -> JSONValue?

    /// An integer key holding `field`; required when `def` is nil; with `positive`, a value ≤ 0
    /// is an error naming the key.
    static func int(_ name: String, _ field: WritableKeyPath<ModelConfig, Int>, default def: Int? = nil,
                    positive: Bool = false) -> ConfigKey {
        ConfigKey(name: name, read: { r, c in
            let v = try r.int(name, def)
            if positive { try r.positive(name, v) }
            c[keyPath: field] = v
        }, write: { .int($0[keyPath: field]) })
    }

    /// A boolean key holding `field`; with `written` false it is read but never written.
    static func bool(_ name: String, _ field: WritableKeyPath<ModelConfig, Bool>, default def: Bool,
                     written: Bool = true) -> ConfigKey {
        ConfigKey(name: name, read: { r, c in c[keyPath: field] = try r.bool(name, def) },
                  write: { written ? .bool($0[keyPath: field]) : nil })
    }

    /// The norm epsilon (`normEps`), read as a number and written as its short decimal.
    static func normEps(_ name: String, default def: Double) -> ConfigKey {
        ConfigKey(name: name, read: { r, c in c.normEps = Float(try r.double(name, def)) },
                  write: { .double(shortDouble($0.normEps)) })
    }

    /// The activation (an ACT2FN name; `aliases` are names the config class rewrites on load),
    /// written as ke's one name for it (`activationConfigName`).
    static func activation(_ name: String, default def: String, aliases: [String: String] = [:]) -> ConfigKey {
        ConfigKey(name: name, read: { r, c in
            let given = try r.string(name, def)
            c.activation = try r.activation(named: aliases[given] ?? given, key: name)
        }, write: { .string(activationConfigName($0.activation)) })
    }

    /// A key that is read (checked) but holds nothing a generated config.json writes.
    static func readOnly(_ name: String, _ read: @escaping (ConfigReader, inout ModelConfig) throws -> Void) -> ConfigKey {
        ConfigKey(name: name, read: read, write: { _ in nil })
    }
}

/// How a family's config.json maps onto `ModelConfig`: `keys` in reading order, read into
/// `base`, then `finish`. `read` interprets the keys as the family's transformers `*Config` class
/// does (defaults included); `write` produces the keys a config generated for a model without
/// one carries, from the same entries. `huggingFaceConfigJSON` checks every written config
/// parses back to the model's, and ConfigRoundTripTests checks every key written is one `read`
/// consults.
struct FamilyConfigKeys: Sendable {
    /// The fields no key sets (norm kind, gated MLP, …); the others are overwritten by `keys`.
    var base: ModelConfig
    /// The family's keys, in reading order.
    var keys: [ConfigKey]
    /// What the family derives after its keys from keys it never writes (sliding windows,
    /// padding index, …).
    var finish: @Sendable (ConfigReader, inout ModelConfig) throws -> Void = { _, _ in }

    /// - Throws: `CoreError` naming the key, as `ModelConfig.init(huggingFace:file:)`.
    func read(_ r: ConfigReader) throws -> ModelConfig {
        var c = base
        c.rawJSON = r.raw
        for key in keys { try key.read(r, &c) }
        try finish(r, &c)
        return c
    }

    /// The family's keys of a generated config.json for `c`.
    func write(_ c: ModelConfig) -> [String: JSONValue] {
        var d: [String: JSONValue] = [:]
        for key in keys { if let v = key.write(c) { d[key.name] = v } }
        return d
    }
}

extension ModelConfig {
    /// A configuration of family `arch` whose sizes are still zero: the `base` of a family's
    /// `FamilyConfigKeys`, holding the fields that are the family's and not its keys'.
    static func familyBase(_ arch: Architecture, norm: NormKind, gatedMLP: Bool, learnedPositions: Bool,
                           ropeTheta: Double = 0, attentionBias: Bool = false, mlpBias: Bool = false) -> ModelConfig {
        ModelConfig(architecture: arch, vocabSize: 0, hiddenSize: 0, numLayers: 0, numHeads: 0, numKVHeads: 0,
                    headDim: 0, intermediateSize: 0, maxPositions: 0, norm: norm, normEps: 0, activation: .silu,
                    gatedMLP: gatedMLP, rotaryDim: 0, ropeTheta: ropeTheta, learnedPositions: learnedPositions,
                    parallelResidual: false, tieWordEmbeddings: false, clipQKV: nil, attentionBias: attentionBias,
                    mlpBias: mlpBias)
    }
}
