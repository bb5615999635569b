// MARK: PyTorch checkpoints (torch.save), read without executing anything
//
// Two containers, as torch/serialization.py reads them:
//
// * The zip format (torch ≥ 1.6): a zip archive (Zip.swift) holding `ARCHIVE/data.pkl`, the
//   pickled state dict, `ARCHIVE/byteorder` ("little" or "big"; absent = little) and one entry
//   `ARCHIVE/data/KEY` per storage. A "big" archive (saved on s390x) has big-endian elements,
//   which are byte-swapped on read as torch's `_load` does.
// * The legacy format (torch < 1.6, and `_use_new_zipfile_serialization=False` today;
//   `_legacy_load`): five pickles in a row, the magic number 0x1950a86a20f9469cfc6c, the
//   protocol version 1001, a sys-info dict (ignored, as torch ignores it), the state dict (whose
//   persistent ids name storages by key), the list of storage keys; then, for each key in that
//   order, its element count (int64, little-endian) and its elements (little-endian, as torch
//   always writes them).
//
// Each pickle is interpreted by the restricted reader in Pickle.swift (no code runs); each
// tensor is then a strided view of a storage, checked to lie inside it. Dense little-endian
// tensors are read straight from the mapped file (an aligned F32 one is used in place); other
// strides, including stride 0 (`expand()`) and overlapping views, are gathered element by
// element into the tensor's declared size.
//
// Files: `pytorch_model.bin`, the shards of `pytorch_model.bin.index.json`, or any single
// state-dict file (`model.pt`, `*.bin`). The tar format of torch < 0.4 is refused, as
// `torch.load(weights_only=True)` refuses it.

/// One tensor of a PyTorch checkpoint, resolved against its storage.
struct PyTorchTensorInfo {
    var name: String
    var dtype: SafetensorsDType
    var shape: [Int]
    var stride: [Int]
    /// Offset into the storage, in elements.
    var offset: Int
    var count: Int
    /// The storage's bytes, as offsets into the file.
    var storage: Range<Int>
    /// True when the strides are row-major contiguous (the tensor is one run of bytes).
    var dense: Bool
    /// True when the elements are stored big-endian (a zip archive whose byteorder is "big").
    var bigEndian: Bool
}

/// The most elements a view may materialise beyond its storage's own count (a stride-0 or
/// overlapping view): 2^30, 4 GiB as Float32, more than any weight matrix of a model ke runs;
/// a hostile file cannot make ke allocate more than that from a tiny storage.
let pyTorchMaxExpandedElements = 1 << 30

/// The legacy format's first pickle: torch's MAGIC_NUMBER 0x1950a86a20f9469cfc6c, as the bytes
/// of its LONG1 (little-endian).
let pyTorchLegacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
/// The legacy format's PROTOCOL_VERSION.
let pyTorchLegacyProtocol = 1001

/// One `torch.save` file holding a flat state dict {name: tensor}.
public final class PyTorchFile: @unchecked Sendable {
    /// The path it was opened from.
    public let path: String
    let mapped: MappedFile
    let tensors: [String: PyTorchTensorInfo]
    /// Tensor names in the order the state dict lists them.
    public let orderedNames: [String]

