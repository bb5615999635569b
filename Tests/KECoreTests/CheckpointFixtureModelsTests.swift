import Foundation
import XCTest
@testable import KECore

/// Loads the shared model fixtures (`Tests/Fixtures/models/*`, `Tests/Fixtures/series/*`, made by
/// Scripts/fixtures/models.py) without their tokenizer and checks them against the recordings.
final class CheckpointFixtureModelsTests: XCTestCase {
    var fixtures: String {
        var parts = checkpointFixtures.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast()  // "checkpoint"
        return parts.joined(separator: "/")
    }

    func json(_ path: String) throws -> JSONValue {
        try JSONValue.parse(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    func modelDirectories() throws -> [String] {
        let root = fixtures + "/models"
        guard FileManager.default.fileExists(atPath: root) else { throw XCTSkip("no model fixtures at \(root)") }
        return try FileManager.default.contentsOfDirectory(atPath: root).sorted()
            .filter { FileManager.default.fileExists(atPath: root + "/\($0)/expected.json") }
            .map { root + "/" + $0 }
    }

    func testEveryFixtureLoadsWithRecordedSizes() throws {
        let dirs = try modelDirectories()
        XCTAssertGreaterThanOrEqual(dirs.count, 9)
        for dir in dirs {
            let (c, p, _) = try loadCheckpointWeights(directory: dir)
            guard let s = try json(dir + "/expected.json")["config_summary"] else { XCTFail(dir); continue }
            XCTAssertEqual(s["architecture"]?.stringValue, c.architecture.rawValue, dir)
            XCTAssertEqual(s["layers"]?.intValue, c.numLayers, dir)
            XCTAssertEqual(s["hidden"]?.intValue, c.hiddenSize, dir)
            XCTAssertEqual(s["heads"]?.intValue, c.numHeads, dir)
            XCTAssertEqual(s["kv_heads"]?.intValue, c.numKVHeads, dir)
            XCTAssertEqual(s["d_ff"]?.intValue, c.intermediateSize, dir)
            XCTAssertEqual(s["vocab"]?.intValue, c.vocabSize, dir)
            XCTAssertEqual(s["parameters"]?.intValue, p.count, dir)
        }
    }

    /// The recorded gradients are keyed by transformers' parameter names: exactly our HF names.
    func testTensorNamesMatchTransformersParameterNames() throws {
        for dir in try modelDirectories() {
            let (c, _, _) = try loadCheckpointWeights(directory: dir)
            let rec = try SafetensorsFile(path: dir + "/expected.safetensors")
            let gradNames = Set(rec.names.filter { $0.hasPrefix("grad.") }.map { String($0.dropFirst(5)) })
            // transformers' in-memory names always carry the prefix and call the NeoX head lm_head.
            let ours = Set(huggingFaceTensorSpecs(for: c, prefix: hfPrefixes(c.architecture)[0], headName: "lm_head.weight").map(\.name))
            XCTAssertEqual(gradNames, ours, dir)
        }
    }

    /// memory.scores = W_U · v_3 of layer 0: exercises value-vector columns, heads and tying.
    func testMemoryScoresFromLoadedWeights() throws {
        for dir in try modelDirectories() {
            let (c, p, _) = try loadCheckpointWeights(directory: dir)
            let rec = try SafetensorsFile(path: dir + "/expected.safetensors")
            let expected = try rec.floats("memory.scores")
            let D = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize, i = 3
            let down = p.values("L0.down.w")!
            let wu = p.values(c.tieWordEmbeddings ? "embed" : "lm_head")!
            var maxErr: Float = 0
            for t in 0..<V {
                var s: Float = 0
                for d in 0..<D { s += wu[t * D + d] * down[d * F + i] }
                maxErr = max(maxErr, abs(s - expected[t]))
            }
            XCTAssertLessThan(maxErr, 1e-5, dir)
        }
    }

    func testLegacyAndSpecialConfigs() throws {
        let root = try modelDirectories().first.map { String($0[..<$0.lastIndex(of: "/")!]) } ?? ""
        let legacy = try loadCheckpointWeights(directory: root + "/neox_legacy").config
        XCTAssertEqual(legacy.rotaryDim, 4); XCTAssertEqual(legacy.ropeTheta, 5000); XCTAssertFalse(legacy.parallelResidual)
        let neox = try loadCheckpointWeights(directory: root + "/neox").config
        XCTAssertEqual(neox.rotaryDim, 2); XCTAssertTrue(neox.parallelResidual); XCTAssertEqual(neox.activation, .gelu)
        XCTAssertEqual(try loadCheckpointWeights(directory: root + "/llama_tied").config.ropeTheta, 50000)
        XCTAssertEqual(try loadCheckpointWeights(directory: root + "/olmo_clip").config.clipQKV, 0.5)
        XCTAssertEqual(try loadCheckpointWeights(directory: root + "/gpt2").config.activation, .geluTanh)
        // Saved by ke, re-loaded: identical.
        let out = try makeTempDir(self) + "/saved"
        let w = try loadCheckpointWeights(directory: root + "/neox_legacy")
        try saveHuggingFaceDirectory(config: w.config, params: w.params, tokenizerJSON: .object([]), to: out, force: false)
        let back = try loadCheckpointWeights(directory: out)
        XCTAssertEqual(back.params.data, w.params.data)
        XCTAssertEqual(back.config.rotaryDim, 4); XCTAssertEqual(back.config.ropeTheta, 5000)
    }

    func testSeriesFolderStepsAndWeights() throws {
        let root = fixtures + "/series"
        guard FileManager.default.fileExists(atPath: root + "/expected.json") else { throw XCTSkip("no series fixtures") }
        let e = try json(root + "/expected.json")
        let folders = e["folders"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let order = e["order"]?.arrayValue?.compactMap(\.intValue) ?? []
        XCTAssertEqual(folders.count, 5)
        XCTAssertEqual(folders.map { parseStep(fromName: $0) }, order)
        for f in folders {
            let w = try loadCheckpointWeights(directory: root + "/" + f)
            XCTAssertEqual(w.step, parseStep(fromName: f))
            XCTAssertEqual(w.config.architecture, .olmo)
        }
    }
}
