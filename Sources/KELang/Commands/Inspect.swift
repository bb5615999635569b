import Foundation
import KECharts
import KECore

// MARK: Looking inside (issue 6)
//
// coefficients, rank, compare, trace, memory, top, search, scale, ablate, predict, generate,
// checkpoints. The chart commands `hist`, `heatmap` and `plot` and the `entropy` command reach
// the hooks at the end of this file (coefficients results, checkpoint series). Layers and
// memories are numbered from 0, as in Hugging Face.

extension Command {
    // MARK: Distributions

    static let coefficients = Command(
        "coefficients", [.positional("MODEL"), .option("on", "CORPUS")], group: "inspect",
        brief: "Per-layer coefficient distributions.",
        summary: """
            Mean |coefficient| of every memory per layer over all corpus tokens (m_l, as for \
            entropy) and a summary per layer: entropy H_l = −Σ p ln p with p = m_l / Σ m_l; \
            normalized = H_l / ln d_ff; gini = Σ_i Σ_j |m_i − m_j| / (2 d_ff² mean(m)) (0 = all \
            equal, near 1 = one memory holds everything); top1_share = share of Σ m_l held by the \
            top 1 % of memories (at least one); silent = memories with m_i < 1 % of the layer \
            mean. Fields: layers (each: entropy, normalized, gini, top1_share, silent, mean), \
            tokens. View it with hist, rank, heatmap and compare. `coefficients SUMS` computes \
            the same from a sums value (`sums`, `merge`).
            """,
        example: "let k = coefficients m on c\nk.layers[0].gini",
        run: { inv in
            if let s = sumsOf(try inv.value("MODEL")) {
                if inv.has("on") { throw inv.error("'coefficients SUMS' takes no corpus: the sums were measured on one already", at: "on") }
                return .record(coefficientsRecord(CoefficientSummary(stats: try sumsStatistics(s, inv, at: "MODEL"), step: nil)))
            }
            guard inv.has("on") else { throw inv.error("'coefficients' needs 'on CORPUS' — usage: coefficients MODEL on CORPUS, or coefficients SUMS") }
            let model = try inv.model("MODEL")
            let corpus = try inv.corpus("on", for: model)
            let s = try coefficientSummary(of: model, on: corpus, progress: inv.progress)
            return .record(coefficientsRecord(s))
        })

    static let rank = Command(
        "rank", [.positional("C"), .keyword("layer", "L")], group: "inspect",
        brief: "A layer's mean coefficients by rank.",
        summary: """
            The mean |coefficient| of every memory of layer L sorted from most to least active, \
            against rank 1 … d_ff on a log10 y axis: a steep drop means a few memories carry the \
            layer (low entropy). Memories with mean 0 cannot be drawn on the log axis and are \
            left out (noted under the chart). C is a coefficients (or entropy) result.
            """,
        example: "let k = coefficients m on c\nrank k layer 0",
        run: { inv in
            let s = try summaryArgument(inv, "C")
            let l = try layerArgument(inv, "layer", layers: s.layers.count)
            let sorted = s.layers[l].mean.sorted(by: >)
            let x = sorted.indices.map { Double($0 + 1) }
            let title = "layer \(l): mean |coefficient| by rank"
            let chart = Chart.line([sorted], x: x, title: title, xlabel: "rank", ylabel: "mean |coefficient|", logY: true)
            return .chart(inspectChart(chart, [
                ("layer", .int(l)), ("values", jsonNumbers(sorted)), ("title", .string(title)), ("log", .bool(true)),
            ]))
        })

    static let compare = Command(
        "compare", [.positional("A"), .positional("B")], group: "inspect",
        brief: "Per-layer entropy of two results.",
        summary: """
            Compares two coefficients (or entropy) results layer by layer: H_l of A, H_l of B and \
            the difference B − A, with the totals Σ_l H_l, and a chart of both per-layer curves. \
            Fields: layers (each: layer, a, b, difference), total_a, total_b, chart.
            """,
        example: "let k1 = coefficients m on c\nlet k2 = coefficients (rescale m bottom 10% by 2 on c) on c\ncompare k1 k2",
        run: { inv in
            let a = try entropiesArgument(inv, "A")
            let b = try entropiesArgument(inv, "B")
            guard a.count == b.count else {
                throw inv.error("'compare' needs results with the same number of layers (\(a.count) and \(b.count))", at: "B")
            }
            let rows: [Value] = (0..<a.count).map { l in
                .record(plainRecord("layer", [
                    ("layer", .number(Double(l))), ("a", .number(a[l])), ("b", .number(b[l])),
                    ("difference", .number(b[l] - a[l])),
                ]))
            }
            let chart = Chart.line([a, b], x: (0..<a.count).map(Double.init), title: "entropy per layer",
                                   xlabel: "layer", ylabel: "entropy (nats)", labels: ["A", "B"])
            let chartValue = inspectChart(chart, [("series", .array([jsonNumbers(a), jsonNumbers(b)])),
                                                  ("labels", .array([.string("A"), .string("B")]))])
            return .record(Record(kind: "comparison", fields: [
                ("layers", .list(rows)), ("total_a", .number(a.reduce(0, +))), ("total_b", .number(b.reduce(0, +))),
                ("chart", .chart(chartValue)),
            ]))
        })

