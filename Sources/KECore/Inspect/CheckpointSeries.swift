import Foundation

// MARK: Checkpoint series
//
// A directory of checkpoint folders (each a Hugging Face model directory), or the cached
// revisions of one hub repository (`hf://ORG/NAME`, see HubCache.swift), ordered by where the
// names put them in training (`CheckpointName`: stage, ingredient, step). Making a series reads
// only the listing, each config.json and a fingerprint of the weights (a hub snapshot's blob
// names, else the SHA-256 of every weight file, `weightsFingerprint`: one read of the files,
// ~1.5 GB/s, remembered for the process so a later model fingerprint does not read them again);
// weights are loaded when a checkpoint is used and are not kept by the series, so a list of 20
// checkpoints holds one model at a time.
//
// Folders whose name carries no step are kept, listed after all stepped ones in name order,
// with `step == nil` (e.g. a `final` folder); a hub series leaves revisions without a step
// (`main`, bare commits) out unless `revisions` names them, and reports them in
// `unsteppedRevisions`. Entries without a config.json are not checkpoints and are skipped; a
// directory with none is an error. Two checkpoints with the same weights are both kept; the
// later one's `duplicateOf` names the earlier, and `warnings` says so.

/// One checkpoint of a series: its metadata, and its model on demand.
public struct SeriesCheckpoint: Sendable {
    /// Folder name, or the hub revision (`step1000`, `main`, a commit hash).
    public var name: String
    /// Full path of the folder (for a hub revision: its snapshot folder).
    public var path: String
    /// Training step parsed from the name, if any.
    public var step: Int?
    /// The parsed config.json.
    public var config: ModelConfig
    /// Stage, ingredient and tokens parsed from the name (`CheckpointName`).
    public var stage: Int? = nil
    public var ingredient: Int? = nil
    public var tokens: Double? = nil
    /// The commit of a hub revision.
    public var commit: String? = nil
    /// What identifies the weights: the sorted blob names of a hub snapshot's weight files, else
    /// the weights' fingerprint (`weightsFingerprint`); nil when neither could be read.
    public var weights: String? = nil
    /// The index of an earlier checkpoint of the series with the same `weights`.
    public var duplicateOf: Int? = nil
}

/// Checkpoint folders ordered by step, with models loaded lazily.
public final class CheckpointSeries: @unchecked Sendable {
    /// The directory, or `hf://ORG/NAME`.
    public let directory: String
    /// Checkpoints in training order (unstepped last, by name).
    public let checkpoints: [SeriesCheckpoint]
    /// A hub series: the cached revisions left out because their names carry no step, each as
    /// `main` or `main (= step3000)` when a stepped revision has the same commit.
    public let unsteppedRevisions: [String]
    /// Messages about the series: duplicated weights, and hub revisions left out because their
    /// snapshots are incomplete. The language prints them on stderr.
    public let warnings: [String]

    private let lock = NSLock()
    /// The last tokenizer read, by the bytes of its tokenizer.json: checkpoints of one run share
    /// a tokenizer, so it is parsed once (and corpora tokenised once per tokenizer).
    private var tokenizerCache: (bytes: [UInt8], tokenizer: Tokenizer)?
    /// The tokenizer.json every checkpoint uses instead of its own (`checkpoints … tokenizer`).
    public let tokenizerFile: String?

    /// Lists the checkpoint folders of `directory` and reads their configs (no weights). With
    /// `tokenizerFile` (a tokenizer.json, or a directory holding one) every checkpoint uses that
    /// tokenizer instead of its own, as `Model.load(directory:tokenizerFile:)`. `revisions`
    /// keeps only the folders of those names; `every` keeps checkpoints 0, N, 2N, … of the
    /// ordered list.
    ///
    /// - Throws: `CoreError` naming the directory when it does not exist, holds no checkpoint
    ///   folder (a subdirectory with a config.json, or with config.yaml), a config
    ///   does not parse, or a name in `revisions` is not one of its folders; naming
    ///   `tokenizerFile` when it does not exist.
    public convenience init(directory: String, tokenizerFile: String? = nil, revisions: [String]? = nil,
                            every: Int? = nil) throws {
        guard directoryExists(directory) else { throw CoreError("no such directory", file: directory) }
        let tokenizerPath = try tokenizerFile.map(explicitTokenizerPath)
        var dir = directory
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        var found: [SeriesCheckpoint] = []
        for name in try directoryEntries(dir) where !name.hasPrefix(".") {
            let path = dir + "/" + name
            // A config.yaml without model.pt is kept, so its load names the missing file.
            guard directoryExists(path), fileExists(path + "/config.json") || fileExists(path + "/config.yaml") else { continue }
            let config = try loadDirectoryConfig(path)
            let parsed = CheckpointName(name)
            found.append(SeriesCheckpoint(name: name, path: path, step: parsed.step, config: config,
                                          stage: parsed.stage, ingredient: parsed.ingredient, tokens: parsed.tokens,
                                          weights: (try? weightsFingerprint(directory: path)).flatMap { $0 }))
        }
        guard !found.isEmpty else {
            throw CoreError("no checkpoint folders found (subdirectories with a config.json, or OLMo-trainer folders with config.yaml and model.safetensors or model.pt)", file: directory)
        }
        if let revisions {
            let names = Set(found.map(\.name))
            if let unknown = revisions.first(where: { !names.contains($0) }) {
                throw CoreError("no checkpoint folder '\(unknown)'; the folders are \(found.map(\.name).sorted().joined(separator: ", "))", file: directory)
            }
            found = found.filter { revisions.contains($0.name) }
        }
        try self.init(directory: dir, found: found, every: every, tokenizerFile: tokenizerPath, unstepped: [], notes: [],
                      duplicateWarning: { a, b in
                          "checkpoints \(b.name) and \(a.name) of \(dir) hold the same weights (fingerprint \(a.weights?.suffix(16) ?? "")): "
                              + "the same model is listed twice; both are computed, and \(b.name) is marked duplicate_of \(a.name)"
                      })
    }

