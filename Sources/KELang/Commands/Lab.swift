import Foundation
import KECore

// MARK: The built-in tiny run
//
// `pretrain`, and the built-in names that `load`, `corpus`, `facts` and `checkpoints` accept:
//
//   load "tiny"            the final checkpoint          load "tiny@STEP"   the checkpoint after STEP
//   checkpoints "tiny"     every checkpoint, with steps  corpus "tiny:train" / "tiny:heldout"
//   load "tiny-cosine", "tiny-cosine@STEP", checkpoints "tiny-cosine"   the cosine-schedule run
//   facts "tiny:known"     probes about pretrained people
//   facts "tiny:new"       people never in the pretraining text
//   facts "tiny:para" / "tiny:once"   new people in 10 biography versions / in one
//   corpus "tiny:shift"    a continual corpus from a shifted domain
//   tasks "tiny:tasks"     multiple choice on the best-known people (`tasksPath`)
//
// The runs are `TinyLab.builtinConfig()` (the standard run; the test configuration when
// KE_TINY_CONFIG=test) and its cosine variant `TinyLab.builtinCosineConfig()`, cached under
// $XDG_CACHE_HOME/ke by `TinyLab`. The data names are the `tiny` run's files. Models and checkpoints
// build the run on first use (a progress bar with loss and held-out entropy); the corpus and
// fact names only need the world's text, written on first use without training. A local
// directory called `tiny` is loaded as "./tiny".

extension Command {
    static let pretrain = Command(
        "pretrain",
        [.option(.steps, "N"), .option(.seed, "S"), .option(.layers, "L"), .option(.hidden, "H"),
         .option(.heads, "A"), .option(.ffn, "F"), .option(.lr, "X"), .option(.batch, "B"),
         .option(.warmup, "W"), .option(.schedule, "\"NAME\""), .option(.world, "W2")],
        group: "training",
        brief: "Pretrain a tiny OLMo; returns checkpoints.",
        summary: """
            Builds a custom tiny run the way the built-in `tiny` run is built: an OLMo (SwiGLU, \
            non-parametric LayerNorm, RoPE) initialised from N(0, 0.02) with seed S, pretrained \
            from scratch by AdamW (β 0.9/0.95, weight decay 0.1, clip 1.0) on batches of B \
            freshly sampled documents of the synthetic world (world seed W2), with W warm-up steps \
            then the schedule "constant", "wsd" (warmup–stable–decay, linear to 0 over the last \
            20 %) or "cosine" (to 10 % of the peak, reached one step after the last). Options not \
            given keep the built-in run's values. Checkpoints are kept at the built-in run's \
            spacing scaled to N steps (1/48, 1/24, 1/12, 1/6, 1/4, 1/3, 1/2, 2/3, 5/6 and 1 of \
            the run); a cosine run adds about 15 % and 75 % (so it has 15, 50, 75 and 100 %). \
            `schedule "cosine"` alone is the built-in `tiny-cosine` run, so `pretrain schedule \
            "cosine" seed S` is its version with initialisation seed S. Shows the loss and, at \
            each checkpoint, the knowledge entropy on `tiny:heldout` while it trains. The run is \
            cached under $XDG_CACHE_HOME/ke (default ~/.cache/ke) by its settings, so running the \
            same line again returns at once. Returns the checkpoint series, as `checkpoints` does \
            (fields of each: name, step, path, lr — the learning rate of the last step before \
            the checkpoint, from the run's log).
            """,
        example: """
            let run = pretrain steps 200 layers 2 hidden 32 ffn 128 lr 2e-3 seed 3
            let es = entropy run on corpus "tiny:heldout"
            plot es
            let seed2 = pretrain schedule "cosine" seed 2
            """,
        run: { inv in
            var cfg = try TinyLab.builtinConfig()
            if let n = try inv.optionalInt(.steps, in: 1...10_000_000) {
                cfg.steps = n
                cfg.checkpoints = TinyLab.checkpointSteps(forSteps: n)
                cfg.warmup = Swift.min(cfg.warmup, n)
            }
            if inv.has(.seed) { cfg.initSeed = UInt64(try inv.int(.seed, in: 0...Int.max)) }
            if inv.has(.world) { cfg.world.seed = UInt64(try inv.int(.world, in: 0...Int.max)) }
            cfg.layers = try inv.optionalInt(.layers, in: 1...64) ?? cfg.layers
            cfg.hidden = try inv.optionalInt(.hidden, in: 2...4_096) ?? cfg.hidden
            cfg.heads = try inv.optionalInt(.heads, in: 1...256) ?? cfg.heads
            cfg.ffn = try inv.optionalInt(.ffn, in: 1...4_096) ?? cfg.ffn
            cfg.batch = try inv.optionalInt(.batch, in: 1...65_536) ?? cfg.batch
            cfg.warmup = try inv.optionalInt(.warmup, in: 0...cfg.steps) ?? cfg.warmup
            if inv.has(.lr) {
                let lr = try inv.positive(.lr)
                guard lr < 1 else { throw inv.error("'pretrain … lr' must be below 1, found \(Printer.number(lr))", at: .lr) }
                cfg.learningRate = lr
            }
            if inv.has(.schedule) {
                let name = try inv.string(.schedule)
                guard let s = TinySchedule(rawValue: name) else {
                    throw inv.error("'pretrain … schedule' must be \"constant\", \"wsd\" or \"cosine\", found \"\(name)\"", at: .schedule)
                }
                cfg.schedule = s
            }
            // A cosine run keeps checkpoints at about 15, 50, 75 and 100 % (as `tiny-cosine`).
            if cfg.schedule == .cosine { cfg.checkpoints = TinyRunConfig.withCosineMarks(cfg.checkpoints, steps: cfg.steps) }
            if inv.has(.hidden) || inv.has(.heads), cfg.heads > cfg.hidden || cfg.hidden % cfg.heads != 0 || (cfg.hidden / cfg.heads) % 2 != 0 {
                throw inv.error("'pretrain': hidden \(cfg.hidden) must split into \(cfg.heads) heads of even size (set heads A)",
                                at: inv.has(.heads) ? .heads : .hidden)
            }
            do { try cfg.validate() } catch let e as CoreError { throw inv.error(e.description) }
            return try checkpointList(builtRun(cfg, inv), inv)
        })
}

