import Foundation
import XCTest
@testable import KELang

/// `load` and `checkpoints` given a path that is not what they take: the error says what to give.
final class LoadErrorLangTests: XCTestCase {
    /// A weights file given to `load` is a file, not the model's folder.
    func testLoadAWeightsFile() {
        assertError("load \"Tests/Fixtures/models/gpt2/model.safetensors\"",
                    "1:1: error: Tests/Fixtures/models/gpt2/model.safetensors: is a file, not a model folder: `load` takes the model's folder "
                    + "(the directory holding config.json and the weights) or a .gguf file; here: load \"Tests/Fixtures/models/gpt2\"")
        let r = runKE("load \"Tests/Fixtures/formats/olmo_native/model.pt\"")
        XCTAssertTrue(r.firstError?.hasPrefix("t.ke:1:1: error: Tests/Fixtures/formats/olmo_native/model.pt: is a file, not a model folder") ?? false,
                      r.firstError ?? "")
    }

    /// Empty paths are refused at the argument.
    func testEmptyPaths() {
        assertError("let m = load \"\"", "1:14: error: 'load' needs a model folder or a .gguf file, found an empty path")
        assertError("load \"Tests/Fixtures/formats/olmo_native\" tokenizer \"\"",
                    "1:53: error: 'load … tokenizer' needs a tokenizer.json, or a folder holding one, found an empty path")
        assertError("checkpoints \"\"", "1:13: error: 'checkpoints' needs hf://ORG/NAME or a directory of checkpoint folders, found an empty path")
        assertError("load \"hf://o/n\" cache \"\"", "1:23: error: 'load … cache' needs the hub cache folder, found an empty path")
        assertError("checkpoints \"Tests/Fixtures/series\" tokenizer \"\"",
                    "1:47: error: 'checkpoints … tokenizer' needs a tokenizer.json, or a folder holding one, found an empty path")
    }

    /// `tokenizer` given a GGUF file says it takes a tokenizer.json.
    func testTokenizerGivenAGGUF() {
        let gguf = "Tests/Fixtures/formats/gguf/llama_Q8_0.gguf"
        let r = runKE("load \"Tests/Fixtures/formats/olmo_native\" tokenizer \"\(gguf)\"")
        XCTAssertTrue(r.firstError?.hasPrefix("t.ke:1:1: error: \(gguf): is a GGUF file: `tokenizer` takes a tokenizer.json (or a folder holding one), not a GGUF") ?? false,
                      r.firstError ?? "")
        let s = runKE("checkpoints \"Tests/Fixtures/series\" tokenizer \"\(gguf)\"")
        XCTAssertTrue(s.firstError?.hasPrefix("t.ke:1:47: error: \(gguf): is a GGUF file") ?? false, s.firstError ?? "")
    }

    /// `help checkpoints` says which folders count as checkpoints.
    func testCheckpointsHelpNamesBothConfigs() {
        let summary = CommandRegistry.spec("checkpoints")?.summary ?? ""
        XCTAssertTrue(summary.contains("with a config.json, or an OLMo-trainer checkpoint with config.yaml and model.safetensors or model.pt"), summary)
        XCTAssertFalse(summary.contains("Only config.json is read"), summary)
    }
}