    static let trace = Command(
        "trace", [.positional("MODEL"), .positional("\"TEXT\""), .keyword("layer", "L"), .option("top", "K")],
        group: "inspect",
        brief: "Each token's strongest memories.",
        summary: """
            Runs the text through the model and, for every token, lists the K memories of layer L \
            (default 5) with the largest |coefficient| at that token, with their signed \
            coefficients (after any intervention). Fields: layer, tokens (each: position, id, \
            token, memories (each: index, coefficient)).
            """,
        example: "trace m \"the birthplace of\" layer 1 top 3",
        run: { inv in
            let model = try inv.model("MODEL")
            let text = try inv.string("TEXT")
            let l = try layerArgument(inv, "layer", layers: model.config.numLayers)
            let k = try inv.optionalInt("top", in: 1...model.config.intermediateSize) ?? Swift.min(5, model.config.intermediateSize)
            let t = try traceMemories(model: model, text: text, layer: l, top: k)
            let tokens: [Value] = t.tokens.map { row in
                .record(plainRecord("token", [
                    ("position", .number(Double(row.position))), ("id", .number(Double(row.id))),
                    ("token", .string(row.token)),
                    ("memories", .list(row.memories.map { m in
                        .record(plainRecord("activation", [
                            ("index", .number(Double(m.index))), ("coefficient", .number(m.coefficient)),
                        ]))
                    })),
                ]))
            }
            return .record(Record(kind: "trace", fields: [("layer", .number(Double(l))), ("tokens", .list(tokens))], native: t))
        })

    // MARK: Memories

    static let memory = Command(
        "memory", [.positional("MODEL"), .keyword("layer", "L"), .keyword("index", "I"), .option("top", "K")],
        group: "inspect",
        brief: "Tokens a memory promotes and suppresses.",
        summary: """
            Projects memory I's value vector onto the vocabulary: scores = W_U · v_I, where W_U \
            is the output embedding (the LM head, or the tied input embedding) and v_I is column \
            I of layer L's down projection, with no final norm (Geva et al. 2022; LM-Debugger). \
            Lists the K (default 10) highest-scoring tokens (promoted) and the K lowest \
            (suppressed). The value vector is the stored one: scale and ablate change how \
            strongly a memory fires, not what it writes. Fields: layer, index, top and bottom \
            (each: id, token, score).
            """,
        example: "memory m layer 0 index 3 top 5",
        run: { inv in
            let model = try inv.model("MODEL")
            let l = try layerArgument(inv, "layer", layers: model.config.numLayers)
            let i = try memoryArgument(inv, "index", model: model)
            let k = try inv.optionalInt("top", in: 1...model.config.vocabSize) ?? Swift.min(10, model.config.vocabSize)
            let r = try memoryTokens(model: model, layer: l, index: i, top: k)
            return .record(Record(kind: "memory", fields: [
                ("layer", .number(Double(l))), ("index", .number(Double(i))),
                ("top", .list(r.top.map(scoredToken))), ("bottom", .list(r.bottom.map(scoredToken))),
            ], native: r))
        })

    static let top = Command(
        "top", [.positional("MODEL"), .keyword("on", "CORPUS"), .keyword("layer", "L"), .option("k", "K")],
        group: "inspect",
        brief: "Most active memories of a layer.",
        summary: """
            The K memories of layer L (default 10) with the largest mean |coefficient| over all \
            corpus tokens, each with its mean and the 5 tokens its value vector promotes most \
            (W_U · v_i, as in memory). Fields: layer, memories (each: index, mean, tokens (each: \
            id, token, score)).
            """,
        example: "top m on c layer 1 k 5",
        run: { inv in
            let model = try inv.model("MODEL")
            let l = try layerArgument(inv, "layer", layers: model.config.numLayers)
            let k = try inv.optionalInt("k", in: 1...model.config.intermediateSize) ?? Swift.min(10, model.config.intermediateSize)
            let corpus = try inv.corpus("on", for: model)
            let found = try topMemories(model: model, corpus: corpus, layer: l, k: k, tokens: 5, progress: inv.progress)
            let rows: [Value] = found.map { m in
                .record(plainRecord("memory", [
                    ("index", .number(Double(m.index))), ("mean", .number(m.mean)),
                    ("tokens", .list(m.tokens.map(scoredToken))),
                ]))
            }
            return .record(Record(kind: "top", fields: [("layer", .number(Double(l))), ("memories", .list(rows))], native: found))
        })

