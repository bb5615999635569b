// MARK: Tokens
//
// The scanner turns source text into these. Positions are 1-based lines and columns counted in
// Unicode scalars, plus scalar offsets into the source so that statements can be cut out
// verbatim (notebook chunks).

/// A position in source text.
public struct SourcePosition: Sendable, Equatable, CustomStringConvertible {
    /// 1-based line.
    public var line: Int
    /// 1-based column, in Unicode scalars.
    public var column: Int
    public init(line: Int, column: Int) { self.line = line; self.column = column }
    public var description: String { "\(line):\(column)" }
}

/// What a token is.
enum TokenKind: Hashable, Sendable {
    case number(Double)
    /// A percent literal, already divided by 100 (`50%` → 0.5).
    case percent(Double)
    case string(String)
    case identifier(String)
    // Reserved words.
    case kwLet, kwFor, kwIn, kwIf, kwElse, kwTrue, kwFalse, kwAnd, kwOr, kwNot
    // Punctuation and operators.
    case leftParen, rightParen, leftBracket, rightBracket, leftBrace, rightBrace
    case comma, dot, semicolon, equal
    case plus, minus, star, slash
    case equalEqual, bangEqual, less, lessEqual, greater, greaterEqual
    /// End of a line outside ( ) and [ ] (statement separator).
    case newline
    case eof
}

/// One token with its position and its span in the source (scalar offsets, end exclusive).
struct Token: Sendable {
    var kind: TokenKind
    var position: SourcePosition
    var start: Int
    var end: Int

    /// The identifier text, if this is an identifier.
    var identifier: String? { if case .identifier(let s) = kind { return s }; return nil }
}

/// Reserved words of the language (not usable as names).
let reservedWords: [String: TokenKind] = [
    "let": .kwLet, "for": .kwFor, "in": .kwIn, "if": .kwIf, "else": .kwElse, "true": .kwTrue, "false": .kwFalse,
    "and": .kwAnd, "or": .kwOr, "not": .kwNot,
]

extension TokenKind {
    /// How the token reads in an error message ("'+'", "a number", "end of line").
    var display: String {
        switch self {
        case .number, .percent: return "a number"
        case .string: return "a string"
        case .identifier(let s): return "'\(s)'"
        case .kwLet: return "'let'"
        case .kwFor: return "'for'"
        case .kwIn: return "'in'"
        case .kwIf: return "'if'"
        case .kwElse: return "'else'"
        case .kwTrue: return "'true'"
        case .kwFalse: return "'false'"
        case .kwAnd: return "'and'"
        case .kwOr: return "'or'"
        case .kwNot: return "'not'"
        case .leftParen: return "'('"
        case .rightParen: return "')'"
        case .leftBracket: return "'['"
        case .rightBracket: return "']'"
        case .leftBrace: return "'{'"
        case .rightBrace: return "'}'"
        case .comma: return "','"
        case .dot: return "'.'"
        case .semicolon: return "';'"
        case .equal: return "'='"
        case .plus: return "'+'"
        case .minus: return "'-'"
        case .star: return "'*'"
        case .slash: return "'/'"
        case .equalEqual: return "'=='"
        case .bangEqual: return "'!='"
        case .less: return "'<'"
        case .lessEqual: return "'<='"
        case .greater: return "'>'"
        case .greaterEqual: return "'>='"
        case .newline: return "end of line"
        case .eof: return "end of input"
        }
    }
}
