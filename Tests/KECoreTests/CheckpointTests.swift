import Foundation
import XCTest
@testable import KECore

/// Tests/Fixtures/checkpoint (tiny checkpoints written by transformers, see make_fixtures.py).
let checkpointFixtures: String = {
    var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(2)  // KECoreTests/CheckpointTests.swift
    return parts.joined(separator: "/") + "/Fixtures/checkpoint"
}()

final class CheckpointTests: XCTestCase {

    // MARK: Helpers

    /// A small config of each architecture (parsed, so rawJSON is realistic).
    func smallConfig(_ a: Architecture, tied: Bool = false) throws -> ModelConfig {
        switch a {
        case .gpt2:
            return try ModelConfig(huggingFaceJSON: #"{"model_type":"gpt2","n_embd":6,"n_head":2,"n_layer":2,"n_inner":10,"n_positions":5,"vocab_size":7,"tie_word_embeddings":\#(tied)}"#)
        case .gptNeoX:
            return try ModelConfig(huggingFaceJSON: #"{"model_type":"gpt_neox","hidden_size":6,"num_attention_heads":3,"num_hidden_layers":2,"intermediate_size":10,"vocab_size":7,"rotary_pct":1.0,"tie_word_embeddings":\#(tied)}"#)
        case .llama:
            return try ModelConfig(huggingFaceJSON: #"{"model_type":"llama","hidden_size":8,"num_attention_heads":4,"num_key_value_heads":2,"num_hidden_layers":2,"intermediate_size":10,"vocab_size":7,"attention_bias":true,"tie_word_embeddings":\#(tied)}"#)
        case .olmo:
            return try ModelConfig(huggingFaceJSON: #"{"model_type":"olmo","hidden_size":8,"num_attention_heads":2,"num_hidden_layers":2,"intermediate_size":10,"vocab_size":7,"clip_qkv":4.0,"tie_word_embeddings":\#(tied)}"#)
        default:
            return try ModelConfig(huggingFaceJSON: #"{"model_type":"\#(a.rawValue)","hidden_size":8,"num_attention_heads":2,"num_key_value_heads":1,"head_dim":4,"num_hidden_layers":2,"intermediate_size":10,"vocab_size":7,"tie_word_embeddings":\#(tied)}"#)
        }
    }

    /// A store whose every scalar is distinct.
    func distinctStore(_ c: ModelConfig) -> ParameterStore {
        var p = ParameterStore(config: c)
        for i in 0..<p.data.count { p.data[i] = Float(i + 1) * 0.5 }
        return p
    }

    /// Writes config.json + model.safetensors for (config, store) with ke's writer.
    func writeCheckpoint(_ c: ModelConfig, _ p: ParameterStore, to dir: String) throws {
        try huggingFaceConfigJSON(for: c).serialized(pretty: true).write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        try writeSafetensors(try huggingFaceEntries(config: c, store: p), to: dir + "/model.safetensors")
    }

    /// Rewrites a fixture's weights with `transform` applied to the (name, values, shape) list.
    func rewriteFixture(_ name: String, _ transform: (inout [(String, [Int], [Float])]) -> Void) throws -> String {
        let dir = try makeTempDir(self)
        try FileManager.default.copyItem(atPath: checkpointFixtures + "/\(name)/config.json", toPath: dir + "/config.json")
        let f = try SafetensorsFile(path: checkpointFixtures + "/\(name)/model.safetensors")
        var list = try f.names.map { ($0, f.shape(of: $0)!, try f.floats($0)) }
        transform(&list)
        try writeSafetensors(list.map { SafetensorsEntry(name: $0.0, shape: $0.1, values: $0.2) }, to: dir + "/model.safetensors")
        return dir
    }

    // MARK: Transformers-written fixtures

    func testFixturesMatchIndependentCanonicalTensors() throws {
        for name in ["gpt2", "gpt_neox", "llama_gqa", "olmo_bf16", "llama_sharded_f16"] {
            let dir = checkpointFixtures + "/" + name
            let (config, params, step) = try loadCheckpointWeights(directory: dir)
            XCTAssertNil(step)
            let canon = try SafetensorsFile(path: dir + "/canonical.safetensors")
            // Same tensor set, same shapes, bit-identical values.
            XCTAssertEqual(Set(canon.names), Set(params.slots.map(\.name)), name)
            for n in canon.names {
                XCTAssertEqual(params.slot(n)?.shape, canon.shape(of: n), "\(name) \(n)")
                XCTAssertEqual(params.values(n), try canon.floats(n), "\(name) \(n)")
            }
            let count = try JSONValue.parse(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/parameters.json"))))["parameters"]?.intValue
            XCTAssertEqual(params.count, count, name)
            XCTAssertEqual(config.rawJSON["model_type"]?.stringValue, config.architecture.rawValue)
        }
    }

    func testFixtureDetails() throws {
        let neox = try loadCheckpointWeights(directory: checkpointFixtures + "/gpt_neox").config
        XCTAssertEqual(neox.rotaryDim, 2)  // head_dim 4 × 0.5
        let olmo = try loadCheckpointWeights(directory: checkpointFixtures + "/olmo_bf16").config
        XCTAssertEqual(olmo.clipQKV, 8); XCTAssertTrue(olmo.tieWordEmbeddings)
        let llama = try loadCheckpointWeights(directory: checkpointFixtures + "/llama_sharded_f16")
        XCTAssertTrue(llama.config.attentionBias)
        XCTAssertEqual(try SafetensorsCheckpoint(directory: checkpointFixtures + "/llama_sharded_f16").files.count, 3)
    }

    func testBarePrefixAndTiedHeadAreAccepted() throws {
        // GPT-2 saved as a bare GPT2Model (no "transformer." prefix), plus a stored tied head and a mask buffer.
        let dir = try rewriteFixture("gpt2") { list in
            list = list.map { ($0.0.replacingOccurrences(of: "transformer.", with: ""), $0.1, $0.2) }
            let wte = list.first { $0.0 == "wte.weight" }!
            list.append(("lm_head.weight", wte.1, wte.2))
            list.append(("h.0.attn.bias", [1, 1, 4, 4], [Float](repeating: 1, count: 16)))
        }
        let loaded = try loadCheckpointWeights(directory: dir)
        let reference = try loadCheckpointWeights(directory: checkpointFixtures + "/gpt2")
        XCTAssertEqual(loaded.params.data, reference.params.data)
    }

    func testNeoXHeadUnderNewName() throws {
        let dir = try rewriteFixture("gpt_neox") { list in
            list = list.map { ($0.0 == "embed_out.weight" ? "lm_head.weight" : $0.0, $0.1, $0.2) }
        }
        XCTAssertEqual(try loadCheckpointWeights(directory: dir).params.data,
                       try loadCheckpointWeights(directory: checkpointFixtures + "/gpt_neox").params.data)
    }

    // MARK: Errors naming tensors

    func testMissingTensorIsNamed() throws {
        let dir = try rewriteFixture("llama_gqa") { $0.removeAll { $0.0 == "model.layers.1.mlp.up_proj.weight" } }
        assertCoreError("checkpoint is missing 1 tensor: model.layers.1.mlp.up_proj.weight") { _ = try loadCheckpointWeights(directory: dir) }
    }

    func testUntiedHeadMustBePresent() throws {
        let dir = try rewriteFixture("gpt_neox") { $0.removeAll { $0.0 == "embed_out.weight" } }
        assertCoreError("embed_out.weight (tie_word_embeddings is false") { _ = try loadCheckpointWeights(directory: dir) }
    }

    func testUnexpectedTensorIsAnError() throws {
        let dir = try rewriteFixture("olmo_bf16") { $0.append(("model.layers.0.self_attn.q_norm.weight", [8], [Float](repeating: 1, count: 8))) }
        assertCoreError("does not have: model.layers.0.self_attn.q_norm.weight") { _ = try loadCheckpointWeights(directory: dir) }
    }

    func testShapeMismatchIsNamed() throws {
        let dir = try rewriteFixture("gpt2") { list in
            let i = list.firstIndex { $0.0 == "transformer.h.1.mlp.c_fc.weight" }!
            list[i] = (list[i].0, [32, 8], list[i].2)  // transposed shape, same count
        }
        assertCoreError("tensor transformer.h.1.mlp.c_fc.weight has shape [32, 8], the config implies [8, 32]") {
            _ = try loadCheckpointWeights(directory: dir)
        }
    }

    func testIntegerWeightsRefused() throws {
        let dir = try makeTempDir(self)
        let c = try smallConfig(.olmo)
        try writeCheckpoint(c, distinctStore(c), to: dir)
        // Replace the file with one where the embedding is I32.
        let f = try SafetensorsFile(path: dir + "/model.safetensors")
        var header: [(String, JSONValue)] = []
        var data: [UInt8] = []
        for n in f.names {
            let count = f.info(n)!.count
            let dtype = n == "model.embed_tokens.weight" ? "I32" : "F32"
            header.append((n, .object([("dtype", .string(dtype)), ("shape", .array(f.shape(of: n)!.map { .int($0) })),
                                       ("data_offsets", .array([.int(data.count), .int(data.count + 4 * count)]))])))
            data += [UInt8](repeating: 0, count: 4 * count)
        }
        try writeRawSafetensors(dir + "/model.safetensors", header: JSONValue.object(header).serialized(), data: data)
        assertCoreError("tensor model.embed_tokens.weight has dtype I32; weights must be F32, F16 or BF16") {
            _ = try loadCheckpointWeights(directory: dir)
        }
    }

    func testMissingFilesAreNamed() throws {
        let dir = try makeTempDir(self)
        assertCoreError("missing config.json") { _ = try loadCheckpointWeights(directory: dir) }
        try FileManager.default.copyItem(atPath: checkpointFixtures + "/gpt2/config.json", toPath: dir + "/config.json")
        assertCoreError("missing model.safetensors") { _ = try loadCheckpointWeights(directory: dir) }
        try FileManager.default.copyItem(atPath: checkpointFixtures + "/gpt2/model.safetensors", toPath: dir + "/model.safetensors")
        XCTAssertNoThrow(try loadCheckpointWeights(directory: dir))
        assertCoreError("missing tokenizer.json") { _ = try Model.load(directory: dir) }
        assertCoreError("no such model directory") { _ = try loadCheckpointWeights(directory: dir + "/nope") }
    }

    // MARK: Synthetic round trips canonical → HF → canonical

    func testLoaderLayoutMatchesParameterStore() throws {
        for a in Architecture.allCases {
            for tied in [false, true] {
                let c = try smallConfig(a, tied: tied)
                let layout = canonicalLayout(for: c)
                let store = ParameterStore(config: c)
                XCTAssertEqual(layout.slots, store.slots)
                XCTAssertEqual(layout.count, store.count)
            }
        }
    }

    func testRoundTripAllArchitectures() throws {
        for a in Architecture.allCases {
            for tied in [false, true] {
                let c = try smallConfig(a, tied: tied)
                let p = distinctStore(c)
                let dir = try makeTempDir(self)
                try writeCheckpoint(c, p, to: dir)
                let back = try loadCheckpointWeights(directory: dir)
                var bc = back.config
                XCTAssertEqual(bc.rawJSON["dtype"], .string("float32"))
                bc.rawJSON = c.rawJSON
                XCTAssertEqual(bc, c, "\(a) tied=\(tied)")
                XCTAssertEqual(back.params.slots, p.slots)
                XCTAssertEqual(back.params.data, p.data, "\(a) tied=\(tied)")
                let f = try SafetensorsFile(path: dir + "/model.safetensors")
                XCTAssertEqual(f.names.contains { $0 == "lm_head.weight" || $0 == "embed_out.weight" }, !tied)
            }
        }
    }

    func testGPT2LayoutsOnDisk() throws {
        let c = try smallConfig(.gpt2)
        let p = distinctStore(c)
        let dir = try makeTempDir(self)
        try writeCheckpoint(c, p, to: dir)
        let f = try SafetensorsFile(path: dir + "/model.safetensors")
        let D = 6, F = 10
        // c_attn.weight [D(in), 3D(out)]: element [i, j·D + o] = canonical j [o, i].
        XCTAssertEqual(f.shape(of: "transformer.h.1.attn.c_attn.weight"), [D, 3 * D])
        let cattn = try f.floats("transformer.h.1.attn.c_attn.weight")
        for (j, n) in ["q", "k", "v"].enumerated() {
            let w = p.values("L1.\(n).w")!
            for i in 0..<D { for o in 0..<D { XCTAssertEqual(cattn[i * 3 * D + j * D + o], w[o * D + i]) } }
        }
        let cb = try f.floats("transformer.h.1.attn.c_attn.bias")
        XCTAssertEqual(Array(cb[D..<(2 * D)]), p.values("L1.k.b"))
        // c_fc.weight [D, F] = up.w [F, D] transposed; c_proj [F, D] = down.w [D, F] transposed.
        XCTAssertEqual(f.shape(of: "transformer.h.0.mlp.c_fc.weight"), [D, F])
        let fc = try f.floats("transformer.h.0.mlp.c_fc.weight"), up = p.values("L0.up.w")!
        let proj = try f.floats("transformer.h.0.mlp.c_proj.weight"), down = p.values("L0.down.w")!
        for i in 0..<D { for k in 0..<F {
            XCTAssertEqual(fc[i * F + k], up[k * D + i])
            XCTAssertEqual(proj[k * D + i], down[i * F + k])
        } }
        let ap = try f.floats("transformer.h.0.attn.c_proj.weight"), o = p.values("L0.o.w")!
        for i in 0..<D { for k in 0..<D { XCTAssertEqual(ap[i * D + k], o[k * D + i]) } }
    }

    func testNeoXQKVInterleaveOnDisk() throws {
        let c = try smallConfig(.gptNeoX)  // D 6, 3 heads of 2
        let p = distinctStore(c)
        let dir = try makeTempDir(self)
        try writeCheckpoint(c, p, to: dir)
        let f = try SafetensorsFile(path: dir + "/model.safetensors")
        let w = try f.floats("gpt_neox.layers.0.attention.query_key_value.weight")
        let b = try f.floats("gpt_neox.layers.0.attention.query_key_value.bias")
        let D = 6, hd = 2
        for (j, n) in ["q", "k", "v"].enumerated() {
            let cw = p.values("L0.\(n).w")!, cb = p.values("L0.\(n).b")!
            for h in 0..<3 { for d in 0..<hd {
                let hfRow = (h * 3 + j) * hd + d, row = h * hd + d
                XCTAssertEqual(Array(w[(hfRow * D)..<(hfRow * D + D)]), Array(cw[(row * D)..<(row * D + D)]))
                XCTAssertEqual(b[hfRow], cb[row])
            } }
        }
        XCTAssertNotNil(f.info("embed_out.weight"))  // published name for the untied head
    }

    // MARK: Saving

    func testSaveWritesLoadableDirectory() throws {
        let root = try makeTempDir(self)
        let fixture = try loadCheckpointWeights(directory: checkpointFixtures + "/olmo_bf16")
        let tok = JSONValue.object([("version", .string("1.0")), ("model", .object([("type", .string("BPE"))]))])
        let out = root + "/step300-tokens1B"
        try saveHuggingFaceDirectory(config: fixture.config, params: fixture.params, tokenizerJSON: tok, to: out, force: false)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: out)), ["config.json", "model.safetensors", "tokenizer.json"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), ["step300-tokens1B"])  // no temporaries left
        let back = try loadCheckpointWeights(directory: out)
        XCTAssertEqual(back.step, 300)
        XCTAssertEqual(back.params.data, fixture.params.data)
        var c = back.config; c.rawJSON = fixture.config.rawJSON
        XCTAssertEqual(c, fixture.config)
        XCTAssertEqual(back.config.rawJSON["dtype"], .string("float32"))
        XCTAssertEqual(back.config.rawJSON["architectures"], .array([.string("OlmoForCausalLM")]))
        XCTAssertEqual(try SafetensorsFile(path: out + "/model.safetensors").metadata, ["format": "pt"])
        XCTAssertEqual(try SafetensorsFile(path: out + "/model.safetensors").tensors.map(\.dtype).allSatisfy { $0 == .f32 }, true)
        let tokBack = try JSONValue.parse(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: out + "/tokenizer.json"))))
        XCTAssertEqual(tokBack, tok)
        // Keys sorted like transformers' to_json_string(sort_keys=True).
        let cfg = try JSONValue.parse(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))))
        let keys = cfg.objectValue!.map(\.0)
        XCTAssertEqual(keys, keys.sorted())
    }

    func testSaveRefusesNonEmptyUnlessForced() throws {
        let root = try makeTempDir(self)
        let fx = try loadCheckpointWeights(directory: checkpointFixtures + "/gpt2")
        let out = root + "/m"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        // Empty existing directory: fine.
        try saveHuggingFaceDirectory(config: fx.config, params: fx.params, tokenizerJSON: .object([]), to: out, force: false)
        assertCoreError("directory is not empty (use force to replace it)") {
            try saveHuggingFaceDirectory(config: fx.config, params: fx.params, tokenizerJSON: .object([]), to: out, force: false)
        }
        // Forced: replaced (an extra file in the old directory disappears).
        try "x".write(toFile: out + "/stale.txt", atomically: true, encoding: .utf8)
        let other = try loadCheckpointWeights(directory: checkpointFixtures + "/gpt_neox")
        try saveHuggingFaceDirectory(config: other.config, params: other.params, tokenizerJSON: .object([]), to: out + "/", force: true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/stale.txt"))
        XCTAssertEqual(try loadCheckpointWeights(directory: out).config.architecture, .gptNeoX)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), ["m"])
        // A non-empty directory without config.json is never replaced.
        let foreign = root + "/notes"
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: false)
        try "keep".write(toFile: foreign + "/a.txt", atomically: true, encoding: .utf8)
        assertCoreError("holds no config.json") {
            try saveHuggingFaceDirectory(config: fx.config, params: fx.params, tokenizerJSON: .object([]), to: foreign, force: true)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: foreign + "/a.txt"))
        // A file in the way.
        assertCoreError("exists and is not a directory") {
            try saveHuggingFaceDirectory(config: fx.config, params: fx.params, tokenizerJSON: .object([]), to: foreign + "/a.txt", force: true)
        }
    }

    func testGeneratedConfigForModelsWithoutJSON() throws {
        for a in Architecture.allCases {
            var c = try smallConfig(a)
            c.rawJSON = [:]
            let json = try huggingFaceConfigJSON(for: c)
            var back = try ModelConfig(huggingFace: json)
            back.rawJSON = [:]
            XCTAssertEqual(back, c, "\(a)")
        }
    }

    func testConfigWriteRefusesInconsistentFields() throws {
        var c = try smallConfig(.llama)
        c.intermediateSize = 12  // rawJSON still says 10
        assertCoreError("would not reproduce") { _ = try huggingFaceConfigJSON(for: c) }
    }

    // MARK: Folding coefficient multipliers

    func testFoldGatedScalesUpRows() throws {
        let c = try smallConfig(.olmo)  // D 8, F 10
        let p = distinctStore(c)
        let s: [Float] = (0..<10).map { Float($0) - 2.5 }
        let folded = try MemoryMultipliers([nil, s], config: c).folded(into: p, config: c)
        XCTAssertEqual(folded.values("L0.up.w"), p.values("L0.up.w"))
        let up = p.values("L1.up.w")!, fup = folded.values("L1.up.w")!
        for i in 0..<10 { for d in 0..<8 { XCTAssertEqual(fup[i * 8 + d], up[i * 8 + d] * s[i]) } }
        XCTAssertEqual(folded.values("L1.down.w"), p.values("L1.down.w"))
    }

    func testFoldGELUScalesDownColumns() throws {
        let c = try smallConfig(.gpt2)  // D 6, F 10
        let p = distinctStore(c)
        let s: [Float] = (0..<10).map { 1 + Float($0) }
        let folded = try MemoryMultipliers([s, nil], config: c).folded(into: p, config: c)
        let down = p.values("L0.down.w")!, fd = folded.values("L0.down.w")!
        for d in 0..<6 { for i in 0..<10 { XCTAssertEqual(fd[d * 10 + i], down[d * 10 + i] * s[i]) } }
        XCTAssertEqual(folded.values("L0.up.w"), p.values("L0.up.w"))
        XCTAssertEqual(folded.values("L0.up.b"), p.values("L0.up.b"))
        assertCoreError("for 1 layers, but the model has 2") { _ = try MemoryMultipliers([[1, 2, 3]], config: c) }
        assertCoreError("layer 0: 3 memory multipliers given, but the layer has 10 memories") { _ = try MemoryMultipliers([[1, 2, 3], nil], config: c) }
    }

    // MARK: Step names

    func testParseStep() {
        let cases: [(String, Int?)] = [
            ("step1000", 1000), ("step-1000", 1000), ("step_42", 42), ("checkpoint-1000", 1000),
            ("step1000-tokens4B", 1000), ("stage1-step1500-tokens3B", 1500), ("/runs/olmo/step20000-tokens84B/", 20000),
            ("Step7", 7), ("main", nil), ("steps", nil), ("step", nil), ("mystep12", nil), ("step12abc", nil),
            ("stage1", nil), ("step99999999999999999999999", nil), ("", nil), ("model-checkpoint_5", 5),
        ]
        for (name, want) in cases { XCTAssertEqual(parseStep(fromName: name), want, name) }
    }
}
