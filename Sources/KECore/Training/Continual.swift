import Foundation

// MARK: Continual pretraining with sparse knowledge injection (Kim et al. 2025, the paper's protocol)
//
// The experiment behind the paper's findings 2 and 3, as its code runs it (kaistAI/Knowledge-
// Entropy: olmo/train.py `fit` and `insert_data`, olmo/optim.py `CosWithWarmup` and
// `get_param_groups`, configs/1B/1B_bs128_lr4e4_pubmed_1ep_738k.yaml):
//
// - Rows. The continual corpus is packed into rows of S tokens (`corpus … seq S pack`). Step
//   g = 1 … N trains on rows (g − 1)·B … g·B − 1 in stored order, starting again from row 0 when
//   the corpus runs out.
// - Events. Event e = 1, 2, … happens at step g = e·K while e·K ≤ N. Its facts, in order: version
//   ((e − 1) mod V) + 1 of every FACTS item (V = FACTS' `versions`; version 1 is `train_context`,
//   version v is `paraphrases[v − 2]`), then group e of the `once` items (their version 1; the
//   once items are split into ⌊N/K⌋ consecutive groups whose sizes differ by at most one, the
//   larger first). Each fact is tokenised without special tokens and followed by EOS (nothing
//   for a tokenizer without one). The n facts are split the same way into min(B, n) groups; group
//   j, concatenated, is prepended to row j of the batch and the row is cut back to S tokens
//   (`insert_data` and its `split_and_concatenate`): the corpus text after a fact attends to it.
// - Loss. The mean next-token cross-entropy over every position of every row, B × (S − 1)
//   targets, with nothing masked.
// - Learning rate. OLMo's `CosWithWarmup` (`olmoCosineWithWarmup`) at step g.
// - Optimiser. AdamW with a fresh state, β1/β2, ε, weight decay on the weights of linear layers
//   only (`WeightDecayGroups.linearWeights`), the gradient clipped to global norm C.
// - Evaluation. At step 0, right after the update of every event step, and after step N:
//   K = the mean over every probe of every kind (memorisation, generalisation, composition) of
//   FACTS and `once` together of the probe's mean target log-probability (`probe`'s logprob).
//   Acquisition A = 1 − K_end / K_0 (K < 0, so A > 0 when the facts became likelier). With
//   tasks, P = the mean multiple-choice score (`evaluate`) at step 0 and after step N, and
//   forgetting F = 1 − P_end / P_0.
//
// Nothing is random: rows and facts are taken in order, so a run gives the same bits on every
// machine and thread count.

/// Options of the paper's continual-pretraining mode of `inject`.
public struct ContinualOptions: Sendable, Equatable {
    /// Optimiser steps N.
    public var steps: Int = 100
    /// Rows per step B.
    public var batch: Int = 8
    /// Tokens per row S (nil: the corpus's row length, the only value allowed).
    public var seq: Int? = nil
    /// Steps between injection events K (nil: max(1, N / 10)).
    public var every: Int? = nil
    /// Peak learning rate X.
    public var lr: Double = 3e-4
    /// Warm-up steps W (from 10 % of the peak, OLMo's `_linear_warmup`).
    public var warmup: Int = 0
    /// The floor of the cosine as a fraction of the peak (OLMo's `alpha_f`).
    public var finalLRFraction: Double = 0.1
    public var beta1: Double = 0.9
    public var beta2: Double = 0.95
    public var eps: Double = 1e-8
    /// Decoupled weight decay on the weights of linear layers.
    public var weightDecay: Double = 0.1
    /// Global gradient-norm clip (nil: none).
    public var clip: Double? = 1.0
    /// Facts injected once each (a group per event); nil: none.
    public var once: FactSet? = nil
    /// Multiple-choice tasks whose score measures forgetting; nil: none.
    public var tasks: TaskSuite? = nil
    /// The protocol the settings came from ("kim2025"), for the report; nil: ke's defaults.
    public var protocolName: String? = nil

