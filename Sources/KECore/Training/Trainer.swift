import Foundation

// MARK: Continued training
//
// `train` runs AdamW on batches sampled deterministically from a corpus: each step takes
// `batch` documents from a seeded shuffle of the corpus (a new shuffle each pass over it), and a
// document longer than `seq` tokens is randomly cropped to a window of `seq` tokens (start drawn
// from the same seeded generator). Documents with fewer than 2 tokens are never sampled. The
// batch is packed without padding; the loss is the mean over every next-token prediction.

/// Options of `train`.
public struct TrainOptions: Sendable, Equatable {
    /// Optimiser steps.
    public var steps: Int = 100
    /// Documents per step.
    public var batch: Int = 8
    /// Tokens per document (longer documents are randomly cropped to this many).
    public var seq: Int = 128
    /// Peak learning rate.
    public var lr: Double = 3e-4
    /// Linear warm-up steps.
    public var warmup: Int = 0
    /// Shape of the learning rate after warm-up.
    public var schedule: LRSchedule = .cosine
    /// The rate the cosine / WSD schedules end at, as a fraction of the peak.
    public var finalLRFraction: Double = 0.1
    /// Decoupled weight decay on tensors with ≥ 2 dims.
    public var weightDecay: Double = 0.1
    /// Global gradient-norm clip (nil: none).
    public var clip: Double? = 1.0
    public var beta1: Double = 0.9
    public var beta2: Double = 0.95
    public var eps: Double = 1e-8
    /// Seed of the batch sampler.
    public var seed: UInt64 = 0

    public init(steps: Int = 100, batch: Int = 8, seq: Int = 128, lr: Double = 3e-4, warmup: Int = 0,
                schedule: LRSchedule = .cosine, finalLRFraction: Double = 0.1, weightDecay: Double = 0.1,
                clip: Double? = 1.0, seed: UInt64 = 0) {
        self.steps = steps; self.batch = batch; self.seq = seq; self.lr = lr; self.warmup = warmup
        self.schedule = schedule; self.finalLRFraction = finalLRFraction; self.weightDecay = weightDecay
        self.clip = clip; self.seed = seed
    }

    var adamW: AdamWOptions {
        AdamWOptions(beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, clip: clip)
    }

    /// Throws a `CoreError` naming the first invalid option.
    func validate(for c: ModelConfig) throws {
        guard steps >= 1, steps <= 1 << 31 else { throw CoreError("steps must be between 1 and 2^31") }
        guard batch >= 1, batch <= 1 << 20 else { throw CoreError("batch must be between 1 and 2^20 documents") }
        guard seq >= 2, seq <= 1 << 20 else { throw CoreError("seq must be between 2 (one token to predict) and 2^20") }
        if c.learnedPositions && seq > c.maxPositions {
            throw CoreError("seq \(seq) exceeds the model's \(c.maxPositions) positions")
        }
        guard lr.isFinite, lr >= 0 else { throw CoreError("lr must be a finite number ≥ 0") }
        guard warmup >= 0 else { throw CoreError("warmup must be ≥ 0") }
        guard finalLRFraction.isFinite, finalLRFraction >= 0, finalLRFraction <= 1 else {
            throw CoreError("the final learning-rate fraction must be between 0 and 1")
        }
        if case .warmupStableDecay(let f) = schedule, !(f > 0 && f <= 1) {
            throw CoreError("the decay fraction of the warmup-stable-decay schedule must be in (0, 1]")
        }
        guard weightDecay.isFinite, weightDecay >= 0 else { throw CoreError("weight decay must be a finite number ≥ 0") }
        if let clip, !(clip.isFinite && clip > 0) { throw CoreError("clip must be a finite number > 0") }
        guard beta1 >= 0, beta1 < 1, beta2 >= 0, beta2 < 1 else { throw CoreError("betas must be in [0, 1)") }
        guard eps.isFinite, eps > 0 else { throw CoreError("eps must be > 0") }
    }

    func lr(at step: Int) -> Double {
        learningRate(step: step, total: steps, peak: lr, warmup: warmup, schedule: schedule,
                     finalFraction: finalLRFraction)
    }
}

/// The outcome of a training run.
public struct TrainResult: Sendable {
    /// The trained model (a new value; the input is unchanged).
    public var model: Model
    /// Mean training loss of each step's batch (before that step's update).
    public var losses: [Double]
    /// Learning rate used at each step.
    public var learningRates: [Double]
    /// Gradient norm (before clipping) of each step.
    public var gradNorms: [Double]
}

