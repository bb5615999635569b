// MARK: PyTorch checkpoints (torch.save zip format), read without executing anything
//
// A `torch.save` file (torch ≥ 1.6) is a zip archive (Zip.swift) holding `ARCHIVE/data.pkl`,
// the pickled state dict, and one entry `ARCHIVE/data/KEY` per storage. The pickle is
// interpreted by the restricted reader in Pickle.swift (no code runs); each tensor is then a
// strided view of a storage entry. Dense tensors are read straight from the mapped entry (an
// aligned F32 one is used in place); other strides are gathered element by element.
//
// Files: `pytorch_model.bin`, the shards of `pytorch_model.bin.index.json`, or any single
// state-dict file (`model.pt`, `*.bin`). The legacy format of torch < 1.6 (a bare pickle
// stream or a tar archive) is refused.

/// One tensor of a PyTorch checkpoint, resolved against its storage entry.
struct PyTorchTensorInfo {
    var name: String
    var dtype: SafetensorsDType
    var shape: [Int]
    var stride: [Int]
    /// Offset into the storage, in elements.
    var offset: Int
    var count: Int
    /// The storage's archive entry.
    var entry: ZipEntry
    /// True when the strides are row-major contiguous (the tensor is one run of bytes).
    var dense: Bool
}

/// One `torch.save` file holding a flat state dict {name: tensor}.
public final class PyTorchFile: @unchecked Sendable {
    /// The path it was opened from.
    public let path: String
    let archive: ZipArchive
    let tensors: [String: PyTorchTensorInfo]
    /// Tensor names in the order the state dict lists them.
    public let orderedNames: [String]

    /// Opens and validates `path`: the archive, the pickle, and every tensor's storage extent.
    ///
    /// - Throws: `CoreError` naming `path` for a legacy (torch < 1.6) file, a malformed archive,
    ///   a refused pickle opcode or global, a state dict that is not {string: tensor}, a missing
    ///   storage entry, or a tensor whose offset, sizes and strides reach outside its storage.
    public init(path: String) throws {
        self.path = path
        let mapped = try MappedFile(path: path)
        let head = mapped.bytes
        let isZip = head.count >= 4 && head[0] == 0x50 && head[1] == 0x4B && head[2] == 0x03 && head[3] == 0x04
        if !isZip {
            if head.count >= 2 && head[0] == 0x80 {
                throw CoreError("legacy PyTorch format (torch < 1.6, a bare pickle stream) is not supported; re-save it with torch ≥ 1.6 (torch.save) or as safetensors", file: path)
            }
            if head.count >= 262, Array(head[257..<262]) == Array("ustar".utf8) {
                throw CoreError("legacy PyTorch tar format (torch < 0.4) is not supported; re-save it with torch ≥ 1.6 or as safetensors", file: path)
            }
            throw CoreError("not a PyTorch checkpoint: it is not a zip archive", file: path)
        }
        archive = try ZipArchive(file: mapped)
        // The pickle is ARCHIVE/data.pkl at the archive's top level (ARCHIVE is the file's stem).
        let pkls = archive.entries.filter { e in
            e.name.hasSuffix("data.pkl") && e.name.split(separator: "/", omittingEmptySubsequences: false).count <= 2
                && (e.name == "data.pkl" || e.name.hasSuffix("/data.pkl"))
        }
        guard pkls.count == 1 else {
            throw CoreError(pkls.isEmpty ? "zip archive has no data.pkl: not a torch.save checkpoint"
                                         : "zip archive has \(pkls.count) data.pkl entries", file: path)
        }
        let prefix = String(pkls[0].name.dropLast("data.pkl".count))
        if let bo = archive.entry(prefix + "byteorder") {
            let order = String(decoding: archive.data(bo), as: UTF8.self)
            guard order == "little" else { throw CoreError("byte order '\(order)' is not supported (only little-endian)", file: path) }
        }
        let root = try readRestrictedPickle(archive.data(pkls[0]), file: path)
        guard case .dict(let dict) = root else {
            throw CoreError("the pickle holds a \(root.kind), not a state dict", file: path)
        }
        var infos: [String: PyTorchTensorInfo] = [:]
        var order: [String] = []
        for (k, v) in dict.pairs {
            guard case .string(let name) = k else { throw CoreError("state dict key is a \(k.kind), not a string", file: path) }
            guard case .tensor(let t) = v else {
                throw CoreError("state dict entry '\(name)' is a \(v.kind), not a tensor (nested checkpoints are not supported)", file: path)
            }
            guard infos[name] == nil else { throw CoreError("tensor '\(name)' appears twice in the state dict", file: path) }
            infos[name] = try PyTorchFile.resolve(name, t, archive: archive, prefix: prefix, file: path)
            order.append(name)
        }
        tensors = infos
        orderedNames = order
    }

