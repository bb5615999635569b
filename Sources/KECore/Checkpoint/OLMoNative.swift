// MARK: OLMo-trainer ("native") checkpoints: config.yaml + model.pt
//
// The OLMo trainer saves unsharded checkpoints as `config.yaml` (the run's settings; the model's
// are under `model:`) and `model.pt` (a state dict) with its own tensor names:
//
//   transformer.wte.weight                [V, d]          → model.embed_tokens.weight
//   transformer.blocks.N.att_proj.weight  [d + 2·kv, d]   → q_proj | k_proj | v_proj (rows, in order)
//   transformer.blocks.N.attn_out.weight  [d, d]          → self_attn.o_proj.weight
//   transformer.blocks.N.ff_proj.weight   [2F, d]         → up_proj = rows [0, F), gate_proj = rows [F, 2F)
//   transformer.blocks.N.ff_out.weight    [d, F]          → mlp.down_proj.weight
//   transformer.ff_out.weight             [V, d]          → lm_head.weight (absent when tied)
//
// This is the mapping of transformers' `convert_olmo_weights_to_hf.py` (`torch.split` of
// att_proj by [d, kv, kv]; `up_proj_weight, gate_proj_weight = torch.chunk(ff_proj, 2, dim=0)`).
// Checked against the OLMo trainer's own SwiGLU (olmo/model.py: `x, gate = x.chunk(2, dim=-1);
// return F.silu(gate) * x`): the FIRST half of ff_proj is the part multiplied by the activation
// (HF's up_proj), the SECOND half goes through SiLU (HF's gate_proj). Both sources agree. So the paper's `change_parameters.py`, which scales the
// first half of ff_proj, scales exactly HF's up_proj rows, which is what ke's rescale folds
// (`foldCoefficientScale` multiplies `up.w` rows).
//
// config.yaml is read by a deliberately small YAML reader: only the scalar `key: value` lines of
// the top-level `model:` mapping (what the conversion script reads); nested values are skipped.

/// The scalar entries of the top-level `model:` mapping of an OLMo config.yaml.
///
/// - Throws: `CoreError` naming `path` when there is no `model:` mapping or a line in it is not
///   `key: value`.
func olmoYAMLModelSection(_ text: String, path: String) throws -> [String: String] {
    var out: [String: String] = [:]
    var inModel = false, found = false, indent: Int? = nil
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
        var line = Substring(raw)
        if line.hasSuffix("\r") { line = line.dropLast() }
        let trimmed = line.drop(while: { $0 == " " })
        if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
        let lead = line.count - trimmed.count
        if lead == 0 {
            inModel = trimmed == "model:" || trimmed.hasPrefix("model: #")
            if inModel { found = true; indent = nil }
            continue
        }
        guard inModel else { continue }
        if indent == nil { indent = lead }
        guard lead == indent else { continue }  // deeper lines belong to a nested value
        guard let colon = trimmed.firstIndex(of: ":") else {
            throw CoreError("config.yaml line '\(trimmed)' in model: is not 'key: value'", file: path)
        }
        let key = String(trimmed[..<colon])
        var value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: " ")
        if let hash = value.range(of: " #") { value = String(value[..<hash.lowerBound]).trimmingCharacters(in: " ") }
        if value.count >= 2, (value.hasPrefix("'") && value.hasSuffix("'")) || (value.hasPrefix("\"") && value.hasSuffix("\"")) {
            value = String(value.dropFirst().dropLast())
        }
        out[key] = value
    }
    guard found else { throw CoreError("config.yaml has no top-level 'model:' mapping", file: path) }
    return out
}

private extension StringProtocol {
    func trimmingCharacters(in c: Character) -> String {
        var s = Substring(self)
        while s.first == c { s = s.dropFirst() }
        while s.last == c { s = s.dropLast() }
        return String(s)
    }
}

