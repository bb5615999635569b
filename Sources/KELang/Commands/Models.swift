import KECore

// MARK: Models and corpora
//
// load, corpus, tokenize, save. Each is one declaration; the numeric work is KECore's.
// Measuring a model is in Entropy.swift and Prediction.swift, changing it in Interventions.swift.

extension Command {
    static let load = Command(
        "load", [.positional(.DIR, quoted: true), .flag(.bf16), .option(.tokenizer, "\"FILE\""), .option(.cache, "\"DIR\"")],
        group: "models",
        brief: "Load hf://ORG/NAME@REV, a folder or GGUF.",
        summary: """
            `load "hf://ORG/NAME@REVISION"` loads a model from the local Hugging Face hub cache, \
            where `huggingface-cli download ORG/NAME --revision REVISION` and \
            `from_pretrained(…, revision=…)` put it, offline and exactly as huggingface_hub \
            resolves it (the URI grammar is huggingface_hub's: hf://[models/]ORG/NAME[@REVISION][/PATH]; \
            without @REVISION, main). The cache is $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, \
            else $HF_HOME/hub, else ${XDG_CACHE_HOME:-~/.cache}/huggingface/hub; `cache "DIR"` \
            names it instead (for per-revision cache_dir folders). A 40-hex revision is a commit; \
            any other is read from models--ORG--NAME/refs/REVISION (refs/pr/1 too), and the \
            snapshot folder snapshots/COMMIT loads like any model folder below, so the numbers \
            are exactly those of loading that folder; the step is parsed from the revision's \
            name (stepN, stepN-tokensM, stageK-stepN-tokensM). /PATH loads a file or folder \
            inside the snapshot (one GGUF file of several, say); a snapshot holding only one \
            GGUF file loads it. A missing repository or revision, or an incomplete snapshot, is \
            an error that names what is missing (and what the cache's .no_exist markers say), \
            lists the cached revisions and prints the huggingface-cli line that would fetch it: \
            ke never touches the network. `load "DIR"` loads a Hugging Face model directory (config.json, tokenizer.json and the weights as \
            model.safetensors, a sharded model.safetensors.index.json, pytorch_model.bin, a sharded \
            pytorch_model.bin.index.json or model.pt; PyTorch files, zip or legacy (torch < 1.6), \
            little- or big-endian, are read without running their pickle, and only plain state \
            dicts are accepted), an OLMo-trainer checkpoint directory (config.yaml and \
            model.safetensors or model.pt, no config.json), or a GGUF file "FILE.gguf" (recognised by its "GGUF" magic under any other name too; v2/v3; \
            F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K–Q6_K; quantised matrices stay \
            blocks in memory and are dequantised a tile at a time inside each matrix product; \
            config and tokenizer (gpt2 BPE or llama SentencePiece) from its metadata; GGUF \
            architectures llama (Mistral models are written as llama), qwen2, qwen3, gemma, olmo, \
            olmo2 (OLMo 3 too), gptneox and gpt2). Supported \
            architectures (chosen by model_type, as transformers does): OLMo, OLMo 2, OLMo 3, Llama (RoPE scaling linear, dynamic, llama3; attention and MLP biases), Mistral, Qwen 2, Qwen 3, Gemma, GPT-NeoX (Pythia) and GPT-2; sliding windows are honoured in every pass. The result is a model value; every intervention on it returns a new model. \
            Built in: "tiny" is the final checkpoint of the built-in tiny run and "tiny@STEP" \
            its checkpoint after STEP steps (see `checkpoints "tiny"`); "tiny-cosine" and \
            "tiny-cosine@STEP" are those of the same run with the cosine schedule (see \
            `checkpoints "tiny-cosine"`); each run is pretrained on first use and cached under \
            $XDG_CACHE_HOME/ke. A local directory named tiny is "./tiny". \
            With `bf16` the weights stay bfloat16 in memory (2 bytes a parameter instead of 4) and \
            each matrix is converted a tile at a time inside the forward pass: exact for tensors \
            stored BF16, rounded for F32/F16 ones (a GGUF's norm weights are usually F32); a \
            quantised GGUF keeps its blocks either way and `bf16` rounds only its F32 matrices. \
            ablate, scale and rescale keep a bf16 or quantised model compact. Commands that need \
            f32 weights (train, save, memory, …) make an f32 copy for as long as they run. \
            With `tokenizer "FILE"` (a tokenizer.json, or a directory holding one) the model uses \
            that tokenizer instead of the one beside its weights, which then need not exist: \
            OLMo-trainer checkpoints usually ship without one. Every id of that tokenizer must \
            have a row in the model's embedding matrix; `save` writes it as the new directory's \
            tokenizer.json. `bf16` and `tokenizer` may come in either order.
            """,
        example: """
            let m = load "tiny"
            let h = load "hf://ke-fixtures/series@step1000" cache "Tests/Fixtures/hub"
            let p = load "Tests/Fixtures/models/neox"
            let b = load "Tests/Fixtures/models/olmo_clip" bf16
            let o = load "Tests/Fixtures/formats/olmo_native" tokenizer "Tests/Fixtures/models/olmo/tokenizer.json"
            """,
        run: { inv in
            let dir = try inv.string(.DIR)
            let bf16 = inv.flag(.bf16)
            let tokenizer = try inv.optionalString(.tokenizer)
            if dir.isEmpty { throw inv.error("'load' needs a model folder or a .gguf file, found an empty path", at: .DIR) }
            if tokenizer == "" {
                throw inv.error("'load … tokenizer' needs a tokenizer.json, or a folder holding one, found an empty path", at: .tokenizer)
            }
            if tokenizer != nil && BuiltinNames.isModel(dir) {
                throw inv.error("'tokenizer' is for model directories and GGUF files; the built-in models have their own tokenizer", at: .tokenizer)
            }
            let cache = try inv.optionalString(.cache)
            if cache == "" { throw inv.error("'load … cache' needs the hub cache folder, found an empty path", at: .cache) }
            if HubReference.isHubURI(dir) {
                do {
                    return .model(try Model.load(hub: dir, cacheDirectory: cache, keepBF16: bf16, tokenizerFile: tokenizer))
                } catch let e as CoreError {
                    throw inv.error(e.description, at: e.file == tokenizer ? .tokenizer : .DIR)
                }
            }
            if cache != nil { throw inv.error("'cache' is for hf://ORG/NAME@REVISION names; \"\(dir)\" is a path", at: .cache) }
            if let tiny = try BuiltinNames.load(dir, inv) {
                if bf16, case .model(let m) = tiny { return .model(try m.keepingBF16()) }
                return tiny
            }
            return .model(try Model.load(path: dir, keepBF16: bf16, tokenizerFile: tokenizer))
        })

