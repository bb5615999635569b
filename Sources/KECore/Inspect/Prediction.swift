import Foundation

// MARK: Next-token prediction, greedy generation and perplexity

/// A token with its probability.
public struct TokenProbability: Sendable, Equatable {
    public var id: Int
    /// The token as text.
    public var token: String
    public var probability: Double
}

/// The next-token distribution after a text.
public struct Prediction: Sendable {
    /// Token ids of the text.
    public var input: [Int]
    /// The `top` most probable next tokens, most probable first.
    public var top: [TokenProbability]
}

/// A greedy continuation.
public struct Generation: Sendable {
    /// The prompt text.
    public var prompt: String
    /// Token ids of the prompt.
    public var input: [Int]
    /// Generated token ids, in order.
    public var generated: [Int]
    /// The generated text (decoding of `generated`).
    public var text: String
    /// Why it stopped: "eos" (an end-of-sequence id was generated; it is the last of
    /// `generated`), "tokens" (N reached) or "positions" (the model's maximum length).
    public var stop: String
}

/// Logits of the last position of `tokens`. [V]
func lastLogits(model: Model, tokens: [Int]) throws -> [Float] {
    let V = model.config.vocabSize
    let n = tokens.count
    var out: [Float] = []
    try runForward(model: model, batch: PackedBatch(documents: [tokens]), request: ForwardRequest(
        coefficientSums: nil,
        logits: { r0, rows, l in
            if n - 1 >= r0 && n - 1 < r0 + rows {
                out = Array(UnsafeBufferPointer(start: l + (n - 1 - r0) * V, count: V))
            }
        }))
    guard out.count == V else { throw CoreError("internal: no logits for the last position") }
    return out
}

/// softmax(logits) in Double, computed stably.
public func softmax(_ logits: [Float]) -> [Double] {
    guard let mx = logits.max(), mx.isFinite else {
        return [Double](repeating: .nan, count: logits.count)
    }
    var e = logits.map { Double(expf($0 - mx)) }
    let s = e.reduce(0, +)
    for i in e.indices { e[i] /= s }
    return e
}

/// The greedy next token: the index of the largest of `count` logits, the lowest index on a
/// tie, never a NaN unless all are NaN (then 0). `generate` and the probes' accuracy use it.
func greedyNextToken(_ logits: UnsafePointer<Float>, count n: Int) -> Int {
    var best = 0
    for v in 1..<max(1, n) where logits[v] > logits[best] || (logits[best].isNaN && !logits[v].isNaN) { best = v }
    return best
}

/// The greedy next token of a row of logits (see the pointer form); nil when `logits` is empty.
func greedyNextToken(_ logits: [Float]) -> Int? {
    logits.isEmpty ? nil : logits.withUnsafeBufferPointer { greedyNextToken($0.baseAddress!, count: $0.count) }
}

/// The next-token distribution at the last position of `text`: the `top` most probable tokens.
///
/// - Throws: `CoreError` when `k` < 1, the text has no tokens or more than the model's positions,
///   the logits are not finite, or on cancel.
public func predictNext(model: Model, text: String, top k: Int = 10) throws -> Prediction {
    guard k >= 1 else { throw CoreError("top must be at least 1") }
    let ids = try promptTokens(model, text)
    let logits = try lastLogits(model: model, tokens: ids)
    guard logits.allSatisfy(\.isFinite) else { throw CoreError("the logits are not finite (the model produces NaN or infinity)") }
    let p = softmax(logits)
    let best = extremeIndices(logits, k: k, largest: true)
    return Prediction(input: ids, top: best.map {
        TokenProbability(id: $0, token: tokenText(model, $0), probability: p[$0])
    })
}

