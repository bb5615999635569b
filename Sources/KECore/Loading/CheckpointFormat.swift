// MARK: Which checkpoint format a path holds
//
// "Which format is this path?" is answered here and nowhere else. `CheckpointFormat.detect(path:)`
// looks once at what `load` was given: an `hf://` name, a file (a GGUF file by its magic bytes
// or its name), else a folder, whose format is decided by its contents
// (`detect(directory:)`): an OLMo-trainer folder (config.yaml, no config.json) first, then the
// first Hugging Face weight file of `huggingFaceFolderFormats`, in transformers' order of
// preference (safetensors before PyTorch, a single file before a sharded index). `Model.load`
// then builds the model in one switch (`Model.load(_:format:keepBF16:tokenizerFile:)`), and the
// folder formats answer for their config (`config(directory:)`), weight files
// (`weightFileNames(directory:)`) and tensors (`openTensorSource(directory:config:)`).
//
// Adding a format: its reader in a file of its own, one case here, and its line in
// `huggingFaceFolderFormats` (a folder's marker file) or in `detect(path:)` (a single file).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The format of a checkpoint path (see the header).
public enum CheckpointFormat: String, Sendable, CaseIterable {
    /// `hf://ORG/NAME[@REVISION]`: a model in the Hugging Face hub cache (`Model.load(hub:)`).
    case hubName
    /// A GGUF file: starts with the magic `GGUF`, or is named `*.gguf`.
    case ggufFile
    /// An OLMo-trainer folder: config.yaml and model.safetensors or model.pt, no config.json.
    case olmoTrainerFolder
    /// A Hugging Face folder with `model.safetensors`.
    case safetensorsFolder
    /// A Hugging Face folder with `model.safetensors.index.json` and its shards.
    case shardedSafetensorsFolder
    /// A Hugging Face folder with `pytorch_model.bin` (a zip or legacy torch.save file).
    case pyTorchFolder
    /// A Hugging Face folder with `pytorch_model.bin.index.json` and its shards.
    case shardedPyTorchFolder
    /// A folder with a single `model.pt` (a zip or legacy torch.save file) beside config.json.
    case torchSaveFolder
    /// A folder (or a missing path) holding none of the weight files above: its config is still
    /// read first, so a missing or bad config.json is the error reported.
    case folderWithoutWeights

    /// The Hugging Face folder formats, in transformers' order of preference: a folder is the
    /// first whose `markerFile` it holds.
    static let huggingFaceFolderFormats: [CheckpointFormat] = [
        .safetensorsFolder, .shardedSafetensorsFolder, .pyTorchFolder, .shardedPyTorchFolder, .torchSaveFolder,
    ]

    /// The file whose presence marks a Hugging Face folder format (a weights file or a shard
    /// index); nil for the other formats.
    var markerFile: String? {
        switch self {
        case .safetensorsFolder: return "model.safetensors"
        case .shardedSafetensorsFolder: return "model.safetensors.index.json"
        case .pyTorchFolder: return "pytorch_model.bin"
        case .shardedPyTorchFolder: return "pytorch_model.bin.index.json"
        case .torchSaveFolder: return "model.pt"
        case .hubName, .ggufFile, .olmoTrainerFolder, .folderWithoutWeights: return nil
        }
    }

    /// True for the formats whose marker is a shard index.
    var isSharded: Bool { self == .shardedSafetensorsFolder || self == .shardedPyTorchFolder }

    // MARK: Detection

    /// The format of what `load` was given: an `hf://` name; a regular file (or other
    /// non-folder) that is a GGUF file by its magic bytes or its `.gguf` name; a missing path
    /// named `*.gguf`; otherwise a folder (`detect(directory:)`).
    ///
    /// - Throws: `CoreError` for an empty path, and naming the path for an existing file that is
    ///   not a GGUF file (a weights file of a model folder, say; `notAModelFolderMessage`).
    public static func detect(path: String) throws -> CheckpointFormat {
        guard !path.isEmpty else {
            throw CoreError("the model path is empty: give a model folder or a .gguf file")
        }
        if HubReference.isHubURI(path) { return .hubName }
        let namedGGUF = path.lowercased().hasSuffix(".gguf")
        if pathExists(path) && !directoryExists(path) {
            guard namedGGUF || hasGGUFMagic(path) else { throw CoreError(notAModelFolderMessage(path), file: path) }
            return .ggufFile
        }
        if namedGGUF && !directoryExists(path) { return .ggufFile }
        return detect(directory: path)
    }

    /// The format of the folder `directory`, from the files it holds (see the header);
    /// `.folderWithoutWeights` when it holds no weights ke reads, or does not exist.
    public static func detect(directory: String) -> CheckpointFormat {
        if isOLMoNativeDirectory(directory) { return .olmoTrainerFolder }
        return huggingFaceFormat(of: directory, among: huggingFaceFolderFormats) ?? .folderWithoutWeights
    }

    /// The first of `formats` whose marker file `directory` holds.
    static func huggingFaceFormat(of directory: String, among formats: [CheckpointFormat]) -> CheckpointFormat? {
        formats.first { f in f.markerFile.map { fileExists(directory + "/" + $0) } ?? false }
    }

    // MARK: What a folder format reads

