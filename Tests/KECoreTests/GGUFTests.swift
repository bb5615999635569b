import Foundation
import XCTest
@testable import KECore

final class GGUFTests: XCTestCase {
    let dir = Fixtures.root + "/formats/gguf"
    static let floatTypes = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"]
    static let kTypes = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]

    /// Every block type dequantises to exactly gguf-py's values.
    func testDequantisationMatchesGGUFPy() throws {
        let f = try GGUFFile(path: dir + "/blocks.gguf")
        let want = try SafetensorsFile(path: dir + "/blocks.safetensors")
        XCTAssertEqual(f.version, 3)
        for name in Self.floatTypes + Self.kTypes {
            guard let t = f.tensor(name) else { XCTFail("no tensor \(name)"); continue }
            XCTAssertEqual(t.type.name, name)
            XCTAssertEqual(t.shape, [2, 256])
            var got = [Float](repeating: .nan, count: t.count)
            try got.withUnsafeMutableBufferPointer { try f.read(t, into: $0) }
            // Exact: the same float32 products in the same order as numpy.
            XCTAssertEqual(got, try want.floats(name), name)
        }
    }

    /// A Llama GGUF at each type gives the logits transformers computes from the same file.
    func testLlamaGGUFMatchesTransformers() throws {
        for type in Self.floatTypes {
            let model = try Model.load(gguf: dir + "/llama_\(type).gguf")
            let rec = try SafetensorsFile(path: dir + "/llama_\(type).safetensors")
            let ids = try rec.floats("ids").map { Int($0) }
            let got = try packedLogits(model, [ids])
            // 1e-4: both sides use the identical dequantised f32 weights; only float32
            // summation order differs (the logit bound).
            XCTAssertLessThan(maxAbsDiff(got, try rec.floats("logits")), 1e-4, type)
            XCTAssertEqual(model.config.numKVHeads, 2)
        }
    }

    /// Each architecture's fixture (Scripts/fixtures/formats.py) and what it must load as. The
    /// oracle: for qwen2 and gpt2 the logits transformers computes loading the GGUF; for the
    /// others, which transformers cannot load (no gptneox, olmo, olmo2 or gemma GGUF support;
    /// qwen3 only with 128-wide heads), the logits of the HF model the file was written from,
    /// with each weight replaced by gguf-py's dequantisation of the file's tensor.
    static let architectures: [(file: String, type: Architecture)] = [
        ("qwen2", .qwen2), ("qwen3", .qwen3), ("gemma", .gemma), ("olmo", .olmo), ("olmo2", .olmo2),
        ("olmo3", .olmo3), ("gptneox", .gptNeoX), ("gpt2", .gpt2),
    ]

    /// Every architecture at F32 and Q8_0 gives its oracle's logits, and its entropy is finite.
    func testArchitecturesMatchOracle() throws {
        for (file, type) in Self.architectures {
            for qtype in ["F32", "Q8_0"] {
                let name = "\(file)_\(qtype)"
                let model = try Model.load(gguf: dir + "/\(name).gguf")
                XCTAssertEqual(model.config.architecture, type, name)
                let rec = try SafetensorsFile(path: dir + "/\(name).safetensors")
                let ids = try rec.floats("ids").map { Int($0) }
                // 1e-4: both sides use the identical dequantised f32 weights; only float32
                // summation order differs (the bound of the Llama test above).
                XCTAssertLessThan(maxAbsDiff(try packedLogits(model, [ids]), try rec.floats("logits")), 1e-4, name)
                let e = try knowledgeEntropy(of: model, on: Corpus(documents: [ids], source: "fixture"))
                XCTAssertTrue(e.total.isFinite && e.total > 0, name)
            }
        }
    }

    /// The metadata each converter writes becomes the config transformers would use.
    func testArchitectureConfigs() throws {
        let neox = try Model.load(gguf: dir + "/gptneox_Q8_0.gguf").config
        XCTAssertEqual(neox.rotaryDim, 2)                   // rope.dimension_count: 0.25 of 8
        XCTAssertTrue(neox.parallelResidual)
        let olmo = try Model.load(gguf: dir + "/olmo_F32.gguf").config
        XCTAssertEqual(olmo.clipQKV, 1.5)
        XCTAssertEqual(olmo.norm, .nonParametricLayerNorm)
        let olmo3 = try Model.load(gguf: dir + "/olmo3_F32.gguf").config
        XCTAssertEqual(olmo3.slidingWindows, [4, nil])      // written as olmo2 + sliding_window_pattern
        let qwen3 = try Model.load(gguf: dir + "/qwen3_F32.gguf").config
        XCTAssertEqual(qwen3.headDim, 16)
        XCTAssertTrue(qwen3.tieWordEmbeddings)              // no output.weight
        let gemma = try Model.load(gguf: dir + "/gemma_F32.gguf").config
        XCTAssertEqual(gemma.numKVHeads, 1)
        XCTAssertEqual(try Model.load(gguf: dir + "/gpt2_F32.gguf").config.maxPositions, 1024)
    }

    /// A copy of fixture `name` with its metadata value `key` (a u32) set to `value`, or its
    /// key renamed so it is missing.
    func patched(_ name: String, key: String, value: UInt32? = nil) throws -> String {
        var bytes = try readFileBytes(dir + "/\(name).gguf")
        let k = Array(key.utf8)
        guard let at = (0..<(bytes.count - k.count)).first(where: { Array(bytes[$0..<($0 + k.count)]) == k }) else {
            XCTFail("no key \(key)"); return ""
        }
        if let value {
            let v = at + k.count + 4   // after the u32 value type
            bytes.replaceSubrange(v..<(v + 4), with: (0..<4).map { UInt8((value >> (8 * UInt32($0))) & 0xFF) })
        } else {
            bytes[at + k.count - 1] = UInt8(ascii: "X")
        }
        let path = try makeTempDir(self) + "/\(name).gguf"
        try writeFileBytes(bytes, to: path)
        return path
    }

    /// Bad metadata or a fused tensor of the wrong shape is a clear error naming the file.
    func testBadArchitectureMetadata() throws {
        func refused(_ path: String, _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try Model.load(gguf: path), line: line) { e in
                guard let e = e as? CoreError else { return XCTFail("not a CoreError: \(e)", line: line) }
                XCTAssertEqual(e.file, path, line: line)
                XCTAssertTrue(e.description.contains(fragment), "\(e.description) lacks \(fragment)", line: line)
            }
        }
        refused(try patched("gptneox_F32", key: "gptneox.block_count"), "missing gptneox.block_count")
        refused(try patched("gpt2_F32", key: "gpt2.embedding_length"), "missing gpt2.embedding_length")
        refused(try patched("gptneox_F32", key: "gptneox.rope.dimension_count", value: 3), "rope.dimension_count 3 must be even")
        refused(try patched("olmo3_F32", key: "olmo2.attention.sliding_window", value: 0), "must be a positive integer")
        // Partial rotary outside GPT-NeoX (the head size is 8, the key 8).
        refused(try patched("llama_F32", key: "llama.rope.dimension_count", value: 4), "partial rotary embeddings are supported for gptneox only")
        // A fused q|k|v sized for another width: embedding_length 64 with the file's [96, 32].
        refused(try patched("gptneox_F32", key: "gptneox.embedding_length", value: 64), "fused tensor 'blk.0.attn_qkv.")
        refused(try patched("qwen2_F32", key: "general.architecture"), "missing general.architecture")
        // llama.cpp writes no `mistral`: the error says what it writes instead.
        var g = ReliabilityFormatsTests.GGUFBuilder()
        g.addString("general.architecture", "mistral")
        let path = try makeTempDir(self) + "/m.gguf"
        try writeFileBytes(g.bytes(), to: path)
        refused(path, "llama.cpp writes Mistral models as 'llama'")
    }

    /// The tokenizer built from tokenizer.ggml.* encodes as the tokenizer.json it came from.
    func testGPT2TokenizerFromMetadata() throws {
        let model = try Model.load(gguf: dir + "/llama_Q8_0.gguf")
        let reference = try Tokenizer(contentsOf: Fixtures.root + "/models/olmo/tokenizer.json")
        for text in ["The quick brown fox", "  spaces\tand\nlines <|endoftext|> end", "naïve café 123"] {
            XCTAssertEqual(model.tokenizer.encode(text), reference.encode(text), text)
        }
    }

    /// Saving a GGUF-loaded model writes an HF directory that loads back to the same logits.
    func testSaveWritesHFDirectory() throws {
        let tmp = try makeTempDir(self)
        for name in ["llama_Q4_0"] + Self.architectures.map { "\($0.file)_Q8_0" } {
            let model = try Model.load(gguf: dir + "/\(name).gguf")
            let out = tmp + "/\(name)"
            try model.save(to: out)
            let back = try Model.load(directory: out)
            let ids = [5, 17, 42, 99, 3, 250]
            XCTAssertEqual(try packedLogits(back, [ids]), try packedLogits(model, [ids]), name)
        }
    }

    func testBF16Load() throws {
        let model = try Model.load(gguf: dir + "/llama_BF16.gguf", keepBF16: true)
        let rec = try SafetensorsFile(path: dir + "/llama_BF16.safetensors")
        let ids = try rec.floats("ids").map { Int($0) }
        // 0.02: the matrices are exact in bf16, but llama.cpp stores the norm weights F32 and
        // keeping bf16 rounds them (relative 2^-9), which moves logits of size ~5 by < 1e-2.
        XCTAssertLessThan(maxAbsDiff(try packedLogits(model, [ids]), try rec.floats("logits")), 0.02)
    }

    /// A llama-3 style `pre` gets transformers' split regex; plain-text tokens are re-spelled
    /// byte-level; control tokens become special added tokens.
    func testPreTokenizerVariantsAndRespelling() throws {
        var g = ReliabilityFormatsTests.GGUFBuilder()
        g.addString("tokenizer.ggml.model", "gpt2")
        g.addString("tokenizer.ggml.pre", "llama-bpe")
        g.addStrings("tokenizer.ggml.tokens", ["a", "b", "ab", "a b", "<|eot|>"])
        g.addStrings("tokenizer.ggml.merges", ["a b"])
        let path = try makeTempDir(self) + "/t.gguf"
        try writeFileBytes(g.bytes(), to: path)
        let json = try ggufTokenizerJSON(try GGUFFile(path: path))
        XCTAssertEqual(json["pre_tokenizer"]?["type"]?.stringValue, "Sequence")
        XCTAssertEqual(json["pre_tokenizer"]?["pretokenizers"]?.arrayValue?.first?["pattern"]?["Regex"]?.stringValue, ggufLlama3Split)
        XCTAssertEqual(json["model"]?["vocab"]?["a\u{0120}b"]?.intValue, 3)
        let tok = try Tokenizer(json: json, file: path)
        XCTAssertEqual(tok.encode("ab"), [2])
    }

    /// GPT2Tokenizer's default `<|endoftext|>` is added after the vocabulary (as transformers
    /// does) only while that id has a row in the file's embedding matrix.
    func testDefaultSpecialOutsideTheEmbeddingIsLeftOut() throws {
        func json(embeddingRows: UInt64?) throws -> JSONValue {
            var g = ReliabilityFormatsTests.GGUFBuilder()
            g.addString("tokenizer.ggml.model", "gpt2")
            g.addStrings("tokenizer.ggml.tokens", ["a", "b", "ab", "<|begin_of_text|>"])
            g.addStrings("tokenizer.ggml.merges", ["a b"])
            if let rows = embeddingRows {
                g.addTensor("token_embd.weight", ne: [32, rows], type: 8, bytes: [UInt8](repeating: 0, count: 34 * Int(rows)))
            }
            let path = try makeTempDir(self) + "/t\(embeddingRows ?? 0).gguf"
            try writeFileBytes(g.bytes(), to: path)
            return try ggufTokenizerJSON(try GGUFFile(path: path))
        }
        func endOfText(_ j: JSONValue) -> Int? {
            j["added_tokens"]?.arrayValue?.first { $0["content"]?.stringValue == "<|endoftext|>" }?["id"]?.intValue
        }
        XCTAssertEqual(endOfText(try json(embeddingRows: nil)), 4)  // tokenizer only: as transformers
        XCTAssertEqual(endOfText(try json(embeddingRows: 5)), 4)    // a spare row: as transformers
        XCTAssertNil(endOfText(try json(embeddingRows: 4)))         // no row for id 4: left out
    }

    /// A byte-level vocabulary without merges takes them from its scores (transformers'
    /// `get_merges`); with neither it is an error, not a tokenizer of single characters.
    func testByteLevelWithoutMergesNeedsScores() throws {
        var g = ReliabilityFormatsTests.GGUFBuilder()
        g.addString("tokenizer.ggml.model", "gpt2")
        g.addStrings("tokenizer.ggml.tokens", ["a", "b", "ab"])
        let path = try makeTempDir(self) + "/t.gguf"
        try writeFileBytes(g.bytes(), to: path)
        assertNamedError(path, "neither tokenizer.ggml.merges nor tokenizer.ggml.scores") { _ = try ggufTokenizerJSON(try GGUFFile(path: path)) }
    }

    /// `generate` on a GGUF stops at the file's `tokenizer.ggml.eos_token_id`, as transformers'
    /// generation config built from it does, and `save` copies nothing from beside the file (it
    /// writes tokenizer_config.json and generation_config.json from the metadata).
    func testEndOfSequenceFromMetadata() throws {
        let model = try Model.load(gguf: dir + "/llama_Q8_0.gguf")
        XCTAssertEqual(model.directoryInfo?.eosTokenIDs, [0])
        XCTAssertEqual(model.directoryInfo?.eosSource, "tokenizer.ggml.eos_token_id")
        let out = try makeTempDir(self) + "/hf"
        try model.save(to: out)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: out)),
                       ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"])
        XCTAssertEqual(try Model.load(directory: out).directoryInfo?.eosTokenIDs, [0])
    }
}
