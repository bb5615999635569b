// MARK: A GGUF file as a Hugging Face model: config, tensor names, Q/K rows
//
// llama.cpp's converter (convert_hf_to_gguf.py) renames tensors (`model.layers.N.self_attn.q_proj
// .weight` → `blk.N.attn_q.weight`), stores the config as `ARCH.*` metadata and, for the
// Llama family, permutes the rows of q and k within each head so its RoPE can rotate adjacent
// pairs: GGUF row h·hd + 2i + j holds HF row h·hd + j·hd/2 + i (i < hd/2, j ∈ {0, 1}).
// `GGUFTensorSource` undoes all three, so the HF-name mapping of WeightMap.swift loads the model.

/// How one GGUF architecture maps onto a transformers config (one table entry per family).
struct GGUFArchitecture {
    /// `general.architecture`.
    var gguf: String
    /// transformers' `model_type` and class.
    var modelType: String
    var hfClass: String
    /// True when the converter permuted q/k rows for llama.cpp's RoPE (the Llama family).
    var permutesQK: Bool
}

/// Architectures whose GGUF files ke maps. Only `llama` is tested against transformers here;
/// the others produce their transformers config and load once ModelConfig supports the family.
let ggufArchitectures: [GGUFArchitecture] = [
    GGUFArchitecture(gguf: "llama", modelType: "llama", hfClass: "LlamaForCausalLM", permutesQK: true),
    GGUFArchitecture(gguf: "mistral", modelType: "mistral", hfClass: "MistralForCausalLM", permutesQK: true),
    GGUFArchitecture(gguf: "qwen2", modelType: "qwen2", hfClass: "Qwen2ForCausalLM", permutesQK: false),
    GGUFArchitecture(gguf: "qwen3", modelType: "qwen3", hfClass: "Qwen3ForCausalLM", permutesQK: false),
]

/// GGUF → HF names of the llama-style layout (shared by every entry above).
let ggufLlamaLayerNames: [(String, String)] = [
    ("attn_norm.weight", "input_layernorm.weight"), ("ffn_norm.weight", "post_attention_layernorm.weight"),
    ("attn_q.weight", "self_attn.q_proj.weight"), ("attn_k.weight", "self_attn.k_proj.weight"),
    ("attn_v.weight", "self_attn.v_proj.weight"), ("attn_output.weight", "self_attn.o_proj.weight"),
    ("attn_q.bias", "self_attn.q_proj.bias"), ("attn_k.bias", "self_attn.k_proj.bias"),
    ("attn_v.bias", "self_attn.v_proj.bias"),
    ("attn_q_norm.weight", "self_attn.q_norm.weight"), ("attn_k_norm.weight", "self_attn.k_norm.weight"),
    ("ffn_gate.weight", "mlp.gate_proj.weight"), ("ffn_up.weight", "mlp.up_proj.weight"),
    ("ffn_down.weight", "mlp.down_proj.weight"),
]

/// The HF name of GGUF tensor `name` in the llama-style layout, nil when unknown.
func ggufToHFName(_ name: String) -> String? {
    switch name {
    case "token_embd.weight": return "model.embed_tokens.weight"
    case "output_norm.weight": return "model.norm.weight"
    case "output.weight": return "lm_head.weight"
    default: break
    }
    guard name.hasPrefix("blk.") else { return nil }
    let rest = name.dropFirst(4)
    guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0 else { return nil }
    let suffix = String(rest[rest.index(after: dot)...])
    guard let hf = ggufLlamaLayerNames.first(where: { $0.0 == suffix })?.1 else { return nil }
    return "model.layers.\(layer).\(hf)"
}

/// A GGUF file's tensors under HF names, dequantised to f32, q/k rows un-permuted.
public final class GGUFTensorSource: TensorSource, @unchecked Sendable {
    public let file: GGUFFile
    private let byHF: [String: GGUFTensorInfo]
    /// HF names of q/k weights whose rows must be un-permuted, with their head count.
    private let permuted: [String: Int]

