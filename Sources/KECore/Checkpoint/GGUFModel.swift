// MARK: A GGUF file as a Hugging Face model: config, tensor names, per-tensor transformations
//
// llama.cpp's converter (convert_hf_to_gguf.py) renames tensors (`model.layers.N.self_attn.q_proj
// .weight` → `blk.N.attn_q.weight`), stores the config as `ARCH.*` metadata and rewrites a few
// tensors per architecture. One entry of `ggufArchitectures` per GGUF architecture says how to
// undo that: the transformers model type, the tensor names, which tensors were rewritten and the
// config keys. `GGUFTensorSource` applies it, so the HF-name mapping of WeightMap.swift loads
// the model.
//
// The rewrites, each undone on one tensor at a time (`GGUFTensorTransform`):
//
//   ropeQ / ropeK  llama, olmo: q/k rows permuted within each head for llama.cpp's RoPE, which
//                  rotates adjacent pairs: GGUF row h·hd + 2i + j holds HF row h·hd + j·hd/2 + i
//                  (i < hd/2, j ∈ {0, 1}). Undone by a row permutation.
//   neoxQKV        gptneox: the fused attn_qkv [3D, D] has rows (q | k | v), each (head,
//                  head_dim); HF's query_key_value has rows (head, {q, k, v}, head_dim). GGUF row
//                  j·D + h·hd + d holds HF row (3h + j)·hd + d: a row permutation (the bias [3D]
//                  the same with rows of one value).
//   transpose      gpt2: Conv1D weights stored [out, in] (c_attn's q|k|v blocks are row blocks);
//                  HF keeps [in, out]. Undone by a transpose.
//   minusOne       gemma: RMSNorm weights stored as 1 + w (HF's GemmaRMSNorm computes x·(1 + w)).
//                  Undone by subtracting 1 from each value.
//
// Which architectures permute q/k: those llama.cpp runs with its "normal" (adjacent-pair) RoPE,
// llama and olmo. qwen2, qwen3, olmo2, gemma and gptneox use the NeoX (half-split) RoPE that HF
// uses, so their q/k are stored as HF has them. Mistral models are written as `llama` (the
// converter has no `mistral` architecture and records no sliding window), so they load as
// Llama; a file calling itself `mistral` is refused. OLMo 3 is written as `olmo2` with
// `attention.sliding_window` and a per-layer `attention.sliding_window_pattern`.

/// One way the converter rewrote a tensor, undone by `GGUFTensorSource`.
enum GGUFTensorTransform: Equatable {
    /// Stored as HF has it.
    case none
    /// q or k rows permuted for llama.cpp's RoPE, `heads` heads (see the header).
    case unpermuteRoPE(heads: Int)
    /// GPT-NeoX fused q|k|v rows regrouped by projection, `heads` heads (see the header).
    case neoxQKV(heads: Int)
    /// GPT-2 Conv1D weight stored [out, in]; HF shape [in, out].
    case transpose
    /// Gemma norm weight stored as 1 + w.
    case minusOne
}

/// A rewrite named in the table, resolved to a `GGUFTensorTransform` once head counts are known.
enum GGUFRewrite: Sendable {
    case ropeQ, ropeK, neoxQKV, transpose, minusOne
}

/// How one GGUF architecture maps onto a transformers model (one table entry per architecture).
struct GGUFArchitecture: Sendable {
    /// `general.architecture`.
    var gguf: String
    /// transformers' `model_type` and class (OLMo 3 is told from OLMo 2 by its metadata).
    var modelType: String
    var hfClass: String
    /// GGUF → HF names of the tensors outside the blocks.
    var globalNames: [(String, String)]
    /// HF prefix of block N's tensors, followed by N and a dot (`model.layers.`).
    var blockPrefix: String
    /// GGUF → HF names inside a block (`attn_q.weight` → `self_attn.q_proj.weight`).
    var blockNames: [(String, String)]
    /// Rewritten tensors by GGUF name suffix (a block name, or a global name).
    var rewrites: [String: GGUFRewrite]
    /// The config.json keys (other than architectures and model_type) from the metadata.
    var config: @Sendable (GGUFMetadata) throws -> [(String, JSONValue)]
}

// MARK: Tensor names