// MARK: Sampling

// (`SplitMix64` is the public generator in `World/SplitMix64.swift`: same algorithm.)

/// Deterministic batches of documents: seeded shuffles of the corpus, random crops to `seq`.
struct BatchSampler {
    let documents: [[Int]]
    let eligible: [Int]
    let seq: Int
    var rng: SplitMix64
    var order: [Int] = []
    var cursor = 0

    init(documents: [[Int]], seq: Int, seed: UInt64) {
        self.documents = documents
        self.eligible = documents.indices.filter { documents[$0].count >= 2 }
        self.seq = seq
        self.rng = SplitMix64(seed: seed)
    }

    var isEmpty: Bool { eligible.isEmpty }

    /// The next document, cropped to at most `seq` tokens.
    mutating func nextDocument() -> [Int] {
        if cursor >= order.count {
            order = eligible
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.below(i + 1)) }
            cursor = 0
        }
        let doc = documents[order[cursor]]
        cursor += 1
        guard doc.count > seq else { return doc }
        let start = rng.below(doc.count - seq + 1)
        return Array(doc[start..<(start + seq)])
    }

    mutating func next(_ n: Int) -> [[Int]] { (0..<n).map { _ in nextDocument() } }
}

// MARK: Optimiser loop

/// Whether a batch of `documents` is split into two shards computed side by side.
///
/// Two shards when there are at least two documents and the second gradient buffer stays small
/// (≤ 256M parameters, 1 GB). The split depends only on the documents, never on the thread count,
/// so a run gives the same numbers on one core or many.
func trainingShards(_ documents: [[Int]], parameters: Int) -> [[[Int]]] {
    let docs = documents.filter { !$0.isEmpty }
    guard docs.count >= 2, parameters <= 1 << 28 else { return [docs] }
    // Cut where the two halves' token counts are closest.
    let total = docs.reduce(0) { $0 + $1.count }
    var best = 1, bestGap = Int.max, prefix = 0
    for k in 1..<docs.count {
        prefix += docs[k - 1].count
        let gap = abs(total - 2 * prefix)
        if gap < bestGap { best = k; bestGap = gap }
    }
    return [Array(docs[..<best]), Array(docs[best...])]
}

/// Loss and gradients of one training batch, computed in shards (see `trainingShards`): each
/// shard runs on its own core with single-threaded GEMMs into its own gradient buffer, dividing
/// by the whole batch's prediction count. `spare` is the second buffer (allocated on first use,
/// kept between steps); it is added into `grads` when `combine` is true, otherwise the caller
/// adds it (AdamW does so in its norm pass). Returns the loss and whether `spare` was used.
func shardedLossAndGradients(_ net: Transformer, documents: [[Int]], grads: UnsafeMutablePointer<Float>,
                             spare: inout [Float], combine: Bool = true,
                             workspaces: [Arena] = [Arena(), Arena()]) throws -> (loss: Double, usedSpare: Bool) {
    let shards = trainingShards(documents, parameters: net.params.count)
    if shards.count == 1 {
        return (try lossAndGradients(net, batch: PackedBatch(documents: shards[0]), grads: grads,
                                     workspace: workspaces.first), false)
    }
    let batches = shards.map { PackedBatch(documents: $0) }
    let M = batches.reduce(0) { $0 + predictionCount($1) }
    guard M > 0 else { throw CoreError("no token to predict: every document has fewer than 2 tokens") }
    let n = net.params.count
    if spare.count != n { spare = zeroFloats(n) }
    var loss = 0.0
    try spare.withUnsafeMutableBufferPointer { sb in
        guard let second = sb.baseAddress else { throw CoreError("model has no parameters") }
        let buffers = UncheckedBox([grads, second])
        try inParallelRounds(batches.count, work: { s, _ in
            try lossAndGradients(net, batch: batches[s], grads: buffers.value[s], normalizer: M,
                                 workspace: s < workspaces.count ? workspaces[s] : nil)
        }, combine: { _, l in loss += l })
        if combine {
            parallelRanges(n, minChunk: 1 << 16) { r in
                for i in r { grads[i] += second[i] }
            }
        }
    }
    return (loss, true)
}

/// A network with its AdamW state and gradient buffers: one `step` per batch.
struct TrainerState {
    var net: Transformer
    var optimizer: AdamW
    var grads: [Float]
    /// The second shard's gradients (see `shardedLossAndGradients`).
    var spare: [Float] = []
    /// Activation buffers of each shard, kept between steps.
    let workspaces = [Arena(), Arena()]

