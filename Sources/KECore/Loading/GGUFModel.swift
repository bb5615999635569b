// MARK: A GGUF file as a Hugging Face model: the architecture table and the loader
//
// llama.cpp's converter (convert_hf_to_gguf.py) renames tensors (`model.layers.N.self_attn.q_proj
// .weight` → `blk.N.attn_q.weight`), stores the config as `ARCH.*` metadata and rewrites a few
// tensors per architecture. One `GGUFArchitecture` per GGUF architecture, held by its model
// family's entry (Families/), says how to undo that: the transformers model type, the tensor
// names, which tensors were rewritten and the config keys (`GGUFMetadata`, GGUFConfig.swift).
// `GGUFTensorSource` (GGUFTensorSource.swift) applies it, so the HF-name mapping of
// WeightMap.swift loads the model.
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
    /// How transformers builds a SentencePiece vocabulary for this architecture.
    var tokenizerFlavour: GGUFSentencePieceFlavour = .llama
    /// Settles what the parsed config cannot say exactly (GPT-NeoX: the rotary width).
    var adjust: (@Sendable (GGUFMetadata, inout ModelConfig) throws -> Void)? = nil
}

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
        try arch.adjust?(GGUFMetadata(file: f, arch: arch.gguf), &config)
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
