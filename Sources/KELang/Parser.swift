// MARK: Parser
//
// Recursive descent over the scanner's tokens (Crafting Interpreters style), one method per
// precedence level:
//
//     statement  → "let" NAME "=" expression | "for" NAME "in" expression block
//                | "if" expression block ( "else" ( block | if-statement ) )? | expression
//     expression → or
//     or         → and ( "or" and )*
//     and        → not ( "and" not )*
//     not        → "not" not | comparison
//     comparison → additive ( ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) additive )?
//     additive   → term ( ( "+" | "-" ) term )*
//     term       → unary ( ( "*" | "/" ) unary )*
//     unary      → "-" unary | BUILTIN unary | postfix
//     postfix    → primary ( "." NAME | "[" expression "]" )*
//     primary    → NUMBER | PERCENT | STRING | "true" | "false" | "[" list "]"
//                | "[" expression "for" NAME "in" expression "]" | "(" expression ")"
//                | NAME | COMMAND arguments
//
// `else` must follow the `}` of its `if` on the same line (a line break ends the statement).
//
// Commands are dispatched through `CommandRegistry`: the command word, its positional
// arguments, then its keywords in any order. Arguments are full expressions; since keywords
// are plain words and not operators, a keyword of the command ends the argument before it.
// Names are resolved while parsing (the parser knows the session's variables and every `let`
// before the current point), so a typo is reported before anything runs.
//
// This file holds the parser's state, token helpers and statements; the expression levels and
// command calls are in Parser+Expressions.swift (so the parser's members are internal, not private).

/// Parses tokens into statements.
struct Parser {
    /// Deepest nesting of expressions and blocks accepted.
    static let maxDepth = 256

    var tokens: [Token]
    var current = 0
    var depth = 0
    /// Names defined so far (session variables, then each `let` and loop variable).
    var known: Set<String>
    /// Keywords of the commands whose arguments are being parsed, innermost last.
    var activeKeywords: [Set<String>] = []
    /// The command whose arguments ended most recently (for "not a keyword of" messages).
    var lastCommand: (Command, end: Int)?

    init(tokens: [Token], known: Set<String>) {
        self.tokens = tokens
        self.known = known
    }

    /// Parses a whole program.
    mutating func parseProgram() throws -> [Stmt] {
        var statements: [Stmt] = []
        skipSeparators()
        while !check(.eof) {
            statements.append(try statement())
            try endOfStatement(inBlock: false)
            skipSeparators()
        }
        return statements
    }

    // MARK: Token helpers

    var peek: Token { tokens[min(current, tokens.count - 1)] }
    func peek(_ k: Int) -> Token { tokens[min(current + k, tokens.count - 1)] }
    var previous: Token { tokens[max(0, min(current - 1, tokens.count - 1))] }
    func check(_ kind: TokenKind) -> Bool { peek.kind == kind }
    @discardableResult mutating func advance() -> Token {
        let t = peek
        if current < tokens.count - 1 { current += 1 }
        return t
    }
    mutating func match(_ kind: TokenKind) -> Bool {
        if check(kind) { advance(); return true }
        return false
    }
    mutating func skipSeparators() {
        while check(.newline) || check(.semicolon) { advance() }
    }
    mutating func skipNewlines() {
        while check(.newline) { advance() }
    }

    /// Runs `body` one nesting level deeper, refusing absurd nesting.
    mutating func nested<T>(_ body: (inout Parser) throws -> T) throws -> T {
        depth += 1
        defer { depth -= 1 }
        if depth > Parser.maxDepth {
            // Reported at the token that opened the level (a bracket, an operator, a keyword).
            throw LangError("too deeply nested (more than \(Parser.maxDepth) levels)", at: previous.position)
        }
        return try body(&self)
    }

    /// True when `token` can begin an expression.
    func startsExpression(_ token: Token) -> Bool {
        switch token.kind {
        case .number, .percent, .string, .identifier, .leftParen, .leftBracket, .kwTrue, .kwFalse, .minus, .kwNot:
            return true
        default:
            return false
        }
    }

    /// True when `token` is a word that is a keyword of the innermost command being parsed.
    func isActiveKeyword(_ token: Token) -> Bool {
        guard let w = token.identifier, let top = activeKeywords.last else { return false }
        return top.contains(w)
    }

    /// True when `token` begins an argument value: an expression start that is not a keyword
    /// of the command — unless it is also a variable (`plot x` with a variable named `x`).
    func startsArgument(_ token: Token) -> Bool {
        guard startsExpression(token) else { return false }
        guard isActiveKeyword(token), let w = token.identifier else { return true }
        return known.contains(w)
    }

    // MARK: Statements