    init(net: Transformer, options: AdamWOptions) {
        // The parameters are shared with the input model; the first update would copy them.
        var net = net
        net.params.data = privateCopy(net.params.data)
        self.net = net
        self.optimizer = AdamW(layout: net.params, options: options)
        self.grads = zeroFloats(net.params.count)
    }

    /// One AdamW step on `documents` at learning rate `lr`; `number` (1-based) names the step in
    /// errors. Returns the loss before the update and the gradient norm.
    mutating func step(documents: [[Int]], lr: Double, number: Int) throws -> (loss: Double, gradNorm: Double) {
        // Move the gradient buffer out so no second reference to the parameters outlives the
        // loss call (the update below must not trigger a copy-on-write of ~4 bytes/parameter).
        var g = grads
        grads = []
        defer { grads = g }
        var spareGrads = spare
        spare = []
        defer { spare = spareGrads }
        let (loss, usedSpare) = try g.withUnsafeMutableBufferPointer { gb -> (Double, Bool) in
            guard let base = gb.baseAddress else { throw CoreError("model has no parameters") }
            return try shardedLossAndGradients(net, documents: documents, grads: base, spare: &spareGrads,
                                               combine: false, workspaces: workspaces)
        }
        guard loss.isFinite else {
            throw CoreError("step \(number): the loss became \(loss.isNaN ? "NaN" : "infinite"); try a lower learning rate")
        }
        let norm = try optimizer.step(params: &self.net.params.data, grads: &g, lr: lr,
                                  adding: usedSpare ? spareGrads : [])
        guard norm.isFinite else {
            throw CoreError("step \(number): the gradient became \(norm.isNaN ? "NaN" : "infinite"); try a lower learning rate")
        }
        return (loss, norm)
    }
}

/// Shared by `train` and the tests: trains `net` and returns it with the per-step history.
func trainNetwork(_ net: Transformer, documents: [[Int]], source: String, options o: TrainOptions,
                  progress: ProgressHandler?) throws -> (net: Transformer, losses: [Double], lrs: [Double], norms: [Double]) {
    try o.validate(for: net.config)
    var sampler = BatchSampler(documents: documents, seq: o.seq, seed: o.seed)
    guard !sampler.isEmpty else {
        throw CoreError("no document with at least 2 tokens to train on", file: source)
    }
    var state = TrainerState(net: net, options: o.adamW)
    var losses: [Double] = [], lrs: [Double] = [], norms: [Double] = []
    for s in 0..<o.steps {
        try Cancellation.shared.check()
        let lr = o.lr(at: s)
        let (loss, norm) = try state.step(documents: sampler.next(o.batch), lr: lr, number: s + 1)
        losses.append(loss); lrs.append(lr); norms.append(norm)
        progress?(s + 1, o.steps, String(format: "loss %.4f", loss))
    }
    return (state.net, losses, lrs, norms)
}

// MARK: Public entry points

/// Continued training of `model` on `corpus` with AdamW; returns the full run (model, losses,
/// learning rates, gradient norms). The returned model's step is the input's step + `steps`
/// (nil when the input's step is unknown); its coefficient multipliers are kept.
///
/// - Throws: `CoreError` naming the first invalid option, a corpus without a document of 2 tokens,
///   a non-finite loss or gradient, or "cancelled".
public func trainRun(_ model: Model, on corpus: Corpus, options: TrainOptions, progress: ProgressHandler? = nil) throws -> TrainResult {
    let (net, losses, lrs, norms) = try trainNetwork(Transformer(model), documents: corpus.documents,
                                                     source: corpus.source, options: options, progress: progress)
    let o = options
    let note = "train \(o.steps) steps on \(corpus.source) (batch \(o.batch)×\(o.seq), lr \(o.lr), \(o.schedule.name))"
    let trained = try model.with(params: net.params, addingIntervention: note, step: .some(model.step.map { $0 + o.steps }))
    return TrainResult(model: trained, losses: losses, learningRates: lrs, gradNorms: norms)
}

/// Continued training of `model` on `corpus`; returns a new model (the input is unchanged).
/// Progress notes read "loss 3.2145". See `trainRun` for the step counter.
///
/// - Throws: `CoreError` as `trainRun` does.
public func train(_ model: Model, on corpus: Corpus, options: TrainOptions, progress: ProgressHandler? = nil) throws -> Model {
    try trainRun(model, on: corpus, options: options, progress: progress).model
}
