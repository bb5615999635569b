import Foundation
import XCTest
@testable import KECore

final class OLMoNativeTests: XCTestCase {
    let formats = Fixtures.root + "/formats"
    var native: String { formats + "/olmo_native" }

    /// config.yaml + model.pt gives transformers' logits on the converted model, and exactly
    /// the logits of the same weights saved as safetensors.
    func testNativeCheckpointMatchesConvertedModel() throws {
        let model = try Model.load(directory: native)
        let rec = try SafetensorsFile(path: native + "/expected.safetensors")
        let ids = try rec.floats("ids").map { Int($0) }
        let got = try packedLogits(model, [ids])
        // 1e-4: float32 summation order differs from torch's kernels (the logit bound).
        XCTAssertLessThan(maxAbsDiff(got, try rec.floats("logits")), 1e-4)
        let hf = try Model.load(directory: formats + "/olmo_st")
        XCTAssertEqual(model.config.numLayers, hf.config.numLayers)
        XCTAssertEqual(got, try packedLogits(hf, [ids]))
    }

    /// Native → ke → saved HF directory holds exactly the tensors transformers' conversion gives.
    func testSaveWritesTheConvertedHFDirectory() throws {
        let out = try makeTempDir(self) + "/hf"
        try Model.load(directory: native).save(to: out)
        let saved = try SafetensorsFile(path: out + "/model.safetensors")
        let reference = try SafetensorsFile(path: formats + "/olmo_st/model.safetensors")
        XCTAssertEqual(saved.names.sorted(), reference.names.sorted())
        for name in reference.names { XCTAssertEqual(try saved.floats(name), try reference.floats(name), name) }
        let config = try ModelConfig.load(path: out + "/config.json")
        XCTAssertEqual(config.architecture, .olmo)
        XCTAssertFalse(config.tieWordEmbeddings)
    }

    /// Rescaling memories of the native model and saving changes exactly HF's up_proj rows, as
    /// scaling the first half of the native ff_proj (the paper's change_parameters.py) does.
    func testRescaleChangesTheUpHalfOfFFProj() throws {
        let model = try Model.load(directory: native)
        let rec = try SafetensorsFile(path: native + "/expected.safetensors")
        let L = model.config.numLayers
        let scale: [[Float]?] = try (0..<L).map { try rec.floats("scale.\($0)") }
        let scaled = try Model(config: model.config, params: model.f32Parameters(), tokenizer: model.tokenizer,
                               memoryMultipliers: scale)
        let out = try makeTempDir(self) + "/hf"
        try scaled.save(to: out)
        let saved = try SafetensorsFile(path: out + "/model.safetensors")
        for l in 0..<L {
            // Exact: both sides multiply the same f32 values by the same f32 multipliers.
            XCTAssertEqual(try saved.floats("model.layers.\(l).mlp.up_proj.weight"), try rec.floats("rescaled.\(l).up"))
            XCTAssertEqual(try saved.floats("model.layers.\(l).mlp.gate_proj.weight"), try rec.floats("rescaled.\(l).gate"))
        }
    }

    func testYAMLModelSection() throws {
        let yaml = """
            run_name: x
            model:
              d_model: 8   # width
              n_heads: '2'
              init_kwargs:
                std: 0.02
              clip_qkv: null
            optimizer:
              d_model: 99
            """
        let m = try olmoYAMLModelSection(yaml, path: "c.yaml")
        XCTAssertEqual(m, ["d_model": "8", "n_heads": "2", "init_kwargs": "", "clip_qkv": "null"])
        assertNamedError("c.yaml", "no top-level 'model:'") { _ = try olmoYAMLModelSection("a: 1\n", path: "c.yaml") }
    }

    func testBadNativeCheckpoints() throws {
        func dir(yaml: (String) -> String, pickle: [UInt8]? = nil) throws -> String {
            let d = try makeTempDir(self)
            let text = try String(contentsOfFile: native + "/config.yaml", encoding: .utf8)
            try yaml(text).write(toFile: d + "/config.yaml", atomically: true, encoding: .utf8)
            try FileManager.default.copyItem(atPath: native + "/tokenizer.json", toPath: d + "/tokenizer.json")
            if let pickle {
                try writeFileBytes(storedZip([("a/data.pkl", pickle), ("a/data/0", [])]), to: d + "/model.pt")
            } else {
                try FileManager.default.copyItem(atPath: native + "/model.pt", toPath: d + "/model.pt")
            }
            return d
        }
        var d = try dir(yaml: { $0.replacingOccurrences(of: "activation_type: swiglu", with: "activation_type: gelu") })
        assertNamedError(d + "/config.yaml", "model.activation_type: gelu is not supported") { _ = try Model.load(directory: d) }
        d = try dir(yaml: { $0.replacingOccurrences(of: "attention_layer_norm: false", with: "attention_layer_norm: true") })
        assertNamedError(d + "/config.yaml", "model.attention_layer_norm: true is not supported") { _ = try Model.load(directory: d) }
        d = try dir(yaml: { $0.replacingOccurrences(of: "  d_model: 16\n", with: "") })
        assertNamedError(d + "/config.yaml", "model.d_model must be a positive integer") { _ = try Model.load(directory: d) }
        d = try dir(yaml: { $0.replacingOccurrences(of: "mlp_hidden_size: 64", with: "mlp_hidden_size: 32") })
        assertNamedError(d + "/model.pt", "ff_proj.weight has 64 rows; up|gate of the config need 32") { _ = try Model.load(directory: d) }
        d = try dir(yaml: { $0 }, pickle: PickleBuilder.stateDict {
            $0.tensor("transformer.blocks.0.q_norm.weight", key: "0", numel: 0, offset: 0, size: [0], stride: [1])
        })
        assertNamedError(d + "/model.pt", "not part of the OLMo-trainer layout") { _ = try Model.load(directory: d) }
    }
}
