import KECore

// MARK: Training and fact injection
//
// train, facts, probe, inject. The numeric work (backward pass, AdamW, probe scoring, the
// injection loop) is KECore's `Training/`.

extension Command {
    static let train = Command(
        "train",
        [.positional(.MODEL), .keyword(.on, "CORPUS"), .option(.steps, "N"), .option(.batch, "B"),
         .option(.seq, "S"), .option(.lr, "X"), .option(.warmup, "W"), .option(.seed, "N"),
         .option(.schedule, "\"NAME\""), .option(.final, "F"), .option(.wd, "D"), .option(.clip, "C"),
         .option(.beta1, "B1"), .option(.beta2, "B2"), .option(.eps, "E")],
        group: "training",
        brief: "Continue training a model on a corpus.",
        summary: """
            Continues pretraining: AdamW (β1 0.9, β2 0.95, ε 1e-8, weight decay 0.1 on matrices, \
            gradient clipping at global norm 1.0), linear warm-up for W steps then cosine decay to \
            10 % of the peak learning rate X. Each step takes B documents from a seeded shuffle of \
            the corpus, each randomly cropped to S tokens; the loss is the mean next-token \
            cross-entropy over every real token (no padding). Defaults: steps 100, batch 8, \
            seq 128 (at most the model's learned positions), lr 3e-4, warmup 0, seed 0. Optimiser options: schedule "cosine" (default), \
            "constant" or "wsd" (warmup–stable–decay, decaying over the last 20 %); final F, the \
            fraction of the peak the schedule ends at (0.1); wd D, weight decay on matrices (0.1); \
            clip C, the global gradient-norm limit (1.0; 0 turns clipping off); beta1, beta2, eps \
            (0.9, 0.95, 1e-8). Returns a new model (the input is unchanged) whose step is the \
            input's step + N when the input's step is known.
            """,
        example: "let m2 = train m on c steps 20 batch 4 seq 64 lr 1e-3\nlet m3 = train m on c steps 20 lr 1e-3 schedule \"constant\" wd 0 clip 0.5",
        run: { inv in
            let model = try inv.model(.MODEL)
            let corpus = try inv.corpus(.on, for: model)
            var o = TrainOptions()
            o.steps = try inv.optionalInt(.steps, in: 1...10_000_000) ?? o.steps
            o.batch = try inv.optionalInt(.batch, in: 1...1_000_000) ?? o.batch
            // Without `seq`, windows never exceed a model's learned positions (GPT-2).
            let c = model.config
            o.seq = try inv.optionalInt(.seq, in: 2...1_000_000) ?? (c.learnedPositions ? Swift.min(o.seq, c.maxPositions) : o.seq)
            o.warmup = try inv.optionalInt(.warmup, in: 0...10_000_000) ?? o.warmup
            if inv.has(.seed) { o.seed = UInt64(try inv.int(.seed, in: 0...Int.max)) }
            if inv.has(.lr) { o.lr = try inv.positive(.lr, allowZero: true) }
            if inv.has(.schedule) {
                switch try inv.string(.schedule) {
                case "cosine": o.schedule = .cosine
                case "constant": o.schedule = .constant
                case "wsd": o.schedule = .warmupStableDecay(decayFraction: 0.2)
                case let other:
                    throw inv.error("'train … schedule' must be \"cosine\", \"constant\" or \"wsd\", found \"\(other)\"", at: .schedule)
                }
            }
            if inv.has(.final) {
                o.finalLRFraction = try inv.positive(.final, allowZero: true)
                guard o.finalLRFraction <= 1 else { throw inv.error("'train … final' must be between 0 and 1", at: .final) }
            }
            if inv.has(.wd) { o.weightDecay = try inv.positive(.wd, allowZero: true) }
            if inv.has(.clip) {
                let c = try inv.positive(.clip, allowZero: true)
                o.clip = c == 0 ? nil : c
            }
            for (key, range): (ArgumentKey, Range<Double>) in [(.beta1, 0.0..<1.0), (.beta2, 0.0..<1.0)] where inv.has(key) {
                let b = try inv.finite(key)
                guard range.contains(b) else { throw inv.error("'train … \(key)' must be in [0, 1)", at: key) }
                if key == .beta1 { o.beta1 = b } else { o.beta2 = b }
            }
            if inv.has(.eps) { o.eps = try inv.positive(.eps) }
            return .model(try KECore.train(model, on: corpus, options: o, progress: inv.progress))
        })

