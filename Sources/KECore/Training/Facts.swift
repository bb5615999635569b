import Foundation

// MARK: Fact sets and probes (fictional knowledge, Chang et al. 2024)
//
// A fact set is a list of items, each with a `train_context` (the text injected during
// training), optionally `paraphrases` (other versions of that text, which the paper's protocol
// injects one per event: version 1 is `train_context`, version v is `paraphrases[v − 2]`) and
// probes: `mem_input[i]`/`mem_target[i]` (memorisation: the sentence as seen),
// `gen_input`/`gen_target` (semantic generalisation: paraphrases) and optionally
// `hard_gen_input`/`hard_gen_target` (composition).
//
// Probe scoring: the probe text is `input + " " + target`; its target tokens are the tokens of
// that text after the first len(tokenize(input)) tokens. Teacher-forced over those tokens only,
// a probe's log-probability is the mean of log p(token | everything before it) and its accuracy
// the fraction of target tokens that are the argmax. A set's score is the mean over its probes.

/// One probe: a prompt and the continuation whose likelihood is measured.
public struct Probe: Sendable, Equatable {
    public var input: String
    public var target: String
    public init(input: String, target: String) { self.input = input; self.target = target }
}

/// One fictional fact: the training text and its probes.
public struct FactItem: Sendable, Equatable {
    public var trainContext: String
    /// Other versions of `trainContext` (`paraphrases`; empty when the item has none).
    public var paraphrases: [String]
    public var memorization: [Probe]
    public var generalization: [Probe]
    /// nil when the item has no `hard_gen_*` fields.
    public var composition: [Probe]?
    public init(trainContext: String, memorization: [Probe], generalization: [Probe], composition: [Probe]? = nil,
                paraphrases: [String] = []) {
        self.trainContext = trainContext; self.memorization = memorization
        self.generalization = generalization; self.composition = composition
        self.paraphrases = paraphrases
    }

    /// The item's versions: version 1 (index 0) is `trainContext`, version v is `paraphrases[v − 2]`.
    public var versions: [String] { [trainContext] + paraphrases }
}

/// A list of facts to inject and probe.
public struct FactSet: Sendable, Equatable {
    public var items: [FactItem]
    /// Where it came from.
    public var source: String

    public init(items: [FactItem], source: String) {
        self.items = items
        self.source = source
    }

    public var count: Int { items.count }
    /// Every item's `train_context`, in order.
    public var contexts: [String] { items.map(\.trainContext) }
    /// The smallest number of versions (`train_context` plus its `paraphrases`) over the items;
    /// 0 for an empty set.
    public var versions: Int { items.map { 1 + $0.paraphrases.count }.min() ?? 0 }
    /// Number of probes of each kind.
    public var probeCounts: (memorization: Int, generalization: Int, composition: Int) {
        (items.reduce(0) { $0 + $1.memorization.count }, items.reduce(0) { $0 + $1.generalization.count },
         items.reduce(0) { $0 + ($1.composition?.count ?? 0) })
    }

    /// Reads a `.json` file (a list of items) or `.jsonl` (one item per line).
    ///
    /// - Throws: `CoreError` naming the file: no such file (before any format check), an
    ///   extension other than .json, .jsonl or .ndjson, unreadable, invalid UTF-8, malformed JSON (line and column), an item without its
    ///   fields, or a set that `validate` rejects.
    public static func load(path: String) throws -> FactSet {
        // A missing file is named as such before any talk of formats.
        guard FileManager.default.fileExists(atPath: path) else { throw CoreError("no such file", file: path) }
        let isJSONL = LineFormat(path: path) == .jsonLines
        guard isJSONL || path.lowercased().hasSuffix(".json") else {
            throw CoreError("unsupported fact-set format: use .json (a list of items) or .jsonl (one item per line)", file: path)
        }
        let bytes = try readFileBytes(path)
        var items: [FactItem] = []
        if isJSONL {
            let text: String
            do { text = try decodeUTF8(bytes) } catch { throw CoreError(error.description, file: path) }
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if line.allSatisfy({ $0.isWhitespace }) { continue }
                let v: JSONValue
                do { v = try JSONValue.parse(String(line)) } catch let e as JSONError {
                    throw CoreError("line \(n + 1): malformed JSON (\(e.message) at column \(e.offset + 1))", file: path)
                }
                items.append(try parseFactItem(v, at: "line \(n + 1)", file: path))
            }
        } else {
            let v: JSONValue
            do { v = try JSONValue.parse(bytes: bytes) } catch let e as JSONError {
                throw CoreError("malformed JSON (\(e.message) at byte \(e.offset))", file: path)
            }
            guard let list = v.arrayValue else {
                throw CoreError("expected a list of fact items at the top level", file: path)
            }
            for (i, item) in list.enumerated() {
                items.append(try parseFactItem(item, at: "item \(i)", file: path))
            }
        }
        let set = FactSet(items: items, source: path)
        try set.validate()
        return set
    }

    /// Throws when the set has no items or lacks memorisation or generalisation probes.
    ///
    /// - Throws: `CoreError` when the set has no items, no memorization probes or no generalization
    ///   probes.
    public func validate() throws {
        guard !items.isEmpty else { throw CoreError("the fact set has no items", file: source) }
        let c = probeCounts
        guard c.memorization > 0 else { throw CoreError("the fact set has no memorization probes (mem_input)", file: source) }
        guard c.generalization > 0 else { throw CoreError("the fact set has no generalization probes (gen_input)", file: source) }
    }
}

