// MARK: Parser: expressions and command calls
//
// The expression levels of the grammar in Parser.swift, from `or` down to `primary`, list
// comprehensions, and the arguments of a registry command.

extension Parser {
    mutating func expression() throws -> Expr {
        try or()
    }

    /// One left-associative level of the grammar: `operand ( OP operand )*`, each operator
    /// token a key of `operators`, whose value builds the node (at the operator's position).
    mutating func leftAssociative(_ operators: [TokenKind: @Sendable (Expr, Expr) -> ExprKind],
                                  _ operand: (inout Parser) throws -> Expr) throws -> Expr {
        var left = try operand(&self)
        while let combine = operators[peek.kind] {
            let op = advance()
            let right = try operand(&self)
            left = Expr(kind: combine(left, right), position: op.position)
        }
        return left
    }

    static let orOperator: [TokenKind: @Sendable (Expr, Expr) -> ExprKind] = [.kwOr: { .logical($0, isAnd: false, $1) }]
    static let andOperator: [TokenKind: @Sendable (Expr, Expr) -> ExprKind] = [.kwAnd: { .logical($0, isAnd: true, $1) }]
    static let additiveOperators: [TokenKind: @Sendable (Expr, Expr) -> ExprKind] = [
        .plus: { .binary($0, .add, $1) }, .minus: { .binary($0, .subtract, $1) },
    ]
    static let termOperators: [TokenKind: @Sendable (Expr, Expr) -> ExprKind] = [
        .star: { .binary($0, .multiply, $1) }, .slash: { .binary($0, .divide, $1) },
    ]

    mutating func or() throws -> Expr { try leftAssociative(Parser.orOperator) { try $0.and() } }

    mutating func and() throws -> Expr { try leftAssociative(Parser.andOperator) { try $0.notExpression() } }

    /// One prefix level of the grammar: `OP level | next`, the operand parsed one nesting deeper
    /// and `make` building the node (at the operator's position).
    mutating func prefixed(_ op: TokenKind, _ make: (Expr) -> ExprKind, _ level: (inout Parser) throws -> Expr,
                           else next: (inout Parser) throws -> Expr) throws -> Expr {
        guard check(op) else { return try next(&self) }
        let token = advance()
        let operand = try nested(level)
        return Expr(kind: make(operand), position: token.position)
    }

    mutating func notExpression() throws -> Expr {
        try prefixed(.kwNot, { .not($0) }, { try $0.notExpression() }, else: { try $0.comparison() })
    }

    static let comparisons: [TokenKind: BinaryOperator] = [
        .equalEqual: .equal, .bangEqual: .notEqual, .less: .less, .lessEqual: .lessEqual,
        .greater: .greater, .greaterEqual: .greaterEqual,
    ]

    mutating func comparison() throws -> Expr {
        let left = try additive()
        guard let op = Parser.comparisons[peek.kind] else { return left }
        let opToken = advance()
        let right = try additive()
        if Parser.comparisons[peek.kind] != nil {
            throw LangError("comparisons cannot be chained; combine them with 'and'", at: peek.position)
        }
        return Expr(kind: .binary(left, op, right), position: opToken.position)
    }

    mutating func additive() throws -> Expr { try leftAssociative(Parser.additiveOperators) { try $0.term() } }

    mutating func term() throws -> Expr { try leftAssociative(Parser.termOperators) { try $0.unary() } }

    mutating func unary() throws -> Expr {
        try prefixed(.minus, { .negate($0) }, { try $0.unary() }, else: { try $0.postfix() })
    }

    mutating func postfix() throws -> Expr {
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
    mutating func close(_ kind: TokenKind, opened: Token) throws {
        if match(kind) { return }
        if check(.eof) {
            throw LangError("unclosed \(opened.kind.display): expected \(kind.display)", at: opened.position)
        }
        throw LangError(
            "expected \(kind.display) to close \(opened.kind.display) at \(opened.position), found \(peek.kind.display)",
            at: peek.position)
    }

    mutating func primary() throws -> Expr {
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
    mutating func comprehension(opened: Token) throws -> Expr? {
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
    func unknownName(_ n: String, at t: Token) -> LangError {
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

    mutating func commandCall(_ command: Command) throws -> Expr {
        let word = advance()
        let keywords = Set(command.params.compactMap(\.keyword))
        activeKeywords.append(keywords)
        defer { activeKeywords.removeLast() }
        var arguments: [ArgumentKey: Argument] = [:]

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
    func missing(_ param: Param, of command: Command) -> LangError {
        let what = param.keyword.map { "'\($0) \(param.placeholder)'" } ?? param.placeholder
        let found = peek.kind == .newline || peek.kind == .eof || peek.kind == .semicolon ? "" : ", found \(peek.kind.display)"
        var message = "'\(command.name)' needs \(what)\(found) — usage: \(command.synopsis)"
        if case .identifier(let w) = peek.kind, let near = Diagnostics.nearest(w, in: Array(command.params.compactMap(\.keyword))) {
            message = "unknown keyword '\(w)' for '\(command.name)' — did you mean '\(near)'?"
        }
        return LangError(message, at: peek.position)
    }
}
