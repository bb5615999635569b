import KECore

// MARK: Models and corpora
//
// load, corpus, entropy, perplexity, tokenize, rescale, save. Each is one declaration; the
// numeric work is KECore's.

extension Command {
    static let load = Command(
        "load", [.positional("\"DIR\""), .flag("bf16")], group: "models",
        brief: "Load a Hugging Face model directory.",
        summary: """
            Loads a Hugging Face model directory (config.json, tokenizer.json and the weights as \
            model.safetensors, a sharded model.safetensors.index.json, pytorch_model.bin, a sharded \
            pytorch_model.bin.index.json or model.pt; PyTorch files are read without running their \
            pickle, and only plain state dicts are accepted), or a GGUF file "FILE.gguf" (v2/v3; \
            F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K–Q6_K, dequantised to f32 at load; \
            config and gpt2 BPE tokenizer from its metadata; llama architecture). Supported \
            architectures: OLMo, Llama, GPT-NeoX (Pythia) and GPT-2. The result is a model value; every intervention on it returns a new model. \
            Built in: "tiny" is the final checkpoint of the built-in tiny run and "tiny@STEP" \
            its checkpoint after STEP steps (see `checkpoints "tiny"`); the run is pretrained on \
            first use and cached under $XDG_CACHE_HOME/ke. A local directory named tiny is "./tiny". \
            With `bf16` the weights stay bfloat16 in memory (2 bytes a parameter instead of 4) and \
            each matrix is converted a tile at a time inside the forward pass: exact for BF16 \
            checkpoints, rounded for F32/F16 ones. Commands that need f32 weights (train, save, \
            memory, …) convert the model once when first used.
            """,
        example: "let m = load \"tiny\"\nlet p = load \"Tests/Fixtures/models/neox\"\nlet b = load \"Tests/Fixtures/models/olmo_clip\" bf16",
        run: { inv in
            let dir = try inv.string("\"DIR\"")
            let bf16 = inv.flag("bf16")
            if let tiny = try BuiltinNames.load(dir, inv) {
                if bf16, case .model(let m) = tiny { return .model(try m.keepingBF16()) }
                return tiny
            }
            if dir.lowercased().hasSuffix(".gguf") { return .model(try Model.load(gguf: dir, keepBF16: bf16)) }
            return .model(try Model.load(directory: dir, keepBF16: bf16))
        })

    static let corpus = Command(
        "corpus", [.positional("\"FILE\""), .option("limit", "N"), .option("seq", "N")], group: "models",
        brief: "A corpus file, tokenised when used.",
        summary: """
            A corpus file: .txt (one document per line) or .jsonl (a "text" field per line). \
            `limit N` keeps the first N documents; `seq N` truncates each document to N tokens. \
            Without `seq` documents are not truncated: each is used whole, so a document longer \
            than a GPT-2 model's positions is an error (use `seq`), and RoPE models (OLMo, \
            Llama, NeoX) run it past their max_position_embeddings. \
            It is tokenised by the tokenizer of the model it is used with, when first used \
            (and cached per tokenizer), so one corpus serves several models. Built in: \
            "tiny:train" (the tiny run's pretraining text in training order, at most 65,536 \
            documents) and "tiny:heldout" \
            (fresh text from the same world).
            """,
        example: "let c = corpus \"tiny:heldout\" limit 200 seq 128",
        run: { inv in
            let path = try inv.string("\"FILE\"")
            let limit = try inv.optionalInt("limit", in: 1...Int.max)
            let seq = try inv.optionalInt("seq", in: 1...1_000_000)
            if let tiny = try BuiltinNames.corpus(path, limit: limit, seq: seq, inv) { return tiny }
            return .corpus(try CorpusValue(path: path, limit: limit, seq: seq))
        })