/// Parses one item; `at` names it in errors ("item 3" or "line 4").
func parseFactItem(_ v: JSONValue, at: String, file: String) throws -> FactItem {
    guard v.objectValue != nil else { throw CoreError("\(at): expected an object", file: file) }
    guard let ctxValue = v["train_context"] else {
        throw CoreError("\(at): missing field \"train_context\"", file: file)
    }
    guard let ctx = ctxValue.stringValue else {
        throw CoreError("\(at): field \"train_context\" must be a string", file: file)
    }
    func strings(_ key: String, required: Bool) throws -> [String]? {
        guard let f = v[key], !(f.isNull && !required) else {
            if required { throw CoreError("\(at): missing field \"\(key)\"", file: file) }
            return nil
        }
        guard let list = f.arrayValue else { throw CoreError("\(at): field \"\(key)\" must be a list of strings", file: file) }
        return try list.enumerated().map { j, e in
            guard let s = e.stringValue else {
                throw CoreError("\(at): field \"\(key)\"[\(j)] must be a string", file: file)
            }
            return s
        }
    }
    func probes(_ kind: String, required: Bool) throws -> [Probe]? {
        let inKey = "\(kind)_input", outKey = "\(kind)_target"
        let ins = try strings(inKey, required: required), outs = try strings(outKey, required: required)
        switch (ins, outs) {
        case (nil, nil): return nil
        case (nil, _?): throw CoreError("\(at): field \"\(outKey)\" given without \"\(inKey)\"", file: file)
        case (_?, nil): throw CoreError("\(at): field \"\(inKey)\" given without \"\(outKey)\"", file: file)
        case let (i?, o?):
            guard i.count == o.count else {
                throw CoreError("\(at): \"\(inKey)\" has \(i.count) entries but \"\(outKey)\" has \(o.count)", file: file)
            }
            return zip(i, o).map { Probe(input: $0, target: $1) }
        }
    }
    return FactItem(trainContext: ctx, memorization: try probes("mem", required: true) ?? [],
                    generalization: try probes("gen", required: true) ?? [],
                    composition: try probes("hard_gen", required: false),
                    paraphrases: try strings("paraphrases", required: false) ?? [])
}

// MARK: Probe results

/// Mean log-probability and accuracy over a set of probes.
public struct ProbeScore: Sendable, Equatable {
    /// Mean over probes of the mean log-probability (nats) of their target tokens.
    public var logprob: Double
    /// Mean over probes of the fraction of target tokens that are the argmax.
    public var accuracy: Double
    /// Number of probes.
    public var count: Int
    /// Target tokens scored over all probes, and how many of them were the argmax: what the
    /// accuracy rests on.
    public var targetTokens: Int
    public var correctTokens: Int
    public init(logprob: Double, accuracy: Double, count: Int, targetTokens: Int = 0, correctTokens: Int = 0) {
        self.logprob = logprob; self.accuracy = accuracy; self.count = count
        self.targetTokens = targetTokens; self.correctTokens = correctTokens
    }
}

/// Probe scores of a model on a fact set.
public struct ProbeResult: Sendable, Equatable {
    public var memorization: ProbeScore
    public var generalization: ProbeScore
    /// nil when the set has no `hard_gen` probes.
    public var composition: ProbeScore?

    /// Memorisation and generalisation probes pooled (mean over all of them).
    public var pooled: ProbeScore {
        let n = memorization.count + generalization.count
        guard n > 0 else { return ProbeScore(logprob: 0, accuracy: 0, count: 0) }
        func mix(_ a: Double, _ b: Double) -> Double {
            (a * Double(memorization.count) + b * Double(generalization.count)) / Double(n)
        }
        return ProbeScore(logprob: mix(memorization.logprob, generalization.logprob),
                          accuracy: mix(memorization.accuracy, generalization.accuracy), count: n,
                          targetTokens: memorization.targetTokens + generalization.targetTokens,
                          correctTokens: memorization.correctTokens + generalization.correctTokens)
    }
}

// MARK: Scoring

/// A tokenised probe: `tokens` of input + " " + target; target tokens start at `targetStart`.
struct TokenizedProbe {
    var tokens: [Int]
    var targetStart: Int
}

/// Tokenises a probe with the rule above; throws when it has no scorable target token.
func tokenizeProbe(_ p: Probe, encode: (String) -> [Int], name: String) throws -> TokenizedProbe {
    let inputCount = encode(p.input).count
    let tokens = encode(p.input + " " + p.target)
    // The first token has no context: it can only be scored when the input is empty, and then not.
    let start = max(inputCount, 1)
    guard start < tokens.count else {
        throw CoreError("\(name): the probe has no target token to score (input \"\(p.input)\", target \"\(p.target)\")")
    }
    return TokenizedProbe(tokens: tokens, targetStart: start)
}

