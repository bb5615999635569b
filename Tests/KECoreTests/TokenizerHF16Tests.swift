import XCTest
@testable import KECore

/// Issue 16: ke tokenises like HF `tokenizers` 0.23 on tokenizers built to expose each kind of
/// disagreement (added-token numbering, Oniguruma regex semantics, Unicode 16 tables,
/// post-processors), on 2,000 random strings over every general category, and on HF's class of
/// every code point. Fixtures: Scripts/fixtures/tokenizers_hf16.py → Tests/Fixtures/tokenizers/hf16/.
final class TokenizerHF16Tests: XCTestCase {
    static let dir = TokenizerParityTests.dir + "/hf16"

    static let expected: JSONValue? = {
        guard let bytes = try? readFileBytes(dir + "/expected.json") else { return nil }
        return try? JSONValue.parse(bytes: bytes)
    }()

    func expected() throws -> JSONValue { try XCTUnwrap(Self.expected, "hf16/expected.json") }

    func ints(_ j: JSONValue?) -> [Int] { j?.arrayValue?.compactMap { $0.intValue } ?? [] }
    func line(_ s: String) -> [Int] { s.split(separator: " ").compactMap { Int($0) } }
    func randomStrings() throws -> [String] {
        try XCTUnwrap(try expected()["random"]?.arrayValue).compactMap { $0.stringValue }
    }

    // MARK: Whole tokenizers

    func testEveryCaseTokenizerMatchesHF() throws {
        let tokenizers = try XCTUnwrap(try expected()["tokenizers"]?.objectValue)
        XCTAssertGreaterThanOrEqual(tokenizers.count, 20)
        for (name, spec) in tokenizers {
            let tok = try Tokenizer(contentsOf: Self.dir + "/\(name).json")
            XCTAssertEqual(tok.vocabSize, spec["vocab_size"]?.intValue, "\(name) vocab size")
            for (content, id) in spec["added"]?.objectValue ?? [] {
                XCTAssertEqual(tok.id(of: content), id.intValue, "\(name) id of added token \(content.debugDescription)")
            }
            var mismatches = 0
            for c in try XCTUnwrap(spec["cases"]?.arrayValue) {
                let parts = try XCTUnwrap(c.arrayValue)
                XCTAssertEqual(parts.count, 3)
                let text = try XCTUnwrap(parts[0].stringValue)
                let plain = tok.encode(text), special = tok.encode(text, addSpecialTokens: true)
                let want = ints(parts[1]), wantSpecial = ints(parts[2])
                if plain != want || special != wantSpecial {
                    mismatches += 1
                    XCTFail("\(name) \(text.debugDescription):\n got  \(plain) / \(special)\n want \(want) / \(wantSpecial)")
                }
            }
            XCTAssertEqual(mismatches, 0, name)
        }
    }

    func testAddedTokenNumberingFollowsHF() throws {
        // The issue's example: ids written as 322 and 326 (out of order) over a 321-entry vocabulary.
        let tok = try Tokenizer(contentsOf: Self.dir + "/added_gapped.json")
        XCTAssertEqual(tok.id(of: "<|tool|>"), 321)
        XCTAssertEqual(tok.id(of: "<|user|>"), 322)
        XCTAssertEqual(tok.encode("<|user|>hello<|tool|>"), [322, 323, 321])
        XCTAssertTrue(tok.specialTokenIDs.contains(321))
        XCTAssertFalse(tok.specialTokenIDs.contains(323))
        XCTAssertNoThrow(try tok.checkAddedTokens(fitEmbeddingRows: 329))
        XCTAssertThrowsError(try tok.checkAddedTokens(fitEmbeddingRows: 322, file: "t.json")) { e in
            let m = String(describing: e)
            XCTAssertTrue(m.contains("\"<|user|>\"") && m.contains("322") && m.contains("329") && m.contains("t.json"), m)
        }
    }

    // MARK: Random strings

    func testRandomStringsGiveHFIds() throws {
        let texts = try randomStrings()
        XCTAssertEqual(texts.count, 2000)
        for (name, lines) in try XCTUnwrap(try expected()["random_ids"]?.objectValue) {
            let tok = try Tokenizer(contentsOf: Self.dir + "/\(name).json")
            let want = try XCTUnwrap(lines.arrayValue).compactMap { $0.stringValue }
            assertSameIDs(tok, texts, want, name)
        }
    }

