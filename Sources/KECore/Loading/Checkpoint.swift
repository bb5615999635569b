// MARK: Loading and saving Hugging Face model directories
//
// A model directory holds config.json, model.safetensors (or model.safetensors.index.json and
// its shards) and tokenizer.json. Loading = config + weights (`loadCheckpointWeights`) +
// tokenizer; saving writes the same three files into a temporary sibling directory and renames
// it into place, so a reader never sees a half-written model.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Step numbers from directory names

/// The training step named by a checkpoint directory, e.g. `step1000`, `step-1000`,
/// `step_1000`, `checkpoint-1000`, `step1000-tokens4B`, `stage1-step1500-tokens3B` (a path's
/// last component is used). Nil when the name carries no step.
public func parseStep(fromName name: String) -> Int? {
    var s = Substring(name)
    while s.hasSuffix("/") { s = s.dropLast() }
    if let slash = s.lastIndex(of: "/") { s = s[s.index(after: slash)...] }
    let chars = Array(s.lowercased().utf8)
    func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A)
    }
    for word in ["step", "checkpoint"] {
        let w = Array(word.utf8)
        var i = 0
        while i + w.count <= chars.count {
            defer { i += 1 }
            guard Array(chars[i..<(i + w.count)]) == w else { continue }
            // The word must start the name or follow a non-letter (so "stage1-step5" matches at "step").
            if i > 0, chars[i - 1] >= 0x61 && chars[i - 1] <= 0x7A { continue }
            var j = i + w.count
            if j < chars.count, chars[j] == UInt8(ascii: "-") || chars[j] == UInt8(ascii: "_") { j += 1 }
            let start = j
            while j < chars.count, chars[j] >= 0x30 && chars[j] <= 0x39 { j += 1 }
            guard j > start, j == chars.count || !isAlnum(chars[j]) || chars[j] == UInt8(ascii: "-") else { continue }
            if let v = Int(String(decoding: chars[start..<j], as: UTF8.self)) { return v }
        }
    }
    return nil
}

/// What a checkpoint's name says about where it is in training, parsed as transformers users
/// name Pythia's and OLMo's revisions: `step1000`, `step1000-tokens4B` (OLMo),
/// `stage1-step1500-tokens3B` and `stage2-ingredient1-step11931-tokens50B` (OLMo 2), and the
/// spellings `parseStep(fromName:)` also accepts (`step-50`, `checkpoint-200`). Words are
/// separated by `-` or `_`; letters are matched without regard to case.
public struct CheckpointName: Sendable, Equatable {
    /// The training step (`parseStep(fromName:)`), nil when the name carries none.
    public var step: Int?
    /// `stageK`: the training stage (OLMo 2: 1 pretraining, 2 mid-training).
    public var stage: Int?
    /// `ingredientJ`: which of several runs of a stage (OLMo 2's mid-training data mixes).
    public var ingredient: Int?
    /// `tokensM[K|M|B|T]`: tokens seen, as a number (`tokens4B` = 4e9).
    public var tokens: Double?

    public init(_ name: String) {
        step = parseStep(fromName: name)
        var last = Substring(name)
        if let slash = last.lastIndex(of: "/") { last = last[last.index(after: slash)...] }
        for word in last.lowercased().split(whereSeparator: { $0 == "-" || $0 == "_" }) {
            if word.hasPrefix("stage"), let v = Int(word.dropFirst(5)) { stage = v }
            else if word.hasPrefix("ingredient"), let v = Int(word.dropFirst(10)) { ingredient = v }
            else if word.hasPrefix("tokens") {
                var digits = word.dropFirst(6)
                var scale = 1.0
                if let unit = digits.last, let s = ["k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12][unit] {
                    scale = s; digits = digits.dropLast()
                }
                if !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let v = Double(digits) {
                    tokens = v * scale
                }
            }
        }
    }

    /// Training order: by stage (a name without one is stage 1, pretraining), then ingredient
    /// (none first), then step; names without a step after all others. Ties are left to the caller.
    public static func precedes(_ a: CheckpointName, _ b: CheckpointName) -> Bool? {
        switch (a.step, b.step) {
        case (nil, nil): return nil
        case (.some, nil): return true
        case (nil, .some): return false
        case let (x?, y?):
            let ka = (a.stage ?? 1, a.ingredient ?? 0, x), kb = (b.stage ?? 1, b.ingredient ?? 0, y)
            return ka == kb ? nil : ka < kb
        }
    }
}

// MARK: Loading

