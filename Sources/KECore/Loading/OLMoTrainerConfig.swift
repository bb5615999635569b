// MARK: OLMo-trainer config.yaml → config.json
//
// An OLMo-trainer checkpoint folder (OLMoNative.swift) keeps the run's settings in config.yaml,
// the model's under `model:`; `olmoNativeConfig` turns them into the OlmoConfig that
// transformers' conversion script writes.
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
    var scanner = OLMoYAMLScanner(path: path)
    let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
    for (index, rawLine) in lines.enumerated() {
        var line = Array(rawLine)
        if line.last == "\r" { line.removeLast() }
        if index == 0, line.first == "\u{FEFF}" { line.removeFirst() }
        try scanner.scan(line, lineNo: index + 1)
    }
    guard scanner.modelLine != nil else { throw CoreError("config.yaml has no top-level 'model:' mapping", file: path) }
    return scanner.out
}

/// How the value of the entry above continues on more deeply indented lines.
private enum YAMLContinuation { case nested, scalar, flow, block }

/// The state of `olmoYAMLModelSection` between lines: where `model:` is, its keys' indentation,
/// the entries so far and how the last one's value may continue.
private struct OLMoYAMLScanner {
    let path: String
    var out: [String: OLMoYAMLEntry] = [:]
    var modelLine: Int?
    var inModel = false
    var indent: Int?
    var open: (key: String, kind: YAMLContinuation)?

    init(path: String) { self.path = path }

    func fail(_ message: String, _ line: Int, _ column: Int) -> CoreError {
        CoreError(message, file: "\(path):\(line):\(column)")
    }

    /// Reads one line (without its line break).
    mutating func scan(_ line: [Unicode.Scalar], lineNo: Int) throws {
        let lead = line.prefix(while: { $0 == " " }).count
        let content = Array(line[lead...])
        let afterBlanks = content.drop(while: { $0 == " " || $0 == "\t" })
        if afterBlanks.isEmpty || afterBlanks.first == "#" { return }
        if lead == 0, content.first != "\t" { return try topLevel(content, lineNo: lineNo) }
        guard inModel else { return }
        if content.first == "\t" {
            throw fail("a tab in the indentation (YAML indents with spaces only)", lineNo, lead + 1)
        }
        let current = indent ?? lead
        indent = current
        if lead > current { return try continuation(content, lead: lead, keyIndent: current, lineNo: lineNo) }
        if lead < current {
            throw fail("indented by \(spaces(lead)), but the keys of model: are indented by \(spaces(current))", lineNo, lead + 1)
        }
        if content.first == "-" && (content.count == 1 || content[1] == " ") {
            // A list written at the key's own indentation is the value of the key above.
            if let o = open, o.kind == .nested {
                out[o.key]?.value = nil
                return
            }
            throw fail("a list item where a key of model: was expected", lineNo, lead + 1)
        }
        let (key, value, kind) = try keyValue(content, lead: lead, lineNo: lineNo)
        out[key] = OLMoYAMLEntry(value: value, line: lineNo)
        open = (key, kind)
    }

    /// A line at indentation 0: a top-level key (or a document marker) ends the model: mapping;
    /// `model:` starts it.
    mutating func topLevel(_ content: [Unicode.Scalar], lineNo: Int) throws {
        inModel = false
        let s = String(String.UnicodeScalarView(content))
        if s == "---" || s == "..." || s.hasPrefix("--- ") { return }
        guard s == "model:" || s.hasPrefix("model: ") || s.hasPrefix("model:\t") else { return }
        let rest = s.dropFirst("model:".count).drop(while: { $0 == " " || $0 == "\t" })
        guard rest.isEmpty || rest.hasPrefix("#") else {
            throw fail("ke reads 'model:' as a block mapping, one 'key: value' per line below it", lineNo, 8)
        }
        if let first = modelLine { throw fail("'model:' appears twice (lines \(first) and \(lineNo))", lineNo, 1) }
        modelLine = lineNo
        inModel = true
    }