    static let entropy = Command(
        "entropy", [.positional("MODEL"), .option("on", "CORPUS")], group: "models",
        brief: "Knowledge entropy of a model on a corpus.",
        summary: """
            Knowledge entropy (Kim et al. 2025). Each FFN unit i of layer l is a memory whose \
            coefficient is its hidden activation. With m_l = mean over all corpus tokens of \
            |coefficient| and p_l = m_l / Σ m_l, the layer entropy is H_l = −Σ_i p_l,i ln p_l,i; \
            total = Σ_l H_l and normalized = total / (L · ln d_ff), which is 1 when every memory \
            is equally active. Fields: total, layers, tokens, normalized. Of a list of models or \
            checkpoints (`checkpoints "DIR"`): one result per element, with its step. \
            `entropy SUMS` (no corpus) computes the same from a sums value (`sums`, `merge`): \
            merged shards give exactly the figures of `entropy MODEL on CORPUS`.
            """,
        example: "let e = entropy m on c\ne.total",
        run: { inv in
            if let results = try seriesEntropy(inv) { return results }
            if let s = sumsOf(try inv.value("MODEL")) {
                if inv.has("on") { throw inv.error("'entropy SUMS' takes no corpus: the sums were measured on one already", at: "on") }
                let r = try knowledgeEntropy(from: try sumsStatistics(s, inv, at: "MODEL"))
                return .record(entropyRecord(r))
            }
            guard inv.has("on") else { throw inv.error("'entropy' needs 'on CORPUS' — usage: entropy MODEL on CORPUS, or entropy SUMS") }
            let model = try inv.model("MODEL")
            let corpus = try inv.corpus("on", for: model)
            let r = try knowledgeEntropy(of: model, on: corpus, progress: inv.progress)
            return .record(entropyRecord(r))
        })

    static let perplexity = Command(
        "perplexity", [.positional("MODEL"), .keyword("on", "CORPUS")], group: "models",
        brief: "Perplexity of a model on a corpus.",
        summary: """
            Perplexity exp(loss), where loss is the mean next-token negative log-likelihood in \
            nats over every predicted token (a document of T tokens predicts T − 1). Fields: \
            perplexity, loss, tokens.
            """,
        example: "perplexity m on c",
        run: { inv in
            let model = try inv.model("MODEL")
            let corpus = try inv.corpus("on", for: model)
            let r = try KECore.perplexity(of: model, on: corpus, progress: inv.progress)
            return .record(Record(kind: "perplexity", fields: [
                ("perplexity", .number(r.perplexity)), ("loss", .number(r.loss)),
                ("tokens", .number(Double(r.tokens))),
            ], native: r))
        })

    static let tokenize = Command(
        "tokenize", [.positional("MODEL"), .positional("\"TEXT\"")], group: "models",
        brief: "Token ids and strings of a text.",
        summary: """
            Token ids and token strings of a text under the model's tokenizer, without special \
            tokens. Fields: ids, tokens.
            """,
        example: "tokenize m \"Hello world\"",
        run: { inv in
            let model = try inv.model("MODEL")
            let text = try inv.string("\"TEXT\"")
            let ids = model.tokenizer.encode(text)
            let strings = ids.map { model.tokenizer.token($0) ?? "" }
            return .record(Record(kind: "tokens", fields: [
                ("ids", .list(ids.map { .number(Double($0)) })),
                ("tokens", .list(strings.map { .string($0) })),
            ]))
        })

