import Foundation
import XCTest
@testable import KECore

// MARK: Building torch.save images in tests

/// A pickle program built opcode by opcode (protocol 2, as torch.save writes).
struct PickleBuilder {
    var bytes: [UInt8] = [0x80, 2]
    mutating func op(_ o: UInt8) { bytes.append(o) }
    mutating func str(_ s: String) {
        let u = Array(s.utf8)
        bytes.append(0x58)
        for i in 0..<4 { bytes.append(UInt8((u.count >> (8 * i)) & 0xFF)) }
        bytes += u
    }
    mutating func int(_ v: Int) {
        bytes.append(0x4A)
        for i in 0..<4 { bytes.append(UInt8((v >> (8 * i)) & 0xFF)) }
    }
    mutating func global(_ module: String, _ name: String) {
        bytes.append(0x63); bytes += Array("\(module)\n\(name)\n".utf8)
    }
    mutating func ints(_ v: [Int]) { op(0x28); for x in v { int(x) }; op(0x74) }
    /// `name: _rebuild_tensor_v2(storage, offset, size, stride, False, {})` inside an open MARK.
    mutating func tensor(_ name: String, key: String, storageType: String = "FloatStorage", numel: Int,
                         offset: Int, size: [Int], stride: [Int]) {
        str(name)
        global("torch._utils", "_rebuild_tensor_v2")
        op(0x28)
        op(0x28); str("storage"); global("torch", storageType); str(key); str("cpu"); int(numel); op(0x74)
        op(0x51)
        int(offset); ints(size); ints(stride); op(0x89); op(0x7D)
        op(0x74); op(0x52)
    }
    /// A state dict {name: tensor} of the given tensors, then STOP.
    static func stateDict(_ add: (inout PickleBuilder) -> Void) -> [UInt8] {
        var p = PickleBuilder()
        p.op(0x7D); p.op(0x28)
        add(&p)
        p.op(0x75); p.op(0x2E)
        return p.bytes
    }
}

/// A zip archive of stored entries (CRCs left 0: the reader does not check them).
func storedZip(_ entries: [(String, [UInt8])]) -> [UInt8] {
    var out: [UInt8] = [], central: [UInt8] = []
    func le(_ v: Int, _ w: Int, _ into: inout [UInt8]) { for i in 0..<w { into.append(UInt8((v >> (8 * i)) & 0xFF)) } }
    for (name, data) in entries {
        let n = Array(name.utf8), offset = out.count
        le(0x0403_4B50, 4, &out); le(20, 2, &out); le(0, 2, &out); le(0, 2, &out); le(0, 4, &out); le(0, 4, &out)
        le(data.count, 4, &out); le(data.count, 4, &out); le(n.count, 2, &out); le(0, 2, &out)
        out += n; out += data
        le(0x0201_4B50, 4, &central); le(20, 2, &central); le(20, 2, &central); le(0, 2, &central); le(0, 2, &central)
        le(0, 4, &central); le(0, 4, &central); le(data.count, 4, &central); le(data.count, 4, &central)
        le(n.count, 2, &central); le(0, 2, &central); le(0, 2, &central); le(0, 2, &central); le(0, 2, &central)
        le(0, 4, &central); le(offset, 4, &central); central += n
    }
    let cdOffset = out.count
    out += central
    le(0x0605_4B50, 4, &out); le(0, 2, &out); le(0, 2, &out); le(entries.count, 2, &out); le(entries.count, 2, &out)
    le(central.count, 4, &out); le(cdOffset, 4, &out); le(0, 2, &out)
    return out
}

