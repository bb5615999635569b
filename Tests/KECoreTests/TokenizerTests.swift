import XCTest
import Foundation
@testable import KECore

/// Unit tests of the tokenizer stages; expected splits were recorded from HF `tokenizers` 0.23.
final class TokenizerTests: XCTestCase {
    static let dir = TokenizerParityTests.dir

    func strings(_ pieces: [Scalars]) -> [String] { pieces.map { String(scalars: $0) } }
    func scalars(_ s: String) -> Scalars { Array(s.unicodeScalars) }

    // MARK: Byte map and scanners

    func testByteMapIsGPT2() {
        let m = ByteLevelMap.byteToScalar
        XCTAssertEqual(Set(m.map { $0.value }).count, 256)
        XCTAssertEqual(m[32], "\u{120}")   // Ġ
        XCTAssertEqual(m[10], "\u{10A}")   // Ċ
        XCTAssertEqual(m[0], "\u{100}")
        XCTAssertEqual(m[0xAD], "\u{143}")
        for b in 33...126 { XCTAssertEqual(m[b].value, UInt32(b)) }
        for b in 0..<256 { XCTAssertEqual(ByteLevelMap.scalarToByte[m[b].value], UInt8(b)) }
    }

    func split(_ p: TextPattern, _ s: String) -> [String] {
        p.matches(in: scalars(s)).map { String(scalars: scalars(s)[$0.0]) }
    }

    func testGPT2Scanner() {
        XCTAssertEqual(split(.gpt2, "I'm  here\n"), ["I", "'m", " ", " here", "\n"])
        XCTAssertEqual(split(.gpt2, "it's WE'RE 12ab  \t x"), ["it", "'s", " WE", "'", "RE", " 12", "ab", "  \t", " x"])
        XCTAssertEqual(split(.gpt2, "a  "), ["a", "  "])
        XCTAssertEqual(split(.gpt2, " !? 3.5"), [" !?", " 3", ".", "5"])
    }

    func testCl100kScanner() {
        let p = TextPattern.cl100k(maxDigits: 3)
        XCTAssertEqual(split(p, "12345 x"), ["123", "45", " x"])
        XCTAssertEqual(split(p, "  \n\nfoo"), ["  \n\n", "foo"])
        XCTAssertEqual(split(p, "WE'RE $hi ..a"), ["WE", "'RE", " $", "hi", " ..", "a"])
        XCTAssertEqual(split(p, "x;\n\ny"), ["x", ";\n\n", "y"])
        XCTAssertEqual(split(.cl100k(maxDigits: 1), "123"), ["1", "2", "3"])
    }

