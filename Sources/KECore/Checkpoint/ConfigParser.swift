// MARK: config.json → ModelConfig
//
// Reads a Hugging Face `config.json` the way transformers 5.x interprets it for the four
// supported architectures (defaults from the `*Config` dataclasses):
//
//   OLMo      OlmoConfig: num_key_value_heads ← heads; hidden_act "silu"; attention_bias false;
//             clip_qkv null; tie_word_embeddings false; OlmoLayerNorm = F.layer_norm without
//             weight/bias, eps fixed at 1e-5; MLP gate/up/down without bias.
//   Llama     LlamaConfig: rms_norm_eps 1e-6; head_dim ← hidden/heads; attention_bias false;
//             mlp_bias false; tie_word_embeddings false.
//   GPT-NeoX  GPTNeoXConfig: hidden_act "gelu" (erf); use_parallel_residual true;
//             layer_norm_eps 1e-5; attention_bias true; tie_word_embeddings false;
//             rope_theta ← rope_parameters.rope_theta, else rotary_emb_base, else 10000;
//             partial_rotary_factor ← rope_parameters, else rotary_pct, else 0.25;
//             rotary dims = int(head_dim · factor). MLP always has biases.
//   GPT-2     GPT2Config: n_inner null → 4·n_embd; activation_function "gelu_new";
//             layer_norm_epsilon 1e-5; tie_word_embeddings true; learned positions.
//
// RoPE (OLMo, Llama): `rope_scaling` (legacy) wins over `rope_parameters` when non-empty; the
// theta comes from rope_parameters.rope_theta, else top-level `rope_theta`, else 10000; the
// type from rope_parameters.rope_type, else `.type`, else "default". Only "default" is
// supported. Llama and OLMo rotate the full head (partial_rotary_factor is not used by their
// default RoPE).

/// The causal-LM classes ke can load, for error messages.
let supportedArchitectureNames = Architecture.allCases.map(\.hfClassName).joined(separator: ", ")
/// The `model_type` values ke can load, for error messages.
let supportedModelTypes = Architecture.allCases.map(\.rawValue).joined(separator: ", ")

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
        let arch = try r.architecture()
        switch arch {
        case .gptNeoX: self = try r.gptNeoX()
        case .gpt2: self = try r.gpt2()
        default: self = try r.llamaFamily(arch)
        }
        try r.validate(self)
    }
}

/// Typed access to config keys with errors that name the key.
struct ConfigReader {
    let raw: [String: JSONValue]
    let file: String?

    func fail(_ m: String) -> CoreError { CoreError(m, file: file) }

