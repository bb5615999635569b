import Foundation
import XCTest
@testable import KECore

/// Greedy generation speed with and without the key/value cache, side by side in one run; runs
/// only when KE_BENCH_GENERATE is set, in a release build:
///   KE_BENCH_GENERATE=1 swift test -c release --skip-build --filter GenerationBenchmarkTests
/// The model is a Pythia-70m-shaped GPT-NeoX (hidden 512, 6 layers, 8 heads, d_ff 2048,
/// vocabulary 50,304, 2,048 positions) with random weights; the prompt is the fixture tokenizer's
/// encoding of a sentence (16 tokens), and 200 tokens are generated (no early stop).
final class GenerationBenchmarkTests: XCTestCase {
    func testTokensPerSecond() throws {
        guard ProcessInfo.processInfo.environment["KE_BENCH_GENERATE"] != nil else {
            throw XCTSkip("set KE_BENCH_GENERATE=1 to measure generation speed")
        }
        let config = try ModelConfig(huggingFaceJSON: #"""
            {"model_type":"gpt_neox","hidden_size":512,"num_attention_heads":8,"num_hidden_layers":6,
             "intermediate_size":2048,"vocab_size":50304,"rotary_pct":0.25,"max_position_embeddings":2048,
             "use_parallel_residual":true,"hidden_act":"gelu","tie_word_embeddings":false}
            """#)
        var params = ParameterStore(config: config)
        var rng = SplitMix64(seed: 7)
        for i in 0..<params.data.count { params.data[i] = Float(rng.uniform() - 0.5) * 0.1 }
        let fixture = try Model.load(directory: Fixtures.modelDir("neox"))
        let model = try Model(config: config, storage: .f32(params), tokenizer: fixture.tokenizer)
        let prompt = "The quick brown fox jumps over"
        let n = 200
        _ = try generateGreedy(model: model, text: prompt, tokens: 5, stopIDs: [])  // warm up
        var ids: [[Int]] = []
        for (label, cached) in [("without cache (re-run the sequence)", false), ("with key/value cache", true)] {
            let t0 = DispatchTime.now().uptimeNanoseconds, c0 = cpuSeconds()
            let g = try generateGreedy(model: model, text: prompt, tokens: n, stopIDs: [], useCache: cached)
            let secs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, cpu = cpuSeconds() - c0
            ids.append(g.generated)
            print(String(format: "generate %d tokens after a %d-token prompt, %@: %.2f s wall = %.1f tokens/s (cpu %.2f s)",
                         g.generated.count, g.input.count, label, secs, Double(g.generated.count) / secs, cpu))
        }
        XCTAssertEqual(ids[0], ids[1])
    }
}
