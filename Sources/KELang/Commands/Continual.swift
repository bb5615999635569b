import KECore

// MARK: The paper's protocol: `inject FACTS into MODEL on CORPUS …`
//
// The numeric work is KECore's `continualPretraining` (Training/Continual.swift); this file
// reads the clauses (a protocol's settings first, explicit clauses over them), runs one model or
// a series, and renders the "continual" result.

/// `inject … on CORPUS`: the paper's continual-pretraining protocol on a model or a series.
func continualInject(_ inv: Invocation) throws -> Value {
    for key: ArgumentKey in [.replay, .retain, .seed] where inv.has(key) {
        throw inv.error("'inject … \(key)' belongs to ke's own injection mode; the paper's protocol ('on CORPUS') takes its rows in order, with no replay, retain set or seed", at: key)
    }
    let facts = try inv.facts(.FACTS)
    var o = ContinualOptions()
    if inv.has(.protocol) {
        switch try inv.string(.protocol) {
        case "kim2025": o = .kim2025
        case let other: throw inv.error("unknown protocol \"\(other)\": the one defined is \"kim2025\" (Kim et al. 2025)", at: .protocol)
        }
    }
    o.steps = try inv.optionalInt(.steps, in: 1...10_000_000) ?? o.steps
    o.batch = try inv.optionalInt(.batch, in: 1...1_000_000) ?? o.batch
    if inv.has(.seq) { o.seq = try inv.int(.seq, in: 2...1_000_000) }
    if inv.has(.every) { o.every = try inv.int(.every, in: 1...10_000_000) }
    if inv.has(.lr) { o.lr = try inv.positive(.lr, allowZero: true) }
    o.warmup = try inv.optionalInt(.warmup, in: 0...10_000_000) ?? o.warmup
    if inv.has(.final) {
        o.finalLRFraction = try inv.positive(.final, allowZero: true)
        guard o.finalLRFraction <= 1 else { throw inv.error("'inject … final' must be between 0 and 1", at: .final) }
    }
    if inv.has(.eps) { o.eps = try inv.positive(.eps) }
    if inv.has(.wd) { o.weightDecay = try inv.positive(.wd, allowZero: true) }
    if inv.has(.clip) {
        let c = try inv.positive(.clip, allowZero: true)
        o.clip = c == 0 ? nil : c
    }
    if inv.has(.once) { o.once = try inv.facts(.once) }
    if inv.has(.tasks) { o.tasks = try inv.tasks(.tasks) }
    if o.eventInterval > o.steps {
        throw inv.error("'inject … every \(o.eventInterval)' is more than steps \(o.steps): no injection event would happen",
                        at: inv.has(.every) ? .every : .steps)
    }

    func run(_ model: Model) throws -> ContinualReport {
        let corpus = try inv.corpus(.on, for: model)
        guard let rowLength = corpus.rowLength else {
            throw inv.error("the paper's protocol trains on the rows of a packed corpus: write corpus \"FILE\" seq N pack (or use a .npy token file)", at: .on)
        }
        if let s = o.seq, s != rowLength {
            throw inv.error("'seq \(s)' differs from the corpus's rows of \(rowLength) tokens: pack the corpus with seq \(s), or leave seq out", at: inv.has(.seq) ? .seq : .protocol)
        }
        do {
            return try continualPretraining(facts, into: model, on: corpus, options: o, progress: inv.progress)
        } catch let e as CoreError {
            throw inv.error(e.description)
        }
    }

    if case .list(let items) = try inv.value(.into) {
        var out: [Value] = []
        for (i, item) in items.enumerated() {
            guard let model = try inv.modelOrCheckpoint(item, at: .into) else {
                throw inv.error("'inject … into' a list needs models or checkpoints, but element \(i) is \(item.typeName)", at: .into)
            }
            var rec = Record(try run(model))
            rec.fields.append(("step", model.step.map { .number(Double($0)) } ?? .null))
            out.append(.record(rec))
        }
        return .list(out)
    }
    return .record(Record(try run(try inv.model(.into))))
}

// MARK: Result

extension ContinualReport: CommandResult {
    var kind: String { "continual" }

