// MARK: config.json → ModelConfig: the shared machinery
//
// Reads a Hugging Face `config.json` the way transformers 5.x interprets it. The family is
// chosen here (`ConfigReader.architecture`); its keys and defaults are read by its entry in
// Families/ (`FamilyConfigKeys.read`) through the typed access below, whose errors name the key.
//
// RoPE (Llama layout): `rope_scaling` (legacy) wins over `rope_parameters` when non-empty; the
// theta comes from rope_parameters.rope_theta, else top-level `rope_theta`, else 10000; the
// type from rope_parameters.rope_type, else `.type`, else "default". Llama-layout families
// rotate the full head (partial_rotary_factor is not used by their default RoPE).

extension ModelConfig {
    /// Parses a `config.json` text.
    ///
    /// - Throws: `CoreError` naming `file` when the text is not JSON, or as `init(huggingFace:file:)`.
    public init(huggingFaceJSON text: String, file: String? = nil) throws {
        let json: JSONValue
        do { json = try JSONValue.parse(text) }
        catch let e as JSONError { throw CoreError("config is not valid JSON: \(e.description)", file: file) }
        try self.init(huggingFace: json, file: file)
    }

    /// Reads and parses the `config.json` at `path`.
    ///
    /// - Throws: `CoreError` naming the file when it is missing or not JSON, or as `init(huggingFace:file:)`.
    public static func load(path: String) throws -> ModelConfig {
        guard fileExists(path) else { throw CoreError("missing config.json", file: path) }
        return try ModelConfig(huggingFace: try readJSONFile(path, what: "config is not valid JSON"), file: path)
    }

    /// Interprets a parsed `config.json` as transformers does.
    ///
    /// - Throws: `CoreError` naming `file` and the key: an unsupported `model_type`/architecture, a key of the wrong type, a value ke does not compute (naming the key, the value and what is supported), or sizes that are not positive or too large.
    public init(huggingFace json: JSONValue, file: String? = nil) throws {
        guard let raw = json.dictionary else { throw CoreError("config is not a JSON object", file: file) }
        let r = ConfigReader(raw: raw, file: file)
        self = try r.architecture().family.config.read(r)
        try r.validate(self)
    }
}

/// Typed access to config keys with errors that name the key.
struct ConfigReader {
    let raw: [String: JSONValue]
    let file: String?
    /// When set, records every key read through `value(_:)` (ConfigRoundTripTests).
    var consulted: ConfigKeyLog? = nil

    func fail(_ m: String) -> CoreError { CoreError(m, file: file) }

    /// The value of `key`, treating JSON null as absent.
    func value(_ key: String) -> JSONValue? {
        consulted?.keys.insert(key)
        guard let v = raw[key], !v.isNull else { return nil }
        return v
    }

    func int(_ key: String, _ def: Int? = nil) throws -> Int {
        guard let v = value(key) else {
            if let def { return def }
            throw fail("config is missing \"\(key)\"")
        }
        guard let i = v.intValue else { throw fail("\"\(key)\" must be an integer, found \(v.serialized())") }
        return i
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard value(key) != nil else { return nil }
        return try int(key)
    }

    func double(_ key: String, _ def: Double) throws -> Double {
        guard let v = value(key) else { return def }
        guard let d = v.doubleValue, d.isFinite else { throw fail("\"\(key)\" must be a finite number, found \(v.serialized())") }
        return d
    }

    func bool(_ key: String, _ def: Bool) throws -> Bool {
        guard let v = value(key) else { return def }
        guard let b = v.boolValue else { throw fail("\"\(key)\" must be true or false, found \(v.serialized())") }
        return b
    }

    func string(_ key: String, _ def: String) throws -> String {
        guard let v = value(key) else { return def }
        guard let s = v.stringValue else { throw fail("\"\(key)\" must be a string, found \(v.serialized())") }
        return s
    }

    // MARK: Architecture

    /// The architecture, chosen as transformers' Auto classes choose it: by `model_type`; a
    /// config without one falls back to the class named in `architectures` (causal-LM or base
    /// model class), so `LlamaModel` base saves load as Llama.
    func architecture() throws -> Architecture {
        if let mt = value("model_type") {
            guard let s = mt.stringValue else { throw fail("\"model_type\" must be a string") }
            if let a = Architecture(rawValue: s) { return a }
            throw fail("unsupported model_type \"\(s)\"; supported: \(supportedModelTypes)")
        }
        if let archs = value("architectures") {
            guard let list = archs.arrayValue, let first = list.first?.stringValue else {
                throw fail("\"architectures\" must be a non-empty list of class names")
            }
            if let a = Architecture.allCases.first(where: { $0.hfClassName == first || $0.hfBaseClassName == first }) { return a }
            throw fail("unsupported architecture \(first); supported: \(supportedArchitectureNames)")
        }
        throw fail("config has neither \"architectures\" nor \"model_type\"; supported: \(supportedArchitectureNames)")
    }

    // MARK: Activations

    /// transformers' ACT2FN names mapped to ke's activations (mathematically identical forms only).
    func activation(_ key: String, _ def: String) throws -> Activation {
        try activation(named: try string(key, def), key: key)
    }

    func activation(named name: String, key: String) throws -> Activation {
        switch name {
        case "gelu", "gelu_python": return .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_python_tanh", "gelu_accurate": return .geluTanh
        case "silu", "swish": return .silu
        case "relu": return .relu
        default:
            throw fail("unsupported activation \"\(name)\" in \"\(key)\"; supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, silu, swish, relu")
        }
    }

    // MARK: RoPE

