// MARK: Per-token trace: what fired where

/// A memory's coefficient at one token.
public struct MemoryActivation: Sendable, Equatable {
    public var index: Int
    /// The signed coefficient (after any intervention).
    public var coefficient: Double
}

/// One token of a traced text with its strongest memories in the traced layer.
public struct TokenTrace: Sendable {
    /// Position in the text (from 0).
    public var position: Int
    public var id: Int
    /// The token as text.
    public var token: String
    /// The top-K memories by |coefficient|, largest first.
    public var memories: [MemoryActivation]
}

/// The trace of a text through one layer.
public struct TraceResult: Sendable {
    public var layer: Int
    public var tokens: [TokenTrace]
}

/// Token ids of `text`, checked against the model's positions.
func promptTokens(_ model: Model, _ text: String) throws -> [Int] {
    let ids = model.tokenizer.encode(text)
    guard !ids.isEmpty else { throw CoreError("the text has no tokens") }
    let P = model.config.positionLimit
    if ids.count > P {
        throw CoreError("the text has \(ids.count) tokens but the model has only \(P) positions")
    }
    return ids
}

/// Per-layer coefficients of one document: the [T, F] matrix of `layer`, row-major.
///
/// - Throws: `CoreError` when `layer` is outside 0 ..< L, a token is outside the vocabulary or
///   there are more than the model's positions. The result is [tokens.count, d_ff], row-major.
public func layerCoefficients(model: Model, tokens: [Int], layer: Int) throws -> [Float] {
    try checkLayer(model, layer)
    let F = model.config.intermediateSize
    var out: [Float] = []
    var request = ForwardRequest(coefficientSums: nil, logits: nil)
    request.layerCoefficients = { l, rows, a in
        guard l == layer else { return }
        out = Array(UnsafeBufferPointer(start: a, count: rows * F))
    }
    try runForward(model: model, batch: PackedBatch(documents: [tokens]), request: request)
    guard out.allSatisfy(\.isFinite) else {
        throw CoreError("layer \(layer): the coefficients are not finite (the model produces NaN or infinity)")
    }
    return out
}

/// For each token of `text`, the `top` memories of `layer` with the largest |coefficient|.
///
/// - Throws: `CoreError` when `k` < 1, `layer` is outside 0 ..< L, or the text has no tokens or
///   more than the model's positions.
public func traceMemories(model: Model, text: String, layer: Int, top k: Int = 5) throws -> TraceResult {
    try checkLayer(model, layer)
    guard k >= 1 else { throw CoreError("top must be at least 1") }
    let ids = try promptTokens(model, text)
    let F = model.config.intermediateSize
    let a = try layerCoefficients(model: model, tokens: ids, layer: layer)
    guard a.count == ids.count * F else { throw CoreError("internal: no coefficients captured") }
    var rows: [TokenTrace] = []
    for (t, id) in ids.enumerated() {
        let row = Array(a[(t * F)..<((t + 1) * F)])
        let best = extremeIndices(row.map { abs($0) }, k: k, largest: true)
        rows.append(TokenTrace(position: t, id: id, token: tokenText(model, id),
                               memories: best.map { MemoryActivation(index: $0, coefficient: Double(row[$0])) }))
    }
    return TraceResult(layer: layer, tokens: rows)
}
