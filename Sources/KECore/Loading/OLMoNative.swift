// MARK: OLMo-trainer ("native") checkpoints: config.yaml + model.safetensors or model.pt
//
// The OLMo trainer saves unsharded checkpoints as `config.yaml` (the run's settings; the model's
// are under `model:`) and the state dict, as `model.safetensors` (current trainers) or
// `model.pt` (torch.save); its loader (olmo/checkpoint.py `load_state_dict`) tries
// model.safetensors first, and so does ke. In model.safetensors each tensor's name is the
// URL-safe base64 of a pickled `(keys, value_is_pickled)` pair (olmo/safetensors_util.py
// `encode_key`), keys being the tuple of nested dict keys; a model's state dict is flat, so
// keys is one state-dict name and value_is_pickled is False. The pickle is read by the
// restricted reader (Pickle.swift). Both files use the trainer's own tensor names:
//
//   transformer.wte.weight                [V, d]          → model.embed_tokens.weight
//   transformer.blocks.N.att_proj.weight  [d + 2·kv, d]   → q_proj | k_proj | v_proj (rows, in order)
//   transformer.blocks.N.attn_out.weight  [d, d]          → self_attn.o_proj.weight
//   transformer.blocks.N.ff_proj.weight   [2F, d]         → up_proj = rows [0, F), gate_proj = rows [F, 2F)
//   transformer.blocks.N.ff_out.weight    [d, F]          → mlp.down_proj.weight
//   transformer.ff_out.weight             [V, d]          → lm_head.weight
//
// With `weight_tying: true` (the trainer's default) the trainer builds no ff_out at all and the
// head is the embedding; a state dict that still holds one does not fit its config (the trainer's
// strict load refuses it), and ke refuses it too rather than drop the stored head.
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
// Inside `model:` the block structure is checked as YAML checks it (indentation by spaces, one
// key per line, a space after the colon, closed quotes, no key twice), so a malformed line is an
// error naming that line and column instead of a key that seems to be missing.

// MARK: config.yaml

/// One entry of the `model:` mapping of an OLMo config.yaml.
struct OLMoYAMLEntry: Equatable {
    /// The scalar's text (quotes removed, comment cut; "" for `key:` with nothing after it, YAML's
    /// null), or nil when the key holds a nested mapping or list.
    var value: String?
    /// 1-based line of the key.
    var line: Int
}