    public init() {}

    /// The paper's settings (configs/1B/1B_bs128_lr4e4_pubmed_1ep_738k.yaml and OLMo's AdamW):
    /// an event every 160 steps, 1,600 steps, 128 rows of 1,024 tokens, peak 4e-4, 80 warm-up
    /// steps, cosine to 10 % of the peak, ε 1e-5, weight decay 0.1, clip 1.0.
    public static var kim2025: ContinualOptions {
        var o = ContinualOptions()
        o.every = 160; o.steps = 1600; o.batch = 128; o.seq = 1024; o.lr = 4e-4; o.warmup = 80
        o.finalLRFraction = 0.1; o.eps = 1e-5; o.weightDecay = 0.1; o.clip = 1.0
        o.protocolName = "kim2025"
        return o
    }

    /// K: `every`, or max(1, steps / 10).
    public var eventInterval: Int { every ?? max(1, steps / 10) }

    /// The learning rate at 1-based step `g`.
    public func lr(at g: Int) -> Double {
        olmoCosineWithWarmup(step: g, total: steps, peak: lr, warmup: warmup, finalFraction: finalLRFraction)
    }

    var adamW: AdamWOptions {
        AdamWOptions(beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, clip: clip,
                     decayGroups: .linearWeights)
    }

    /// Throws a `CoreError` naming the first invalid option.
    func validate() throws {
        guard steps >= 1, steps <= 1 << 31 else { throw CoreError("steps must be between 1 and 2^31") }
        guard batch >= 1, batch <= 1 << 20 else { throw CoreError("batch must be between 1 and 2^20 rows") }
        if let seq { guard seq >= 2, seq <= 1 << 20 else { throw CoreError("seq must be between 2 and 2^20") } }
        guard eventInterval >= 1 else { throw CoreError("every must be at least 1") }
        guard eventInterval <= steps else {
            throw CoreError("every \(eventInterval) is more than steps \(steps): no injection event would happen")
        }
        guard lr.isFinite, lr >= 0 else { throw CoreError("lr must be a finite number ≥ 0") }
        guard warmup >= 0 else { throw CoreError("warmup must be ≥ 0") }
        guard finalLRFraction.isFinite, finalLRFraction >= 0, finalLRFraction <= 1 else {
            throw CoreError("the final learning-rate fraction must be between 0 and 1")
        }
        guard weightDecay.isFinite, weightDecay >= 0 else { throw CoreError("weight decay must be a finite number ≥ 0") }
        if let clip, !(clip.isFinite && clip > 0) { throw CoreError("clip must be a finite number > 0") }
        guard beta1 >= 0, beta1 < 1, beta2 >= 0, beta2 < 1 else { throw CoreError("betas must be in [0, 1)") }
        guard eps.isFinite, eps > 0 else { throw CoreError("eps must be > 0") }
    }
}

/// A figure at the start (step 0) and at the end (after step N) of a run.
public struct StartEnd: Sendable, Equatable {
    public var start: Double
    public var end: Double
    public init(start: Double, end: Double) { self.start = start; self.end = end }
}

/// K (mean probe log-probability) of the probe subsets at one evaluation.
public struct KnowledgeProbe: Sendable, Equatable {
    /// Every probe of FACTS and `once`.
    public var all: Double
    /// FACTS' probes.
    public var paraphrase: Double
    /// The `once` probes (nil without once facts).
    public var once: Double?
    /// Memorisation, generalisation and composition probes of both sets (composition nil when
    /// neither set has any).
    public var memorization: Double
    public var generalization: Double
    public var composition: Double?
}

/// The evaluations of a continual run, one entry per evaluation point.
public struct ContinualCurve: Sendable, Equatable {
    /// Steps evaluated: 0, every event step, and N.
    public var steps: [Int] = []
    /// K at each step, and its subsets.
    public var k: [KnowledgeProbe] = []
    /// Training loss (nats) of the step just taken; nil at step 0.
    public var loss: [Double?] = []
    /// Learning rate of the step just taken; nil at step 0.
    public var lr: [Double?] = []
}