    /// Checks a tensor's view against its storage entry.
    static func resolve(_ name: String, _ t: PickleTensor, archive: ZipArchive, prefix: String, file: String) throws -> PyTorchTensorInfo {
        let key = t.storage.key
        guard !key.isEmpty, !key.contains("/"), key != "..", key != "." else {
            throw CoreError("tensor '\(name)': storage key '\(key)' is not a plain entry name", file: file)
        }
        guard let entry = archive.entry(prefix + "data/" + key) else {
            throw CoreError("tensor '\(name)': storage '\(key)' has no entry \(prefix)data/\(key) in the archive", file: file)
        }
        let es = t.storage.dtype.size
        let (bytes, o) = t.storage.numel.multipliedReportingOverflow(by: es)
        guard !o, bytes == entry.size else {
            throw CoreError("tensor '\(name)': storage '\(key)' holds \(entry.size) bytes, but \(t.storage.numel) \(t.storage.dtype.rawValue) elements need \(o ? "more" : String(bytes))", file: file)
        }
        guard t.offset >= 0 else { throw CoreError("tensor '\(name)': negative storage offset \(t.offset)", file: file) }
        var count = 1, last = t.offset
        for (d, s) in zip(t.shape, t.stride) {
            guard d >= 0, s >= 0 else { throw CoreError("tensor '\(name)': negative size or stride in \(t.shape) / \(t.stride)", file: file) }
            let (c, o1) = count.multipliedReportingOverflow(by: d)
            guard !o1 else { throw CoreError("tensor '\(name)': element count overflows", file: file) }
            count = c
            if d > 0 {
                let (span, o2) = (d - 1).multipliedReportingOverflow(by: s)
                let (l, o3) = last.addingReportingOverflow(span)
                guard !o2, !o3 else { throw CoreError("tensor '\(name)': strides overflow", file: file) }
                last = l
            }
        }
        if count > 0 {
            guard last < t.storage.numel else {
                throw CoreError("tensor '\(name)': offset \(t.offset), size \(t.shape) and stride \(t.stride) reach element \(last), past its storage of \(t.storage.numel)", file: file)
            }
            guard count <= t.storage.numel else {
                throw CoreError("tensor '\(name)' has \(count) elements, more than its storage of \(t.storage.numel) (overlapping strides are not supported)", file: file)
            }
        }
        var dense = true, expected = 1
        for (d, s) in zip(t.shape, t.stride).reversed() where d != 1 {
            if s != expected { dense = false }
            expected &*= d
        }
        return PyTorchTensorInfo(name: name, dtype: t.storage.dtype, shape: t.shape, stride: t.stride,
                                 offset: t.offset, count: count, entry: entry, dense: dense)
    }