    static let facts = Command(
        "facts", [.positional(.FILE, quoted: true), .option(.world, "W")], group: "training",
        brief: "Read a fact set (fictional knowledge).",
        summary: """
            Reads facts in the fictional-knowledge format of Chang et al. 2024 (.json list or \
            .jsonl): each item has train_context (text to train on), mem_input[]/mem_target[] \
            (memorisation probes), gen_input[]/gen_target[] (paraphrases: generalisation probes) \
            and optionally hard_gen_input[]/hard_gen_target[] (composition) and paraphrases[] \
            (other versions of train_context: version 1 is train_context, version v is \
            paraphrases[v−2]; the paper's protocol, `inject … on CORPUS`, injects version \
            ((e−1) mod versions)+1 at event e). A probe is the \
            text input + " " + target; it is scored on the target's tokens only. Fields: items, \
            versions (the smallest number of versions over the items), memorization, \
            generalization, composition (probe counts), source. Built in (`world W`: the sets of \
            the world with seed W, the one `pretrain … world W` trains on): \
            "tiny:known" (people of the tiny run's pretraining text, for retention), \
            "tiny:new" (people it never saw; their generalisation probes use unseen templates), \
            and for continual pretraining "tiny:para" (12 other unseen people, each in 10 \
            biography versions: new template choices and sentence orders; train_context is \
            version 1, paraphrases versions 2–10) and "tiny:once" (60 more, version 1 only). \
            In both, the memorisation probes are version 1's sentences cut before the value and \
            the generalisation probes use templates no version uses; 5 of each per item, no \
            composition probes. 12 + 60 fits ten injection events of 18 fact rows (all 12 \
            paraphrased items + 6 once items ≈ 56 % of a 32-row batch).
            """,
        example: "let f = facts \"tiny:new\"\nlet g = facts \"Tests/Fixtures/facts.json\"\nlet p = facts \"tiny:para\"",
        run: { inv in
            let path = try inv.string(.FILE)
            if let tiny = try BuiltinNames.facts(path, inv) { return tiny }
            return .record(Record(try FactSet.load(path: path)))
        })

    static let probe = Command(
        "probe", [.positional(.MODEL), .keyword(.on, "FACTS")], group: "training",
        brief: "How well a model knows a fact set.",
        summary: """
            Teacher-forced probe scores. For each probe, with t_1…t_n the target tokens: \
            logprob = (1/n) Σ_j log p(t_j | everything before it) and accuracy = the fraction of \
            target tokens that are the argmax. A set's score is the mean over its probes, per \
            kind. Fields: memorization, generalization, composition (null without hard_gen \
            probes), each {logprob, accuracy}.
            """,
        example: "let f = facts \"tiny:known\"\nprobe m on f",
        run: { inv in
            let model = try inv.model(.MODEL)
            let f = try inv.facts(.on)
            return .record(Record(try KECore.probe(model, on: f)))
        })