    /// Opens and validates `path`: the container, the pickle, and every tensor's storage extent.
    ///
    /// - Throws: `CoreError` naming `path` for a tar (torch < 0.4) file, a malformed archive or
    ///   legacy stream (a wrong magic number or protocol, a storage whose recorded size differs
    ///   from its declaration, data past the end of the file), an unknown byte order, a refused
    ///   pickle opcode or global, a state dict that is not {string: tensor}, a missing storage,
    ///   or a tensor whose offset, sizes and strides reach outside its storage.
    public init(path: String) throws {
        self.path = path
        let mapped = try MappedFile(path: path)
        self.mapped = mapped
        let head = mapped.bytes
        let isZip = head.count >= 4 && head[0] == 0x50 && head[1] == 0x4B && head[2] == 0x03 && head[3] == 0x04
        let root: PickleValue
        let storageOf: (PickleStorage) throws -> (bytes: Range<Int>, bigEndian: Bool)
        if isZip {
            let archive = try ZipArchive(file: mapped)
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
            var bigEndian = false
            if let bo = archive.entry(prefix + "byteorder") {
                let order = String(decoding: archive.data(bo), as: UTF8.self)
                switch order {
                case "little": bigEndian = false
                case "big": bigEndian = true
                default:
                    throw CoreError("unknown byte order '\(order.prefix(40))' in \(prefix)byteorder (torch writes 'little' or 'big')", file: path)
                }
            }
            root = try readRestrictedPickle(archive.data(pkls[0]), file: path)
            storageOf = { s in
                let key = s.key
                guard !key.isEmpty, !key.contains("/"), key != "..", key != "." else {
                    throw CoreError("storage key '\(key)' is not a plain entry name", file: path)
                }
                guard let entry = archive.entry(prefix + "data/" + key) else {
                    throw CoreError("storage '\(key)' has no entry \(prefix)data/\(key) in the archive", file: path)
                }
                return (entry.dataOffset..<(entry.dataOffset + entry.size), bigEndian)
            }
        } else if head.count >= 2 && head[0] == 0x80 {
            let legacy = try PyTorchFile.readLegacy(head, file: path)
            root = legacy.root
            storageOf = { s in
                guard let r = legacy.storages[s.key] else {
                    throw CoreError("storage '\(s.key)' is not among the storages the file holds", file: path)
                }
                return (r, false)
            }
        } else if head.count >= 262, Array(head[257..<262]) == Array("ustar".utf8) {
            throw CoreError("legacy PyTorch tar format (torch < 0.4) is not supported (torch.load with weights_only=True refuses it too); re-save it with a current torch or as safetensors", file: path)
        } else {
            throw CoreError("not a PyTorch checkpoint: not a zip archive, nor a legacy pickle stream", file: path)
        }
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
            let storage: (bytes: Range<Int>, bigEndian: Bool)
            do { storage = try storageOf(t.storage) } catch let e as CoreError {
                throw CoreError("tensor '\(name)': \(e.message)", file: path)
            }
            infos[name] = try PyTorchFile.resolve(name, t, storage: storage.bytes, bigEndian: storage.bigEndian, file: path)
            order.append(name)
        }
        tensors = infos
        orderedNames = order
    }

    /// Reads a legacy stream (see the header): the state dict, and the byte range of each
    /// storage's elements by key.
    ///
    /// - Throws: `CoreError` naming `file` for a wrong magic number or protocol version, a
    ///   refused or malformed pickle, a storage key list that is not a list of distinct strings
    ///   the state dict declares, a recorded element count that differs from the declared one, or
    ///   storage data past the end of the file.
    static func readLegacy(_ bytes: UnsafeRawBufferPointer, file: String) throws -> (root: PickleValue, storages: [String: Range<Int>]) {
        let (magic, afterMagic) = try readRestrictedPickle(bytes, from: 0, file: file)
        guard case .largeInt(let m) = magic, m == pyTorchLegacyMagic else {
            throw CoreError("not a PyTorch checkpoint: a pickle stream that does not start with torch's legacy magic number", file: file)
        }
        let (protocolVersion, afterProtocol) = try readRestrictedPickle(bytes, from: afterMagic, file: file)
        guard case .int(pyTorchLegacyProtocol) = protocolVersion else {
            let shown: String
            if case .int(let v) = protocolVersion { shown = String(v) } else { shown = "a \(protocolVersion.kind)" }
            throw CoreError("legacy PyTorch file with protocol version \(shown), not \(pyTorchLegacyProtocol)", file: file)
        }
        let (_, afterSysInfo) = try readRestrictedPickle(bytes, from: afterProtocol, file: file)
        var declared: [String: PickleStorage] = [:]
        var conflict: String?
        let (root, afterRoot) = try readRestrictedPickle(bytes, from: afterSysInfo, file: file, persistentIDs: .legacy) { s in
            // torch keeps the first declaration of a key; a later one must have the same bytes.
            if let first = declared[s.key] {
                if first.numel.multipliedReportingOverflow(by: first.dtype.size) != s.numel.multipliedReportingOverflow(by: s.dtype.size) {
                    conflict = s.key
                }
            } else {
                declared[s.key] = s
            }
        }
        if let key = conflict {
            throw CoreError("storage '\(key)' is declared twice with different sizes", file: file)
        }
        let (keysValue, afterKeys) = try readRestrictedPickle(bytes, from: afterRoot, file: file)
        guard case .list(let keyList) = keysValue else {
            throw CoreError("the legacy storage key list is a \(keysValue.kind), not a list", file: file)
        }
        var storages: [String: Range<Int>] = [:]
        var at = afterKeys
        for item in keyList.items {
            guard case .string(let key) = item else {
                throw CoreError("a legacy storage key is a \(item.kind), not a string", file: file)
            }
            guard let s = declared[key] else {
                throw CoreError("storage key '\(key)' is listed but no tensor of the state dict declares it", file: file)
            }
            guard storages[key] == nil else { throw CoreError("storage key '\(key)' is listed twice", file: file) }
            guard bytes.count - at >= 8 else {
                throw CoreError("truncated: storage '\(key)' has no element count at byte \(at) (the file has \(bytes.count) bytes)", file: file)
            }
            var count: UInt64 = 0
            for i in 0..<8 { count |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
            at += 8
            guard count == UInt64(s.numel) else {
                throw CoreError("storage '\(key)' records \(Int64(bitPattern: count)) elements, but the state dict declares \(s.numel)", file: file)
            }
            let (size, o) = s.numel.multipliedReportingOverflow(by: s.dtype.size)
            guard !o, size <= bytes.count - at else {
                throw CoreError("truncated: storage '\(key)' needs \(o ? "more than \(Int.max)" : String(size)) bytes at byte \(at), but the file has \(bytes.count) bytes", file: file)
            }
            storages[key] = at..<(at + size)
            at += size
        }
        return (root, storages)
    }

    /// Checks a tensor's view against its storage, the bytes `storage` of the file.
    static func resolve(_ name: String, _ t: PickleTensor, storage: Range<Int>, bigEndian: Bool, file: String) throws -> PyTorchTensorInfo {
        let key = t.storage.key
        let es = t.storage.dtype.size
        let (bytes, o) = t.storage.numel.multipliedReportingOverflow(by: es)
        guard !o, bytes == storage.count else {
            throw CoreError("tensor '\(name)': storage '\(key)' holds \(storage.count) bytes, but \(t.storage.numel) \(t.storage.dtype.rawValue) elements need \(o ? "more" : String(bytes))", file: file)
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
            // A stride-0 or overlapping view reads each stored element several times; its
            // materialised size is bounded, not its storage.
            guard count <= max(t.storage.numel, pyTorchMaxExpandedElements) else {
                throw CoreError("tensor '\(name)': size \(t.shape) (\(count) elements) repeats its storage of \(t.storage.numel) elements past ke's limit of \(pyTorchMaxExpandedElements) elements for a stride-0 or overlapping view", file: file)
            }
        }
        var dense = true, expected = 1
        for (d, s) in zip(t.shape, t.stride).reversed() where d != 1 {
            if s != expected { dense = false }
            expected &*= d
        }
        return PyTorchTensorInfo(name: name, dtype: t.storage.dtype, shape: t.shape, stride: t.stride,
                                 offset: t.offset, count: count, storage: storage, dense: dense, bigEndian: bigEndian)
    }

    /// Converts tensor `name` (row-major) to Float32 into `dest`.
    /// - Throws: `CoreError` naming the file when `dest` does not hold the tensor's element count.
    func read(_ t: PyTorchTensorInfo, into dest: UnsafeMutableBufferPointer<Float>) throws {
        guard dest.count == t.count else {
            throw CoreError("tensor '\(t.name)' has \(t.count) elements, destination holds \(dest.count)", file: path)
        }
        guard t.count > 0 else { return }
        let storage = UnsafeRawBufferPointer(rebasing: mapped.bytes[t.storage])
        let es = t.dtype.size
        if t.dense && !t.bigEndian {
            let start = t.offset * es
            convertToFloat32(UnsafeRawBufferPointer(rebasing: storage[start..<(start + t.count * es)]), dtype: t.dtype, into: dest)
            return
        }
        // Strided or big-endian: gather the elements in row-major order (reversing each
        // element's bytes for big-endian), then convert.
        let swap = t.bigEndian && es > 1
        var gathered = [UInt8](repeating: 0, count: t.count * es)
        gathered.withUnsafeMutableBytes { g in
            var index = [Int](repeating: 0, count: t.shape.count)
            var at = t.offset
            for i in 0..<t.count {
                if swap {
                    for b in 0..<es { g[i * es + b] = storage[at * es + es - 1 - b] }
                } else {
                    for b in 0..<es { g[i * es + b] = storage[at * es + b] }
                }
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
        (files, location) = try openShards(paths, indexPath: indexPath, open: { try PyTorchFile(path: $0) },
                                           tensors: { f in f.orderedNames.compactMap { n in f.tensors[n].map { (n, $0) } } })
    }

    /// Opens `directory/pytorch_model.bin`, or the shards listed by
    /// `directory/pytorch_model.bin.index.json` (all tensors of every listed shard, as
    /// transformers loads them).
    /// - Throws: `CoreError` naming the file at fault, or the directory when neither exists.
    public convenience init(directory: String) throws {
        guard let format = CheckpointFormat.huggingFaceFormat(of: directory, among: [.pyTorchFolder, .shardedPyTorchFolder]) else {
            throw CoreError("missing pytorch_model.bin (and no pytorch_model.bin.index.json)", file: directory)
        }
        let (paths, index) = try format.weightPaths(directory: directory)
        try self.init(paths: paths, indexPath: index)
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
        guard let l = location[name], l.info.dtype == .f32, l.info.dense, !l.info.bigEndian else { return nil }
        let raw = UnsafeRawBufferPointer(rebasing: files[l.file].mapped.bytes[l.info.storage])
        guard let p = raw.baseAddress?.advanced(by: l.info.offset * 4), Int(bitPattern: p) % 4 == 0 else { return nil }
        return p.assumingMemoryBound(to: Float.self)
    }
}
