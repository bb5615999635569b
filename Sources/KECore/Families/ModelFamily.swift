// MARK: Model families: what each family is, and the registry
//
// A model family is everything checkpoint loading knows about one transformers `model_type`:
// its class names, how its config.json reads and writes, its Hugging Face tensor names and
// their roles, and how llama.cpp's converter wrote it to GGUF. One `ModelFamily` value per
// family, defined in its own file of this folder (OLMo.swift holds olmo, olmo2 and olmo3,
// Qwen.swift qwen2 and qwen3); the passes never see a family, only the `ModelConfig` fields
// its entry fills.
//
// Adding a family: one new file defining `Architecture.name` and `ModelFamily.name`, and one
// line in `modelFamilies` below.

/// A model family, named as in Hugging Face `model_type` (`Architecture.allCases`: the registry).
public struct Architecture: RawRepresentable, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The `model_type`.
    public let rawValue: String

    /// The registered family whose `model_type` is `rawValue`; nil for any other string.
    public init?(rawValue: String) {
        guard modelFamilies.contains(where: { $0.architecture.rawValue == rawValue }) else { return nil }
        self.rawValue = rawValue
    }

    /// A family's identity, for its own file's `static let`.
    init(modelType: String) { rawValue = modelType }

    /// The registered families, in registry order.
    public static var allCases: [Architecture] { modelFamilies.map(\.architecture) }

    public var description: String { rawValue }

    /// This family's entry in the registry.
    var family: ModelFamily {
        guard let f = modelFamilies.first(where: { $0.architecture == self }) else {
            preconditionFailure("Architecture \(rawValue) has no registered family")  // init?(rawValue:) checks
        }
        return f
    }

    /// The `architectures[0]` class name transformers uses for the causal LM.
    public var hfClassName: String { family.hfClassName }

    /// The base-model class (no head) transformers saves for `AutoModel`.
    public var hfBaseClassName: String { family.hfBaseClassName }

    /// Llama-style layout: `model.layers.N.self_attn.{q,k,v,o}_proj`, `mlp.{gate,up,down}_proj`.
    public var isLlamaLayout: Bool { family.tensors.embeddingName == LlamaLayout.embeddingName }
}

/// One model family (see the header).
struct ModelFamily: Sendable {
    /// The `model_type` this entry reads and writes.
    var architecture: Architecture
    /// transformers' causal-LM class (`architectures[0]` of a saved config.json).
    var hfClassName: String
    /// transformers' base-model class (a save of `AutoModel`, no head).
    var hfBaseClassName: String
    /// The config.json keys of this family, read and written from one description.
    var config: FamilyConfigKeys
    /// Hugging Face tensor names and roles.
    var tensors: HFTensorLayout
    /// The llama.cpp architectures (`general.architecture`) this family's GGUF files carry.
    var gguf: [GGUFArchitecture] = []
    /// For a family without a GGUF architecture of its own, how llama.cpp writes it (added to
    /// the error for a file whose `general.architecture` is the family's `model_type`).
    var ggufNote: String? = nil
}

/// A family's Hugging Face tensor names.
struct HFTensorLayout: Sendable {
    /// Prefix candidates of the non-head tensors, preferred (published) first; `""` for a bare
    /// base-model save.
    var prefixes: [String]
    /// The embedding's name without prefix (used to detect the prefix).
    var embeddingName: String
    /// The output head's name (never prefixed) as published and as ke writes it.
    var headName: String
    /// Another name the head may be stored under (GPT-NeoX: transformers ≥ 5 renames
    /// `embed_out` to `lm_head` on load), used when `headName` is absent and this is present.
    var alternateHeadName: String? = nil
    /// The tensors of a model with configuration `c`, named with a prefix and a head name.
    var specs: @Sendable (_ c: ModelConfig, _ prefix: String, _ headName: String) -> [HFTensorSpec]
}

// MARK: The registry

/// Every family ke loads, one line each; the order is the order error messages list them in.
let modelFamilies: [ModelFamily] = [
    .olmo, .olmo2, .olmo3,
    .llama,
    .mistral,
    .qwen2, .qwen3,
    .gemma,
    .gptNeoX,
    .gpt2,
]

/// The GGUF architectures ke loads, from the families' entries.
let ggufArchitectures: [GGUFArchitecture] = modelFamilies.flatMap(\.gguf)

/// The causal-LM classes ke can load, for error messages.
let supportedArchitectureNames = Architecture.allCases.map(\.hfClassName).joined(separator: ", ")
/// The `model_type` values ke can load, for error messages.
let supportedModelTypes = Architecture.allCases.map(\.rawValue).joined(separator: ", ")

// MARK: config.json writing

/// The config.json to write for `c`: its original JSON when it has one (with the dtype set to
/// float32), otherwise one generated from the fields. Checked to parse back to `c`.
func huggingFaceConfigJSON(for c: ModelConfig) throws -> JSONValue {
    var d = c.rawJSON.isEmpty ? generatedConfigKeys(c) : c.rawJSON
    if d["architectures"] == nil { d["architectures"] = .array([.string(c.architecture.hfClassName)]) }
    if d["model_type"] == nil { d["model_type"] = .string(c.architecture.rawValue) }
    d["dtype"] = .string("float32")
    if d["torch_dtype"] != nil { d["torch_dtype"] = .string("float32") }
    // transformers writes config.json with sorted keys; so do we.
    let json = JSONValue.object(d.keys.sorted().map { ($0, d[$0]!) })
    var back = try ModelConfig(huggingFace: json)
    back.rawJSON = c.rawJSON
    guard back == c else {
        throw CoreError("the config.json to be written would not reproduce this model's configuration")
    }
    return json
}

/// config.json keys describing `c`, for models that were not loaded from a config: the class and
/// `model_type`, then the family's keys (`FamilyConfigKeys.write`).
func generatedConfigKeys(_ c: ModelConfig) -> [String: JSONValue] {
    var d: [String: JSONValue] = [
        "architectures": .array([.string(c.architecture.hfClassName)]),
        "model_type": .string(c.architecture.rawValue),
    ]
    for (key, value) in c.architecture.family.config.write(c) { d[key] = value }
    return d
}

/// The ACT2FN name written for `a` (one name per activation, read back by `ConfigReader.activation`).
func activationConfigName(_ a: Activation) -> String {
    switch a {
    case .gelu: return "gelu"
    case .geluTanh: return "gelu_new"
    case .silu: return "silu"
    case .relu: return "relu"
    }
}

/// A short decimal for a Float (1e-05, not 9.99999974737875e-06).
func shortDouble(_ f: Float) -> Double { Double("\(f)") ?? Double(f) }

// MARK: Tensor names

/// Prefix candidates of family `a`'s tensors, preferred (published) first.
func hfPrefixes(_ a: Architecture) -> [String] { a.family.tensors.prefixes }

/// The embedding's name without prefix (used to detect the prefix).
func hfEmbeddingName(_ a: Architecture) -> String { a.family.tensors.embeddingName }

/// The HF tensors of a model with configuration `c`, named with `prefix` and head `headName`
/// (default: the family's published head name).
func huggingFaceTensorSpecs(for c: ModelConfig, prefix: String, headName: String? = nil) -> [HFTensorSpec] {
    let layout = c.architecture.family.tensors
    return layout.specs(c, prefix, headName ?? layout.headName)
}
