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
        let model = try Model.load(gguf: dir + "/llama_Q4_0.gguf")
        let out = try makeTempDir(self) + "/hf"
        try model.save(to: out)
        let back = try Model.load(directory: out)
        let ids = [5, 17, 42, 99]
        XCTAssertEqual(try packedLogits(back, [ids]), try packedLogits(model, [ids]))
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
}