/// Outside the blocks: the Llama layout (`model.` prefix, head `lm_head`).
let ggufLlamaGlobalNames: [(String, String)] = [
    ("token_embd.weight", "model.embed_tokens.weight"),   // [V, D]
    ("output_norm.weight", "model.norm.weight"),          // [D]
    ("output.weight", "lm_head.weight"),                  // [V, D]; absent when tied
]

/// Inside a block: attention and gated MLP of the Llama layout, with every optional tensor a
/// family may have (biases, per-head or full q/k norms). qDim = heads·hd, kvDim = kvHeads·hd.
let ggufLlamaAttentionMLPNames: [(String, String)] = [
    ("attn_q.weight", "self_attn.q_proj.weight"),              // [qDim, D]
    ("attn_k.weight", "self_attn.k_proj.weight"),              // [kvDim, D]
    ("attn_v.weight", "self_attn.v_proj.weight"),              // [kvDim, D]
    ("attn_output.weight", "self_attn.o_proj.weight"),         // [D, qDim]
    ("attn_q.bias", "self_attn.q_proj.bias"),                  // [qDim]   qwen2
    ("attn_k.bias", "self_attn.k_proj.bias"),                  // [kvDim]
    ("attn_v.bias", "self_attn.v_proj.bias"),                  // [kvDim]
    ("attn_output.bias", "self_attn.o_proj.bias"),             // [D]      llama attention_bias
    ("attn_q_norm.weight", "self_attn.q_norm.weight"),         // [hd] qwen3, [qDim] olmo2
    ("attn_k_norm.weight", "self_attn.k_norm.weight"),         // [hd] qwen3, [kvDim] olmo2
    ("ffn_gate.weight", "mlp.gate_proj.weight"),               // [F, D]
    ("ffn_up.weight", "mlp.up_proj.weight"),                   // [F, D]
    ("ffn_down.weight", "mlp.down_proj.weight"),               // [D, F]
]

/// Pre-norm blocks (llama, qwen, gemma): norms before attention and before the MLP, [D] each.
let ggufLlamaBlockNames: [(String, String)] = [
    ("attn_norm.weight", "input_layernorm.weight"),
    ("ffn_norm.weight", "post_attention_layernorm.weight"),
] + ggufLlamaAttentionMLPNames

/// OLMo 2/3 blocks: norms of the attention and MLP outputs, [D] each (HF calls the first one
/// post_attention_layernorm, as the pre-norm MLP norm elsewhere).
let ggufOLMo2BlockNames: [(String, String)] = [
    ("post_attention_norm.weight", "post_attention_layernorm.weight"),
    ("post_ffw_norm.weight", "post_feedforward_layernorm.weight"),
] + ggufLlamaAttentionMLPNames

/// GPT-NeoX (Pythia): LayerNorms with bias, fused q|k|v, ungated MLP with biases.
let ggufNeoXGlobalNames: [(String, String)] = [
    ("token_embd.weight", "gpt_neox.embed_in.weight"),              // [V, D]
    ("output_norm.weight", "gpt_neox.final_layer_norm.weight"),     // [D]
    ("output_norm.bias", "gpt_neox.final_layer_norm.bias"),         // [D]
    ("output.weight", "embed_out.weight"),                          // [V, D]
]
let ggufNeoXBlockNames: [(String, String)] = [
    ("attn_norm.weight", "input_layernorm.weight"), ("attn_norm.bias", "input_layernorm.bias"),
    ("attn_qkv.weight", "attention.query_key_value.weight"),       // [3D, D], see neoxQKV
    ("attn_qkv.bias", "attention.query_key_value.bias"),           // [3D]
    ("attn_output.weight", "attention.dense.weight"),              // [D, D]
    ("attn_output.bias", "attention.dense.bias"),
    ("ffn_norm.weight", "post_attention_layernorm.weight"), ("ffn_norm.bias", "post_attention_layernorm.bias"),
    ("ffn_up.weight", "mlp.dense_h_to_4h.weight"),                 // [F, D]
    ("ffn_up.bias", "mlp.dense_h_to_4h.bias"),
    ("ffn_down.weight", "mlp.dense_4h_to_h.weight"),               // [D, F]
    ("ffn_down.bias", "mlp.dense_4h_to_h.bias"),
]

