// MARK: Documents packed into one batch
//
// Every pass reads its tokens as a `PackedBatch`: documents one after another, each row knowing
// its position in its document, so a linear layer is one GEMM over all rows with no padding and
// attention runs per document. Corpora are split into batches of about `batchTokenBudget` tokens.
//
// Shapes: N tokens in the batch.

/// Token documents packed into one batch.
public struct PackedBatch: Sendable {
    /// Token ids, all documents concatenated. [N]
    public var tokens: [Int32]
    /// Position of each token inside its document. [N]
    public var positions: [Int32]
    /// Start row of each document.
    public var starts: [Int]
    /// Length of each document.
    public var lengths: [Int]

    public init(documents: [[Int]]) {
        var t: [Int32] = [], p: [Int32] = [], s: [Int] = [], l: [Int] = []
        t.reserveCapacity(documents.reduce(0) { $0 + $1.count })
        p.reserveCapacity(t.capacity)
        for d in documents where !d.isEmpty {
            s.append(t.count)
            l.append(d.count)
            for (i, id) in d.enumerated() { t.append(Int32(truncatingIfNeeded: id)); p.append(Int32(i)) }
        }
        tokens = t; positions = p; starts = s; lengths = l
    }

    /// Total number of tokens N.
    public var count: Int { tokens.count }
    /// Longest document.
    public var maxLength: Int { lengths.max() ?? 0 }

    /// The next-token target of every row: the token after it in its document, or −1 on a
    /// document's last row (nothing to predict there). [N]
    ///
    /// The one home of the next-token rule that perplexity, the evaluation loss, the training
    /// loss and the fact probes share: row r predicts row r + 1 when both are in the same
    /// document. With `firstTargets`, document d's rows predicting a position before
    /// `firstTargets[d]` get −1 too (a probe scores only its target tokens).
    func nextTokenTargets(firstTargets: [Int]? = nil) -> [Int32] {
        var targets = [Int32](repeating: -1, count: count)
        for r in 0..<max(0, count - 1) where positions[r + 1] == positions[r] + 1 { targets[r] = tokens[r + 1] }
        if let firstTargets {
            for (d, s) in starts.enumerated() {
                for r in s..<(s + min(lengths[d], max(0, firstTargets[d] - 1))) { targets[r] = -1 }
            }
        }
        return targets
    }
}

/// Tokens per forward batch: documents are grouped until this many tokens. Each core runs a batch
/// of its own (`inParallelRounds`), so 1,024 keeps the activations of a Pythia-70m-sized entropy
/// pass near 0.2× its weights in all, while every GEMM still has 1,024 rows.
let batchTokenBudget = 1024

/// Splits documents into packed batches of at most `batchTokenBudget` tokens (a longer
/// document gets a batch of its own). Empty documents are left out.
func packedBatches(_ docs: [[Int]]) -> [PackedBatch] {
    let docs = docs.filter { !$0.isEmpty }
    return tokenBudgetGroups(docs.map(\.count)).map { PackedBatch(documents: Array(docs[$0])) }
}

/// Consecutive items grouped into batches of at most `batchTokenBudget` tokens, items in order:
/// a batch takes the next item while its tokens still fit, and an item larger than the budget
/// gets a batch of its own. `tokens[i]` is item i's token count; returns the index ranges.
func tokenBudgetGroups(_ tokens: [Int]) -> [Range<Int>] {
    var groups: [Range<Int>] = []
    var i = 0
    while i < tokens.count {
        var j = i, sum = 0
        while j < tokens.count && (j == i || sum + tokens[j] <= batchTokenBudget) {
            sum += tokens[j]
            j += 1
        }
        groups.append(i..<j)
        i = j
    }
    return groups
}
