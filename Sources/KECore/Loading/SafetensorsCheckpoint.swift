// MARK: The tensors of a checkpoint directory
//
// A directory holds either one `model.safetensors` or a sharded set described by
// `model.safetensors.index.json` ({"weight_map": {tensor name: shard file}}). This type hides
// the difference: it maps every tensor name to the open file that holds it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// All safetensors tensors of a model directory, single-file or sharded.
public final class SafetensorsCheckpoint: @unchecked Sendable {
    /// The files opened (one, or one per shard).
    public let files: [SafetensorsFile]
    private let location: [String: (file: Int, info: SafetensorsTensorInfo)]

    /// Tensor names, sorted.
    public var names: [String] { location.keys.sorted() }

    /// Opens the safetensors files `paths` (one file, or the shards `indexPath` listed); a tensor
    /// stored in two of them is an error naming both. As transformers, every tensor of every file
    /// is loaded: the index only names the shard files.
    ///
    /// - Throws: `CoreError` naming the file: a tensor stored in two shards (naming the index), or
    ///   any error of `SafetensorsFile(path:)`.
    public init(paths: [String], indexPath: String? = nil) throws {
        (files, location) = try openShards(paths, indexPath: indexPath, open: { try SafetensorsFile(path: $0) },
                                           tensors: { f in f.tensors.map { ($0.name, $0) } })
    }

    /// Opens `directory/model.safetensors`, or the shards listed by
    /// `directory/model.safetensors.index.json` when there is no single file
    /// (`CheckpointFormat.safetensorsFolder`, `.shardedSafetensorsFolder`).
    ///
    /// - Throws: `CoreError` naming the file: no weights file, an index that is not valid JSON or names a shard outside the directory or missing, a tensor stored in two shards, or any error of `SafetensorsFile(path:)`.
    public convenience init(directory: String) throws {
        guard let format = CheckpointFormat.huggingFaceFormat(of: directory, among: [.safetensorsFolder, .shardedSafetensorsFolder]) else {
            throw CoreError("missing model.safetensors (and no model.safetensors.index.json)", file: directory)
        }
        let (paths, index) = try format.weightPaths(directory: directory)
        try self.init(paths: paths, indexPath: index)
    }

    /// The header entry of `name`, if present.
    public func info(_ name: String) -> SafetensorsTensorInfo? { location[name]?.info }

    /// Converts tensor `name` to Float32 into `dest` (count must match).
    ///
    /// - Throws: `CoreError` when there is no tensor `name`, its element count is not `dest.count`, or its dtype cannot be converted.
    public func read(_ name: String, into dest: UnsafeMutableBufferPointer<Float>) throws {
        guard let l = location[name] else { throw CoreError("no tensor named '\(name)'") }
        try files[l.file].read(name, into: dest)
    }

    /// The mapped data of `name` when it is F32 and 4-byte aligned (valid while this object lives).
    public func float32Pointer(_ name: String) -> UnsafePointer<Float>? {
        guard let l = location[name], l.info.dtype == .f32 else { return nil }
        let raw = files[l.file].rawBytes(l.info)
        guard let p = raw.baseAddress, Int(bitPattern: p) % 4 == 0 else { return nil }
        return p.assumingMemoryBound(to: Float.self)
    }

    /// The values of `name` as Float32.
    ///
    /// - Throws: `CoreError` when there is no tensor `name` or its dtype cannot be converted.
    public func floats(_ name: String) throws -> [Float] {
        guard let l = location[name] else { throw CoreError("no tensor named '\(name)'") }
        return try files[l.file].floats(name)
    }
}

/// Rejects shard names that could leave the model directory.
func validateShardName(_ shard: String, indexPath: String) throws {
    let parts = shard.split(separator: "/", omittingEmptySubsequences: false)
    guard !shard.isEmpty, !shard.hasPrefix("/"), !shard.contains("\\"), !shard.contains("\0"),
          !parts.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) else {
        throw CoreError("shard name '\(shard)' is not a plain file inside the model directory", file: indexPath)
    }
}

