import Foundation

// MARK: Building a tiny run
//
// Pretrains the tiny OLMo of a `TinyRunConfig` on its world's stream, exactly as
// `Scripts/research/WIRING.md` describes: seeded N(0, initStd) initialisation of every matrix;
// for step k = 1…steps the batch `world.trainBatch(step: k, batch:)` (fresh biographies every
// step, no padding) at learning rate `config.learningRate(atStep: k − 1)`; AdamW (β 0.9/0.95,
// ε 1e-8, weight decay on every matrix, clip 1.0). After each checkpoint step the model is
// saved as an ordinary Hugging Face directory (temp sibling + rename, so a directory that
// exists is complete). The caller (`TinyLab`) owns locking and the `complete` marker.

/// What a build reports after every step.
public struct TinyRunProgress: Sendable {
    /// Steps done (1-based) and the run's total.
    public var step: Int
    public var steps: Int
    /// Mean training loss of this step's batch (before the update) and its learning rate.
    public var loss: Double
    public var learningRate: Double
    /// The step, when a checkpoint was saved after it.
    public var checkpoint: Int?
    /// Knowledge entropy on the held-out text at that checkpoint (when measured).
    public var entropy: EntropyResult?
}

/// Receives `TinyRunProgress` after every step.
public typealias TinyRunProgressHandler = @Sendable (TinyRunProgress) -> Void

/// The history of a finished build, stored as `log.json` in the run directory.
public struct TinyRunLog: Sendable, Equatable {
    /// Per step: mean training loss, learning rate, gradient norm before clipping.
    public var losses: [Double]
    public var learningRates: [Double]
    public var gradNorms: [Double]
    /// Checkpoint steps, and the held-out knowledge entropy (total) at each when measured
    /// (empty when not measured).
    public var checkpointSteps: [Int]
    public var checkpointEntropy: [Double]
    /// Wall time of the build in seconds.
    public var seconds: Double

    public init(losses: [Double] = [], learningRates: [Double] = [], gradNorms: [Double] = [],
                checkpointSteps: [Int] = [], checkpointEntropy: [Double] = [], seconds: Double = 0) {
        self.losses = losses; self.learningRates = learningRates; self.gradNorms = gradNorms
        self.checkpointSteps = checkpointSteps; self.checkpointEntropy = checkpointEntropy
        self.seconds = seconds
    }

    /// The log as JSON.
    public var json: JSONValue {
        func nums(_ xs: [Double]) -> JSONValue { .array(xs.map { $0.isFinite ? .double($0) : .null }) }
        return .object([
            ("losses", nums(losses)), ("learning_rates", nums(learningRates)), ("grad_norms", nums(gradNorms)),
            ("checkpoint_steps", .array(checkpointSteps.map { .int($0) })),
            ("checkpoint_entropy", nums(checkpointEntropy)), ("seconds", .double(seconds)),
        ])
    }

    /// Reads a log written by `json`; throws on anything else.
    ///
    /// - Throws: `CoreError` naming `file` when a field is missing or not a list of numbers, or a
    ///   checkpoint step is not an integer.
    public init(json: JSONValue, file: String? = nil) throws {
        func nums(_ key: String) throws -> [Double] {
            guard let a = json[key]?.arrayValue else { throw CoreError("log: missing \"\(key)\"", file: file) }
            return a.map { $0.doubleValue ?? .nan }
        }
        guard let steps = json["checkpoint_steps"]?.arrayValue else { throw CoreError("log: missing \"checkpoint_steps\"", file: file) }
        self.init(losses: try nums("losses"), learningRates: try nums("learning_rates"), gradNorms: try nums("grad_norms"),
                  checkpointSteps: try steps.map { v in
                      guard let s = v.intValue else { throw CoreError("log: a checkpoint step is not an integer", file: file) }
                      return s
                  },
                  checkpointEntropy: try nums("checkpoint_entropy"), seconds: json["seconds"]?.doubleValue ?? 0)
    }
}

/// Builds tiny runs: the initial model and the pretraining loop with checkpoints.
public enum TinyRunBuilder {
    // MARK: Counters (for tests: a cache hit must not train)

    private static let counterLock = NSLock()
    nonisolated(unsafe) private static var started = 0

    /// Builds started in this process so far.
    public static var buildCount: Int {
        counterLock.lock(); defer { counterLock.unlock() }
        return started
    }

    // MARK: Model

    /// The world's tokenizer (WordLevel + Whitespace), parsed from `world.tokenizerJSON()`.
    ///
    /// - Throws: `CoreError` when the word-level tokenizer cannot be built from the world's
    ///   vocabulary.
    public static func tokenizer(for world: World) throws -> Tokenizer {
        try Tokenizer(json: world.tokenizerJSON())
    }