    /// Converts tensor `name` (row-major) to Float32 into `dest`.
    func read(_ t: PyTorchTensorInfo, into dest: UnsafeMutableBufferPointer<Float>) throws {
        guard dest.count == t.count else {
            throw CoreError("tensor '\(t.name)' has \(t.count) elements, destination holds \(dest.count)", file: path)
        }
        guard t.count > 0 else { return }
        let storage = archive.data(t.entry)
        let es = t.dtype.size
        if t.dense {
            let start = t.offset * es
            convertToFloat32(UnsafeRawBufferPointer(rebasing: storage[start..<(start + t.count * es)]), dtype: t.dtype, into: dest)
            return
        }
        // Strided: gather the elements in row-major order, then convert.
        var gathered = [UInt8](repeating: 0, count: t.count * es)
        gathered.withUnsafeMutableBytes { g in
            var index = [Int](repeating: 0, count: t.shape.count)
            var at = t.offset
            for i in 0..<t.count {
                for b in 0..<es { g[i * es + b] = storage[at * es + b] }
                var d = t.shape.count - 1
                while d >= 0 {
                    index[d] += 1
                    at += t.stride[d]
                    if index[d] < t.shape[d] { break }
                    at -= t.stride[d] * t.shape[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
        gathered.withUnsafeBytes { convertToFloat32($0, dtype: t.dtype, into: dest) }
    }
}

/// The tensors of one or more PyTorch files (a single state dict or the shards of an index).
public final class PyTorchCheckpoint: TensorSource, @unchecked Sendable {
    /// The files opened.
    public let files: [PyTorchFile]
    private let location: [String: (file: Int, info: PyTorchTensorInfo)]

    /// Opens the state-dict files `paths`; a tensor stored in two of them is an error naming both.
    /// - Throws: `CoreError` naming the file at fault.
    public init(paths: [String], indexPath: String? = nil) throws {
        var opened: [PyTorchFile] = []
        var loc: [String: (Int, PyTorchTensorInfo)] = [:]
        for p in paths {
            let f = try PyTorchFile(path: p)
            opened.append(f)
            for name in f.orderedNames {
                guard let info = f.tensors[name] else { continue }
                if let other = loc[name] {
                    throw CoreError("tensor '\(name)' is stored in two shards, '\(opened[other.0].path)' and '\(p)'", file: indexPath ?? p)
                }
                loc[name] = (opened.count - 1, info)
            }
        }
        files = opened
        location = loc
    }

    /// Opens `directory/pytorch_model.bin`, or the shards listed by
    /// `directory/pytorch_model.bin.index.json` (all tensors of every listed shard, as
    /// transformers loads them).
    /// - Throws: `CoreError` naming the file at fault, or the directory when neither exists.
    public convenience init(directory: String) throws {
        let single = directory + "/pytorch_model.bin"
        if fileExists(single) { try self.init(paths: [single]); return }
        let indexPath = directory + "/pytorch_model.bin.index.json"
        guard fileExists(indexPath) else {
            throw CoreError("missing pytorch_model.bin (and no pytorch_model.bin.index.json)", file: directory)
        }
        var paths: [String] = []
        for shard in try shardFileNames(indexPath: indexPath) {
            let p = directory + "/" + shard
            guard fileExists(p) else { throw missingShardError(shard, path: p, index: indexPath) }
            paths.append(p)
        }
        try self.init(paths: paths, indexPath: indexPath)
    }

    public var names: [String] { location.keys.sorted() }

    public func tensorInfo(_ name: String) -> TensorSourceInfo? {
        location[name].map { TensorSourceInfo(dtype: $0.info.dtype.rawValue, shape: $0.info.shape, isWeightType: $0.info.dtype.isWeightType) }
    }

    /// - Throws: `CoreError` when there is no tensor `name`, `dest` has another element count, or its storage cannot be read.
    public func read(_ name: String, into dest: UnsafeMutableBufferPointer<Float>) throws {
        guard let l = location[name] else { throw CoreError("no tensor named '\(name)'") }
        try files[l.file].read(l.info, into: dest)
    }

    public func float32Pointer(_ name: String) -> UnsafePointer<Float>? {
        guard let l = location[name], l.info.dtype == .f32, l.info.dense else { return nil }
        let raw = files[l.file].archive.data(l.info.entry)
        guard let p = raw.baseAddress?.advanced(by: l.info.offset * 4), Int(bitPattern: p) % 4 == 0 else { return nil }
        return p.assumingMemoryBound(to: Float.self)
    }
}