    /// - Throws: `CoreError` naming the file for a tensor name outside the layout.
    init(file: GGUFFile, architecture: GGUFArchitecture, heads: Int, kvHeads: Int) throws {
        self.file = file
        var map: [String: GGUFTensorInfo] = [:], perm: [String: Int] = [:]
        for t in file.tensors {
            // llama.cpp stores precomputed RoPE frequencies for some models: not a parameter.
            if t.name == "rope_freqs.weight" { continue }
            guard let hf = ggufToHFName(t.name) else {
                throw CoreError("tensor '\(t.name)' is not part of the \(architecture.gguf) layout ke knows", file: file.path)
            }
            map[hf] = t
            if architecture.permutesQK && t.shape.count == 2 {
                if hf.hasSuffix("q_proj.weight") { perm[hf] = heads }
                if hf.hasSuffix("k_proj.weight") { perm[hf] = kvHeads }
            }
        }
        byHF = map
        permuted = perm
    }

    public var names: [String] { byHF.keys.sorted() }

    public func tensorInfo(_ name: String) -> TensorSourceInfo? {
        byHF[name].map { TensorSourceInfo(dtype: $0.type.name, shape: $0.shape, isWeightType: true) }
    }

    /// - Throws: `CoreError` when there is no tensor `name`, `dest` has another element count, or its data cannot be dequantised.
    public func read(_ name: String, into dest: UnsafeMutableBufferPointer<Float>) throws {
        guard let t = byHF[name] else { throw CoreError("no tensor named '\(name)'", file: file.path) }
        guard let heads = permuted[name] else { return try file.read(t, into: dest) }
        let rows = t.shape[0], cols = t.shape[1]
        guard heads > 0, rows % (2 * heads) == 0 else {
            throw CoreError("tensor '\(t.name)' has \(rows) rows, not a whole number of head pairs for \(heads) heads", file: file.path)
        }
        var tmp = [Float](repeating: 0, count: t.count)
        try tmp.withUnsafeMutableBufferPointer { try file.read(t, into: $0) }
        let hd = rows / heads, half = hd / 2
        guard let d = dest.baseAddress else { return }
        tmp.withUnsafeBufferPointer { src in
            guard let s = src.baseAddress else { return }
            for h in 0..<heads {
                for j in 0..<2 {
                    for i in 0..<half {
                        copyFloats(d + (h * hd + j * half + i) * cols, s + (h * hd + 2 * i + j) * cols, cols)
                    }
                }
            }
        }
    }

    /// The GGUF tensor that HF tensor `name` is made of, when it is that tensor's rows unchanged
    /// or reordered (so its ggml blocks can be kept as they are), with the head count whose q/k
    /// row permutation must be undone (nil: rows in order). Nil for anything else.
    func storedRows(_ name: String) -> (tensor: GGUFTensorInfo, unpermuteHeads: Int?)? {
        guard let t = byHF[name], t.shape.count == 2 else { return nil }
        return (t, permuted[name])
    }

    public func float32Pointer(_ name: String) -> UnsafePointer<Float>? {
        guard let t = byHF[name], permuted[name] == nil else { return nil }
        return file.float32Pointer(t)
    }
}

