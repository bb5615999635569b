import Foundation
import XCTest
@testable import KECore

// MARK: Reliability: checkpoints, config.json, tokenizer.json, saving
//
// Each bad input must give a CoreError that names the file and the problem. Cases already
// covered one by one in SafetensorsTests / CheckpointTests / ConfigParserTests are not repeated;
// these tests sweep whole families (every truncation, every broken tokenizer.json shape) and
// check the file named in the error, which the older tests do not.

/// Writes each `step`-th prefix of `bytes` (cut at 0, step, 2·step, …) to `path` and calls
/// `read(path, cut)`: a prefix must either be refused with a `CoreError` naming `path`, or be read,
/// in which case `read` itself checks what it got (or fails the test).
func assertEveryTruncation(of bytes: [UInt8], step: Int, to path: String, at file: StaticString = #filePath,
                           line: UInt = #line, read: (_ path: String, _ cut: Int) throws -> Void) throws {
    for cut in stride(from: 0, to: bytes.count, by: step) {
        try writeFileBytes(Array(bytes[0..<cut]), to: path)
        do {
            try read(path, cut)
        } catch let e as CoreError {
            XCTAssertEqual(e.file, path, "cut at \(cut): \(e)", file: file, line: line)
        }
    }
}

/// Every `step`-th prefix of the GGUF file `source` is refused naming the copy, or, cutting only
/// the padding gguf-py writes after the last tensor, reads the same tensors.
func assertEveryGGUFTruncation(of source: String, step: Int, in dir: String,
                               at file: StaticString = #filePath, line: UInt = #line) throws {
    let bytes = try readFileBytes(source)
    let path = dir + "/" + (source as NSString).lastPathComponent
    let full = try GGUFFile(path: source)
    let needed = full.tensors.map { $0.fileOffset + $0.byteCount }.max() ?? 0
    try assertEveryTruncation(of: bytes, step: step, to: path, at: file, line: line) { path, cut in
        let f = try GGUFFile(path: path)
        XCTAssertGreaterThanOrEqual(cut, needed, "a file cut at \(cut) bytes was accepted", file: file, line: line)
        XCTAssertEqual(f.tensors, full.tensors, file: file, line: line)
    }
}

/// Asserts that `body` throws a CoreError naming `file` (exactly) whose message contains `fragment`.
func assertNamedError(_ file: String, _ fragment: String, at path: StaticString = #filePath, line: UInt = #line,
                      _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error about \(file) containing '\(fragment)'", file: path, line: line)
    } catch let e as CoreError {
        XCTAssertEqual(e.file, file, "error: \(e)", file: path, line: line)
        XCTAssertTrue(e.message.contains(fragment), "message '\(e.message)' lacks '\(fragment)'", file: path, line: line)
    } catch {
        XCTFail("not a CoreError: \(error)", file: path, line: line)
    }
}

final class ReliabilityCheckpointTests: XCTestCase {

