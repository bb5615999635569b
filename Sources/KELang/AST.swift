// MARK: Syntax tree
//
// Statements and expressions as the parser builds them. Every node carries the position that
// errors about it are reported at (for binary operators: the operator; for commands: the word).

/// An expression with the position errors about it point to.
struct Expr: Sendable {
    var kind: ExprKind
    var position: SourcePosition
}

/// Binary arithmetic and comparison operators.
enum BinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/"
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
}

/// The kinds of expression.
indirect enum ExprKind: Sendable {
    case number(Double)
    /// A percent literal, as a fraction (`50%` → 0.5); kept apart for error messages.
    case percent(Double)
    case string(String)
    case bool(Bool)
    case list([Expr])
    /// A variable reference.
    case name(String)
    /// `e.field`
    case member(Expr, String)
    /// `e[i]`
    case index(Expr, Expr)
    /// `-e`
    case negate(Expr)
    /// `not e`
    case not(Expr)
    case binary(Expr, BinaryOperator, Expr)
    /// `a and b` (isAnd) or `a or b`, short-circuiting.
    case logical(Expr, isAnd: Bool, Expr)
    /// A command or builtin with its arguments.
    case command(CommandCall)
    /// `[element for name in sequence]`: the list of `element` with `name` bound to each item.
    case comprehension(element: Expr, name: String, namePosition: SourcePosition, sequence: Expr)
}

/// A call of a registry command: its name and arguments keyed by parameter key.
struct CommandCall: Sendable {
    /// The command the parser found (looked up once, when parsing).
    var command: Command
    var arguments: [ArgumentKey: Argument]
    /// The command word.
    var name: String { command.name }
}

/// One argument of a command call.
enum Argument: Sendable {
    /// An expression, evaluated when the command asks for it.
    case expression(Expr)
    /// A bare word (e.g. the topic of `help NAME`).
    case word(String, SourcePosition)
    /// A flag keyword that was present (e.g. `force`).
    case flag(SourcePosition)
}

/// A statement.
indirect enum Stmt: Sendable {
    /// `let NAME = EXPR`
    case binding(name: String, position: SourcePosition, value: Expr)
    /// An expression whose value is printed.
    case expression(Expr)
    /// `for NAME in EXPR { body }`
    case loop(name: String, position: SourcePosition, sequence: Expr, body: [Stmt])
    /// `if condition { then } else { otherwise }` (`otherwise` empty without `else`).
    case conditional(condition: Expr, then: [Stmt], otherwise: [Stmt])
}
