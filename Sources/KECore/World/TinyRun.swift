import Foundation

// MARK: The built-in tiny run's configuration

/// Learning-rate schedule after the linear warm-up.
public enum TinySchedule: String, Sendable, Hashable, Codable {
    /// Constant at the peak after warm-up.
    case constant
    /// Warmup–stable–decay: constant, then linear to zero over the last `decayFraction` of steps.
    case warmupStableDecay = "wsd"
    /// Cosine from the peak toward 10 % of it, reached one step after the last.
    case cosine
}

/// Everything that defines the built-in tiny run: the world, the model, the schedule and the
/// checkpoint steps. Its `cacheKey` names the cached run under `$XDG_CACHE_HOME/ke/`.
///
/// The values of `standard` come from the PyTorch prototypes in `Scripts/research/`
/// (see `Scripts/research/NOTES.md` for the experiments behind them).
public struct TinyRunConfig: Sendable, Hashable, Codable {
    public var world = WorldConfig()
    // Model: OLMo (SwiGLU, non-parametric LayerNorm, RoPE, untied LM head, no biases).
    public var layers = 4
    public var hidden = 64
    public var heads = 4
    public var ffn = 256
    public var ropeTheta = 10_000.0
    /// Seed of the parameter initialisation (normal, std 0.02 for every matrix).
    public var initSeed: UInt64 = 1
    public var initStd = 0.02
    // Optimisation: AdamW (β 0.9/0.95, ε 1e-8), gradient clipping at norm 1.
    public var steps = 1_200
    /// Documents per step, each `world.sequenceLength` tokens.
    public var batch = 32
    public var learningRate = 4e-3
    public var warmup = 100
    public var schedule = TinySchedule.constant
    public var decayFraction = 0.2
    public var weightDecay = 0.1
    /// Steps after which a checkpoint is kept (ascending, the last one = `steps`).
    public var checkpoints = [25, 50, 100, 200, 300, 400, 600, 800, 1_000, 1_200]
    /// Held-out documents (`tiny:heldout`), drawn from the stream at the last step.
    public var heldoutDocuments = 128
    /// Sizes of the continual-protocol data written beside the run's texts (`tiny:para`,
    /// `tiny:once`, `tiny:shift`, `tiny:tasks`).
    public var continual = ContinualDataConfig.standard

    public init() {}

    /// The run the built-in `tiny` names.
    public static var standard: TinyRunConfig { TinyRunConfig() }

    /// The run the built-in `tiny-cosine` names: `standard` (same world, model, seed and
    /// length) with the cosine schedule to 10 % of the peak, and checkpoints at about 15, 50, 75
    /// and 100 % of the run besides `standard`'s: 25, 50, 100, 180, 200, 300, 400, 600, 800,
    /// 900, 1,000, 1,200.
    public static var standardCosine: TinyRunConfig { TinyRunConfig.standard.cosineVariant }

    /// This run with the cosine schedule (floor 10 % of the peak) and its checkpoints merged with
    /// `TinyRunConfig.cosineMarks(steps:)`.
    public var cosineVariant: TinyRunConfig {
        var c = self
        c.schedule = .cosine
        c.checkpoints = TinyRunConfig.withCosineMarks(c.checkpoints, steps: c.steps)
        return c
    }

    /// The steps at about 15, 50, 75 and 100 % of a run of `steps` steps (rounded, at least 1),
    /// where a cosine run's checkpoints are kept so that continued training can start from
    /// early, middle, late and final points of the schedule.
    public static func cosineMarks(steps: Int) -> [Int] {
        [0.15, 0.5, 0.75, 1].map { Swift.min(steps, Swift.max(1, Int((Double(steps) * $0).rounded()))) }
    }

    /// `checkpoints` with `cosineMarks(steps:)` added: ascending, without duplicates.
    public static func withCosineMarks(_ checkpoints: [Int], steps: Int) -> [Int] {
        Array(Set(checkpoints + cosineMarks(steps: steps))).sorted()
    }

    /// A much smaller run for the test suite (seconds, not minutes).
    public static var test: TinyRunConfig {
        var c = TinyRunConfig()
        c.world.firstNames = 20
        c.world.lastNames = 20
        c.world.corePeople = 100
        c.world.newPeople = 8
        c.world.knownPeople = 8
        c.world.cities = 10; c.world.universities = 8; c.world.majors = 6; c.world.employers = 10
        c.world.nouns = 40; c.world.verbs = 12; c.world.adjectives = 10
        c.world.sequenceLength = 32
        c.layers = 2; c.hidden = 16; c.heads = 2; c.ffn = 32
        c.steps = 40; c.batch = 4; c.warmup = 5
        c.checkpoints = [5, 10, 20, 30, 40]
        c.heldoutDocuments = 8
        c.continual = .test
        return c
    }

    /// `test` with the cosine schedule: what `tiny-cosine` names when KE_TINY_CONFIG=test
    /// (checkpoints 5, 6, 10, 20, 30, 40).
    public static var testCosine: TinyRunConfig { TinyRunConfig.test.cosineVariant }

