import Foundation
import KECore

// MARK: The built-in tiny run
//
// `pretrain`, and the built-in names that `load`, `corpus`, `facts` and `checkpoints` accept:
//
//   load "tiny"            the final checkpoint          load "tiny@STEP"   the checkpoint after STEP
//   checkpoints "tiny"     every checkpoint, with steps  corpus "tiny:train" / "tiny:heldout"
//   facts "tiny:known"     probes about pretrained people
//   facts "tiny:new"       people never in the pretraining text
//
// The run is `TinyLab.builtinConfig()` (the standard run; the test configuration when
// KE_TINY_CONFIG=test), cached under $XDG_CACHE_HOME/ke by `TinyLab`. Models and checkpoints
// build the run on first use (a progress bar with loss and held-out entropy); the corpus and
// fact names only need the world's text, written on first use without training. A local
// directory called `tiny` is loaded as "./tiny".

extension Command {
    static let pretrain = Command(
        "pretrain",
        [.option("steps", "N"), .option("seed", "S"), .option("layers", "L"), .option("hidden", "H"),
         .option("heads", "A"), .option("ffn", "F"), .option("lr", "X"), .option("batch", "B"),
         .option("warmup", "W"), .option("schedule", "\"NAME\""), .option("world", "W2")],
        group: "training",
        brief: "Pretrain a tiny OLMo; returns checkpoints.",
        summary: """
            Builds a custom tiny run the way the built-in `tiny` run is built: an OLMo (SwiGLU, \
            non-parametric LayerNorm, RoPE) initialised from N(0, 0.02) with seed S, pretrained \
            from scratch by AdamW (β 0.9/0.95, weight decay 0.1, clip 1.0) on batches of B \
            freshly sampled documents of the synthetic world (world seed W2), with W warm-up steps \
            then the schedule "constant", "wsd" (warmup–stable–decay) or "cosine". Options not \
            given keep the built-in run's values. Checkpoints are kept at the built-in run's \
            spacing scaled to N steps (1/48, 1/24, 1/12, 1/6, 1/4, 1/3, 1/2, 2/3, 5/6 and 1 of \
            the run). Shows the loss and, at each checkpoint, the knowledge entropy on \
            `tiny:heldout` while it trains. The run is cached under $XDG_CACHE_HOME/ke (default \
            ~/.cache/ke) by its settings, so running the same line again returns at once. \
            Returns the checkpoint series, as `checkpoints` does (fields of each: name, step, path).
            """,
        example: """
            let run = pretrain steps 200 layers 2 hidden 32 ffn 128 lr 2e-3 seed 3
            let es = entropy run on corpus "tiny:heldout"
            plot es
            """,
        run: { inv in
            var cfg = try TinyLab.builtinConfig()
            if let n = try inv.optionalInt("steps", in: 1...10_000_000) {
                cfg.steps = n
                cfg.checkpoints = TinyLab.checkpointSteps(forSteps: n)
                cfg.warmup = Swift.min(cfg.warmup, n)
            }
            if inv.has("seed") { cfg.initSeed = UInt64(try inv.int("seed", in: 0...Int.max)) }
            if inv.has("world") { cfg.world.seed = UInt64(try inv.int("world", in: 0...Int.max)) }
            cfg.layers = try inv.optionalInt("layers", in: 1...64) ?? cfg.layers
            cfg.hidden = try inv.optionalInt("hidden", in: 2...4_096) ?? cfg.hidden
            cfg.heads = try inv.optionalInt("heads", in: 1...256) ?? cfg.heads
            cfg.ffn = try inv.optionalInt("ffn", in: 1...4_096) ?? cfg.ffn
            cfg.batch = try inv.optionalInt("batch", in: 1...65_536) ?? cfg.batch
            cfg.warmup = try inv.optionalInt("warmup", in: 0...cfg.steps) ?? cfg.warmup
            if inv.has("lr") {
                let lr = try inv.positive("lr")
                guard lr < 1 else { throw inv.error("'pretrain … lr' must be below 1, found \(Printer.number(lr))", at: "lr") }
                cfg.learningRate = lr
            }
            if inv.has("schedule") {
                let name = try inv.string("schedule")
                guard let s = TinySchedule(rawValue: name) else {
                    throw inv.error("'pretrain … schedule' must be \"constant\", \"wsd\" or \"cosine\", found \"\(name)\"", at: "schedule")
                }
                cfg.schedule = s
            }
            if inv.has("hidden") || inv.has("heads"), cfg.heads > cfg.hidden || cfg.hidden % cfg.heads != 0 || (cfg.hidden / cfg.heads) % 2 != 0 {
                throw inv.error("'pretrain': hidden \(cfg.hidden) must split into \(cfg.heads) heads of even size (set heads A)",
                                at: inv.has("heads") ? "heads" : "hidden")
            }
            do { try cfg.validate() } catch let e as CoreError { throw inv.error(e.description) }
            return try checkpointList(builtRun(cfg, inv), inv)
        })
}

