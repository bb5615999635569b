// MARK: Scanner
//
// Source text → tokens. Newlines separate statements, except inside ( ) and [ ] where they are
// ignored (so argument lists and lists may span lines); inside { } they still separate the
// statements of a block. `#` starts a comment to the end of the line; comments are kept aside
// (with their positions) for notebook chunking.

/// A comment found while scanning: its text after `#`, and where the `#` was.
struct Comment: Sendable {
    var text: String
    var position: SourcePosition
    /// Scalar offsets of the whole comment (including `#`), end exclusive.
    var start: Int
    var end: Int
    /// True when only white space precedes it on its line.
    var ownLine: Bool
}

/// Turns source text into tokens.
struct Scanner {
    let scalars: [Unicode.Scalar]
    let firstLine: Int
    private(set) var tokens: [Token] = []
    private(set) var comments: [Comment] = []
    /// Open brackets, innermost last: "(", "[" or "{".
    private(set) var openBrackets: [Unicode.Scalar] = []
    /// Set when the text ends inside a string literal.
    private(set) var unterminatedString = false

    private var pos = 0
    private var line: Int
    private var lineStart = 0

    init(_ source: String, firstLine: Int = 1) {
        self.scalars = Array(source.unicodeScalars)
        self.firstLine = firstLine
        self.line = firstLine
    }

    /// Scans everything; throws the first lexical error.
    mutating func scan() throws -> [Token] {
        while true {
            let t = try next()
            tokens.append(t)
            if t.kind == .eof { return tokens }
        }
    }

    // MARK: Helpers

    private var here: SourcePosition { SourcePosition(line: line, column: pos - lineStart + 1) }
    private func position(at offset: Int) -> SourcePosition {
        SourcePosition(line: line, column: offset - lineStart + 1)
    }
    private func peek(_ k: Int = 0) -> Unicode.Scalar? {
        pos + k < scalars.count ? scalars[pos + k] : nil
    }
    private static func isDigit(_ u: Unicode.Scalar?) -> Bool {
        guard let u else { return false }
        return u.value >= 0x30 && u.value <= 0x39
    }
    private static func isIdentStart(_ u: Unicode.Scalar) -> Bool {
        u == "_" || u.properties.isAlphabetic
    }
    private static func isIdentContinue(_ u: Unicode.Scalar) -> Bool {
        isIdentStart(u) || isDigit(u)
    }

    // MARK: Tokens

    private mutating func next() throws -> Token {
        if let newline = skipBlanksAndComments() { return newline }
        let start = pos
        let p = here
        guard let c = peek() else {
            return Token(kind: .eof, position: p, start: pos, end: pos)
        }
        func make(_ kind: TokenKind, length: Int = 1) -> Token {
            pos = start + length
            return Token(kind: kind, position: p, start: start, end: start + length)
        }
        if Scanner.isDigit(c) || (c == "." && Scanner.isDigit(peek(1))) {
            return try number()
        }
        if c == "\"" { return try string() }
        if Scanner.isIdentStart(c) {
            while let d = peek(), Scanner.isIdentContinue(d) { pos += 1 }
            let word = String(String.UnicodeScalarView(scalars[start..<pos]))
            let kind = reservedWords[word] ?? .identifier(word)
            return Token(kind: kind, position: p, start: start, end: pos)
        }
        switch c {
        case "(":
            openBrackets.append("(")
            return make(.leftParen)
        case "[":
            openBrackets.append("[")
            return make(.leftBracket)
        case "{":
            openBrackets.append("{")
            return make(.leftBrace)
        case ")", "]", "}":
            let opener: Unicode.Scalar = c == ")" ? "(" : c == "]" ? "[" : "{"
            if openBrackets.last == opener { openBrackets.removeLast() }
            return make(c == ")" ? .rightParen : c == "]" ? .rightBracket : .rightBrace)
        case ",": return make(.comma)
        case ".": return make(.dot)
        case ";": return make(.semicolon)
        case "+": return make(.plus)
        case "-": return make(.minus)
        case "*": return make(.star)
        case "/": return make(.slash)
        case "=": return peek(1) == "=" ? make(.equalEqual, length: 2) : make(.equal)
        case "<": return peek(1) == "=" ? make(.lessEqual, length: 2) : make(.less)
        case ">": return peek(1) == "=" ? make(.greaterEqual, length: 2) : make(.greater)
        case "!":
            if peek(1) == "=" { return make(.bangEqual, length: 2) }
            throw LangError("unexpected '!' — use 'not' for negation", at: p)
        case "&":
            throw LangError("unexpected '&' — use 'and'", at: p)
        case "|":
            throw LangError("unexpected '|' — use 'or'", at: p)
        case "%":
            throw LangError("'%' must follow a number directly, as in 50%", at: p)
        case "'":
            throw LangError("strings use double quotes: \"…\"", at: p)
        default:
            let shown = c.value < 0x20 || c.value == 0x7F
                ? "U+" + String(c.value, radix: 16, uppercase: true)
                : "'\(Character(c))'"
            throw LangError("unexpected character \(shown)", at: p)
        }
    }