    static let corpus = Command(
        "corpus", [.positional(.FILE, quoted: true), .option(.limit, "N"), .option(.seq, "N"), .flag(.special), .flag(.pack),
         .option(.world, "W")],
        group: "models",
        brief: "A corpus file, tokenised when used.",
        summary: """
            A corpus file: .txt (one document per line) or .jsonl (a "text" field per line). \
            `limit N` keeps the first N documents; `seq N` truncates each document to N tokens. \
            Without `seq` documents are not truncated: each is used whole, so a document longer \
            than a GPT-2 model's positions is an error (use `seq`), and RoPE models (every \
            other family) run it past their max_position_embeddings. \
            It is tokenised by the tokenizer of the model it is used with, when first used \
            (and cached per tokenizer), so one corpus serves several models. Built in: \
            "tiny:train" (the tiny run's pretraining text in training order, at most 65,536 \
            documents), "tiny:heldout" (fresh text from the same world) and "tiny:shift" (a \
            continual-pretraining corpus from a shifted domain: 10,471 documents, 840,026 \
            tokens, enough for 410 steps of 32 × 64 packed tokens in one epoch; people never in \
            tiny:train, other attribute distributions, a perturbed filler grammar, the same \
            vocabulary; always packed, in rows of 64 tokens unless `seq` says otherwise, for \
            `inject … on CORPUS`). `world W` gives a built-in corpus of the world with seed W \
            (the one `pretrain … world W` trains on; written on first use without training). \
            With `special` each document gets the special tokens of the tokenizer's post-processor \
            (for example Llama-3's BOS), as HF `add_special_tokens=True`; `seq` then truncates the \
            text so that the special tokens stay. Without it no special tokens are added. The \
            paper's entropy code (kaistAI/Knowledge-Entropy, analysis/entropy.py) calls the \
            allenai/OLMo-1B-hf tokenizer with its defaults, i.e. with special tokens: use \
            `special` to tokenise as it did (it also pads to 2048 tokens, which ke does not). \
            With `pack` (and `seq N`) the corpus is packed as OLMo's pretraining data are: the \
            documents' tokens are concatenated in file order, each document followed by the \
            model's end-of-sequence id (generation_config.json's eos_token_id, else \
            tokenizer_config.json's eos_token, else config.json's), and the stream is cut into \
            rows of exactly N tokens; the last partial row is dropped and `limit K` counts rows. \
            With a tokenizer that has no end-of-sequence token (the tiny run's word-level one) \
            the documents are joined with nothing between them. A NumPy file "FILE.npy" of \
            token ids (any integer dtype, as OLMo's and Pythia's data are distributed) is \
            always packed: a 1-D array is the token stream, cut into rows of `seq N`; a 2-D \
            array is one row per line, and `seq`, if given, must equal its width. Its ids must \
            be in the model's vocabulary (the first one outside is named). A packed corpus is \
            what `inject … on CORPUS` trains on (the paper's protocol).
            """,
        example: "let c = corpus \"tiny:heldout\" limit 200 seq 128\nlet rows = corpus \"Tests/Fixtures/corpus.txt\" seq 16 pack",
        run: { inv in
            let path = try inv.string(.FILE)
            let limit = try inv.optionalInt(.limit, in: 1...Int.max)
            let seq = try inv.optionalInt(.seq, in: 1...1_000_000)
            let pack = inv.flag(.pack)
            if pack && seq == nil { throw inv.error("'pack' cuts the documents into rows of N tokens: give 'seq N' too", at: .pack) }
            if pack && inv.flag(.special) {
                throw inv.error("'pack' adds no special tokens (only the end-of-sequence id after each document); drop 'special'", at: .special)
            }
            if let tiny = try BuiltinNames.corpus(path, limit: limit, seq: seq, pack: pack, inv) {
                if inv.flag(.special) { throw inv.error("'special' is for corpus files; the built-in corpora have no tokenizer of their own", at: .special) }
                return tiny
            }
            if Corpus.isNumPyFile(path) && inv.flag(.special) {
                throw inv.error("'special' is for text corpora; a .npy file holds token ids already", at: .special)
            }
            return .corpus(try CorpusValue(path: path, limit: limit, seq: seq, special: inv.flag(.special), pack: pack))
        })

