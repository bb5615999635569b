import Foundation

// MARK: Multiple-choice tasks (zero-shot, as OLMo's downstream evaluation)
//
// A task is a `.jsonl` file, one item per line: {"context": "…", "choices": ["…", …], "label": i}
// with an optional "metric": "acc" (the default) or "len_norm". Each choice is scored as OLMo's
// `ICLMetric` does (olmo/eval/downstream.py): the ids are tokenize(context) ++ tokenize(choice),
// each without special tokens, and the choice's score is Σ log p(choice token | everything before
// it), teacher forced. `acc` predicts the argmax of the scores; `len_norm` the argmax of
// score ÷ max(1, characters − 1) — OLMo's `cont_str_len = len(continuation) − 1`, whose
// continuations begin with a space; characters are Unicode scalars (Python's `len`). Ties go to
// the lowest index. A task's acc and len_norm are the fractions of items whose prediction is the
// label; its score is the value of its metric.

/// How a task picks its answer: the best summed log-probability, or the best per character.
public enum ChoiceMetric: String, Sendable {
    case acc
    case lenNorm = "len_norm"
}

/// One question: a context, its possible continuations and the index of the right one.
public struct ChoiceItem: Sendable, Equatable {
    public var context: String
    /// Continuations, scored after the context (OLMo's begin with a space). At least 2.
    public var choices: [String]
    /// Index of the right choice, in 0 ..< choices.count.
    public var label: Int
    public init(context: String, choices: [String], label: Int) {
        self.context = context; self.choices = choices; self.label = label
    }
}

/// A named list of items sharing a metric.
public struct ChoiceTask: Sendable, Equatable {
    /// The file name without its extension.
    public var name: String
    public var items: [ChoiceItem]
    public var metric: ChoiceMetric
    /// The file it was read from.
    public var source: String
    public init(name: String, items: [ChoiceItem], metric: ChoiceMetric, source: String) {
        self.name = name; self.items = items; self.metric = metric; self.source = source
    }
}

/// Tasks evaluated together: one `.jsonl` file, or every `.jsonl` file of a directory.
public struct TaskSuite: Sendable, Equatable {
    public var tasks: [ChoiceTask]
    /// The file or directory given.
    public var source: String
    public init(tasks: [ChoiceTask], source: String) { self.tasks = tasks; self.source = source }

    /// Items over all tasks.
    public var itemCount: Int { tasks.reduce(0) { $0 + $1.items.count } }

    /// Reads a `.jsonl` task file (one task, named after the file without its extension) or a
    /// directory of them (one task per `.jsonl` file, in name order; other files are ignored).
    /// Blank lines are skipped.
    ///
    /// - Throws: `CoreError` naming the file (and the line, rendered `FILE:LINE: error: …`): no
    ///   such file, a file that is not `.jsonl`, a directory without `.jsonl` files, invalid UTF-8,
    ///   malformed JSON, a missing field or one of the wrong type, an empty context, fewer than 2
    ///   choices, a label out of range, an unknown metric or one that disagrees with the first
    ///   line's (a line without "metric" means acc), or a file without items.
    public static func load(path: String) throws -> TaskSuite {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CoreError("no such file or directory", file: path)
        }
        guard isDir.boolValue else {
            guard path.lowercased().hasSuffix(".jsonl") else {
                throw CoreError("expected a .jsonl task file (one item per line) or a directory of them", file: path)
            }
            return TaskSuite(tasks: [try ChoiceTask.load(file: path)], source: path)
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw CoreError("cannot list the directory", file: path)
        }
        let dir = path.hasSuffix("/") ? path : path + "/"
        let files = names.filter { $0.lowercased().hasSuffix(".jsonl") }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        guard !files.isEmpty else { throw CoreError("the directory has no .jsonl task files", file: path) }
        return TaskSuite(tasks: try files.map { try ChoiceTask.load(file: dir + $0) }, source: path)
    }
}