    static let search = Command(
        "search", [.positional("MODEL"), .positional("\"TOKEN\""), .option("top", "K")], group: "inspect",
        brief: "Memories that promote a token most.",
        summary: """
            Scores every memory of every layer by how much its value vector promotes the token: \
            score = W_U[token] · v_i (the token's entry of memory's vocabulary projection), and \
            lists the K best (default 10) across layers. The token is a vocabulary string \
            ("Ġthe") or a text that is exactly one token (" the"). Fields: token, id, memories \
            (each: layer, index, score).
            """,
        example: "search m \"the\" top 5",
        run: { inv in
            let model = try inv.model("MODEL")
            let text = try inv.string("TOKEN")
            let total = model.config.numLayers * model.config.intermediateSize
            let k = try inv.optionalInt("top", in: 1...Swift.max(1, total)) ?? Swift.min(10, total)
            let id: Int
            do { id = try singleTokenID(model.tokenizer, text) } catch let e as CoreError {
                throw inv.error(e.message, at: "TOKEN")
            }
            let found = try searchMemories(model: model, tokenID: id, top: k)
            let rows: [Value] = found.map { m in
                .record(plainRecord("match", [
                    ("layer", .number(Double(m.layer))), ("index", .number(Double(m.index))), ("score", .number(m.score)),
                ]))
            }
            return .record(Record(kind: "search", fields: [
                ("token", .string(model.tokenizer.decode([id]))), ("id", .number(Double(id))), ("memories", .list(rows)),
            ], native: found))
        })

    // MARK: Interventions

    static let scale = Command(
        "scale", [.positional("MODEL"), .keyword("layer", "L"), .keyword("memories", "[i, j, …]"), .keyword("by", "Q")],
        group: "inspect",
        brief: "Multiply some memories' coefficients by Q.",
        summary: """
            Returns a new model in which the coefficient of each listed memory of layer L is \
            multiplied by Q (coefficient_i → Q · coefficient_i at every token). For gated (SwiGLU) \
            MLPs this folds exactly into row i of the up projection; for GELU MLPs it is kept as \
            a per-memory coefficient multiplier, folded into the value vector when saved. \
            Interventions compose and are listed in the model's summary; the original is unchanged.
            """,
        example: "let s = scale m layer 1 memories [5, 9] by 3",
        run: { inv in
            let model = try inv.model("MODEL")
            let l = try layerArgument(inv, "layer", layers: model.config.numLayers)
            let ids = try memoriesArgument(inv, "memories", model: model)
            let q = try inv.finite("by")
            return .model(try model.scaled(layer: l, memories: ids, by: q))
        })

    static let ablate = Command(
        "ablate", [.positional("MODEL"), .keyword("layer", "L"), .keyword("memories", "[i, …]")],
        group: "inspect",
        brief: "Switch memories off (coefficient 0).",
        summary: """
            Returns a new model in which the coefficients of the listed memories of layer L are 0 \
            at every token (LM-Debugger's "off"), i.e. scale … by 0: folded into the up \
            projection for gated MLPs, a coefficient multiplier for GELU MLPs (folded into the \
            value vector on save). The original is unchanged.
            """,
        example: "let a = ablate m layer 1 memories [5]\npredict a \"the birthplace of\"",
        run: { inv in
            let model = try inv.model("MODEL")
            let l = try layerArgument(inv, "layer", layers: model.config.numLayers)
            let ids = try memoriesArgument(inv, "memories", model: model)
            return .model(try model.ablated(layer: l, memories: ids))
        })

    // MARK: What the model says

