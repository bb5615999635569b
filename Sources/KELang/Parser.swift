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

/// Parses tokens into statements.
struct Parser {
    /// Deepest nesting of expressions and blocks accepted.
    static let maxDepth = 256

    private var tokens: [Token]
    private var current = 0
    private var depth = 0
    /// Names defined so far (session variables, then each `let` and loop variable).
    private(set) var known: Set<String>
    /// Keywords of the commands whose arguments are being parsed, innermost last.
    private var activeKeywords: [Set<String>] = []
    /// The command whose arguments ended most recently (for "not a keyword of" messages).
    private var lastCommand: (Command, end: Int)?

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

    private var peek: Token { tokens[min(current, tokens.count - 1)] }
    private func peek(_ k: Int) -> Token { tokens[min(current + k, tokens.count - 1)] }
    private var previous: Token { tokens[max(0, min(current - 1, tokens.count - 1))] }
    private func check(_ kind: TokenKind) -> Bool { peek.kind == kind }
    @discardableResult private mutating func advance() -> Token {
        let t = peek
        if current < tokens.count - 1 { current += 1 }
        return t
    }
    private mutating func match(_ kind: TokenKind) -> Bool {
        if check(kind) { advance(); return true }
        return false
    }
    private mutating func skipSeparators() {
        while check(.newline) || check(.semicolon) { advance() }
    }
    private mutating func skipNewlines() {
        while check(.newline) { advance() }
    }

    /// Runs `body` one nesting level deeper, refusing absurd nesting.
    private mutating func nested<T>(_ body: (inout Parser) throws -> T) throws -> T {
        depth += 1
        defer { depth -= 1 }
        if depth > Parser.maxDepth {
            // Reported at the token that opened the level (a bracket, an operator, a keyword).
            throw LangError("too deeply nested (more than \(Parser.maxDepth) levels)", at: previous.position)
        }
        return try body(&self)
    }

    /// True when `token` can begin an expression.
    private func startsExpression(_ token: Token) -> Bool {
        switch token.kind {
        case .number, .percent, .string, .identifier, .leftParen, .leftBracket, .kwTrue, .kwFalse, .minus, .kwNot:
            return true
        default:
            return false
        }
    }

    /// True when `token` is a word that is a keyword of the innermost command being parsed.
    private func isActiveKeyword(_ token: Token) -> Bool {
        guard let w = token.identifier, let top = activeKeywords.last else { return false }
        return top.contains(w)
    }

    /// True when `token` begins an argument value: an expression start that is not a keyword
    /// of the command — unless it is also a variable (`plot x` with a variable named `x`).
    private func startsArgument(_ token: Token) -> Bool {
        guard startsExpression(token) else { return false }
        guard isActiveKeyword(token), let w = token.identifier else { return true }
        return known.contains(w)
    }

    // MARK: Statements

    private mutating func statement() throws -> Stmt {
        if match(.kwLet) { return try letStatement() }
        if match(.kwFor) { return try forStatement() }
        if match(.kwIf) { return try ifStatement() }
        if check(.kwElse) {
            throw LangError("'else' without 'if': it must follow the '}' of an 'if' on the same line", at: peek.position)
        }
        return .expression(try expression())
    }

