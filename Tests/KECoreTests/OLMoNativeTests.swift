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

    /// An OLMo-trainer folder with model.safetensors (names = URL-safe base64 of pickled key
    /// tuples, olmo/safetensors_util.py) gives exactly the logits of the same weights as model.pt,
    /// and transformers' on the converted model. The trainer's loader prefers it to model.pt.
    func testNativeSafetensorsMatchesModelPt() throws {
        let dir = formats + "/torch_variants/olmo_st"
        let model = try Model.load(directory: dir)
        let rec = try SafetensorsFile(path: dir + "/expected.safetensors")
        let ids = try rec.floats("ids").map { Int($0) }
        let got = try packedLogits(model, [ids])
        // 1e-4: float32 summation order differs from torch's kernels (the logit bound).
        XCTAssertLessThan(maxAbsDiff(got, try rec.floats("logits")), 1e-4)
        // Exact: the same f32 weights, from another container.
        XCTAssertEqual(got, try packedLogits(try Model.load(directory: native), [ids]))
        XCTAssertEqual(try weightFileNames(directory: dir), ["model.safetensors"])
        // With both files, model.safetensors is read (a broken model.pt beside it is never opened).
        let both = try makeTempDir(self)
        for f in ["config.yaml", "tokenizer.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: dir + "/" + f, toPath: both + "/" + f)
        }
        try writeFileBytes(Array("not a checkpoint".utf8), to: both + "/model.pt")
        XCTAssertEqual(try packedLogits(try Model.load(directory: both), [ids]), got)
    }

    /// Stored names that are not OLMo's encoding, or encode something other than one flat
    /// tensor key, are refused naming the file; a hostile pickle inside a name runs nothing.
    func testNativeSafetensorsBadNames() throws {
        // Each name as Python writes it: base64.urlsafe_b64encode(pickle.dumps(VALUE)).
        let cases: [(String, String)] = [
            ("model.embed_tokens.weight", "is not URL-safe base64"),
            ("gASVHwAAAAAAAACMFnRyYW5zZm9ybWVyLnd0ZS53ZWlnaHSUhZSIhpQu", "holds a pickled Python value"),   // (('transformer.wte.weight',), True)
            ("gASVIQAAAAAAAACMC3RyYW5zZm9ybWVylIwKd3RlLndlaWdodJSGlImGlC4=", "is a nested key"),           // (('transformer', 'wte.weight'), False)
            ("gASVCAAAAAAAAABLAYWUiYaULg==", "is a int, not a string"),                                 // ((1,), False)
            ("gASVBQAAAAAAAACMAXiULg==", "decodes to a str, not OLMo's (keys, value_is_pickled) pair"),  // "x"
            ("gASVJAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjARlY2hvlIWUUpSFlImGlC4=", "refusing global 'posix.system'"),  // ((os.system('echo'),), False)
            ("gASVCAAAAAAAAABLAYWUiYaULg", "is not URL-safe base64"),                                   // padding cut off
        ]
        for (name, fragment) in cases {
            let dir = try makeTempDir(self)
            try FileManager.default.copyItem(atPath: native + "/config.yaml", toPath: dir + "/config.yaml")
            let path = dir + "/model.safetensors"
            try writeSafetensors([SafetensorsEntry(name: name, shape: [2], values: [1, 2])], to: path)
            assertNamedError(path, fragment) { _ = try loadCheckpointWeights(directory: dir) }
        }
        XCTAssertEqual(urlSafeBase64Decode("gASVBQAAAAAAAACMAXiULg=="), [0x80, 4, 0x95, 5, 0, 0, 0, 0, 0, 0, 0, 0x8C, 1, 0x78, 0x94, 0x2E])
        XCTAssertNil(urlSafeBase64Decode("a+b/"), "the standard alphabet's + and / are not URL-safe")
        XCTAssertNil(urlSafeBase64Decode("a=bc"))
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
        let scaled = try Model(config: model.config, storage: .f32(model.f32Parameters()), tokenizer: model.tokenizer,
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
        XCTAssertEqual(m, ["d_model": OLMoYAMLEntry(value: "8", line: 3), "n_heads": OLMoYAMLEntry(value: "2", line: 4),
                           "init_kwargs": OLMoYAMLEntry(value: nil, line: 5), "clip_qkv": OLMoYAMLEntry(value: "null", line: 7)])
        assertNamedError("c.yaml", "no top-level 'model:'") { _ = try olmoYAMLModelSection("a: 1\n", path: "c.yaml") }
        // What YAML also accepts: CRLF line ends, a list at its key's indentation, flow
        // collections over several lines, block scalars, an empty value (null), quoted keys and
        // values with '' and a folded plain scalar.
        let more = "model:\r\n  a: 1\r\n  l:\r\n  - x\r\n  - y\r\n  f: [1,\r\n     2]\r\n  b: |\r\n     text: here\r\n"
            + "  n:\r\n  \"q\": 'it''s' # c\r\n  p: two\r\n    words\r\nnext: 1\r\n"
        XCTAssertEqual(try olmoYAMLModelSection(more, path: "c.yaml"), [
            "a": OLMoYAMLEntry(value: "1", line: 2), "l": OLMoYAMLEntry(value: nil, line: 3),
            "f": OLMoYAMLEntry(value: "[1,", line: 6), "b": OLMoYAMLEntry(value: "|", line: 8),
            "n": OLMoYAMLEntry(value: "", line: 10), "q": OLMoYAMLEntry(value: "it's", line: 11),
            "p": OLMoYAMLEntry(value: "two words", line: 12),
        ])
    }

    /// A malformed line of the model: mapping is an error naming its line and column, not a key
    /// that seems to be missing further on.
    func testMalformedYAMLNamesTheLine() throws {
        func check(_ body: String, _ place: String, _ fragment: String, line: UInt = #line) {
            let yaml = "run_name: x\nmodel:\n" + body + "optimizer:\n  lr: 1\n"
            assertNamedError("c.yaml:" + place, fragment, line: line) { _ = try olmoYAMLModelSection(yaml, path: "c.yaml") }
        }
        check("  d_model: 16\n  n_heads 2\n", "4:3", "expected 'key: value'")
        check("  d_model: 16\n  n_heads:2\n", "4:3", "a space after the colon")
        check("  d_model: 16\n   n_heads: 2\n", "4:4", "indented more than the other keys")
        check("  d_model: 16\n n_heads: 2\n", "4:2", "indented by 1 space, but the keys of model: are indented by 2 spaces")
        check(" d_model: 16\n  n_heads: 2\n", "4:3", "indented more than the other keys of model: (1 space)")
        check("   d_model: 16\n  n_heads: 2\n", "4:3", "indented by 2 spaces, but the keys of model: are indented by 3 spaces")
        check("  d_model: 16\n\tn_heads: 2\n", "4:1", "a tab in the indentation")
        check("  d_model: 16\n  \tn_heads: 2\n", "4:3", "a tab in the indentation")
        check("  d_model: \"16\n", "3:12", "unterminated quoted value")
        check("  d_model: '16' x\n", "3:12", "text after its closing quote")
        check("  d_model: 16\n  d_model: 32\n", "4:3", "model.d_model is given twice (lines 3 and 4)")
        check("  d_model: 16\n  - 3\n", "4:3", "a list item where a key of model: was expected")
        assertNamedError("c.yaml:3:1", "'model:' appears twice (lines 1 and 3)") {
            _ = try olmoYAMLModelSection("model:\n  a: 1\nmodel:\n  b: 2\n", path: "c.yaml")
        }
        assertNamedError("c.yaml:1:8", "as a block mapping") { _ = try olmoYAMLModelSection("model: {d_model: 16}\n", path: "c.yaml") }
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
        assertNamedError(d + "/config.yaml:10", "model.activation_type: gelu is not supported") { _ = try Model.load(directory: d) }
        d = try dir(yaml: { $0.replacingOccurrences(of: "attention_layer_norm: false", with: "attention_layer_norm: true") })
        assertNamedError(d + "/config.yaml:18", "model.attention_layer_norm: true is not supported") { _ = try Model.load(directory: d) }
        d = try dir(yaml: { $0.replacingOccurrences(of: "  d_model: 16\n", with: "") })
        assertNamedError(d + "/config.yaml", "model.d_model is missing") { _ = try Model.load(directory: d) }
        d = try dir(yaml: { $0.replacingOccurrences(of: "  d_model: 16\n", with: "  d_model: sixteen\n") })
        assertNamedError(d + "/config.yaml:4", "model.d_model must be a positive integer, not 'sixteen'") { _ = try Model.load(directory: d) }
        // Before, a mis-indented key looked missing ("must be a positive integer").
        d = try dir(yaml: { $0.replacingOccurrences(of: "  n_heads: 2\n", with: "   n_heads: 2\n") })
        assertNamedError(d + "/config.yaml:5:4", "indented more than the other keys of model:") { _ = try Model.load(directory: d) }
        d = try dir(yaml: { $0.replacingOccurrences(of: "  rope_theta: 10000\n", with: "  rope_theta: -1\n") })
        assertNamedError(d + "/config.yaml:14", "model.rope_theta must be a positive number or null, not '-1'") { _ = try Model.load(directory: d) }
        d = try dir(yaml: { $0.replacingOccurrences(of: "mlp_hidden_size: 64", with: "mlp_hidden_size: 32") })
        assertNamedError(d + "/model.pt", "ff_proj.weight has 64 rows; up|gate of the config need 32") { _ = try Model.load(directory: d) }
        d = try dir(yaml: { $0 }, pickle: PickleBuilder.stateDict {
            $0.tensor("transformer.blocks.0.q_norm.weight", key: "0", numel: 0, offset: 0, size: [0], stride: [1])
        })
        assertNamedError(d + "/model.pt", "not part of the OLMo-trainer layout") { _ = try Model.load(directory: d) }
    }

    /// weight_tying: true with a stored transformer.ff_out.weight: OLMo's trainer builds no
    /// ff_out for a tied model and refuses such a state dict; so does ke, rather than drop the head.
    func testTiedConfigWithStoredHeadIsAnError() throws {
        let d = try makeTempDir(self)
        for f in ["model.pt", "tokenizer.json"] { try FileManager.default.copyItem(atPath: native + "/" + f, toPath: d + "/" + f) }
        let text = try String(contentsOfFile: native + "/config.yaml", encoding: .utf8)
        try text.replacingOccurrences(of: "weight_tying: false", with: "weight_tying: true")
            .write(toFile: d + "/config.yaml", atomically: true, encoding: .utf8)
        assertNamedError(d + "/model.pt", "config.yaml has weight_tying: true") { _ = try Model.load(directory: d) }
        assertNamedError(d + "/model.pt", "set weight_tying: false") { _ = try Model.load(directory: d, keepBF16: true) }
        // Absent, weight_tying is true (OLMo's default): the same error.
        try text.replacingOccurrences(of: "  weight_tying: false\n", with: "")
            .write(toFile: d + "/config.yaml", atomically: true, encoding: .utf8)
        assertNamedError(d + "/model.pt", "the default when absent") { _ = try Model.load(directory: d) }
    }

    /// Saving an OLMo-trainer checkpoint writes a plain HF directory: config.json,
    /// model.safetensors, tokenizer.json, and not the trainer's config.yaml.
    func testSaveWritesNoConfigYAML() throws {
        let out = try makeTempDir(self) + "/hf"
        try Model.load(directory: native).save(to: out)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: out)),
                       ["config.json", "model.safetensors", "tokenizer.json"])
        XCTAssertEqual(try carriedOverFiles(of: native), ["tokenizer.json"])
        // A config.yaml beside a config.json is not the trainer's: it is carried over as before.
        let hf = try makeTempDir(self)
        for f in ["config.json", "tokenizer.json"] {
            try FileManager.default.copyItem(atPath: formats + "/olmo_st/" + f, toPath: hf + "/" + f)
        }
        try "x: 1\n".write(toFile: hf + "/config.yaml", atomically: true, encoding: .utf8)
        XCTAssertEqual(try carriedOverFiles(of: hf), ["config.yaml", "tokenizer.json"])
    }

    /// `tokenizerFile` replaces the directory's tokenizer, which need not exist; saving writes
    /// that tokenizer; a missing file and a tokenizer with more ids than embedding rows are refused.
    func testExplicitTokenizer() throws {
        let d = try makeTempDir(self) + "/native"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        for f in ["config.yaml", "model.pt"] { try FileManager.default.copyItem(atPath: native + "/" + f, toPath: d + "/" + f) }
        assertNamedError(d + "/tokenizer.json", "missing tokenizer.json") { _ = try Model.load(directory: d) }
        let tokFile = Fixtures.root + "/models/olmo/tokenizer.json"
        let m = try Model.load(directory: d, tokenizerFile: tokFile)
        let reference = try Model.load(directory: native)
        XCTAssertEqual(m.tokenizer.encode("Hello world"), reference.tokenizer.encode("Hello world"))
        XCTAssertEqual(m.directoryInfo?.tokenizerFile, tokFile)
        // A directory holding a tokenizer.json does as well; bf16 combines with it.
        let b = try Model.load(directory: d, keepBF16: true, tokenizerFile: Fixtures.root + "/models/olmo/")
        XCTAssertTrue(b.isBF16)
        XCTAssertEqual(b.directoryInfo?.tokenizerFile, Fixtures.root + "/models/olmo/tokenizer.json")
        let out = try makeTempDir(self) + "/hf"
        try m.save(to: out)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: out)), ["config.json", "model.safetensors", "tokenizer.json"])
        XCTAssertEqual(try readFileBytes(out + "/tokenizer.json"), try readFileBytes(tokFile))
        _ = try Model.load(directory: out)

        assertNamedError(d + "/nothing.json", "no such tokenizer file") { _ = try Model.load(directory: d, tokenizerFile: d + "/nothing.json") }
        assertNamedError(d, "a directory without a tokenizer.json") { _ = try Model.load(directory: d, tokenizerFile: d) }
        // chat/tokenizer.json has 386 ids; this model's embedding has 384 rows.
        let chat = Fixtures.root + "/chat/tokenizer.json"
        assertNamedError(chat, "embedding matrix has 384 rows") { _ = try Model.load(directory: d, tokenizerFile: chat) }
        assertNamedError(chat, "embedding matrix has 384 rows") {
            _ = try Model.load(path: Fixtures.root + "/formats/gguf/llama_Q4_0.gguf", tokenizerFile: chat)
        }
        // A GGUF file takes the given tokenizer too, and keeps its quantised blocks.
        let g = try Model.load(path: Fixtures.root + "/formats/gguf/llama_Q4_0.gguf", keepBF16: true, tokenizerFile: tokFile)
        XCTAssertNotNil(g.quantized)
        XCTAssertEqual(g.tokenizer.encode("Hello world"), reference.tokenizer.encode("Hello world"))
    }
}