    static let predict = Command(
        "predict", [.positional("MODEL"), .positional("\"TEXT\""), .option("top", "K")], group: "inspect",
        brief: "Next-token distribution after a text.",
        summary: """
            The probability of each next token after the text: p = softmax(logits) at the last \
            position, p_t = exp(z_t) / Σ_u exp(z_u). Lists the K most probable (default 10). \
            Fields: top (each: id, token, probability).
            """,
        example: "predict m \"the birthplace of\" top 5",
        run: { inv in
            let model = try inv.model("MODEL")
            let text = try inv.string("TEXT")
            let k = try inv.optionalInt("top", in: 1...model.config.vocabSize) ?? Swift.min(10, model.config.vocabSize)
            let p = try predictNext(model: model, text: text, top: k)
            let rows: [Value] = p.top.map { t in
                .record(plainRecord("token", [
                    ("id", .number(Double(t.id))), ("token", .string(t.token)), ("probability", .number(t.probability)),
                ]))
            }
            return .record(Record(kind: "prediction", fields: [("top", .list(rows))], native: p))
        })

    static let generate = Command(
        "generate", [.positional("MODEL"), .positional("\"TEXT\""), .option("tokens", "N"), .flag("ignore_eos")],
        group: "inspect",
        brief: "Greedy continuation of a text.",
        summary: """
            Continues the text greedily: up to N times (default 20) appends the most probable \
            next token (argmax of the logits), as transformers' generate(do_sample=False) does. \
            It stops after an end-of-sequence token (kept as the last token), whose ids come \
            from the model directory's generation_config.json (`eos_token_id`, an id or a list), \
            else tokenizer_config.json's `eos_token`, else config.json's `eos_token_id`; \
            `ignore_eos` generates all N tokens. It also stops at the model's maximum positions. \
            Earlier positions' keys and values are cached, so each new token costs one row. \
            Fields: prompt, text (the continuation), ids (its token ids), stop ("eos", "tokens" \
            or "positions").
            """,
        example: "generate m \"the birthplace of\" tokens 10\ngenerate m \"the birthplace of\" tokens 10 ignore_eos",
        run: { inv in
            let model = try inv.model("MODEL")
            let text = try inv.string("TEXT")
            let n = try inv.optionalInt("tokens", in: 0...100_000) ?? 20
            let g = try generateGreedy(model: model, text: text, tokens: n, stopIDs: inv.flag("ignore_eos") ? [] : nil)
            return .record(Record(kind: "generation", fields: [
                ("prompt", .string(g.prompt)), ("text", .string(g.text)),
                ("ids", .list(g.generated.map { .number(Double($0)) })), ("stop", .string(g.stop)),
            ], native: g))
        })

    // MARK: Checkpoint series

    static let checkpoints = Command(
        "checkpoints", [.positional("\"DIR\"")], group: "inspect",
        brief: "Checkpoints of a directory, by step.",
        summary: """
            Lists the checkpoint folders of a directory (each a Hugging Face model directory) in \
            training-step order, with the step parsed from the folder name (step1000, step-1000, \
            checkpoint-1000, step1000-tokens4B, stage1-step1500-tokens3B, Pythia and OLMo \
            revision names); folders without a step come last. Only config.json is read: each \
            checkpoint is loaded when a command uses it as a model and is not kept, so a list of \
            20 costs nothing until used. `entropy SERIES on CORPUS` gives one entropy result per \
            checkpoint and `plot` of those draws entropy against step. Fields of each: name, \
            step, path. Built in: "tiny", the checkpoints of the built-in tiny run (pretrained \
            on first use, cached under $XDG_CACHE_HOME/ke).
            """,
        example: "let s = checkpoints \"tiny\"\nlet es = entropy s on c\nplot es",
        run: { inv in
            let dir = try inv.string("DIR")
            if let tiny = try BuiltinNames.checkpoints(dir, inv) { return tiny }
            let series: CheckpointSeries
            do { series = try CheckpointSeries(directory: dir) } catch let e as CoreError {
                throw inv.error(e.description, at: "DIR")
            }
            return .list(series.checkpoints.indices.map { .record(checkpointRecord(series, $0)) })
        })
}

// MARK: Records

/// A record printed in JSON without a "kind" (rows inside results).
private func plainRecord(_ kind: String, _ fields: [(String, Value)]) -> Record {
    var r = Record(kind: kind, fields: fields)
    r.plain = true
    return r
}

/// `{id, token, score}`.
private func scoredToken(_ t: TokenScore) -> Value {
    .record(plainRecord("token", [("id", .number(Double(t.id))), ("token", .string(t.token)), ("score", .number(t.score))]))
}

/// The record of a coefficients result.
func coefficientsRecord(_ s: CoefficientSummary) -> Record {
    let layers: [Value] = s.layers.map { l in
        .record(plainRecord("layer", [
            ("entropy", .number(l.entropy)), ("normalized", .number(l.normalizedEntropy)),
            ("gini", .number(l.gini)), ("top1_share", .number(l.top1Share)),
            ("silent", .number(Double(l.silent))), ("mean", .list(l.mean.map { .number($0) })),
        ]))
    }
    var fields: [(String, Value)] = [("layers", .list(layers)), ("tokens", .number(Double(s.tokens)))]
    if let step = s.step { fields.append(("step", .number(Double(step)))) }
    return Record(kind: "coefficients", fields: fields, native: s)
}