/// Reads the config and the weights of a model folder (no tokenizer), in whichever format the
/// folder holds them (`CheckpointFormat.detect(directory:)`). The step is parsed from the
/// directory's name.
///
/// - Throws: `CoreError` naming the file: no such directory, a bad config, or weights that are missing, unreadable or do not match the config.
public func loadCheckpointWeights(directory: String) throws -> (config: ModelConfig, params: ParameterStore, step: Int?) {
    guard directoryExists(directory) else { throw CoreError("no such model directory", file: directory) }
    let format = CheckpointFormat.detect(directory: directory)
    let config = try format.config(directory: directory)
    let source = try format.openTensorSource(directory: directory, config: config)
    let params = try loadParameters(config: config, from: source, file: directory)
    return (config, params, parseStep(fromName: directory))
}

extension Model {
    /// Loads a model folder in whichever format it holds (`CheckpointFormat.detect(directory:)`):
    /// a Hugging Face folder (config.json, model.safetensors or a sharded index, or PyTorch
    /// weights; tokenizer.json) or an OLMo-trainer folder. With `keepBF16` the parameters stay
    /// bf16 in memory (see `BF16Weights`), read one tensor at a time so the whole model never
    /// exists in f32. With `tokenizerFile` (a tokenizer.json, or a directory holding one) that
    /// tokenizer is used instead of the directory's own, which then need not exist (see
    /// `explicitTokenizer`).
    ///
    /// - Throws: `CoreError` naming the file, as `loadCheckpointWeights`, or for a missing or invalid tokenizer.json, or a tokenizer whose ids do not fit the embedding.
    public static func load(directory: String, keepBF16: Bool = false, tokenizerFile: String? = nil) throws -> Model {
        try load(directory, format: CheckpointFormat.detect(directory: directory), keepBF16: keepBF16, tokenizerFile: tokenizerFile)
    }

    /// Loads a model folder, or a GGUF file (`load(gguf:)`): a regular file whose name ends
    /// in `.gguf` or that starts with the GGUF magic, or a missing path ending in `.gguf`; an
    /// `hf://ORG/NAME[@REVISION]` name loads from the hub cache (`load(hub:)`). The format is
    /// detected once (`CheckpointFormat.detect(path:)`). With `tokenizerFile`, that tokenizer is
    /// used instead of the model's own.
    ///
    /// - Throws: `CoreError` naming the path when it is empty, or a file other than a GGUF file
    ///   (a weights file of a model folder, say); otherwise as `load(hub:)`, `load(directory:)`,
    ///   `load(gguf:)` and `explicitTokenizer`.
    public static func load(path: String, keepBF16: Bool = false, tokenizerFile: String? = nil) throws -> Model {
        try load(path, format: try CheckpointFormat.detect(path: path), keepBF16: keepBF16, tokenizerFile: tokenizerFile)
    }

    /// Builds the model `path` holds in `format`: the one switch from a checkpoint format to its
    /// loader.
    ///
    /// - Throws: as `load(hub:)`, `load(gguf:)` and `loadFolder`.
    static func load(_ path: String, format: CheckpointFormat, keepBF16: Bool, tokenizerFile: String?) throws -> Model {
        switch format {
        case .hubName:
            return try load(hub: path, keepBF16: keepBF16, tokenizerFile: tokenizerFile)
        case .ggufFile:
            return try load(gguf: path, keepBF16: keepBF16, tokenizerFile: tokenizerFile)
        case .olmoTrainerFolder, .safetensorsFolder, .shardedSafetensorsFolder, .pyTorchFolder,
             .shardedPyTorchFolder, .torchSaveFolder, .folderWithoutWeights:
            return try loadFolder(path, format: format, keepBF16: keepBF16, tokenizerFile: tokenizerFile)
        }
    }

    /// Loads the model folder `directory` of folder format `format` (see `load(directory:)`).
    ///
    /// - Throws: as `load(directory:)`.
    static func loadFolder(_ directory: String, format: CheckpointFormat, keepBF16: Bool, tokenizerFile: String?) throws -> Model {
        guard directoryExists(directory) else { throw CoreError("no such model directory", file: directory) }
        let config = try format.config(directory: directory)
        let source = try format.openTensorSource(directory: directory, config: config)
        let storage: ParameterStorage
        if keepBF16 {
            storage = .bf16(try loadParametersBF16(config: config, from: source, file: directory))
        } else {
            storage = .f32(try loadParameters(config: config, from: source, file: directory))
        }
        let (tok, explicitPath) = try folderTokenizer(directory, format: format, embeddingRows: config.vocabSize,
                                                      tokenizerFile: tokenizerFile)
        return try Model(config: config, storage: storage, tokenizer: tok, step: parseStep(fromName: directory), source: directory,
                         directoryInfo: try ModelDirectoryInfo.read(directory: directory, config: config, tokenizer: tok,
                                                                    tokenizerFile: explicitPath))
    }