    /// The cached revisions of a hub repository, `hf://ORG/NAME` (see `HubRepository`), in the
    /// cache `cacheDirectory` or the one `HubCacheLocation.resolve` finds: every revision whose
    /// name carries a step, or exactly those of `revisions` (any revision: a branch, tag,
    /// `refs/pr/N` or commit), ordered by stage, ingredient and step; `every N` keeps
    /// checkpoints 0, N, 2N, …. Each checkpoint is its snapshot folder; revisions with
    /// incomplete snapshots are left out with a warning (an error when named in `revisions`).
    ///
    /// - Throws: `CoreError` as `HubReference(parsing:)` and `HubRepository` do; when the URI
    ///   names a revision or path; when no cached revision carries a step; when a revision of
    ///   `revisions` does not resolve or its snapshot is incomplete; or when a config does not
    ///   parse.
    public convenience init(hub uri: String, cacheDirectory: String? = nil, revisions: [String]? = nil,
                            every: Int? = nil, tokenizerFile: String? = nil) throws {
        let reference = try HubReference(parsing: uri)
        guard reference.revision == nil, reference.pathInRepo.isEmpty else {
            throw CoreError("`checkpoints` takes a repository, hf://\(reference.repoID), and lists its cached revisions; "
                            + "pick some with `revisions [\"…\"]`", file: uri)
        }
        let tokenizerPath = try tokenizerFile.map(explicitTokenizerPath)
        let repo = try HubRepository(reference, cache: .resolve(override: cacheDirectory))
        var chosen: [HubRevision]
        var unstepped: [String] = []
        if let revisions {
            var seen = Set<String>()
            chosen = try revisions.filter { seen.insert($0).inserted }.map { try repo.resolve($0) }
        } else {
            let all = repo.cachedRevisions()
            chosen = all.filter { !$0.isCommit && CheckpointName($0.name).step != nil }
            let steppedByCommit = Dictionary(chosen.map { ($0.commit, $0.name) }, uniquingKeysWith: { a, _ in a })
            unstepped = all.filter { $0.isCommit || CheckpointName($0.name).step == nil }.map { r in
                steppedByCommit[r.commit].map { "\(r.name) (= \($0))" } ?? r.name
            }
        }
        var found: [SeriesCheckpoint] = []
        var notes: [String] = []
        for rev in chosen {
            let path: String
            do {
                path = try repo.modelPath(of: rev, needsTokenizer: tokenizerPath == nil)
                guard directoryExists(path) else {
                    throw CoreError("\(reference.at(rev.name)) is a GGUF file, not a model folder: load it with `load`", file: path)
                }
            } catch let e as CoreError {
                if revisions != nil { throw e }
                notes.append("left out \(rev.name): \(e.message)")
                continue
            }
            let config = try loadDirectoryConfig(path)
            let parsed = CheckpointName(rev.name)
            let weights = repo.weightBlobs(path).map { "blobs " + $0.joined(separator: " ") }
                ?? (try? weightsFingerprint(directory: path)).flatMap { $0 }.map { "fingerprint " + $0 }
            found.append(SeriesCheckpoint(name: rev.name, path: path, step: parsed.step, config: config,
                                          stage: parsed.stage, ingredient: parsed.ingredient, tokens: parsed.tokens,
                                          commit: rev.commit, weights: weights))
        }
        guard !found.isEmpty else {
            let why = chosen.isEmpty
                ? "no cached revision of \(reference.repoID) has a step in its name (stepN, stepN-tokensM, stageK-stepN-tokensM)"
                : "no cached revision of \(reference.repoID) has a complete snapshot (\(notes.joined(separator: "; ")))"
            throw CoreError(why + "; cached revisions: \(repo.cachedRevisionList()); pick some with `revisions [\"…\"]`", file: repo.path)
        }
        let name = "hf://" + reference.repoID
        try self.init(directory: name, found: found, every: every, tokenizerFile: tokenizerPath, unstepped: unstepped,
                      notes: notes.map { "\(name): " + $0 },
                      duplicateWarning: { a, b in
                          let blobs = a.weights.map { w in
                              w.hasPrefix("blobs ") ? "weight blob\(w.split(separator: " ").count > 2 ? "s" : "") "
                                  + w.split(separator: " ").dropFirst().map { String($0.prefix(12)) + "…" }.joined(separator: ", ")
                                  : "weights fingerprint " + w.dropFirst(12)
                          } ?? ""
                          return "\(name): revisions \(b.name) and \(a.name) resolve to the same weights (\(blobs)): the same model "
                              + "is listed twice (a mislabelled hub branch?); both are computed, and \(b.name) is marked duplicate_of \(a.name)"
                      })
    }

