import Foundation

// MARK: Knowledge injection (Chang et al. 2024 style)
//
// Continued training in which the facts' `train_context`s are mixed into the batches.
//
// Mixing rule: every context is tokenised and cut into consecutive windows of at most `seq`
// tokens (windows of one token are dropped: nothing to predict). Each step's batch holds
// `batch` documents: k = max(1, round(batch × factFraction)) fact windows, taken cyclically in
// file order (step s uses windows s·k … s·k + k − 1, modulo their number), and batch − k replay
// documents sampled as `train` samples (seeded shuffle, random crop to `seq`). Without a replay
// corpus every slot holds fact windows. The learning rate follows `schedule` (constant by
// default) after `warmup` steps, with AdamW as in `train`.
//
// Held-out replay: the replay corpus's documents with at least 2 tokens are split once, by a
// seeded shuffle that does not depend on the run's seed, into a held-out part
// (`replayHeldoutFraction`, at least one document) and a training part. Batches sample only the
// training part; the replay perplexity is measured only on the held-out part, so it measures
// what the model retains of text it was not trained on during injection.

/// Options of `inject`.
public struct InjectOptions: Sendable {
    /// The optimisation, as for `train`: steps, documents per step (fact windows + replay
    /// documents), tokens per document, peak learning rate (default 1e-4), warm-up, schedule
    /// (default constant), floor, weight decay, clip, betas, eps and the sampler's seed.
    public var training: TrainOptions
    /// Corpus whose documents fill the rest of each batch (nil: facts only).
    public var replay: Corpus?
    /// Facts whose probe accuracy is tracked for retention (nil: none).
    public var retain: FactSet?
    /// Evaluate acquisition and retention every this many steps (0: only before and after).
    public var evalEvery: Int = 0
    /// Share of each batch given to fact windows when there is a replay corpus.
    public var factFraction: Double = 0.5
    /// At most this many held-out replay documents (the first ones) are used for the replay perplexity.
    public var replayEvalDocuments: Int = 256
    /// Share of the replay documents held out of training to measure the replay perplexity.
    public var replayHeldoutFraction: Double = 0.1

    public init(steps: Int = 100, lr: Double = 1e-4, batch: Int = 8, seq: Int = 128, replay: Corpus? = nil,
                retain: FactSet? = nil, evalEvery: Int = 0, factFraction: Double = 0.5, seed: UInt64 = 0) {
        self.training = TrainOptions(steps: steps, batch: batch, seq: seq, lr: lr, schedule: .constant, seed: seed)
        self.replay = replay
        self.retain = retain; self.evalEvery = evalEvery; self.factFraction = factFraction
    }
}

/// Acquisition and retention measured during injection.
public struct InjectCurve: Sendable, Equatable {
    /// Steps at which the figures were taken (0 = before injection, the last = `steps`).
    public var steps: [Int] = []
    /// Pooled memorisation + generalisation accuracy on the injected facts.
    public var acquisition: [Double] = []
    /// Retain-set accuracy ÷ its accuracy before injection (nil entries when undefined).
    public var retention: [Double?] = []
    /// Training loss (mean next-token cross-entropy in nats over the batch) of the step that
    /// ended at each logged step; nil at step 0, before any training.
    public var loss: [Double?] = []
}

/// The split of a replay corpus into documents trained on and documents held out.
public struct ReplaySplit: Sendable, Equatable {
    /// Indices (into the corpus's documents) trained on, in corpus order.
    public var train: [Int]
    /// Indices held out for the replay perplexity, in corpus order.
    public var heldout: [Int]
    /// The fraction asked for.
    public var fraction: Double
}

/// Splits the documents with at least 2 tokens of `documents` into a training and a held-out part:
/// round(n · fraction) documents (at least 1, at most n − 1) chosen by a SplitMix64 shuffle with a
/// fixed seed, so every injection with the same replay corpus holds out the same documents.
///
/// - Throws: `CoreError` when fewer than 2 documents have 2 or more tokens.
public func replaySplit(_ documents: [[Int]], fraction: Double, source: String? = nil) throws -> ReplaySplit {
    let usable = documents.indices.filter { documents[$0].count >= 2 }
    guard usable.count >= 2 else {
        throw CoreError("the replay corpus needs at least 2 documents with 2 or more tokens (one is held out to measure the replay perplexity), found \(usable.count)", file: source)
    }
    guard fraction.isFinite, fraction > 0, fraction < 1 else { throw CoreError("the held-out fraction must be in (0, 1)") }
    let h = min(usable.count - 1, max(1, Int((Double(usable.count) * fraction).rounded())))
    var order = usable
    var rng = SplitMix64(seed: 0x7265_706C_6179)  // fixed: the split does not depend on the run's seed
    for i in stride(from: order.count - 1, to: 0, by: -1) {
        let j = rng.below(i + 1)
        order.swapAt(i, j)
    }
    let held = Set(order.prefix(h))
    return ReplaySplit(train: usable.filter { !held.contains($0) }, heldout: usable.filter { held.contains($0) },
                       fraction: fraction)
}