/// GPT-2: learned positions, LayerNorms with bias, Conv1D layers (HF [in, out], GGUF [out, in]).
let ggufGPT2GlobalNames: [(String, String)] = [
    ("token_embd.weight", "transformer.wte.weight"),       // [V, D]
    ("position_embd.weight", "transformer.wpe.weight"),    // [P, D]
    ("output_norm.weight", "transformer.ln_f.weight"),     // [D]
    ("output_norm.bias", "transformer.ln_f.bias"),
    ("output.weight", "lm_head.weight"),                   // [V, D]; older converters copy wte here
]
let ggufGPT2BlockNames: [(String, String)] = [
    ("attn_norm.weight", "ln_1.weight"), ("attn_norm.bias", "ln_1.bias"),
    ("attn_qkv.weight", "attn.c_attn.weight"),     // GGUF [3D, D] (q|k|v rows) → HF [D, 3D]
    ("attn_qkv.bias", "attn.c_attn.bias"),         // [3D]
    ("attn_output.weight", "attn.c_proj.weight"),  // GGUF [D, D] → HF [D, D] transposed
    ("attn_output.bias", "attn.c_proj.bias"),
    ("ffn_norm.weight", "ln_2.weight"), ("ffn_norm.bias", "ln_2.bias"),
    ("ffn_up.weight", "mlp.c_fc.weight"),          // GGUF [F, D] → HF [D, F]
    ("ffn_up.bias", "mlp.c_fc.bias"),
    ("ffn_down.weight", "mlp.c_proj.weight"),      // GGUF [D, F] → HF [F, D]
    ("ffn_down.bias", "mlp.c_proj.bias"),
]

// MARK: The architectures

/// Architectures whose GGUF files ke loads (each tested against transformers or the HF model it
/// was written from, see GGUFTests).
let ggufArchitectures: [GGUFArchitecture] = [
    GGUFArchitecture(gguf: "llama", modelType: "llama", hfClass: "LlamaForCausalLM",
                     globalNames: ggufLlamaGlobalNames, blockPrefix: "model.layers.", blockNames: ggufLlamaBlockNames,
                     rewrites: ["attn_q.weight": .ropeQ, "attn_k.weight": .ropeK],
                     config: { try ggufLlamaFamilyConfig($0) }),
    GGUFArchitecture(gguf: "qwen2", modelType: "qwen2", hfClass: "Qwen2ForCausalLM",
                     globalNames: ggufLlamaGlobalNames, blockPrefix: "model.layers.", blockNames: ggufLlamaBlockNames,
                     rewrites: [:], config: { try ggufLlamaFamilyConfig($0) }),
    GGUFArchitecture(gguf: "qwen3", modelType: "qwen3", hfClass: "Qwen3ForCausalLM",
                     globalNames: ggufLlamaGlobalNames, blockPrefix: "model.layers.", blockNames: ggufLlamaBlockNames,
                     rewrites: [:], config: { try ggufLlamaFamilyConfig($0, alwaysHeadDim: true) }),
    GGUFArchitecture(gguf: "gemma", modelType: "gemma", hfClass: "GemmaForCausalLM",
                     globalNames: ggufLlamaGlobalNames, blockPrefix: "model.layers.", blockNames: ggufLlamaBlockNames,
                     rewrites: ["attn_norm.weight": .minusOne, "ffn_norm.weight": .minusOne, "output_norm.weight": .minusOne],
                     config: { try ggufLlamaFamilyConfig($0, activation: "gelu_pytorch_tanh", alwaysHeadDim: true) }),
    // OLMo: non-parametric LayerNorm (no norm tensors; eps fixed at 1e-5 in both projects).
    GGUFArchitecture(gguf: "olmo", modelType: "olmo", hfClass: "OlmoForCausalLM",
                     globalNames: ggufLlamaGlobalNames, blockPrefix: "model.layers.", blockNames: ggufLlamaBlockNames,
                     rewrites: ["attn_q.weight": .ropeQ, "attn_k.weight": .ropeK],
                     config: { m in try ggufLlamaFamilyConfig(m) + m.clipQKV() }),
    GGUFArchitecture(gguf: "olmo2", modelType: "olmo2", hfClass: "Olmo2ForCausalLM",
                     globalNames: ggufLlamaGlobalNames, blockPrefix: "model.layers.", blockNames: ggufOLMo2BlockNames,
                     rewrites: [:], config: { m in try ggufLlamaFamilyConfig(m) + m.clipQKV() + m.olmo3Windows() }),
    GGUFArchitecture(gguf: "gptneox", modelType: "gpt_neox", hfClass: "GPTNeoXForCausalLM",
                     globalNames: ggufNeoXGlobalNames, blockPrefix: "gpt_neox.layers.", blockNames: ggufNeoXBlockNames,
                     rewrites: ["attn_qkv.weight": .neoxQKV, "attn_qkv.bias": .neoxQKV],
                     config: { try ggufNeoXConfig($0) }),
    GGUFArchitecture(gguf: "gpt2", modelType: "gpt2", hfClass: "GPT2LMHeadModel",
                     globalNames: ggufGPT2GlobalNames, blockPrefix: "transformer.h.", blockNames: ggufGPT2BlockNames,
                     rewrites: ["attn_qkv.weight": .transpose, "attn_output.weight": .transpose,
                                "ffn_up.weight": .transpose, "ffn_down.weight": .transpose],
                     config: { try ggufGPT2Config($0) }),
]