    private mutating func endOfStatement(inBlock: Bool) throws {
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
    private func variableName(_ t: Token, after what: String) throws -> String {
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

    private mutating func name(after what: String) throws -> (String, SourcePosition) {
        let t = peek
        let n = try variableName(t, after: what)
        advance()
        return (n, t.position)
    }

    private mutating func letStatement() throws -> Stmt {
        let (n, position) = try name(after: "let")
        guard match(.equal) else {
            throw LangError("expected '=' after 'let \(n)', found \(peek.kind.display)", at: peek.position)
        }
        let value = try expression()
        known.insert(n)
        return .binding(name: n, position: position, value: value)
    }

    private mutating func forStatement() throws -> Stmt {
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
    private mutating func ifStatement() throws -> Stmt {
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
    private mutating func block(_ what: String) throws -> [Stmt] {
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

    // MARK: Expressions

    mutating func expression() throws -> Expr {
        try or()
    }

    private mutating func or() throws -> Expr {
        var left = try and()
        while check(.kwOr) {
            let op = advance()
            let right = try and()
            left = Expr(kind: .logical(left, isAnd: false, right), position: op.position)
        }
        return left
    }

    private mutating func and() throws -> Expr {
        var left = try notExpression()
        while check(.kwAnd) {
            let op = advance()
            let right = try notExpression()
            left = Expr(kind: .logical(left, isAnd: true, right), position: op.position)
        }
        return left
    }

    private mutating func notExpression() throws -> Expr {
        if check(.kwNot) {
            let op = advance()
            let operand = try nested { try $0.notExpression() }
            return Expr(kind: .not(operand), position: op.position)
        }
        return try comparison()
    }

    private static let comparisons: [TokenKind: BinaryOperator] = [
        .equalEqual: .equal, .bangEqual: .notEqual, .less: .less, .lessEqual: .lessEqual,
        .greater: .greater, .greaterEqual: .greaterEqual,
    ]

    private mutating func comparison() throws -> Expr {
        let left = try additive()
        guard let op = Parser.comparisons[peek.kind] else { return left }
        let opToken = advance()
        let right = try additive()
        if Parser.comparisons[peek.kind] != nil {
            throw LangError("comparisons cannot be chained; combine them with 'and'", at: peek.position)
        }
        return Expr(kind: .binary(left, op, right), position: opToken.position)
    }

    private mutating func additive() throws -> Expr {
        var left = try term()
        while check(.plus) || check(.minus) {
            let opToken = advance()
            let right = try term()
            left = Expr(kind: .binary(left, opToken.kind == .plus ? .add : .subtract, right), position: opToken.position)
        }
        return left
    }

    private mutating func term() throws -> Expr {
        var left = try unary()
        while check(.star) || check(.slash) {
            let opToken = advance()
            let right = try unary()
            left = Expr(kind: .binary(left, opToken.kind == .star ? .multiply : .divide, right), position: opToken.position)
        }
        return left
    }

    private mutating func unary() throws -> Expr {
        if check(.minus) {
            let op = advance()
            let operand = try nested { try $0.unary() }
            return Expr(kind: .negate(operand), position: op.position)
        }
        return try postfix()
    }

    private mutating func postfix() throws -> Expr {
        var e = try primary()
        while true {
            if check(.dot) {
                advance()
                guard case .identifier(let field) = peek.kind else {
                    throw LangError("expected a field name after '.', found \(peek.kind.display)", at: peek.position)
                }
                let t = advance()
                e = Expr(kind: .member(e, field), position: t.position)
            } else if check(.leftBracket) && peek.start == previous.end {
                // `xs[i]` indexes; `f xs [1, 2]` (a space before '[') is a list of its own, the
                // next argument of a command such as `pearson XS YS`.
                let open = advance()
                activeKeywords.append([])
                let index = try nested { try $0.expression() }
                activeKeywords.removeLast()
                try close(.rightBracket, opened: open)
                e = Expr(kind: .index(e, index), position: open.position)
            } else {
                return e
            }
        }
    }

    /// Consumes the closing bracket matching `opened`, or reports what is wrong.
    private mutating func close(_ kind: TokenKind, opened: Token) throws {
        if match(kind) { return }
        if check(.eof) {
            throw LangError("unclosed \(opened.kind.display): expected \(kind.display)", at: opened.position)
        }
        throw LangError(
            "expected \(kind.display) to close \(opened.kind.display) at \(opened.position), found \(peek.kind.display)",
            at: peek.position)
    }

    private mutating func primary() throws -> Expr {
        let t = peek
        switch t.kind {
        case .number(let v):
            advance()
            return Expr(kind: .number(v), position: t.position)
        case .percent(let v):
            advance()
            return Expr(kind: .percent(v), position: t.position)
        case .string(let s):
            advance()
            return Expr(kind: .string(s), position: t.position)
        case .kwTrue, .kwFalse:
            advance()
            return Expr(kind: .bool(t.kind == .kwTrue), position: t.position)
        case .leftParen:
            advance()
            activeKeywords.append([])
            defer { activeKeywords.removeLast() }
            let inner = try nested { try $0.expression() }
            try close(.rightParen, opened: t)
            return inner
        case .leftBracket:
            advance()
            activeKeywords.append([])
            defer { activeKeywords.removeLast() }
            if let comprehension = try comprehension(opened: t) { return comprehension }
            var items: [Expr] = []
            while !check(.rightBracket) {
                if check(.eof) { break }
                items.append(try nested { try $0.expression() })
                if !match(.comma) { break }
            }
            if check(.kwFor) {
                throw LangError("a list comprehension has one expression before 'for': [EXPR for NAME in LIST]", at: peek.position)
            }
            try close(.rightBracket, opened: t)
            return Expr(kind: .list(items), position: t.position)
        case .identifier(let n):
            if let command = CommandRegistry.command(n) {
                return try commandCall(command)
            }
            if known.contains(n) {
                advance()
                return Expr(kind: .name(n), position: t.position)
            }
            throw unknownName(n, at: t)
        case .eof:
            throw LangError("expected an expression, found end of input", at: t.position)
        default:
            throw LangError("expected an expression, found \(t.kind.display)", at: t.position)
        }
    }

    /// `[EXPR for NAME in LIST]` after its '[' (`opened`), or nil (the parser untouched) when the
    /// brackets hold no `for` at their own level. NAME is known inside EXPR only.
    private mutating func comprehension(opened: Token) throws -> Expr? {
        // Look ahead for `for` at this bracket level, before the matching ']'.
        var level = 0
        var k = current
        var forIndex: Int?
        scan: while k < tokens.count {
            switch tokens[k].kind {
            case .leftParen, .leftBracket, .leftBrace: level += 1
            case .rightParen, .rightBracket, .rightBrace:
                if level == 0 { break scan }
                level -= 1
            case .kwFor where level == 0:
                forIndex = k
                break scan
            case .eof: break scan
            default: break
            }
            k += 1
        }
        guard let forIndex else { return nil }
        guard forIndex > current else {
            throw LangError("a list comprehension needs an expression before 'for': [EXPR for NAME in LIST]", at: peek.position)
        }
        let nameToken = tokens[min(forIndex + 1, tokens.count - 1)]
        let n = try variableName(nameToken, after: "for")
        let wasKnown = known.contains(n)
        known.insert(n)
        let element = try nested { try $0.expression() }
        if !wasKnown { known.remove(n) }
        guard check(.kwFor) else {
            if check(.comma) {
                throw LangError("a list comprehension has one expression before 'for': [EXPR for NAME in LIST]", at: peek.position)
            }
            throw LangError("expected 'for' in the list comprehension, found \(peek.kind.display)", at: peek.position)
        }
        advance()
        advance()  // NAME, checked above
        guard match(.kwIn) else {
            throw LangError("expected 'in' after 'for \(n)', found \(peek.kind.display)", at: peek.position)
        }
        let sequence = try nested { try $0.expression() }
        try close(.rightBracket, opened: opened)
        return Expr(kind: .comprehension(element: element, name: n, namePosition: nameToken.position, sequence: sequence),
                    position: opened.position)
    }

    /// The error for a name that is neither a variable nor a command.
    private func unknownName(_ n: String, at t: Token) -> LangError {
        let next = peek(1)
        let commands = CommandRegistry.all.map(\.name)
        if startsExpression(next), next.kind != .minus, next.kind != .kwNot, !isActiveKeyword(next) {
            // `NAME argument …`: this was meant as a command.
            return LangError("unknown command '\(n)'" + Diagnostics.suggestion(n, in: commands), at: t.position)
        }
        let candidates = Array(known) + commands + Array(reservedWords.keys)
        return LangError("unknown name '\(n)'" + Diagnostics.suggestion(n, in: candidates.sorted()), at: t.position)
    }

    // MARK: Commands

    private mutating func commandCall(_ command: Command) throws -> Expr {
        let word = advance()
        let keywords = Set(command.params.compactMap(\.keyword))
        activeKeywords.append(keywords)
        defer { activeKeywords.removeLast() }
        var arguments: [String: Argument] = [:]

        for param in command.params where param.keyword == nil {
            switch param.kind {
            case .word:
                if case .identifier(let w) = peek.kind, !keywords.contains(w) {
                    let wt = advance()
                    arguments[param.key] = .word(w, wt.position)
                } else if !param.optional {
                    throw missing(param, of: command)
                }
            case .value, .flag:
                let present = startsArgument(peek)
                if !present {
                    if param.optional { continue }
                    throw missing(param, of: command)
                }
                let e = try nested { p in command.form == .prefix ? try p.unary() : try p.expression() }
                arguments[param.key] = .expression(e)
            }
        }

        while case .identifier(let w) = peek.kind, let param = command.param(keyword: w) {
            let kt = advance()
            if arguments[param.key] != nil {
                throw LangError("'\(w)' given twice to '\(command.name)'", at: kt.position)
            }
            if param.kind == .flag {
                arguments[param.key] = .flag(kt.position)
                continue
            }
            guard startsArgument(peek) else {
                throw LangError(
                    "'\(w)' needs a value (\(param.placeholder)) — usage: \(command.synopsis)", at: peek.position)
            }
            arguments[param.key] = .expression(try nested { try $0.expression() })
        }

        for param in command.params where param.keyword != nil && !param.optional && arguments[param.key] == nil {
            throw missing(param, of: command)
        }
        lastCommand = (command, current)
        return Expr(kind: .command(CommandCall(command: command, arguments: arguments)), position: word.position)
    }

    /// The error for a required parameter that is absent, at the current token.
    private func missing(_ param: Param, of command: Command) -> LangError {
        let what = param.keyword.map { "'\($0) \(param.placeholder)'" } ?? param.placeholder
        let found = peek.kind == .newline || peek.kind == .eof || peek.kind == .semicolon ? "" : ", found \(peek.kind.display)"
        var message = "'\(command.name)' needs \(what)\(found) — usage: \(command.synopsis)"
        if case .identifier(let w) = peek.kind, let near = Diagnostics.nearest(w, in: Array(command.params.compactMap(\.keyword))) {
            message = "unknown keyword '\(w)' for '\(command.name)' — did you mean '\(near)'?"
        }
        return LangError(message, at: peek.position)
    }
}
