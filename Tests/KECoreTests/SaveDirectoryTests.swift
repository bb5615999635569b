import Foundation
import XCTest
@testable import KECore

/// `save` carries the source directory's non-weight files over (Tests/Fixtures/chat, made by
/// Scripts/fixtures/chat.py); `Scripts/verify-saved.py` checks the same copy in transformers.
final class SaveDirectoryTests: XCTestCase {
    let chat = Fixtures.root + "/chat"

    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "ke-save-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    func testNonWeightFilesAreCopiedByteForByte() throws {
        let out = try tempDir() + "/saved"
        try Model.load(directory: chat).save(to: out)
        let copied = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                      "chat_template.jinja", "README.md", "LICENSE"]
        for name in copied {
            XCTAssertEqual(try readFileBytes(out + "/" + name), try readFileBytes(chat + "/" + name), name)
        }
        let names = Set(try directoryEntries(out))
        XCTAssertEqual(names, Set(try carriedOverFiles(of: chat) + ["config.json", "model.safetensors"]))
        // The copy loads again with the same settings.
        let again = try Model.load(directory: out)
        XCTAssertEqual(again.directoryInfo?.eosTokenIDs, [0, 385])
    }

    func testUnknownConfigKeysAreKept() throws {
        let out = try tempDir() + "/saved"
        try Model.load(directory: chat).save(to: out)
        let source = try JSONValue.parse(bytes: readFileBytes(chat + "/config.json"))
        let saved = try JSONValue.parse(bytes: readFileBytes(out + "/config.json"))
        XCTAssertEqual(saved["ke_fixture_note"]?.stringValue, "an extra key that ke must keep")
        for (key, value) in source.objectValue ?? [] where key != "dtype" && key != "torch_dtype" {
            XCTAssertEqual(saved[key], value, key)
        }
        XCTAssertEqual(saved["dtype"]?.stringValue, "float32")
    }

    func testWeightFilesAreNotCopied() throws {
        let src = try tempDir() + "/src"
        try FileManager.default.copyItem(atPath: chat, toPath: src)
        let weights = ["pytorch_model.bin", "consolidated.00.pth", "model.gguf", "optimizer.pt", "tf_model.h5",
                       "model-00001-of-00002.safetensors", "pytorch_model.bin.index.json", "training_args.bin"]
        for name in weights { try writeFileBytes([1, 2, 3], to: src + "/" + name) }
        try FileManager.default.createDirectory(atPath: src + "/original", withIntermediateDirectories: false)
        try writeFileBytes([1], to: src + "/original/params.json")
        try writeFileBytes([1], to: src + "/.hidden")
        let model = try Model.load(directory: src)
        let out = try tempDir() + "/saved"
        try model.save(to: out)
        let names = Set(try directoryEntries(out))
        for name in weights + ["original", ".hidden"] { XCTAssertFalse(names.contains(name), name) }
        XCTAssertTrue(names.contains("model.safetensors"))
        XCTAssertTrue(names.contains("chat_template.jinja"))
        for name in weights { XCTAssertTrue(isWeightFile(name), name) }
        for name in ["tokenizer_config.json", "chat_template.json", "README.md", "added_tokens.json"] {
            XCTAssertFalse(isWeightFile(name), name)
        }
    }

    func testSavingOverTheSourceKeepsItsFiles() throws {
        let src = try tempDir() + "/src"
        try FileManager.default.copyItem(atPath: chat, toPath: src)
        let template = try readFileBytes(src + "/chat_template.jinja")
        let model = try Model.load(directory: src)
        try model.with(addingIntervention: "noted").save(to: src, force: true)
        XCTAssertEqual(try readFileBytes(src + "/chat_template.jinja"), template)
        XCTAssertFalse(try directoryEntries(src).contains(where: { $0.contains("ke-tmp") || $0.contains("ke-old") }))
    }

    func testEOSIDsFollowTransformersOrder() throws {
        let src = try tempDir() + "/src"
        try FileManager.default.copyItem(atPath: chat, toPath: src)
        XCTAssertEqual(try Model.load(directory: src).directoryInfo?.eosSource, "generation_config.json")
        try FileManager.default.removeItem(atPath: src + "/generation_config.json")
        let fromTokenizer = try Model.load(directory: src).directoryInfo
        XCTAssertEqual(fromTokenizer?.eosTokenIDs, [385])
        XCTAssertEqual(fromTokenizer?.eosSource, "tokenizer_config.json")
        try FileManager.default.removeItem(atPath: src + "/tokenizer_config.json")
        XCTAssertEqual(try Model.load(directory: src).directoryInfo?.eosTokenIDs, [0, 385])  // config.json
        try writeFileBytes(Array(#"{"eos_token_id": "x"}"#.utf8), to: src + "/generation_config.json")
        XCTAssertThrowsError(try Model.load(directory: src)) { e in
            XCTAssertTrue("\(e)".hasPrefix(src + "/generation_config.json: "), "\(e)")
        }
        try writeFileBytes(Array(#"{"eos_token_id": [1, 100000]}"#.utf8), to: src + "/generation_config.json")
        XCTAssertEqual(try Model.load(directory: src).directoryInfo?.eosTokenIDs, [1])
        try writeFileBytes(Array("{".utf8), to: src + "/generation_config.json")
        XCTAssertThrowsError(try Model.load(directory: src)) { e in
            XCTAssertTrue("\(e)".contains("not valid JSON"), "\(e)")
        }
    }
    /// A sums file written into a folder that does not exist: the error names the folder, not a
    /// temporary file, and nothing is created.
    func testSumsWriteIntoAMissingFolderNamesIt() throws {
        let model = try Model.load(directory: Fixtures.modelDir("olmo"))
        let corpus = try Corpus.load(path: Fixtures.root + "/corpus.txt", tokenizer: model.tokenizer)
        let s = try coefficientSums(of: model, on: corpus, shard: 0, of: 1)
        let root = try makeTempDir(self)
        assertNamedError(root + "/missing", "parent directory does not exist") { try s.write(to: root + "/missing/x.safetensors") }
        XCTAssertEqual(try directoryEntries(root), [])
    }

}