/// The outcome of `inject`.
public struct InjectReport: Sendable {
    /// Mean target-token accuracy over all memorisation and generalisation probes of the
    /// injected facts after injection (pooled: mean over those probes).
    public var acquisition: Double
    /// After injection.
    public var memorization: ProbeScore
    public var generalization: ProbeScore
    public var composition: ProbeScore?
    /// Injected facts' scores before and after.
    public var before: ProbeResult
    public var after: ProbeResult
    /// Pooled mean log-probability after minus before.
    public var gain: Double
    /// Retain facts' pooled accuracy after ÷ before (nil without retain set, or when before is 0).
    public var retention: Double?
    /// 1 − retention.
    public var forgetting: Double?
    public var retainBefore: ProbeResult?
    public var retainAfter: ProbeResult?
    /// Perplexity on (the first `replayEvalDocuments` of) the held-out replay documents, which
    /// injection never trains on.
    public var replayPerplexityBefore: Double?
    public var replayPerplexityAfter: Double?
    /// How the replay corpus was split (nil without replay).
    public var replaySplit: ReplaySplit?
    public var curve: InjectCurve

    /// Below this many correct target tokens before injection, the retain set's accuracy is
    /// too thin a base for `retention` (one token can decide "total forgetting").
    public static let minimumRetainCorrectTokens = 20

    /// False when `retention` rests on fewer than `minimumRetainCorrectTokens` correct target
    /// tokens of the retain set before injection; nil without a retain set.
    public var retentionReliable: Bool? {
        retainBefore.map { $0.pooled.correctTokens >= InjectReport.minimumRetainCorrectTokens }
    }

    /// Warnings about the report (empty when all is well), for the caller to show.
    public var warnings: [String] {
        guard let b = retainBefore, retentionReliable == false else { return [] }
        let p = b.pooled
        return ["retention rests on \(p.correctTokens) correct target token\(p.correctTokens == 1 ? "" : "s") "
                + "(of \(p.targetTokens)) of the retain set before injection, fewer than "
                + "\(InjectReport.minimumRetainCorrectTokens): it is unreliable (marked retention_reliable false); "
                + "use a retain set the model knows better"]
    }
    /// Per-step training loss.
    public var losses: [Double]
    /// The injected model.
    public var model: Model
}

/// Everything of the report except the model (the core works on `Transformer`s).
struct InjectFigures {
    var before: ProbeResult, after: ProbeResult
    var retainBefore: ProbeResult?, retainAfter: ProbeResult?
    var replayBefore: Double?, replayAfter: Double?
    var replaySplit: ReplaySplit?
    var curve: InjectCurve
    var losses: [Double]
}

/// retention = after / before of the pooled accuracy; nil when before is 0.
func retentionRatio(_ before: ProbeResult?, _ after: ProbeResult?) -> Double? {
    guard let b = before?.pooled.accuracy, let a = after?.pooled.accuracy, b > 0 else { return nil }
    return a / b
}

/// Fact contexts cut into windows of at most `seq` tokens (at least 2 tokens each).
func factWindows(_ facts: FactSet, seq: Int, encode: (String) -> [Int]) -> [[Int]] {
    var out: [[Int]] = []
    for ctx in facts.contexts {
        let ids = encode(ctx)
        var s = 0
        while s < ids.count {
            let e = min(ids.count, s + seq)
            if e - s >= 2 { out.append(Array(ids[s..<e])) }
            s = e
        }
    }
    return out
}