    static let inject = Command(
        "inject",
        [.positional(.FACTS), .keyword(.into, "MODEL"), .option(.on, "CORPUS"), .option(.once, "FACTS2"),
         .option(.every, "K"), .option(.steps, "N"), .option(.batch, "B"), .option(.seq, "S"), .option(.lr, "X"),
         .option(.warmup, "W"), .option(.final, "F"), .option(.eps, "E"), .option(.wd, "D"), .option(.clip, "C"),
         .option(.tasks, "TASKS"), .option(.protocol, "\"NAME\""),
         .option(.replay, "CORPUS"), .option(.retain, "FACTS2"), .option(.seed, "N")],
        group: "training",
        brief: "Teach new facts; measure what sticks.",
        summary: """
            Two experiments, never mixed. THE PAPER'S PROTOCOL (with `on CORPUS`, Kim et al. 2025 \
            as its code runs it: olmo/train.py insert_data, olmo/optim.py CosWithWarmup, \
            OLMo's AdamW groups, olmo/eval/downstream.py): continual pretraining on the rows of a \
            packed corpus (`corpus "FILE" seq S pack` or a .npy file; seq defaults to its row \
            length, and no other value is allowed), step g = 1…N taking rows (g−1)·B … g·B−1 in \
            order (from row 0 again when the corpus runs out). Event e happens at step e·K: \
            version ((e−1) mod V)+1 of every FACTS item (version 1 = train_context, version v = \
            paraphrases[v−2], V = the set's `versions`), then group e of the `once` items (split \
            into ⌊N/K⌋ groups whose sizes differ by at most one, larger first), each tokenised \
            without special tokens and followed by EOS; the n facts are split the same way into \
            min(B, n) groups and group j is prepended to row j, the row cut back to S tokens \
            (fact_tokens_cut counts what the cut removes). Loss: mean next-token cross-entropy \
            over all B×(S−1) positions. Learning rate at step g: X·(0.1+0.9·g/W) for g < W, then \
            X·F + (X−X·F)·(1+cos(π(g−W)/(N−W)))/2, X·F from g = N. AdamW with a fresh state, \
            β 0.9/0.95, ε E, weight decay D on linear-layer weights only (not embeddings, norms, \
            biases), gradient clipped to norm C. Evaluated at step 0, after every event step and \
            after step N: K = mean over every probe (memorisation, generalisation, composition) of \
            FACTS and once of its mean target log-probability (as `probe`); acquisition \
            A = 1 − K_end/K_0; with `tasks`, P = the `evaluate` mean at step 0 and after step N \
            and forgetting F = 1 − P_end/P_0. Result kind "continual": acquisition, forgetting, \
            k {start, end, paraphrase, once, memorization, generalization, composition: each \
            {start, end}}, p {start, end, tasks: [{name, start, end}]}, curve {step, k, \
            k_paraphrase, k_once, loss, lr}, steps, events, corpus_epochs, fact_tokens_cut, \
            settings, protocol, model. `protocol "kim2025"` sets every 160, steps 1600, batch 128, \
            seq 1024, lr 4e-4, warmup 80, final 0.1, eps 1e-5, wd 0.1, clip 1.0; clauses given \
            explicitly override it. Without it: steps 100, batch 8, lr 3e-4, warmup 0, final 0.1, \
            eps 1e-8, wd 0.1, clip 1.0 (`train`'s), every = steps/10. Nothing is random. Given a \
            list of models (`checkpoints`), it runs once per checkpoint and returns a list of \
            results, each with the checkpoint's `step`. The paper restarts every checkpoint at \
            the peak rate; to separate that from entropy, run a control arm at each \
            checkpoint's own rate (`lr`). \
            KE'S OWN MODE (without `on`, kept for the tutorials): continued training in which \
            the facts' train_contexts are mixed into batches of the \
            replay corpus (half of each batch, cycling through the facts; without a replay \
            corpus every row is a fact), constant learning rate X, AdamW as in `train`. Reports \
            acquisition = mean target-token accuracy over the injected facts' memorisation and \
            generalisation probes AFTER injection (also memorization, generalization and, when \
            the facts have hard_gen probes, composition (else null), each {accuracy, logprob}); \
            gain = logprob after − before (not the headline: a model can \
            start confidently wrong); retention = retain-set accuracy after ÷ before (null when \
            nothing was known before), forgetting = 1 − retention, retain_before, retain_after, \
            and what they rest on: retain_tokens (target tokens of the retain probes), \
            retain_before_correct and retain_after_correct (how many were the argmax); when \
            fewer than 20 were correct before, retention_reliable is false and a warning is \
            printed (true otherwise, null without a retain set); \
            replay perplexity before and after; curve = {step, acquisition, retention, loss} every \
            K steps, where loss is the training loss (mean next-token cross-entropy of that \
            step's batch, null at step 0); and model, the injected model. With `replay`, the \
            replay documents are split once by a fixed seeded shuffle (the same for every run): \
            10 % (at least one) are held out and never trained on, and the replay perplexity is \
            measured on those held-out documents only (at most 256, cut to 128 tokens), so it \
            shows what injection does to text the model did not just see; \
            replay_heldout_fraction, replay_heldout_documents and replay_train_documents give \
            the split. Defaults: steps 100, lr 1e-4, batch 8, every = steps/10.
            """,
        example: """
            let f = facts "tiny:new"
            let known = facts "tiny:known"
            let r = inject f into m steps 40 lr 1e-3 replay c retain known
            r.acquisition
            plot [r.curve.acquisition, r.curve.retention] x r.curve.step labels ["acquisition", "retention"]
            let rows = corpus "Tests/Fixtures/continual/corpus.txt" seq 48 pack
            let p = inject (facts "Tests/Fixtures/continual/facts.json") into (load "Tests/Fixtures/models/olmo") on rows once (facts "Tests/Fixtures/continual/once.json") steps 7 every 2 batch 4 lr 1e-2 warmup 2 eps 1e-5
            p.acquisition
            """,
        run: { inv in
            if inv.has(.on) { return try continualInject(inv) }
            for key: ArgumentKey in [.once, .seq, .warmup, .final, .eps, .wd, .clip, .tasks, .protocol] where inv.has(key) {
                throw inv.error("'inject … \(key)' belongs to the paper's protocol, which trains on a packed corpus: add 'on CORPUS'", at: key)
            }
            let model = try inv.model(.into)
            let f = try inv.facts(.FACTS)
            var o = InjectOptions()
            // Rows are cropped to 128 tokens, or to the model's context when it is shorter.
            o.training.seq = Swift.min(o.training.seq, model.config.maxPositions)
            o.training.steps = try inv.optionalInt(.steps, in: 1...10_000_000) ?? o.training.steps
            o.training.batch = try inv.optionalInt(.batch, in: 1...1_000_000) ?? o.training.batch
            if inv.has(.lr) { o.training.lr = try inv.positive(.lr, allowZero: true) }
            if inv.has(.replay) { o.replay = try inv.corpus(.replay, for: model) }
            if inv.has(.retain) { o.retain = try inv.facts(.retain) }
            o.evalEvery = try inv.optionalInt(.every, in: 1...10_000_000) ?? Swift.max(1, o.training.steps / 10)
            if inv.has(.seed) { o.training.seed = UInt64(try inv.int(.seed, in: 0...Int.max)) }
            let r = try KECore.inject(f, into: model, options: o, progress: inv.progress)
            for w in r.warnings { inv.warn(w) }
            return .record(Record(r))
        })
}