extension GGUFArchitecture {
    /// The HF name and the rewrite of GGUF tensor `name`, nil when the layout has no such tensor.
    func hfName(_ name: String) -> (hf: String, rewrite: GGUFRewrite?)? {
        if let hf = globalNames.first(where: { $0.0 == name })?.1 { return (hf, rewrites[name]) }
        guard name.hasPrefix("blk.") else { return nil }
        let rest = name.dropFirst(4)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0 else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        guard let hf = blockNames.first(where: { $0.0 == suffix })?.1 else { return nil }
        return ("\(blockPrefix)\(layer).\(hf)", rewrites[suffix])
    }
}

// MARK: Config keys

/// Typed access to a GGUF file's `ARCH.*` metadata, with errors naming the key.
struct GGUFMetadata {
    let file: GGUFFile
    let arch: String

    func value(_ key: String) -> GGUFValue? { file.value("\(arch).\(key)") }

    /// A required positive integer `ARCH.key`.
    /// - Throws: `CoreError` naming the file and key when it is missing or not a positive integer.
    func int(_ key: String) throws -> Int {
        guard let i = try optionalInt(key) else { throw CoreError("missing \(arch).\(key)", file: file.path) }
        return i
    }

    /// An optional positive integer `ARCH.key`.
    /// - Throws: `CoreError` naming the file and key when it is present but not a positive integer.
    func optionalInt(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue, i > 0 else { throw CoreError("\(arch).\(key) must be a positive integer", file: file.path) }
        return i
    }

    /// An optional finite number `ARCH.key`, as the decimal a float32 prints as (GGUF stores
    /// f32; `1e-6` should stay 1e-6 in config.json, not 9.99999997e-07).
    /// - Throws: `CoreError` naming the file and key when it is present but not a finite number.
    func number(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.doubleValue, d.isFinite else { throw CoreError("\(arch).\(key) must be a finite number", file: file.path) }
        if case .float = v, let shortest = Double("\(Float(d))") { return shortest }
        return d
    }

    /// An optional boolean `ARCH.key`.
    /// - Throws: `CoreError` naming the file and key when it is present but not a boolean.
    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.boolValue else { throw CoreError("\(arch).\(key) must be true or false", file: file.path) }
        return b
    }

    /// `vocab_size`: the embedding's rows, else `ARCH.vocab_size`, else the token list's length.
    var vocabSize: Int {
        if let embd = file.tensor("token_embd.weight"), embd.shape.count == 2 { return embd.shape[0] }
        return value("vocab_size")?.intValue ?? file.value("tokenizer.ggml.tokens")?.arrayValue?.count ?? 0
    }

    /// `tie_word_embeddings`: the converter writes no `output.weight` for tied embeddings.
    var tied: JSONValue { .bool(file.tensor("output.weight") == nil) }

    /// bos/eos token ids from the tokenizer metadata.
    var specialTokens: [(String, JSONValue)] {
        var d: [(String, JSONValue)] = []
        if let bos = file.value("tokenizer.ggml.bos_token_id")?.intValue { d.append(("bos_token_id", .int(bos))) }
        if let eos = file.value("tokenizer.ggml.eos_token_id")?.intValue { d.append(("eos_token_id", .int(eos))) }
        return d
    }

    /// OLMo's `clip_qkv` from `ARCH.attention.clamp_kqv`.
    /// - Throws: `CoreError` when the key is not a finite number.
    func clipQKV() throws -> [(String, JSONValue)] {
        guard let c = try number("attention.clamp_kqv") else { return [] }
        return [("clip_qkv", .double(c))]
    }

    /// OLMo 3 (written as `olmo2` by the converter): `attention.sliding_window` and the
    /// per-layer `attention.sliding_window_pattern` (true: sliding) become model_type olmo3
    /// with `sliding_window` and `layer_types`.
    /// - Throws: `CoreError` when the window is not a positive integer or the pattern is not
    ///   one boolean per layer.
    func olmo3Windows() throws -> [(String, JSONValue)] {
        guard let window = try optionalInt("attention.sliding_window") else { return [] }
        let layers = try int("block_count")
        guard let pattern = value("attention.sliding_window_pattern")?.arrayValue?.compactMap(\.boolValue),
              pattern.count == layers else {
            throw CoreError("\(arch).attention.sliding_window_pattern must list one boolean for each of the \(layers) layers", file: file.path)
        }
        return [("model_type", .string("olmo3")), ("architectures", .array([.string("Olmo3ForCausalLM")])),
                ("sliding_window", .int(window)),
                ("layer_types", .array(pattern.map { .string($0 ? "sliding_attention" : "full_attention") }))]
    }
}

