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

    /// `load "DIR" tokenizer "FILE"`: an OLMo-trainer folder with the tokenizer given by hand
    /// (its own tokenizer.json is gone), with and without bf16, then entropy and save.
    func testLoadWithExplicitTokenizer() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ke-tok-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir + "/native", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for f in ["config.yaml", "model.pt"] {
            try FileManager.default.copyItem(atPath: "Tests/Fixtures/formats/olmo_native/" + f, toPath: dir + "/native/" + f)
        }
        let tok = "Tests/Fixtures/models/olmo/tokenizer.json"
        let c = "let c = corpus \"Tests/Fixtures/corpus.txt\"\n"
        let reference = runKE(c + "(entropy (load \"Tests/Fixtures/formats/olmo_native\") on c).total")
        XCTAssertTrue(reference.ok, reference.errors.joined(separator: "\n"))
        // The fixture is stored in f32, so bf16 rounds it: compared with the bf16 load of the original.
        let referenceBF16 = runKE(c + "(entropy (load \"Tests/Fixtures/formats/olmo_native\" bf16) on c).total")
        for options in ["tokenizer \"\(tok)\"", "tokenizer \"\(tok)\" bf16", "bf16 tokenizer \"\(tok)\""] {
            let r = runKE(c + "(entropy (load \"\(dir)/native\" \(options)) on c).total")
            XCTAssertTrue(r.ok, "\(options): \(r.errors.joined(separator: "\n"))")
            XCTAssertEqual(r.outputs, options.contains("bf16") ? referenceBF16.outputs : reference.outputs, options)
        }
        let saved = runKE("save (load \"\(dir)/native\" tokenizer \"\(tok)\") to \"\(dir)/hf\"\n" + c
                          + "(entropy (load \"\(dir)/hf\") on c).total")
        XCTAssertTrue(saved.ok, saved.errors.joined(separator: "\n"))
        XCTAssertEqual(saved.outputs.last, reference.outputs.last)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/hf")), ["config.json", "model.safetensors", "tokenizer.json"])
        // A GGUF file and a series take the clause too.
        let g = runKE("tokenize (load \"Tests/Fixtures/formats/gguf/llama_Q4_0.gguf\" tokenizer \"\(tok)\") \"Hi\"")
        XCTAssertTrue(g.ok, g.errors.joined(separator: "\n"))
        let s = runKE("len (checkpoints \"Tests/Fixtures/series\" tokenizer \"Tests/Fixtures/models/olmo\")")
        XCTAssertEqual(s.outputs, ["5"], s.errors.joined(separator: "\n"))
    }

    func testExplicitTokenizerErrors() {
        var r = runKE("load \"Tests/Fixtures/formats/olmo_native\" tokenizer \"/nonexistent/tokenizer.json\"")
        XCTAssertEqual(r.firstError, "t.ke:1:1: error: /nonexistent/tokenizer.json: no such tokenizer file")
        r = runKE("load \"Tests/Fixtures/formats/olmo_native\" bf16 tokenizer \"Tests/Fixtures/chat/tokenizer.json\"")
        XCTAssertTrue(r.firstError?.hasPrefix("t.ke:1:1: error: Tests/Fixtures/chat/tokenizer.json: ") ?? false, r.firstError ?? "")
        XCTAssertTrue(r.firstError?.contains("384 rows") ?? false, r.firstError ?? "")
        r = runKE("load \"tiny\" tokenizer \"Tests/Fixtures/models/olmo/tokenizer.json\"")
        XCTAssertEqual(r.firstError, "t.ke:1:23: error: 'tokenizer' is for model directories and GGUF files; the built-in models have their own tokenizer")
        r = runKE("checkpoints \"Tests/Fixtures/series\" tokenizer \"/nonexistent.json\"")
        XCTAssertEqual(r.firstError, "t.ke:1:47: error: /nonexistent.json: no such tokenizer file")
        r = runKE("load \"Tests/Fixtures/formats/olmo_native\" tokenizer 3")
        XCTAssertEqual(r.firstError, "t.ke:1:53: error: 'load … tokenizer' expected a string, found a number")
    }
}
