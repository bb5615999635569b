import XCTest
@testable import KECore

/// The SentencePiece (`tokenizer.ggml.model = "llama"`) tokenizer of a GGUF file gives the ids
/// and decodings transformers gives after building its tokenizer from the same file
/// (`AutoTokenizer.from_pretrained(dir, gguf_file=…)`). Fixtures:
/// Scripts/fixtures/gguf_tokenizers.py → Tests/Fixtures/formats/gguf_tokenizers/.
final class GGUFTokenizerTests: XCTestCase {
    static let dir = Fixtures.root + "/formats/gguf_tokenizers"

    static let expected: JSONValue? = {
        guard let bytes = try? readFileBytes(dir + "/expected.json") else { return nil }
        return try? JSONValue.parse(bytes: bytes)
    }()

    func ints(_ j: JSONValue?) -> [Int] { j?.arrayValue?.compactMap { $0.intValue } ?? [] }

    func tokenizer(_ name: String) throws -> Tokenizer {
        let path = Self.dir + "/" + name
        return try Tokenizer(json: try ggufTokenizerJSON(try GGUFFile(path: path)), file: path)
    }

    // MARK: Parity with transformers

    /// Every recorded string of every fixture file: ids without and with special tokens, the
    /// decoded text (with and without special tokens), the vocabulary size and the added tokens.
    func testSentencePieceGGUFMatchesTransformers() throws {
        let files = try XCTUnwrap(Self.expected?.objectValue, "gguf_tokenizers/expected.json")
        XCTAssertEqual(files.count, 9)
        var compared = 0
        for (name, spec) in files {
            let tok = try tokenizer(name)
            XCTAssertEqual(tok.vocabSize, spec["vocab_size"]?.intValue, "\(name) vocab size")
            let added = try XCTUnwrap(spec["added"]?.objectValue)
            XCTAssertEqual(tok.addedTokens.count, added.count, "\(name) added tokens")
            for (content, id) in added {
                XCTAssertEqual(tok.id(of: content), id.intValue, "\(name) id of added token \(content.debugDescription)")
            }
            for c in try XCTUnwrap(spec["cases"]?.arrayValue) {
                let parts = try XCTUnwrap(c.arrayValue)
                XCTAssertEqual(parts.count, 5)
                let text = try XCTUnwrap(parts[0].stringValue)
                let plain = tok.encode(text), special = tok.encode(text, addSpecialTokens: true)
                XCTAssertEqual(plain, ints(parts[1]), "\(name) ids of \(text.debugDescription)")
                XCTAssertEqual(special, ints(parts[2]), "\(name) ids with special tokens of \(text.debugDescription)")
                XCTAssertEqual(tok.decode(ints(parts[1])), parts[3].stringValue, "\(name) decode of \(text.debugDescription)")
                XCTAssertEqual(tok.decode(ints(parts[2]), skipSpecialTokens: true), parts[4].stringValue,
                               "\(name) decode skipping specials of \(text.debugDescription)")
                compared += 1
            }
        }
        XCTAssertGreaterThanOrEqual(compared, 9 * 20)
    }

    /// The derived merges follow transformers' `generate_merges`: by score, then the lengths of
    /// the two halves (longer first), a token's own splits by the ids of their halves.
    func testDerivedMergeOrder() throws {
        var g = ReliabilityFormatsTests.GGUFBuilder()
        g.addString("general.architecture", "llama")
        g.addString("tokenizer.ggml.model", "llama")
        let tokens = ["<unk>", "a", "b", "c", "ab", "bc", "abc", "ca"]
        g.addStrings("tokenizer.ggml.tokens", tokens)
        g.addFloats("tokenizer.ggml.scores", [0, 0, 0, 0, -1, -1, -2, -1])
        let path = try makeTempDir(self) + "/t.gguf"
        try writeFileBytes(g.bytes(), to: path)
        let json = try ggufTokenizerJSON(try GGUFFile(path: path))
        let merges = try XCTUnwrap(json["model"]?["merges"]?.arrayValue).map { ($0.arrayValue ?? []).compactMap(\.stringValue) }
        // Score -1: ab, bc, ca (file order, all halves of length 1); score -2: abc as ab+c
        // (left half longer) before a+bc.
        XCTAssertEqual(merges, [["a", "b"], ["b", "c"], ["c", "a"], ["ab", "c"], ["a", "bc"]])
        XCTAssertEqual(json["pre_tokenizer"]?["type"]?.stringValue, "Metaspace")
        // Without token types or special ids: LlamaTokenizer's own specials; <s> </s> are new.
        let tok = try Tokenizer(json: json, file: path)
        XCTAssertEqual(tok.id(of: "<unk>"), 0)
        XCTAssertEqual(tok.id(of: "<s>"), 8)
        XCTAssertEqual(tok.id(of: "</s>"), 9)
    }

