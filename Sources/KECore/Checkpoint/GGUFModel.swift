// MARK: A GGUF file as a Hugging Face model: the architecture table and the loader
//
// llama.cpp's converter (convert_hf_to_gguf.py) renames tensors (`model.layers.N.self_attn.q_proj
// .weight` → `blk.N.attn_q.weight`), stores the config as `ARCH.*` metadata and rewrites a few
// tensors per architecture. One entry of `ggufArchitectures` per GGUF architecture says how to
// undo that: the transformers model type, the tensor names, which tensors were rewritten and the
// config keys (GGUFConfig.swift). `GGUFTensorSource` (GGUFTensorSource.swift) applies it, so
// the HF-name mapping of WeightMap.swift loads the model.
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

// MARK: Loading

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
        }
        let source = try GGUFTensorSource(file: f, architecture: arch, hidden: config.hiddenSize,
                                          heads: config.numHeads, kvHeads: config.numKVHeads)
        let explicit = try tokenizerFile.map { try explicitTokenizer($0, embeddingRows: config.vocabSize) }
        let tokJSON = explicit == nil ? try ggufTokenizerJSON(f) : nil
        let tok = try explicit?.0 ?? Tokenizer(json: tokJSON ?? .null, file: path)
        // `generate` stops at the file's end-of-sequence id, as transformers' generation config
        // built from the same metadata does; nothing is copied from the "directory" on save, but
        // the tokenizer settings of the metadata are written as the files transformers reads.
        let eos = f.value("tokenizer.ggml.eos_token_id")?.intValue.map { [$0] } ?? []
        let info = ModelDirectoryInfo(directory: path, eosTokenIDs: eos, eosSource: eos.isEmpty ? nil : "tokenizer.ggml.eos_token_id",
                                      tokenizerFile: explicit?.path,
                                      generatedFiles: try tokJSON.map { try ggufSideFiles(f, tokenizerJSON: $0) } ?? [:])
        if f.tensors.contains(where: { $0.shape.count == 2 && !$0.type.isFloat }) {
            let blocks = try loadParametersQuantized(config: config, from: source, keepBF16: keepBF16, file: path)
            return try Model(config: config, storage: .quantized(blocks), tokenizer: tok, source: path, directoryInfo: info)
        }
        if keepBF16 {
            let compact = try loadParametersBF16(config: config, from: source, file: path)
            return try Model(config: config, storage: .bf16(compact), tokenizer: tok, source: path, directoryInfo: info)
        }
        let params = try loadParameters(config: config, from: source, file: path)
        return try Model(config: config, storage: .f32(params), tokenizer: tok, source: path, directoryInfo: info)
    }
}

/// tokenizer_config.json and generation_config.json for a model loaded from GGUF file `f`, as
/// transformers reads the same metadata (`from_pretrained(…, gguf_file=…)`): the bos / eos /
/// unknown / padding tokens (`tokenizer.ggml.*_token_id`, as their token strings),
/// `add_bos_token` and `add_eos_token` as the tokenizer's post-processor applies them (the file's
/// flags, or transformers' default when absent), `tokenizer.chat_template`; and the generation
/// config's bos / eos / pad ids. Keys that the file does not give are left out; nothing is
/// written when it gives none.
///
/// - Throws: `CoreError` for a special-token id outside the token list.
func ggufSideFiles(_ f: GGUFFile, tokenizerJSON: JSONValue) throws -> [String: String] {
    let tokens = f.value("tokenizer.ggml.tokens")?.arrayValue?.compactMap(\.stringValue) ?? []
    var tc: [(String, JSONValue)] = []
    var gen: [(String, JSONValue)] = []
    // The post-processor's single template: [bos] $A [eos].
    let single = tokenizerJSON["post_processor"]?["single"]?.arrayValue ?? []
    func isSpecial(_ piece: JSONValue?) -> Bool { piece?["SpecialToken"] != nil }
    tc.append(("add_bos_token", .bool(isSpecial(single.first))))
    tc.append(("add_eos_token", .bool(single.count > 1 && isSpecial(single.last))))
    for (key, name, genKey) in [("bos_token_id", "bos_token", "bos_token_id"), ("eos_token_id", "eos_token", "eos_token_id"),
                                ("unknown_token_id", "unk_token", nil), ("padding_token_id", "pad_token", "pad_token_id")] {
        guard let v = f.value("tokenizer.ggml.\(key)") else { continue }
        guard let id = v.intValue, id >= 0, id < tokens.count else {
            throw CoreError("tokenizer.ggml.\(key) is not a token id below \(tokens.count)", file: f.path)
        }
        tc.append((name, .string(tokens[id])))
        if let genKey { gen.append((genKey, .int(id))) }
    }
    if let template = f.value("tokenizer.chat_template")?.stringValue { tc.append(("chat_template", .string(template))) }
    tc.append(("clean_up_tokenization_spaces", .bool(false)))
    tc.append(("tokenizer_class", .string("PreTrainedTokenizerFast")))
    var files: [String: String] = [:]
    files["tokenizer_config.json"] = JSONValue.object(tc.sorted { $0.0 < $1.0 }).serialized(pretty: true) + "\n"
    if !gen.isEmpty { files["generation_config.json"] = JSONValue.object(gen).serialized(pretty: true) + "\n" }
    return files
}