/// A checkpoint of a series: usable wherever a model is expected, loaded when used.
final class CheckpointReference: Sendable {
    let series: CheckpointSeries
    let index: Int
    init(series: CheckpointSeries, index: Int) { self.series = series; self.index = index }
    /// Loads the checkpoint (not kept).
    func load() throws -> Model { try series.model(at: index) }
}

func checkpointRecord(_ series: CheckpointSeries, _ i: Int) -> Record {
    let cp = series.checkpoints[i]
    var fields: [(String, Value)] = [("name", .string(cp.name))]
    if let s = cp.step { fields.append(("step", .number(Double(s)))) }
    fields.append(("path", .string(cp.path)))
    return Record(kind: "checkpoint", fields: fields, native: CheckpointReference(series: series, index: i))
}

// MARK: Arguments

/// A layer number checked against `layers`.
private func layerArgument(_ inv: Invocation, _ key: String, layers: Int) throws -> Int {
    guard layers > 0 else { throw inv.error("the model has no layers", at: key) }
    return try inv.int(key, in: 0...(layers - 1))
}

/// A memory number checked against the model's d_ff.
private func memoryArgument(_ inv: Invocation, _ key: String, model: Model) throws -> Int {
    try inv.int(key, in: 0...max(0, model.config.intermediateSize - 1))
}

/// A non-empty list of memory numbers of the model.
private func memoriesArgument(_ inv: Invocation, _ key: String, model: Model) throws -> [Int] {
    let F = model.config.intermediateSize
    let xs = try inv.numbers(key)
    guard !xs.isEmpty else { throw inv.error("'\(inv.command.name) … \(key)' needs at least one memory", at: key) }
    return try xs.map { x in
        guard let i = Interpreter.wholeNumber(x) else {
            throw inv.error("memory numbers must be whole numbers, found \(Printer.number(x))", at: key)
        }
        guard i >= 0, i < F else {
            throw inv.error("memory \(i) does not exist: each layer has memories 0…\(F - 1)", at: key)
        }
        return i
    }
}

/// The coefficient summary behind a coefficients or entropy result.
private func summaryOf(_ v: Value) -> CoefficientSummary? {
    guard case .record(let r) = v else { return nil }
    if let s = r.native as? CoefficientSummary { return s }
    if let e = r.native as? EntropyResult { return CoefficientSummary(stats: e.stats, step: e.step) }
    return nil
}

private func summaryArgument(_ inv: Invocation, _ key: String) throws -> CoefficientSummary {
    let v = try inv.value(key)
    guard let s = summaryOf(v) else {
        throw inv.typeError(key, expected: "a coefficients result", found: v)
    }
    return s
}

/// Per-layer entropies of a coefficients or entropy result.
private func entropiesArgument(_ inv: Invocation, _ key: String) throws -> [Double] {
    let v = try inv.value(key)
    if case .record(let r) = v, let e = r.native as? EntropyResult { return e.layers }
    guard let s = summaryOf(v) else {
        throw inv.typeError(key, expected: "a coefficients or entropy result", found: v)
    }
    return s.layers.map(\.entropy)
}

// MARK: Hooks used by existing commands

/// The model behind a checkpoint record (loaded now), or nil for other values.
func checkpointModel(_ v: Value) throws -> Model? {
    guard case .record(let r) = v, let ref = r.native as? CheckpointReference else { return nil }
    return try ref.load()
}

/// `hist C layer L …` for a coefficients (or entropy) result; nil for a list (the plain form).
func coefficientsHistogram(_ inv: Invocation) throws -> Value? {
    let v = try inv.value("VALUES")
    guard let s = summaryOf(v) else {
        if inv.has("layer") {
            throw inv.error("'hist … layer' applies to a coefficients result, not to \(v.typeName)", at: "layer")
        }
        return nil
    }
    guard inv.has("layer") else {
        throw inv.error("'hist' of a coefficients result needs 'layer L' — usage: hist C layer L [bins N] [log]")
    }
    let l = try layerArgument(inv, "layer", layers: s.layers.count)
    let values = s.layers[l].mean
    let bins = try inv.optionalInt("bins", in: 1...1000) ?? 20
    let log = inv.flag("log")
    let title = try inv.has("title") ? inv.string("title") : "layer \(l): mean |coefficient| of \(values.count) memories"
    let xlabel = try inv.has("xlabel") ? inv.string("xlabel") : "mean |coefficient|"
    let chart = Chart.histogram(values, bins: bins, logCounts: log, title: title, xlabel: xlabel)
    var fields: [(String, JSONValue)] = [("layer", .int(l)), ("values", jsonNumbers(values)), ("bins", .int(bins))]
    if log { fields.append(("log", .bool(true))) }
    fields += [("title", .string(title)), ("xlabel", .string(xlabel))]
    return .chart(inspectChart(chart, fields))
}