/// The entries of the top-level `model:` mapping of an OLMo config.yaml.
///
/// - Throws: `CoreError` naming `path` when there is no `model:` mapping, and naming
///   `path:LINE:COLUMN` for a malformed line inside it: a tab in the indentation, a line indented
///   less than the keys or more than a scalar's key, a line that is not `key: value`, an
///   unterminated quote, text after a closing quote, or a key given twice.
func olmoYAMLModelSection(_ text: String, path: String) throws -> [String: OLMoYAMLEntry] {
    /// How the value of the entry above continues on more deeply indented lines.
    enum Continuation { case nested, scalar, flow, block }
    func fail(_ message: String, _ line: Int, _ column: Int) -> CoreError {
        CoreError(message, file: "\(path):\(line):\(column)")
    }
    var out: [String: OLMoYAMLEntry] = [:]
    var modelLine: Int?
    var inModel = false
    var indent: Int?
    var open: (key: String, kind: Continuation)?
    let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
    for (index, rawLine) in lines.enumerated() {
        let lineNo = index + 1
        var line = Array(rawLine)
        if line.last == "\r" { line.removeLast() }
        if index == 0, line.first == "\u{FEFF}" { line.removeFirst() }
        let lead = line.prefix(while: { $0 == " " }).count
        let content = Array(line[lead...])
        let afterBlanks = content.drop(while: { $0 == " " || $0 == "\t" })
        if afterBlanks.isEmpty || afterBlanks.first == "#" { continue }
        if lead == 0, content.first != "\t" {
            // A top-level key (or a document marker) ends the model: mapping.
            inModel = false
            let s = String(String.UnicodeScalarView(content))
            if s == "---" || s == "..." || s.hasPrefix("--- ") { continue }
            guard s == "model:" || s.hasPrefix("model: ") || s.hasPrefix("model:\t") else { continue }
            let rest = s.dropFirst("model:".count).drop(while: { $0 == " " || $0 == "\t" })
            guard rest.isEmpty || rest.hasPrefix("#") else {
                throw fail("ke reads 'model:' as a block mapping, one 'key: value' per line below it", lineNo, 8)
            }
            if let first = modelLine { throw fail("'model:' appears twice (lines \(first) and \(lineNo))", lineNo, 1) }
            modelLine = lineNo
            inModel = true
            continue
        }
        guard inModel else { continue }
        if content.first == "\t" {
            throw fail("a tab in the indentation (YAML indents with spaces only)", lineNo, lead + 1)
        }
        let current = indent ?? lead
        indent = current
        if lead > current {
            guard let o = open else { continue }
            switch o.kind {
            case .nested:
                out[o.key]?.value = nil
                continue
            case .flow, .block:
                continue
            case .scalar:
                // A plain scalar may go on over several lines (folded with spaces), but a key
                // there is YAML's "mapping values are not allowed here".
                let folded = plainScalar(content)
                if yamlKeyColon(content) != nil {
                    throw fail("'\(String(String.UnicodeScalarView(content)))' is indented more than the other keys of model: (\(spaces(current))), under a key that already has a value", lineNo, lead + 1)
                }
                if let v = out[o.key]?.value { out[o.key]?.value = v + " " + folded }
                continue
            }
        }
        if lead < current {
            throw fail("indented by \(spaces(lead)), but the keys of model: are indented by \(spaces(current))", lineNo, lead + 1)
        }
        if content.first == "-" && (content.count == 1 || content[1] == " ") {
            // A list written at the key's own indentation is the value of the key above.
            if let o = open, o.kind == .nested {
                out[o.key]?.value = nil
                continue
            }
            throw fail("a list item where a key of model: was expected", lineNo, lead + 1)
        }
        guard let colon = yamlKeyColon(content) else {
            if content.contains(":") {
                throw fail("expected 'key: value' (YAML needs a space after the colon)", lineNo, lead + 1)
            }
            throw fail("expected 'key: value'", lineNo, lead + 1)
        }
        var key = String(String.UnicodeScalarView(content[..<colon])).trimmingCharacters(in: " ")
        if key.count >= 2, let q = key.first, q == "\"" || q == "'", key.last == q { key = String(key.dropFirst().dropLast()) }
        guard !key.isEmpty else { throw fail("a key of model: is empty", lineNo, lead + 1) }
        if let earlier = out[key] {
            throw fail("model.\(key) is given twice (lines \(earlier.line) and \(lineNo))", lineNo, lead + 1)
        }
        var rest = content[(colon + 1)...]
        let restStart = colon + 1 + rest.prefix(while: { $0 == " " || $0 == "\t" }).count
        rest = rest.drop(while: { $0 == " " || $0 == "\t" })
        let value: String, kind: Continuation
        if rest.isEmpty || rest.first == "#" {
            value = ""; kind = .nested
        } else if rest.first == "\"" || rest.first == "'" {
            guard let v = quotedScalar(Array(rest)) else {
                throw fail("unterminated quoted value, or text after its closing quote", lineNo, lead + restStart + 1)
            }
            value = v; kind = .scalar
        } else if rest.first == "|" || rest.first == ">" {
            value = String(String.UnicodeScalarView(rest)); kind = .block
        } else if rest.first == "[" || rest.first == "{" {
            let v = plainScalar(Array(rest))
            let opens = v.filter { $0 == "[" || $0 == "{" }.count, closes = v.filter { $0 == "]" || $0 == "}" }.count
            value = v; kind = opens > closes ? .flow : .scalar
        } else {
            value = plainScalar(Array(rest)); kind = .scalar
        }
        out[key] = OLMoYAMLEntry(value: value, line: lineNo)
        open = (key, kind)
    }
    guard modelLine != nil else { throw CoreError("config.yaml has no top-level 'model:' mapping", file: path) }
    return out
}