/// One task's score at the start and the end.
public struct TaskChange: Sendable, Equatable {
    public var name: String
    public var start: Double
    public var end: Double
}

/// The outcome of the paper's protocol.
public struct ContinualReport: Sendable {
    /// A = 1 − K_end / K_0.
    public var acquisition: Double
    /// F = 1 − P_end / P_0 (nil without tasks, or when P_0 is 0).
    public var forgetting: Double?
    public var curve: ContinualCurve
    /// Multiple-choice evaluations at step 0 and after step N (nil without tasks).
    public var tasksStart: Evaluation?
    public var tasksEnd: Evaluation?
    /// Loss and learning rate of every step 1 … N.
    public var losses: [Double]
    public var learningRates: [Double]
    /// Steps at which facts were injected.
    public var eventSteps: [Int]
    /// Passes over the corpus begun: ⌈N·B / rows⌉.
    public var corpusEpochs: Int
    /// Rows of the corpus.
    public var corpusRows: Int
    /// Fact tokens that fell beyond S when prepended (a cut fact is not fully taught).
    public var factTokensCut: Int
    /// Facts injected over the run (every version of every event).
    public var factsInjected: Int
    /// The settings the run used (`seq` and `every` resolved).
    public var options: ContinualOptions
    /// The trained model.
    public var model: Model

    /// K at step 0 and at the end, for each subset.
    public var k: StartEnd { StartEnd(start: curve.k.first!.all, end: curve.k.last!.all) }
    public func k(_ part: KeyPath<KnowledgeProbe, Double>) -> StartEnd {
        StartEnd(start: curve.k.first![keyPath: part], end: curve.k.last![keyPath: part])
    }
    public func k(_ part: KeyPath<KnowledgeProbe, Double?>) -> StartEnd? {
        guard let s = curve.k.first![keyPath: part], let e = curve.k.last![keyPath: part] else { return nil }
        return StartEnd(start: s, end: e)
    }
    /// P = mean task score at the start and the end (nil without tasks).
    public var p: StartEnd? {
        guard let s = tasksStart, let e = tasksEnd else { return nil }
        return StartEnd(start: s.mean, end: e.mean)
    }
    /// Each task's score at the start and the end.
    public var taskChanges: [TaskChange] {
        guard let s = tasksStart, let e = tasksEnd else { return [] }
        return zip(s.tasks, e.tasks).map { TaskChange(name: $0.name, start: $0.score, end: $1.score) }
    }
}

/// Sizes of `count` things split into `groups` consecutive groups whose sizes differ by at most
/// one, the larger first (`split_and_concatenate`): the ranges of each group.
func balancedGroups(_ count: Int, into groups: Int) -> [Range<Int>] {
    guard groups > 0 else { return [] }
    let base = count / groups, extra = count % groups
    var out: [Range<Int>] = []
    var start = 0
    for g in 0..<groups {
        let size = base + (g < extra ? 1 : 0)
        out.append(start..<(start + size))
        start += size
    }
    return out
}

/// The probes of FACTS and `once`, tokenised once, with what each belongs to.
struct ContinualProbes {
    enum Kind { case memorization, generalization, composition }
    var probes: [TokenizedProbe] = []
    var isOnce: [Bool] = []
    var kinds: [Kind] = []

    init(facts: FactSet, once: FactSet?, encode: (String) -> [Int]) throws {
        for (set, onceSet) in [(facts, false)] + (once.map { [($0, true)] } ?? []) {
            let p = try FactProbes(set, encode: encode)
            for (list, kind) in [(p.memorization, Kind.memorization), (p.generalization, .generalization),
                                 (p.composition ?? [], .composition)] {
                probes += list
                isOnce += Array(repeating: onceSet, count: list.count)
                kinds += Array(repeating: kind, count: list.count)
            }
        }
    }