    /// Orders `found`, keeps every `every`-th, marks duplicates.
    private init(directory: String, found: [SeriesCheckpoint], every: Int?, tokenizerFile: String?, unstepped: [String],
                 notes: [String], duplicateWarning: (SeriesCheckpoint, SeriesCheckpoint) -> String) throws {
        if let every, every < 1 { throw CoreError("`every N` needs N ≥ 1, found \(every)") }
        var found = found.sorted { a, b in
            CheckpointName.precedes(CheckpointName(a.name), CheckpointName(b.name)) ?? (a.name < b.name)
        }
        if let every, every > 1 { found = found.indices.filter { $0 % every == 0 }.map { found[$0] } }
        var first: [String: Int] = [:]
        var warnings = notes
        for i in found.indices {
            guard let w = found[i].weights else { continue }
            if let j = first[w] {
                found[i].duplicateOf = j
                warnings.append(duplicateWarning(found[j], found[i]))
            } else {
                first[w] = i
            }
        }
        self.directory = directory
        self.checkpoints = found
        self.tokenizerFile = tokenizerFile
        self.unsteppedRevisions = unstepped
        self.warnings = warnings
    }

    /// Number of checkpoints.
    public var count: Int { checkpoints.count }

    /// Steps in order (nil for unstepped folders).
    public var steps: [Int?] { checkpoints.map(\.step) }

    /// Loads checkpoint `index` (weights and tokenizer); the series does not keep it.
    ///
    /// - Throws: `CoreError` when `index` is outside the series, or the checkpoint's config,
    ///   weights or tokenizer do not load.
    public func model(at index: Int) throws -> Model {
        guard index >= 0, index < checkpoints.count else {
            throw CoreError("checkpoint \(index) does not exist: the series has \(checkpoints.count)")
        }
        let cp = checkpoints[index]
        let (config, params, _) = try loadCheckpointWeights(directory: cp.path)
        let tok = try tokenizer(at: cp.path)
        if let tokenizerFile { try checkExplicitTokenizer(tok, fitsEmbeddingRows: config.vocabSize, file: tokenizerFile) }
        return try Model(config: config, storage: .f32(params), tokenizer: tok, step: cp.step, source: cp.path,
                     directoryInfo: try ModelDirectoryInfo.read(directory: cp.path, config: config, tokenizer: tok,
                                                                tokenizerFile: tokenizerFile))
    }

    /// The tokenizer of a checkpoint folder (or the series' `tokenizerFile`), shared with the
    /// previous one when identical.
    private func tokenizer(at path: String) throws -> Tokenizer {
        let tokPath = tokenizerFile ?? path + "/tokenizer.json"
        guard fileExists(tokPath) else { throw CoreError("missing tokenizer.json", file: tokPath) }
        let bytes = try readFileBytes(tokPath)
        lock.lock()
        if let cached = tokenizerCache, cached.bytes == bytes {
            lock.unlock()
            return cached.tokenizer
        }
        lock.unlock()
        let json = try parseJSONBytes(bytes, file: tokPath)
        let tok = try Tokenizer(json: json, file: tokPath)
        lock.lock()
        tokenizerCache = (bytes, tok)
        lock.unlock()
        return tok
    }

    /// Knowledge entropy of every checkpoint in order, loading one model at a time.
    /// `corpus` gives the corpus tokenised for a checkpoint's tokenizer.
    ///
    /// - Throws: whatever `corpus` throws; `CoreError` when a checkpoint does not load or its
    ///   entropy is undefined (see `knowledgeEntropy`), or "cancelled".
    public func entropy(corpus: (Tokenizer) throws -> Corpus, progress: ProgressHandler? = nil) throws -> [EntropyResult] {
        var out: [EntropyResult] = []
        for i in checkpoints.indices {
            try Cancellation.shared.check()
            // The model is released at the end of each iteration: one checkpoint in memory at a time.
            let model = try model(at: i)
            out.append(try knowledgeEntropy(of: model, on: try corpus(model.tokenizer)))
            progress?(i + 1, checkpoints.count, checkpoints[i].name)
        }
        return out
    }

    /// Knowledge entropy of every checkpoint on one tokenised corpus (all checkpoints must
    /// share the tokenizer it was made with, or at least its vocabulary size).
    ///
    /// - Throws: `CoreError` as the closure form does.
    public func entropy(on corpus: Corpus, progress: ProgressHandler? = nil) throws -> [EntropyResult] {
        try entropy(corpus: { _ in corpus }, progress: progress)
    }
}
