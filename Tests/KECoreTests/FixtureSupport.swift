import Foundation
import XCTest
@testable import KECore

/// Paths and readers for the Hugging Face recordings under `Tests/Fixtures` (made by
/// `Scripts/make-fixtures.py`).
enum Fixtures {
    /// `Tests/Fixtures`.
    static let root: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").path
    }()

    /// Every model fixture directory name.
    static let modelNames = [
        "olmo", "olmo_clip", "llama_gqa", "llama_tied", "llama_sharded",
        "neox", "neox_legacy", "gpt2", "gpt2_noprefix",
        "olmo2", "olmo3", "qwen2", "qwen3", "mistral", "gemma",
        "llama_rope_llama3", "llama_rope_linear", "llama_rope_dynamic", "llama_bias", "llama_pad",
        "llama_base", "llama_unlisted", "gpt2_inverse_layer", "gpt2_upcast", "gpt2_generic_keys", "gpt2_base",
    ]

    static func modelDir(_ name: String) -> String { root + "/models/" + name }

    /// The recorded scalars (`expected.json`).
    static func expected(_ name: String) throws -> JSONValue {
        try JSONValue.parse(bytes: readFileBytes(modelDir(name) + "/expected.json"))
    }

    /// The recorded arrays (`expected.safetensors`).
    static func arrays(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: modelDir(name) + "/expected.safetensors")
    }

    /// Token ids of the corpus documents as HF tokenised them.
    static func docs(_ expected: JSONValue) -> [[Int]] {
        (expected["docs"]?.arrayValue ?? []).map { ($0.arrayValue ?? []).compactMap(\.intValue) }
    }
}

extension JSONValue {
    /// A list of numbers as Doubles.
    var doubles: [Double] { (arrayValue ?? []).compactMap(\.doubleValue) }
}

/// Largest |a − b| over two equally long arrays (∞ when the lengths differ).
func maxAbsDiff<T: BinaryFloatingPoint, U: BinaryFloatingPoint>(_ a: [T], _ b: [U]) -> Double {
    guard a.count == b.count else { return .infinity }
    var m = 0.0
    for (x, y) in zip(a, b) { m = max(m, abs(Double(x) - Double(y))) }
    return m
}

/// Logits [N, V] of `docs` packed into one batch (rows in document order), under `scale`
/// (default: the model's own coefficient multipliers).
func packedLogits(_ model: Model, _ docs: [[Int]], scale: MemoryMultipliers? = nil) throws -> [Float] {
    let V = model.config.vocabSize
    let batch = PackedBatch(documents: docs)
    var out = [Float](repeating: .nan, count: batch.count * V)
    try withInferenceWeights(model) { w in
        try runForward(config: model.config, weights: w, multipliers: scale ?? model.memoryMultipliers, batch: batch,
                       request: ForwardRequest(coefficientSums: nil, logits: { r0, rows, l in
                           for i in 0..<(rows * V) { out[r0 * V + i] = l[i] }
                       }))
    }
    return out
}