extension ChoiceTask {
    /// Reads one task file; its name is the file name without the extension.
    ///
    /// - Throws: `CoreError` as `TaskSuite.load`, naming `file` and the line.
    static func load(file: String) throws -> ChoiceTask {
        let bytes = try readFileBytes(file)
        let base = (file as NSString).lastPathComponent
        let name = (base as NSString).deletingPathExtension
        var items: [ChoiceItem] = []
        // The task's metric: that of its first item's line.
        var first: (metric: ChoiceMetric, line: Int)?
        try forEachLine(bytes) { lineNo, range in
            let line: String
            do { line = try decodeUTF8(bytes, range, firstLine: lineNo) } catch let e as InvalidUTF8 {
                throw CoreError("invalid UTF-8 at byte \(e.offset)", file: file, line: lineNo)
            }
            if line.allSatisfy({ $0.isWhitespace }) { return true }
            let (item, stated) = try parseChoiceItem(line, file: file, line: lineNo)
            // A line without "metric" means acc, the default.
            let metric = stated ?? .acc
            if let f = first, f.metric != metric {
                let shown = stated == nil ? "\"acc\" (the default: no \"metric\" given)" : "\"\(metric.rawValue)\""
                throw CoreError("metric \(shown) disagrees with \"\(f.metric.rawValue)\" on line \(f.line): a task's lines must agree on the metric",
                                file: file, line: lineNo)
            }
            if first == nil { first = (metric, lineNo) }
            items.append(item)
            return true
        }
        guard let first else { throw CoreError("the task has no items", file: file) }
        return ChoiceTask(name: name, items: items, metric: first.metric, source: file)
    }
}

/// One line of a task file: the item and the metric it states (nil: not stated).
/// - Throws: `CoreError` at `file`:`line` for any fault of the line.
func parseChoiceItem(_ text: String, file: String, line: Int) throws -> (ChoiceItem, ChoiceMetric?) {
    func fail(_ message: String) -> CoreError { CoreError(message, file: file, line: line) }
    let v: JSONValue
    do { v = try JSONValue.parse(text) } catch let e as JSONError {
        throw fail("malformed JSON (\(e.message) at column \(e.offset + 1))")
    }
    guard v.objectValue != nil else { throw fail("expected an object with \"context\", \"choices\" and \"label\"") }
    for key in ["context", "choices", "label"] where v[key] == nil { throw fail("missing field \"\(key)\"") }
    guard let context = v["context"]?.stringValue else { throw fail("field \"context\" must be a string") }
    guard !context.isEmpty else { throw fail("the context is empty") }
    guard let list = v["choices"]?.arrayValue else { throw fail("field \"choices\" must be a list of strings") }
    let choices = try list.enumerated().map { j, c in
        guard let s = c.stringValue else { throw fail("field \"choices\"[\(j)] must be a string") }
        return s
    }
    guard choices.count >= 2 else {
        throw fail("an item needs at least 2 choices, found \(choices.count)")
    }
    guard let label = v["label"]?.intValue else { throw fail("field \"label\" must be a whole number") }
    guard label >= 0 && label < choices.count else {
        throw fail("label \(label) is out of range: the item has \(choices.count) choices (labels 0…\(choices.count - 1))")
    }
    var metric: ChoiceMetric?
    if let m = v["metric"], !m.isNull {
        guard let s = m.stringValue, let parsed = ChoiceMetric(rawValue: s) else {
            let shown = m.stringValue.map { "\"\($0)\"" } ?? "a non-string"
            throw fail("unknown metric \(shown): use \"acc\" or \"len_norm\"")
        }
        metric = parsed
    }
    return (ChoiceItem(context: context, choices: choices, label: label), metric)
}

// MARK: Results

/// A task's results: the fraction of items each rule gets right, and the task's own metric.
public struct TaskScore: Sendable, Equatable {
    public var name: String
    public var items: Int
    /// Fraction of items whose best summed log-probability is the label's, in [0, 1].
    public var acc: Double
    /// Fraction of items whose best log-probability per character is the label's, in [0, 1].
    public var lenNorm: Double
    public var metric: ChoiceMetric
    /// `acc` or `lenNorm`, as `metric` says.
    public var score: Double
    public init(name: String, items: Int, acc: Double, lenNorm: Double, metric: ChoiceMetric, score: Double) {
        self.name = name; self.items = items; self.acc = acc; self.lenNorm = lenNorm
        self.metric = metric; self.score = score
    }
}

/// Scores of every task of a suite, in its order, and their mean.
public struct Evaluation: Sendable, Equatable {
    public var tasks: [TaskScore]
    /// Mean of the tasks' scores.
    public var mean: Double
    public init(tasks: [TaskScore], mean: Double) { self.tasks = tasks; self.mean = mean }
}

// MARK: Prediction

/// The choice `metric` predicts from each choice's summed log-probability (nats): the argmax of
/// `logProbs` for acc, of logProbs[j] ÷ max(1, scalars(choices[j]) − 1) for len_norm. Ties go
/// to the lowest index.
func predictedChoice(logProbs: [Double], choices: [String], metric: ChoiceMetric) -> Int {
    var best = 0, bestValue = -Double.infinity
    for (j, lp) in logProbs.enumerated() {
        let value: Double
        switch metric {
        case .acc: value = lp
        case .lenNorm: value = lp / Double(max(1, choices[j].unicodeScalars.count - 1))
        }
        if j == 0 || value > bestValue { best = j; bestValue = value }
    }
    return best
}

