import Foundation
import KECore

// MARK: What the model says
//
// perplexity, predict, generate, and their results.

extension Command {
    static let perplexity = Command(
        "perplexity", [.positional(.MODEL), .keyword(.on, "CORPUS")], group: "models",
        brief: "Perplexity of a model on a corpus.",
        summary: """
            Perplexity exp(loss), where loss is the mean next-token negative log-likelihood in \
            nats over every predicted token (a document of T tokens predicts T − 1). Fields: \
            perplexity, loss, tokens.
            """,
        example: "perplexity m on c",
        run: { inv in
            let model = try inv.model(.MODEL)
            let corpus = try inv.corpus(.on, for: model)
            let r = try KECore.perplexity(of: model, on: corpus, progress: inv.progress)
            return .record(Record(r))
        })

    static let predict = Command(
        "predict", [.positional(.MODEL), .positional(.TEXT, quoted: true), .option(.top, "K")], group: "inspect",
        brief: "Next-token distribution after a text.",
        summary: """
            The probability of each next token after the text: p = softmax(logits) at the last \
            position, p_t = exp(z_t) / Σ_u exp(z_u). Lists the K most probable (default 10). \
            Fields: top (each: id, token, probability).
            """,
        example: "predict m \"the birthplace of\" top 5",
        run: { inv in
            let model = try inv.model(.MODEL)
            let text = try inv.string(.TEXT)
            let k = try inv.optionalInt(.top, in: 1...model.config.vocabSize) ?? Swift.min(10, model.config.vocabSize)
            let p = try predictNext(model: model, text: text, top: k)
            return .record(Record(p))
        })

    static let generate = Command(
        "generate", [.positional(.MODEL), .positional(.TEXT, quoted: true), .option(.tokens, "N"), .flag(.ignore_eos)],
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
            let model = try inv.model(.MODEL)
            let text = try inv.string(.TEXT)
            let n = try inv.optionalInt(.tokens, in: 0...100_000) ?? 20
            let g = try generateGreedy(model: model, text: text, tokens: n, stopIDs: inv.flag(.ignore_eos) ? [] : nil)
            return .record(Record(g))
        })
}

// MARK: Results

extension PerplexityResult: CommandResult {
    var kind: String { "perplexity" }

    var fields: [(String, Value)] {
        [("perplexity", .number(perplexity)), ("loss", .number(loss)), ("tokens", .number(Double(tokens)))]
    }

    func human(options: SessionOptions) -> String? {
        "perplexity \(Printer.number(perplexity)) (loss \(Printer.number(loss)) nats over \(Printer.grouped(tokens)) tokens)"
    }
}

extension Prediction: CommandResult {
    var kind: String { "prediction" }

    var fields: [(String, Value)] {
        let rows: [Value] = top.map { t in
            .record(plainRecord("token", [
                ("id", .number(Double(t.id))), ("token", .string(t.token)), ("probability", .number(t.probability)),
            ]))
        }
        return [("top", .list(rows))]
    }

    /// The most probable next tokens, each with its probability and a bar of it.
    func human(options: SessionOptions) -> String? {
        var lines = ["next token after \(input.count) token\(input.count == 1 ? "" : "s")"]
        let barWidth = max(10, min(30, options.width - 40))
        for t in top {
            let n = Int((t.probability * Double(barWidth)).rounded())
            let bar = String(repeating: options.ascii ? "#" : "█", count: max(0, min(barWidth, n)))
            lines.append("  " + Printer.pad(String(format: "%.2f%%", t.probability * 100), 7) + "  "
                         + Printer.padRight(Printer.quoted(t.token), 14) + " " + bar)
        }
        return lines.joined(separator: "\n")
    }
}

extension Generation: CommandResult {
    var kind: String { "generation" }

    var fields: [(String, Value)] {
        [("prompt", .string(prompt)), ("text", .string(text)),
         ("ids", .list(generated.map { .number(Double($0)) })), ("stop", .string(stop))]
    }

    /// The prompt, then the continuation in bold (in brackets without colour), then why it stopped.
    func human(options: SessionOptions) -> String? {
        let count = "\(generated.count) token\(generated.count == 1 ? "" : "s")"
        let why: String
        switch stop {
        case "positions": why = "stopped at the model's maximum positions"
        case "eos": why = "\(count), stopped at the end-of-sequence id \(generated.last.map(String.init) ?? "")"
        default: why = count
        }
        return prompt + (options.color ? "\u{1B}[1m" + text + "\u{1B}[0m" : "[" + text + "]") + "\n  (\(why))"
    }
}