/// Llama-family keys (llama, qwen2, qwen3, gemma, olmo, olmo2). `head_dim` is written
/// when `attention.key_length` differs from hidden/heads, or always with `alwaysHeadDim` (Qwen 3
/// and Gemma configs default it to 128 and 256, not hidden/heads).
///
/// - Throws: `CoreError` naming the file for a missing or malformed required key.
func ggufLlamaFamilyConfig(_ m: GGUFMetadata, activation: String = "silu", alwaysHeadDim: Bool = false) throws -> [(String, JSONValue)] {
    let hidden = try m.int("embedding_length"), heads = try m.int("attention.head_count")
    let kvHeads = try m.optionalInt("attention.head_count_kv") ?? heads
    var d: [(String, JSONValue)] = [
        ("vocab_size", .int(m.vocabSize)),
        ("hidden_size", .int(hidden)),
        ("intermediate_size", .int(try m.int("feed_forward_length"))),
        ("num_hidden_layers", .int(try m.int("block_count"))),
        ("num_attention_heads", .int(heads)),
        ("num_key_value_heads", .int(kvHeads)),
        ("max_position_embeddings", .int(try m.int("context_length"))),
        ("hidden_act", .string(activation)),
        ("tie_word_embeddings", m.tied),
        ("rope_parameters", .object([("rope_theta", .double(try m.number("rope.freq_base") ?? 10000)),
                                     ("rope_type", .string("default"))])),
    ]
    if let eps = try m.number("attention.layer_norm_rms_epsilon") { d.append(("rms_norm_eps", .double(eps))) }
    let headDim = try m.optionalInt("attention.key_length")
    if alwaysHeadDim || (headDim != nil && headDim != hidden / heads) {
        d.append(("head_dim", .int(headDim ?? hidden / heads)))
    }
    if m.file.tensor("blk.0.attn_q.bias") != nil { d.append(("attention_bias", .bool(true))) }
    return d + m.specialTokens
}

/// GPT-NeoX keys. The rotary width is `rope.dimension_count` (llama.cpp's default when absent:
/// the whole head); `Model.load(gguf:)` sets it exactly after parsing, since the factor written
/// here need not multiply back to an integer.
///
/// - Throws: `CoreError` naming the file for a missing or malformed required key, or a rotary
///   width that is odd or wider than a head.
func ggufNeoXConfig(_ m: GGUFMetadata) throws -> [(String, JSONValue)] {
    let hidden = try m.int("embedding_length"), heads = try m.int("attention.head_count")
    let rotary = try ggufNeoXRotaryDim(m, headDim: hidden / heads)
    return [
        ("vocab_size", .int(m.vocabSize)),
        ("hidden_size", .int(hidden)),
        ("intermediate_size", .int(try m.int("feed_forward_length"))),
        ("num_hidden_layers", .int(try m.int("block_count"))),
        ("num_attention_heads", .int(heads)),
        ("max_position_embeddings", .int(try m.int("context_length"))),
        ("hidden_act", .string("gelu")),
        ("layer_norm_eps", .double(try m.number("attention.layer_norm_epsilon") ?? 1e-5)),
        ("use_parallel_residual", .bool(try m.bool("use_parallel_residual") ?? true)),
        ("attention_bias", .bool(m.file.tensor("blk.0.attn_qkv.bias") != nil)),
        ("tie_word_embeddings", m.tied),
        ("rope_parameters", .object([("rope_theta", .double(try m.number("rope.freq_base") ?? 10000)),
                                     ("rope_type", .string("default")),
                                     ("partial_rotary_factor", .double(Double(rotary) / Double(max(1, hidden / heads))))])),
    ] + m.specialTokens
}