/// `heatmap C`: layers × memory percentile for a coefficients (or entropy) result; nil for a
/// matrix. Cell (l, b) = mean of the sorted m_l in percentile band b ÷ mean(m_l), so 1 is the
/// layer average and rows are comparable.
func coefficientsHeatmap(_ inv: Invocation) throws -> Value? {
    guard let s = summaryOf(try inv.value("MATRIX")) else { return nil }
    let F = s.layers.first?.mean.count ?? 0
    let profile = s.percentileProfile(bins: min(100, max(1, F)))
    let matrix: [[Double]] = zip(profile, s.layers).map { row, layer in
        let mean = layer.mean.reduce(0, +) / Double(max(1, layer.mean.count))
        return row.map { mean > 0 ? $0 / mean : 0 }
    }
    let labels = inv.has("labels") ? try inv.strings("labels") : (0..<matrix.count).map { "L\($0)" }
    guard labels.count == matrix.count else {
        throw inv.error("'heatmap … labels' has \(labels.count) labels for \(matrix.count) layers", at: "labels")
    }
    let title = try inv.has("title") ? inv.string("title") : "mean |coefficient| ÷ layer mean, by memory percentile"
    let xlabel = try inv.has("xlabel") ? inv.string("xlabel") : "memory percentile (most active first)"
    let ylabel = try inv.has("ylabel") ? inv.string("ylabel") : "layer"
    let chart = Chart.heatmap(matrix, title: title, xlabel: xlabel, ylabel: ylabel, rowLabels: labels)
    return .chart(inspectChart(chart, [
        ("matrix", .array(matrix.map(jsonNumbers))), ("labels", .array(labels.map { .string($0) })),
        ("title", .string(title)), ("xlabel", .string(xlabel)), ("ylabel", .string(ylabel)),
    ]))
}

/// `entropy SERIES on CORPUS`: a list of models or checkpoints gives one entropy result per
/// element (each checkpoint loaded in turn and released); nil for a single model.
func seriesEntropy(_ inv: Invocation) throws -> Value? {
    guard case .list(let items) = try inv.value("MODEL") else { return nil }
    var out: [Value] = []
    for (i, item) in items.enumerated() {
        if let s = sumsOf(item) {
            var rec = entropyRecord(try knowledgeEntropy(from: try sumsStatistics(s, inv, at: "MODEL"), step: s.step))
            if let st = s.step { rec.fields.append(("step", .number(Double(st)))) }
            out.append(.record(rec))
            continue
        }
        let model: Model
        if case .model(let m) = item {
            model = m
        } else if let m = try loadingCheckpoint(item, inv) {
            model = m
        } else {
            throw inv.error("'entropy' of a list needs models or checkpoints, but element \(i) is \(item.typeName)", at: "MODEL")
        }
        guard inv.has("on") else { throw inv.error("'entropy' of models needs 'on CORPUS'") }
        let corpus = try inv.corpus("on", for: model)
        let r = try knowledgeEntropy(of: model, on: corpus)
        var rec = entropyRecord(r)
        if let s = r.step { rec.fields.append(("step", .number(Double(s)))) }
        out.append(.record(rec))
        inv.progress?(i + 1, items.count, "")
    }
    return .list(out)
}

/// A checkpoint's model, with load errors reported at the MODEL argument.
private func loadingCheckpoint(_ v: Value, _ inv: Invocation) throws -> Model? {
    do { return try checkpointModel(v) } catch let e as CoreError { throw inv.error(e.description, at: "MODEL") }
}