    /// The untrained model of `config`: the OLMo of `olmoConfigJSON` with every tensor drawn
    /// from N(0, initStd) by SplitMix64 + Box–Muller (tensor i from the sub-stream
    /// `derive(initSeed, [i])`, in canonical tensor order). Step 0.
    ///
    /// - Throws: `CoreError` when `config` is invalid.
    public static func initialModel(_ config: TinyRunConfig, world: World) throws -> Model {
        try config.validate()
        let mc = try ModelConfig(huggingFace: config.olmoConfigJSON(vocabSize: world.vocabulary.count))
        var params = ParameterStore(config: mc)
        let std = Float(config.initStd)
        for (i, slot) in params.slots.enumerated() {
            var r = SplitMix64(seed: SplitMix64.derive(config.initSeed, [UInt64(i)]))
            params.data.withUnsafeMutableBufferPointer { b in
                var j = slot.offset
                let end = slot.offset + slot.count
                while j < end {
                    // Box–Muller: two normals from two uniforms (u1 in (0, 1] so the log is finite).
                    let u1 = 1 - r.uniform(), u2 = r.uniform()
                    let rad = (-2 * log(u1)).squareRoot()
                    b[j] = Float(rad * cos(2 * Double.pi * u2)) * std
                    if j + 1 < end { b[j + 1] = Float(rad * sin(2 * Double.pi * u2)) * std }
                    j += 2
                }
            }
        }
        return try Model(config: mc, storage: .f32(params), tokenizer: try tokenizer(for: world), step: 0,
                     interventions: ["tiny run \(config.cacheKey): initialised (seed \(config.initSeed), std \(config.initStd))"])
    }

    /// The held-out text as a corpus (world ids, which equal the tokenizer's for world text).
    public static func heldoutCorpus(_ config: TinyRunConfig, world: World) -> Corpus {
        Corpus(documents: world.heldoutDocuments(count: config.heldoutDocuments, step: config.steps).map(world.encode),
               source: "tiny:heldout")
    }

    // MARK: Checkpoints

    /// Saves `model` as a Hugging Face directory (temp sibling + rename, replacing a stale one):
    /// config.json, model.safetensors, tokenizer.json as `Model.save` writes them, plus a
    /// tokenizer_config.json naming `PreTrainedTokenizerFast` — without it `AutoTokenizer`
    /// guesses a BPE class for the WordLevel tokenizer.json and splits words wrongly.
    ///
    /// - Throws: `CoreError` naming the file that cannot be written.
    public static func saveCheckpoint(_ model: Model, config: TinyRunConfig, to directory: String) throws {
        let tokenizerConfig = JSONValue.object([
            ("tokenizer_class", .string("PreTrainedTokenizerFast")),
            ("unk_token", .string("[UNK]")), ("pad_token", .string("[PAD]")),
            ("model_max_length", .int(config.world.sequenceLength)),
        ])
        try saveHuggingFaceDirectory(
            config: model.config, params: model.f32Parameters(), tokenizerJSON: model.tokenizer.json,
            writing: [("tokenizer_config.json", Array((tokenizerConfig.serialized(pretty: true) + "\n").utf8))],
            to: directory, force: true)
    }

    // MARK: Pretraining

    /// Pretrains `config`'s model and saves every checkpoint step to
    /// `config.checkpointDirectory(root:step:)` (the run directory must exist). Measures the
    /// held-out knowledge entropy at each checkpoint when `measureEntropy`. Polls
    /// `Cancellation.shared` every step; a cancelled build throws and leaves only the
    /// checkpoints saved so far (each complete).
    ///
    /// - Throws: `CoreError` when `config` is invalid, a checkpoint cannot be written, the held-out
    ///   entropy is undefined, or "cancelled".
    public static func build(_ config: TinyRunConfig, world: World, root: String, measureEntropy: Bool = true,
                             progress: TinyRunProgressHandler? = nil) throws -> TinyRunLog {
        try config.validate()
        counterLock.lock(); started += 1; counterLock.unlock()
        let t0 = Date()
        let initial = try initialModel(config, world: world)
        let heldout = measureEntropy ? heldoutCorpus(config, world: world) : nil
        let adam = AdamWOptions(beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: config.weightDecay, clip: 1.0)
        var state = TrainerState(net: Transformer(initial), options: adam)
        var log = TinyRunLog()
        let checkpointSet = Set(config.checkpoints)
        for k in 1...config.steps {
            try Cancellation.shared.check()
            let lr = config.learningRate(atStep: k - 1)
            let (loss, norm) = try state.step(documents: world.trainBatch(step: k, batch: config.batch), lr: lr, number: k)
            log.losses.append(loss); log.learningRates.append(lr); log.gradNorms.append(norm)
            var report = TinyRunProgress(step: k, steps: config.steps, loss: loss, learningRate: lr)
            if checkpointSet.contains(k) {
                let model = try initial.with(params: state.net.params, addingIntervention: "pretrained \(k) steps", step: .some(k))
                try saveCheckpoint(model, config: config, to: config.checkpointDirectory(root: root, step: k))
                log.checkpointSteps.append(k)
                report.checkpoint = k
                if let heldout {
                    let e = try knowledgeEntropy(of: model, on: heldout)
                    log.checkpointEntropy.append(e.total)
                    report.entropy = e
                }
            }
            progress?(report)
        }
        log.seconds = Date().timeIntervalSince(t0)
        return log
    }
}