    /// A temporary model directory holding copies of fixture `name`'s files plus tokenizer.json.
    func modelDir(_ name: String) throws -> String {
        let dir = try makeTempDir(self)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: checkpointFixtures + "/\(name)/\(f)", toPath: dir + "/" + f)
        }
        // A tokenizer whose added tokens fit the 11-row embedding of these checkpoints (load checks it).
        try FileManager.default.copyItem(atPath: Fixtures.root + "/tokenizers/nfc_prefix.json", toPath: dir + "/tokenizer.json")
        return dir
    }

    // MARK: Truncated safetensors

    /// Every prefix of a real checkpoint file either is rejected with a specific error, or
    /// (only when the cut falls in unused trailing bytes) parses to the same tensors.
    func testEveryTruncationOfARealCheckpointIsRejected() throws {
        let path = checkpointFixtures + "/gpt2/model.safetensors"
        let bytes = try readFileBytes(path)
        let full = try bytes.withUnsafeBytes { try parseSafetensorsHeader($0, file: path) }
        let needed = full.dataStart + (full.tensors.map(\.end).max() ?? 0)
        var messages = Set<String>()
        for cut in 0..<bytes.count {
            do {
                let parsed = try bytes.withUnsafeBytes {
                    try parseSafetensorsHeader(UnsafeRawBufferPointer(rebasing: $0[0..<cut]), file: path)
                }
                XCTAssertGreaterThanOrEqual(cut, needed, "a file cut at \(cut) bytes was accepted")
                XCTAssertEqual(parsed.tensors, full.tensors)
            } catch let e as CoreError {
                XCTAssertEqual(e.file, path)
                messages.insert(String(e.message.prefix(28)))
            }
        }
        // The three regions of a truncated file give three different explanations.
        XCTAssertTrue(messages.contains { $0.hasPrefix("safetensors file is") }, "\(messages)")
        XCTAssertTrue(messages.contains { $0.hasPrefix("safetensors header length") }, "\(messages)")
        XCTAssertTrue(messages.contains { $0.hasPrefix("tensor '") }, "\(messages)")
    }

    /// A half-downloaded model.safetensors in a model directory: loading names that file.
    func testTruncatedFileInAModelDirectoryNamesTheFile() throws {
        let dir = try modelDir("llama_gqa")
        let weights = dir + "/model.safetensors"
        let bytes = try readFileBytes(weights)
        for cut in [0, 5, 8, 200, bytes.count / 2, bytes.count - 1] {
            try writeFileBytes(Array(bytes[0..<cut]), to: weights)
            let fragment = cut < 8 ? "shorter than the 8-byte header length" : cut < 300 ? "exceeds the" : "is past the data section"
            assertNamedError(weights, fragment) { _ = try Model.load(directory: dir) }
        }
    }

    /// A header length of exactly 2^62 and one that just exceeds the file are told apart.
    func testHeaderLengthLargerThanTheFile() throws {
        let dir = try makeTempDir(self)
        let p = dir + "/model.safetensors"
        try writeRawSafetensors(p, header: "{}", length: 1 << 62)
        assertNamedError(p, "header length 4611686018427387904 is larger than the 100 MB limit") { _ = try SafetensorsFile(path: p) }
        try writeRawSafetensors(p, header: "{}", length: 3)
        assertNamedError(p, "header length 3 exceeds the 2 bytes after the length field") { _ = try SafetensorsFile(path: p) }
    }

    /// Every kind of bad header names the file, and says which tensor and what is wrong.
    func testEveryHeaderProblemNamesTheFileAndTensor() throws {
        let dir = try makeTempDir(self)
        let p = dir + "/model.safetensors"
        let cases: [(String, [UInt8], String)] = [
            ("{\"a\": ", [], "header is not valid JSON"),
            (#"{"w": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}"#, [0], "tensor 'w': unknown dtype \"F8_E4M3\""),
            (#"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#, [0, 0, 0, 0], "tensor 'w': data_offsets end 8 is past the data section (4 bytes)"),
            (#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "v": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}"#,
             [UInt8](repeating: 0, count: 8), "tensors 'w' and 'v' overlap in the data section"),
            (#"{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#, [UInt8](repeating: 0, count: 8), "tensor 'w': data_offsets span 8 bytes but F32 shape [3] needs 12"),
            (#"{"w": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 0]}}"#, [], "tensor 'w': element count overflows"),
            (#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}"#, [], "tensor 'w': data_offsets [-4, 0] are not ordered"),
            (#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 1e300]}}"#, [], "tensor 'w': data_offsets must be [begin, end] integers"),
        ]
        for (header, data, fragment) in cases {
            try writeRawSafetensors(p, header: header, data: data)
            assertNamedError(p, fragment) { _ = try SafetensorsFile(path: p) }
        }
    }

    /// A directory in place of model.safetensors, and an empty file.
    func testWeightsFileThatIsNotAFile() throws {
        let dir = try makeTempDir(self)
        try FileManager.default.copyItem(atPath: checkpointFixtures + "/gpt2/config.json", toPath: dir + "/config.json")
        try FileManager.default.createDirectory(atPath: dir + "/model.safetensors", withIntermediateDirectories: false)
        // (A directory is not a weights file: reported as missing, naming the model directory.)
        assertNamedError(dir, "missing model.safetensors") { _ = try loadCheckpointWeights(directory: dir) }
        try FileManager.default.removeItem(atPath: dir + "/model.safetensors")
        try writeFileBytes([], to: dir + "/model.safetensors")
        assertNamedError(dir + "/model.safetensors", "is 0 bytes") { _ = try loadCheckpointWeights(directory: dir) }
    }

    // MARK: config.json in a model directory

    func testBrokenConfigJSONNamesTheFile() throws {
        let dir = try modelDir("gpt2")
        let config = dir + "/config.json"
        let cases: [(String, String)] = [
            ("", "config is not valid JSON"),
            ("{\"model_type\": \"gpt2\",", "config is not valid JSON"),
            ("[1, 2]", "config is not a JSON object"),
            ("{\"model_type\": \"gpt2\", \"n_embd\": 8, \"n_head\": 3}", "n_embd 8 is not divisible by n_head 3"),
            ("{\"model_type\": \"gpt2\", \"n_layer\": -2}", "must be positive"),
            ("{\"architectures\": [\"MambaForCausalLM\"]}", "OlmoForCausalLM"),
        ]
        for (text, fragment) in cases {
            try writeFileBytes(Array(text.utf8), to: config)
            assertNamedError(config, fragment) { _ = try Model.load(directory: dir) }
        }
        // Invalid JSON: the byte offset of the problem is given.
        try writeFileBytes(Array("{\"a\": tru}".utf8), to: config)
        assertNamedError(config, "at byte") { _ = try Model.load(directory: dir) }
        // Unsupported architecture: every supported one is named.
        try writeFileBytes(Array("{\"architectures\": [\"MambaForCausalLM\"]}".utf8), to: config)
        assertNamedError(config, "MambaForCausalLM") { _ = try Model.load(directory: dir) }
        for supported in Architecture.allCases.map(\.hfClassName) {
            assertNamedError(config, supported) { _ = try Model.load(directory: dir) }
        }
    }

    /// A config.json whose sizes disagree with the tensors: the tensor and both shapes are named.
    func testConfigDisagreeingWithTensors() throws {
        let dir = try modelDir("gpt2")
        var text = String(decoding: try readFileBytes(dir + "/config.json"), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"vocab_size\": 11", with: "\"vocab_size\": 12")
        try writeFileBytes(Array(text.utf8), to: dir + "/config.json")
        assertNamedError(dir, "tensor transformer.wte.weight has shape [11, 8], the config implies [12, 8]") { _ = try Model.load(directory: dir) }
        text = text.replacingOccurrences(of: "\"n_layer\": 2", with: "\"n_layer\": 3")
            .replacingOccurrences(of: "\"vocab_size\": 12", with: "\"vocab_size\": 11")
        try writeFileBytes(Array(text.utf8), to: dir + "/config.json")
        assertNamedError(dir, "checkpoint is missing") { _ = try Model.load(directory: dir) }
        assertNamedError(dir, "h.2.") { _ = try Model.load(directory: dir) }
    }

    // MARK: tokenizer.json

    /// Each way a tokenizer.json can be broken gives an error naming tokenizer.json.
    func testBrokenTokenizerJSONNamesTheFile() throws {
        let dir = try modelDir("gpt2")
        let tok = dir + "/tokenizer.json"
        let cases: [(String, String)] = [
            ("", "not valid JSON"),
            ("{\"model\": {\"type\": \"BPE\"", "not valid JSON"),
            ("\"just a string\"", "not a JSON object"),
            ("{\"version\": \"1.0\"}", "no \"model\" object"),
            ("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "unsupported tokenizer model \"Unigram\""),
            ("{\"model\": {\"vocab\": {}}}", "no \"type\""),
            ("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": 5}}", "merges"),
            ("{\"model\": {\"type\": \"BPE\", \"vocab\": [1]}}", "vocab"),
            ("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": -1}}}", "a"),
            ("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 0}}, \"added_tokens\": 3}", "\"added_tokens\" is not a list"),
            ("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 0}}, \"added_tokens\": [{\"id\": 1}]}", "added token 0 has no \"content\""),
            ("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 0}}, \"added_tokens\": [{\"id\": 1e30, \"content\": \"x\"}]}", "has no integer \"id\""),
            ("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 0}}, \"added_tokens\": [{\"id\": 9223372036854775807, \"content\": \"x\"}]}", "out of range"),
            ("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 0}}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}}}", "pre_tokenizer"),
        ]
        for (text, fragment) in cases {
            try writeFileBytes(Array(text.utf8), to: tok)
            do {
                _ = try Model.load(directory: dir)
                XCTFail("accepted tokenizer.json: \(text)")
            } catch let e as CoreError {
                XCTAssertEqual(e.file, tok, "\(text): \(e)")
                XCTAssertTrue(e.message.lowercased().contains(fragment.lowercased()), "\(text): '\(e.message)' lacks '\(fragment)'")
            }
        }
    }

    // MARK: Saving never clobbers

    /// A failure in the middle of writing leaves neither the target nor the temporary sibling.
    func testFailureMidSaveLeavesNoDirectory() throws {
        let parent = try makeTempDir(self)
        let target = parent + "/out"
        struct Boom: Error {}
        XCTAssertThrowsError(try writeDirectoryAtomically(target, replacing: .modelDirectory(force: false)) { tmp in
            try writeFileBytes(Array("{}".utf8), to: tmp + "/config.json")
            throw Boom()
        }) { XCTAssertTrue($0 is Boom) }
        XCTAssertEqual(try directoryEntries(parent), [], "the failed save left files behind")
    }

    /// A failed forced replacement leaves the old directory exactly as it was.
    func testFailedForcedSaveKeepsTheOldDirectory() throws {
        let parent = try makeTempDir(self)
        let target = parent + "/model"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        try writeFileBytes(Array("old".utf8), to: target + "/config.json")
        struct Boom: Error {}
        XCTAssertThrowsError(try writeDirectoryAtomically(target, replacing: .modelDirectory(force: true)) { tmp in
            try writeFileBytes(Array("new".utf8), to: tmp + "/config.json")
            throw Boom()
        })
        XCTAssertEqual(try directoryEntries(parent), ["model"])
        XCTAssertEqual(try readFileBytes(target + "/config.json"), Array("old".utf8))
        // A successful forced save replaces it, and nothing else is left beside it.
        try writeDirectoryAtomically(target, replacing: .modelDirectory(force: true)) { tmp in
            try writeFileBytes(Array("new".utf8), to: tmp + "/config.json")
        }
        XCTAssertEqual(try directoryEntries(parent), ["model"])
        XCTAssertEqual(try readFileBytes(target + "/config.json"), Array("new".utf8))
    }

    /// A real save whose model cannot be written (its config no longer reproduces itself)
    /// fails before anything is created; a file in the way is never replaced.
    func testRealSaveFailuresLeaveTheFileSystemAlone() throws {
        let dir = try modelDir("gpt2")
        let model = try Model.load(directory: dir)
        let parent = try makeTempDir(self)
        var config = model.config
        config.hiddenSize += 1
        let inconsistent = try Model(config: config, storage: .f32(model.f32Parameters()), tokenizer: model.tokenizer)
        assertCoreError("would not reproduce") { try inconsistent.save(to: parent + "/out") }
        XCTAssertEqual(try directoryEntries(parent), [])
        let file = parent + "/afile"
        try writeFileBytes(Array("keep".utf8), to: file)
        assertNamedError(file, "exists and is not a directory") { try model.save(to: file, force: true) }
        XCTAssertEqual(try readFileBytes(file), Array("keep".utf8))
        assertNamedError(parent + "/no/such", "parent directory does not exist") { try model.save(to: parent + "/no/such/out") }
        // A non-empty directory without config.json is refused even with force.
        let other = parent + "/photos"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: false)
        try writeFileBytes(Array("x".utf8), to: other + "/a.jpg")
        assertNamedError(other, "holds no config.json") { try model.save(to: other, force: true) }
        XCTAssertEqual(try directoryEntries(other), ["a.jpg"])
    }

    // MARK: Fuzzing seeds

    /// The committed seeds of the safetensors, config and tokenizer fuzz targets (crash inputs
    /// included, as `crash-*`) are accepted or rejected with a CoreError; never anything else.
    func testFuzzSeedsAreAcceptedOrRejectedCleanly() throws {
        let fuzz = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz").path
        func seeds(_ target: String) throws -> [(String, [UInt8])] {
            let dir = fuzz + "/" + target + "/seeds"
            return try FileManager.default.contentsOfDirectory(atPath: dir).sorted().map { ($0, try readFileBytes(dir + "/" + $0)) }
        }
        var accepted = 0, rejected = 0
        func outcome(_ name: String, _ body: () throws -> Void) {
            do { try body(); accepted += 1 } catch is CoreError { rejected += 1 } catch { XCTFail("\(name): \(error)") }
        }
        for (name, bytes) in try seeds("safetensors") {
            outcome(name) { _ = try bytes.withUnsafeBytes { try parseSafetensorsHeader($0, file: name) } }
        }
        for (name, bytes) in try seeds("config") {
            outcome(name) { _ = try ModelConfig(huggingFaceJSON: String(decoding: bytes, as: UTF8.self), file: name) }
        }
        for (name, bytes) in try seeds("tokenizer") where name.hasSuffix(".json") {
            outcome(name) {
                let json: JSONValue
                do { json = try JSONValue.parse(bytes: bytes) } catch { throw CoreError("not JSON", file: name) }
                _ = try Tokenizer(json: json, file: name).encode("Hello  world, it's 3.14")
            }
        }
        XCTAssertGreaterThan(accepted, 15)
        XCTAssertGreaterThan(rejected, 8)
    }
}