// MARK: Built-in names (hooks for load, corpus, facts, checkpoints)

/// The built-in names `load`, `corpus`, `facts` and `checkpoints` accept.
enum BuiltinNames {
    /// True for the names `load` reads as built-in models ("tiny", "tiny@STEP").
    static func isModel(_ name: String) -> Bool { name == "tiny" || name.hasPrefix("tiny@") }

    /// `load "tiny"` / `load "tiny@STEP"`; nil for any other name.
    static func load(_ name: String, _ inv: Invocation) throws -> Value? {
        guard isModel(name) else { return nil }
        let run = try builtRun(try builtinConfig(inv), inv)
        guard name.hasPrefix("tiny@") else {
            guard let last = run.checkpoints.last else { throw inv.error("the tiny run has no checkpoints") }
            return .model(try loadCheckpoint(last, inv))
        }
        let available = run.checkpoints.map { String($0.step) }.joined(separator: ", ")
        let text = name.dropFirst("tiny@".count)
        guard let step = Int(text), let cp = run.checkpoint(step: step) else {
            throw inv.error("\"\(name)\": the tiny run has no checkpoint at step \(text.isEmpty ? "(none given)" : String(text)); available steps: \(available)",
                            at: "DIR")
        }
        return .model(try loadCheckpoint(cp, inv))
    }

    /// `checkpoints "tiny"`; nil for any other directory.
    static func checkpoints(_ name: String, _ inv: Invocation) throws -> Value? {
        guard name == "tiny" else { return nil }
        return try checkpointList(builtRun(try builtinConfig(inv), inv), inv)
    }

    /// `corpus "tiny:train"` / `corpus "tiny:heldout"`; nil for any other file.
    static func corpus(_ name: String, limit: Int?, seq: Int?, pack: Bool = false, _ inv: Invocation) throws -> Value? {
        guard name.hasPrefix("tiny:") else { return nil }
        let files = try worldFiles(inv)
        switch name {
        case "tiny:train": return .corpus(try CorpusValue(path: files.trainText, limit: limit, seq: seq, name: name, pack: pack))
        case "tiny:heldout": return .corpus(try CorpusValue(path: files.heldoutText, limit: limit, seq: seq, name: name, pack: pack))
        default:
            throw inv.error("unknown built-in corpus \"\(name)\": use \"tiny:train\" or \"tiny:heldout\"", at: "FILE")
        }
    }

    /// `facts "tiny:known"` / `facts "tiny:new"`; nil for any other file.
    static func facts(_ name: String, _ inv: Invocation) throws -> Value? {
        guard name.hasPrefix("tiny:") else { return nil }
        let files = try worldFiles(inv)
        let path: String
        switch name {
        case "tiny:known": path = files.knownFacts
        case "tiny:new": path = files.newFacts
        default:
            throw inv.error("unknown built-in fact set \"\(name)\": use \"tiny:known\" or \"tiny:new\"", at: "FILE")
        }
        var set = try FactSet.load(path: path)
        set.source = name
        return .record(Record(set))
    }

    static func builtinConfig(_ inv: Invocation) throws -> TinyRunConfig {
        do { return try TinyLab.builtinConfig() } catch let e as CoreError { throw inv.error(e.description) }
    }

    static func worldFiles(_ inv: Invocation) throws -> TinyRunFiles {
        let cfg = try builtinConfig(inv)
        return try TinyLab.standard().files(cfg)
    }

    static func loadCheckpoint(_ cp: TinyCheckpoint, _ inv: Invocation) throws -> Model {
        try Model.load(directory: cp.path).named("tiny@\(cp.step)")
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
/// checkpoint series: folders step-0000025 … with their steps).
func checkpointList(_ run: TinyRun, _ inv: Invocation) throws -> Value {
    let series = try CheckpointSeries(directory: run.directory)
    return .list(series.checkpoints.indices.map { .record(Record(CheckpointReference(series: series, index: $0))) })
}