    /// Checks the settings (and the world's).
    ///
    /// - Throws: `CoreError` ("tiny run: …") naming the first setting out of range, or the world's.
    public func validate() throws {
        try world.validate()
        func check(_ ok: Bool, _ what: String) throws { if !ok { throw CoreError("tiny run: \(what)") } }
        try check((1...64).contains(layers) && (1...4_096).contains(hidden) && (1...4_096).contains(ffn), "model size out of range")
        try check(heads >= 1 && hidden % heads == 0 && (hidden / heads) % 2 == 0, "hidden must split into heads of even size")
        try check((1...10_000_000).contains(steps) && (1...65_536).contains(batch), "steps and batch must be positive")
        try check(learningRate > 0 && learningRate < 1 && warmup >= 0 && warmup <= steps, "bad learning rate or warm-up")
        try check(decayFraction >= 0 && decayFraction <= 1 && weightDecay >= 0, "bad decay settings")
        try check(!checkpoints.isEmpty && checkpoints.last == steps && zip(checkpoints, checkpoints.dropFirst()).allSatisfy { $0 < $1 }
                  && (checkpoints.first ?? 0) >= 1, "checkpoints must ascend from ≥ 1 and end at the last step")
        try check((1...100_000).contains(heldoutDocuments), "held-out documents must be 1…100000")
        try continual.validate(world: world, steps: steps)
    }

    /// The schedule after warm-up: constant; cosine to 10 % of the peak; WSD linear to 0 over
    /// the last `decayFraction` of all steps.
    var lrSchedule: (schedule: LRSchedule, finalFraction: Double) {
        switch schedule {
        case .constant: return (.constant, 0)
        case .cosine: return (.cosine, 0.1)
        case .warmupStableDecay: return (.warmupStableDecay(decayFraction: decayFraction), 0)
        }
    }

    /// The learning rate of step `s` (0-based): linear warm-up to the peak, then the schedule,
    /// whose floor is reached one step after the last (`LRScheduleEnd.afterLastStep`).
    public func learningRate(atStep s: Int) -> Double {
        let (shape, floor) = lrSchedule
        return KECore.learningRate(step: s, total: steps, peak: learningRate, warmup: warmup, schedule: shape,
                                   finalFraction: floor, end: .afterLastStep)
    }

    /// The Hugging Face `config.json` of the run's model (`OlmoForCausalLM`).
    public func olmoConfigJSON(vocabSize: Int) -> JSONValue {
        .object([
            ("architectures", .array([.string("OlmoForCausalLM")])),
            ("model_type", .string("olmo")),
            ("vocab_size", .int(vocabSize)),
            ("hidden_size", .int(hidden)),
            ("intermediate_size", .int(ffn)),
            ("num_hidden_layers", .int(layers)),
            ("num_attention_heads", .int(heads)),
            ("num_key_value_heads", .int(heads)),
            ("max_position_embeddings", .int(world.sequenceLength)),
            ("hidden_act", .string("silu")),
            ("rope_theta", .double(ropeTheta)),
            ("attention_bias", .bool(false)),
            ("attention_dropout", .double(0)),
            ("clip_qkv", .null),
            ("tie_word_embeddings", .bool(false)),
            ("pad_token_id", .int(1)),
            ("bos_token_id", .null),
            ("eos_token_id", .null),
            ("initializer_range", .double(initStd)),
            ("torch_dtype", .string("float32")),
        ])
    }

    /// A stable name for this configuration: 16 hex digits of FNV-1a over every setting, in a
    /// fixed order with exact number formatting. Any change of world, model or schedule changes it.
    public var cacheKey: String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in canonicalDescription.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Every setting as `name=value` lines, in a fixed order (the input of `cacheKey`).
    public var canonicalDescription: String {
        let w = world
        var fields: [(String, String)] = [
            ("version", "1"),
            ("world.seed", String(w.seed)), ("world.first", String(w.firstNames)), ("world.last", String(w.lastNames)),
            ("world.core", String(w.corePeople)), ("world.new", String(w.newPeople)), ("world.known", String(w.knownPeople)),
            ("world.cities", String(w.cities)), ("world.universities", String(w.universities)),
            ("world.majors", String(w.majors)), ("world.employers", String(w.employers)),
            ("world.nouns", String(w.nouns)), ("world.verbs", String(w.verbs)), ("world.adjectives", String(w.adjectives)),
            ("world.bio", "\(w.biographyShare)"), ("world.seq", String(w.sequenceLength)),
            ("world.arrivals", "\(w.arrivalsPerStep)"), ("world.window", String(w.arrivalWindow)),
            ("world.arrivalShare", "\(w.arrivalShare)"),
            ("layers", String(layers)), ("hidden", String(hidden)), ("heads", String(heads)), ("ffn", String(ffn)),
            ("rope", "\(ropeTheta)"), ("init.seed", String(initSeed)), ("init.std", "\(initStd)"),
            ("steps", String(steps)), ("batch", String(batch)), ("lr", "\(learningRate)"), ("warmup", String(warmup)),
            ("schedule", schedule.rawValue), ("decay", "\(decayFraction)"), ("wd", "\(weightDecay)"),
            ("checkpoints", checkpoints.map(String.init).joined(separator: ",")),
            ("heldout", String(heldoutDocuments)),
        ]
        // Cosine and WSD runs cached before the schedules were unified in `LRSchedule` may differ
        // in the last bit of a learning rate: they get a new key. Constant runs (the built-in
        // `tiny`) are unchanged and keep theirs.
        if schedule != .constant { fields.append(("schedule.formula", "2")) }
        // The continual data came later: only sizes other than the standard ones enter the key,
        // so runs cached before it (the built-in `tiny`) keep theirs.
        if continual != .standard {
            let c = continual
            fields += [("continual.para", String(c.paraItems)), ("continual.once", String(c.onceItems)),
                       ("continual.versions", String(c.versions)), ("continual.shiftPeople", String(c.shiftPeople)),
                       ("continual.shiftTokens", String(c.shiftTokens)), ("continual.taskPeople", String(c.taskPeople))]
        }
        return fields.map { "\($0.0)=\($0.1)\n" }.joined()
    }
}