// MARK: Results

extension FactSet: CommandResult {
    var kind: String { "facts" }

    /// `{items, versions, memorization, generalization, composition, source}`: counts of items,
    /// of versions (the smallest over the items) and of probes.
    var fields: [(String, Value)] {
        let mem = items.reduce(0) { $0 + $1.memorization.count }
        let gen = items.reduce(0) { $0 + $1.generalization.count }
        let comp = items.reduce(0) { $0 + ($1.composition?.count ?? 0) }
        return [
            ("items", .number(Double(items.count))),
            ("versions", .number(Double(versions))),
            ("memorization", .number(Double(mem))),
            ("generalization", .number(Double(gen))),
            ("composition", .number(Double(comp))),
            ("source", .string(source)),
        ]
    }
}

/// `{logprob, accuracy}` as a plain (kind-less) record.
func scoreRecord(_ s: ProbeScore) -> Value {
    .record(plainRecord("score", [("logprob", .number(s.logprob)), ("accuracy", .number(s.accuracy))]))
}

extension ProbeResult: CommandResult {
    var kind: String { "probe" }

    /// `{memorization, generalization, composition|null}`.
    var fields: [(String, Value)] {
        [("memorization", scoreRecord(memorization)),
         ("generalization", scoreRecord(generalization)),
         ("composition", composition.map(scoreRecord) ?? .null)]
    }

    /// One row per probe kind: mean log-probability and accuracy of the targets.
    var htmlTable: HTMLTable? {
        let kinds: [(String, ProbeScore?)] = [("memorization", memorization), ("generalization", generalization),
                                              ("composition", composition)]
        return HTMLTable(caption: "probes", header: ["probe", "logprob", "accuracy"],
                         rows: kinds.compactMap { name, s in
                             s.map { [name, Printer.number($0.logprob), Printer.number($0.accuracy)] }
                         })
    }
}

extension InjectReport: CommandResult {
    var kind: String { "injection" }

    /// The injection report: its fields in the order scripts and JSON see them.
    var fields: [(String, Value)] {
        func opt(_ x: Double?) -> Value { x.map { .number($0) } ?? .null }
        let curve = plainRecord("curve", [
            ("step", .list(self.curve.steps.map { .number(Double($0)) })),
            ("acquisition", numberList(self.curve.acquisition)),
            ("retention", .list(self.curve.steps.indices.map { i in
                i < self.curve.retention.count ? opt(self.curve.retention[i]) : .null
            })),
            ("loss", .list(self.curve.steps.indices.map { i in i < self.curve.loss.count ? opt(self.curve.loss[i]) : .null })),
        ])
        return [
            ("acquisition", .number(acquisition)),
            ("memorization", scoreRecord(memorization)),
            ("generalization", scoreRecord(generalization)),
            ("composition", composition.map(scoreRecord) ?? .null),
            ("gain", .number(gain)),
            ("retention", opt(retention)),
            ("forgetting", opt(forgetting)),
            ("retention_reliable", retentionReliable.map { .bool($0) } ?? .null),
            ("retain_before", opt(retainBefore?.pooled.accuracy)),
            ("retain_after", opt(retainAfter?.pooled.accuracy)),
            ("retain_tokens", opt(retainBefore.map { Double($0.pooled.targetTokens) })),
            ("retain_before_correct", opt(retainBefore.map { Double($0.pooled.correctTokens) })),
            ("retain_after_correct", opt(retainAfter.map { Double($0.pooled.correctTokens) })),
            ("replay_perplexity_before", opt(replayPerplexityBefore)),
            ("replay_perplexity_after", opt(replayPerplexityAfter)),
            ("curve", .record(curve)),
            ("model", .model(model)),
            ("replay_heldout_fraction", opt(replaySplit?.fraction)),
            ("replay_heldout_documents", opt(replaySplit.map { Double($0.heldout.count) })),
            ("replay_train_documents", opt(replaySplit.map { Double($0.train.count) })),
        ]
    }
}