    mutating func statement() throws -> Stmt {
        if match(.kwLet) { return try letStatement() }
        if match(.kwFor) { return try forStatement() }
        if match(.kwIf) { return try ifStatement() }
        if check(.kwElse) {
            throw LangError("'else' without 'if': it must follow the '}' of an 'if' on the same line", at: peek.position)
        }
        return .expression(try expression())
    }

    mutating func endOfStatement(inBlock: Bool) throws {
        switch peek.kind {
        case .newline, .semicolon, .eof: return
        case .rightBrace where inBlock: return
        case .equal:
            if case .identifier(let n) = previous.kind {
                throw LangError("use 'let \(n) = …' to give a name to a value", at: peek.position)
            }
            throw LangError("unexpected '='; use 'let NAME = …' to name a value", at: peek.position)
        case .rightParen, .rightBracket, .rightBrace:
            throw LangError("unbalanced \(peek.kind.display): nothing to close", at: peek.position)
        case .identifier(let w):
            // Right after a command's arguments: a misspelt or misplaced keyword.
            if let (command, end) = lastCommand, end == current {
                if let near = Diagnostics.nearest(w, in: command.params.compactMap(\.keyword)) {
                    throw LangError("unknown keyword '\(w)' for '\(command.name)' — did you mean '\(near)'?", at: peek.position)
                }
                if CommandRegistry.commands.contains(where: { $0.param(keyword: w) != nil }) {
                    throw LangError("'\(w)' is not a keyword of '\(command.name)' — usage: \(command.synopsis)", at: peek.position)
                }
            }
            throw LangError("expected end of statement, found \(peek.kind.display)", at: peek.position)
        default:
            throw LangError("expected end of statement, found \(peek.kind.display)", at: peek.position)
        }
    }

    /// The variable name `t` holds, or the error for a reserved word, a command or no name at all
    /// after `what` ("let", "for").
    func variableName(_ t: Token, after what: String) throws -> String {
        guard case .identifier(let n) = t.kind else {
            if reservedWords.values.contains(t.kind) {
                throw LangError("\(t.kind.display) is a reserved word and cannot be a name", at: t.position)
            }
            throw LangError("expected a name after '\(what)', found \(t.kind.display)", at: t.position)
        }
        if CommandRegistry.command(n) != nil {
            throw LangError("'\(n)' is a command and cannot be a variable name", at: t.position)
        }
        return n
    }

    mutating func name(after what: String) throws -> (String, SourcePosition) {
        let t = peek
        let n = try variableName(t, after: what)
        advance()
        return (n, t.position)
    }

    mutating func letStatement() throws -> Stmt {
        let (n, position) = try name(after: "let")
        guard match(.equal) else {
            throw LangError("expected '=' after 'let \(n)', found \(peek.kind.display)", at: peek.position)
        }
        let value = try expression()
        known.insert(n)
        return .binding(name: n, position: position, value: value)
    }

    mutating func forStatement() throws -> Stmt {
        let (n, position) = try name(after: "for")
        guard match(.kwIn) else {
            throw LangError("expected 'in' after 'for \(n)', found \(peek.kind.display)", at: peek.position)
        }
        let sequence = try expression()
        known.insert(n)
        let body = try block("the loop body")
        return .loop(name: n, position: position, sequence: sequence, body: body)
    }

    /// `if COND { … }`, optionally followed on the same line by `else { … }` or `else if …`.
    mutating func ifStatement() throws -> Stmt {
        if check(.leftBrace) || check(.newline) || check(.eof) {
            throw LangError("'if' needs a condition before '{' — usage: if COND { … } else { … }", at: peek.position)
        }
        let condition = try nested { try $0.expression() }
        let then = try block("the 'if' body")
        var otherwise: [Stmt] = []
        if match(.kwElse) {
            if match(.kwIf) {
                otherwise = [try nested { try $0.ifStatement() }]
            } else {
                otherwise = try block("the 'else' body")
            }
        } else if check(.newline), peek(1).kind == .kwElse {
            throw LangError("'else' must be on the same line as the '}' that ends the 'if' body", at: peek(1).position)
        }
        return .conditional(condition: condition, then: then, otherwise: otherwise)
    }

    /// `{ statement* }` (a line break may precede the `{`); `what` names it in errors.
    mutating func block(_ what: String) throws -> [Stmt] {
        skipNewlines()
        let open = peek
        guard match(.leftBrace) else {
            throw LangError("expected '{' to begin \(what), found \(peek.kind.display)", at: peek.position)
        }
        var body: [Stmt] = []
        skipSeparators()
        while !check(.rightBrace) {
            if check(.eof) { throw LangError("unclosed '{': expected '}' to end \(what)", at: open.position) }
            body.append(try nested { try $0.statement() })
            try endOfStatement(inBlock: true)
            skipSeparators()
        }
        advance()
        return body
    }
}