/// The injection loop on a network; `encode` tokenises contexts and probes.
func injectNetwork(_ facts: FactSet, into net: Transformer, encode: (String) -> [Int], options o: InjectOptions,
                   progress: ProgressHandler?) throws -> (Transformer, InjectFigures) {
    let t = o.training
    try t.validate(for: net.config)
    guard o.evalEvery >= 0 else { throw CoreError("evalEvery must be ≥ 0") }
    guard o.factFraction.isFinite, o.factFraction > 0, o.factFraction <= 1 else {
        throw CoreError("the fact fraction must be in (0, 1]")
    }
    guard o.replayEvalDocuments >= 1 else { throw CoreError("replayEvalDocuments must be at least 1") }
    try facts.validate()
    let probes = try FactProbes(facts, encode: encode)
    let retainProbes = try o.retain.map { try FactProbes($0, encode: encode) }
    let windows = factWindows(facts, seq: o.training.seq, encode: encode)
    guard !windows.isEmpty else { throw CoreError("no train_context has 2 or more tokens", file: facts.source) }
    var sampler: BatchSampler? = nil
    var replayEval: [[Int]] = []
    var split: ReplaySplit? = nil
    if let replay = o.replay {
        let sp = try replaySplit(replay.documents, fraction: o.replayHeldoutFraction, source: replay.source)
        let s = BatchSampler(documents: sp.train.map { replay.documents[$0] }, seq: o.training.seq, seed: o.training.seed)
        guard !s.isEmpty else { throw CoreError("no replay document with at least 2 tokens", file: replay.source) }
        sampler = s
        split = sp
        replayEval = sp.heldout.prefix(o.replayEvalDocuments).map { Array(replay.documents[$0].prefix(o.training.seq)) }
    }
    let k = sampler == nil ? o.training.batch : max(1, min(o.training.batch, Int((Double(o.training.batch) * o.factFraction).rounded())))

    let before = try probes.score(net)
    let retainBefore = try retainProbes?.score(net)
    let replayBefore = replayEval.isEmpty ? nil : exp(try evaluationLoss(net, documents: replayEval).loss)
    var curve = InjectCurve()
    curve.steps.append(0)
    curve.acquisition.append(before.pooled.accuracy)
    curve.loss.append(nil)
    if retainProbes != nil { curve.retention.append(retentionRatio(retainBefore, retainBefore)) }

    var state = TrainerState(net: net, options: t.adamW)
    var losses: [Double] = []
    var after = before, retainAfter = retainBefore
    for s in 0..<o.training.steps {
        try Cancellation.shared.check()
        var docs: [[Int]] = []
        for i in 0..<k { docs.append(windows[(s * k + i) % windows.count]) }
        if var replaySampler = sampler {
            docs += replaySampler.next(o.training.batch - k)
            sampler = replaySampler
        }
        let (loss, _) = try state.step(documents: docs, lr: t.lr(at: s), number: s + 1)
        losses.append(loss)
        let isLast = s + 1 == o.training.steps
        if isLast || (o.evalEvery > 0 && (s + 1) % o.evalEvery == 0) {
            after = try probes.score(state.net)
            retainAfter = try retainProbes?.score(state.net)
            curve.steps.append(s + 1)
            curve.acquisition.append(after.pooled.accuracy)
            curve.loss.append(loss)
            if retainProbes != nil { curve.retention.append(retentionRatio(retainBefore, retainAfter)) }
        }
        progress?(s + 1, o.training.steps, String(format: "loss %.4f", loss))
    }
    let replayAfter = replayEval.isEmpty ? nil : exp(try evaluationLoss(state.net, documents: replayEval).loss)
    return (state.net, InjectFigures(before: before, after: after, retainBefore: retainBefore, retainAfter: retainAfter,
                                     replayBefore: replayBefore, replayAfter: replayAfter, replaySplit: split,
                                     curve: curve, losses: losses))
}

/// Injects `facts` into `model` by continued training (see the mixing rule above) and reports
/// acquisition, log-probability gain, retention of `options.retain`, replay perplexity and the
/// curve of acquisition/retention every `evalEvery` steps. The input model is unchanged; the
/// injected model's step is the input's step + `steps` (nil when unknown).
///
/// - Throws: `CoreError` naming the first invalid option (see `TrainOptions`), a fact set without
///   probes, a replay corpus too small to split, a non-finite loss, or "cancelled".
public func inject(_ facts: FactSet, into model: Model, options: InjectOptions,
                   progress: ProgressHandler? = nil) throws -> InjectReport {
    let tok = model.tokenizer
    let (net, f) = try injectNetwork(facts, into: Transformer(model), encode: { tok.encode($0) }, options: options,
                                     progress: progress)
    let note = "inject \(facts.count) facts from \(facts.source) (\(options.training.steps) steps, lr \(options.training.lr)"
        + (options.replay.map { ", replay \($0.source)" } ?? "") + ")"
    let injected = try model.with(params: net.params, addingIntervention: note,
                              step: .some(model.step.map { $0 + options.training.steps }))
    let retention = retentionRatio(f.retainBefore, f.retainAfter)
    return InjectReport(
        acquisition: f.after.pooled.accuracy, memorization: f.after.memorization,
        generalization: f.after.generalization, composition: f.after.composition,
        before: f.before, after: f.after, gain: f.after.pooled.logprob - f.before.pooled.logprob,
        retention: retention, forgetting: retention.map { 1 - $0 },
        retainBefore: f.retainBefore, retainAfter: f.retainAfter,
        replayPerplexityBefore: f.replayBefore, replayPerplexityAfter: f.replayAfter, replaySplit: f.replaySplit,
        curve: f.curve, losses: f.losses, model: injected)
}
