import Foundation

// MARK: Next-token prediction and greedy generation

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
    /// Why it stopped: "tokens" (N reached) or "positions" (the model's maximum length).
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
        },
        coefficientScale: model.coefficientScale))
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

/// The next-token distribution at the last position of `text`: the `top` most probable tokens.
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

/// Greedy continuation of `text` by up to `tokens` tokens (argmax each step; the whole
/// sequence is re-run each step), stopping early at the model's maximum positions.
public func generateGreedy(model: Model, text: String, tokens n: Int = 20) throws -> Generation {
    guard n >= 0 else { throw CoreError("the number of tokens must not be negative") }
    let prompt = try promptTokens(model, text)
    var seq = prompt
    var generated: [Int] = []
    var stop = "tokens"
    while generated.count < n {
        if seq.count >= model.config.maxPositions { stop = "positions"; break }
        try Cancellation.shared.check()
        let logits = try lastLogits(model: model, tokens: seq)
        guard logits.allSatisfy(\.isFinite) else { throw CoreError("the logits are not finite (the model produces NaN or infinity)") }
        guard let next = extremeIndices(logits, k: 1, largest: true).first else { break }
        seq.append(next)
        generated.append(next)
    }
    return Generation(prompt: text, input: prompt, generated: generated,
                      text: model.tokenizer.decode(generated), stop: stop)
}