/// The index of the colon that ends a `key:` at the start of `line` (a colon followed by a space,
/// a tab or the end of the line, outside a quoted key), or nil.
private func yamlKeyColon(_ line: [Unicode.Scalar]) -> Int? {
    var i = 0
    if let q = line.first, q == "\"" || q == "'" {
        i = 1
        while i < line.count && line[i] != q { i += 1 }
        i += 1
    }
    while i < line.count {
        if line[i] == "#" && i > 0 && (line[i - 1] == " " || line[i - 1] == "\t") { return nil }
        if line[i] == ":" && (i + 1 == line.count || line[i + 1] == " " || line[i + 1] == "\t") { return i }
        i += 1
    }
    return nil
}

/// "1 space", "2 spaces".
private func spaces(_ n: Int) -> String { n == 1 ? "1 space" : "\(n) spaces" }

/// A plain scalar: the text up to a ` #` comment, without surrounding spaces.
private func plainScalar(_ s: [Unicode.Scalar]) -> String {
    var end = s.count
    for i in s.indices where s[i] == "#" && i > 0 && (s[i - 1] == " " || s[i - 1] == "\t") { end = i; break }
    return String(String.UnicodeScalarView(s[..<end])).trimmingCharacters(in: " ")
}

/// The text of a quoted scalar that starts `s` (`'…'` with `''` for a quote, `"…"` with
/// backslash escapes kept as written), or nil when it is not closed on this line or is followed
/// by anything but a comment.
private func quotedScalar(_ s: [Unicode.Scalar]) -> String? {
    guard let q = s.first else { return nil }
    var out = String.UnicodeScalarView()
    var i = 1
    var closed = false
    while i < s.count {
        let c = s[i]
        if q == "'" && c == "'" {
            if i + 1 < s.count && s[i + 1] == "'" { out.append("'"); i += 2; continue }
            closed = true; i += 1; break
        }
        if q == "\"" && c == "\\" && i + 1 < s.count { out.append(c); out.append(s[i + 1]); i += 2; continue }
        if q == "\"" && c == "\"" { closed = true; i += 1; break }
        out.append(c)
        i += 1
    }
    guard closed else { return nil }
    let tail = s[i...].drop(while: { $0 == " " || $0 == "\t" })
    guard tail.isEmpty || tail.first == "#" else { return nil }
    return String(out)
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
/// - Throws: `CoreError` naming `path` for a malformed line (`path:LINE:COLUMN`, see
///   `olmoYAMLModelSection`) or a missing required key, and `path:LINE` for a value of the wrong
///   kind or a setting whose mathematics ke does not implement (named with its value).
func olmoNativeConfig(path: String) throws -> JSONValue {
    let text = String(decoding: try readFileBytes(path), as: UTF8.self)
    let m = try olmoYAMLModelSection(text, path: path)
    /// `path:LINE` of key `k`, or `path` when it is absent.
    func place(_ k: String) -> String { m[k].map { "\(path):\($0.line)" } ?? path }
    /// The value as the messages show it.
    func shown(_ k: String) -> String { m[k]?.value.map { "'\($0)'" } ?? "a nested mapping or list" }
    func isNull(_ k: String) -> Bool {
        guard let e = m[k] else { return true }
        guard let v = e.value else { return false }
        return v.isEmpty || v == "~" || v.lowercased() == "null"
    }
    func int(_ k: String) throws -> Int {
        guard m[k] != nil else { throw CoreError("model.\(k) is missing (a positive integer)", file: path) }
        guard let s = m[k]?.value, let v = Int(s), v > 0 else {
            throw CoreError("model.\(k) must be a positive integer, not \(isNull(k) ? "null" : shown(k))", file: place(k))
        }
        return v
    }
    func double(_ k: String) throws -> Double {
        guard let s = m[k]?.value, let v = Double(s), v.isFinite, v > 0 else {
            throw CoreError("model.\(k) must be a positive number or null, not \(shown(k))", file: place(k))
        }
        return v
    }
    func bool(_ k: String, _ def: Bool) throws -> Bool {
        guard !isNull(k) else { return def }
        switch m[k]?.value?.lowercased() {
        case "true": return true
        case "false": return false
        default: throw CoreError("model.\(k) must be true or false, not \(shown(k))", file: place(k))
        }
    }
    func refuse(_ k: String, unless ok: (String) -> Bool, what: String) throws {
        guard !isNull(k) else { return }
        if let v = m[k]?.value, ok(v) { return }
        throw CoreError("model.\(k): \(m[k]?.value ?? "a nested value") is not supported (\(what))", file: place(k))
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
        theta = try double("rope_theta")
    }
    var clip: JSONValue = .null
    if !isNull("clip_qkv") {
        clip = .double(try double("clip_qkv"))
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
    for k in ["eos_token_id", "pad_token_id"] where !isNull(k) {
        guard let v = m[k]?.value.flatMap({ Int($0) }) else {
            throw CoreError("model.\(k) must be an integer or null, not \(shown(k))", file: place(k))
        }
        pairs.append((k, .int(v)))
    }
    return .object(pairs)
}

/// An OLMo-trainer `model.safetensors` presented under its state-dict names (decoded from the
/// stored names, see the header).
public final class OLMoSafetensorsStateDict: TensorSource, @unchecked Sendable {
    let inner: SafetensorsFile
    /// State-dict name → stored (encoded) name.
    private let stored: [String: String]

    /// Opens `path` (an OLMo-trainer model.safetensors) and decodes every tensor name.
    ///
    /// - Throws: `CoreError` naming `path` for any error of `SafetensorsFile(path:)`, a name that
    ///   is not URL-safe base64, whose pickle is refused by the restricted reader or is not a
    ///   pair (tuple of strings, bool), an entry holding a pickled Python value or a nested key
    ///   (never part of a model's state dict), or two names that decode to the same key.
    public init(path: String) throws {
        let file = try SafetensorsFile(path: path)
        inner = file
        var map: [String: String] = [:]
        for t in file.tensors {
            let key = try olmoDecodeSafetensorsKey(t.name, file: path)
            if let other = map[key] {
                throw CoreError("tensors '\(other)' and '\(t.name)' both decode to the key '\(key)'", file: path)
            }
            map[key] = t.name
        }
        stored = map
    }

    public var names: [String] { stored.keys.sorted() }

    public func tensorInfo(_ name: String) -> TensorSourceInfo? {
        stored[name].flatMap { inner.info($0) }.map { TensorSourceInfo(dtype: $0.dtype.rawValue, shape: $0.shape, isWeightType: $0.dtype.isWeightType) }
    }

    /// - Throws: `CoreError` when there is no tensor `name`, or as `SafetensorsFile.read`.
    public func read(_ name: String, into dest: UnsafeMutableBufferPointer<Float>) throws {
        guard let s = stored[name] else { throw CoreError("no tensor named '\(name)'", file: inner.path) }
        try inner.read(s, into: dest)
    }

    public func float32Pointer(_ name: String) -> UnsafePointer<Float>? {
        guard let s = stored[name], let info = inner.info(s), info.dtype == .f32 else { return nil }
        let raw = inner.rawBytes(info)
        guard let p = raw.baseAddress, Int(bitPattern: p) % 4 == 0 else { return nil }
        return p.assumingMemoryBound(to: Float.self)
    }
}

/// The state-dict name an OLMo-trainer model.safetensors stores as `encoded`: the one key of
/// the pickled `(keys, value_is_pickled)` pair its URL-safe base64 holds
/// (olmo/safetensors_util.py `decode_key`).
///
/// - Throws: `CoreError` naming `file` and the stored name when it is not padded URL-safe
///   base64, its pickle is refused or malformed, it is not `((str,), False)`: a pickled Python
///   value (`value_is_pickled` True) or a nested key is not a tensor of a model.
func olmoDecodeSafetensorsKey(_ encoded: String, file: String) throws -> String {
    let shown = encoded.count > 60 ? String(encoded.prefix(60)) + "…" : encoded
    guard let bytes = urlSafeBase64Decode(encoded) else {
        throw CoreError("tensor name '\(shown)' is not URL-safe base64, as OLMo's trainer encodes its keys (is this an OLMo-trainer model.safetensors?)", file: file)
    }
    let value: PickleValue
    do { value = try bytes.withUnsafeBytes { try readRestrictedPickle($0, file: file) } }
    catch let e as CoreError { throw CoreError("tensor name '\(shown)': \(e.message)", file: file) }
    guard case .tuple(let pair) = value, pair.count == 2, case .tuple(let keys) = pair[0], case .bool(let pickled) = pair[1] else {
        throw CoreError("tensor name '\(shown)' decodes to a \(value.kind), not OLMo's (keys, value_is_pickled) pair", file: file)
    }
    let parts = try keys.map { k -> String in
        guard case .string(let s) = k else { throw CoreError("tensor name '\(shown)' has a key part that is a \(k.kind), not a string", file: file) }
        return s
    }
    guard !pickled else {
        throw CoreError("entry \(parts) holds a pickled Python value, not a tensor (ke reads model weights only)", file: file)
    }
    guard parts.count == 1 else {
        throw CoreError("entry \(parts) is a nested key; a model's state dict is flat (one name per tensor)", file: file)
    }
    return parts[0]
}

/// The bytes of padded URL-safe base64 (RFC 4648 §5: `-` and `_` for `+` and `/`, `=` padding
/// to a multiple of 4 characters), as Python's `base64.urlsafe_b64decode` reads what
/// `urlsafe_b64encode` writes; nil for any other character, a wrong length or misplaced padding.
func urlSafeBase64Decode(_ text: String) -> [UInt8]? {
    let chars = Array(text.utf8)
    guard chars.count % 4 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(chars.count / 4 * 3)
    var i = 0
    while i < chars.count {
        var v: UInt32 = 0, pad = 0
        for j in 0..<4 {
            let c = chars[i + j]
            let d: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): d = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): d = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"): d = 62
            case UInt8(ascii: "_"): d = 63
            case UInt8(ascii: "="):
                // Padding: only the last one or two characters of the last group.
                guard i + 4 == chars.count, j >= 2 else { return nil }
                pad += 1; d = 0
            default: return nil
            }
            if pad > 0 && c != UInt8(ascii: "=") { return nil }
            v = v << 6 | d
        }
        let group = [UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        out += group.prefix(3 - pad)
        i += 4
    }
    return out
}