    /// Skips blanks and comments (keeping each comment in `comments`) up to the next token.
    /// Returns the newline token when a line ends outside ( ) and [ ] (inside them a line break
    /// is blank), nil when the next token is anything else.
    private mutating func skipBlanksAndComments() -> Token? {
        while let c = peek() {
            if c == " " || c == "\t" || c == "\r" || c == "\u{FEFF}" { pos += 1; continue }
            if c == "#" {
                let start = pos
                let p = here
                var ownLine = true
                for u in scalars[lineStart..<pos] where !(u == " " || u == "\t" || u == "\u{FEFF}") {
                    ownLine = false
                    break
                }
                while let d = peek(), d != "\n" { pos += 1 }
                var text = String(String.UnicodeScalarView(scalars[(start + 1)..<pos]))
                if text.hasSuffix("\r") { text.removeLast() }
                comments.append(Comment(text: text, position: p, start: start, end: pos, ownLine: ownLine))
                continue
            }
            if c == "\n" {
                let start = pos
                let p = here
                pos += 1
                line += 1
                lineStart = pos
                if let top = openBrackets.last, top != "{" { continue }
                return Token(kind: .newline, position: p, start: start, end: start + 1)
            }
            break
        }
        return nil
    }

    private mutating func number() throws -> Token {
        let start = pos
        let p = here
        while Scanner.isDigit(peek()) { pos += 1 }
        if peek() == ".", Scanner.isDigit(peek(1)) {
            pos += 1
            while Scanner.isDigit(peek()) { pos += 1 }
        }
        if peek() == "e" || peek() == "E" {
            var k = 1
            if peek(1) == "+" || peek(1) == "-" { k = 2 }
            if Scanner.isDigit(peek(k)) {
                pos += k
                while Scanner.isDigit(peek()) { pos += 1 }
            }
        }
        let text = String(String.UnicodeScalarView(scalars[start..<pos]))
        guard let value = Double(text) else {
            throw LangError("invalid number '\(text)'", at: p)
        }
        guard value.isFinite else {
            throw LangError("number '\(text)' is too large", at: p)
        }
        if let u = peek(), Scanner.isIdentStart(u) {
            // `3x`, `1e` and the like: a number glued to a word is a typo, not two tokens.
            var end = pos
            while end < scalars.count, Scanner.isIdentContinue(scalars[end]) { end += 1 }
            let word = String(String.UnicodeScalarView(scalars[start..<end]))
            throw LangError("invalid number '\(word)'", at: p)
        }
        if peek() == "%" {
            pos += 1
            return Token(kind: .percent(value / 100), position: p, start: start, end: pos)
        }
        return Token(kind: .number(value), position: p, start: start, end: pos)
    }

    private mutating func string() throws -> Token {
        let start = pos
        let p = here
        pos += 1
        var out = String.UnicodeScalarView()
        while true {
            guard let c = peek() else {
                unterminatedString = true
                throw LangError("unterminated string", at: p)
            }
            pos += 1
            if c == "\"" { break }
            if c == "\n" {
                line += 1
                lineStart = pos
                out.append(c)
                continue
            }
            if c != "\\" { out.append(c); continue }
            let escapePosition = position(at: pos - 1)
            guard let e = peek() else {
                unterminatedString = true
                throw LangError("unterminated string", at: p)
            }
            pos += 1
            switch e {
            case "\"": out.append("\"")
            case "\\": out.append("\\")
            case "/": out.append("/")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "u":
                var scalar = try hex4(escapePosition)
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard peek() == "\\", peek(1) == "u" else {
                        throw LangError("unpaired surrogate in \\u escape", at: escapePosition)
                    }
                    pos += 2
                    let low = try hex4(escapePosition)
                    guard low >= 0xDC00 && low < 0xE000 else {
                        throw LangError("unpaired surrogate in \\u escape", at: escapePosition)
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw LangError("unpaired surrogate in \\u escape", at: escapePosition)
                }
                guard let u = Unicode.Scalar(scalar) else {
                    throw LangError("invalid \\u escape", at: escapePosition)
                }
                out.append(u)
            default:
                throw LangError("invalid escape '\\\(Character(e))' in string", at: escapePosition)
            }
        }
        return Token(kind: .string(String(out)), position: p, start: start, end: pos)
    }

    private mutating func hex4(_ at: SourcePosition) throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let c = peek() else { throw LangError("invalid \\u escape: expected 4 hex digits", at: at) }
            let d: UInt32
            switch c.value {
            case 0x30...0x39: d = c.value - 0x30
            case 0x41...0x46: d = c.value - 0x41 + 10
            case 0x61...0x66: d = c.value - 0x61 + 10
            default: throw LangError("invalid \\u escape: expected 4 hex digits", at: at)
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }
}