    /// The config of a folder of this format: the OLMo trainer's config.yaml, else config.json.
    ///
    /// - Throws: `CoreError` naming the file that is missing or wrong: model.pt for a config.yaml
    ///   without it or model.safetensors; config.json otherwise, pointing to the folder's GGUF
    ///   files when it holds some and no config.json.
    func config(directory: String) throws -> ModelConfig {
        if self == .olmoTrainerFolder {
            let path = directory + "/config.yaml"
            return try ModelConfig(huggingFace: try olmoNativeConfig(path: path), file: path)
        }
        let json = directory + "/config.json"
        if !fileExists(json) {
            if fileExists(directory + "/config.yaml") {
                let pt = directory + "/model.pt"
                throw CoreError((pathExists(pt) ? "not a regular file" : "missing model.pt (and no model.safetensors)")
                                + ": an OLMo-trainer checkpoint folder (config.yaml, no config.json) keeps its weights in model.safetensors or model.pt",
                                file: pt)
            }
            if !pathExists(json), let ggufs = try? ggufFiles(in: directory), let first = ggufs.first {
                var dir = directory
                while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
                let shown = ggufs.prefix(4).joined(separator: ", ") + (ggufs.count > 4 ? ", … (\(ggufs.count) in all)" : "")
                throw CoreError("missing config.json, but the folder holds \(ggufs.count == 1 ? "a GGUF file" : "GGUF files"), \(shown): "
                                + "a GGUF model is loaded from its file, e.g. load \"\(dir)/\(first)\"", file: json)
            }
        }
        return try ModelConfig.load(path: json)
    }

    /// The weight files a folder of this format holds, as names inside `directory`, in the order
    /// they are read: the OLMo trainer's state-dict file; the marker file; or the shards its
    /// index lists (each once, in order of first appearance). Empty for `.folderWithoutWeights`
    /// and the formats that are not folders.
    ///
    /// - Throws: `CoreError` naming an index file that does not parse (`shardFileNames`).
    func weightFileNames(directory: String) throws -> [String] {
        if self == .olmoTrainerFolder { return [olmoNativeWeightFile(directory)] }
        guard let marker = markerFile else { return [] }
        return isSharded ? try shardFileNames(indexPath: directory + "/" + marker) : [marker]
    }

    /// The weight files of `directory` as paths, checked to be regular files, and the index that
    /// listed them (nil for a single file).
    ///
    /// - Throws: as `weightFileNames(directory:)`, and naming the index for a shard it lists that
    ///   is missing or not a regular file (`missingShardError`).
    func weightPaths(directory: String) throws -> (paths: [String], index: String?) {
        let index = isSharded ? markerFile.map { directory + "/" + $0 } : nil
        var paths: [String] = []
        for name in try weightFileNames(directory: directory) {
            let p = directory + "/" + name
            if let index, !fileExists(p) { throw missingShardError(name, path: p, index: index) }
            paths.append(p)
        }
        return (paths, index)
    }

    /// The tensors of the folder `directory` of this format, under Hugging Face names (an
    /// OLMo-trainer state dict's fused tensors split by `config`).
    ///
    /// - Throws: `CoreError` naming the directory when it holds no weights ke reads, or the file
    ///   at fault.
    func openTensorSource(directory: String, config: ModelConfig) throws -> TensorSource {
        switch self {
        case .olmoTrainerFolder:
            return try openOLMoNativeSource(directory: directory, config: config)
        case .safetensorsFolder, .shardedSafetensorsFolder:
            let (paths, index) = try weightPaths(directory: directory)
            return try SafetensorsCheckpoint(paths: paths, indexPath: index)
        case .pyTorchFolder, .shardedPyTorchFolder, .torchSaveFolder:
            let (paths, index) = try weightPaths(directory: directory)
            return try PyTorchCheckpoint(paths: paths, indexPath: index)
        case .hubName, .ggufFile, .folderWithoutWeights:
            let others = Self.huggingFaceFolderFormats.dropFirst().compactMap(\.markerFile)
            throw CoreError("missing model.safetensors (and no \(others.dropLast().joined(separator: ", ")) or \(others.last ?? ""))",
                            file: directory)
        }
    }
}

/// True when `path` is a regular file starting with the 4 bytes `GGUF` (a GGUF file under any
/// name).
func hasGGUFMagic(_ path: String) -> Bool {
    guard fileExists(path), let fp = fopen(path, "rb") else { return false }
    defer { fclose(fp) }
    var magic = [UInt8](repeating: 0, count: 4)
    return fread(&magic, 1, 4, fp) == 4 && magic == Array("GGUF".utf8)
}

/// The config of a model folder, as its format reads it (`CheckpointFormat.config(directory:)`).
/// - Throws: as `CheckpointFormat.config(directory:)`.
func loadDirectoryConfig(_ directory: String) throws -> ModelConfig {
    try CheckpointFormat.detect(directory: directory).config(directory: directory)
}

/// The tensors of a model folder, as its format reads them
/// (`CheckpointFormat.openTensorSource(directory:config:)`).
/// - Throws: as `CheckpointFormat.openTensorSource(directory:config:)`.
public func openTensorSource(directory: String, config: ModelConfig) throws -> TensorSource {
    try CheckpointFormat.detect(directory: directory).openTensorSource(directory: directory, config: config)
}

/// The weight files `openTensorSource` reads from `directory`, in order
/// (`CheckpointFormat.weightFileNames(directory:)`); empty when it holds none. Used to tell
/// whether two checkpoints hold the same weights.
///
/// - Throws: `CoreError` naming an index file that does not parse.
public func weightFileNames(directory: String) throws -> [String] {
    try CheckpointFormat.detect(directory: directory).weightFileNames(directory: directory)
}

/// The regular files of `directory` whose names end in `.gguf` (any case), sorted.
/// - Throws: `CoreError` naming the directory when it cannot be read.
func ggufFiles(in directory: String) throws -> [String] {
    try directoryEntries(directory).filter { $0.lowercased().hasSuffix(".gguf") && !$0.hasPrefix(".") && fileExists(directory + "/" + $0) }.sorted()
}
