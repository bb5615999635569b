import XCTest
@testable import KELang

/// `load` on every checkpoint format (issue 15): directories of PyTorch and OLMo-trainer
/// checkpoints, and GGUF files.
final class FormatsLangTests: XCTestCase {
    func testLoadEveryFormat() {
        for path in ["Tests/Fixtures/formats/olmo_bin", "Tests/Fixtures/formats/olmo_bin_sharded",
                     "Tests/Fixtures/formats/olmo_native", "Tests/Fixtures/formats/gguf/llama_Q4_0.gguf"] {
            let r = runKE("let m = load \"\(path)\"\n(perplexity m on corpus \"Tests/Fixtures/corpus.txt\" limit 1).loss")
            XCTAssertTrue(r.ok, "\(path): \(r.errors.joined(separator: "\n"))")
        }
        let bf16 = runKE("let m = load \"Tests/Fixtures/formats/gguf/llama_BF16.gguf\" bf16\nm")
        XCTAssertTrue(bf16.ok, bf16.errors.joined(separator: "\n"))
    }

    func testBadFilesNameTheFile() {
        var r = runKE("load \"Tests/Fixtures/formats/gguf/blocks.safetensors.gguf\"")
        XCTAssertFalse(r.ok)
        XCTAssertTrue(r.firstError?.contains("error: Tests/Fixtures/formats/gguf/blocks.safetensors.gguf: cannot open") ?? false, r.firstError ?? "")
        r = runKE("load \"Tests/Fixtures/formats/gguf/blocks.gguf\"")
        XCTAssertFalse(r.ok)
        XCTAssertTrue(r.firstError?.contains("error: Tests/Fixtures/formats/gguf/blocks.gguf: missing llama.embedding_length") ?? false, r.firstError ?? "")
    }
}