    /// The tokenizer of a model folder: `tokenizerFile` when given (`explicitTokenizer`, and its
    /// path), else the folder's tokenizer.json.
    ///
    /// - Throws: `CoreError` naming tokenizer.json when it is missing (saying that OLMo-trainer
    ///   folders usually ship without one) or invalid, or has added tokens beyond the embedding's
    ///   `embeddingRows` rows; as `explicitTokenizer` for `tokenizerFile`.
    static func folderTokenizer(_ directory: String, format: CheckpointFormat, embeddingRows: Int,
                                tokenizerFile: String?) throws -> (Tokenizer, explicitPath: String?) {
        if let tokenizerFile {
            let (tok, path) = try explicitTokenizer(tokenizerFile, embeddingRows: embeddingRows)
            return (tok, path)
        }
        let tokPath = directory + "/tokenizer.json"
        guard fileExists(tokPath) else {
            let why = format == .olmoTrainerFolder ? " (OLMo-trainer checkpoints usually ship without one)" : ""
            throw CoreError("missing tokenizer.json\(why): give the model's tokenizer with `tokenizer \"FILE\"` "
                            + "(a tokenizer.json, or a folder holding one)", file: tokPath)
        }
        let tok = try Tokenizer(contentsOf: tokPath)
        try tok.checkAddedTokens(fitEmbeddingRows: embeddingRows, file: tokPath)
        return (tok, nil)
    }

    // MARK: Saving

    /// Writes a Hugging Face directory that transformers loads unchanged. Refuses a non-empty
    /// existing directory unless `force` (and even then only one that holds a config.json, so
    /// a mistyped path cannot wipe an unrelated directory); writes to a temporary sibling and
    /// renames. Memory multipliers (`memoryMultipliers`) are folded into the weights first.
    ///
    /// When the model was loaded from a directory, every top-level file of that directory that
    /// is not a weight file (`carriedOverFiles`) is copied unchanged: tokenizer.json,
    /// tokenizer_config.json, special_tokens_map.json, generation_config.json, chat templates,
    /// README and licence files. config.json is rewritten from the source's JSON object, keeping
    /// every key except the dtype (for an OLMo-trainer directory: the config.json its config.yaml
    /// converts to; config.yaml itself is not copied). A tokenizer given at load
    /// (`ModelDirectoryInfo.tokenizerFile`) is copied as tokenizer.json instead of the
    /// directory's tokenizer files (`tokenizerSideFiles`). A model loaded from a GGUF file gets
    /// tokenizer_config.json and generation_config.json made from the file's metadata
    /// (`ggufSideFiles`: special tokens, add_bos_token, chat_template, generation ids).
    ///
    /// - Throws: `CoreError` naming the file or directory when the target is refused, a source
    ///   file cannot be read, or a file cannot be written.
    public func save(to directory: String, force: Bool = false) throws {
        let folded = try memoryMultipliers.folded(into: f32Parameters(), config: config)
        var copies: [(name: String, path: String)] = []
        if let dir = directoryInfo?.directory, directoryExists(dir) {
            copies = try carriedOverFiles(of: dir).map { ($0, dir + "/" + $0) }
        }
        if let tokenizerFile = directoryInfo?.tokenizerFile {
            // The tokenizer given with `load … tokenizer` replaces the directory's tokenizer files.
            copies.removeAll { tokenizerSideFiles.contains($0.name) }
            copies.append(("tokenizer.json", tokenizerFile))
        }
        // Files made from a GGUF file's metadata (tokenizer_config.json, generation_config.json).
        let written = (directoryInfo?.generatedFiles ?? [:]).sorted { $0.key < $1.key }
            .filter { file in !copies.contains { $0.name == file.key } }
            .map { (name: $0.key, bytes: Array($0.value.utf8)) }
        try saveHuggingFaceDirectory(config: config, params: folded, tokenizerJSON: tokenizer.json,
                                     copying: copies, writing: written, to: directory, force: force)
    }
}

// MARK: Paths that are not what they should be

/// Why the existing non-directory `path` cannot be loaded as a model: `load` takes the model's
/// folder (suggested when the file sits in one, e.g. its model.safetensors) or a GGUF file.
func notAModelFolderMessage(_ path: String) -> String {
    let what = fileExists(path) ? "a file" : "not a directory"
    var message = "is \(what), not a model folder: `load` takes the model's folder (the directory holding config.json and the weights) or a .gguf file"
    var parent = path
    while parent.count > 1 && parent.hasSuffix("/") { parent.removeLast() }
    if let slash = parent.lastIndex(of: "/") {
        parent = slash == parent.startIndex ? "/" : String(parent[..<slash])
    } else {
        parent = "."
    }
    if fileExists(parent + "/config.json") || fileExists(parent + "/config.yaml") {
        message += "; here: load \"\(parent)\""
    }
    return message
}