    /// K and its subsets under `net`: each the mean of its probes' mean target log-probability.
    func score(_ net: Transformer) throws -> KnowledgeProbe {
        let s = try scoreProbes(net, probes).map(\.logprob)
        func mean(_ keep: (Int) -> Bool) -> Double? {
            var sum = 0.0, n = 0
            for i in s.indices where keep(i) { sum += s[i]; n += 1 }
            return n == 0 ? nil : sum / Double(n)
        }
        return KnowledgeProbe(all: mean { _ in true }!, paraphrase: mean { !isOnce[$0] }!,
                              once: mean { isOnce[$0] },
                              memorization: mean { kinds[$0] == .memorization }!,
                              generalization: mean { kinds[$0] == .generalization }!,
                              composition: mean { kinds[$0] == .composition })
    }
}

/// The facts of every event, tokenised and followed by EOS: `events[e − 1]` lists event e's facts.
func continualEventFacts(facts: FactSet, once: FactSet?, events: Int, eos: Int?,
                         encode: (String) -> [Int]) -> [[[Int]]] {
    let V = facts.versions
    let onceGroups = once.map { balancedGroups($0.items.count, into: events) } ?? []
    func ids(_ text: String) -> [Int] { encode(text) + (eos.map { [$0] } ?? []) }
    guard events >= 1 else { return [] }
    return (1...events).map { e in
        var out = facts.items.map { ids($0.versions[(e - 1) % V]) }
        if let once { out += onceGroups[e - 1].map { ids(once.items[$0].trainContext) } }
        return out
    }
}

/// The batch of 1-based step `g`: rows (g − 1)·B … g·B − 1 of `rows` (from row 0 again past the
/// end), with `facts` (an event's facts, each already followed by EOS; empty at other steps)
/// split into min(B, n) balanced groups, group j prepended to row j and the row cut to `seq`.
/// Returns the batch and the number of fact tokens the cut removed.
func continualBatch(step g: Int, rows: [[Int]], batch B: Int, seq S: Int, facts: [[Int]]) -> (rows: [[Int]], factTokensCut: Int) {
    var batch = (0..<B).map { rows[((g - 1) * B + $0) % rows.count] }
    var cut = 0
    for (j, group) in balancedGroups(facts.count, into: min(B, facts.count)).enumerated() {
        let prefix = group.flatMap { facts[$0] }
        cut += max(0, prefix.count - S)
        batch[j] = Array((prefix + batch[j]).prefix(S))
    }
    return (batch, cut)
}