/// Greedy continuation of `text` by up to `tokens` tokens (argmax each step).
///
/// Stops after generating an end-of-sequence id (`stopIDs`, by default the model directory's
/// `eosTokenIDs`; the id is kept as the last generated token, as transformers does), after
/// `tokens` tokens, or at the model's maximum positions, whichever comes first.
///
/// - Parameters:
///   - tokens: the most tokens to generate (≥ 0).
///   - stopIDs: end-of-sequence ids; nil = the model's (`directoryInfo.eosTokenIDs`), [] = never stop early.
///   - useCache: run each new token against a key/value cache of the earlier positions (one
///     row per layer); false re-runs the whole sequence every step (kept to check and measure
///     the cache).
/// - Throws: `CoreError` when the text has no tokens or more than the model's positions, the
///   logits are not finite, or on cancel.
public func generateGreedy(model: Model, text: String, tokens n: Int = 20, stopIDs: [Int]? = nil,
                           useCache: Bool = true) throws -> Generation {
    guard n >= 0 else { throw CoreError("the number of tokens must not be negative") }
    let prompt = try promptTokens(model, text)
    let eos = Set(stopIDs ?? model.directoryInfo?.eosTokenIDs ?? [])
    let maxPositions = model.config.positionLimit
    var generated: [Int] = []
    var stop = "tokens"
    func pick(_ logits: [Float]) throws -> Int? {
        guard logits.allSatisfy(\.isFinite) else { throw CoreError("the logits are not finite (the model produces NaN or infinity)") }
        return greedyNextToken(logits)
    }
    // Dynamic RoPE recomputes every position's rotation as the sequence grows, so cached keys
    // would go stale: such models run the full pass at every step.
    var dynamicRope = false
    if case .dynamic = model.config.ropeScaling { dynamicRope = true }
    if useCache && !dynamicRope {
        let c = model.config
        let capacity = min(prompt.count + n, maxPositions)
        let cache = KVCache(config: c, capacity: capacity)
        let rope = RopeTable(c, positions: max(1, capacity))
        let arena = Arena()
        try withInferenceWeights(model) { w in
            var pending = prompt
            while generated.count < n {
                if cache.length + pending.count >= maxPositions { stop = "positions"; break }
                try Cancellation.shared.check()
                let logits = try runIncremental(config: c, weights: w, multipliers: model.memoryMultipliers,
                                                tokens: pending, cache: cache, rope: rope, arena: arena)
                guard let next = try pick(logits) else { break }
                generated.append(next)
                if eos.contains(next) { stop = "eos"; break }
                pending = [next]
            }
        }
    } else {
        var seq = prompt
        while generated.count < n {
            if seq.count >= maxPositions { stop = "positions"; break }
            try Cancellation.shared.check()
            guard let next = try pick(try lastLogits(model: model, tokens: seq)) else { break }
            seq.append(next)
            generated.append(next)
            if eos.contains(next) { stop = "eos"; break }
        }
    }
    return Generation(prompt: text, input: prompt, generated: generated,
                      text: model.tokenizer.decode(generated), stop: stop)
}

// MARK: Perplexity

/// Perplexity of `model` on `corpus`: exp of the mean next-token NLL over every predicted token.
///
/// - Throws: `CoreError` when no document has 2 tokens, a token is outside the vocabulary, a
///   document is longer than the positions, the loss is not finite or exp(loss) overflows, or
///   "cancelled".
public func perplexity(of model: Model, on corpus: Corpus, progress: ProgressHandler? = nil) throws -> PerplexityResult {
    var nll = 0.0
    var count = 0
    let total = corpus.tokenCount
    var done = 0
    // Batches run in parallel; each returns its rows' log-probabilities, which are summed in
    // row order so the result does not depend on the thread count.
    let batches = packedBatches(corpus.documents)
    let workspaces = (0..<parallelRoundSlots).map { _ in Arena() }
    try withInferenceWeights(model) { weights in
    try inParallelRounds(batches.count, work: { b, slot -> [Double] in
        let batch = batches[b]
        // Each row's target is the next token of its document (−1 at a document's end); rows
        // without one keep +∞ (a log-probability is never +∞; NaN still propagates).
        let targets = batch.nextTokenTargets()
        var logProbs = [Double](repeating: .infinity, count: batch.count)
        try targets.withUnsafeBufferPointer { t in
            try logProbs.withUnsafeMutableBufferPointer { lp in
                guard let tp = t.baseAddress, let out = lp.baseAddress else { return }
                try runForward(config: model.config, weights: weights, multipliers: model.memoryMultipliers,
                               batch: batch, request: ForwardRequest(coefficientSums: nil, logits: nil, targetLogProbs: (tp, out)),
                               workspace: workspaces[slot])
            }
        }
        return logProbs
    }, combine: { b, logProbs in
        for lp in logProbs where lp != .infinity {
            nll -= lp
            count += 1
        }
        done += batches[b].count
        progress?(done, total, "")
    })
    }
    guard count > 0 else {
        throw CoreError("no token to predict: every document has fewer than 2 tokens", file: corpus.source)
    }
    let loss = nll / Double(count)
    guard loss.isFinite else { throw CoreError("the loss is not finite (the model produces NaN or infinity)") }
    let ppl = exp(loss)
    guard ppl.isFinite else { throw CoreError("perplexity exp(\(loss)) overflows: the model assigns the corpus almost no probability") }
    return PerplexityResult(perplexity: ppl, loss: loss, tokens: count)
}

/// log softmax(row)[index], computed stably in Double.
@inline(__always)
func logSoftmaxAt(_ row: UnsafePointer<Float>, count v: Int, index: Int) -> Double {
    let mx = vmax(row, count: v)
    let s = Double(sumOfExpShifted(row, count: v, shift: mx))
    return Double(row[index] - mx) - log(s)
}