/// The error for a shard that a weights index lists but that is not a regular file at `path`:
/// missing, or a directory (or other non-file) of that name.
func missingShardError(_ shard: String, path: String, index: String) -> CoreError {
    guard pathExists(path) else { return CoreError("shard '\(shard)' listed in the index does not exist", file: index) }
    let what = directoryExists(path) ? "a directory" : "not a regular file"
    return CoreError("shard '\(shard)' listed in the index is \(what), not a weights file", file: index)
}

// MARK: A tokenizer given explicitly

/// The tokenizer.json that `load … tokenizer "FILE"` names: FILE itself, or FILE/tokenizer.json
/// when FILE is a directory (a Hugging Face model directory, say).
///
/// - Throws: `CoreError` for an empty path; naming `path` when there is no such file, it is a
///   GGUF file, or a directory without a tokenizer.json.
public func explicitTokenizerPath(_ path: String) throws -> String {
    guard !path.isEmpty else {
        throw CoreError("the tokenizer path is empty: `tokenizer` takes a tokenizer.json, or a folder holding one")
    }
    if directoryExists(path) {
        var dir = path
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        guard fileExists(dir + "/tokenizer.json") else {
            throw CoreError("a directory without a tokenizer.json", file: path)
        }
        return dir + "/tokenizer.json"
    }
    guard fileExists(path) else {
        throw CoreError(pathExists(path) ? "not a regular file: `tokenizer` takes a tokenizer.json, or a folder holding one"
                                         : "no such tokenizer file", file: path)
    }
    if hasGGUFMagic(path) {
        throw CoreError("is a GGUF file: `tokenizer` takes a tokenizer.json (or a folder holding one), not a GGUF; "
                        + "a GGUF model loaded without `tokenizer` uses the tokenizer in its own file", file: path)
    }
    return path
}

/// Reads a tokenizer chosen by hand for a model whose embedding matrix has `embeddingRows` rows
/// (`load … tokenizer "FILE"`). Unlike a directory's own tokenizer.json, whose base vocabulary
/// is trusted as transformers trusts it, every id this tokenizer can produce must have an
/// embedding row: a tokenizer of another model family is refused here instead of failing on
/// the first large id.
///
/// - Returns: the tokenizer and the path of the file it was read from.
/// - Throws: `CoreError` naming the file when it is missing (`explicitTokenizerPath`), not JSON,
///   not a tokenizer ke reads, or has more ids than the embedding has rows.
public func explicitTokenizer(_ path: String, embeddingRows: Int) throws -> (Tokenizer, path: String) {
    let file = try explicitTokenizerPath(path)
    let tok = try Tokenizer(json: try readJSONFile(file), file: file)
    try checkExplicitTokenizer(tok, fitsEmbeddingRows: embeddingRows, file: file)
    return (tok, file)
}

/// Checks that every id of a tokenizer chosen by hand (read from `file`) has a row in an
/// embedding matrix of `rows` rows.
///
/// - Throws: `CoreError` naming `file` and both sizes when it has more ids than rows.
func checkExplicitTokenizer(_ tok: Tokenizer, fitsEmbeddingRows rows: Int, file: String) throws {
    try tok.checkAddedTokens(fitEmbeddingRows: rows, file: file)
    guard tok.vocabSize <= rows else {
        throw CoreError("the tokenizer has \(tok.vocabSize) ids but the model's embedding matrix has \(rows) rows: not this model's tokenizer", file: file)
    }
}

/// Writes config.json, model.safetensors (float32, HF names and layouts), the files `copying`
/// (name in the new directory, source path; copied byte for byte) and, unless one of them is
/// tokenizer.json, `tokenizerJSON` as tokenizer.json, into `directory` via a temporary sibling
/// (the body of `Model.save`, without a `Model`).
func saveHuggingFaceDirectory(config: ModelConfig, params: ParameterStore, tokenizerJSON: JSONValue,
                              copying: [(name: String, path: String)] = [],
                              writing: [(name: String, bytes: [UInt8])] = [],
                              to directory: String, force: Bool) throws {
    let configJSON = try huggingFaceConfigJSON(for: config)
    let entries = try huggingFaceEntries(config: config, store: params)
    // Read the copies before anything is written, so that saving over the source directory
    // itself (with force) still copies the original files.
    let copied = try copying.map { (name: $0.name, bytes: try readFileBytes($0.path)) } + writing
    try writeDirectoryAtomically(directory, replacing: .modelDirectory(force: force)) { tmp in
        try writeFileAtomically(Array((configJSON.serialized(pretty: true) + "\n").utf8), to: tmp + "/config.json")
        try writeSafetensors(entries, dtype: .f32, metadata: ["format": "pt"], to: tmp + "/model.safetensors")
        for file in copied { try writeFileAtomically(file.bytes, to: tmp + "/" + file.name) }
        if !copied.contains(where: { $0.name == "tokenizer.json" }) {
            try writeFileAtomically(Array(tokenizerJSON.serialized().utf8), to: tmp + "/tokenizer.json")
        }
    }
}
