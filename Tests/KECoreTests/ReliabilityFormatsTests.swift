import Foundation
import XCTest
@testable import KECore

// MARK: Bad PyTorch and GGUF files
//
// Each case must give a CoreError naming the file and the problem: never a crash, a hang or a
// huge allocation.

final class ReliabilityFormatsTests: XCTestCase {
    let formats = Fixtures.root + "/formats"

    func write(_ bytes: [UInt8], name: String = "model.pt") throws -> String {
        let path = try makeTempDir(self) + "/" + name
        try writeFileBytes(bytes, to: path)
        return path
    }

    func torchError(_ bytes: [UInt8], _ fragment: String, line: UInt = #line) throws {
        let path = try write(bytes)
        assertNamedError(path, fragment, line: line) { _ = try PyTorchCheckpoint(paths: [path]) }
    }

    /// A valid image and the offsets of its parts, for corrupting.
    func validImage() -> [UInt8] {
        torchImage(PickleBuilder.stateDict { $0.tensor("w", key: "0", numel: 4, offset: 0, size: [4], stride: [1]) },
                   storages: [("0", [1, 2, 3, 4])])
    }

    func offsetOfCentralDirectory(_ b: [UInt8]) -> Int {
        let e = b.count - 22
        return Int(b[e + 16]) | Int(b[e + 17]) << 8 | Int(b[e + 18]) << 16 | Int(b[e + 19]) << 24
    }

    func testEveryTruncationOfARealTorchFileIsRejected() throws {
        let bytes = try readFileBytes(formats + "/torch/strided.pt")
        let dir = try makeTempDir(self)
        let path = dir + "/strided.pt"
        try assertEveryTruncation(of: bytes, step: 7, to: path) { path, cut in
            _ = try PyTorchCheckpoint(paths: [path])
            XCTFail("a file cut at \(cut) bytes was accepted")
        }
    }

    func testBadZipArchives() throws {
        let good = validImage()
        XCTAssertNoThrow(try PyTorchCheckpoint(paths: [try write(good)]))
        // 1. not a zip at all
        try torchError(Array("hello world, not a checkpoint".utf8), "not a zip archive")
        // 2. a legacy torch < 1.6 pickle stream cut inside its magic number
        try torchError([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8], "truncated")
        // 3. legacy tar
        var tar = [UInt8](repeating: 0, count: 1024)
        tar.replaceSubrange(257..<262, with: Array("ustar".utf8))
        try torchError(tar, "legacy PyTorch tar format")
        // 4. end record cut off
        try torchError(Array(good.dropLast(5)), "no end-of-central-directory record")
        let cd = offsetOfCentralDirectory(good)
        // 5. a compressed entry (method 8 = deflate)
        var b = good; b[cd + 10] = 8
        try torchError(b, "is compressed (method 8)")
        // 6. an encrypted entry
        b = good; b[cd + 8] = 1
        try torchError(b, "is encrypted")
        // 7. an entry count larger than the central directory can hold
        b = good; b[b.count - 22 + 10] = 0xFE; b[b.count - 22 + 11] = 0xFF
        try torchError(b, "more than its")
        // 8. central directory offset past the end of the file
        b = good; b[b.count - 22 + 19] = 0x7F
        try torchError(b, "is outside the")
        // 9. local header offset pointing nowhere
        b = good; b[cd + 42] = 0x03
        try torchError(b, "does not point at a local header")
        // 10. an entry size running past the file
        b = good; b[cd + 23] = 0x40; b[cd + 27] = 0x40
        try torchError(b, "is outside the")
        // 11. multi-disk
        b = good; b[b.count - 22 + 4] = 1
        try torchError(b, "multi-disk")
        // 12. stored sizes that differ
        b = good; b[cd + 20] = b[cd + 20] &+ 1
        try torchError(b, "sizes differ")
        // 13. no data.pkl
        try torchError(storedZip([("archive/other", [1, 2])]), "has no data.pkl")
        // 14. a byte order torch does not write (a "big" one is read, byte-swapped)
        try torchError(storedZip([("a/data.pkl", [0x80, 2, 0x7D, 0x2E]), ("a/byteorder", Array("BIG".utf8))]), "unknown byte order 'BIG'")
        XCTAssertNoThrow(try PyTorchCheckpoint(paths: [try write(storedZip([("a/data.pkl", [0x80, 2, 0x7D, 0x2E]), ("a/byteorder", Array("big".utf8))]))]))
        // 15. duplicate entries
        try torchError(storedZip([("a/data.pkl", [0x80, 2, 0x7D, 0x2E]), ("a/data.pkl", [0x2E])]), "appears twice")
        // 16. the pickle holds a list, not a state dict
        try torchError(storedZip([("a/data.pkl", [0x80, 2, 0x5D, 0x2E])]), "holds a list, not a state dict")
        // 17. an empty file
        try torchError([], "not a zip archive")
    }

