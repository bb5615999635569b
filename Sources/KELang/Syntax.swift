import KECore

// MARK: Syntax helpers for the shell
//
// Whether a REPL line needs continuing, how a script splits into notebook chunks, and decoding
// of script files.

/// One piece of a script, for notebooks.
public enum ScriptChunk: Equatable, Sendable {
    /// A block of comment lines, with the leading "# " (or "#") removed from each line.
    case prose(String)
    /// One top-level statement: its exact source text and its first line.
    case code(String, line: Int)
}

/// Whether source text can run as it stands (see `Syntax.inputStatus`).
public enum InputStatus: String, Sendable {
    case complete, incomplete, invalid
}

/// Lexical questions about source text that do not run it.
public enum Syntax {
    /// True when the text so far has an unbalanced ( [ or { or an unterminated string, so a
    /// REPL should read another line. Any other lexical error returns false (running the text
    /// will report it).
    public static func needsContinuation(_ source: String) -> Bool {
        var scanner = Scanner(source)
        do {
            _ = try scanner.scan()
            return !scanner.openBrackets.isEmpty
        } catch {
            return scanner.unterminatedString
        }
    }

    /// What a notebook front end should do with `source` (Jupyter's `is_complete`): incomplete
    /// when `needsContinuation` says so (the shell's rule for continuation lines), invalid when
    /// another lexical error makes it unrunnable as it stands, else complete.
    public static func inputStatus(_ source: String) -> InputStatus {
        if needsContinuation(source) { return .incomplete }
        var scanner = Scanner(source)
        do { _ = try scanner.scan() } catch { return .invalid }
        return .complete
    }

    /// Splits a script into prose (runs of comment lines that stand on their own lines, outside
    /// any statement; a blank line ends a run) and code (each top-level statement's exact
    /// source text and first line), in order. Text that cannot be scanned becomes one code
    /// chunk from the first statement not yet emitted to the end.
    public static func chunks(_ source: String) -> [ScriptChunk] {
        var scanner = Scanner(source)
        let scalars = Array(source.unicodeScalars)
        func text(_ a: Int, _ b: Int) -> String {
            String(String.UnicodeScalarView(scalars[max(0, a)..<min(scalars.count, max(a, b))]))
        }
        let tokens: [Token]
        var failed = false
        do { tokens = try scanner.scan() } catch {
            tokens = scanner.tokens
            failed = true
        }
        var out: [ScriptChunk] = []
        var prose: [String] = []
        var proseLastLine = -1
        func flushProse() {
            if !prose.isEmpty { out.append(.prose(prose.joined(separator: "\n"))) }
            prose = []
        }
        var comments = scanner.comments[...]
        var statementStart: Token?
        var statementEnd = 0
        var braces = 0

        func takeComments(before offset: Int) {
            while let c = comments.first, c.start < offset {
                comments.removeFirst()
                guard statementStart == nil, c.ownLine else { continue }
                if c.position.line > proseLastLine + 1 { flushProse() }
                var t = c.text
                if t.hasPrefix(" ") { t.removeFirst() }
                prose.append(t)
                proseLastLine = c.position.line
            }
        }

        for t in tokens {
            takeComments(before: t.start)
            switch t.kind {
            case .newline, .semicolon, .eof:
                if braces == 0, let s = statementStart {
                    out.append(.code(text(s.start, statementEnd), line: s.position.line))
                    statementStart = nil
                }
                if t.kind == .newline && statementStart == nil {
                    // A blank line (two newlines in a row) ends a prose run.
                    if proseLastLine >= 0 && t.position.line > proseLastLine { flushProse(); proseLastLine = -1 }
                }
                if t.kind == .eof { takeComments(before: Int.max) }
            default:
                if statementStart == nil {
                    flushProse()
                    proseLastLine = -1
                    statementStart = t
                }
                if t.kind == .leftBrace { braces += 1 }
                if t.kind == .rightBrace { braces = max(0, braces - 1) }
                statementEnd = t.end
            }
        }
        if failed {
            takeComments(before: Int.max)
            flushProse()
            let start = statementStart?.start ?? (tokens.last(where: { $0.kind != .eof })?.end ?? 0)
            let rest = text(start, scalars.count)
            if !rest.allSatisfy({ $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }) {
                let line = statementStart?.position.line ?? (1 + scalars[..<min(start, scalars.count)].filter { $0 == "\n" }.count)
                out.append(.code(rest.trimmingWhitespace(), line: line))
            }
            return out
        }
        flushProse()
        return out
    }

    /// Decodes a script file, or explains where it is not valid UTF-8 (`decodeUTF8`).
    public static func decode(_ bytes: [UInt8]) -> Result<String, ScriptDecodingError> {
        Result { () throws(InvalidUTF8) -> String in try decodeUTF8(bytes) }
    }
}

/// A script file that is not valid UTF-8: the byte offset and line of the first invalid sequence.
public typealias ScriptDecodingError = InvalidUTF8

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\n" || f == "\t" || f == "\r\n" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\n" || l == "\t" || l == "\r\n" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
