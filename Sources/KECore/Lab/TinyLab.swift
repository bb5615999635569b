import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: The tiny-run cache
//
// Layout of one run, `<root>/tiny-<cacheKey>/` (`TinyRunConfig.runDirectory(root:)`):
//
//   settings.txt        the configuration (`canonicalDescription`)
//   train.txt           the pretraining stream, one document per line (step 1 row 0, row 1, …;
//                       at most `maxTrainDocuments`)
//   heldout.txt         held-out documents (`tiny:heldout`)
//   known.jsonl         `tiny:known` facts (fictional-knowledge format)
//   new.jsonl           `tiny:new` facts
//   para.jsonl          `tiny:para` facts (with `paraphrases`)
//   once.jsonl          `tiny:once` facts
//   shift.txt           `tiny:shift`, one document per line
//   tasks/              `tiny:tasks`: birth_date.jsonl, birth_city.jsonl, university.jsonl,
//                       major.jsonl, employer.jsonl (written as a temporary folder, renamed)
//   step-0000025/ …     one Hugging Face directory per checkpoint step
//   log.json            losses, learning rates, held-out entropy per checkpoint
//   complete            written last: the run is usable
//
// Every file and checkpoint directory is written to a temporary sibling and renamed into place,
// so whatever exists is whole. Only a run with `complete` is ever used as a checkpoint series;
// a run without it (an interrupted build) is rebuilt from step 0 (its checkpoints are deleted
// first; the data files are deterministic and kept). Builds hold an exclusive `flock` on
// `<root>/tiny-<cacheKey>.lock`: a second process (or thread) waits for it and then finds the
// finished run. The data files alone (enough for the corpus and fact names) are written under
// the same lock without training. The continual-protocol files (para … tasks) are written only by
// `files` (the data names need them; a pretraining run does not): a run without them is complete,
// and they are added to it under the lock when first asked for.

/// The data files of a run (texts, facts and tasks); each file is whole when present.
public struct TinyRunFiles: Sendable, Equatable {
    public var directory: String
    public var trainText: String { directory + "/train.txt" }
    public var heldoutText: String { directory + "/heldout.txt" }
    public var knownFacts: String { directory + "/known.jsonl" }
    public var newFacts: String { directory + "/new.jsonl" }
    public var paraFacts: String { directory + "/para.jsonl" }
    public var onceFacts: String { directory + "/once.jsonl" }
    public var shiftText: String { directory + "/shift.txt" }
    /// The folder of `tiny:tasks`: one `<attribute>.jsonl` per name of `World.attributeNames`.
    public var tasksDirectory: String { directory + "/tasks" }
    /// The task files, in `World.attributeNames` order.
    public var taskFiles: [String] { World.attributeNames.map { tasksDirectory + "/" + $0 + ".jsonl" } }

    /// The files a run needs to be complete (the ones every cached run has had).
    var coreFiles: [String] { [trainText, heldoutText, knownFacts, newFacts, directory + "/settings.txt"] }
    /// The continual-protocol files (added to older cached runs on first use).
    var continualFiles: [String] { [paraFacts, onceFacts, shiftText] + taskFiles }
}

/// One saved checkpoint of a run.
public struct TinyCheckpoint: Sendable, Equatable {
    public var step: Int
    public var path: String
}

/// A complete run in the cache.
public struct TinyRun: Sendable {
    public var config: TinyRunConfig
    /// `<root>/tiny-<cacheKey>`.
    public var directory: String
    /// Checkpoints in step order (the last one is the final model).
    public var checkpoints: [TinyCheckpoint]
    /// The run's data files (the continual-protocol ones exist once `TinyLab.files` wrote them).
    public var files: TinyRunFiles
    /// The build's history (nil if `log.json` is unreadable).
    public var log: TinyRunLog?

    /// The checkpoint after `step`, or nil.
    public func checkpoint(step: Int) -> TinyCheckpoint? { checkpoints.first { $0.step == step } }
}

/// The cache of tiny runs under one root directory (normally `$XDG_CACHE_HOME/ke`).
public final class TinyLab: Sendable {
    /// The cache root.
    public let root: String

    public init(root: String) {
        self.root = TinyLab.trimSlash(root)
    }

    /// The cache at `TinyRunConfig.cacheRoot` of the current environment (read with `getenv`,
    /// so changes made while the process runs are seen).
    ///
    /// - Throws: `CoreError` when there is no cache directory (neither XDG_CACHE_HOME nor HOME is
    ///   set).
    public static func standard() throws -> TinyLab {
        TinyLab(root: try TinyRunConfig.cacheRoot(environment: currentEnvironment(["XDG_CACHE_HOME", "HOME"])))
    }