    /// The effective rope parameters object, following transformers' precedence.
    func ropeParameters() throws -> [String: JSONValue] {
        for key in ["rope_scaling", "rope_parameters"] {
            guard let v = value(key) else { continue }
            guard let d = v.dictionary else { throw fail("\"\(key)\" must be an object, found \(v.serialized())") }
            if !d.isEmpty { return d }
        }
        return [:]
    }

    /// Refuses RoPE variants other than the default one (architectures without RoPE scaling).
    func checkDefaultRope(_ rp: [String: JSONValue]) throws {
        let type = rp["rope_type"]?.stringValue ?? rp["type"]?.stringValue ?? "default"
        guard type == "default" else {
            throw fail("RoPE scaling \"\(type)\" is not supported for this architecture (only the default rotary embedding)")
        }
    }

    /// The RoPE scaling of `rp` (`rope_type` or legacy `type`): default, linear, dynamic, llama3.
    func ropeScaling(_ rp: [String: JSONValue], maxPositions: Int) throws -> RopeScaling {
        let type = rp["rope_type"]?.stringValue ?? rp["type"]?.stringValue ?? "default"
        func factor() throws -> Double {
            guard let f = try ropeNumber(rp, "factor"), f >= 1 else {
                throw fail("RoPE scaling \"\(type)\" needs a \"factor\" ≥ 1")
            }
            return f
        }
        switch type {
        case "default": return .none
        case "linear": return .linear(factor: try factor())
        case "dynamic": return .dynamic(factor: try factor(), originalMaxPositions: maxPositions)
        case "llama3":
            guard let low = try ropeNumber(rp, "low_freq_factor"), let high = try ropeNumber(rp, "high_freq_factor"),
                  let orig = try ropeNumber(rp, "original_max_position_embeddings"), high > low, low > 0, orig >= 1 else {
                throw fail("RoPE scaling \"llama3\" needs low_freq_factor < high_freq_factor and original_max_position_embeddings")
            }
            return .llama3(factor: try factor(), lowFrequencyFactor: low, highFrequencyFactor: high, originalMaxPositions: Int(orig))
        default:
            throw fail("RoPE scaling \"\(type)\" is not supported; supported: default, linear, dynamic, llama3")
        }
    }

    func ropeNumber(_ rp: [String: JSONValue], _ key: String) throws -> Double? {
        guard let v = rp[key], !v.isNull else { return nil }
        guard let d = v.doubleValue, d.isFinite else { throw fail("rope parameter \"\(key)\" must be a number, found \(v.serialized())") }
        return d
    }

    // MARK: Sliding windows

    /// Per-layer sliding windows from `layer_types` ("sliding_attention" / "full_attention"),
    /// else from `defaultTypes` (true: sliding), with `sliding_window` (default `window`).
    func layerWindows(layers L: Int, defaultTypes: [Bool], window: Int) throws -> [Int?] {
        let w = try int("sliding_window", window)
        try positive("sliding_window", w)
        var sliding = defaultTypes
        if let types = value("layer_types") {
            guard let list = types.arrayValue, list.count == L else {
                throw fail("\"layer_types\" must list one attention type for each of the \(L) layers")
            }
            sliding = try list.map { v in
                switch v.stringValue {
                case "sliding_attention": return true
                case "full_attention": return false
                default: throw fail("\"layer_types\" entry \(v.serialized()) is not supported; supported: sliding_attention, full_attention")
                }
            }
        }
        return sliding.map { $0 ? w : nil }
    }

    // MARK: Validation

    func positive(_ key: String, _ v: Int) throws {
        guard v > 0 else { throw fail("\"\(key)\" must be positive, found \(v)") }
    }

    /// Checks sizes that every architecture needs (after defaults were applied).
    func validate(_ c: ModelConfig) throws {
        let names: [(String, Int)] = [
            ("vocab_size", c.vocabSize), ("hidden size", c.hiddenSize), ("number of layers", c.numLayers),
            ("attention heads", c.numHeads), ("key/value heads", c.numKVHeads), ("head_dim", c.headDim),
            ("intermediate size", c.intermediateSize), ("max positions", c.maxPositions),
        ]
        for (n, v) in names where v <= 0 { throw fail("\(n) must be positive, found \(v)") }
        for (n, v) in names where v >= 1 << 31 { throw fail("\(n) \(v) is absurdly large") }
        guard c.numLayers <= 1 << 16 else { throw fail("number of layers \(c.numLayers) is absurdly large") }
        guard c.numHeads % c.numKVHeads == 0 else {
            throw fail("num_key_value_heads \(c.numKVHeads) does not divide num_attention_heads \(c.numHeads)")
        }
        guard c.normEps > 0, c.normEps.isFinite else { throw fail("norm epsilon must be positive, found \(c.normEps)") }
        guard c.ropeTheta > 0 else { throw fail("rope_theta must be positive, found \(c.ropeTheta)") }
        // Guard the parameter count against overflow and absurd sizes (2^40 scalars = 4 TB).
        var total = 0
        for (name, shape) in canonicalTensorShapes(for: c) {
            var n = 1
            for d in shape {
                let (p, o) = n.multipliedReportingOverflow(by: d)
                guard !o, p < 1 << 40 else { throw fail("tensor \(name) \(shape) is too large") }
                n = p
            }
            total += n
            guard total < 1 << 40 else { throw fail("model has too many parameters") }
        }
    }
}

/// The keys a `ConfigReader` was asked for (a test's view of what a family reads).
final class ConfigKeyLog {
    var keys: Set<String> = []
}