/// The OlmoConfig (as config.json) an OLMo-trainer config.yaml describes, as the conversion
/// script builds it (except its eos 0 → 50279 fix-up, which only concerns the 50k tokenizer).
///
/// - Throws: `CoreError` naming `path` for a missing or non-numeric required key, or a setting
///   whose mathematics ke does not implement (named with its value).
func olmoNativeConfig(path: String) throws -> JSONValue {
    let text = String(decoding: try readFileBytes(path), as: UTF8.self)
    let m = try olmoYAMLModelSection(text, path: path)
    func isNull(_ k: String) -> Bool { m[k] == nil || m[k] == "null" || m[k] == "~" }
    func int(_ k: String) throws -> Int {
        guard let s = m[k], let v = Int(s), v > 0 else { throw CoreError("model.\(k) must be a positive integer", file: path) }
        return v
    }
    func bool(_ k: String, _ def: Bool) throws -> Bool {
        guard !isNull(k), let s = m[k] else { return def }
        switch s.lowercased() {
        case "true": return true
        case "false": return false
        default: throw CoreError("model.\(k) must be true or false, not '\(s)'", file: path)
        }
    }
    func refuse(_ k: String, unless ok: (String) -> Bool, what: String) throws {
        if let v = m[k], !ok(v) { throw CoreError("model.\(k): \(v) is not supported (\(what))", file: path) }
    }
    try refuse("activation_type", unless: { $0 == "swiglu" }, what: "only swiglu")
    try refuse("block_type", unless: { $0 == "sequential" }, what: "only sequential")
    try refuse("layer_norm_type", unless: { $0 == "default" }, what: "only default")
    try refuse("alibi", unless: { $0 == "false" }, what: "ke implements RoPE")
    try refuse("rope", unless: { $0 == "true" }, what: "ke implements RoPE")
    try refuse("include_bias", unless: { $0 == "false" }, what: "OLMo without biases")
    try refuse("attention_layer_norm", unless: { $0 == "false" }, what: "q/k norms are not implemented for OLMo")
    try refuse("layer_norm_with_affine", unless: { $0 == "false" }, what: "OLMo's non-parametric layer norm")
    try refuse("norm_after", unless: { $0 == "false" }, what: "norm before each block")
    try refuse("scale_logits", unless: { $0 == "false" }, what: "unscaled logits")
    let d = try int("d_model"), heads = try int("n_heads")
    let kv: Int
    if !isNull("n_kv_heads") { kv = try int("n_kv_heads") }
    else if try bool("multi_query_attention", false) { kv = 1 }
    else { kv = heads }
    let inter: Int
    if !isNull("mlp_hidden_size") { inter = try int("mlp_hidden_size") / 2 } else { inter = d * (try int("mlp_ratio")) / 2 }
    let vocab = isNull("embedding_size") ? try int("vocab_size") : try int("embedding_size")
    var theta = 10000.0
    if !isNull("rope_theta") {
        guard let t = m["rope_theta"].flatMap(Double.init), t > 0 else { throw CoreError("model.rope_theta must be a positive number", file: path) }
        theta = t
    }
    var clip: JSONValue = .null
    if !isNull("clip_qkv") {
        guard let c = m["clip_qkv"].flatMap(Double.init), c > 0 else { throw CoreError("model.clip_qkv must be a positive number or null", file: path) }
        clip = .double(c)
    }
    var pairs: [(String, JSONValue)] = [
        ("architectures", .array([.string("OlmoForCausalLM")])), ("model_type", .string("olmo")),
        ("vocab_size", .int(vocab)), ("hidden_size", .int(d)), ("intermediate_size", .int(inter)),
        ("num_hidden_layers", .int(try int("n_layers"))), ("num_attention_heads", .int(heads)),
        ("num_key_value_heads", .int(kv)), ("max_position_embeddings", .int(try int("max_sequence_length"))),
        ("hidden_act", .string("silu")), ("attention_bias", .bool(false)),
        ("tie_word_embeddings", .bool(try bool("weight_tying", true))),
        ("rope_parameters", .object([("rope_theta", .double(theta)), ("rope_type", .string("default"))])),
        ("clip_qkv", clip),
    ]
    for k in ["eos_token_id", "pad_token_id"] {
        if !isNull(k), let v = m[k].flatMap(Int.init) { pairs.append((k, .int(v))) }
    }
    return .object(pairs)
}

/// An OLMo-trainer state dict presented under HF names (att_proj and ff_proj split by rows).
public final class OLMoNativeSource: TensorSource, @unchecked Sendable {
    let inner: PyTorchCheckpoint
    /// HF name → (native name, first row, row count); rows nil = the whole tensor.
    private let map: [String: (native: String, rows: Range<Int>?)]
    private let file: String