    /// A line indented more than the keys: part of the value of the key above.
    mutating func continuation(_ content: [Unicode.Scalar], lead: Int, keyIndent current: Int, lineNo: Int) throws {
        guard let o = open else { return }
        switch o.kind {
        case .nested:
            out[o.key]?.value = nil
        case .flow, .block:
            break
        case .scalar:
            // A plain scalar may go on over several lines (folded with spaces), but a key
            // there is YAML's "mapping values are not allowed here".
            let folded = plainScalar(content)
            if yamlKeyColon(content) != nil {
                throw fail("'\(String(String.UnicodeScalarView(content)))' is indented more than the other keys of model: (\(spaces(current))), under a key that already has a value", lineNo, lead + 1)
            }
            if let v = out[o.key]?.value { out[o.key]?.value = v + " " + folded }
        }
    }

    /// The key, the value and how the value may continue, of a `key: value` line.
    func keyValue(_ content: [Unicode.Scalar], lead: Int, lineNo: Int) throws -> (String, String, YAMLContinuation) {
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
        if rest.isEmpty || rest.first == "#" { return (key, "", .nested) }
        if rest.first == "\"" || rest.first == "'" {
            guard let v = quotedScalar(Array(rest)) else {
                throw fail("unterminated quoted value, or text after its closing quote", lineNo, lead + restStart + 1)
            }
            return (key, v, .scalar)
        }
        if rest.first == "|" || rest.first == ">" { return (key, String(String.UnicodeScalarView(rest)), .block) }
        let v = plainScalar(Array(rest))
        if rest.first == "[" || rest.first == "{" {
            let opens = v.filter { $0 == "[" || $0 == "{" }.count, closes = v.filter { $0 == "]" || $0 == "}" }.count
            return (key, v, opens > closes ? .flow : .scalar)
        }
        return (key, v, .scalar)
    }
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

// MARK: The model's settings

/// The `model:` entries of a config.yaml with typed access whose errors name the key, the value
/// and its line (`path:LINE`).
private struct OLMoYAMLModel {
    let m: [String: OLMoYAMLEntry]
    let path: String

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

    /// Refuses the trainer settings whose mathematics ke does not implement.
    func checkSupported() throws {
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
    let y = OLMoYAMLModel(m: try olmoYAMLModelSection(text, path: path), path: path)
    try y.checkSupported()
    let d = try y.int("d_model"), heads = try y.int("n_heads")
    let kv: Int
    if !y.isNull("n_kv_heads") { kv = try y.int("n_kv_heads") }
    else if try y.bool("multi_query_attention", false) { kv = 1 }
    else { kv = heads }
    let inter: Int
    if !y.isNull("mlp_hidden_size") { inter = try y.int("mlp_hidden_size") / 2 } else { inter = d * (try y.int("mlp_ratio")) / 2 }
    let vocab = y.isNull("embedding_size") ? try y.int("vocab_size") : try y.int("embedding_size")
    var theta = 10000.0
    if !y.isNull("rope_theta") {
        theta = try y.double("rope_theta")
    }
    var clip: JSONValue = .null
    if !y.isNull("clip_qkv") {
        clip = .double(try y.double("clip_qkv"))
    }
    var pairs: [(String, JSONValue)] = [
        ("architectures", .array([.string("OlmoForCausalLM")])), ("model_type", .string("olmo")),
        ("vocab_size", .int(vocab)), ("hidden_size", .int(d)), ("intermediate_size", .int(inter)),
        ("num_hidden_layers", .int(try y.int("n_layers"))), ("num_attention_heads", .int(heads)),
        ("num_key_value_heads", .int(kv)), ("max_position_embeddings", .int(try y.int("max_sequence_length"))),
        ("hidden_act", .string("silu")), ("attention_bias", .bool(false)),
        ("tie_word_embeddings", .bool(try y.bool("weight_tying", true))),
        ("rope_parameters", .object([("rope_theta", .double(theta)), ("rope_type", .string("default"))])),
        ("clip_qkv", clip),
    ]
    for k in ["eos_token_id", "pad_token_id"] where !y.isNull(k) {
        guard let v = y.m[k]?.value.flatMap({ Int($0) }) else {
            throw CoreError("model.\(k) must be an integer or null, not \(y.shown(k))", file: y.place(k))
        }
        pairs.append((k, .int(v)))
    }
    return .object(pairs)
}