/// Per probe (mean target log-probability, accuracy), with the probes packed into batches of at
/// most `batchTokenBudget` tokens and run through the inference forward pass.
func scoreProbes(_ net: Transformer, _ probes: [TokenizedProbe]) throws -> [(logprob: Double, accuracy: Double, correct: Int)] {
    let V = net.config.vocabSize
    var out = [(logprob: Double, accuracy: Double, correct: Int)](repeating: (0, 0, 0), count: probes.count)
    try net.withInferenceWeights { weights in
    for group in tokenBudgetGroups(probes.map(\.tokens.count)) {
        let probesInBatch = Array(probes[group])
        let batch = PackedBatch(documents: probesInBatch.map(\.tokens))
        try checkBatch(batch, net.config)
        // Row r belongs to probe owner[r] and predicts targets[r] (−1: not one of its target tokens).
        var owner = [Int](repeating: 0, count: batch.count)
        for (d, s) in batch.starts.enumerated() { for r in s..<(s + batch.lengths[d]) { owner[r] = d } }
        let targets = batch.nextTokenTargets(firstTargets: probesInBatch.map(\.targetStart))
        var lp = [Double](repeating: 0, count: probesInBatch.count), hits = [Int](repeating: 0, count: probesInBatch.count)
        try runForward(config: net.config, weights: weights, multipliers: net.multipliers, batch: batch, request: ForwardRequest(
            coefficientSums: nil,
            logits: { r0, rows, logits in
                for k in 0..<rows where targets[r0 + k] >= 0 {
                    let d = owner[r0 + k], target = Int(targets[r0 + k])
                    let row = logits + k * V
                    lp[d] += logSoftmaxAt(row, count: V, index: target)
                    if greedyNextToken(row, count: V) == target { hits[d] += 1 }
                }
            }))
        for (d, p) in probesInBatch.enumerated() {
            let n = Double(p.tokens.count - p.targetStart)
            guard lp[d].isFinite else {
                throw CoreError("the log-probabilities are not finite (the model produces NaN or infinity)")
            }
            out[group.lowerBound + d] = (lp[d] / n, Double(hits[d]) / n, hits[d])
        }
    }
    }
    return out
}

/// Tokenised probes of a fact set, by kind.
struct FactProbes {
    var memorization: [TokenizedProbe]
    var generalization: [TokenizedProbe]
    var composition: [TokenizedProbe]?

    init(_ facts: FactSet, encode: (String) -> [Int]) throws {
        var m: [TokenizedProbe] = [], g: [TokenizedProbe] = [], h: [TokenizedProbe] = []
        var hasHard = false
        for (i, item) in facts.items.enumerated() {
            for (j, p) in item.memorization.enumerated() {
                m.append(try tokenizeProbe(p, encode: encode, name: "\(facts.source): item \(i) mem probe \(j)"))
            }
            for (j, p) in item.generalization.enumerated() {
                g.append(try tokenizeProbe(p, encode: encode, name: "\(facts.source): item \(i) gen probe \(j)"))
            }
            if let hard = item.composition {
                hasHard = hasHard || !hard.isEmpty
                for (j, p) in hard.enumerated() {
                    h.append(try tokenizeProbe(p, encode: encode, name: "\(facts.source): item \(i) hard_gen probe \(j)"))
                }
            }
        }
        guard !m.isEmpty, !g.isEmpty else {
            throw CoreError("the fact set needs memorization and generalization probes", file: facts.source)
        }
        memorization = m; generalization = g; composition = hasHard ? h : nil
    }

    /// Scores every probe in one packed pass.
    func score(_ net: Transformer) throws -> ProbeResult {
        let all = memorization + generalization + (composition ?? [])
        let s = try scoreProbes(net, all)
        func mean(_ r: Range<Int>) -> ProbeScore {
            let n = Double(r.count)
            return ProbeScore(logprob: r.reduce(0.0) { $0 + s[$1].logprob } / n,
                              accuracy: r.reduce(0.0) { $0 + s[$1].accuracy } / n, count: r.count,
                              targetTokens: r.reduce(0) { $0 + all[$1].tokens.count - all[$1].targetStart },
                              correctTokens: r.reduce(0) { $0 + s[$1].correct })
        }
        let a = memorization.count, b = a + generalization.count
        return ProbeResult(memorization: mean(0..<a), generalization: mean(a..<b),
                           composition: composition.map { _ in mean(b..<all.count) })
    }
}

/// Probe scores of `model` on `facts`: memorisation, generalisation and (when the set has
/// `hard_gen` probes) composition, each the mean over its probes of {log-probability, accuracy}.
///
/// - Throws: `CoreError` when no memorization or no generalization probe has a target token to
///   score, a probe is longer than the model's positions, or "cancelled".
public func probe(_ model: Model, on facts: FactSet) throws -> ProbeResult {
    let tok = model.tokenizer
    return try FactProbes(facts, encode: { tok.encode($0) }).score(Transformer(model))
}
