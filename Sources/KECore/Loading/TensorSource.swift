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

// MARK: Fingerprints of non-safetensors weights

/// The files of `directory` that hold PyTorch or OLMo-trainer weights and settings (`*.bin`,
/// `*.pt`, `config.yaml`), sorted; `modelFingerprint` hashes them whole as it does safetensors.
/// - Throws: `CoreError` naming the directory when it cannot be read.
func pyTorchFingerprintFiles(of directory: String) throws -> [String] {
    try directoryEntries(directory).filter { $0.hasSuffix(".bin") || $0.hasSuffix(".pt") || $0 == "config.yaml" }.sorted()
}

/// Opens the shard files `paths` in order and maps every tensor name to the shard that holds it
/// and its entry there, as both safetensors and PyTorch checkpoints are read.
///
/// - Parameters:
///   - open: opens one file.
///   - tensors: a file's tensors as (name, entry), in the file's order.
/// - Returns: the opened files and, for each name, (index into `files`, entry).
/// - Throws: `CoreError` naming both files when a tensor is stored in two shards (located at
///   `indexPath` when given, else the second file), or any error of `open`.
func openShards<File, Info>(_ paths: [String], indexPath: String?, open: (String) throws -> File,
                            tensors: (File) -> [(String, Info)])
    throws -> (files: [File], location: [String: (file: Int, info: Info)]) {
    var files: [File] = []
    var location: [String: (file: Int, info: Info)] = [:]
    for (fi, p) in paths.enumerated() {
        let f = try open(p)
        files.append(f)
        for (name, info) in tensors(f) {
            if let other = location[name] {
                throw CoreError("tensor '\(name)' is stored in two shards, '\(paths[other.file])' and '\(p)'",
                                file: indexPath ?? p)
            }
            location[name] = (fi, info)
        }
    }
    return (files, location)
}