    /// The value of `key`, treating JSON null as absent.
    func value(_ key: String) -> JSONValue? {
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

    // MARK: Families

    /// OLMo, OLMo 2/3, Llama, Mistral, Qwen 2/3 and Gemma: the Llama block with per-family
    /// options, defaults as each `*Config` class sets them.
    func llamaFamily(_ arch: Architecture) throws -> ModelConfig {
        let D = try int("hidden_size", defaults(arch).hidden), H = try int("num_attention_heads", 32)
        try positive("hidden_size", D); try positive("num_attention_heads", H)
        let KV = try optionalInt("num_key_value_heads") ?? (arch == .mistral ? 8 : H)
        let explicitHeadDim: Int? = arch == .qwen3 ? 128 : arch == .gemma ? 256 : nil
        let headDim = try optionalInt("head_dim") ?? explicitHeadDim ?? (D / H)
        guard explicitHeadDim != nil || value("head_dim") != nil || D % H == 0 else {
            throw fail("hidden_size \(D) is not divisible by num_attention_heads \(H)")
        }
        let maxPositions = try int("max_position_embeddings", defaults(arch).positions)
        let L = try int("num_hidden_layers", 32)

        // RoPE: OLMo 3 keeps one set of parameters per layer type; the others one set.
        var rp = try ropeParameters()
        if arch == .olmo3 {
            for type in ["full_attention", "sliding_attention"] {
                if let sub = rp[type]?.dictionary {
                    try checkDefaultRope(sub)
                }
            }
            if let full = rp["full_attention"]?.dictionary { rp = full }
        }
        let theta = try ropeNumber(rp, "rope_theta") ?? double("rope_theta", defaults(arch).theta)
        let scaling = try ropeScaling(rp, maxPositions: maxPositions)

        var norm = NormKind.rmsNorm
        var eps = Float(try double("rms_norm_eps", arch == .olmo2 || arch == .olmo3 ? 1e-5 : 1e-6))
        var clip: Float? = nil
        if arch == .olmo {
            norm = .nonParametricLayerNorm
            eps = 1e-5
        }
        if arch == .olmo || arch == .olmo2 || arch == .olmo3, value("clip_qkv") != nil {
            let c = try double("clip_qkv", 0)
            guard c > 0 else { throw fail("\"clip_qkv\" must be positive, found \(c)") }
            clip = Float(c)
        }
        let mlpBias = arch == .llama ? try bool("mlp_bias", false) : false
        var attentionBias = try bool("attention_bias", false)
        var outputBias = true
        if arch == .qwen2 { attentionBias = true; outputBias = false }      // Qwen2Attention: q/k/v biases only
        if arch == .mistral { attentionBias = false }                       // MistralAttention: no biases

        var activationName = try string("hidden_act", arch == .gemma ? "gelu_pytorch_tanh" : "silu")
        if arch == .gemma && activationName == "gelu" { activationName = "gelu_pytorch_tanh" }  // GemmaConfig's legacy fix-up

        var c = ModelConfig(
            architecture: arch, vocabSize: try int("vocab_size", defaults(arch).vocab),
            hiddenSize: D, numLayers: L, numHeads: H, numKVHeads: KV,
            headDim: headDim, intermediateSize: try int("intermediate_size", defaults(arch).intermediate),
            maxPositions: maxPositions, norm: norm, normEps: eps,
            activation: try activation(named: activationName, key: "hidden_act"), gatedMLP: true,
            rotaryDim: headDim, ropeTheta: theta, learnedPositions: false, parallelResidual: false,
            tieWordEmbeddings: try bool("tie_word_embeddings", arch == .gemma), clipQKV: clip,
            attentionBias: attentionBias, mlpBias: mlpBias, rawJSON: raw)
        c.outputProjectionBias = outputBias
        c.ropeScaling = scaling
        switch arch {
        case .olmo2:
            c.normPlacement = .afterSublayer; c.qkNorm = .fullProjection
        case .olmo3:
            c.normPlacement = .afterSublayer; c.qkNorm = .fullProjection
            c.slidingWindows = try layerWindows(layers: L, defaultTypes: (0..<L).map { ($0 + 1) % 4 != 0 }, window: 4096)
        case .qwen2, .qwen3:
            if arch == .qwen3 { c.qkNorm = .perHead }
            if try bool("use_sliding_window", false) {
                let maxWindowLayers = try int("max_window_layers", 28)
                c.slidingWindows = try layerWindows(layers: L, defaultTypes: (0..<L).map { $0 >= maxWindowLayers }, window: 4096)
            }
        case .mistral:
            // MistralConfig: sliding_window 4096 unless the key says null.
            if let w = raw["sliding_window"] == nil ? 4096 : try optionalInt("sliding_window") {
                try positive("sliding_window", w)
                c.slidingWindows = Array(repeating: w, count: L)
            }
        case .gemma:
            c.normWeightOffset = 1
            c.embeddingScale = Float(Double(D).squareRoot())
        default: break
        }
        // Llama-family embeddings are nn.Embedding(vocab, hidden, padding_idx=pad_token_id).
        let padDefault: Int? = arch == .olmo || arch == .olmo2 || arch == .olmo3 ? 1 : arch == .gemma ? 0 : nil
        let pad = value("pad_token_id") == nil && raw["pad_token_id"] != nil ? nil : try optionalInt("pad_token_id") ?? padDefault
        if let pad {
            // As nn.Embedding: a negative padding_idx counts from the end; outside is an error.
            guard pad >= -c.vocabSize, pad < c.vocabSize else {
                throw fail("\"pad_token_id\" \(pad) is outside the embedding's \(c.vocabSize) rows (it is the embedding's padding_idx)")
            }
            c.paddingIndex = pad < 0 ? pad + c.vocabSize : pad
        }
        // transformers checks `layer_types` whenever a config has it, used or not.
        if value("layer_types") != nil && c.slidingWindows.isEmpty {
            _ = try layerWindows(layers: L, defaultTypes: Array(repeating: false, count: L), window: 4096)
        }
        return c
    }

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

    /// The `*Config` class defaults transformers uses when a key is absent.
    func defaults(_ a: Architecture) -> (hidden: Int, intermediate: Int, vocab: Int, positions: Int, theta: Double) {
        switch a {
        case .olmo, .olmo2, .olmo3: return (4096, 11008, 50304, 2048, 10000)
        case .qwen2, .qwen3: return (4096, 22016, 151936, 32768, 10000)
        case .mistral: return (4096, 14336, 32000, 4096 * 32, 10000)
        case .gemma: return (3072, 24576, 256000, 8192, 10000)
        default: return (4096, 11008, 32000, 2048, 10000)
        }
    }

    func gptNeoX() throws -> ModelConfig {
        let D = try int("hidden_size"), H = try int("num_attention_heads")
        try positive("hidden_size", D); try positive("num_attention_heads", H)
        guard D % H == 0 else {
            throw fail("hidden_size \(D) is not divisible by num_attention_heads \(H)")
        }
        let headDim = D / H
        let rp = try ropeParameters()
        try checkDefaultRope(rp)
        let theta = try ropeNumber(rp, "rope_theta") ?? double("rotary_emb_base", 10000)
        let pct = try ropeNumber(rp, "partial_rotary_factor") ?? double("rotary_pct", 0.25)
        guard pct >= 0, pct <= 1 else { throw fail("partial rotary factor \(pct) must be between 0 and 1") }
        let rotaryDim = Int(Double(headDim) * pct)
        guard rotaryDim % 2 == 0 else {
            throw fail("rotary dimension \(rotaryDim) (head_dim \(headDim) × \(pct)) must be even")
        }
        return ModelConfig(
            architecture: .gptNeoX, vocabSize: try int("vocab_size", 50432), hiddenSize: D,
            numLayers: try int("num_hidden_layers"), numHeads: H, numKVHeads: H, headDim: headDim,
            intermediateSize: try int("intermediate_size"),
            maxPositions: try int("max_position_embeddings", 2048), norm: .layerNorm(bias: true),
            normEps: Float(try double("layer_norm_eps", 1e-5)),
            activation: try activation("hidden_act", "gelu"), gatedMLP: false,
            rotaryDim: rotaryDim, ropeTheta: theta, learnedPositions: false,
            parallelResidual: try bool("use_parallel_residual", true),
            tieWordEmbeddings: try bool("tie_word_embeddings", false), clipQKV: nil,
            attentionBias: try bool("attention_bias", true), mlpBias: true, rawJSON: raw)
    }

    /// GPT2Config. Its `attribute_map` lets a config use the generic names (`hidden_size`,
    /// `num_attention_heads`, `num_hidden_layers`, `max_position_embeddings`) for `n_embd`,
    /// `n_head`, `n_layer` and `n_positions`; the GPT-2 names win when both are present.
    func gpt2() throws -> ModelConfig {
        func aliased(_ key: String, _ alias: String, _ def: Int) throws -> (Int, String) {
            if value(key) != nil || value(alias) == nil { return (try int(key, def), key) }
            return (try int(alias), alias)
        }
        let (D, dKey) = try aliased("n_embd", "hidden_size", 768)
        let (H, hKey) = try aliased("n_head", "num_attention_heads", 12)
        let (L, _) = try aliased("n_layer", "num_hidden_layers", 12)
        let (P, _) = try aliased("n_positions", "max_position_embeddings", 1024)
        try positive(dKey, D); try positive(hKey, H)
        guard D % H == 0 else { throw fail("\(dKey) \(D) is not divisible by \(hKey) \(H)") }
        if try bool("add_cross_attention", false) {
            throw fail("GPT-2 option \"add_cross_attention\": true is not supported (cross-attention layers need an encoder)")
        }
        if !(try bool("scale_attn_weights", true)) {
            throw fail("GPT-2 option \"scale_attn_weights\": false is not supported")
        }
        // `reorder_and_upcast_attn` computes the scores in float32 with the scaling folded into
        // the product: the same mathematics, and ke computes in float32 anyway.
        _ = try bool("reorder_and_upcast_attn", false)
        let F = try optionalInt("n_inner") ?? 4 * D
        var c = ModelConfig(
            architecture: .gpt2, vocabSize: try int("vocab_size", 50257), hiddenSize: D,
            numLayers: L, numHeads: H, numKVHeads: H, headDim: D / H,
            intermediateSize: F, maxPositions: P,
            norm: .layerNorm(bias: true), normEps: Float(try double("layer_norm_epsilon", 1e-5)),
            activation: try activation("activation_function", "gelu_new"), gatedMLP: false,
            rotaryDim: 0, ropeTheta: 10000, learnedPositions: true, parallelResidual: false,
            tieWordEmbeddings: try bool("tie_word_embeddings", true), clipQKV: nil,
            attentionBias: true, mlpBias: true, rawJSON: raw)
        c.scaleAttentionByInverseLayerIndex = try bool("scale_attn_by_inverse_layer_idx", false)
        return c
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