    static let tokenize = Command(
        "tokenize", [.positional(.MODEL), .positional(.TEXT, quoted: true), .flag(.special)], group: "models",
        brief: "Token ids and strings of a text.",
        summary: """
            Token ids and token strings of a text under the model's tokenizer, without special \
            tokens; with `special`, with the special tokens of the tokenizer's post-processor \
            (HF `add_special_tokens=True`, transformers' default). Fields: ids, tokens.
            """,
        example: "tokenize m \"Hello world\"",
        run: { inv in
            let model = try inv.model(.MODEL)
            let text = try inv.string(.TEXT)
            let ids = model.tokenizer.encode(text, addSpecialTokens: inv.flag(.special))
            let strings = ids.map { model.tokenizer.token($0) ?? "" }
            return .record(Record(TokenList(ids: ids, strings: strings)))
        })

    static let save = Command(
        "save", [.positional(.MODEL), .keyword(.to, "\"DIR\""), .flag(.force)], group: "models",
        brief: "Write a model as a Hugging Face directory.",
        summary: """
            Writes the model as a Hugging Face directory that transformers loads unchanged \
            (pending GELU coefficient multipliers are folded into the value vectors): \
            config.json (the source's, with every key kept and the dtype set to float32), \
            model.safetensors (float32), and every other top-level file of the directory the \
            model was loaded from copied unchanged (tokenizer.json, tokenizer_config.json, \
            special_tokens_map.json, generation_config.json, chat templates, README, licence); \
            weight files (.safetensors, .bin, .pt, .gguf, index files) and sub-directories are \
            not copied. A model loaded from a GGUF file gets tokenizer_config.json (bos, eos, \
            unk and pad tokens, add_bos_token, add_eos_token, chat_template) and \
            generation_config.json (bos, eos and pad ids) made from the file's metadata, as \
            transformers reads them from the GGUF. \
            Written to a temporary directory and renamed into place. Refuses a \
            non-empty existing directory unless `force` is given. `save SUMS to "FILE"` writes a \
            sums value as a safetensors file: F64 tensor `sums` [layers, d_ff] (Σ|coefficient|), \
            U64 tensor `sums_exact` [layers, d_ff, 3] (the exact accumulators, for merge) and \
            tokens, shard, shards, model, corpus and step in __metadata__; it never replaces an \
            existing file (not even with force) and appears complete or not at all. Neither \
            form creates folders: the folder that is to hold DIR or FILE must exist, and an \
            error names it when it does not. Returns the path.
            """,
        example: "save r to \"out/rescaled\" force",
        run: { inv in
            if let s = try inv.value(.MODEL).result(CoefficientSums.self) {
                let file = try inv.string(.to)
                if inv.flag(.force) { throw inv.error("sums files are never overwritten; 'force' does not apply to sums", at: .force) }
                do { try s.write(to: file) } catch let e as CoreError { throw inv.error(e.description, at: .to) }
                return .record(Record(SavedPath(path: file)))
            }
            let model = try inv.model(.MODEL)
            let dir = try inv.string(.to)
            try model.save(to: dir, force: inv.flag(.force))
            return .record(Record(SavedPath(path: dir)))
        })
}

// MARK: Results

/// `tokenize MODEL "TEXT"`: token ids and strings.
struct TokenList: CommandResult {
    let ids: [Int]
    let strings: [String]

    var kind: String { "tokens" }

    var fields: [(String, Value)] {
        [("ids", .list(ids.map { .number(Double($0)) })), ("tokens", .list(strings.map { .string($0) }))]
    }

    /// A count line, then one token a line: its id right-aligned, then the quoted string.
    func human(options: SessionOptions) -> String? {
        var lines = ["\(ids.count) token\(ids.count == 1 ? "" : "s")"]
        for (id, s) in zip(ids, strings) {
            let idText = Printer.number(Double(id))
            lines.append(String(repeating: " ", count: max(0, 8 - idText.count)) + idText + "  " + Printer.quoted(s))
        }
        return lines.joined(separator: "\n")
    }
}

/// `save … to "PATH"`: where it was written.
struct SavedPath: CommandResult {
    let path: String

    var kind: String { "saved" }
    var fields: [(String, Value)] { [("path", .string(path))] }
    func human(options: SessionOptions) -> String? { "saved \(path)" }
    var inline: String? { path }
}