    static let rescale = Command(
        "rescale", [.positional("MODEL"), .keyword("bottom", "P"), .keyword("by", "Q"), .option("on", "CORPUS"), .option("using", "SUMS")],
        group: "models",
        brief: "Revive the least active memories.",
        summary: """
            The paper's resuscitation: per layer, the memories whose mean |coefficient| on the \
            corpus is at or below the P-quantile (P a percentage such as 10%, or a fraction) get \
            their coefficient multiplied by (layer mean / own mean) · Q, so the least active \
            memories are revived. For gated (SwiGLU) MLPs the multiplier folds exactly into row \
            i of the up projection; for GELU MLPs it is a per-memory coefficient multiplier, \
            folded into the value vector when saved. With `using SUMS` instead of `on CORPUS` \
            the means come from a sums value (e.g. `merge` of shards), which must have been \
            measured on this model (same fingerprint). With `on CORPUS`, returns a new model \
            carrying perplexity_before and perplexity_after, its perplexity on the same corpus \
            before and after (one extra pass each); when the rescale more than doubles it, the \
            model's display says so. With `using SUMS`, returns the new model.
            """,
        example: "let r = rescale m bottom 10% by 2 on c",
        run: { inv in
            let p = try inv.fraction("bottom")
            let q = try inv.finite("by")
            guard q >= 0 else { throw inv.error("'rescale … by' must not be negative", at: "by") }
            let model = try inv.model("MODEL")
            if inv.has("using") {
                if inv.has("on") { throw inv.error("'rescale' takes either 'on CORPUS' or 'using SUMS', not both", at: "using") }
                let v = try inv.value("using")
                guard let s = sumsOf(v) else { throw inv.typeError("using", expected: "a sums value", found: v) }
                let fp: String
                do { fp = try modelFingerprint(model) } catch let e as CoreError { throw inv.error(e.description, at: "MODEL") }
                guard s.model == fp else {
                    throw inv.error("the sums were measured on model \(s.model), not on this model (\(fp))", at: "using")
                }
                let stats = try sumsStatistics(s, inv, at: "using")
                do {
                    return .model(try model.rescaled(bottom: p, by: q, stats: stats, source: "sums of corpus \(s.corpus)"))
                } catch let e as CoreError { throw inv.error(e.description, at: "using") }
            }
            guard inv.has("on") else { throw inv.error("'rescale' needs 'on CORPUS' or 'using SUMS' — usage: rescale MODEL bottom P by Q on CORPUS") }
            let corpus = try inv.corpus("on", for: model)
            let rescaled = try model.rescaled(bottom: p, by: q, on: corpus, progress: inv.progress)
            let before = try KECore.perplexity(of: model, on: corpus, progress: inv.progress).perplexity
            let after = try KECore.perplexity(of: rescaled, on: corpus, progress: inv.progress).perplexity
            return .model(rescaled.measured([("perplexity_before", before), ("perplexity_after", after)]))
        })

    static let save = Command(
        "save", [.positional("MODEL"), .keyword("to", "\"DIR\""), .flag("force")], group: "models",
        brief: "Write a model as a Hugging Face directory.",
        summary: """
            Writes the model as a Hugging Face directory that transformers loads unchanged \
            (pending GELU coefficient multipliers are folded into the value vectors): \
            config.json (the source's, with every key kept and the dtype set to float32), \
            model.safetensors (float32), and every other top-level file of the directory the \
            model was loaded from copied unchanged (tokenizer.json, tokenizer_config.json, \
            special_tokens_map.json, generation_config.json, chat templates, README, licence); \
            weight files (.safetensors, .bin, .pt, .gguf, index files) and sub-directories are \
            not copied. Written to a temporary directory and renamed into place. Refuses a \
            non-empty existing directory unless `force` is given. `save SUMS to "FILE"` writes a \
            sums value as a safetensors file: F64 tensor `sums` [layers, d_ff] (Σ|coefficient|), \
            U64 tensor `sums_exact` [layers, d_ff, 3] (the exact accumulators, for merge) and \
            tokens, shard, shards, model, corpus and step in __metadata__; it never replaces an \
            existing file (not even with force) and appears complete or not at all. Returns the path.
            """,
        example: "save r to \"out/rescaled\" force",
        run: { inv in
            if let s = sumsOf(try inv.value("MODEL")) {
                let file = try inv.string("to")
                if inv.flag("force") { throw inv.error("sums files are never overwritten; 'force' does not apply to sums", at: "force") }
                do { try s.write(to: file) } catch let e as CoreError { throw inv.error(e.description, at: "to") }
                return .record(Record(kind: "saved", fields: [("path", .string(file))]))
            }
            let model = try inv.model("MODEL")
            let dir = try inv.string("to")
            try model.save(to: dir, force: inv.flag("force"))
            return .record(Record(kind: "saved", fields: [("path", .string(dir))]))
        })
}

/// The record of an entropy result (fields as in the JSON contract, native result kept).
func entropyRecord(_ r: EntropyResult) -> Record {
    Record(kind: "entropy", fields: [
        ("total", .number(r.total)),
        ("layers", .list(r.layers.map { .number($0) })),
        ("tokens", .number(Double(r.tokens))),
        ("normalized", .number(r.normalized)),
    ], native: r)
}