/// The rotary width of a GPT-NeoX GGUF: `rope.dimension_count`, else the whole head.
/// - Throws: `CoreError` naming the file when it is odd or wider than a head.
func ggufNeoXRotaryDim(_ m: GGUFMetadata, headDim: Int) throws -> Int {
    let rotary = try m.optionalInt("rope.dimension_count") ?? headDim
    guard rotary % 2 == 0, rotary <= headDim else {
        throw CoreError("\(m.arch).rope.dimension_count \(rotary) must be even and at most the head size \(headDim)", file: m.file.path)
    }
    return rotary
}

/// GPT-2 keys. `n_positions` is the row count of `position_embd.weight` when present.
///
/// - Throws: `CoreError` naming the file for a missing or malformed required key.
func ggufGPT2Config(_ m: GGUFMetadata) throws -> [(String, JSONValue)] {
    let hidden = try m.int("embedding_length")
    var positions = try m.int("context_length")
    if let wpe = m.file.tensor("position_embd.weight"), wpe.shape.count == 2 { positions = wpe.shape[0] }
    return [
        ("vocab_size", .int(m.vocabSize)),
        ("n_embd", .int(hidden)),
        ("n_head", .int(try m.int("attention.head_count"))),
        ("n_layer", .int(try m.int("block_count"))),
        ("n_positions", .int(positions)),
        ("n_inner", .int(try m.optionalInt("feed_forward_length") ?? 4 * hidden)),
        ("activation_function", .string("gelu_new")),
        ("layer_norm_epsilon", .double(try m.number("attention.layer_norm_epsilon") ?? 1e-5)),
        ("tie_word_embeddings", m.tied),
    ] + m.specialTokens
}

// MARK: Tensors under HF names

/// A GGUF file's tensors under HF names, dequantised to f32 with the converter's rewrites undone.
public final class GGUFTensorSource: TensorSource, @unchecked Sendable {
    public let file: GGUFFile
    private let byHF: [String: (info: GGUFTensorInfo, transform: GGUFTensorTransform)]

    /// - Throws: `CoreError` naming the file for a tensor name outside the layout, or a
    ///   rewritten tensor whose shape cannot be undone (q/k rows not whole head pairs, a fused
    ///   q|k|v that is not [3·D, D] / [3·D], a Conv1D weight that is not 2-D).
    init(file: GGUFFile, architecture: GGUFArchitecture, hidden: Int, heads: Int, kvHeads: Int) throws {
        self.file = file
        var map: [String: (GGUFTensorInfo, GGUFTensorTransform)] = [:]
        for t in file.tensors {
            // llama.cpp stores precomputed RoPE frequencies for some models: not a parameter.
            if t.name == "rope_freqs.weight" { continue }
            guard let (hf, rewrite) = architecture.hfName(t.name) else {
                throw CoreError("tensor '\(t.name)' is not part of the \(architecture.gguf) layout ke knows", file: file.path)
            }
            let transform: GGUFTensorTransform
            switch rewrite {
            case nil: transform = .none
            case .ropeQ?, .ropeK?:
                let n = rewrite == .ropeQ ? heads : kvHeads
                guard t.shape.count == 2, n > 0, t.shape[0] % (2 * n) == 0 else {
                    throw CoreError("tensor '\(t.name)' has shape \(t.shape), not a whole number of head pairs for \(n) heads", file: file.path)
                }
                transform = .unpermuteRoPE(heads: n)
            case .neoxQKV?:
                let want = t.shape.count == 1 ? [3 * hidden] : [3 * hidden, hidden]
                guard t.shape == want, heads > 0, hidden % heads == 0 else {
                    throw CoreError("fused tensor '\(t.name)' has shape \(t.shape); q|k|v of embedding_length \(hidden) needs \(want)", file: file.path)
                }
                transform = .neoxQKV(heads: heads)
            case .transpose?:
                guard t.shape.count == 2 else {
                    throw CoreError("tensor '\(t.name)' has shape \(t.shape); a Conv1D weight must be 2-D", file: file.path)
                }
                transform = .transpose
            case .minusOne?:
                transform = .minusOne
            }
            map[hf] = (t, transform)
        }
        byHF = map
    }

