import Foundation
import XCTest
@testable import KECore

/// `CheckpointFormat`: the one place that tells what a path holds, on the committed fixtures of
/// every format and on folders made to test the order of preference.
final class CheckpointFormatTests: XCTestCase {
    let formats = Fixtures.root + "/formats"

    /// Each committed fixture folder is detected as the format it was written in.
    func testFixtureFoldersAreDetected() {
        let cases: [(String, CheckpointFormat)] = [
            (Fixtures.modelDir("gpt2"), .safetensorsFolder),
            (Fixtures.modelDir("llama_sharded"), .shardedSafetensorsFolder),
            (formats + "/olmo_bin", .pyTorchFolder),
            (formats + "/olmo_bin_sharded", .shardedPyTorchFolder),
            (formats + "/olmo_native", .olmoTrainerFolder),
            (formats + "/torch_variants/olmo_st", .olmoTrainerFolder),
        ]
        for (dir, format) in cases {
            XCTAssertEqual(CheckpointFormat.detect(directory: dir), format, dir)
            XCTAssertEqual(try CheckpointFormat.detect(path: dir), format, dir)
        }
        // The shards in the index's order of first appearance (here: the second shard first).
        let sharded = formats + "/olmo_bin_sharded"
        XCTAssertEqual(try CheckpointFormat.detect(directory: sharded).weightFileNames(directory: sharded),
                       ["pytorch_model-00002-of-00002.bin", "pytorch_model-00001-of-00002.bin"])
    }

    /// Names and files: an hf:// name, a GGUF file (by name or by magic), a missing `.gguf`
    /// path; an empty path and a non-GGUF file are errors.
    func testPathsAreDetected() throws {
        XCTAssertEqual(try CheckpointFormat.detect(path: "hf://org/name@main"), .hubName)
        XCTAssertEqual(try CheckpointFormat.detect(path: formats + "/gguf/gpt2_F32.gguf"), .ggufFile)
        XCTAssertEqual(try CheckpointFormat.detect(path: "/nonexistent/model.GGUF"), .ggufFile)
        let dir = try makeTempDir(self)
        try FileManager.default.copyItem(atPath: formats + "/gguf/gpt2_F32.gguf", toPath: dir + "/renamed.bin")
        XCTAssertEqual(try CheckpointFormat.detect(path: dir + "/renamed.bin"), .ggufFile)
        assertCoreError("the model path is empty") { _ = try CheckpointFormat.detect(path: "") }
        let weights = Fixtures.modelDir("gpt2") + "/model.safetensors"
        assertNamedError(weights, "not a model folder") { _ = try CheckpointFormat.detect(path: weights) }
        XCTAssertEqual(try CheckpointFormat.detect(path: dir + "/missing"), .folderWithoutWeights)
    }

    /// In a folder holding several weight files the first of transformers' order wins:
    /// model.safetensors, its index, pytorch_model.bin, its index, model.pt; config.yaml without
    /// config.json makes an OLMo-trainer folder.
    func testOrderOfPreference() throws {
        let dir = try makeTempDir(self)
        XCTAssertEqual(CheckpointFormat.detect(directory: dir), .folderWithoutWeights)
        try writeFileBytes(Array("{}".utf8), to: dir + "/config.json")
        var expected: [CheckpointFormat] = []
        for format in CheckpointFormat.huggingFaceFolderFormats.reversed() {
            try writeFileBytes([], to: dir + "/" + format.markerFile!)
            expected.append(format)
            XCTAssertEqual(CheckpointFormat.detect(directory: dir), format, "\(expected)")
        }
        try FileManager.default.removeItem(atPath: dir + "/config.json")
        XCTAssertEqual(CheckpointFormat.detect(directory: dir), .safetensorsFolder, "no config.yaml: not a trainer folder")
        try writeFileBytes([], to: dir + "/config.yaml")
        XCTAssertEqual(CheckpointFormat.detect(directory: dir), .olmoTrainerFolder)
    }

    /// A folder without weights still reports its config first, then the missing weights.
    func testFolderWithoutWeightsReportsConfigThenWeights() throws {
        let dir = try makeTempDir(self)
        assertNamedError(dir + "/config.json", "missing config.json") { _ = try Model.load(path: dir) }
        try FileManager.default.copyItem(atPath: Fixtures.modelDir("gpt2") + "/config.json", toPath: dir + "/config.json")
        assertNamedError(dir, "missing model.safetensors (and no model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json or model.pt)") {
            _ = try Model.load(path: dir)
        }
    }
}