    /// Every `tokenizer.ggml.pre` variant transformers knows gets its split regex, which ke's
    /// regex engine accepts; a SentencePiece file with such a variant gets it too, as in
    /// transformers (`set_split_regex` runs whatever the model).
    func testEveryPreTokenizerSplitCompiles() throws {
        XCTAssertEqual(ggufPreTokenizerSplits.count, 23)
        for (model, pre) in [("gpt2", "default")] + ggufPreTokenizerSplits.keys.sorted().map({ ("gpt2", $0) }) + [("llama", "llama-bpe")] {
            var g = ReliabilityFormatsTests.GGUFBuilder()
            g.addString("tokenizer.ggml.model", model)
            g.addString("tokenizer.ggml.pre", pre)
            g.addStrings("tokenizer.ggml.tokens", ["<unk>", "a", "b", "ab"])
            g.addFloats("tokenizer.ggml.scores", [0, 0, 0, -1])
            let path = try makeTempDir(self) + "/t.gguf"
            try writeFileBytes(g.bytes(), to: path)
            let json = try ggufTokenizerJSON(try GGUFFile(path: path))
            let split = json["pre_tokenizer"]?["pretokenizers"]?.arrayValue?.first?["pattern"]?["Regex"]?.stringValue
            XCTAssertEqual(split, ggufPreTokenizerSplits[pre], "\(model) \(pre)")
            XCTAssertNoThrow(try Tokenizer(json: json, file: path), "\(model) \(pre)")
        }
    }

    // MARK: Malformed files

    func spmGGUF(_ edit: (inout ReliabilityFormatsTests.GGUFBuilder) -> Void) -> ReliabilityFormatsTests.GGUFBuilder {
        var g = ReliabilityFormatsTests.GGUFBuilder()
        g.addString("general.architecture", "llama")
        g.addString("tokenizer.ggml.model", "llama")
        edit(&g)
        return g
    }

    func assertTokenizerError(_ g: ReliabilityFormatsTests.GGUFBuilder, _ fragment: String, line: UInt = #line) throws {
        let path = try makeTempDir(self) + "/bad.gguf"
        try writeFileBytes(g.bytes(), to: path)
        assertNamedError(path, fragment, line: line) { _ = try ggufTokenizerJSON(try GGUFFile(path: path)) }
    }