    /// The configuration the built-in `tiny` names use: `TinyRunConfig.standard`, or
    /// `TinyRunConfig.test` when the environment variable `KE_TINY_CONFIG` is `test` (the test
    /// suite sets it so it never builds the full run).
    ///
    /// - Throws: `CoreError` when KE_TINY_CONFIG is set to something other than "standard" or
    ///   "test".
    public static func builtinConfig() throws -> TinyRunConfig {
        switch currentEnvironment(["KE_TINY_CONFIG"])["KE_TINY_CONFIG"] ?? "" {
        case "", "standard": return .standard
        case "test": return .test
        case let other: throw CoreError("KE_TINY_CONFIG must be 'standard' or 'test', found '\(other)'")
        }
    }

    /// The configuration the built-in `tiny-cosine` names use: `builtinConfig()` with the cosine
    /// schedule (`TinyRunConfig.standardCosine`, or `testCosine` when KE_TINY_CONFIG is `test`).
    ///
    /// - Throws: `CoreError` when KE_TINY_CONFIG is set to something other than "standard" or
    ///   "test".
    public static func builtinCosineConfig() throws -> TinyRunConfig {
        try builtinConfig().cosineVariant
    }

    static func currentEnvironment(_ names: [String]) -> [String: String] {
        var env: [String: String] = [:]
        for n in names { if let v = getenv(n) { env[n] = String(cString: v) } }
        return env
    }

    static func trimSlash(_ p: String) -> String {
        var s = p
        while s.count > 1 && s.hasSuffix("/") { s.removeLast() }
        return s
    }

    // MARK: Lookup without building

    /// The run of `config` if it is complete in the cache (no lock, no building).
    public func completedRun(_ config: TinyRunConfig) -> TinyRun? {
        let dir = config.runDirectory(root: root)
        guard fileExists(dir + "/complete") else { return nil }
        var cps: [TinyCheckpoint] = []
        for s in config.checkpoints {
            let path = config.checkpointDirectory(root: root, step: s)
            guard fileExists(path + "/config.json"), fileExists(path + "/model.safetensors"),
                  fileExists(path + "/tokenizer.json"), fileExists(path + "/tokenizer_config.json") else { return nil }
            cps.append(TinyCheckpoint(step: s, path: path))
        }
        let files = TinyRunFiles(directory: dir)
        guard files.coreFiles.allSatisfy(fileExists) else { return nil }
        let log = (try? readFileBytes(dir + "/log.json")).flatMap { try? JSONValue.parse(bytes: $0) }
            .flatMap { try? TinyRunLog(json: $0) }
        return TinyRun(config: config, directory: dir, checkpoints: cps, files: files, log: log)
    }

    /// True when every data file of the run exists (each is written whole or not at all).
    static func dataComplete(_ f: TinyRunFiles) -> Bool {
        (f.coreFiles + f.continualFiles).allSatisfy(fileExists)
    }

    // MARK: Building on first use

    /// The complete run of `config`, built first if the cache has none. Waits for another
    /// process building the same run. `progress` sees every step of a build (never called on a
    /// cache hit). Cancellable through `Cancellation.shared` (also while waiting).
    ///
    /// - Throws: `CoreError` when `config` is invalid, the cache directory cannot be locked or
    ///   written, training fails, the built directory is incomplete, or on cancel.
    public func run(_ config: TinyRunConfig, measureEntropy: Bool = true,
                    progress: TinyRunProgressHandler? = nil) throws -> TinyRun {
        if let hit = completedRun(config) { return hit }
        try config.validate()
        return try withLock(config) {
            if let hit = completedRun(config) { return hit }   // built while we waited
            let world = try World(config.world)
            let dir = config.runDirectory(root: root)
            try writeData(config, world: world, continual: false)
            // A half-built run: drop its checkpoints, log and temporaries; keep the data.
            try? removeIfExists(dir + "/complete")
            for name in try directoryEntries(dir) where name.hasPrefix("step-") || name.hasPrefix(".") || name == "log.json" {
                removeTree(dir + "/" + name)
            }
            let log = try TinyRunBuilder.build(config, world: world, root: root, measureEntropy: measureEntropy,
                                               progress: progress)
            try writeFileAtomically(Array(log.json.serialized(pretty: true).utf8), to: dir + "/log.json")
            try writeFileAtomically(Array(config.canonicalDescription.utf8), to: dir + "/complete")
            guard let run = completedRun(config) else {
                throw CoreError("the tiny run was built but its directory is incomplete", file: dir)
            }
            return run
        }
    }

    /// The data files of `config`'s run (texts, facts and tasks), written first if missing; no
    /// training.
    ///
    /// - Throws: `CoreError` when `config` is invalid or the text files cannot be locked or
    ///   written.
    public func files(_ config: TinyRunConfig) throws -> TinyRunFiles {
        let files = TinyRunFiles(directory: config.runDirectory(root: root))
        if TinyLab.dataComplete(files) { return files }
        try config.validate()
        return try withLock(config) {
            if !TinyLab.dataComplete(files) { try writeData(config, world: try World(config.world), continual: true) }
            return files
        }
    }

