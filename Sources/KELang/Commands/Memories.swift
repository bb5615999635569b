import KECore

// MARK: Memories: which FFN units fire, and what they write
//
// trace, memory, top, search, and their results. A memory is unit i of a layer's MLP: its
// coefficient is the hidden activation, its value vector column i of the down projection.

extension Command {
    static let trace = Command(
        "trace", [.positional(.MODEL), .positional(.TEXT, quoted: true), .keyword(.layer, "L"), .option(.top, "K")],
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
            let model = try inv.model(.MODEL)
            let text = try inv.string(.TEXT)
            let l = try inv.layer(.layer, of: model.config.numLayers)
            let k = try inv.optionalInt(.top, in: 1...model.config.intermediateSize) ?? Swift.min(5, model.config.intermediateSize)
            let t = try traceMemories(model: model, text: text, layer: l, top: k)
            return .record(Record(t))
        })

    static let memory = Command(
        "memory", [.positional(.MODEL), .keyword(.layer, "L"), .keyword(.index, "I"), .option(.top, "K")],
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
            let model = try inv.model(.MODEL)
            let l = try inv.layer(.layer, of: model.config.numLayers)
            let i = try inv.memory(.index, of: model)
            let k = try inv.optionalInt(.top, in: 1...model.config.vocabSize) ?? Swift.min(10, model.config.vocabSize)
            let r = try memoryTokens(model: model, layer: l, index: i, top: k)
            return .record(Record(r))
        })

    static let top = Command(
        "top", [.positional(.MODEL), .option(.on, "CORPUS"), .option(.using, "SUMS"), .keyword(.layer, "L"), .option(.k, "K")],
        group: "inspect",
        brief: "Most active memories of a layer.",
        summary: """
            The K memories of layer L (default 10) with the largest mean |coefficient| over all \
            corpus tokens, each with its mean and the 5 tokens its value vector promotes most \
            (W_U · v_i, as in memory). With `using SUMS` instead of `on CORPUS` the means come \
            from a sums value (`sums`, `merge`) measured on this model (same fingerprint). \
            Fields: layer, memories (each: index, mean, tokens (each: id, token, score)). \
            \(cacheNote)
            """,
        example: "top m on c layer 1 k 5\nlet s = sums m on c\ntop m using s layer 1 k 5",
        run: { inv in
            let model = try inv.model(.MODEL)
            let l = try inv.layer(.layer, of: model.config.numLayers)
            let k = try inv.optionalInt(.k, in: 1...model.config.intermediateSize) ?? Swift.min(10, model.config.intermediateSize)
            let stats: CoefficientStats
            if inv.has(.using) {
                if inv.has(.on) { throw inv.error("'top' takes either 'on CORPUS' or 'using SUMS', not both", at: .using) }
                stats = try inv.sumsStatistics(.using, for: model)
            } else {
                guard inv.has(.on) else {
                    throw inv.error("'top' needs 'on CORPUS' or 'using SUMS' — usage: top MODEL on CORPUS layer L [k K]")
                }
                stats = try inv.statistics(of: model, on: try inv.corpus(.on, for: model))
            }
            let found = try topMemories(model: model, stats: stats, layer: l, k: k, tokens: 5)
            return .record(Record(TopMemories(layer: l, memories: found)))
        })

    static let search = Command(
        "search", [.positional(.MODEL), .positional(.TOKEN, quoted: true), .option(.top, "K")], group: "inspect",
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
            let model = try inv.model(.MODEL)
            let text = try inv.string(.TOKEN)
            let total = model.config.numLayers * model.config.intermediateSize
            let k = try inv.optionalInt(.top, in: 1...Swift.max(1, total)) ?? Swift.min(10, total)
            let id: Int
            do { id = try singleTokenID(model.tokenizer, text) } catch let e as CoreError {
                throw inv.error(e.message, at: .TOKEN)
            }
            let found = try searchMemories(model: model, tokenID: id, top: k)
            return .record(Record(MemorySearch(token: model.tokenizer.decode([id]), id: id, memories: found)))
        })
}

// MARK: Results

