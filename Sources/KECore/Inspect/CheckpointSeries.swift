import Foundation

// MARK: Checkpoint series
//
// A directory of checkpoint folders (each a Hugging Face model directory), ordered by the
// training step in the folder names (`parseStep(fromName:)`). Making a series reads only the
// listing and each config.json; weights are read when a checkpoint is used and are not kept
// by the series, so a list of 20 checkpoints costs nothing until used and one at a time after.
//
// Folders whose name carries no step are kept, listed after all stepped ones in name order,
// with `step == nil` (e.g. a `final` folder). Entries without a config.json are not checkpoints
// and are skipped; a directory with none is an error.

/// One checkpoint of a series: its metadata, and its model on demand.
public struct SeriesCheckpoint: Sendable {
    /// Folder name.
    public var name: String
    /// Full path of the folder.
    public var path: String
    /// Training step parsed from the name, if any.
    public var step: Int?
    /// The parsed config.json.
    public var config: ModelConfig
}

/// Checkpoint folders ordered by step, with models loaded lazily.
public final class CheckpointSeries: @unchecked Sendable {
    /// The directory.
    public let directory: String
    /// Checkpoints in step order (unstepped last, by name).
    public let checkpoints: [SeriesCheckpoint]

    private let lock = NSLock()
    /// The last tokenizer read, by the bytes of its tokenizer.json: checkpoints of one run share
    /// a tokenizer, so it is parsed once (and corpora tokenised once per tokenizer).
    private var tokenizerCache: (bytes: [UInt8], tokenizer: Tokenizer)?
    /// The tokenizer.json every checkpoint uses instead of its own (`checkpoints … tokenizer`).
    public let tokenizerFile: String?

    /// Lists the checkpoint folders of `directory` and reads their configs (no weights). With
    /// `tokenizerFile` (a tokenizer.json, or a directory holding one) every checkpoint uses that
    /// tokenizer instead of its own, as `Model.load(directory:tokenizerFile:)`.
    ///
    /// - Throws: `CoreError` naming the directory when it does not exist, holds no checkpoint
    ///   folder (a subdirectory with a config.json, or with config.yaml and model.pt), or a config
    ///   does not parse; naming
    ///   `tokenizerFile` when it does not exist.
    public init(directory: String, tokenizerFile: String? = nil) throws {
        guard directoryExists(directory) else { throw CoreError("no such directory", file: directory) }
        self.tokenizerFile = try tokenizerFile.map(explicitTokenizerPath)
        var dir = directory
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        var found: [SeriesCheckpoint] = []
        for name in try directoryEntries(dir) where !name.hasPrefix(".") {
            let path = dir + "/" + name
            // A config.yaml without model.pt is kept, so its load names the missing file.
            guard directoryExists(path), fileExists(path + "/config.json") || fileExists(path + "/config.yaml") else { continue }
            let config = try loadDirectoryConfig(path)
            found.append(SeriesCheckpoint(name: name, path: path, step: parseStep(fromName: name), config: config))
        }
        guard !found.isEmpty else {
            throw CoreError("no checkpoint folders found (subdirectories with a config.json, or OLMo-trainer folders with config.yaml and model.pt)", file: directory)
        }
        found.sort { a, b in
            switch (a.step, b.step) {
            case let (x?, y?) where x != y: return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a.name < b.name
            }
        }
        self.directory = dir
        self.checkpoints = found
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
        return try Model(config: config, params: params, tokenizer: tok, step: cp.step, source: cp.path,
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
        let json: JSONValue
        do { json = try JSONValue.parse(bytes: bytes) }
        catch let e as JSONError { throw CoreError("not valid JSON: \(e.description)", file: tokPath) }
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