/// The transformers config.json (as JSON) that a GGUF file's `ARCH.*` metadata describes.
///
/// - Throws: `CoreError` naming the file for an unknown architecture or a missing or
///   non-integer required key.
func ggufHuggingFaceConfig(_ f: GGUFFile) throws -> (json: JSONValue, architecture: GGUFArchitecture) {
    guard let archName = f.value("general.architecture")?.stringValue else {
        throw CoreError("missing general.architecture", file: f.path)
    }
    guard let arch = ggufArchitectures.first(where: { $0.gguf == archName }) else {
        throw CoreError("GGUF architecture '\(archName)' is not supported (supported: \(ggufArchitectures.map(\.gguf).joined(separator: ", ")))", file: f.path)
    }
    func int(_ key: String) throws -> Int {
        guard let v = f.value("\(archName).\(key)") else { throw CoreError("missing \(archName).\(key)", file: f.path) }
        guard let i = v.intValue, i > 0 else { throw CoreError("\(archName).\(key) must be a positive integer", file: f.path) }
        return i
    }
    let hidden = try int("embedding_length"), heads = try int("attention.head_count")
    let kvHeads = f.value("\(archName).attention.head_count_kv") == nil ? heads : try int("attention.head_count_kv")
    var vocab = f.value("\(archName).vocab_size")?.intValue ?? f.value("tokenizer.ggml.tokens")?.arrayValue?.count ?? 0
    if let embd = f.tensor("token_embd.weight"), embd.shape.count == 2 { vocab = embd.shape[0] }
    var d: [(String, JSONValue)] = [
        ("architectures", .array([.string(arch.hfClass)])),
        ("model_type", .string(arch.modelType)),
        ("vocab_size", .int(vocab)),
        ("hidden_size", .int(hidden)),
        ("intermediate_size", .int(try int("feed_forward_length"))),
        ("num_hidden_layers", .int(try int("block_count"))),
        ("num_attention_heads", .int(heads)),
        ("num_key_value_heads", .int(kvHeads)),
        ("max_position_embeddings", .int(try int("context_length"))),
        ("hidden_act", .string("silu")),
        ("tie_word_embeddings", .bool(f.tensor("output.weight") == nil)),
        ("rope_parameters", .object([("rope_theta", .double(f.value("\(archName).rope.freq_base")?.doubleValue ?? 10000)),
                                     ("rope_type", .string("default"))])),
    ]
    if let eps = f.value("\(archName).attention.layer_norm_rms_epsilon")?.doubleValue {
        d.append(("rms_norm_eps", .double(Double("\(Float(eps))") ?? eps)))
    }
    if let k = f.value("\(archName).attention.key_length")?.intValue, k != hidden / heads { d.append(("head_dim", .int(k))) }
    if let bos = f.value("tokenizer.ggml.bos_token_id")?.intValue { d.append(("bos_token_id", .int(bos))) }
    if let eos = f.value("tokenizer.ggml.eos_token_id")?.intValue { d.append(("eos_token_id", .int(eos))) }
    if f.tensor("blk.0.attn_q.bias") != nil { d.append(("attention_bias", .bool(true))) }
    return (.object(d), arch)
}

extension Model {
    /// Loads a GGUF file: config from its `ARCH.*` metadata, tokenizer from `tokenizer.ggml.*`,
    /// q/k rows un-permuted. A file with quantised matrices keeps them as ggml blocks, dequantised
    /// a tile at a time inside each matrix product (see `QuantizedWeights`); `keepBF16` then
    /// rounds only its F32 matrices to bf16. A float-only file is expanded to f32 (or rounded to
    /// bf16 with `keepBF16`). `save` writes an HF directory.
    ///
    /// - Throws: `CoreError` naming the file for anything the GGUF reader, the config, the
    ///   tokenizer or the weight mapping refuses.
    public static func load(gguf path: String, keepBF16: Bool = false) throws -> Model {
        let f = try GGUFFile(path: path)
        let (json, arch) = try ggufHuggingFaceConfig(f)
        let config = try ModelConfig(huggingFace: json, file: path)
        let source = try GGUFTensorSource(file: f, architecture: arch, heads: config.numHeads, kvHeads: config.numKVHeads)
        let tok = try Tokenizer(json: try ggufTokenizerJSON(f), file: path)
        if f.tensors.contains(where: { $0.shape.count == 2 && !$0.type.isFloat }) {
            let blocks = try loadParametersQuantized(config: config, from: source, keepBF16: keepBF16, file: path)
            return try Model(config: config, quantized: blocks, tokenizer: tok, source: path)
        }
        if keepBF16 {
            let compact = try loadParametersBF16(config: config, from: source, file: path)
            return try Model(config: config, bf16: compact, tokenizer: tok, source: path)
        }
        let params = try loadParameters(config: config, from: source, file: path)
        return try Model(config: config, params: params, tokenizer: tok, source: path)
    }
}