extension TraceResult: CommandResult {
    var kind: String { "trace" }

    var fields: [(String, Value)] {
        let rows: [Value] = tokens.map { row in
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
        return [("layer", .number(Double(layer))), ("tokens", .list(rows))]
    }

    func human(options: SessionOptions) -> String? {
        var lines = ["layer \(layer): strongest memories at each token (memory: coefficient)"]
        let width = min(16, tokens.map { Printer.quoted($0.token).count }.max() ?? 0)
        for row in tokens {
            let mems = row.memories.map { "\($0.index): \(Printer.signed($0.coefficient))" }.joined(separator: "  ")
            lines.append("  " + Printer.pad(String(row.position), 4) + "  " + Printer.padRight(Printer.quoted(row.token), width) + "  " + mems)
        }
        return lines.joined(separator: "\n")
    }
}

extension MemoryTokens: CommandResult {
    var kind: String { "memory" }

    var fields: [(String, Value)] {
        [("layer", .number(Double(layer))), ("index", .number(Double(index))),
         ("top", .list(top.map(scoredToken))), ("bottom", .list(bottom.map(scoredToken)))]
    }

    func human(options: SessionOptions) -> String? {
        var lines = ["memory \(index) of layer \(layer): W_U · v_i", "  promotes                      suppresses"]
        for i in 0..<max(top.count, bottom.count) {
            let left = i < top.count
                ? Printer.padRight(Printer.quoted(top[i].token), 14) + " " + Printer.padRight(Printer.number(top[i].score), 12)
                : String(repeating: " ", count: 27)
            let right = i < bottom.count ? Printer.padRight(Printer.quoted(bottom[i].token), 14) + " " + Printer.number(bottom[i].score) : ""
            lines.append("  " + left + "  " + right)
        }
        return lines.joined(separator: "\n")
    }
}

/// `top MODEL on CORPUS layer L`: the most active memories of a layer.
struct TopMemories: CommandResult {
    let layer: Int
    let memories: [ActiveMemory]

    var kind: String { "top" }

    var fields: [(String, Value)] {
        let rows: [Value] = memories.map { m in
            .record(plainRecord("memory", [
                ("index", .number(Double(m.index))), ("mean", .number(m.mean)),
                ("tokens", .list(m.tokens.map(scoredToken))),
            ]))
        }
        return [("layer", .number(Double(layer))), ("memories", .list(rows))]
    }

    func human(options: SessionOptions) -> String? {
        var lines = ["most active memories of layer \(Printer.number(Double(layer))) (mean |coefficient|)", "  memory  mean        promotes"]
        for m in memories {
            lines.append("  " + Printer.pad(String(m.index), 6) + "  " + Printer.padRight(Printer.number(m.mean), 10) + "  "
                         + m.tokens.map { Printer.quoted($0.token) }.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}

/// `search MODEL "TOKEN"`: the memories that promote a token most, across layers.
struct MemorySearch: CommandResult {
    /// The token as the tokenizer decodes it.
    let token: String
    let id: Int
    let memories: [MemoryMatch]

    var kind: String { "search" }

    var fields: [(String, Value)] {
        let rows: [Value] = memories.map { m in
            .record(plainRecord("match", [
                ("layer", .number(Double(m.layer))), ("index", .number(Double(m.index))), ("score", .number(m.score)),
            ]))
        }
        return [("token", .string(token)), ("id", .number(Double(id))), ("memories", .list(rows))]
    }

    func human(options: SessionOptions) -> String? {
        var lines = ["memories promoting \(Printer.quoted(token)) (id \(Printer.number(Double(id)))), score = W_U[token] · v_i",
                     "  layer  memory  score"]
        for m in memories {
            lines.append("  " + Printer.pad(String(m.layer), 5) + "  " + Printer.pad(String(m.index), 6) + "  " + Printer.number(m.score))
        }
        return lines.joined(separator: "\n")
    }
}

/// `{id, token, score}`.
func scoredToken(_ t: TokenScore) -> Value {
    .record(plainRecord("token", [("id", .number(Double(t.id))), ("token", .string(t.token)), ("score", .number(t.score))]))
}
