import Foundation
import XCTest
@testable import KECore

/// GGUF i-quants (IQ1_S … IQ4_XS) and the ternary TQ1_0/TQ2_0 against gguf-py's dequantisation
/// (Tests/Fixtures/formats/gguf_iquants, recorded by Scripts/fixtures/gguf_iquants.py).
final class GGUFIQuantTests: XCTestCase {
    let dir = Fixtures.root + "/formats/gguf_iquants"
    static let types = ["IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M", "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0"]

    /// Every type's random blocks (moderate scales, d = +0, d = 65504) dequantise to gguf-py's
    /// float32 values bit for bit: the same products in the same order, the grid and sign applied
    /// as float products (so d = 0 under a −1 sign gives −0, as numpy does).
    func testBlocksMatchGGUFPyBitwise() throws {
        let f = try GGUFFile(path: dir + "/blocks.gguf")
        let want = try SafetensorsFile(path: dir + "/blocks.safetensors")
        XCTAssertEqual(Set(f.tensors.map(\.name)), Set(Self.types))
        for name in Self.types {
            let t = try XCTUnwrap(f.tensor(name), name)
            XCTAssertEqual(t.type.name, name)
            XCTAssertEqual(t.shape, [4, 256])
            var got = [Float](repeating: .nan, count: t.count)
            try got.withUnsafeMutableBufferPointer { try f.read(t, into: $0) }
            let expected = try want.floats(name)
            XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern), name)
            // The d = 0 row holds negative zeros wherever a sign (or IQ1's delta) is negative.
            XCTAssertTrue(got[512..<768].allSatisfy { $0 == 0 }, name)
        }
    }

    /// Dequantising part of a tensor (the per-tile path: whole rows) gives the same bits as the whole.
    func testRowRangesMatchTheWhole() throws {
        let f = try GGUFFile(path: dir + "/blocks.gguf")
        for name in Self.types {
            let t = try XCTUnwrap(f.tensor(name))
            var whole = [Float](repeating: 0, count: t.count)
            try whole.withUnsafeMutableBufferPointer { try f.read(t, into: $0) }
            let rowBytes = t.byteCount / 4
            let base = try XCTUnwrap(f.file.bytes.baseAddress) + t.fileOffset
            let rows = GGMLRows(type: t.type, base: UnsafeRawPointer(base), rowBytes: rowBytes)
            var part = [Float](repeating: .nan, count: 2 * 256)
            part.withUnsafeMutableBufferPointer { rows.dequantize(rows: 1..<3, width: 256, into: $0.baseAddress!) }
            XCTAssertEqual(part.map(\.bitPattern), whole[256..<768].map(\.bitPattern), name)
        }
    }

    /// A Llama whose every matrix is another i-quant type keeps its blocks, and gives the logits
    /// and knowledge entropy transformers computes from the same file (whose weights are gguf-py's
    /// dequantisation).
    func testLlamaMatchesTransformers() throws {
        let path = dir + "/llama_iq.gguf"
        let model = try Model.load(gguf: path)
        let q = try XCTUnwrap(model.quantized)
        XCTAssertEqual(Set(q.matrixTypes.map(\.type)), Set(Self.types))
        let rec = try SafetensorsFile(path: dir + "/llama_iq.safetensors")
        let ids = try rec.floats("ids").map { Int($0) }
        // 1e-4: both sides use the identical dequantised f32 weights; only float32 summation
        // order differs (the bound of GGUFTests' Llama fixtures; logits here are ≤ 5.1).
        XCTAssertLessThan(maxAbsDiff(try packedLogits(model, [ids]), try rec.floats("logits")), 1e-4)

        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/llama_iq.json"))) as? [String: Any])
        let docs = try XCTUnwrap(json["docs"] as? [[Int]])
        let want = try XCTUnwrap(json["entropy"] as? [String: Any])
        let e = try knowledgeEntropy(of: model, on: Corpus(documents: docs, source: "fixture"))
        XCTAssertEqual(e.tokens, want["tokens"] as? Int)
        for l in 0..<model.config.numLayers {
            for (g, w) in zip(e.stats.means[l], try rec.floats("coef_means.\(l)")) {
                // Double means of float32 |coefficient| against HF's float64 means rounded to
                // float32 (~6e-8 relative), plus float32 summation order upstream: 1e-5 relative
                // (the bound of ForwardParityTests).
                XCTAssertEqual(g, Double(w), accuracy: 1e-5 * max(1, abs(Double(w))), "layer \(l)")
            }
        }
        // Entropy of means that agree to ~1e-7 relative; 1e-5 relative (as ForwardParityTests).
        let total = try XCTUnwrap(want["total"] as? Double)
        XCTAssertEqual(e.total, total, accuracy: 1e-5 * total)
        for (g, w) in zip(e.layers, try XCTUnwrap(want["layers"] as? [Double])) { XCTAssertEqual(g, w, accuracy: 1e-5 * w) }
    }

    /// Per-tile dequantisation gives exactly the parameters of a load that expands every tensor
    /// to f32 once (`loadParameters`), and the same logits.
    func testKeptBlocksAreTheExpandedLoad() throws {
        let path = dir + "/llama_iq.gguf"
        let q = try Model.load(gguf: path), c = q.config
        let f = try GGUFFile(path: path)
        let (_, arch) = try ggufHuggingFaceConfig(f)
        let source = try GGUFTensorSource(file: f, architecture: arch, hidden: c.hiddenSize, heads: c.numHeads, kvHeads: c.numKVHeads)
        let expanded = try Model(config: c, storage: .f32(try loadParameters(config: c, from: source, file: path)), tokenizer: q.tokenizer, source: path)
        XCTAssertEqual(q.f32Parameters().data.map(\.bitPattern), expanded.f32Parameters().data.map(\.bitPattern))
        let ids = [5, 17, 42, 99, 3, 250, 7, 64]
        // Identical f32 weights; only the split of output columns between sgemm calls differs
        // (the bound of QuantizedWeightsTests).
        XCTAssertLessThan(maxAbsDiff(try packedLogits(q, [ids]), try packedLogits(expanded, [ids])), 1e-5)
    }

    // MARK: Malformed i-quant tensors

    typealias Builder = ReliabilityFormatsTests.GGUFBuilder

    func ggufError(_ g: Builder, _ fragment: String, line: UInt = #line) throws {
        let path = try makeTempDir(self) + "/model.gguf"
        try writeFileBytes(g.bytes(), to: path)
        assertNamedError(path, fragment, line: line) { _ = try GGUFFile(path: path) }
    }

    func testMalformedIQuantTensors() throws {
        // IQ2_XXS (16) rows of 100 elements: not whole blocks of 256.
        var g = Builder(); g.addTensor("a", ne: [100, 2], type: 16, bytes: [UInt8](repeating: 0, count: 132))
        try ggufError(g, "rows of 100 elements are not whole IQ2_XXS blocks of 256")
        // IQ4_NL (20) has blocks of 32: 48 is not a multiple.
        g = Builder(); g.addTensor("a", ne: [48], type: 20, bytes: [UInt8](repeating: 0, count: 36))
        try ggufError(g, "not whole IQ4_NL blocks of 32")
        // IQ1_M (29) [2, 256] needs 2 × 56 bytes; the file holds one block.
        g = Builder(); g.addTensor("a", ne: [256, 2], type: 29, bytes: [UInt8](repeating: 0, count: 56))
        try ggufError(g, "112 bytes at")
        // IQ3_S (21) blocks of 110 bytes overlapping the next tensor (offset 96).
        g = Builder()
        g.addTensor("a", ne: [256], type: 21, offset: 0, bytes: [UInt8](repeating: 0, count: 224))
        g.addTensor("b", ne: [8], type: 0, offset: 96, bytes: [])
        try ggufError(g, "tensors 'a' and 'b' overlap")
        // A ggml type gguf-py has that ke does not read: named in the error.
        g = Builder(); g.addTensor("a", ne: [32], type: 39, bytes: [UInt8](repeating: 0, count: 17))
        try ggufError(g, "ggml type 39 (MXFP4), which ke cannot dequantise")
    }

    /// Every cut of the i-quant blocks file is refused naming it, or (cutting only trailing
    /// padding) reads the same tensors.
    func testEveryTruncationIsRejected() throws {
        try assertEveryGGUFTruncation(of: dir + "/blocks.gguf", step: 3, in: try makeTempDir(self))
    }
}