// MARK: Scoring

/// One (context, choice) pair to score, `ids` = context ids ++ choice ids. The forward pass reads
/// `document`, the ids without the last (whose prediction is not needed, as in OLMo's query);
/// the rows at positions `first − 1 ..< ids.count − 1` predict the choice's tokens.
struct ChoiceSequence: Hashable {
    var ids: [Int]
    /// Index in `ids` of the choice's first token (= the context's token count, ≥ 1).
    var first: Int
    var document: [Int] { Array(ids.dropLast()) }
}

/// Σ log p(ids[t] | ids[..<t]) for t in first ..< ids.count, of every sequence: the sequences are
/// packed into batches of at most `batchTokenBudget` tokens and run through the inference
/// forward pass, batches in parallel; each sequence's terms are added in position order, so
/// every number is the same for any thread count.
///
/// - Throws: `CoreError` for a token outside the vocabulary, a sequence longer than a
///   learned-position model's positions, or "cancelled".
func sequenceLogProbs(_ sequences: [ChoiceSequence], config c: ModelConfig, weights: InferenceWeights,
                      multipliers: MemoryMultipliers) throws -> [Double] {
    // Each fed document is a sequence without its last token.
    let groups = tokenBudgetGroups(sequences.map { $0.ids.count - 1 })
    var out = [Double](repeating: 0, count: sequences.count)
    let workspaces = (0..<parallelRoundSlots).map { _ in Arena() }
    try inParallelRounds(groups.count, work: { g, slot -> [Double] in
        let group = groups[g]
        let batch = PackedBatch(documents: group.map { sequences[$0].document })
        // Row r's target: the next token when it is one of its sequence's choice tokens, else −1.
        var targets = [Int32](repeating: -1, count: batch.count)
        for (d, s) in group.enumerated() {
            let seq = sequences[s], row0 = batch.starts[d]
            for t in seq.first..<seq.ids.count { targets[row0 + t - 1] = Int32(truncatingIfNeeded: seq.ids[t]) }
        }
        var logProbs = [Double](repeating: 0, count: batch.count)
        try targets.withUnsafeBufferPointer { t in
            try logProbs.withUnsafeMutableBufferPointer { lp in
                guard let tp = t.baseAddress, let o = lp.baseAddress else { return }
                try runForward(config: c, weights: weights, multipliers: multipliers, batch: batch,
                               request: ForwardRequest(coefficientSums: nil, logits: nil, targetLogProbs: (tp, o)),
                               workspace: workspaces[slot])
            }
        }
        return group.enumerated().map { d, s in
            let seq = sequences[s], row0 = batch.starts[d]
            var sum = 0.0
            for t in seq.first..<seq.ids.count { sum += logProbs[row0 + t - 1] }
            return sum
        }
    }, combine: { g, sums in
        for (k, s) in groups[g].enumerated() { out[s] = sums[k] }
    })
    return out
}

/// Every choice's summed log-probability (nats), [task][item][choice]: tokenises each (context,
/// choice) pair with `encode`, and `score` scores each distinct sequence once (so identical
/// choices tie exactly).
///
/// - Throws: `CoreError` naming the task file and item when a context or choice has no tokens or
///   a sequence is longer than a learned-position model's positions; for a suite without tasks
///   or a task without items; when a score is not finite; whatever `score` throws.
func suiteLogProbs(_ suite: TaskSuite, config: ModelConfig, encode: (String) -> [Int],
                   score: ([ChoiceSequence]) throws -> [Double]) throws -> [[[Double]]] {
    guard !suite.tasks.isEmpty else { throw CoreError("the task suite has no tasks", file: suite.source) }
    // Distinct sequences and, per task, item and choice, the index of its sequence.
    var sequences: [ChoiceSequence] = []
    var index: [ChoiceSequence: Int] = [:]
    var refs: [[[Int]]] = []
    for task in suite.tasks {
        guard !task.items.isEmpty else { throw CoreError("the task has no items", file: task.source) }
        var taskRefs: [[Int]] = []
        for (i, item) in task.items.enumerated() {
            func fail(_ m: String) -> CoreError { CoreError("item \(i): \(m)", file: task.source) }
            let ctx = encode(item.context)
            guard !ctx.isEmpty else { throw fail("the context \(quoted(item.context)) has no tokens") }
            taskRefs.append(try item.choices.enumerated().map { j, choice in
                let ids = encode(choice)
                guard !ids.isEmpty else { throw fail("choice \(j) \(quoted(choice)) has no tokens") }
                let seq = ChoiceSequence(ids: ctx + ids, first: ctx.count)
                if config.learnedPositions && seq.ids.count - 1 > config.maxPositions {
                    throw fail("choice \(j) needs \(seq.ids.count - 1) positions but the model has only \(config.maxPositions)")
                }
                if let k = index[seq] { return k }
                index[seq] = sequences.count
                sequences.append(seq)
                return sequences.count - 1
            })
        }
        refs.append(taskRefs)
    }
    let logProbs = try score(sequences)
    guard logProbs.allSatisfy(\.isFinite) else {
        throw CoreError("the log-probabilities are not finite (the model produces NaN or infinity)")
    }
    return refs.map { $0.map { $0.map { logProbs[$0] } } }
}