/// `plot ES [layers]` for a list of entropy results: total (or per-layer) entropy against
/// step (against position when a step is unknown). Nil for other series.
func entropySeriesPlot(_ inv: Invocation) throws -> Value? {
    let v = try inv.value("SERIES")
    var results: [EntropyResult] = []
    if case .list(let items) = v, !items.isEmpty {
        for item in items {
            guard case .record(let r) = item, let e = r.native as? EntropyResult else { results = []; break }
            results.append(e)
        }
    }
    guard !results.isEmpty else {
        if inv.flag("layers") {
            throw inv.error("'plot … layers' applies to a list of entropy results, not to \(v.typeName)", at: "layers")
        }
        return nil
    }
    let steps = results.compactMap(\.step)
    let byStep = steps.count == results.count
    let x = byStep ? steps.map(Double.init) : (0..<results.count).map(Double.init)
    let perLayer = inv.flag("layers")
    let series: [[Double]]
    var labels: [String]? = nil
    if perLayer {
        let L = results.map(\.layers.count).max() ?? 0
        series = (0..<L).map { l in results.map { l < $0.layers.count ? $0.layers[l] : .nan } }
        labels = (0..<L).map { "layer \($0)" }
    } else {
        series = [results.map(\.total)]
    }
    if inv.has("labels") { labels = try inv.strings("labels") }
    if let labels, labels.count != series.count {
        throw inv.error("'plot … labels' has \(labels.count) labels for \(series.count) series", at: "labels")
    }
    let title = try inv.has("title") ? inv.string("title") : (perLayer ? "entropy per layer vs step" : "knowledge entropy vs step")
    let xlabel = try inv.has("xlabel") ? inv.string("xlabel") : (byStep ? "step" : "checkpoint")
    let ylabel = try inv.has("ylabel") ? inv.string("ylabel") : "entropy (nats)"
    let logY = inv.flag("log")
    let chart = Chart.line(series, x: x, title: title, xlabel: xlabel, ylabel: ylabel, labels: labels, logY: logY)
    var fields: [(String, JSONValue)] = [("series", .array(series.map(jsonNumbers))), ("x", jsonNumbers(x))]
    if let labels { fields.append(("labels", .array(labels.map { .string($0) }))) }
    fields += [("title", .string(title)), ("xlabel", .string(xlabel)), ("ylabel", .string(ylabel))]
    if logY { fields.append(("log", .bool(true))) }
    return .chart(inspectChart(chart, fields))
}

// MARK: Charts

private func jsonNumbers(_ xs: [Double]) -> JSONValue { .array(xs.map(Printer.jsonNumber)) }

private func inspectChart(_ chart: Chart, _ fields: [(String, JSONValue)]) -> ChartValue {
    ChartValue(type: chart.kind, fields: fields) { width, ascii, color in
        chart.render(RenderOptions(width: width, canvas: ascii ? .ascii : .braille, color: color))
    }
}

// MARK: Human printing

extension Printer {
    /// Human renderings of the issue-6 results; nil for other kinds.
    static func inspectHuman(_ r: Record, options: SessionOptions) -> String? {
        switch r.kind {
        case "coefficients":
            guard let s = r.native as? CoefficientSummary else { return nil }
            return coefficientsText(s, options: options)
        case "memory":
            guard let m = r.native as? MemoryTokens else { return nil }
            return memoryText(m)
        case "trace":
            guard let t = r.native as? TraceResult else { return nil }
            return traceText(t)
        case "top":
            guard let found = r.native as? [ActiveMemory], case .number(let l)? = r["layer"] else { return nil }
            var lines = ["most active memories of layer \(number(l)) (mean |coefficient|)", "  memory  mean        promotes"]
            for m in found {
                lines.append("  " + pad(String(m.index), 6) + "  " + padRight(number(m.mean), 10) + "  "
                             + m.tokens.map { quoted($0.token) }.joined(separator: " "))
            }
            return lines.joined(separator: "\n")
        case "search":
            guard let found = r.native as? [MemoryMatch], case .string(let tok)? = r["token"],
                  case .number(let id)? = r["id"] else { return nil }
            var lines = ["memories promoting \(quoted(tok)) (id \(number(id))), score = W_U[token] · v_i",
                         "  layer  memory  score"]
            for m in found {
                lines.append("  " + pad(String(m.layer), 5) + "  " + pad(String(m.index), 6) + "  " + number(m.score))
            }
            return lines.joined(separator: "\n")
        case "prediction":
            guard let p = r.native as? Prediction else { return nil }
            var lines = ["next token after \(p.input.count) token\(p.input.count == 1 ? "" : "s")"]
            let barWidth = max(10, min(30, options.width - 40))
            for t in p.top {
                let n = Int((t.probability * Double(barWidth)).rounded())
                let bar = String(repeating: options.ascii ? "#" : "█", count: max(0, min(barWidth, n)))
                lines.append("  " + pad(String(format: "%.2f%%", t.probability * 100), 7) + "  "
                             + padRight(quoted(t.token), 14) + " " + bar)
            }
            return lines.joined(separator: "\n")
        case "generation":
            guard let g = r.native as? Generation else { return nil }
            let count = "\(g.generated.count) token\(g.generated.count == 1 ? "" : "s")"
            let why: String
            switch g.stop {
            case "positions": why = "stopped at the model's maximum positions"
            case "eos": why = "\(count), stopped at the end-of-sequence id \(g.generated.last.map(String.init) ?? "")"
            default: why = count
            }
            return g.prompt + (options.color ? "\u{1B}[1m" + g.text + "\u{1B}[0m" : "[" + g.text + "]") + "\n  (\(why))"
        case "checkpoint":
            return inspectInline(r)
        case "comparison":
            guard case .list(let rows)? = r["layers"], case .number(let ta)? = r["total_a"],
                  case .number(let tb)? = r["total_b"] else { return nil }
            var lines = ["entropy per layer", "  layer  A          B          B − A"]
            for row in rows {
                guard case .record(let x) = row, case .number(let l)? = x["layer"], case .number(let a)? = x["a"],
                      case .number(let b)? = x["b"] else { continue }
                lines.append("  " + pad(number(l), 5) + "  " + padRight(number(a), 9) + "  " + padRight(number(b), 9)
                             + "  " + signed(b - a))
            }
            lines.append("  total  " + padRight(number(ta), 9) + "  " + padRight(number(tb), 9) + "  " + signed(tb - ta))
            if case .chart(let c)? = r["chart"] {
                lines.append("")
                lines.append(c.render(options.width, options.ascii, options.color))
            }
            return lines.joined(separator: "\n")
        default:
            return nil
        }
    }