    /// `load "DIR"` on a directory whose pytorch_model.bin is bad names that file.
    func testModelLoadNamesTheBadBin() throws {
        let dir = try makeTempDir(self)
        for f in ["config.json", "tokenizer.json"] {
            try FileManager.default.copyItem(atPath: formats + "/olmo_bin/" + f, toPath: dir + "/" + f)
        }
        var p = PickleBuilder(); p.global("subprocess", "Popen")
        try writeFileBytes(storedZip([("a/data.pkl", p.bytes)]), to: dir + "/pytorch_model.bin")
        assertNamedError(dir + "/pytorch_model.bin", "refusing global 'subprocess.Popen'") { _ = try Model.load(directory: dir) }
    }

    // MARK: GGUF

    /// A GGUF image: header, metadata `kv` (already encoded), tensor infos and data.
    struct GGUFBuilder {
        var version: UInt32 = 3
        var kv: [UInt8] = [], kvCount = 0
        var infos: [UInt8] = [], tensorCount = 0
        var data: [UInt8] = []
        var alignment = 32
        static func le(_ v: UInt64, _ w: Int) -> [UInt8] { (0..<w).map { UInt8((v >> (8 * UInt64($0))) & 0xFF) } }
        static func str(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count), 8) + Array(s.utf8) }
        mutating func addString(_ key: String, _ value: String) {
            kv += Self.str(key) + Self.le(8, 4) + Self.str(value); kvCount += 1
        }
        mutating func addStrings(_ key: String, _ values: [String]) {
            kv += Self.str(key) + Self.le(9, 4) + Self.le(8, 4) + Self.le(UInt64(values.count), 8)
            for v in values { kv += Self.str(v) }
            kvCount += 1
        }
        mutating func addU32(_ key: String, _ value: UInt32) {
            kv += Self.str(key) + Self.le(4, 4) + Self.le(UInt64(value), 4); kvCount += 1
        }
        mutating func addTensor(_ name: String, ne: [UInt64], type: UInt32, offset: UInt64? = nil, bytes: [UInt8]) {
            while data.count % alignment != 0 { data.append(0) }
            infos += Self.str(name) + Self.le(UInt64(ne.count), 4)
            for d in ne { infos += Self.le(d, 8) }
            infos += Self.le(UInt64(type), 4) + Self.le(offset ?? UInt64(data.count), 8)
            data += bytes; tensorCount += 1
        }
        func bytes() -> [UInt8] {
            var out = Array("GGUF".utf8) + Self.le(UInt64(version), 4) + Self.le(UInt64(tensorCount), 8) + Self.le(UInt64(kvCount), 8)
            out += kv + infos
            while out.count % alignment != 0 { out.append(0) }
            return out + data
        }
    }

    func ggufError(_ bytes: [UInt8], _ fragment: String, line: UInt = #line) throws {
        let path = try write(bytes, name: "model.gguf")
        assertNamedError(path, fragment, line: line) { _ = try GGUFFile(path: path) }
    }

    func goodGGUF() -> GGUFBuilder {
        var g = GGUFBuilder()
        g.addString("general.architecture", "llama")
        g.addTensor("a", ne: [32, 2], type: 8, bytes: [UInt8](repeating: 0, count: 68))  // Q8_0
        return g
    }

    func testEveryTruncationOfARealGGUFIsRejected() throws {
        // gguf-py pads the file after the last tensor: cutting only padding leaves a valid file.
        try assertEveryGGUFTruncation(of: formats + "/gguf/blocks.gguf", step: 5, in: try makeTempDir(self))
    }

    func testBadGGUFFiles() throws {
        XCTAssertNoThrow(try GGUFFile(path: try write(goodGGUF().bytes(), name: "ok.gguf")))
        // 1. bad magic
        try ggufError(Array("GGML".utf8) + [UInt8](repeating: 0, count: 40), "no \"GGUF\" magic")
        // 2. version 1 (32-bit counts) and an unknown future version
        var g = goodGGUF(); g.version = 1
        try ggufError(g.bytes(), "GGUF version 1 is not supported")
        g.version = 9
        try ggufError(g.bytes(), "GGUF version 9")
        // 3. a tensor count the file cannot hold
        var b = goodGGUF().bytes(); b[15] = 0x10
        try ggufError(b, "tensor count")
        // 4. a metadata count the file cannot hold
        b = goodGGUF().bytes(); b[23] = 0x7F
        try ggufError(b, "metadata count")
        // 5. a huge string length
        b = goodGGUF().bytes(); b[24 + 7] = 0x7F
        try ggufError(b, "key length")
        // 6. an unknown metadata value type
        g = GGUFBuilder(); g.kv = GGUFBuilder.str("k") + GGUFBuilder.le(77, 4); g.kvCount = 1
        try ggufError(g.bytes(), "unknown metadata value type 77")
        // 7. an unknown ggml type
        g = GGUFBuilder(); g.addTensor("a", ne: [32], type: 99, bytes: [])
        try ggufError(g.bytes(), "ggml type 99")
        // 8. too many dimensions
        g = GGUFBuilder(); g.addTensor("a", ne: [1, 1, 1, 1, 1], type: 0, bytes: [0, 0, 0, 0])
        try ggufError(g.bytes(), "has 5 dimensions")
        // 9. rows that are not whole blocks
        g = GGUFBuilder(); g.addTensor("a", ne: [30, 2], type: 8, bytes: [UInt8](repeating: 0, count: 68))
        try ggufError(g.bytes(), "not whole Q8_0 blocks of 32")
        // 10. data past the end of the file
        g = GGUFBuilder(); g.addTensor("a", ne: [32, 4], type: 8, bytes: [UInt8](repeating: 0, count: 68))
        try ggufError(g.bytes(), "run past the end of the file")
        // 11. a misaligned offset
        g = GGUFBuilder(); g.addTensor("a", ne: [4], type: 0, offset: 4, bytes: [UInt8](repeating: 0, count: 64))
        try ggufError(g.bytes(), "not aligned to 32")
        // 12. overlapping tensors
        g = GGUFBuilder()
        g.addTensor("a", ne: [16], type: 0, offset: 0, bytes: [UInt8](repeating: 0, count: 96))
        g.addTensor("b", ne: [16], type: 0, offset: 32, bytes: [])
        try ggufError(g.bytes(), "overlap")
        // 13. a repeated key and a repeated tensor
        g = GGUFBuilder(); g.addString("k", "a"); g.addString("k", "b")
        try ggufError(g.bytes(), "metadata key 'k' appears twice")
        g = GGUFBuilder(); g.addTensor("a", ne: [8], type: 0, bytes: [UInt8](repeating: 0, count: 32))
        g.addTensor("a", ne: [8], type: 0, bytes: [UInt8](repeating: 0, count: 32))
        try ggufError(g.bytes(), "tensor 'a' appears twice")
        // 14. an alignment that is not a power of two
        g = goodGGUF(); g.addU32("general.alignment", 24)
        try ggufError(g.bytes(), "general.alignment must be a power of two")
        // 15. an empty file
        try ggufError([], "no \"GGUF\" magic")
        // 16. a huge dimension
        g = GGUFBuilder(); g.addTensor("a", ne: [1 << 40], type: 0, bytes: [])
        try ggufError(g.bytes(), "too large")
    }

    /// A GGUF whose model-level content is wrong names the file.
    func testBadGGUFModels() throws {
        var g = goodGGUF()
        var path = try write(g.bytes(), name: "m.gguf")
        assertNamedError(path, "missing llama.embedding_length") { _ = try Model.load(gguf: path) }
        g = GGUFBuilder(); g.addString("general.architecture", "mamba")
        path = try write(g.bytes(), name: "m.gguf")
        assertNamedError(path, "GGUF architecture 'mamba' is not supported") { _ = try Model.load(gguf: path) }
        // A real file whose tokenizer model is changed to SentencePiece.
        var bytes = try readFileBytes(formats + "/gguf/llama_Q4_0.gguf")
        let key = Array("tokenizer.ggml.model".utf8)
        if let at = (0..<(bytes.count - key.count)).first(where: { Array(bytes[$0..<($0 + key.count)]) == key }) {
            // value: u32 type 8, u64 length 4, "gpt2" → "bert"
            let v = at + key.count + 4 + 8
            bytes.replaceSubrange(v..<(v + 4), with: Array("bert".utf8))
        }
        path = try write(bytes, name: "m.gguf")
        assertNamedError(path, "tokenizer.ggml.model 'bert' is not supported") { _ = try Model.load(gguf: path) }
    }
    /// The nesting seeds of the pickle fuzz target (Scripts/fixtures/pickle_nesting.py, checked
    /// against Python's unpickler): 1,000 levels with the state dict are read, 1,101 are refused,
    /// in a bare pickle and in a legacy torch.save stream.
    func testPickleNestingSeeds() throws {
        let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/pickle/seeds").path
        for name in ["nested_lists_cap.pkl", "nested_dicts_cap.pkl"] {
            let bytes = try readFileBytes(seeds + "/" + name)
            let root = try bytes.withUnsafeBytes { try readRestrictedPickle($0, file: name) }
            guard case .dict(let d) = root else { return XCTFail(name) }
            XCTAssertEqual(d.depth, pickleMaxDepth, name)
        }
        let path = seeds + "/nested_tuples_deep.pkl"
        let bytes = try readFileBytes(path)
        assertNamedError(path, "nested too deeply") { _ = try bytes.withUnsafeBytes { try readRestrictedPickle($0, file: path) } }
        // The same state dict inside a legacy (torch < 1.6) stream, opened as a checkpoint.
        let legacy = seeds + "/legacy_nested_deep.pt"
        assertNamedError(legacy, "nested too deeply") { _ = try PyTorchCheckpoint(paths: [legacy]) }
    }

    /// Every reader that builds nested values from JSON (safetensors headers, config.json,
    /// tokenizer.json, shard indexes) refuses a million-level nesting naming the file, and reads
    /// the deepest nesting allowed (`JSONValue.maxDepth`, released within that depth).
    func testDeeplyNestedJSONIsRefusedByEveryReader() throws {
        let deep = String(repeating: "[", count: 1_000_000) + String(repeating: "]", count: 1_000_000)
        let dir = try makeTempDir(self)
        // A safetensors header: {"w": {"dtype": …, "extra": [[[…]]]}}.
        var header = Array("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":\(deep)}}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var st: [UInt8] = []
        for i in 0..<8 { st.append(UInt8((header.count >> (8 * i)) & 0xFF)) }
        st += header + [0, 0, 0x80, 0x3F]
        let stPath = dir + "/model.safetensors"
        try writeFileBytes(st, to: stPath)
        assertNamedError(stPath, "nested too deeply") { _ = try SafetensorsFile(path: stPath) }
        let configPath = dir + "/config.json"
        try writeFileBytes(Array("{\"model_type\": \(deep)}".utf8), to: configPath)
        assertNamedError(configPath, "nested too deeply") { _ = try ModelConfig.load(path: configPath) }
        let tokPath = dir + "/tokenizer.json"
        try writeFileBytes(Array("{\"model\": \(deep)}".utf8), to: tokPath)
        assertNamedError(tokPath, "nested too deeply") { _ = try Tokenizer(contentsOf: tokPath) }
        let indexPath = dir + "/model.safetensors.index.json"
        try writeFileBytes(Array("{\"weight_map\": \(deep)}".utf8), to: indexPath)
        assertNamedError(indexPath, "nested too deeply") { _ = try shardFileNames(indexPath: indexPath) }
        // Exactly the cap parses; one level more does not.
        let atCap = String(repeating: "[", count: JSONValue.maxDepth) + String(repeating: "]", count: JSONValue.maxDepth)
        XCTAssertNoThrow(try JSONValue.parse(atCap))
        XCTAssertThrowsError(try JSONValue.parse("[" + atCap + "]"))
    }
}