// MARK: Built-in names (hooks for load, corpus, facts, checkpoints)

/// The built-in names `load`, `corpus`, `facts`, `tasks` and `checkpoints` accept.
enum BuiltinNames {
    /// The built-in runs by name: `tiny` (constant schedule) and `tiny-cosine`.
    static let runs = ["tiny", "tiny-cosine"]

    /// The run a name refers to ("tiny", "tiny@STEP", "tiny-cosine", "tiny-cosine@STEP"), or nil.
    static func runName(_ name: String) -> String? {
        let head = name.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? name
        return runs.contains(head) ? head : nil
    }

    /// True for the names `load` reads as built-in models ("tiny", "tiny@STEP", "tiny-cosine",
    /// "tiny-cosine@STEP").
    static func isModel(_ name: String) -> Bool { runName(name) != nil }

    /// `load "tiny"` / `load "tiny@STEP"` (and the same for "tiny-cosine"); nil for any other name.
    static func load(_ name: String, _ inv: Invocation) throws -> Value? {
        guard let runName = runName(name) else { return nil }
        let cfg = try config(ofRun: runName, inv)
        // A step the run does not save is refused before the run is built (or anything is
        // written to the cache): the configuration lists its checkpoints.
        let text = name.dropFirst(runName.count + 1)
        func noCheckpoint(available steps: [Int]) -> LangError {
            let available = steps.map(String.init).joined(separator: ", ")
            return inv.error("\"\(name)\": the \(runName) run has no checkpoint at step \(text.isEmpty ? "(none given)" : String(text)); available steps: \(available)",
                             at: .DIR)
        }
        if name.hasPrefix(runName + "@"), Int(text).map({ cfg.checkpoints.contains($0) }) != true {
            throw noCheckpoint(available: cfg.checkpoints)
        }
        let run = try builtRun(cfg, inv)
        guard name.hasPrefix(runName + "@") else {
            guard let last = run.checkpoints.last else { throw inv.error("the \(runName) run has no checkpoints") }
            return .model(try loadCheckpoint(last, runName, inv))
        }
        guard let step = Int(text), let cp = run.checkpoint(step: step) else {
            throw noCheckpoint(available: run.checkpoints.map(\.step))
        }
        return .model(try loadCheckpoint(cp, runName, inv))
    }

