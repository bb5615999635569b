import XCTest
@testable import KECore

// MARK: Small random models for the training tests

/// Deterministic SplitMix64 for test data.
struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
    /// Approximately standard normal (Box–Muller).
    mutating func normal() -> Float {
        let u1 = max(uniform(), 1e-7), u2 = uniform()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// The architecture variants the gradient tests cover.
enum TestArch: String, CaseIterable {
    case llamaGQA, olmoClip, neoxParallel, gpt2Learned, reluScaled, gpt2Untied
}

/// A small configuration exercising the features of `arch`.
func testConfig(_ arch: TestArch, vocab: Int = 23) -> ModelConfig {
    switch arch {
    case .llamaGQA:
        return ModelConfig(architecture: .llama, vocabSize: vocab, hiddenSize: 16, numLayers: 2, numHeads: 4,
                           numKVHeads: 2, headDim: 4, intermediateSize: 24, maxPositions: 64, norm: .rmsNorm,
                           normEps: 1e-5, activation: .silu, gatedMLP: true, rotaryDim: 4, ropeTheta: 10000,
                           learnedPositions: false, parallelResidual: false, tieWordEmbeddings: false,
                           clipQKV: nil, attentionBias: false, mlpBias: false)
    case .olmoClip:
        return ModelConfig(architecture: .olmo, vocabSize: vocab, hiddenSize: 16, numLayers: 2, numHeads: 2,
                           numKVHeads: 2, headDim: 8, intermediateSize: 20, maxPositions: 64,
                           norm: .nonParametricLayerNorm, normEps: 1e-5, activation: .silu, gatedMLP: true,
                           rotaryDim: 8, ropeTheta: 10000, learnedPositions: false, parallelResidual: false,
                           tieWordEmbeddings: true, clipQKV: 0.6, attentionBias: false, mlpBias: false)
    case .neoxParallel:
        return ModelConfig(architecture: .gptNeoX, vocabSize: vocab, hiddenSize: 16, numLayers: 2, numHeads: 2,
                           numKVHeads: 2, headDim: 8, intermediateSize: 32, maxPositions: 64,
                           norm: .layerNorm(bias: true), normEps: 1e-5, activation: .gelu, gatedMLP: false,
                           rotaryDim: 2, ropeTheta: 10000, learnedPositions: false, parallelResidual: true,
                           tieWordEmbeddings: false, clipQKV: nil, attentionBias: true, mlpBias: true)
    case .gpt2Learned:
        return ModelConfig(architecture: .gpt2, vocabSize: vocab, hiddenSize: 16, numLayers: 2, numHeads: 2,
                           numKVHeads: 2, headDim: 8, intermediateSize: 32, maxPositions: 16,
                           norm: .layerNorm(bias: true), normEps: 1e-5, activation: .geluTanh, gatedMLP: false,
                           rotaryDim: 0, ropeTheta: 10000, learnedPositions: true, parallelResidual: false,
                           tieWordEmbeddings: true, clipQKV: nil, attentionBias: true, mlpBias: true)
    case .reluScaled:
        return ModelConfig(architecture: .gptNeoX, vocabSize: vocab, hiddenSize: 12, numLayers: 2, numHeads: 3,
                           numKVHeads: 1, headDim: 4, intermediateSize: 16, maxPositions: 64,
                           norm: .layerNorm(bias: false), normEps: 1e-5, activation: .relu, gatedMLP: false,
                           rotaryDim: 4, ropeTheta: 500, learnedPositions: false, parallelResidual: false,
                           tieWordEmbeddings: false, clipQKV: nil, attentionBias: false, mlpBias: true)
    case .gpt2Untied:
        return ModelConfig(architecture: .gpt2, vocabSize: vocab, hiddenSize: 16, numLayers: 1, numHeads: 4,
                           numKVHeads: 4, headDim: 4, intermediateSize: 16, maxPositions: 32,
                           norm: .layerNorm(bias: true), normEps: 1e-5, activation: .silu, gatedMLP: true,
                           rotaryDim: 0, ropeTheta: 10000, learnedPositions: true, parallelResidual: true,
                           tieWordEmbeddings: false, clipQKV: nil, attentionBias: true, mlpBias: true)
    }
}

/// Random parameters: matrices ~ N(0, scale²), norm weights ~ 1 + N(0, 0.1²), biases ~ N(0, 0.1²).
func randomParams(_ c: ModelConfig, seed: UInt64, scale: Float = 0.3) -> ParameterStore {
    var p = ParameterStore(config: c)
    var rng = TestRNG(seed)
    for s in p.slots {
        let isNormW = s.name.hasSuffix("norm.w")
        for i in 0..<s.count {
            let z = rng.normal()
            p.data[s.offset + i] = s.shape.count >= 2 ? z * scale : (isNormW ? 1 + 0.1 * z : 0.1 * z)
        }
    }
    return p
}

/// A network for `arch` (with per-memory coefficient multipliers for `.reluScaled`).
func testNetwork(_ arch: TestArch, seed: UInt64 = 1, vocab: Int = 23) -> Transformer {
    let c = testConfig(arch, vocab: vocab)
    var scale: [[Float]?] = Array(repeating: nil, count: c.numLayers)
    if arch == .reluScaled {
        var rng = TestRNG(seed &+ 99)
        scale[0] = (0..<c.intermediateSize).map { _ in 0.5 + rng.uniform() * 2 }
    }
    return Transformer(config: c, params: randomParams(c, seed: seed), multipliers: try! MemoryMultipliers(scale, config: c))
}

/// Random documents of the given lengths.
func randomDocs(_ lengths: [Int], vocab: Int, seed: UInt64) -> [[Int]] {
    var rng = TestRNG(seed)
    return lengths.map { n in (0..<n).map { _ in rng.int(vocab) } }
}

/// Alphabet of `charEncode`.
let charAlphabet = Array(" abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,'")

/// A character-level encoder (ids < 64; characters outside the alphabet map to 63).
/// Tokenising a prefix gives a prefix of the tokens, as probes require.
func charEncode(_ s: String) -> [Int] {
    s.map { ch in charAlphabet.firstIndex(of: ch) ?? 63 }
}

final class TrainingSupportTests: XCTestCase {
    /// The character encoder keeps prefixes (the probe rule depends on it).
    func testCharEncoderIsPrefixStable() {
        let a = charEncode("The capital of Zorbia is"), b = charEncode("The capital of Zorbia is Quil.")
        XCTAssertEqual(Array(b.prefix(a.count)), a)
        XCTAssertTrue(b.allSatisfy { $0 >= 0 && $0 < 63 })
    }
}