    var fields: [(String, Value)] {
        func opt(_ x: Double?) -> Value { x.map { .number($0) } ?? .null }
        func se(_ x: StartEnd?) -> Value {
            guard let x else { return .null }
            return .record(plainRecord("start_end", [("start", .number(x.start)), ("end", .number(x.end))]))
        }
        let k = plainRecord("k", [
            ("start", .number(self.k.start)), ("end", .number(self.k.end)),
            ("paraphrase", se(self.k(\.paraphrase))), ("once", se(self.k(\.once))),
            ("memorization", se(self.k(\.memorization))), ("generalization", se(self.k(\.generalization))),
            ("composition", se(self.k(\.composition))),
        ])
        let p: Value = self.p.map { p in
            .record(plainRecord("p", [
                ("start", .number(p.start)), ("end", .number(p.end)),
                ("tasks", .list(taskChanges.map { t in
                    .record(plainRecord("task", [("name", .string(t.name)), ("start", .number(t.start)), ("end", .number(t.end))]))
                })),
            ]))
        } ?? .null
        let c = curve
        let curve = plainRecord("curve", [
            ("step", .list(c.steps.map { .number(Double($0)) })),
            ("k", numberList(c.k.map(\.all))),
            ("k_paraphrase", numberList(c.k.map(\.paraphrase))),
            ("k_once", .list(c.k.map { opt($0.once) })),
            ("loss", .list(c.loss.map(opt))),
            ("lr", .list(c.lr.map(opt))),
        ])
        let s = options
        let settings = plainRecord("settings", [
            ("steps", .number(Double(s.steps))), ("every", .number(Double(s.eventInterval))),
            ("batch", .number(Double(s.batch))), ("seq", opt(s.seq.map(Double.init))),
            ("lr", .number(s.lr)), ("warmup", .number(Double(s.warmup))), ("final", .number(s.finalLRFraction)),
            ("eps", .number(s.eps)), ("wd", .number(s.weightDecay)), ("clip", opt(s.clip)),
            ("beta1", .number(s.beta1)), ("beta2", .number(s.beta2)),
        ])
        return [
            ("acquisition", .number(acquisition)),
            ("forgetting", opt(forgetting)),
            ("k", .record(k)),
            ("p", p),
            ("curve", .record(curve)),
            ("steps", .number(Double(s.steps))),
            ("events", .number(Double(eventSteps.count))),
            ("corpus_epochs", .number(Double(corpusEpochs))),
            ("corpus_rows", .number(Double(corpusRows))),
            ("fact_tokens_cut", .number(Double(factTokensCut))),
            ("facts_injected", .number(Double(factsInjected))),
            ("settings", .record(settings)),
            ("protocol", s.protocolName.map { .string($0) } ?? .null),
            ("model", .model(model)),
        ]
    }

    func human(options opts: SessionOptions) -> String? {
        let n = Printer.number
        let s = options
        var lines = ["continual pretraining: \(s.steps) steps × \(s.batch) rows of \(s.seq ?? 0) tokens, "
                     + "\(eventSteps.count) events (every \(s.eventInterval) steps)"
                     + (s.protocolName.map { ", protocol \($0)" } ?? "")]
        lines.append("  lr \(n(s.lr)) peak, warmup \(s.warmup), cosine to \(n(s.finalLRFraction)) × peak; "
                     + "corpus \(corpusRows) rows, \(corpusEpochs) epoch\(corpusEpochs == 1 ? "" : "s")"
                     + (factTokensCut > 0 ? "; \(factTokensCut) fact tokens cut by seq" : ""))
        lines.append("  acquisition A = 1 − K_end/K_0 = \(n(acquisition))   (K \(n(k.start)) → \(n(k.end)))")
        if let p {
            lines.append("  forgetting  F = 1 − P_end/P_0 = \(forgetting.map(n) ?? "null")   (P \(n(p.start)) → \(n(p.end)))")
        } else {
            lines.append("  forgetting  null (no tasks)")
        }
        lines.append("   step  K         K para    K once    loss      lr")
        for i in curve.steps.indices {
            func cell(_ x: Double?) -> String { (x.map(n) ?? "—").padding(toLength: 9, withPad: " ", startingAt: 0) }
            let k = curve.k[i]
            lines.append("  " + String(curve.steps[i]).leftPadded(5) + "  " + cell(k.all) + " " + cell(k.paraphrase) + " "
                         + cell(k.once) + " " + cell(curve.loss[i]) + " " + (curve.lr[i].map(n) ?? "—"))
        }
        return lines.joined(separator: "\n")
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
