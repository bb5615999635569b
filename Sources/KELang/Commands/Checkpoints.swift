import KECore

// MARK: Checkpoint series
//
// checkpoints: the checkpoints of a training run, by step. Each element is usable wherever a
// model is expected and is loaded only then.

extension Command {
    static let checkpoints = Command(
        "checkpoints", [.positional(.DIR, quoted: true), .option(.tokenizer, "\"FILE\""), .option(.cache, "\"DIR\""),
                        .option(.revisions, "[…]"), .option(.every, "N")], group: "inspect",
        brief: "Checkpoints of hf://ORG/NAME or a folder.",
        summary: """
            `checkpoints "hf://ORG/NAME"` lists the revisions of a Hugging Face repository that \
            are in the local hub cache (downloaded with `huggingface-cli download ORG/NAME \
            --revision step1000` or `from_pretrained(…, revision=…)`), read offline as \
            huggingface_hub reads them: the cache is $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, \
            else $HF_HOME/hub, else ${XDG_CACHE_HOME:-~/.cache}/huggingface/hub, or the folder \
            of `cache "DIR"`; each revision's refs/REVISION gives its commit and \
            snapshots/COMMIT its files. Every cached revision whose name carries a step is \
            listed (stepN, stepN-tokensM as Pythia and OLMo name them, \
            stageK-stepN-tokensM and stageK-ingredientJ-stepN-tokensM as OLMo 2 does), ordered by \
            stage (none = 1), ingredient, then step; revisions without a step (main, bare \
            commits) are named in a note on stderr, and `revisions ["main", "step1000", …]` \
            picks any revisions (branches, tags, refs/pr/N, commits) instead. Revisions whose \
            snapshot is incomplete are left out with a warning (an error when picked by name). \
            `checkpoints "DIR"` lists the checkpoint folders of a directory instead (each a \
            Hugging Face model directory with a config.json, or an OLMo-trainer checkpoint with \
            config.yaml and model.safetensors or model.pt), with the step parsed from the folder name the same way \
            (also step-1000, checkpoint-1000); folders without a step come last, and \
            `revisions [...]` picks folders by name. `every N` keeps checkpoints 0, N, 2N, … of \
            the ordered list, to thin a long series. Two checkpoints with the same weights (the \
            same blob names, i.e. SHA-256 of the files, in the hub cache; the same weights \
            fingerprint for plain folders) are both kept: a warning on stderr names both, and the \
            later one has the field duplicate_of (the earlier one's name), carried into the \
            results of `entropy` and `sums` of the series and marked on their `plot`. Only \
            configs (and weight fingerprints) are read: each checkpoint is loaded when a command \
            uses it as a model and is not kept, so a list of 20 costs nothing until used. \
            `entropy SERIES on CORPUS` gives one entropy result per checkpoint and `plot` of \
            those draws entropy against step. Fields of each: name, step, and where present \
            stage, ingredient, tokens (a number: tokens4B is 4e9), commit, duplicate_of; then \
            path (a hub revision's snapshot folder). Built in: "tiny", the checkpoints of the built-in tiny run (constant \
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
            let dir = try inv.string(.DIR)
            let tokenizer = try inv.optionalString(.tokenizer)
            let cache = try inv.optionalString(.cache)
            let revisions = inv.has(.revisions) ? try inv.strings(.revisions) : nil
            let every = try inv.optionalInt(.every, in: 1...Int.max)
            if dir.isEmpty { throw inv.error("'checkpoints' needs hf://ORG/NAME or a directory of checkpoint folders, found an empty path", at: .DIR) }
            if tokenizer == "" {
                throw inv.error("'checkpoints … tokenizer' needs a tokenizer.json, or a folder holding one, found an empty path", at: .tokenizer)
            }
            if cache == "" { throw inv.error("'checkpoints … cache' needs the hub cache folder, found an empty path", at: .cache) }
            if let revisions, revisions.isEmpty { throw inv.error("'checkpoints … revisions' needs at least one revision", at: .revisions) }
            let isHub = HubReference.isHubURI(dir)
            if cache != nil && !isHub {
                throw inv.error("'cache' is for hf://ORG/NAME names; \"\(dir)\" is a directory", at: .cache)
            }
            if tokenizer != nil && BuiltinNames.runs.contains(dir) {
                throw inv.error("'tokenizer' is for checkpoint directories; the built-in runs have their own tokenizer", at: .tokenizer)
            }
            if BuiltinNames.runs.contains(dir) {
                for key: ArgumentKey in [.revisions, .every] where inv.has(key) {
                    throw inv.error("'\(key)' is for hub repositories and checkpoint directories, not the built-in runs", at: key)
                }
            }
            if let tiny = try BuiltinNames.checkpoints(dir, inv) { return tiny }
            let series: CheckpointSeries
            do {
                series = isHub
                    ? try CheckpointSeries(hub: dir, cacheDirectory: cache, revisions: revisions, every: every, tokenizerFile: tokenizer)
                    : try CheckpointSeries(directory: dir, tokenizerFile: tokenizer, revisions: revisions, every: every)
            } catch let e as CoreError {
                throw inv.error(e.description, at: e.file == tokenizer ? .tokenizer : .DIR)
            }
            for w in series.warnings { inv.warn(w) }
            if !series.unsteppedRevisions.isEmpty {
                let n = series.unsteppedRevisions.count
                inv.note("\(series.directory): \(n) cached revision\(n == 1 ? " has" : "s have") no step in \(n == 1 ? "its name" : "their names") "
                         + "and \(n == 1 ? "is" : "are") not in the series: \(series.unsteppedRevisions.joined(separator: ", ")); "
                         + "pick revisions by name with `revisions [\"…\"]`")
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

    /// The name of an earlier checkpoint of the series with the same weights, if any.
    var duplicateOf: String? { series.checkpoints[index].duplicateOf.map { series.checkpoints[$0].name } }

    var kind: String { "checkpoint" }

    var fields: [(String, Value)] {
        let cp = series.checkpoints[index]
        var fields: [(String, Value)] = [("name", .string(cp.name))]
        if let s = cp.step { fields.append(("step", .number(Double(s)))) }
        if let s = cp.stage { fields.append(("stage", .number(Double(s)))) }
        if let s = cp.ingredient { fields.append(("ingredient", .number(Double(s)))) }
        if let t = cp.tokens { fields.append(("tokens", .number(t))) }
        if let c = cp.commit { fields.append(("commit", .string(c))) }
        if let d = duplicateOf { fields.append(("duplicate_of", .string(d))) }
        fields.append(("path", .string(cp.path)))
        if let lr = learningRate { fields.append(("lr", .number(lr))) }
        return fields
    }

    func human(options: SessionOptions) -> String? { inline }

    var inline: String? {
        let cp = series.checkpoints[index]
        return "checkpoint \(cp.name): step \(cp.step.map(String.init) ?? "unknown"), "
            + "\(cp.config.architecture.rawValue), \(cp.config.numLayers) layers × \(Printer.grouped(cp.config.intermediateSize)) memories "
            + "(loaded when used)" + (duplicateOf.map { ", the same weights as \($0)" } ?? "")
    }
}