/// The paper's protocol on a network; `encode` tokenises facts and probes, `eos` ends each fact,
/// and `finish` makes the report's model from the trained network and the resolved options.
func continualNetwork(_ facts: FactSet, into net: Transformer, corpus: Corpus, eos: Int?,
                      encode: (String) -> [Int], options given: ContinualOptions,
                      progress: ProgressHandler?,
                      finish: (Transformer, ContinualOptions) throws -> Model) throws -> ContinualReport {
    var o = given
    try o.validate()
    guard let rowLength = corpus.rowLength, !corpus.documents.isEmpty else {
        throw CoreError("the paper's protocol trains on a packed corpus: use corpus \"FILE\" seq N pack (or a .npy token file)",
                        file: corpus.source)
    }
    let S = o.seq ?? rowLength
    guard S == rowLength else {
        throw CoreError("seq \(S) differs from the corpus's rows of \(rowLength) tokens; pack the corpus with seq \(S), or drop seq",
                        file: corpus.source)
    }
    o.seq = S
    o.every = o.eventInterval
    if net.config.learnedPositions && S > net.config.maxPositions {
        throw CoreError("rows of \(S) tokens exceed the model's \(net.config.maxPositions) positions", file: corpus.source)
    }
    try facts.validate()
    guard facts.versions >= 1 else { throw CoreError("the fact set has no items", file: facts.source) }
    if let once = o.once { try once.validate() }
    let N = o.steps, B = o.batch, K = o.eventInterval
    let events = N / K
    let probes = try ContinualProbes(facts: facts, once: o.once, encode: encode)
    let eventFacts = continualEventFacts(facts: facts, once: o.once, events: events, eos: eos, encode: encode)
    let rows = corpus.documents
    let R = rows.count

    var curve = ContinualCurve()
    func evaluate(_ net: Transformer, step: Int, loss: Double?, lr: Double?) throws {
        curve.steps.append(step)
        curve.k.append(try probes.score(net))
        curve.loss.append(loss)
        curve.lr.append(lr)
    }
    try evaluate(net, step: 0, loss: nil, lr: nil)
    let tasksStart = try o.tasks.map { try evaluateNetwork(net, on: $0, encode: encode) }

    var state = TrainerState(net: net, options: o.adamW)
    var losses: [Double] = [], lrs: [Double] = [], eventSteps: [Int] = []
    var cut = 0, injected = 0
    for g in 1...N {
        try Cancellation.shared.check()
        let isEvent = g % K == 0 && g / K <= events
        let fs = isEvent ? eventFacts[g / K - 1] : []
        let (batch, c) = continualBatch(step: g, rows: rows, batch: B, seq: S, facts: fs)
        cut += c
        injected += fs.count
        if isEvent { eventSteps.append(g) }
        let lr = o.lr(at: g)
        let (loss, _) = try state.step(documents: batch, lr: lr, number: g)
        losses.append(loss)
        lrs.append(lr)
        if isEvent || g == N { try evaluate(state.net, step: g, loss: loss, lr: lr) }
        progress?(g, N, String(format: "loss %.4f", loss))
    }
    let tasksEnd = try o.tasks.map { try evaluateNetwork(state.net, on: $0, encode: encode) }
    let k0 = curve.k.first!.all, kN = curve.k.last!.all
    var forgetting: Double? = nil
    if let s = tasksStart, let e = tasksEnd, s.mean > 0 { forgetting = 1 - e.mean / s.mean }
    // Rows used: N·B; passes begun: ⌈N·B / R⌉.
    let epochs = (N * B + R - 1) / R
    return ContinualReport(
        acquisition: 1 - kN / k0, forgetting: forgetting, curve: curve, tasksStart: tasksStart, tasksEnd: tasksEnd,
        losses: losses, learningRates: lrs, eventSteps: eventSteps, corpusEpochs: epochs, corpusRows: R,
        factTokensCut: cut, factsInjected: injected, options: o, model: try finish(state.net, o))
}

/// Runs the paper's continual-pretraining protocol (see the notes at the top of this file):
/// `model` is trained for `options.steps` steps on the rows of the packed `corpus`, with the
/// versions of `facts` (and groups of `options.once`) prepended to the first rows of every K-th
/// step's batch, and reports acquisition A, forgetting F (with tasks), K and its subsets at every
/// evaluation, and the trained model (its step is the input's + N; the input is unchanged).
///
/// - Throws: `CoreError` for an invalid option, an unpacked corpus or one whose rows are not
///   `seq` long, fact sets without probes, a non-finite loss, or "cancelled".
public func continualPretraining(_ facts: FactSet, into model: Model, on corpus: Corpus, options: ContinualOptions,
                                 progress: ProgressHandler? = nil) throws -> ContinualReport {
    let tok = model.tokenizer
    let eos = model.directoryInfo?.eosTokenIDs.first
    return try continualNetwork(facts, into: Transformer(model), corpus: corpus, eos: eos, encode: { tok.encode($0) },
                                options: options, progress: progress) { net, o in
        let note = "continual pretraining on \(corpus.source) with \(facts.count) facts from \(facts.source)"
            + (o.once.map { " and \($0.count) once facts from \($0.source)" } ?? "")
            + " (\(o.steps) steps, every \(o.eventInterval), lr \(o.lr)" + (o.protocolName.map { ", protocol \($0)" } ?? "") + ")"
        return try model.with(params: net.params, addingIntervention: note, step: .some(model.step.map { $0 + o.steps }))
    }
}