/// A torch.save image: `archive/data.pkl` = `pickle`, plus `archive/data/KEY` storages.
func torchImage(_ pickle: [UInt8], storages: [(String, [Float])]) -> [UInt8] {
    var entries: [(String, [UInt8])] = [("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8))]
    for (k, v) in storages { entries.append(("archive/data/" + k, v.withUnsafeBytes { Array($0) })) }
    return storedZip(entries)
}

final class PyTorchCheckpointTests: XCTestCase {
    let formats = Fixtures.root + "/formats"

    func expected(_ dir: String) throws -> (ids: [Int], logits: [Float]) {
        let f = try SafetensorsFile(path: formats + "/\(dir)/expected.safetensors")
        return (try f.floats("ids").map { Int($0) }, try f.floats("logits"))
    }

    /// The same weights as safetensors, pytorch_model.bin and sharded bins give the logits
    /// transformers recorded, and bit-identical logits in ke.
    func testEveryFormatGivesTransformersLogits() throws {
        var first: [Float]? = nil
        for dir in ["olmo_st", "olmo_bin", "olmo_bin_sharded"] {
            let model = try Model.load(directory: formats + "/" + dir)
            let (ids, want) = try expected(dir)
            let got = try packedLogits(model, [ids])
            // 1e-4: float32 sums in a different order from torch's kernels (the logit bound).
            XCTAssertLessThan(maxAbsDiff(got, want), 1e-4, dir)
            if let first { XCTAssertEqual(got, first, "\(dir) differs from safetensors") } else { first = got }
        }
    }

    func testBF16LoadOfPyTorchBin() throws {
        let model = try Model.load(directory: formats + "/olmo_bin_sharded", keepBF16: true)
        let (ids, want) = try expected("olmo_bin_sharded")
        // 0.1: weights rounded to bf16 (8 significant bits) move logits of magnitude ~5 by a few 1e-2.
        XCTAssertLessThan(maxAbsDiff(try packedLogits(model, [ids]), want), 0.1)
    }

    /// Views (transposed, sliced, a column), F16, BF16, a scalar and int64 read as torch reads them.
    func testStridedViewsAndDtypes() throws {
        let path = formats + "/torch/strided.pt"
        let c = try PyTorchCheckpoint(paths: [path])
        let json = try JSONValue.parse(bytes: readFileBytes(formats + "/torch/strided.json"))
        guard let obj = json.objectValue else { return XCTFail("strided.json") }
        XCTAssertEqual(c.names, obj.map(\.0).sorted())
        for (name, v) in obj {
            XCTAssertEqual(c.tensorInfo(name)?.shape, (v["shape"]?.arrayValue ?? []).compactMap(\.intValue), name)
            // Exact: F16/BF16 → F32 is exact, and torch's recorded values are those same floats.
            XCTAssertEqual(try c.floats(name), v["values"]!.doubles.map { Float($0) }, name)
        }
        XCTAssertNotNil(c.float32Pointer("rows"), "a dense F32 view is used in place")
        XCTAssertNil(c.float32Pointer("transposed"), "a strided view is copied")
    }

    func testShardedBinDuplicateNamesBothFiles() throws {
        let dir = try makeTempDir(self)
        let src = formats + "/olmo_bin_sharded"
        for f in try FileManager.default.contentsOfDirectory(atPath: src) {
            try FileManager.default.copyItem(atPath: src + "/" + f, toPath: dir + "/" + f)
        }
        // A third shard repeating a tensor of the first.
        try FileManager.default.copyItem(atPath: src + "/pytorch_model-00001-of-00002.bin", toPath: dir + "/extra.bin")
        let indexPath = dir + "/pytorch_model.bin.index.json"
        var index = try String(contentsOfFile: indexPath, encoding: .utf8)
        index = index.replacingOccurrences(of: "\"weight_map\": {", with: "\"weight_map\": {\n    \"zzz\": \"extra.bin\",")
        try index.write(toFile: indexPath, atomically: true, encoding: .utf8)
        assertNamedError(indexPath, "is stored in two shards") { _ = try PyTorchCheckpoint(directory: dir) }
    }

    /// Two revisions of a pytorch_model.bin directory that differ only in weights have
    /// different model fingerprints (the .bin is sampled as safetensors files are).
    func testFingerprintFollowsTheBinWeights() throws {
        let a = try makeTempDir(self) + "/step100", b = try makeTempDir(self) + "/step100"
        for dir in [a, b] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for f in ["config.json", "tokenizer.json", "pytorch_model.bin"] {
                try FileManager.default.copyItem(atPath: formats + "/olmo_bin/" + f, toPath: dir + "/" + f)
            }
        }
        let path = b + "/pytorch_model.bin"
        let first = try PyTorchCheckpoint(paths: [path]).files[0]
        guard let t = first.tensors["model.embed_tokens.weight"] else { return XCTFail("no embedding") }
        var bytes = try readFileBytes(path)
        bytes[t.storage.lowerBound + 1] ^= 0x40
        try writeFileBytes(bytes, to: path)
        XCTAssertNotEqual(try modelFingerprint(try Model.load(directory: a)), try modelFingerprint(try Model.load(directory: b)))
    }

    // MARK: The pickle is never executed

    func pickleError(_ pickle: [UInt8], storages: [(String, [Float])] = [("0", [1, 2, 3, 4])], _ fragment: String,
                     line: UInt = #line) throws {
        let dir = try makeTempDir(self)
        let path = dir + "/model.pt"
        try writeFileBytes(torchImage(pickle, storages: storages), to: path)
        assertNamedError(path, fragment, line: line) { _ = try PyTorchCheckpoint(paths: [path]) }
    }

    func testValidHandBuiltImage() throws {
        let dir = try makeTempDir(self)
        let path = dir + "/model.pt"
        let pickle = PickleBuilder.stateDict { $0.tensor("w", key: "0", numel: 4, offset: 0, size: [2, 2], stride: [1, 2]) }
        try writeFileBytes(torchImage(pickle, storages: [("0", [1, 2, 3, 4])]), to: path)
        XCTAssertEqual(try PyTorchCheckpoint(paths: [path]).floats("w"), [1, 3, 2, 4])
    }

    func testRefusedGlobalsAndOpcodes() throws {
        var p = PickleBuilder()
        p.global("os", "system"); p.str("echo hi"); p.op(0x85); p.op(0x52); p.op(0x2E)
        try pickleError(p.bytes, "refusing global 'os.system'")
        p = PickleBuilder()
        p.global("builtins", "eval")
        try pickleError(p.bytes, "refusing global 'builtins.eval'")
        p = PickleBuilder()
        p.op(0x28); p.op(0x69)  // INST
        try pickleError(p.bytes, "refusing opcode INST")
        p = PickleBuilder(); p.op(0x81)
        try pickleError(p.bytes, "refusing opcode NEWOBJ")
        // A nested object: a dict whose value is a dict.
        p = PickleBuilder(); p.op(0x7D); p.str("a"); p.op(0x7D); p.op(0x73); p.op(0x2E)
        try pickleError(p.bytes, "state dict entry 'a' is a dict, not a tensor")
        // Calling a storage class.
        p = PickleBuilder(); p.global("torch", "FloatStorage"); p.op(0x29); p.op(0x52)
        try pickleError(p.bytes, "'torch.FloatStorage' cannot be called")
    }

    func testPickleBombsAndMalformedPrograms() throws {
        // Stack growth past the cap.
        var p = PickleBuilder()
        p.bytes += [UInt8](repeating: 0x4E, count: pickleMaxStack + 1)
        try pickleError(p.bytes, "stack grows past")
        p = PickleBuilder(); p.op(0x68); p.bytes.append(7)
        try pickleError(p.bytes, "memo index 7 was never stored")
        p = PickleBuilder(); p.op(0x52)
        try pickleError(p.bytes, "stack underflow")
        p = PickleBuilder(); p.op(0x7D)
        try pickleError(p.bytes, "ends without STOP")
        p = PickleBuilder(); p.bytes += [0x58, 0xFF, 0xFF, 0xFF, 0x7F]
        try pickleError(p.bytes, "truncated")
        // An integer wider than 64 bits (only the legacy magic number is one) is no tensor size.
        p = PickleBuilder(); p.op(0x7D); p.str("w"); p.bytes += [0x8A, 9] + [UInt8](repeating: 1, count: 9); p.op(0x73); p.op(0x2E)
        try pickleError(p.bytes, "state dict entry 'w' is a int, not a tensor")
        p = PickleBuilder(); p.bytes += [0x8A, 200, 1, 2]
        try pickleError(p.bytes, "truncated")
    }

    /// ~1.2 million nested one-element tuples under a state-dict key (the crash of issue 30) get a
    /// named error, and the values are never built past the cap.
    func testDeeplyNestedValuesAreRefused() throws {
        var p = PickleBuilder()
        p.op(0x7D); p.op(0x28); p.str("w"); p.op(0x4E)
        p.bytes += [UInt8](repeating: 0x85, count: 1_200_000)   // TUPLE1
        p.op(0x75); p.op(0x2E)
        try pickleError(p.bytes, "nested too deeply (more than \(pickleMaxDepth) levels)")
        // The same as a bare pickle, the way the fuzz target and the reader accept it.
        XCTAssertThrowsError(try p.bytes.withUnsafeBytes { try readRestrictedPickle($0, file: "deep.pkl") }) {
            XCTAssertTrue("\($0)".contains("deep.pkl") && "\($0)".contains("nested too deeply"), "\($0)")
        }
        // Lists, dicts and tuples nested through LIST, APPEND and SETITEM are capped alike.
        try nestedContainer(depth: pickleMaxDepth, ok: true)
        try nestedContainer(depth: pickleMaxDepth + 1, ok: false)
    }

    /// Builds `depth` levels of list / dict / tuple nesting, outermost first, so that each level
    /// is opened before its content (MARK … LIST, EMPTY_LIST … APPEND, EMPTY_DICT key … SETITEM),
    /// and checks that exactly `pickleMaxDepth` levels are read and one more is refused.
    func nestedContainer(depth: Int, ok: Bool, line: UInt = #line) throws {
        for kind in 0..<3 {
            var p = PickleBuilder()
            for _ in 0..<(depth - 1) {
                switch kind {
                case 0: p.op(0x28)                   // MARK (closed by LIST)
                case 1: p.op(0x5D)                   // EMPTY_LIST (closed by APPEND)
                default: p.op(0x7D); p.int(1)        // EMPTY_DICT, key (closed by SETITEM)
                }
            }
            p.op(0x29)                               // the innermost value: an empty tuple (depth 1)
            for _ in 0..<(depth - 1) { p.op([0x6C, 0x61, 0x73][kind]) }
            p.op(0x2E)
            let result = Result { try p.bytes.withUnsafeBytes { try readRestrictedPickle($0, file: "deep.pkl") } }
            switch result {
            case .success: XCTAssertTrue(ok, "kind \(kind): \(depth) levels were read", line: line)
            case .failure(let e):
                XCTAssertFalse(ok, "kind \(kind): \(e)", line: line)
                XCTAssertTrue("\(e)".contains("nested too deeply"), "kind \(kind): \(e)", line: line)
            }
        }
    }

    /// A list or dict cannot change once inside another value, so depths never go stale and no
    /// value holds itself (Python's pickles of cycles do this; a state dict never does).
    func testCyclesAndLateGrowthAreRefused() throws {
        // L0 = [], L1 = []; L0.append(L1); then L1.append(None) — L1 is already inside L0.
        var p = PickleBuilder()
        p.op(0x5D); p.op(0x71); p.bytes.append(0)        // L0, memo 0
        p.op(0x5D); p.op(0x71); p.bytes.append(1)        // L1, memo 1
        p.op(0x61)                                       // L0.append(L1)
        p.op(0x68); p.bytes.append(1); p.op(0x4E); p.op(0x61)  // L1.append(None)
        try pickleError(p.bytes, "already inside another value")
        // A list appended to itself, and a dict stored in itself.
        p = PickleBuilder(); p.op(0x5D); p.op(0x71); p.bytes.append(0); p.op(0x68); p.bytes.append(0); p.op(0x61)
        try pickleError(p.bytes, "a list appended to itself")
        p = PickleBuilder(); p.op(0x7D); p.op(0x71); p.bytes.append(0); p.int(1); p.op(0x68); p.bytes.append(0); p.op(0x73)
        try pickleError(p.bytes, "a dict stored in itself")
        // A tuple holding a list seals it too.
        p = PickleBuilder(); p.op(0x5D); p.op(0x71); p.bytes.append(0); p.op(0x85)
        p.op(0x68); p.bytes.append(0); p.op(0x4E); p.op(0x61)
        try pickleError(p.bytes, "already inside another value")
    }

    func testStorageExtentsAreChecked() throws {
        try pickleError(PickleBuilder.stateDict { $0.tensor("w", key: "0", numel: 4, offset: 1, size: [2, 2], stride: [2, 1]) },
                        "past its storage of 4")
        try pickleError(PickleBuilder.stateDict { $0.tensor("w", key: "0", numel: 4, offset: 0, size: [3], stride: [2]) },
                        "past its storage")
        try pickleError(PickleBuilder.stateDict { $0.tensor("w", key: "0", numel: 5, offset: 0, size: [4], stride: [1]) },
                        "holds 16 bytes, but 5 F32 elements need 20")
        try pickleError(PickleBuilder.stateDict { $0.tensor("w", key: "9", numel: 4, offset: 0, size: [4], stride: [1]) },
                        "has no entry archive/data/9")
        try pickleError(PickleBuilder.stateDict { $0.tensor("w", key: "../0", numel: 4, offset: 0, size: [4], stride: [1]) },
                        "is not a plain entry name")
        try pickleError(PickleBuilder.stateDict { $0.tensor("w", key: "0", numel: 4, offset: -1, size: [4], stride: [1]) },
                        "negative storage offset")
        // Stride 0 past the storage's end, and a huge expanded view of a tiny storage.
        try pickleError(PickleBuilder.stateDict { $0.tensor("w", key: "0", numel: 4, offset: 4, size: [2, 4], stride: [0, 0]) },
                        "reach element 4, past its storage of 4")
        try pickleError(PickleBuilder.stateDict { $0.tensor("w", key: "0", numel: 4, offset: 0, size: [1 << 20, 1 << 20], stride: [0, 0]) },
                        "past ke's limit of \(pyTorchMaxExpandedElements) elements")
        try pickleError(PickleBuilder.stateDict { $0.tensor("w", key: "0", storageType: "ComplexFloatStorage", numel: 4, offset: 0, size: [4], stride: [1]) },
                        "refusing global 'torch.ComplexFloatStorage'")
    }

    /// Stride-0 and overlapping views of a hand-built image are gathered element by element.
    func testExpandedAndOverlappingViewsAreMaterialised() throws {
        let dir = try makeTempDir(self)
        let path = dir + "/model.pt"
        let pickle = PickleBuilder.stateDict {
            $0.tensor("rows", key: "0", numel: 4, offset: 0, size: [2, 4], stride: [0, 1])
            $0.tensor("cols", key: "0", numel: 4, offset: 1, size: [3, 2], stride: [1, 0])
            $0.tensor("windows", key: "0", numel: 4, offset: 0, size: [3, 2], stride: [1, 1])
        }
        try writeFileBytes(torchImage(pickle, storages: [("0", [1, 2, 3, 4])]), to: path)
        let c = try PyTorchCheckpoint(paths: [path])
        XCTAssertEqual(try c.floats("rows"), [1, 2, 3, 4, 1, 2, 3, 4])
        XCTAssertEqual(try c.floats("cols"), [2, 2, 3, 3, 4, 4])
        XCTAssertEqual(try c.floats("windows"), [1, 2, 2, 3, 3, 4])
        XCTAssertNil(c.float32Pointer("rows"), "an expanded view is copied")
    }

    // MARK: Issue 30: torch's own files of every kind (Scripts/fixtures/torch_variants.py)

    var variants: String { formats + "/torch_variants" }

    /// Every tensor of `file` equals what torch.load(weights_only=True) returned (values.json):
    /// the same shape, and the same bits (F16/BF16 → F32 is exact, and values.json holds each
    /// value as the float64 of that float).
    func assertMatchesTorch(_ file: String, line: UInt = #line) throws {
        let c = try PyTorchCheckpoint(paths: [variants + "/" + file])
        let json = try JSONValue.parse(bytes: readFileBytes(variants + "/values.json"))
        guard let obj = json[file]?.objectValue else { return XCTFail("values.json has no \(file)", line: line) }
        XCTAssertEqual(c.names, obj.map(\.0).sorted(), file, line: line)
        for (name, v) in obj {
            XCTAssertEqual(c.tensorInfo(name)?.shape, (v["shape"]?.arrayValue ?? []).compactMap(\.intValue), "\(file) \(name)", line: line)
            let got = try c.floats(name), want = v["values"]!.doubles.map { Float($0) }
            XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(file) \(name)", line: line)
        }
    }

    /// The legacy (torch < 1.6) stream: an OrderedDict with _metadata, F32/F16/BF16/int64, shared
    /// storages, a transpose, an expand(), attribute-carrying tensors and parameters, a scalar.
    func testLegacyFormatMatchesTorch() throws { try assertMatchesTorch("legacy.pt") }

    /// A zip archive written on a big-endian machine (byteorder "big"): every dtype byte-swapped
    /// as torch does, strided views too; nothing is used in place.
    func testBigEndianArchiveMatchesTorch() throws {
        try assertMatchesTorch("bigendian.pt")
        let c = try PyTorchCheckpoint(paths: [variants + "/bigendian.pt"])
        XCTAssertNil(c.float32Pointer("f32"), "big-endian values are swapped, never used in place")
    }

    /// Tensors and parameters with Python attributes (_rebuild_from_type_v2,
    /// _rebuild_parameter_with_state): the weights, without the attributes.
    func testAttributeCarryingTensorsMatchTorch() throws { try assertMatchesTorch("attributes.pt") }

    /// expand()-ed (stride 0) and as_strided overlapping views, as torch saved them.
    func testExpandedViewsMatchTorch() throws { try assertMatchesTorch("views.pt") }

    /// A legacy stream whose pickle calls os.system (torch.load(weights_only=True) refuses it too).
    func testHostileLegacyFileIsRefused() throws {
        let path = variants + "/legacy_hostile.pt"
        assertNamedError(path, "refusing global 'posix.system'") { _ = try PyTorchCheckpoint(paths: [path]) }
    }

    /// Malformed legacy streams: every truncation, a storage whose recorded element count
    /// differs from the pickle's, a wrong magic number and protocol, a foreign pickle.
    func testMalformedLegacyStreams() throws {
        let good = try readFileBytes(variants + "/legacy.pt")
        let dir = try makeTempDir(self)
        let path = dir + "/legacy.pt"
        try assertEveryTruncation(of: good, step: 5, to: path) { path, cut in
            _ = try PyTorchCheckpoint(paths: [path])
            XCTFail("a legacy file cut at \(cut) bytes was accepted")
        }
        // The first storage's element count (the 8 bytes after the key list) made one larger.
        let file = try PyTorchFile(path: variants + "/legacy.pt")
        let first = file.tensors.values.map(\.storage.lowerBound).min()!
        var b = good
        b[first - 8] &+= 1
        try writeFileBytes(b, to: path)
        assertNamedError(path, "elements, but the state dict declares") { _ = try PyTorchCheckpoint(paths: [path]) }
        // The magic number changed; the protocol version changed (BININT2 1001 → 1002).
        b = good; b[5] ^= 0x01
        try writeFileBytes(b, to: path)
        assertNamedError(path, "legacy magic number") { _ = try PyTorchCheckpoint(paths: [path]) }
        b = good; b[18] = 0xEA
        try writeFileBytes(b, to: path)
        assertNamedError(path, "protocol version 1002, not 1001") { _ = try PyTorchCheckpoint(paths: [path]) }
        // A plain pickle of a state dict (no magic number).
        try writeFileBytes(PickleBuilder.stateDict { _ in }, to: path)
        assertNamedError(path, "legacy magic number") { _ = try PyTorchCheckpoint(paths: [path]) }
    }

    /// A model directory whose pytorch_model.bin is a legacy stream gives the logits transformers
    /// computes from it, and exactly ke's logits of the same weights in the zip format.
    func testLegacyBinDirectoryGivesTransformersLogits() throws {
        let dir = variants + "/olmo_bin_legacy"
        let rec = try SafetensorsFile(path: dir + "/expected.safetensors")
        let ids = try rec.floats("ids").map { Int($0) }
        let got = try packedLogits(try Model.load(directory: dir), [ids])
        // 1e-4: float32 sums in a different order from torch's kernels (the logit bound).
        XCTAssertLessThan(maxAbsDiff(got, try rec.floats("logits")), 1e-4)
        XCTAssertEqual(got, try packedLogits(try Model.load(directory: formats + "/olmo_bin"), [ids]))
    }

    /// A big-endian archive with an unknown byte order record is refused as torch refuses it.
    func testUnknownByteOrderIsRefused() throws {
        let pickle = PickleBuilder.stateDict { $0.tensor("w", key: "0", numel: 4, offset: 0, size: [4], stride: [1]) }
        let image = storedZip([("archive/data.pkl", pickle), ("archive/byteorder", Array("middle".utf8)),
                               ("archive/data/0", [UInt8](repeating: 0, count: 16))])
        let path = try makeTempDir(self) + "/model.pt"
        try writeFileBytes(image, to: path)
        assertNamedError(path, "unknown byte order 'middle'") { _ = try PyTorchCheckpoint(paths: [path]) }
    }

    /// Attribute-carrying rebuilds are bounded and restricted like the rest: only a tensor or
    /// parameter type, only a tensor rebuild function, four arguments.
    func testAttributeRebuildsAreRestricted() throws {
        func fromType(_ type: (String, String), _ inner: (String, String)) -> [UInt8] {
            PickleBuilder.stateDict { p in
                p.str("w")
                p.global("torch._tensor", "_rebuild_from_type_v2")
                p.op(0x28)
                p.global(inner.0, inner.1); p.global(type.0, type.1)
                p.op(0x28)
                p.op(0x28); p.str("storage"); p.global("torch", "FloatStorage"); p.str("0"); p.str("cpu"); p.int(4); p.op(0x74)
                p.op(0x51); p.int(0); p.ints([4]); p.ints([1]); p.op(0x89); p.op(0x7D)
                p.op(0x74)
                p.op(0x7D)
                p.op(0x74); p.op(0x52)
            }
        }
        let dir = try makeTempDir(self)
        let path = dir + "/model.pt"
        try writeFileBytes(torchImage(fromType(("torch", "Tensor"), ("torch._utils", "_rebuild_tensor_v2")), storages: [("0", [1, 2, 3, 4])]), to: path)
        XCTAssertEqual(try PyTorchCheckpoint(paths: [path]).floats("w"), [1, 2, 3, 4])
        try pickleError(fromType(("torch", "FloatStorage"), ("torch._utils", "_rebuild_tensor_v2")),
                        "_rebuild_from_type_v2 rebuilds a torch.FloatStorage, not torch.Tensor")
        try pickleError(fromType(("torch", "Tensor"), ("collections", "OrderedDict")),
                        "_rebuild_from_type_v2 calls collections.OrderedDict")
        try pickleError(fromType(("numpy", "ndarray"), ("torch._utils", "_rebuild_tensor_v2")), "refusing global 'numpy.ndarray'")
    }
}
