import KECore

// MARK: Checkpoint series
//
// checkpoints: the checkpoints of a training run, by step. Each element is usable wherever a
// model is expected and is loaded only then.

extension Command {
    static let checkpoints = Command(
        "checkpoints", [.positional("\"DIR\""), .option("tokenizer", "\"FILE\"")], group: "inspect",
        brief: "Checkpoints of a directory, by step.",
        summary: """
            Lists the checkpoint folders of a directory (each a Hugging Face model directory with a \
            config.json, or an OLMo-trainer checkpoint with config.yaml and model.pt) in \
            training-step order, with the step parsed from the folder name (step1000, step-1000, \
            checkpoint-1000, step1000-tokens4B, stage1-step1500-tokens3B, Pythia and OLMo \
            revision names); folders without a step come last. Only each folder's config is read: each \
            checkpoint is loaded when a command uses it as a model and is not kept, so a list of \
            20 costs nothing until used. `entropy SERIES on CORPUS` gives one entropy result per \
            checkpoint and `plot` of those draws entropy against step. Fields of each: name, \
            step, path. Built in: "tiny", the checkpoints of the built-in tiny run (constant \
            learning rate 4e-3 after 100 warm-up steps; steps 25, 50, 100, 200, 300, 400, 600, \
            800, 1000, 1200), and "tiny-cosine", the same world, model and seed with the cosine \
            schedule from 4e-3 down to 10 % of it (checkpoints also at 180 and 900, i.e. 15, 50, \
            75 and 100 % of the run); both are pretrained on first use (about 2 minutes each) and \
            cached under $XDG_CACHE_HOME/ke. Their checkpoints have one more field, lr: the \
            learning rate of the last step before the checkpoint, from the run's log (for \
            continuing a checkpoint at its own final pretraining rate). With `tokenizer "FILE"` every checkpoint uses \
            that tokenizer.json (or the one in that directory) instead of its own, as `load` does.
            """,
        example: "let s = checkpoints \"tiny\"\nlet es = entropy s on c\nplot es\nlet cs = checkpoints \"tiny-cosine\"\ncs[3].lr",
        run: { inv in
            let dir = try inv.string("DIR")
            let tokenizer = try inv.optionalString("tokenizer")
            if dir.isEmpty { throw inv.error("'checkpoints' needs a directory of checkpoint folders, found an empty path", at: "DIR") }
            if tokenizer == "" {
                throw inv.error("'checkpoints … tokenizer' needs a tokenizer.json, or a folder holding one, found an empty path", at: "tokenizer")
            }
            if tokenizer != nil && BuiltinNames.runs.contains(dir) {
                throw inv.error("'tokenizer' is for checkpoint directories; the built-in runs have their own tokenizer", at: "tokenizer")
            }
            if let tiny = try BuiltinNames.checkpoints(dir, inv) { return tiny }
            let series: CheckpointSeries
            do { series = try CheckpointSeries(directory: dir, tokenizerFile: tokenizer) } catch let e as CoreError {
                throw inv.error(e.description, at: e.file == tokenizer ? "tokenizer" : "DIR")
            }
            return .list(series.checkpoints.indices.map { .record(Record(CheckpointReference(series: series, index: $0))) })
        })
}

/// A checkpoint of a series: usable wherever a model is expected, loaded when used.
final class CheckpointReference: CommandResult {
    let series: CheckpointSeries
    let index: Int
    /// The learning rate of the last training step before the checkpoint, when the run's log
    /// gives it (the built-in runs and `pretrain`); field `lr`.
    let learningRate: Double?
    init(series: CheckpointSeries, index: Int, learningRate: Double? = nil) {
        self.series = series; self.index = index; self.learningRate = learningRate
    }

    /// Loads the checkpoint (not kept).
    ///
    /// - Throws: `CoreError` when the checkpoint's directory does not load as a model.
    func load() throws -> Model { try series.model(at: index) }

    var kind: String { "checkpoint" }

    var fields: [(String, Value)] {
        let cp = series.checkpoints[index]
        var fields: [(String, Value)] = [("name", .string(cp.name))]
        if let s = cp.step { fields.append(("step", .number(Double(s)))) }
        fields.append(("path", .string(cp.path)))
        if let lr = learningRate { fields.append(("lr", .number(lr))) }
        return fields
    }

    func human(options: SessionOptions) -> String? { inline }

    var inline: String? {
        let cp = series.checkpoints[index]
        return "checkpoint \(cp.name): step \(cp.step.map(String.init) ?? "unknown"), "
            + "\(cp.config.architecture.rawValue), \(cp.config.numLayers) layers × \(Printer.grouped(cp.config.intermediateSize)) memories "
            + "(loaded when used)"
    }
}