    func testRandomStringsGiveHFWords() throws {
        let texts = try randomStrings()
        let patterns: [String: String] = [
            "gpt2": TextPattern.gpt2Source, "llama3": TextPattern.llama3Source, "qwen2": TextPattern.qwen2Source,
            "classes": #"\p{L}+|\p{N}+|\s+|[^\s\p{L}\p{N}]+|\w|[[:punct:]]"#, "word": #"\w+"#,
            "punct": "[[:punct:]]+", "letters_dot": #"\p{L}+|."#, "punct_neg": "[[:^punct:]]+|[^[:punct:]x]",
            "punct_ascii": "(?P)[[:punct:]]+", "misc": #"(?i)ß|\b\w|\R|[[:xdigit:]]+|[[:upper:]]+|\d+|[[:graph:]]+"#,
        ]
        for (name, lines) in try XCTUnwrap(try expected()["random_words"]?.objectValue) {
            let pre: TokenPreTokenizer
            switch name {
            case "Whitespace": pre = .whitespace
            case "WhitespaceSplit": pre = .whitespaceSplit
            case "Digits": pre = .digits(individual: true)
            default:
                let source = try XCTUnwrap(patterns[name], name)
                pre = .split(try TextPattern.regex(source, what: "t", file: nil), .isolated, invert: false)
            }
            let pairs = name == "Whitespace" || name == "WhitespaceSplit"
            let want = try XCTUnwrap(lines.arrayValue).compactMap { $0.stringValue }
            var mismatches = 0
            for (t, w) in zip(texts, want) {
                let got = offsets(pre.apply([Array(t.unicodeScalars)]), in: Array(t.unicodeScalars), pairs: pairs)
                if got != line(w) {
                    mismatches += 1
                    if mismatches <= 5 { XCTFail("\(name) \(t.unicodeScalars.map { String($0.value, radix: 16) }): got \(got) want \(w)") }
                }
            }
            XCTAssertEqual(mismatches, 0, name)
        }
    }

    /// Word offsets as the fixture writes them: "start end" pairs, or the ends only.
    func offsets(_ words: [Scalars], in s: Scalars, pairs: Bool) -> [Int] {
        var out: [Int] = [], pos = 0
        for w in words {
            // Words come in order and never overlap: find each from the end of the previous one.
            var start = pos
            while start + w.count <= s.count && Array(s[start..<(start + w.count)]) != w { start += 1 }
            pos = start + w.count
            if pairs { out.append(start) }
            out.append(pos)
        }
        return out
    }

    func testExistingFixtureTokenizersOnRandomStrings() throws {
        let texts = try randomStrings()
        for (name, lines) in try XCTUnwrap(try expected()["existing"]?.objectValue) {
            let tok = try Tokenizer(contentsOf: TokenizerParityTests.dir + "/\(name).json")
            let want = try XCTUnwrap(lines.arrayValue).compactMap { $0.stringValue }
            XCTAssertEqual(want.count, 200)
            assertSameIDs(tok, texts, want, name)
        }
    }

    // MARK: Every code point

    /// HF's class of every code point (recorded from HF itself) against ke's `CharClass`.
    func testCharClassesMatchHFOnEveryCodePoint() throws {
        let classes = try XCTUnwrap(try expected()["classes"]?.objectValue)
        let ours: [String: (Unicode.Scalar) -> Bool] = [
            "L": CharClass.isLetter, "N": CharClass.isNumber, "s": CharClass.isSpace,
            "rust_w": CharClass.isWord, "rust_numeric": CharClass.isRustNumeric, "rust_whitespace": CharClass.isSpace,
        ]
        XCTAssertEqual(Set(classes.map { $0.0 }), Set(ours.keys))
        for (name, ranges) in classes {
            var member = [Bool](repeating: false, count: 0x110000)
            for r in try XCTUnwrap(ranges.arrayValue) {
                let pair = ints(r)
                XCTAssertEqual(pair.count, 2)
                let lo = pair[0], hi = pair[1]
                for v in lo...hi { member[v] = true }
            }
            let f = try XCTUnwrap(ours[name])
            var wrong: [String] = []
            for v in 0..<0x110000 {
                guard let u = Unicode.Scalar(UInt32(v)) else { continue }
                if f(u) != member[v] { wrong.append(String(v, radix: 16)) }
            }
            XCTAssertEqual(wrong.count, 0, "\(name): \(wrong.prefix(20))")
        }
    }

