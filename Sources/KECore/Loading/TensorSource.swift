// MARK: Where checkpoint tensors come from
//
// Every checkpoint format (safetensors, PyTorch zip pickles, OLMo-native, GGUF) is presented to
// the loader as a `TensorSource`: a set of tensors under their Hugging Face names, each with an
// element type and a shape, readable as Float32. The HF-name → ke-parameter mapping in
// WeightMap.swift (`planLoad`, `loadParameters`, `loadParametersBF16`) then serves all formats.

/// The header facts of one tensor in a `TensorSource`.
public struct TensorSourceInfo: Sendable, Equatable {
    /// The element type as the format names it (`F32`, `BF16`, `Q4_K`, …).
    public var dtype: String
    /// The logical shape, outermost dimension first (row-major, as PyTorch/safetensors).
    public var shape: [Int]
    /// True when the values can serve as model weights (float, or a quantised float block type).
    public var isWeightType: Bool

    public init(dtype: String, shape: [Int], isWeightType: Bool) {
        self.dtype = dtype
        self.shape = shape
        self.isWeightType = isWeightType
    }

    /// Number of elements (the product of `shape`; 1 for a scalar).
    public var count: Int { shape.reduce(1, *) }
}

/// A checkpoint's tensors, under Hugging Face names.
public protocol TensorSource: AnyObject {
    /// Every tensor name, sorted.
    var names: [String] { get }
    /// The dtype and shape of `name`, nil when absent.
    func tensorInfo(_ name: String) -> TensorSourceInfo?
    /// Converts tensor `name` to Float32 into `dest` (row-major; `dest.count` must equal the
    /// element count).
    /// - Throws: `CoreError` naming the file when the tensor is absent or cannot be decoded.
    func read(_ name: String, into dest: UnsafeMutableBufferPointer<Float>) throws
    /// The stored Float32 values of `name` when they can be used in place (dense, F32, 4-byte
    /// aligned, valid while the source lives); nil otherwise.
    func float32Pointer(_ name: String) -> UnsafePointer<Float>?
}

extension TensorSource {
    /// The values of `name` as Float32, row-major.
    /// - Throws: `CoreError` when the tensor is absent or cannot be decoded.
    public func floats(_ name: String) throws -> [Float] {
        guard let info = tensorInfo(name) else { throw CoreError("no tensor named '\(name)'") }
        var out = [Float](repeating: 0, count: info.count)
        try out.withUnsafeMutableBufferPointer { try read(name, into: $0) }
        return out
    }
}

extension SafetensorsCheckpoint: TensorSource {
    public func tensorInfo(_ name: String) -> TensorSourceInfo? {
        info(name).map { TensorSourceInfo(dtype: $0.dtype.rawValue, shape: $0.shape, isWeightType: $0.dtype.isWeightType) }
    }
}

// MARK: Shard indexes

/// The shard files named by a `*.index.json` (`{"weight_map": {tensor: shard file}}`), each
/// once, in order of first appearance. As transformers, the index serves only to find the shard
/// files: which tensors a shard holds is read from the shard itself.
///
/// - Throws: `CoreError` naming `indexPath` when it is not JSON, has no `weight_map` object, an
///   entry is not a string, or a shard name would leave the directory.
func shardFileNames(indexPath: String) throws -> [String] {
    let json = try readJSONFile(indexPath)
    guard let map = json["weight_map"]?.objectValue else {
        throw CoreError("missing object \"weight_map\"", file: indexPath)
    }
    var seen = Set<String>(), out: [String] = []
    for (name, v) in map {
        guard let shard = v.stringValue else {
            throw CoreError("weight_map entry for '\(name)' is not a file name", file: indexPath)
        }
        try validateShardName(shard, indexPath: indexPath)
        if seen.insert(shard).inserted { out.append(shard) }
    }
    return out
}

// MARK: Choosing the reader for a directory

/// The weights of a model directory, whichever format they are in, preferring (as
/// transformers does) safetensors: `model.safetensors`, `model.safetensors.index.json`,
/// `pytorch_model.bin`, `pytorch_model.bin.index.json`, then a single `model.pt`. When
/// `config.yaml` stands instead of `config.json` it is an OLMo-trainer checkpoint: its
/// `model.safetensors` (names encoded by the trainer), else its `model.pt`, whose fused tensors
/// are split by `config`.
///
/// - Throws: `CoreError` naming the directory when it holds none of these, or the file at fault.
public func openTensorSource(directory: String, config: ModelConfig) throws -> TensorSource {
    let has = { (name: String) in fileExists(directory + "/" + name) }
    if isOLMoNativeDirectory(directory) { return try openOLMoNativeSource(directory: directory, config: config) }
    if has("model.safetensors") || has("model.safetensors.index.json") {
        return try SafetensorsCheckpoint(directory: directory)
    }
    if has("pytorch_model.bin") || has("pytorch_model.bin.index.json") {
        return try PyTorchCheckpoint(directory: directory)
    }
    if has("model.pt") { return try PyTorchCheckpoint(paths: [directory + "/model.pt"]) }
    throw CoreError("missing model.safetensors (and no model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json or model.pt)", file: directory)
}

/// The weight files `openTensorSource` reads from `directory`, in its order of preference: an
/// OLMo-trainer `model.safetensors` or `model.pt`; `model.safetensors`, else the shards `model.safetensors.index.json`
/// lists; `pytorch_model.bin`, else the shards of `pytorch_model.bin.index.json`; else
/// `model.pt`. Empty when the directory holds none of these. Used to tell whether two
/// checkpoints hold the same weights.
///
/// - Throws: `CoreError` naming an index file that does not parse.
public func weightFileNames(directory: String) throws -> [String] {
    let has = { (name: String) in fileExists(directory + "/" + name) }
    if isOLMoNativeDirectory(directory) { return [olmoNativeWeightFile(directory)] }
    if has("model.safetensors") { return ["model.safetensors"] }
    if has("model.safetensors.index.json") { return try shardFileNames(indexPath: directory + "/model.safetensors.index.json") }
    if has("pytorch_model.bin") { return ["pytorch_model.bin"] }
    if has("pytorch_model.bin.index.json") { return try shardFileNames(indexPath: directory + "/pytorch_model.bin.index.json") }
    if has("model.pt") { return ["model.pt"] }
    return []
}

// MARK: Fingerprints of non-safetensors weights

/// The files of `directory` that hold PyTorch or OLMo-trainer weights and settings (`*.bin`,
/// `*.pt`, `config.yaml`), sorted; `modelFingerprint` hashes them whole as it does safetensors.
/// - Throws: `CoreError` naming the directory when it cannot be read.
func pyTorchFingerprintFiles(of directory: String) throws -> [String] {
    try directoryEntries(directory).filter { $0.hasSuffix(".bin") || $0.hasSuffix(".pt") || $0 == "config.yaml" }.sorted()
}
