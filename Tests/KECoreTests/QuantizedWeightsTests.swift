import Foundation
import XCTest
@testable import KECore

/// A quantised GGUF keeps its ggml blocks and dequantises per tile inside each matrix product:
/// the numbers must be those of the same model expanded to f32 at load.
final class QuantizedWeightsTests: XCTestCase {
    let dir = Fixtures.root + "/formats/gguf"
    static let quantisedTypes = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"]

    /// Every quantised fixture: the Llama at each legacy type, and each other architecture at Q8_0
    /// (GPT-2's transposed and fused c_attn, GPT-NeoX's regrouped q|k|v are cut out of the blocks too).
    static let files = quantisedTypes.map { "llama_\($0)" }
        + ["qwen2", "qwen3", "gemma", "olmo", "olmo2", "olmo3", "gptneox", "gpt2"].map { $0 + "_Q8_0" }

    /// The same file expanded to f32 at load (the path every float checkpoint takes), with the
    /// configuration `Model.load(gguf:)` builds.
    func expandedModel(_ path: String) throws -> Model {
        let q = try Model.load(gguf: path), c = q.config
        let f = try GGUFFile(path: path)
        let (_, arch) = try ggufHuggingFaceConfig(f)
        let source = try GGUFTensorSource(file: f, architecture: arch, hidden: c.hiddenSize, heads: c.numHeads, kvHeads: c.numKVHeads)
        return try Model(config: c, storage: .f32(try loadParameters(config: c, from: source, file: path)),
                         tokenizer: q.tokenizer, source: path)
    }

    func testQuantisedFileKeepsBlocks() throws {
        for type in Self.quantisedTypes {
            let model = try Model.load(gguf: dir + "/llama_\(type).gguf")
            let q = try XCTUnwrap(model.quantized, type)
            XCTAssertEqual(q.matrixTypes.map(\.type), [type], type)
            XCTAssertEqual(model.parameterCount, try expandedModel(dir + "/llama_\(type).gguf").parameterCount)
            // Quantised blocks are at most 8.5 bits a weight (Q8_0), against 32 for f32; the
            // f32 vectors are a few hundred floats.
            XCTAssertLessThan(q.byteCount, model.parameterCount * 4 * 9 / 32 + 4096, type)
        }
    }

    /// Dequantising every block at once gives exactly the f32 parameters of an expanded load.
    func testExpansionIsTheExpandedLoad() throws {
        for name in Self.files {
            let path = dir + "/\(name).gguf"
            XCTAssertEqual(try Model.load(gguf: path).f32Parameters().data, try expandedModel(path).f32Parameters().data, name)
        }
    }

    /// Per-tile dequantisation gives the expanded model's logits, entropy and generation: the
    /// f32 values are identical and each tile's sgemm computes every output column over the full
    /// inner dimension, so only the split of columns between calls differs (bound 1e-5 on logits
    /// of size ~5, a few float32 ulps, should a BLAS kernel block columns differently).
    func testPerTileMatchesExpanded() throws {
        let ids = [5, 17, 42, 99, 3, 250, 7, 64]
        for name in Self.files {
            let path = dir + "/\(name).gguf"
            let q = try Model.load(gguf: path), f = try expandedModel(path), type = name
            XCTAssertLessThan(maxAbsDiff(try packedLogits(q, [ids, [1, 2, 3]]), try packedLogits(f, [ids, [1, 2, 3]])), 1e-5, type)
            let corpus = Corpus(documents: [ids, [9, 8, 7, 6, 5]], source: "t")
            let eq = try knowledgeEntropy(of: q, on: corpus), ef = try knowledgeEntropy(of: f, on: corpus)
            XCTAssertEqual(eq.total, ef.total, accuracy: 1e-9 * ef.total, type)
            let gq = try generateGreedy(model: q, text: "The quick brown fox", tokens: 8, stopIDs: [])
            let gf = try generateGreedy(model: f, text: "The quick brown fox", tokens: 8, stopIDs: [])
            XCTAssertEqual(gq.generated, gf.generated, type)
        }
    }

    /// Interventions that need f32 make an f32 model; copies that change nothing stay quantised;
    /// `bf16` keeps the blocks.
    func testStorageAfterInterventions() throws {
        let model = try Model.load(gguf: dir + "/llama_Q4_0.gguf")
        XCTAssertNotNil(try model.with(addingIntervention: "note").quantized)
        XCTAssertNotNil(try model.keepingBF16().quantized)
        XCTAssertNil(try model.with(params: model.f32Parameters()).quantized)
        let bf16 = try Model.load(gguf: dir + "/llama_Q4_0.gguf", keepBF16: true)
        XCTAssertEqual(try XCTUnwrap(bf16.quantized).matrixTypes.first?.type, "Q4_0")
        let ids = [5, 17, 42]
        XCTAssertEqual(try packedLogits(bf16, [ids]), try packedLogits(model, [ids]))
    }

    /// Every matrix of every quantised fixture keeps the type the file stores it in, whatever
    /// rewrite the converter applied to it: F32 matrices are exactly those the file stores F32
    /// (GPT-2's position embedding), so nothing quantised was expanded.
    func testEveryArchitectureKeepsEveryMatrixQuantised() throws {
        for name in Self.files {
            let path = dir + "/\(name).gguf"
            let q = try XCTUnwrap(try Model.load(gguf: path).quantized, name)
            let storedF32 = try GGUFFile(path: path).tensors.filter { $0.shape.count == 2 && $0.type == .f32 }.count
            XCTAssertEqual(q.matrixTypes.first { $0.type == "F32" }?.count ?? 0, storedF32, "\(name): \(q.matrixTypes)")
        }
    }

    /// Ablating or rescaling a quantised model keeps its blocks (the change rides as memory
    /// multipliers), gives the numbers of the same intervention on the expanded model, and saves
    /// the same checkpoint.
    func testInterventionsKeepBlocks() throws {
        let path = dir + "/llama_Q4_0.gguf"
        let q = try Model.load(gguf: path), f = try expandedModel(path)
        let corpus = Corpus(documents: [[5, 17, 42, 99, 3, 250, 7, 64], [9, 8, 7, 6, 5]], source: "t")
        let pairs = [(try q.ablated(layer: 1, memories: [3, 5]), try f.ablated(layer: 1, memories: [3, 5])),
                     (try q.rescaled(bottom: 0.5, by: 2, on: corpus), try f.rescaled(bottom: 0.5, by: 2, on: corpus))]
        for (a, b) in pairs {
            XCTAssertNotNil(a.quantized)
            XCTAssertNil(b.quantized)
            XCTAssertEqual(a.interventions, b.interventions)
            // 1e-5: the multiplier scales the coefficient instead of the up row, a float32
            // rounding apart (logits of size ~5).
            XCTAssertLessThan(maxAbsDiff(try packedLogits(a, [[5, 17, 42, 99]]), try packedLogits(b, [[5, 17, 42, 99]])), 1e-5)
            let outA = try makeTempDir(self) + "/a", outB = try makeTempDir(self) + "/b"
            try a.save(to: outA)
            try b.save(to: outB)
            XCTAssertEqual(try Model.load(directory: outA).f32Parameters().data, try Model.load(directory: outB).f32Parameters().data)
        }
    }
}