    /// At most this many documents of the stream are stored as `train.txt` (`tiny:train`): the
    /// first ones in training order. The standard run's whole stream (38,400) fits.
    public static let maxTrainDocuments = 65_536

    /// Writes the missing data files (caller holds the lock); the continual-protocol files too
    /// when `continual`.
    func writeData(_ config: TinyRunConfig, world: World, continual: Bool) throws {
        let dir = config.runDirectory(root: root)
        try makeDirectories(dir)
        let f = TinyRunFiles(directory: dir)
        if !fileExists(f.trainText) {
            var text = ""
            var written = 0
            for k in 1...config.steps where written < TinyLab.maxTrainDocuments {
                try Cancellation.shared.check()
                for d in world.trainDocuments(step: k, batch: min(config.batch, TinyLab.maxTrainDocuments - written)) {
                    text += d; text += "\n"
                    written += 1
                }
            }
            try writeFileAtomically(Array(text.utf8), to: f.trainText)
        }
        if !fileExists(f.heldoutText) {
            let text = world.heldoutDocuments(count: config.heldoutDocuments, step: config.steps).map { $0 + "\n" }.joined()
            try writeFileAtomically(Array(text.utf8), to: f.heldoutText)
        }
        if !fileExists(f.knownFacts) {
            try writeFileAtomically(Array(World.jsonLines(world.knownFacts()).utf8), to: f.knownFacts)
        }
        if !fileExists(f.newFacts) {
            try writeFileAtomically(Array(World.jsonLines(world.newFacts()).utf8), to: f.newFacts)
        }
        let c = config.continual
        if continual && !fileExists(f.paraFacts) {
            try writeFileAtomically(Array(World.jsonLines(world.paraFacts(c)).utf8), to: f.paraFacts)
        }
        if continual && !fileExists(f.onceFacts) {
            try writeFileAtomically(Array(World.jsonLines(world.onceFacts(c)).utf8), to: f.onceFacts)
        }
        if continual && !fileExists(f.shiftText) {
            try Cancellation.shared.check()
            let text = world.shiftDocuments(c).map { $0 + "\n" }.joined()
            try writeFileAtomically(Array(text.utf8), to: f.shiftText)
        }
        if continual && !f.taskFiles.allSatisfy(fileExists) {
            let tasks = world.tasks(c)
            try writeDirectoryAtomically(f.tasksDirectory) { tmp in
                for (name, items) in zip(World.attributeNames, tasks) {
                    try writeFileBytes(Array(World.jsonLines(items).utf8), to: tmp + "/" + name + ".jsonl")
                }
            }
        }
        // Last: its presence (with the four above) marks the data as whole.
        if !fileExists(dir + "/settings.txt") {
            try writeFileAtomically(Array(config.canonicalDescription.utf8), to: dir + "/settings.txt")
        }
    }

    // MARK: Locking

    /// Runs `body` holding the exclusive lock of `config`'s run. Polls every 50 ms so a
    /// cancellation (Ctrl-C) ends the wait.
    func withLock<T>(_ config: TinyRunConfig, _ body: () throws -> T) throws -> T {
        try makeDirectories(root)
        let path = root + "/tiny-" + config.cacheKey + ".lock"
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CoreError("cannot open the lock file: \(String(cString: strerror(errno)))", file: path)
        }
        defer { close(fd) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw CoreError("cannot lock: \(String(cString: strerror(errno)))", file: path)
            }
            try Cancellation.shared.check()
            usleep(50_000)
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    // MARK: Files


    func removeIfExists(_ path: String) throws {
        if fileExists(path), unlink(path) != 0 {
            throw CoreError("cannot remove: \(String(cString: strerror(errno)))", file: path)
        }
    }
}


// MARK: Custom runs

extension TinyLab {
    /// Checkpoint steps for a run of `steps` steps: the standard run's spacing (early ones at
    /// 1/48, 1/24, 1/12 of the run, then 1/6 … 1) scaled to `steps`, rounded, duplicates and
    /// zeros dropped; always ends at `steps`.
    public static func checkpointSteps(forSteps steps: Int) -> [Int] {
        let fractions: [Double] = [1.0 / 48, 1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 4, 1.0 / 3, 1.0 / 2, 2.0 / 3, 5.0 / 6, 1]
        var out: [Int] = []
        for f in fractions {
            let s = Swift.min(steps, Swift.max(1, Int((Double(steps) * f).rounded())))
            if out.last.map({ s > $0 }) ?? true { out.append(s) }
        }
        if out.last != steps { out.append(steps) }
        return out
    }
}