    /// One-line renderings (inside lists) of the issue-6 results that have one.
    static func inspectInline(_ r: Record) -> String? {
        guard r.kind == "checkpoint", let ref = r.native as? CheckpointReference else { return nil }
        let cp = ref.series.checkpoints[ref.index]
        return "checkpoint \(cp.name): step \(cp.step.map(String.init) ?? "unknown"), "
            + "\(cp.config.architecture.rawValue), \(cp.config.numLayers) layers × \(grouped(cp.config.intermediateSize)) memories "
            + "(loaded when used)"
    }

    private static func coefficientsText(_ s: CoefficientSummary, options: SessionOptions) -> String {
        var lines = ["coefficients over \(grouped(s.tokens)) tokens" + (s.step.map { " (step \($0))" } ?? "")]
        lines.append("  layer  entropy    normalized  gini       top 1%     silent")
        for (i, l) in s.layers.enumerated() {
            lines.append("  " + pad(String(i), 5) + "  " + padRight(number(l.entropy), 9) + "  "
                         + padRight(number(l.normalizedEntropy), 10) + "  " + padRight(number(l.gini), 9) + "  "
                         + padRight(String(format: "%.3g%%", l.top1Share * 100), 9) + "  \(l.silent)/\(l.mean.count)")
        }
        lines.append("  entropy per layer " + sparkline(s.layers.map(\.entropy), ascii: options.ascii))
        return lines.joined(separator: "\n")
    }

    private static func memoryText(_ m: MemoryTokens) -> String {
        var lines = ["memory \(m.index) of layer \(m.layer): W_U · v_i", "  promotes                      suppresses"]
        for i in 0..<max(m.top.count, m.bottom.count) {
            let left = i < m.top.count ? padRight(quoted(m.top[i].token), 14) + " " + padRight(number(m.top[i].score), 12) : String(repeating: " ", count: 27)
            let right = i < m.bottom.count ? padRight(quoted(m.bottom[i].token), 14) + " " + number(m.bottom[i].score) : ""
            lines.append("  " + left + "  " + right)
        }
        return lines.joined(separator: "\n")
    }

    private static func traceText(_ t: TraceResult) -> String {
        var lines = ["layer \(t.layer): strongest memories at each token (memory: coefficient)"]
        let width = min(16, t.tokens.map { quoted($0.token).count }.max() ?? 0)
        for row in t.tokens {
            let mems = row.memories.map { "\($0.index): \(signed($0.coefficient))" }.joined(separator: "  ")
            lines.append("  " + pad(String(row.position), 4) + "  " + padRight(quoted(row.token), width) + "  " + mems)
        }
        return lines.joined(separator: "\n")
    }

    private static func quoted(_ s: String) -> String {
        var out = ""
        JSONValue.quote(s, into: &out)
        return out
    }

    private static func signed(_ x: Double) -> String { (x >= 0 ? "+" : "") + number(x) }
    private static func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
    private static func padRight(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
}
