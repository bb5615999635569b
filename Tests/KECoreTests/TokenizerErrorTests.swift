import XCTest
import Foundation
@testable import KECore

/// Malformed and unsupported tokenizer.json files must give a `CoreError` naming the file and
/// the problem, never a crash.
final class TokenizerErrorTests: XCTestCase {
    static let dir = TokenizerParityTests.dir

    /// A minimal valid byte-level BPE tokenizer.json, with `edit` applied to its JSON text.
    func minimal(model: String? = nil, extra: String = "") -> String {
        let m = model ?? #"{"type":"BPE","dropout":null,"unk_token":null,"vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}"#
        return #"{"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":null,"decoder":null,"model":"# + m + extra + "}"
    }

    /// Writes `text` to a temporary file and asserts that loading it fails with a message
    /// containing `needle` and naming the file.
    func assertFails(_ text: String, _ needle: String, line: UInt = #line) {
        let path = NSTemporaryDirectory() + "ke-badtok-\(getpid())-\(line).json"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)), line: line)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try Tokenizer(contentsOf: path)
            XCTFail("loaded a malformed tokenizer (expected: \(needle))", line: line)
        } catch let e as CoreError {
            XCTAssertEqual(e.file, path, line: line)
            XCTAssertTrue(e.message.contains(needle), "message \"\(e.message)\" lacks \"\(needle)\"", line: line)
        } catch {
            XCTFail("unexpected error \(error)", line: line)
        }
    }

    func testMinimalLoads() throws {
        let tok = try Tokenizer(json: try JSONValue.parse(minimal()))
        XCTAssertEqual(tok.encode("abba"), [2, 1, 0])
        XCTAssertEqual(tok.decode([2, 1]), "ab b")  // no decoder: tokens joined by spaces
    }

    func testSyntaxAndStructure() {
        assertFails("{\"model\": ", "not valid JSON")
        assertFails("not json at all", "not valid JSON")
        assertFails("[1, 2]", "not a JSON object")
        assertFails(#"{"version":"1.0"}"#, "no \"model\"")
        assertFails(minimal(model: #"{"vocab":{}}"#), "no \"type\"")
        assertFails(minimal(model: #"{"type":"Unigram","vocab":[]}"#), "unsupported tokenizer model \"Unigram\"")
        assertFails(minimal(model: #"{"type":"WordPiece","vocab":{}}"#), "\"WordPiece\"")
        assertFails(minimal(model: #"{"type":"BPE","merges":[]}"#), "no \"vocab\"")
        assertFails(minimal(model: #"{"type":"BPE","vocab":{"a":0}}"#), "no \"merges\"")
        assertFails(minimal(model: #"{"type":"WordLevel","vocab":[1]}"#), "no \"vocab\"")
    }

    func testBadVocabularyAndMerges() {
        assertFails(minimal(model: #"{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a c"]}"#), "\"c\", which is not in the vocabulary")
        assertFails(minimal(model: #"{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]}"#), "makes \"ab\"")
        assertFails(minimal(model: #"{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b c"]}"#), "not two tokens")
        assertFails(minimal(model: #"{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a"]]}"#), "neither")
        assertFails(minimal(model: #"{"type":"BPE","vocab":{"a":-1},"merges":[]}"#), "out of range")
        assertFails(minimal(model: #"{"type":"BPE","vocab":{"a":99999999999},"merges":[]}"#), "out of range")
        assertFails(minimal(model: #"{"type":"BPE","vocab":{"a":"x"},"merges":[]}"#), "non-integer id")
        assertFails(minimal(model: #"{"type":"BPE","vocab":{"a":0},"merges":[],"dropout":0.1}"#), "dropout")
        assertFails(minimal(model: #"{"type":"BPE","vocab":{"a":0},"merges":[],"unk_token":5}"#), "unk_token")
    }

    func testBadAddedTokens() {
        let m = #"{"type":"BPE","vocab":{"a":0},"merges":[]}"#
        assertFails(minimal(model: m).replacingOccurrences(of: #""added_tokens":[]"#, with: #""added_tokens":[{"id":-3,"content":"x"}]"#), "out of range")
        assertFails(minimal(model: m).replacingOccurrences(of: #""added_tokens":[]"#, with: #""added_tokens":[{"id":1}]"#), "no \"content\"")
        assertFails(minimal(model: m).replacingOccurrences(of: #""added_tokens":[]"#, with: #""added_tokens":[{"content":"x"}]"#), "no integer \"id\"")
        assertFails(minimal(model: m).replacingOccurrences(of: #""added_tokens":[]"#, with: #""added_tokens":{}"#), "not a list")
    }

    func testUnsupportedComponentsAreNamed() {
        let m = #"{"type":"BPE","vocab":{"a":0},"merges":[]}"#
        func with(_ key: String, _ value: String) -> String {
            minimal(model: m).replacingOccurrences(of: "\"\(key)\":null", with: "\"\(key)\":\(value)")
        }
        assertFails(with("normalizer", #"{"type":"NFKC"}"#), "normalizer \"NFKC\"")
        assertFails(with("normalizer", #"{"type":"Sequence","normalizers":[{"type":"BertNormalizer"}]}"#), "\"BertNormalizer\"")
        assertFails(with("pre_tokenizer", #"{"type":"BertPreTokenizer"}"#), "pre_tokenizer \"BertPreTokenizer\"")
        assertFails(with("pre_tokenizer", #"{"type":"Sequence","pretokenizers":[{"type":"Digits"},{"type":"Metaspace","prepend_scheme":"first"}]}"#), "only supported first")
        assertFails(with("pre_tokenizer", #"{"type":"Split","pattern":{"Regex":"(?<=a"},"behavior":"Isolated"}"#), "invalid regex \"(?<=a\"")
        assertFails(with("pre_tokenizer", #"{"type":"Split","pattern":{"String":"a"},"behavior":"Sideways"}"#), "behavior \"Sideways\"")
        assertFails(with("pre_tokenizer", #"{"type":"Split","behavior":"Isolated"}"#), "no pattern")
        assertFails(with("decoder", #"{"type":"WordPiece"}"#), "decoder \"WordPiece\"")
        assertFails(with("decoder", #"{"type":"Strip","content":"ab","start":1,"stop":0}"#), "one-character")
        assertFails(with("normalizer", #"{"kind":"NFC"}"#), "no \"type\"")
    }

    func testMissingFile() {
        XCTAssertThrowsError(try Tokenizer(contentsOf: "/nonexistent/tokenizer.json")) { e in
            XCTAssertEqual((e as? CoreError)?.file, "/nonexistent/tokenizer.json")
        }
    }

    // MARK: Fuzzing

    /// Random corruptions of a real tokenizer.json either fail to load with a `CoreError` or
    /// give a tokenizer that encodes and decodes without trapping.
    func testCorruptedFilesNeverCrash() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/bytelevel_bpe.json"))
        var rng = SplitMix(seed: 42)
        var loaded = 0, rejected = 0
        for _ in 0..<300 {
            var bytes = [UInt8](original)
            switch rng.next() % 3 {
            case 0: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            case 1:
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            default:
                let i = Int(rng.next() % UInt64(bytes.count))
                bytes.insert(contentsOf: Array("[{\"-1\"}]".utf8).shuffled(using: &rng), at: i)
            }
            do {
                let tok = try Tokenizer(json: try JSONValue.parse(bytes: bytes), file: "fuzz")
                let ids = tok.encode("Hello <|endoftext|> wörld 😀 it's 123")
                _ = tok.decode(ids + [-1, 7, 1 << 30])
                loaded += 1
            } catch is CoreError {
                rejected += 1
            } catch is JSONError {
                rejected += 1
            }
        }
        XCTAssertEqual(loaded + rejected, 300)
        XCTAssertGreaterThan(rejected, 0)
    }

    /// Random text (including unpaired surrogates replaced on decoding) and random ids.
    func testRandomTextAndIDs() throws {
        var rng = SplitMix(seed: 7)
        for name in ["bytelevel_bpe", "llama3_split", "sentencepiece_bpe", "wordlevel_whitespace"] {
            let tok = try Tokenizer(contentsOf: Self.dir + "/\(name).json")
            for _ in 0..<200 {
                let bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                let text = String(decoding: bytes, as: UTF8.self)
                let ids = tok.encode(text)
                XCTAssertTrue(ids.allSatisfy { $0 >= 0 && $0 < tok.vocabSize })
                if name != "wordlevel_whitespace" && name != "sentencepiece_bpe" {
                    XCTAssertEqual(tok.decode(ids), text, name)  // byte-level BPE is lossless
                }
                let randomIDs = (0..<Int(rng.next() % 16)).map { _ in Int(truncatingIfNeeded: rng.next()) % (tok.vocabSize + 10) }
                _ = tok.decode(randomIDs)
            }
        }
    }
}

/// A small deterministic generator for the fuzz tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
