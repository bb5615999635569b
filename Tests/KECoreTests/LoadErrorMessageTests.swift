import Foundation
import XCTest
@testable import KECore

/// Errors for paths that are not what `load` expects name the file and say what to give instead.
final class LoadErrorMessageTests: XCTestCase {
    let formats = Fixtures.root + "/formats"
    let fm = FileManager.default

    /// A temporary folder holding copies of `files` from `source`.
    func folder(_ name: String, copying files: [String] = [], from source: String = "") throws -> String {
        let d = try makeTempDir(self) + "/" + name
        try fm.createDirectory(atPath: d, withIntermediateDirectories: true)
        for f in files { try fm.copyItem(atPath: source + "/" + f, toPath: d + "/" + f) }
        return d
    }

    /// An OLMo-trainer folder (config.yaml, no config.json) without model.pt names model.pt,
    /// not a config.json it never needed.
    func testOLMoTrainerFolderWithoutModelPT() throws {
        let d = try folder("native", copying: ["config.yaml", "tokenizer.json"], from: formats + "/olmo_native")
        assertNamedError(d + "/model.pt", "missing model.pt") { _ = try loadCheckpointWeights(directory: d) }
        assertNamedError(d + "/model.pt", "OLMo-trainer checkpoint folder") { _ = try Model.load(directory: d) }
        assertNamedError(d + "/model.pt", "missing model.pt") { _ = try Model.load(path: d, keepBF16: true) }
        // A model.pt that is a directory is not a regular file.
        try fm.createDirectory(atPath: d + "/model.pt", withIntermediateDirectories: false)
        assertNamedError(d + "/model.pt", "not a regular file") { _ = try Model.load(directory: d) }
    }

    /// A weights file (or any other file) given to `load` says it is a file and that `load`
    /// takes the folder, naming that folder when it is a model folder.
    func testWeightsFileIsNotAModelFolder() throws {
        let gpt2 = Fixtures.modelDir("gpt2")
        for (file, folder) in [(gpt2 + "/model.safetensors", gpt2), (formats + "/olmo_native/model.pt", formats + "/olmo_native")] {
            assertNamedError(file, "is a file, not a model folder: `load` takes the model's folder") {
                _ = try Model.load(path: file)
            }
            assertNamedError(file, "or a .gguf file; here: load \"\(folder)\"") { _ = try Model.load(path: file, keepBF16: true) }
        }
        // A file outside a model folder gets no suggestion.
        let corpus = Fixtures.root + "/corpus.txt"
        assertNamedError(corpus, "is a file, not a model folder") { _ = try Model.load(path: corpus) }
        XCTAssertFalse(notAModelFolderMessage(corpus).contains("here:"))
        // A missing path is still no such model directory; an empty one is refused without a file.
        assertNamedError(gpt2 + "/nope", "no such model directory") { _ = try Model.load(path: gpt2 + "/nope") }
        XCTAssertThrowsError(try Model.load(path: "")) { e in
            XCTAssertEqual(e as? CoreError, CoreError("the model path is empty: give a model folder or a .gguf file"))
        }
    }

    /// A GGUF file under another name is recognised by its magic and loads as the .gguf does.
    func testGGUFMagicUnderAnotherName() throws {
        let gguf = formats + "/gguf/llama_Q8_0.gguf"
        let d = try folder("renamed")
        try fm.copyItem(atPath: gguf, toPath: d + "/model.bin")
        XCTAssertTrue(hasGGUFMagic(d + "/model.bin"))
        let renamed = try Model.load(path: d + "/model.bin")
        let original = try Model.load(path: gguf)
        XCTAssertEqual(renamed.config, original.config)
        XCTAssertEqual(renamed.tokenizer.encode("Hello world"), original.tokenizer.encode("Hello world"))
        XCTAssertEqual(try packedLogits(renamed, [[1, 2, 3]]), try packedLogits(original, [[1, 2, 3]]))
        // Short files, other files and directories have no magic.
        try Data("GGU".utf8).write(to: URL(fileURLWithPath: d + "/short"))
        XCTAssertFalse(hasGGUFMagic(d + "/short"))
        XCTAssertFalse(hasGGUFMagic(Fixtures.modelDir("gpt2") + "/model.safetensors"))
        XCTAssertFalse(hasGGUFMagic(d))
    }

