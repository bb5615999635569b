import Foundation

// MARK: Evaluation loss (inference forward, no activations kept)

/// Mean next-token NLL of `net` over every real prediction of `documents`, computed with the
/// inference forward pass in packed batches. Used for replay perplexity and by the tests to
/// check the training forward.
func evaluationLoss(_ net: Transformer, documents: [[Int]]) throws -> (loss: Double, predictions: Int) {
    let V = net.config.vocabSize
    var nll = 0.0
    var count = 0
    try net.withInferenceWeights { weights in
    for batch in packedBatches(documents) {
        try checkBatch(batch, net.config)
        let targets = batch.nextTokenTargets()
        try runForward(config: net.config, weights: weights, multipliers: net.multipliers, batch: batch, request: ForwardRequest(
            coefficientSums: nil,
            logits: { r0, rows, logits in
                for i in 0..<rows {
                    let r = r0 + i
                    guard targets[r] >= 0 else { continue }
                    nll -= logSoftmaxAt(logits + i * V, count: V, index: Int(targets[r]))
                    count += 1
                }
            }))
    }
    }
    guard count > 0 else { throw CoreError("no token to predict: every document has fewer than 2 tokens") }
    return (nll / Double(count), count)
}