    public var names: [String] { byHF.keys.sorted() }

    public func tensorInfo(_ name: String) -> TensorSourceInfo? {
        guard let (t, transform) = byHF[name] else { return nil }
        let shape = transform == .transpose ? Array(t.shape.reversed()) : t.shape
        return TensorSourceInfo(dtype: t.type.name, shape: shape, isWeightType: true)
    }

    /// Dequantises GGUF tensor data and undoes its rewrite (row permutation, transpose, −1).
    /// - Throws: `CoreError` when there is no tensor `name`, `dest` has another element count, or its data cannot be dequantised.
    public func read(_ name: String, into dest: UnsafeMutableBufferPointer<Float>) throws {
        guard let (t, transform) = byHF[name] else { throw CoreError("no tensor named '\(name)'", file: file.path) }
        switch transform {
        case .none:
            return try file.read(t, into: dest)
        case .minusOne:
            try file.read(t, into: dest)
            for i in dest.indices { dest[i] -= 1 }
            return
        default: break
        }
        var tmp = [Float](repeating: 0, count: t.count)
        try tmp.withUnsafeMutableBufferPointer { try file.read(t, into: $0) }
        guard let d = dest.baseAddress else { return }
        let rows = t.shape[0], cols = t.shape.count == 2 ? t.shape[1] : 1
        tmp.withUnsafeBufferPointer { src in
            guard let s = src.baseAddress else { return }
            switch transform {
            case .unpermuteRoPE(let heads):
                // GGUF row h·hd + 2i + j → HF row h·hd + j·hd/2 + i.
                let hd = rows / heads, half = hd / 2
                for h in 0..<heads {
                    for j in 0..<2 {
                        for i in 0..<half {
                            copyFloats(d + (h * hd + j * half + i) * cols, s + (h * hd + 2 * i + j) * cols, cols)
                        }
                    }
                }
            case .neoxQKV(let heads):
                // GGUF row j·D + h·hd + r → HF row (3h + j)·hd + r; hd rows move together.
                let D = rows / 3, hd = D / heads
                for h in 0..<heads {
                    for j in 0..<3 {
                        copyFloats(d + (3 * h + j) * hd * cols, s + (j * D + h * hd) * cols, hd * cols)
                    }
                }
            case .transpose:
                // GGUF [out, in] → HF [in, out].
                transposeBlock(s, srcStride: cols, rows: rows, cols: cols, d, dstStride: rows)
            case .none, .minusOne:
                break
            }
        }
    }

    /// The 2-D GGUF tensor that HF tensor `name` is made of, with the rewrite undone on reading
    /// (the quantised loader keeps the blocks of every rewrite that only moves whole rows).
    func storedTensor(_ name: String) -> (tensor: GGUFTensorInfo, transform: GGUFTensorTransform)? {
        guard let (t, transform) = byHF[name], t.shape.count == 2 else { return nil }
        return (t, transform)
    }

    /// Drops the file pages of HF tensor `name` from resident memory once it has been copied out.
    func releasePages(of name: String) {
        guard let (t, _) = byHF[name] else { return }
        file.file.releasePages(t.fileOffset..<(t.fileOffset + t.byteCount))
    }

    public func float32Pointer(_ name: String) -> UnsafePointer<Float>? {
        guard let (t, transform) = byHF[name], transform == .none else { return nil }
        return file.float32Pointer(t)
    }
}

// MARK: Loading