    /// A folder with no config but GGUF files points to them.
    func testFolderHoldingGGUFFiles() throws {
        let gguf = formats + "/gguf/llama_Q8_0.gguf"
        let one = try folder("one")
        try fm.copyItem(atPath: gguf, toPath: one + "/llama.gguf")
        assertNamedError(one + "/config.json", "missing config.json, but the folder holds a GGUF file, llama.gguf: "
                         + "a GGUF model is loaded from its file, e.g. load \"\(one)/llama.gguf\"") { _ = try Model.load(path: one) }
        let two = try folder("two")
        try fm.copyItem(atPath: gguf, toPath: two + "/b.GGUF")
        try fm.copyItem(atPath: gguf, toPath: two + "/a.gguf")
        try fm.createDirectory(atPath: two + "/c.gguf", withIntermediateDirectories: false)
        assertNamedError(two + "/config.json", "holds GGUF files, a.gguf, b.GGUF: a GGUF model is loaded from its file, e.g. load \"\(two)/a.gguf\"") {
            _ = try loadCheckpointWeights(directory: two)
        }
        // Without GGUF files the message is as before.
        let none = try folder("none")
        assertNamedError(none + "/config.json", "missing config.json") { _ = try Model.load(path: none) }
    }

    /// A shard listed in an index that is a directory is not a regular file, not missing.
    func testShardThatIsADirectory() throws {
        let d = try folder("st")
        try writeSafetensors([SafetensorsEntry(name: "a", shape: [1], values: [1])], to: d + "/s1.safetensors")
        try fm.createDirectory(atPath: d + "/s2.safetensors", withIntermediateDirectories: false)
        let index = d + "/model.safetensors.index.json"
        try #"{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}"#.write(toFile: index, atomically: true, encoding: .utf8)
        assertNamedError(index, "shard 's2.safetensors' listed in the index is a directory, not a weights file") {
            _ = try SafetensorsCheckpoint(directory: d)
        }
        let bin = try folder("bin", copying: try fm.contentsOfDirectory(atPath: formats + "/olmo_bin_sharded"), from: formats + "/olmo_bin_sharded")
        let shard = "pytorch_model-00002-of-00002.bin"
        try fm.removeItem(atPath: bin + "/" + shard)
        assertNamedError(bin + "/pytorch_model.bin.index.json", "shard '\(shard)' listed in the index does not exist") {
            _ = try PyTorchCheckpoint(directory: bin)
        }
        try fm.createDirectory(atPath: bin + "/" + shard, withIntermediateDirectories: false)
        assertNamedError(bin + "/pytorch_model.bin.index.json", "shard '\(shard)' listed in the index is a directory") {
            _ = try PyTorchCheckpoint(directory: bin)
        }
    }

    /// `tokenizer` given a GGUF file, or an empty path, says what it takes.
    func testTokenizerGivenAGGUFOrNothing() throws {
        let native = formats + "/olmo_native"
        let gguf = formats + "/gguf/llama_Q8_0.gguf"
        assertNamedError(gguf, "is a GGUF file: `tokenizer` takes a tokenizer.json (or a folder holding one), not a GGUF") {
            _ = try Model.load(directory: native, tokenizerFile: gguf)
        }
        assertNamedError(gguf, "not a GGUF") { _ = try Model.load(path: gguf, tokenizerFile: gguf) }
        XCTAssertThrowsError(try Model.load(directory: native, tokenizerFile: "")) { e in
            XCTAssertNil((e as? CoreError)?.file)
            XCTAssertTrue((e as? CoreError)?.message.contains("the tokenizer path is empty") ?? false, "\(e)")
        }
        // A tokenizer.json still loads.
        XCTAssertNoThrow(try Model.load(directory: native, tokenizerFile: native + "/tokenizer.json"))
    }

    /// A folder without a tokenizer.json points to the `tokenizer "FILE"` clause.
    func testMissingTokenizerHintsAtTheClause() throws {
        let d = try folder("native", copying: ["config.yaml", "model.pt"], from: formats + "/olmo_native")
        assertNamedError(d + "/tokenizer.json", "missing tokenizer.json (OLMo-trainer checkpoints usually ship without one): "
                         + "give the model's tokenizer with `tokenizer \"FILE\"`") { _ = try Model.load(directory: d) }
        assertNamedError(d + "/tokenizer.json", "`tokenizer \"FILE\"` (a tokenizer.json, or a folder holding one)") {
            _ = try Model.load(directory: d, keepBF16: true)
        }
        let hf = try folder("hf", copying: ["config.json", "model.safetensors"], from: Fixtures.modelDir("gpt2"))
        assertNamedError(hf + "/tokenizer.json", "missing tokenizer.json: give the model's tokenizer with `tokenizer \"FILE\"`") {
            _ = try Model.load(directory: hf)
        }
    }
}