    /// The hand-written scanners classify with `CharClass`; Oniguruma (with its Unicode 16
    /// stand-ins) must classify every code point the same way, so the scanners are exact fast paths.
    func testOnigurumaClassesMatchCharClassOnEveryCodePoint() throws {
        let points = (0..<UInt32(0x110000)).compactMap { Unicode.Scalar($0) }
        for (pattern, f) in [(#"\p{L}"#, CharClass.isLetter), (#"\p{N}"#, CharClass.isNumber), (#"\s"#, CharClass.isSpace)]
            as [(String, (Unicode.Scalar) -> Bool)] {
            let re = try OnigPattern(pattern)
            var wrong: [String] = []
            // Chunks keep each search's text small.
            var start = 0
            while start < points.count {
                let chunk = Array(points[start..<min(points.count, start + 8192)])
                var member = [Bool](repeating: false, count: chunk.count)
                XCTAssertTrue(re.forEachMatch(in: chunk) { r in for k in r { member[k] = true } })
                for (k, u) in chunk.enumerated() where member[k] != f(u) { wrong.append(String(u.value, radix: 16)) }
                start += 8192
            }
            XCTAssertEqual(wrong.count, 0, "\(pattern): \(wrong.prefix(20))")
        }
    }

    /// The scanners against Oniguruma on 20,000 seeded random strings mixing the contractions,
    /// spaces, line breaks and digits the patterns care about with scalars of every plane.
    func testScannersMatchOnigurumaOnRandomCorpus() throws {
        var rng = SplitMix(seed: 16)
        let glue: [String] = ["'s", "'S", "'ll", "'LL", "'re", "'ſ", " ", "  ", "\n", "\r\n", "\t", "1", "123", "a", "Z", "!", ".", "_", "\u{A0}", "\u{3000}"]
        var texts: [String] = []
        for _ in 0..<20_000 {
            var s = ""
            for _ in 0..<Int(rng.next() % 10 + 1) {
                if rng.next() % 2 == 0 {
                    s += glue[Int(rng.next() % UInt64(glue.count))]
                } else {
                    // Planes 0-3 hold every assigned letter and number; plane 14 and private use too.
                    let v = UInt32(rng.next() % 3 == 0 ? rng.next() % 0x110000 : rng.next() % 0x40000)
                    if let u = Unicode.Scalar(v) { s.unicodeScalars.append(u) }
                }
            }
            texts.append(s)
        }
        texts += try randomStrings()
        for (fast, source) in [(TextPattern.gpt2, TextPattern.gpt2Source), (.cl100k(maxDigits: 3), TextPattern.llama3Source),
                               (.cl100k(maxDigits: 1), TextPattern.qwen2Source)] {
            let slow = try TextPattern.onig(source, what: "t", file: nil)
            var mismatches = 0
            for t in texts {
                let s = Array(t.unicodeScalars)
                let a = fast.matches(in: s).map { $0.0 }, b = slow.matches(in: s).map { $0.0 }
                if a != b {
                    mismatches += 1
                    if mismatches <= 5 { XCTFail("\(source.prefix(12)) \(s.map { String($0.value, radix: 16) }): \(a) vs \(b)") }
                }
            }
            XCTAssertEqual(mismatches, 0, source)
        }
    }

    // MARK: Oniguruma semantics

    func testOnigurumaSemanticsNotSwiftRegex() throws {
        func words(_ pattern: String, _ text: String) throws -> [String] {
            let p = try TextPattern.onig(pattern, what: "t", file: nil)
            let s = Array(text.unicodeScalars)
            return p.matches(in: s).filter { $0.1 }.map { String(scalars: s[$0.0]) }
        }
        XCTAssertEqual(try words(#"\h+"#, "cafe 12 xyz"), ["cafe", "12"])  // \h is a hex digit
        XCTAssertEqual(try words("[[:punct:]]+", "a$+b!"), ["$+", "!"])  // symbols too
        XCTAssertEqual(try words(#"\s+$"#, "a  \nb  "), ["  ", "  "])  // $ before each line break
        XCTAssertEqual(try words("^.", "ab\ncd"), ["a", "c"])  // ^ after each line break
        XCTAssertEqual(try words(".", "a\nb"), ["a", "b"])  // . never matches a line break
        XCTAssertEqual(try words("(?i)straße", "STRASSE"), ["STRASSE"])  // full case folding
        XCTAssertEqual(try words("", "ab"), ["", "", ""])  // an empty match at every position
    }

    func testBadRegexIsAnErrorNamingThePattern() {
        let json = #"{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"a(?<n"},"behavior":"Isolated"}}"#
        XCTAssertThrowsError(try Tokenizer(json: try JSONValue.parse(json), file: "x.json")) { e in
            let m = String(describing: e)
            XCTAssertTrue(m.contains("x.json") && m.contains(#""a(?<n""#), m)
        }
    }

    /// Every text encodes to its recorded ids (a line of them); the first 5 mismatches are shown.
    func assertSameIDs(_ tok: Tokenizer, _ texts: [String], _ want: [String], _ name: String,
                       file: StaticString = #filePath, line l: UInt = #line) {
        var mismatches = 0
        for (t, w) in zip(texts, want) where tok.encode(t) != line(w) {
            mismatches += 1
            if mismatches <= 5 {
                XCTFail("\(name) \(t.unicodeScalars.map { String($0.value, radix: 16) }): got \(tok.encode(t)) want \(w)", file: file, line: l)
            }
        }
        XCTAssertEqual(mismatches, 0, name, file: file, line: l)
    }
}
