import XCTest
@testable import KELang

final class ScannerTests: XCTestCase {
    private func kinds(_ source: String) throws -> [TokenKind] {
        var s = Scanner(source)
        return try s.scan().map(\.kind)
    }

    private func scanError(_ source: String) -> LangError? {
        var s = Scanner(source)
        do { _ = try s.scan(); return nil } catch { return error as? LangError }
    }

    func testNumbersPercentsAndStrings() throws {
        XCTAssertEqual(try kinds("3 2.5 1e-3 50% .5 7E2"), [
            .number(3), .number(2.5), .number(0.001), .percent(0.5), .number(0.5), .number(700), .eof,
        ])
        XCTAssertEqual(try kinds(#""a\"b\\c\n\u00e9\ud83d\ude00""#), [.string("a\"b\\c\né😀"), .eof])
    }

    func testWordsOperatorsAndNewlines() throws {
        XCTAssertEqual(try kinds("let x = not a and b or c in for true false"), [
            .kwLet, .identifier("x"), .equal, .kwNot, .identifier("a"), .kwAnd, .identifier("b"),
            .kwOr, .identifier("c"), .kwIn, .kwFor, .kwTrue, .kwFalse, .eof,
        ])
        XCTAssertEqual(try kinds("a == b != c < d <= e > f >= g + - * / . , ;"), [
            .identifier("a"), .equalEqual, .identifier("b"), .bangEqual, .identifier("c"), .less,
            .identifier("d"), .lessEqual, .identifier("e"), .greater, .identifier("f"), .greaterEqual,
            .identifier("g"), .plus, .minus, .star, .slash, .dot, .comma, .semicolon, .eof,
        ])
        // Newlines separate statements, except inside ( ) and [ ]; inside { } they still count.
        XCTAssertEqual(try kinds("a # comment\n(b\nc)\n[d,\ne]{\nf}"), [
            .identifier("a"), .newline, .leftParen, .identifier("b"), .identifier("c"), .rightParen,
            .newline, .leftBracket, .identifier("d"), .comma, .identifier("e"), .rightBracket,
            .leftBrace, .newline, .identifier("f"), .rightBrace, .eof,
        ])
    }

    func testPositions() throws {
        var s = Scanner("let x = 1\n  x + \"é\" + y")
        let tokens = try s.scan()
        let positions = tokens.map { "\($0.position)" }
        XCTAssertEqual(positions, ["1:1", "1:5", "1:7", "1:9", "1:10", "2:3", "2:5", "2:7", "2:11", "2:13", "2:14"])
    }

    func testLexicalErrors() {
        XCTAssertEqual(scanError("x = \"abc"), LangError("unterminated string", at: .init(line: 1, column: 5)))
        XCTAssertEqual(scanError("\"a\\q\""), LangError("invalid escape '\\q' in string", at: .init(line: 1, column: 3)))
        XCTAssertEqual(scanError("\"\\u12\""), LangError("invalid \\u escape: expected 4 hex digits", at: .init(line: 1, column: 2)))
        XCTAssertEqual(scanError("\"\\ud83d\""), LangError("unpaired surrogate in \\u escape", at: .init(line: 1, column: 2)))
        XCTAssertEqual(scanError("a ! b"), LangError("unexpected '!' — use 'not' for negation", at: .init(line: 1, column: 3)))
        XCTAssertEqual(scanError("a && b"), LangError("unexpected '&' — use 'and'", at: .init(line: 1, column: 3)))
        XCTAssertEqual(scanError("50 %"), LangError("'%' must follow a number directly, as in 50%", at: .init(line: 1, column: 4)))
        XCTAssertEqual(scanError("3x"), LangError("invalid number '3x'", at: .init(line: 1, column: 1)))
        XCTAssertEqual(scanError("1e999"), LangError("number '1e999' is too large", at: .init(line: 1, column: 1)))
        XCTAssertEqual(scanError("'s'"), LangError("strings use double quotes: \"…\"", at: .init(line: 1, column: 1)))
        XCTAssertEqual(scanError("a @"), LangError("unexpected character '@'", at: .init(line: 1, column: 3)))
    }
}