    /// - Throws: `CoreError` naming `file` for a native tensor ke does not map, or a fused
    ///   tensor whose rows do not match the config.
    init(checkpoint: PyTorchCheckpoint, config c: ModelConfig, file: String) throws {
        inner = checkpoint
        self.file = file
        let d = c.numHeads * c.headDim, kv = c.numKVHeads * c.headDim, F = c.intermediateSize
        var m: [String: (String, Range<Int>?)] = [:]
        for name in checkpoint.names {
            switch name {
            case "transformer.wte.weight": m["model.embed_tokens.weight"] = (name, nil); continue
            case "transformer.ff_out.weight": m["lm_head.weight"] = (name, nil); continue
            default: break
            }
            let parts = name.split(separator: ".")
            guard parts.count == 5, parts[0] == "transformer", parts[1] == "blocks", let l = Int(parts[2]), parts[4] == "weight" else {
                throw CoreError("tensor '\(name)' is not part of the OLMo-trainer layout ke maps", file: file)
            }
            let h = "model.layers.\(l)"
            let rows = checkpoint.tensorInfo(name)?.shape.first ?? 0
            switch parts[3] {
            case "att_proj":
                guard rows == d + 2 * kv else {
                    throw CoreError("\(name) has \(rows) rows; q|k|v of the config need \(d + 2 * kv)", file: file)
                }
                m["\(h).self_attn.q_proj.weight"] = (name, 0..<d)
                m["\(h).self_attn.k_proj.weight"] = (name, d..<(d + kv))
                m["\(h).self_attn.v_proj.weight"] = (name, (d + kv)..<(d + 2 * kv))
            case "ff_proj":
                guard rows == 2 * F else { throw CoreError("\(name) has \(rows) rows; up|gate of the config need \(2 * F)", file: file) }
                m["\(h).mlp.up_proj.weight"] = (name, 0..<F)          // first half: up (see the header)
                m["\(h).mlp.gate_proj.weight"] = (name, F..<(2 * F))  // second half: gate
            case "attn_out": m["\(h).self_attn.o_proj.weight"] = (name, nil)
            case "ff_out": m["\(h).mlp.down_proj.weight"] = (name, nil)
            default:
                throw CoreError("tensor '\(name)' is not part of the OLMo-trainer layout ke maps", file: file)
            }
        }
        map = m
    }

    public var names: [String] { map.keys.sorted() }

    public func tensorInfo(_ name: String) -> TensorSourceInfo? {
        guard let e = map[name], var info = inner.tensorInfo(e.native) else { return nil }
        if let r = e.rows, !info.shape.isEmpty { info.shape[0] = r.count }
        return info
    }

    /// - Throws: `CoreError` when there is no tensor `name`, `dest` has another element count, or its storage cannot be read.
    public func read(_ name: String, into dest: UnsafeMutableBufferPointer<Float>) throws {
        guard let e = map[name], let info = inner.tensorInfo(e.native) else { throw CoreError("no tensor named '\(name)'", file: file) }
        guard let r = e.rows else { return try inner.read(e.native, into: dest) }
        let cols = info.shape.dropFirst().reduce(1, *)
        guard dest.count == r.count * cols else {
            throw CoreError("tensor '\(name)' has \(r.count * cols) elements, destination holds \(dest.count)", file: file)
        }
        var whole = [Float](repeating: 0, count: info.count)
        try whole.withUnsafeMutableBufferPointer { try inner.read(e.native, into: $0) }
        whole.withUnsafeBufferPointer { src in
            guard let s = src.baseAddress, let d = dest.baseAddress else { return }
            copyFloats(d, s + r.lowerBound * cols, r.count * cols)
        }
    }

    public func float32Pointer(_ name: String) -> UnsafePointer<Float>? {
        guard let e = map[name], let p = inner.float32Pointer(e.native), let info = inner.tensorInfo(e.native) else { return nil }
        let cols = info.shape.dropFirst().reduce(1, *)
        return p + (e.rows?.lowerBound ?? 0) * cols
    }
}

/// True when `directory` is an OLMo-trainer checkpoint (config.yaml + model.pt, no config.json).
func isOLMoNativeDirectory(_ directory: String) -> Bool {
    !fileExists(directory + "/config.json") && fileExists(directory + "/config.yaml") && fileExists(directory + "/model.pt")
}

/// The config of a model directory: config.json, or an OLMo-trainer config.yaml.
/// - Throws: `CoreError` naming the file that is missing or wrong.
func loadDirectoryConfig(_ directory: String) throws -> ModelConfig {
    if isOLMoNativeDirectory(directory) {
        let path = directory + "/config.yaml"
        return try ModelConfig(huggingFace: try olmoNativeConfig(path: path), file: path)
    }
    return try ModelConfig.load(path: directory + "/config.json")
}