/// The transformers config.json (as JSON) that a GGUF file's `ARCH.*` metadata describes.
///
/// - Throws: `CoreError` naming the file for an unknown architecture or a missing or malformed
///   required key.
func ggufHuggingFaceConfig(_ f: GGUFFile) throws -> (json: JSONValue, architecture: GGUFArchitecture) {
    guard let archName = f.value("general.architecture")?.stringValue else {
        throw CoreError("missing general.architecture", file: f.path)
    }
    guard let arch = ggufArchitectures.first(where: { $0.gguf == archName }) else {
        // llama.cpp's converter writes Mistral models as `llama`; gguf-py has no `mistral`.
        let hint = archName == "mistral" ? "; llama.cpp writes Mistral models as 'llama'" : ""
        throw CoreError("GGUF architecture '\(archName)' is not supported (supported: \(ggufArchitectures.map(\.gguf).joined(separator: ", "))\(hint))", file: f.path)
    }
    var d: [(String, JSONValue)] = [("architectures", .array([.string(arch.hfClass)])), ("model_type", .string(arch.modelType))]
    for (key, value) in try arch.config(GGUFMetadata(file: f, arch: archName)) {
        // A later key (OLMo 3's model_type) replaces an earlier one.
        if let i = d.firstIndex(where: { $0.0 == key }) { d[i].1 = value } else { d.append((key, value)) }
    }
    return (.object(d), arch)
}

extension Model {
    /// Loads a GGUF file: config from its `ARCH.*` metadata, tokenizer from `tokenizer.ggml.*`,
    /// the converter's per-architecture rewrites undone. A file with quantised matrices keeps
    /// them as ggml blocks, dequantised a tile at a time inside each matrix product (see
    /// `QuantizedWeights`); `keepBF16` then rounds only its F32 matrices to bf16. A float-only
    /// file is expanded to f32 (or rounded to bf16 with `keepBF16`). With `tokenizerFile` (a
    /// tokenizer.json, or a directory holding one) that tokenizer replaces the file's own, which
    /// is then not read. `save` writes an HF directory.
    ///
    /// - Throws: `CoreError` naming the file for anything the GGUF reader, the config, the
    ///   tokenizer or the weight mapping refuses, and as `explicitTokenizer` for `tokenizerFile`.
    public static func load(gguf path: String, keepBF16: Bool = false, tokenizerFile: String? = nil) throws -> Model {
        let f = try GGUFFile(path: path)
        let (json, arch) = try ggufHuggingFaceConfig(f)
        var config = try ModelConfig(huggingFace: json, file: path)
        guard !f.tensors.isEmpty else {
            throw CoreError("the file holds no tensors (a tokenizer-only GGUF?): there is no model to load", file: path)
        }
        if arch.gguf == "gptneox" {
            // Exactly the rotary width llama.cpp uses, whatever the factor rounds to.
            config.rotaryDim = try ggufNeoXRotaryDim(GGUFMetadata(file: f, arch: arch.gguf), headDim: config.headDim)
        } else if let n = try GGUFMetadata(file: f, arch: arch.gguf).optionalInt("rope.dimension_count"), n != config.headDim {
            // llama.cpp would rotate only n dimensions; transformers' family rotates the whole head.
            throw CoreError("\(arch.gguf).rope.dimension_count is \(n), not the head size \(config.headDim): partial rotary embeddings are supported for gptneox only", file: path)
        }
        let source = try GGUFTensorSource(file: f, architecture: arch, hidden: config.hiddenSize,
                                          heads: config.numHeads, kvHeads: config.numKVHeads)
        let explicit = try tokenizerFile.map { try explicitTokenizer($0, embeddingRows: config.vocabSize) }
        let tok = try explicit?.0 ?? Tokenizer(json: try ggufTokenizerJSON(f), file: path)
        // `generate` stops at the file's end-of-sequence id, as transformers' generation config
        // built from the same metadata does; nothing is copied from the "directory" on save.
        let eos = f.value("tokenizer.ggml.eos_token_id")?.intValue.map { [$0] } ?? []
        let info = ModelDirectoryInfo(directory: path, eosTokenIDs: eos, eosSource: eos.isEmpty ? nil : "tokenizer.ggml.eos_token_id",
                                      tokenizerFile: explicit?.path)
        if f.tensors.contains(where: { $0.shape.count == 2 && !$0.type.isFloat }) {
            let blocks = try loadParametersQuantized(config: config, from: source, keepBF16: keepBF16, file: path)
            return try Model(config: config, quantized: blocks, tokenizer: tok, source: path, directoryInfo: info)
        }
        if keepBF16 {
            let compact = try loadParametersBF16(config: config, from: source, file: path)
            return try Model(config: config, bf16: compact, tokenizer: tok, source: path, directoryInfo: info)
        }
        let params = try loadParameters(config: config, from: source, file: path)
        return try Model(config: config, params: params, tokenizer: tok, source: path, directoryInfo: info)
    }
}