    /// `checkpoints "tiny"` / `checkpoints "tiny-cosine"`; nil for any other directory.
    static func checkpoints(_ name: String, _ inv: Invocation) throws -> Value? {
        guard runs.contains(name) else { return nil }
        return try checkpointList(builtRun(try config(ofRun: name, inv), inv), inv)
    }

    /// `corpus "tiny:train"` / `"tiny:heldout"` / `"tiny:shift"`; nil for any other file.
    static func corpus(_ name: String, limit: Int?, seq: Int?, pack: Bool = false, _ inv: Invocation) throws -> Value? {
        try checkWorldClause(name, inv)
        guard name.hasPrefix("tiny:") else { return nil }
        let path = try builtinFile(name, kind: "corpus", [
            ("tiny:train", \.trainText), ("tiny:heldout", \.heldoutText), ("tiny:shift", \.shiftText),
        ], inv)
        // tiny:shift is the continual corpus of the paper's protocol: always packed, in rows of
        // 64 tokens (the tiny run's training length) unless `seq` says otherwise.
        if name == "tiny:shift" {
            return .corpus(try CorpusValue(path: path, limit: limit, seq: seq ?? 64, name: try shownName(name, inv), pack: true))
        }
        return .corpus(try CorpusValue(path: path, limit: limit, seq: seq, name: try shownName(name, inv), pack: pack))
    }

    /// `facts "tiny:known"` / `"tiny:new"` / `"tiny:para"` / `"tiny:once"`; nil for any other file.
    static func facts(_ name: String, _ inv: Invocation) throws -> Value? {
        try checkWorldClause(name, inv)
        guard name.hasPrefix("tiny:") else { return nil }
        let path = try builtinFile(name, kind: "fact set", [
            ("tiny:known", \.knownFacts), ("tiny:new", \.newFacts), ("tiny:para", \.paraFacts), ("tiny:once", \.onceFacts),
        ], inv)
        var set = try FactSet.load(path: path)
        set.source = try shownName(name, inv)
        return .record(Record(set))
    }

    /// The file of built-in data set `name`: one of `files` (a name and the world file it
    /// reads), made on first use.
    ///
    /// - Throws: a usage error at FILE naming the `kind` ("corpus", "fact set") and the names
    ///   there are, for any other name; a `CoreError` as a usage error when the data cannot be written.
    private static func builtinFile(_ name: String, kind: String, _ files: [(name: String, path: KeyPath<TinyRunFiles, String>)],
                                    _ inv: Invocation) throws -> String {
        guard let file = files.first(where: { $0.name == name }) else {
            let names = files.map(\.name)
            let quoted = names.map { "\"\($0)\"" }
            throw inv.error("unknown built-in \(kind) \"\(name)\": use \(quoted.dropLast().joined(separator: ", ")) or \(quoted.last ?? "")"
                            + Diagnostics.suggestion(name, in: names), at: .FILE)
        }
        return try worldFiles(inv)[keyPath: file.path]
    }

    /// The folder of `tasks "tiny:tasks"` (one `.jsonl` file per attribute, written on first use
    /// without training); nil for any name not beginning with "tiny:".
    ///
    /// - Throws: a usage error for another "tiny:" name, or when the data cannot be written.
    static func tasksPath(_ name: String, _ inv: Invocation) throws -> String? {
        try checkWorldClause(name, inv)
        guard name.hasPrefix("tiny:") else { return nil }
        guard name == "tiny:tasks" else {
            throw inv.error("unknown built-in task set \"\(name)\": use \"tiny:tasks\"", at: .PATH)
        }
        return try worldFiles(inv).tasksDirectory
    }