/// An OLMo-trainer state dict presented under HF names (att_proj and ff_proj split by rows).
public final class OLMoNativeSource: TensorSource, @unchecked Sendable {
    let inner: TensorSource
    /// HF name → (native name, first row, row count); rows nil = the whole tensor.
    private let map: [String: (native: String, rows: Range<Int>?)]
    private let file: String

    /// - Throws: `CoreError` naming `file` for a native tensor ke does not map, a fused tensor
    ///   whose rows do not match the config, or an output head (`transformer.ff_out.weight`) in
    ///   a checkpoint whose config ties it to the embedding (`weight_tying: true`).
    init(checkpoint: TensorSource, config c: ModelConfig, file: String) throws {
        inner = checkpoint
        self.file = file
        let d = c.numHeads * c.headDim, kv = c.numKVHeads * c.headDim, F = c.intermediateSize
        var m: [String: (String, Range<Int>?)] = [:]
        for name in checkpoint.names {
            switch name {
            case "transformer.wte.weight": m["model.embed_tokens.weight"] = (name, nil); continue
            case "transformer.ff_out.weight":
                // OLMo's trainer (olmo/model.py) creates no ff_out module when weight_tying is
                // true, so its strict load_state_dict refuses this file; tying silently would
                // drop a trained head.
                guard !c.tieWordEmbeddings else {
                    throw CoreError("holds transformer.ff_out.weight (an output head), but config.yaml has weight_tying: true (the default when absent): OLMo's trainer builds no ff_out for a tied model and would not load this state dict; set weight_tying: false to use the stored head", file: file)
                }
                m["lm_head.weight"] = (name, nil); continue
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

/// True when `directory` is an OLMo-trainer checkpoint (config.yaml + model.safetensors or
/// model.pt, no config.json).
func isOLMoNativeDirectory(_ directory: String) -> Bool {
    !fileExists(directory + "/config.json") && fileExists(directory + "/config.yaml")
        && (fileExists(directory + "/model.safetensors") || fileExists(directory + "/model.pt"))
}

/// The state-dict file of an OLMo-trainer directory, in its loader's order: model.safetensors,
/// else model.pt.
func olmoNativeWeightFile(_ directory: String) -> String {
    fileExists(directory + "/model.safetensors") ? "model.safetensors" : "model.pt"
}

/// The state dict of the OLMo-trainer directory `directory` (`olmoNativeWeightFile`), under its
/// native names, mapped to HF names by `config`.
/// - Throws: `CoreError` naming the weight file at fault.
func openOLMoNativeSource(directory: String, config: ModelConfig) throws -> OLMoNativeSource {
    let name = olmoNativeWeightFile(directory)
    let path = directory + "/" + name
    let stateDict: TensorSource = name == "model.safetensors" ? try OLMoSafetensorsStateDict(path: path)
                                                               : try PyTorchCheckpoint(paths: [path])
    return try OLMoNativeSource(checkpoint: stateDict, config: config, file: path)
}

/// The config of a model directory: config.json, or an OLMo-trainer config.yaml.
/// - Throws: `CoreError` naming the file that is missing or wrong: model.pt for a config.yaml
///   without it or model.safetensors; config.json otherwise, pointing to the directory's GGUF files when it holds some.
func loadDirectoryConfig(_ directory: String) throws -> ModelConfig {
    if isOLMoNativeDirectory(directory) {
        let path = directory + "/config.yaml"
        return try ModelConfig(huggingFace: try olmoNativeConfig(path: path), file: path)
    }
    let json = directory + "/config.json"
    if !fileExists(json) {
        if fileExists(directory + "/config.yaml") {
            let pt = directory + "/model.pt"
            throw CoreError((pathExists(pt) ? "not a regular file" : "missing model.pt (and no model.safetensors)")
                            + ": an OLMo-trainer checkpoint folder (config.yaml, no config.json) keeps its weights in model.safetensors or model.pt",
                            file: pt)
        }
        if !pathExists(json), let ggufs = try? ggufFiles(in: directory), let first = ggufs.first {
            var dir = directory
            while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
            let shown = ggufs.prefix(4).joined(separator: ", ") + (ggufs.count > 4 ? ", … (\(ggufs.count) in all)" : "")
            throw CoreError("missing config.json, but the folder holds \(ggufs.count == 1 ? "a GGUF file" : "GGUF files"), \(shown): "
                            + "a GGUF model is loaded from its file, e.g. load \"\(dir)/\(first)\"", file: json)
        }
    }
    return try ModelConfig.load(path: json)
}

/// The regular files of `directory` whose names end in `.gguf` (any case), sorted.
/// - Throws: `CoreError` naming the directory when it cannot be read.
func ggufFiles(in directory: String) throws -> [String] {
    try directoryEntries(directory).filter { $0.lowercased().hasSuffix(".gguf") && !$0.hasPrefix(".") && fileExists(directory + "/" + $0) }.sorted()
}