    func testKnownRegexesUseScanners() throws {
        guard case .gpt2 = try TextPattern.regex(TextPattern.gpt2Source, what: "t", file: nil) else { return XCTFail() }
        guard case .cl100k(3) = try TextPattern.regex(TextPattern.llama3Source, what: "t", file: nil) else { return XCTFail() }
        guard case .regex = try TextPattern.regex(#"\d+"#, what: "t", file: nil) else { return XCTFail() }
    }

    func testRegexFallbackMatchesLikeScanner() throws {
        // Oniguruma runs the GPT-2 pattern too; it must agree with the hand-written scanner.
        let re = try TextPattern.onig(TextPattern.gpt2Source, what: "t", file: nil)
        for s in ["I'm  here\n", "héllo   wörld 42!!", "a\u{301}b 😀 x", "  ", "\t\n x"] {
            XCTAssertEqual(split(re, s), split(.gpt2, s), s.debugDescription)
        }
    }

    // MARK: Pre-tokenizers

    func testSplitBehaviorsMatchHF() {
        let p = TextPattern.literal(scalars("-"))
        let want: [(SplitBehavior, Bool, [String])] = [
            (.removed, false, ["a", "b", "c"]), (.removed, true, ["-", "-", "-", "-"]),
            (.isolated, false, ["a", "-", "b", "-", "-", "c", "-"]),
            (.mergedWithPrevious, false, ["a-", "b-", "-", "c-"]),
            (.mergedWithPrevious, true, ["a", "-b", "-", "-c", "-"]),
            (.mergedWithNext, false, ["a", "-b", "-", "-c", "-"]),
            (.mergedWithNext, true, ["a-", "b-", "-", "c-"]),
            (.contiguous, false, ["a", "-", "b", "--", "c", "-"]),
        ]
        for (b, invert, expected) in want {
            let pre = TokenPreTokenizer.split(p, b, invert: invert)
            XCTAssertEqual(strings(pre.apply([scalars("a-b--c-")])), expected, "\(b) invert \(invert)")
        }
    }

    func testDigitsWhitespaceMatchHF() {
        XCTAssertEqual(strings(TokenPreTokenizer.digits(individual: true).apply([scalars("ab12c3²x")])),
                       ["ab", "1", "2", "c", "3", "²", "x"])
        XCTAssertEqual(strings(TokenPreTokenizer.digits(individual: false).apply([scalars("ab12c3²x")])),
                       ["ab", "12", "c", "3²", "x"])
        XCTAssertEqual(strings(TokenPreTokenizer.whitespace.apply([scalars("héllo, wörld!! x_y \u{200D} a\u{301}")])),
                       ["héllo", ",", "wörld", "!!", "x_y", "\u{200D}", "a\u{301}"])
        XCTAssertEqual(strings(TokenPreTokenizer.whitespaceSplit.apply([scalars(" héllo, wörld!!\u{3000}x_y ")])),
                       ["héllo,", "wörld!!", "x_y"])
    }

    // MARK: Normalizers

    func testNormalizers() {
        XCTAssertEqual(TokenNormalizer.nfc.apply(scalars("e\u{301}\u{212B}")).map { $0.value }, [0xE9, 0xC5])
        XCTAssertEqual(TokenNormalizer.nfd.apply(scalars("é")).map { $0.value }, [0x65, 0x301])
        XCTAssertEqual(String(scalars: TokenNormalizer.lowercase.apply(scalars("ÀB c"))), "àb c")
        let llama = TokenNormalizer.sequence([.prepend(scalars("▁")), .replace(.literal(scalars(" ")), scalars("▁"))])
        XCTAssertEqual(String(scalars: llama.apply(scalars("a b"))), "▁a▁b")
        XCTAssertEqual(llama.apply([]), [])
    }

    // MARK: Vocabulary and decoding

    func testVocabularyLookupsAreExact() throws {
        let tok = try Tokenizer(vocabulary: ["[UNK]", "é", "e\u{301}", "x"])
        XCTAssertEqual(tok.id(of: "é"), 1)
        XCTAssertEqual(tok.id(of: "e\u{301}"), 2)  // canonically equivalent, still a different token
        XCTAssertEqual(tok.token(2).map { Array($0.unicodeScalars) }, ["e", "\u{301}"])
        XCTAssertEqual(tok.encode("é e\u{301} y"), [1, 2, 0])
    }

    func testByteLevelFixtureAPI() throws {
        let tok = try Tokenizer(contentsOf: Self.dir + "/bytelevel_bpe.json")
        XCTAssertEqual(tok.specialTokenIDs, [0, 502])
        XCTAssertFalse(tok.isWordLevel)
        XCTAssertEqual(tok.id(of: "<|endoftext|>"), 0)
        XCTAssertEqual(tok.token(0), "<|endoftext|>")
        XCTAssertNil(tok.token(-1))
        XCTAssertNil(tok.token(tok.vocabSize))
        let ids = tok.encode("hello<|endoftext|>world")
        XCTAssertTrue(ids.contains(0))
        XCTAssertEqual(tok.decode(ids), "hello<|endoftext|>world")
        XCTAssertEqual(tok.decode(ids, skipSpecialTokens: true), "helloworld")
        XCTAssertEqual(tok.decode(ids + [-5, 1 << 40]), "hello<|endoftext|>world")
        let pairs = tok.encodeWithTokens("hi there")
        XCTAssertEqual(pairs.map { $0.id }, tok.encode("hi there"))
        XCTAssertEqual(pairs.map { $0.token }.joined(), "hiĠthere")
        // The cache must not change results.
        XCTAssertEqual(tok.encode("hi there hi there"), tok.encode("hi there hi there"))
    }

    func testSaveRoundTrip() throws {
        let tok = try Tokenizer(contentsOf: Self.dir + "/llama3_split.json")
        let path = NSTemporaryDirectory() + "ke-tokenizer-\(getpid()).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try tok.save(to: path)
        let again = try Tokenizer(contentsOf: path)
        XCTAssertEqual(again.json, tok.json)
        let text = "Round trip: it's 2024, naïve 😀\n"
        XCTAssertEqual(again.encode(text), tok.encode(text))
    }

    // MARK: WordLevel builder

    func testWordLevelBuilder() throws {
        let tok = try Tokenizer(vocabulary: ["[UNK]", "[PAD]", "hello", ",", "world", "!"], specialTokens: ["[PAD]"])
        XCTAssertTrue(tok.isWordLevel)
        XCTAssertEqual(tok.vocabSize, 6)
        XCTAssertEqual(tok.encode("hello, world!"), [2, 3, 4, 5])
        XCTAssertEqual(tok.encode("hello there!!"), [2, 0, 0])
        XCTAssertEqual(tok.encode("x[PAD]hello"), [0, 1, 2])
        XCTAssertEqual(tok.decode([2, 3, 4]), "hello , world")
        XCTAssertEqual(tok.specialTokenIDs, [1])
        let split = try Tokenizer(vocabulary: ["<unk>", "hello,"], unkToken: "<unk>", splitPunctuation: false)
        XCTAssertEqual(split.encode("hello, hello"), [1, 0])
        XCTAssertThrowsError(try Tokenizer(vocabulary: ["a", "a", "[UNK]"]))
        XCTAssertThrowsError(try Tokenizer(vocabulary: ["a"]))
        XCTAssertThrowsError(try Tokenizer(vocabulary: ["a", "[UNK]"], specialTokens: ["<s>"]))
    }
}

/// The BPE word cache is shared; concurrent encoding must give the same ids as serial encoding.
final class TokenizerConcurrencyTests: XCTestCase {
    func testConcurrentEncodeMatchesSerial() throws {
        let tok = try Tokenizer(contentsOf: TokenizerParityTests.dir + "/llama3_split.json")
        let texts = (0..<64).map { i in "Document \(i): it's the \(i * 37)th test of naïve caching, 😀 \(String(repeating: "ab", count: i % 9))" }
        let serial = texts.map { tok.encode($0) }
        let fresh = try Tokenizer(contentsOf: TokenizerParityTests.dir + "/llama3_split.json")  // cold cache
        let results = ResultBox(count: texts.count)
        DispatchQueue.concurrentPerform(iterations: texts.count) { i in results.set(i, fresh.encode(texts[i])) }
        XCTAssertEqual(results.values, serial)
    }
}

/// Per-index results written from concurrent iterations (each index written once).
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [[Int]]
    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ i: Int, _ v: [Int]) { lock.lock(); values[i] = v; lock.unlock() }
}