    /// The configuration of built-in run `name` ("tiny" or "tiny-cosine").
    static func config(ofRun name: String, _ inv: Invocation) throws -> TinyRunConfig {
        do { return name == "tiny-cosine" ? try TinyLab.builtinCosineConfig() : try TinyLab.builtinConfig() }
        catch let e as CoreError { throw inv.error(e.description) }
    }

    static func builtinConfig(_ inv: Invocation) throws -> TinyRunConfig {
        do { return try TinyLab.builtinConfig() } catch let e as CoreError { throw inv.error(e.description) }
    }

    /// The data files of the built-in world, or with a `world W` clause (corpus, facts, tasks)
    /// of the world with seed W — the world `pretrain … world W` trains on — written on first use
    /// without training.
    static func worldFiles(_ inv: Invocation) throws -> TinyRunFiles {
        var cfg = try builtinConfig(inv)
        if inv.has(.world) { cfg.world.seed = UInt64(try inv.int(.world, in: 0...Int.max)) }
        do { return try TinyLab.standard().files(cfg) } catch let e as CoreError { throw inv.error(e.description) }
    }

    /// The name a built-in data set is shown under: "tiny:para", or "tiny:para (world 2)".
    static func shownName(_ name: String, _ inv: Invocation) throws -> String {
        inv.has(.world) ? "\(name) (world \(try inv.int(.world, in: 0...Int.max)))" : name
    }

    /// Refuses `world` on a name that is not built in.
    static func checkWorldClause(_ name: String, _ inv: Invocation) throws {
        if inv.has(.world) && !name.hasPrefix("tiny:") {
            throw inv.error("'world' picks the world of a built-in tiny: name; \"\(name)\" is a file", at: .world)
        }
    }

    static func loadCheckpoint(_ cp: TinyCheckpoint, _ runName: String, _ inv: Invocation) throws -> Model {
        try Model.load(directory: cp.path).named("\(runName)@\(cp.step)")
    }
}

// MARK: Building with a progress bar

/// The run of `cfg`, built now if not cached; the session's progress handler shows
/// "loss 3.2145 · entropy 20.81 (93.8 %)" (the entropy of the latest checkpoint).
func builtRun(_ cfg: TinyRunConfig, _ inv: Invocation) throws -> TinyRun {
    let lab = try TinyLab.standard()
    if let hit = lab.completedRun(cfg) { return hit }
    let handler: TinyRunProgressHandler?
    if let progress = inv.progress {
        let lastEntropy = EntropyNote()
        handler = { p in
            if let e = p.entropy { lastEntropy.set(String(format: " · entropy %.3f (%.1f %%)", e.total, 100 * e.normalized)) }
            progress(p.step, p.steps, String(format: "loss %.4f", p.loss) + lastEntropy.get())
        }
    } else {
        handler = nil
    }
    return try lab.run(cfg, measureEntropy: true, progress: handler)
}

/// The last entropy note, shared with the progress closure.
private final class EntropyNote: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""
    func set(_ s: String) { lock.lock(); text = s; lock.unlock() }
    func get() -> String { lock.lock(); defer { lock.unlock() }; return text }
}

/// A run's checkpoints as the list `checkpoints "DIR"` returns (the run directory read as a
/// checkpoint series: folders step-0000025 … with their steps), each with the learning rate of
/// the last step before it from the run's log (field `lr`).
func checkpointList(_ run: TinyRun, _ inv: Invocation) throws -> Value {
    let series = try CheckpointSeries(directory: run.directory)
    let rates = run.log?.learningRates ?? []
    return .list(series.checkpoints.indices.map { i in
        let lr = series.checkpoints[i].step.flatMap { s in s >= 1 && s <= rates.count ? rates[s - 1] : nil }
        return .record(Record(CheckpointReference(series: series, index: i, learningRate: lr)))
    })
}