/// Both metrics of every task of `suite` from its choices' summed log-probabilities
/// ([task][item][choice], as `suiteLogProbs` returns them), and the mean score.
func evaluation(of suite: TaskSuite, logProbs: [[[Double]]]) -> Evaluation {
    var scores: [TaskScore] = []
    for (task, taskLogProbs) in zip(suite.tasks, logProbs) {
        var right = (acc: 0, lenNorm: 0)
        for (item, lps) in zip(task.items, taskLogProbs) {
            if predictedChoice(logProbs: lps, choices: item.choices, metric: .acc) == item.label { right.acc += 1 }
            if predictedChoice(logProbs: lps, choices: item.choices, metric: .lenNorm) == item.label { right.lenNorm += 1 }
        }
        let n = Double(max(1, task.items.count))
        let acc = Double(right.acc) / n, lenNorm = Double(right.lenNorm) / n
        scores.append(TaskScore(name: task.name, items: task.items.count, acc: acc, lenNorm: lenNorm,
                                metric: task.metric, score: task.metric == .acc ? acc : lenNorm))
    }
    return Evaluation(tasks: scores, mean: scores.reduce(0.0) { $0 + $1.score } / Double(max(1, scores.count)))
}

/// A text in quotes for messages, cut to 40 characters.
private func quoted(_ s: String) -> String {
    let cut = s.count > 40 ? String(s.prefix(40)) + "…" : s
    return "\"\(cut)\""
}

/// Every choice's summed log-probability, [task][item][choice], for a network being trained
/// (f32 parameters), with its tokenizer's `encode`.
///
/// - Throws: as `evaluate(_:on:)`.
func choiceLogProbs(_ net: Transformer, on suite: TaskSuite, encode: (String) -> [Int]) throws -> [[[Double]]] {
    try suiteLogProbs(suite, config: net.config, encode: encode) { sequences in
        try net.withInferenceWeights { w in
            try sequenceLogProbs(sequences, config: net.config, weights: w, multipliers: net.multipliers)
        }
    }
}

/// Every choice's summed log-probability, [task][item][choice], with `model`'s own weights (bf16
/// and quantised models are not expanded) and tokenizer.
///
/// - Throws: as `evaluate(_:on:)`.
func choiceLogProbs(_ model: Model, on suite: TaskSuite) throws -> [[[Double]]] {
    let tok = model.tokenizer
    return try suiteLogProbs(suite, config: model.config, encode: { tok.encode($0) }) { sequences in
        try withInferenceWeights(model) { w in
            try sequenceLogProbs(sequences, config: model.config, weights: w, multipliers: model.memoryMultipliers)
        }
    }
}

/// `evaluate` for a network being trained (f32 parameters), with its tokenizer's `encode`.
///
/// - Throws: as `evaluate(_:on:)`.
func evaluateNetwork(_ net: Transformer, on suite: TaskSuite, encode: (String) -> [Int]) throws -> Evaluation {
    evaluation(of: suite, logProbs: try choiceLogProbs(net, on: suite, encode: encode))
}

/// Zero-shot multiple-choice accuracy of `model` on every task of `suite`, as OLMo's
/// `ICLMetric` computes it (see the top of this file): per task acc, len_norm and the score of
/// its metric; the mean of the scores.
///
/// - Throws: `CoreError` naming the task file and item when a context or a choice tokenises to
///   nothing or a sequence is longer than a learned-position model's positions; for a suite
///   without tasks or a task without items; when the model produces NaN or infinity;
///   "cancelled".
public func evaluate(_ model: Model, on suite: TaskSuite) throws -> Evaluation {
    evaluation(of: suite, logProbs: try choiceLogProbs(model, on: suite))
}