    /// Missing or malformed token lists, scores, types and special ids are named errors.
    func testMalformedSentencePieceMetadataIsANamedError() throws {
        let tokens = ["<unk>", "<s>", "</s>", "<0x41>", "a", "b", "ab"]
        try assertTokenizerError(spmGGUF { _ in }, "missing tokenizer.ggml.tokens")
        try assertTokenizerError(spmGGUF { $0.addStrings("tokenizer.ggml.tokens", []) }, "tokenizer.ggml.tokens is empty")
        try assertTokenizerError(spmGGUF { $0.addStrings("tokenizer.ggml.tokens", tokens) }, "neither tokenizer.ggml.merges nor tokenizer.ggml.scores")
        try assertTokenizerError(spmGGUF {
            $0.addStrings("tokenizer.ggml.tokens", tokens)
            $0.addFloats("tokenizer.ggml.scores", [0, 0, 0])
        }, "tokenizer.ggml.scores has 3 entries for 7 tokens")
        try assertTokenizerError(spmGGUF {
            $0.addStrings("tokenizer.ggml.tokens", tokens)
            $0.addStrings("tokenizer.ggml.scores", tokens)
        }, "tokenizer.ggml.scores[0] is not a finite float")
        try assertTokenizerError(spmGGUF {
            $0.addStrings("tokenizer.ggml.tokens", tokens)
            $0.addString("tokenizer.ggml.scores", "x")
        }, "tokenizer.ggml.scores has no array for 7 tokens")
        try assertTokenizerError(spmGGUF {
            $0.addStrings("tokenizer.ggml.tokens", tokens)
            $0.addFloats("tokenizer.ggml.scores", [0, 0, 0, 0, 0, 0, .nan])
        }, "tokenizer.ggml.scores[6] is not a finite float")
        try assertTokenizerError(spmGGUF {
            $0.addStrings("tokenizer.ggml.tokens", ["<unk>", "<0x1FF>"])
            $0.addInt32s("tokenizer.ggml.token_type", [2, 6])
        }, "tokenizer.ggml.tokens[1] \"<0x1FF>\" is a byte token (type 6)")
        try assertTokenizerError(spmGGUF {
            $0.addStrings("tokenizer.ggml.tokens", ["<unk>", "a"])
            $0.addInt32s("tokenizer.ggml.token_type", [2])
        }, "tokenizer.ggml.token_type has 1 entries for 2 tokens")
        try assertTokenizerError(spmGGUF {
            $0.addStrings("tokenizer.ggml.tokens", ["<unk>", "a"])
            $0.addInt32s("tokenizer.ggml.token_type", [2, 9])
        }, "tokenizer.ggml.token_type[1] is not a token type")
        try assertTokenizerError(spmGGUF {
            $0.addStrings("tokenizer.ggml.tokens", ["<unk>", "a"])
            $0.addFloats("tokenizer.ggml.scores", [0, 0])
            $0.addU32("tokenizer.ggml.bos_token_id", 7)
        }, "tokenizer.ggml.bos_token_id is not a token id below 2")
        try assertTokenizerError(spmGGUF {
            $0.addStrings("tokenizer.ggml.tokens", ["<unk>", "a"])
            $0.addFloats("tokenizer.ggml.scores", [0, 0])
            $0.addU32("tokenizer.ggml.add_bos_token", 1)
        }, "tokenizer.ggml.add_bos_token is not a bool")
        try assertTokenizerError(spmGGUF {
            $0.addStrings("tokenizer.ggml.tokens", ["<unk>", "a"])
            $0.addStrings("tokenizer.ggml.merges", ["a"])
        }, "tokenizer.ggml.merges[0] 'a' is not two tokens")
        var t5 = ReliabilityFormatsTests.GGUFBuilder()
        t5.addString("tokenizer.ggml.model", "t5")
        try assertTokenizerError(t5, "tokenizer.ggml.model 't5' is not supported yet")
    }
}

extension ReliabilityFormatsTests.GGUFBuilder {
    /// An array of float32 values.
    mutating func addFloats(_ key: String, _ values: [Float]) {
        kv += Self.str(key) + Self.le(9, 4) + Self.le(6, 4) + Self.le(UInt64(values.count), 8)
        for v in values { kv += Self.le(UInt64(v.bitPattern), 4) }
        kvCount += 1
    }

    /// An array of int32 values.
    mutating func addInt32s(_ key: String, _ values: [Int32]) {
        kv += Self.str(key) + Self.le(9, 4) + Self.le(5, 4) + Self.le(UInt64(values.count), 8)
        for v in values { kv += Self.le(UInt64(UInt32(bitPattern: v)), 4) }
        kvCount += 1
    }

    /// A tokenizer-only GGUF is not a model: loading it as one says so.
    func testTokenizerOnlyFileIsNotAModel() throws {
        let path = Fixtures.root + "/formats/gguf_tokenizers/spm_llama.gguf"
        assertNamedError(path, "holds no tensors") { _ = try Model.load(gguf: path) }
    }
}
