import Foundation
import KECore

// MARK: Interpreter
//
// Walks the syntax tree. One global environment (a `let` inside a loop body, and the loop
// variable, stay visible after the loop, as in Python). Every error is a `LangError` at the
// position of the node that caused it; `CoreError`s from the library are reported at the
// command that raised them.

/// Evaluates statements and expressions.
final class Interpreter {
    /// Longest list the language builds (`range`, concatenation).
    static let maxListLength = 10_000_000
    /// Deepest list nesting a value may have.
    static let maxValueDepth = 256

    var globals: [String: Value] = [:]
    var options: SessionOptions
    var progress: ProgressHandler?
    /// Prints the value of an expression statement.
    var emit: (Value, SourcePosition) throws -> Void = { _, _ in }
    /// Prints a warning or note about a command (on stderr): kind ("warning" or "note"), message,
    /// the command's position.
    var diagnose: (String, String, SourcePosition) -> Void = { _, _, _ in }
    /// The session's corpus passes, so that one (model, corpus) is measured once.
    let statisticsCache = StatisticsCache()

    init(options: SessionOptions) {
        self.options = options
    }

    // MARK: Statements

    func execute(_ statements: [Stmt]) throws {
        for s in statements { try execute(s) }
    }

    func execute(_ statement: Stmt) throws {
        switch statement {
        case .binding(let name, let position, let value):
            let v = try evaluate(value)
            // Ctrl-C while the value was computed (even at its very end): keep the old binding.
            if Cancellation.shared.isCancelled { throw LangError("interrupted", at: position) }
            globals[name] = v
        case .expression(let e):
            let v = try evaluate(e)
            try emit(v, e.position)
        case .loop(let name, let position, let sequence, let body):
            let s = try evaluate(sequence)
            guard case .list(let items) = s else {
                var message = "'for' needs a list, found \(s.typeName)"
                if case .number = s { message += " (use 'range N' for 0, 1, …, N−1)" }
                throw LangError(message, at: sequence.position)
            }
            for item in items {
                if Cancellation.shared.isCancelled { throw LangError("interrupted", at: position) }
                globals[name] = item
                for s in body { try execute(s) }
            }
        case .conditional(let condition, let then, let otherwise):
            let c = try evaluate(condition)
            guard case .bool(let b) = c else {
                var message = "'if' needs a boolean condition, found \(c.typeName)"
                if case .number = c { message += " (compare it, e.g. 'if x > 0 { … }')" }
                throw LangError(message, at: condition.position)
            }
            for s in b ? then : otherwise { try execute(s) }
        }
    }

    // MARK: Expressions

    func evaluate(_ e: Expr) throws -> Value {
        switch e.kind {
        case .number(let v), .percent(let v): return .number(v)
        case .string(let s): return .string(s)
        case .bool(let b): return .bool(b)
        case .list(let items):
            let values = try items.map { try evaluate($0) }
            if Interpreter.depth(of: values, limit: Interpreter.maxValueDepth) >= Interpreter.maxValueDepth {
                throw LangError("lists nested more than \(Interpreter.maxValueDepth) deep", at: e.position)
            }
            return .list(values)
        case .name(let n):
            guard let v = globals[n] else {
                throw LangError("unknown name '\(n)'" + Diagnostics.suggestion(n, in: globals.keys.sorted()), at: e.position)
            }
            return v
        case .member(let object, let field):
            return try member(try evaluate(object), field, at: e.position)
        case .index(let object, let index):
            return try subscripted(try evaluate(object), try evaluate(index), at: e.position, indexPosition: index.position)
        case .negate(let operand):
            return try negate(try evaluate(operand), at: e.position)
        case .not(let operand):
            let v = try evaluate(operand)
            guard case .bool(let b) = v else {
                throw LangError("'not' expects a boolean, found \(v.typeName)", at: operand.position)
            }
            return .bool(!b)
        case .logical(let left, let isAnd, let right):
            let word = isAnd ? "and" : "or"
            let l = try evaluate(left)
            guard case .bool(let a) = l else {
                throw LangError("'\(word)' expects booleans, found \(l.typeName)", at: left.position)
            }
            if isAnd && !a { return .bool(false) }
            if !isAnd && a { return .bool(true) }
            let r = try evaluate(right)
            guard case .bool(let b) = r else {
                throw LangError("'\(word)' expects booleans, found \(r.typeName)", at: right.position)
            }
            return .bool(b)
        case .binary(let left, let op, let right):
            let l = try evaluate(left)
            let r = try evaluate(right)
            switch op {
            case .add, .subtract, .multiply, .divide:
                return try arithmetic(op, l, r, at: e.position)
            case .equal: return .bool(Interpreter.equal(l, r))
            case .notEqual: return .bool(!Interpreter.equal(l, r))
            case .less, .lessEqual, .greater, .greaterEqual:
                return .bool(try compare(op, l, r, at: e.position))
            }
        case .command(let call):
            return try invoke(call, at: e.position)
        case .comprehension(let element, let name, _, let sequence):
            let s = try evaluate(sequence)
            guard case .list(let items) = s else {
                var message = "a list comprehension needs a list after 'in', found \(s.typeName)"
                if case .number = s { message += " (use 'range N' for 0, 1, …, N−1)" }
                throw LangError(message, at: sequence.position)
            }
            // NAME is bound for the element only; an outer variable of that name comes back after.
            let saved = globals[name]
            defer { globals[name] = saved }
            var out: [Value] = []
            out.reserveCapacity(items.count)
            for item in items {
                if Cancellation.shared.isCancelled { throw LangError("interrupted", at: e.position) }
                globals[name] = item
                out.append(try evaluate(element))
            }
            if Interpreter.depth(of: out, limit: Interpreter.maxValueDepth) >= Interpreter.maxValueDepth {
                throw LangError("lists nested more than \(Interpreter.maxValueDepth) deep", at: e.position)
            }
            return .list(out)
        }
    }

    /// Runs a command; core errors become errors at the command's position.
    private func invoke(_ call: CommandCall, at position: SourcePosition) throws -> Value {
        let command = call.command
        let invocation = Invocation(command: command, call: call, position: position, interpreter: self)
        do {
            return try command.run(invocation)
        } catch let e as LangError {
            throw e
        } catch let e as CoreError {
            throw LangError(e.description, at: position)
        } catch let e as JSONError {
            throw LangError(e.description, at: position)
        } catch {
            throw LangError(String(describing: error), at: position)
        }
    }

    // MARK: Operators

    private func arithmetic(_ op: BinaryOperator, _ l: Value, _ r: Value, at position: SourcePosition) throws -> Value {
        switch (l, r) {
        case (.number(let a), .number(let b)):
            let result: Double
            switch op {
            case .add: result = a + b
            case .subtract: result = a - b
            case .multiply: result = a * b
            default:
                if b == 0 { throw LangError("division by zero", at: position) }
                result = a / b
            }
            // Numbers in the language are finite; an infinite result is an overflow, never printed.
            guard result.isFinite else {
                throw LangError("the result of '\(op.rawValue)' is too large (beyond ±1.8e308)", at: position)
            }
            return .number(result)
        case (.list(let a), .list(let b)) where op == .add:
            guard a.count + b.count <= Interpreter.maxListLength else {
                throw LangError("list too long (more than \(Interpreter.maxListLength) elements)", at: position)
            }
            return .list(a + b)
        case (.list(let a), .list(let b)):
            guard a.count == b.count else {
                throw LangError("'\(op.rawValue)' needs lists of the same length, found \(a.count) and \(b.count)", at: position)
            }
            return .list(try zip(a, b).map { try arithmetic(op, $0, $1, at: position) })
        case (.number, .list(let b)):
            return .list(try b.map { try arithmetic(op, l, $0, at: position) })
        case (.list(let a), .number):
            return .list(try a.map { try arithmetic(op, $0, r, at: position) })
        case (.string(let a), .string(let b)) where op == .add:
            return .string(a + b)
        default:
            let verb: String
            switch op {
            case .add: verb = "add"
            case .subtract: verb = "subtract"
            case .multiply: verb = "multiply"
            default: verb = "divide"
            }
            var message = "cannot \(verb) \(l.typeName) and \(r.typeName) with '\(op.rawValue)'"
            if op == .add, case .string = l, case .number = r { message += " — 'str X' turns a number into text" }
            if op == .add, case .number = l, case .string = r { message += " — 'str X' turns a number into text" }
            throw LangError(message, at: position)
        }
    }

    private func negate(_ v: Value, at position: SourcePosition) throws -> Value {
        switch v {
        case .number(let x): return .number(-x)
        case .list(let xs): return .list(try xs.map { try negate($0, at: position) })
        default: throw LangError("cannot negate \(v.typeName)", at: position)
        }
    }

    private func compare(_ op: BinaryOperator, _ l: Value, _ r: Value, at position: SourcePosition) throws -> Bool {
        switch (l, r) {
        case (.number(let a), .number(let b)):
            switch op {
            case .less: return a < b
            case .lessEqual: return a <= b
            case .greater: return a > b
            default: return a >= b
            }
        case (.string(let a), .string(let b)):
            switch op {
            case .less: return a < b
            case .lessEqual: return a <= b
            case .greater: return a > b
            default: return a >= b
            }
        default:
            throw LangError("cannot compare \(l.typeName) with \(r.typeName) using '\(op.rawValue)'", at: position)
        }
    }

    /// Structural equality (models and corpora by identity).
    static func equal(_ l: Value, _ r: Value) -> Bool {
        switch (l, r) {
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.bool(let a), .bool(let b)): return a == b
        case (.list(let a), .list(let b)): return a.count == b.count && zip(a, b).allSatisfy { equal($0, $1) }
        case (.model(let a), .model(let b)): return a === b
        case (.corpus(let a), .corpus(let b)): return a === b
        case (.record(let a), .record(let b)):
            return a.kind == b.kind && a.fields.count == b.fields.count
                && zip(a.fields, b.fields).allSatisfy { $0.0 == $1.0 && equal($0.1, $1.1) }
        default: return false
        }
    }

    /// Nesting depth of lists in `values` (1 for a flat list), stopping at `limit`.
    static func depth(of values: [Value], limit: Int) -> Int {
        var deepest = 1
        for v in values {
            if case .list(let inner) = v {
                deepest = max(deepest, 1 + depth(of: inner, limit: limit - 1))
                if deepest >= limit { return deepest }
            }
        }
        return deepest
    }

    // MARK: Indexing and members

    /// A whole number from a Double, if it is one and fits comfortably in an Int.
    static func wholeNumber(_ x: Double) -> Int? {
        guard x.isFinite, x.rounded() == x, abs(x) < 9e15 else { return nil }
        return Int(x)
    }

    private func subscripted(_ object: Value, _ index: Value, at position: SourcePosition, indexPosition: SourcePosition) throws -> Value {
        guard case .number(let x) = index else {
            throw LangError("an index must be a number, found \(index.typeName)", at: indexPosition)
        }
        guard let i = Interpreter.wholeNumber(x) else {
            throw LangError("an index must be a whole number, found \(Printer.number(x))", at: indexPosition)
        }
        func resolve(_ count: Int, _ noun: String) throws -> Int {
            let j = i < 0 ? count + i : i
            guard j >= 0 && j < count else {
                throw LangError("index \(i) out of range for \(noun) of \(count) element\(count == 1 ? "" : "s")", at: indexPosition)
            }
            return j
        }
        switch object {
        case .list(let items):
            return items[try resolve(items.count, "a list")]
        case .string(let s):
            let chars = Array(s)
            return .string(String(chars[try resolve(chars.count, "a string")]))
        default:
            throw LangError("cannot index \(object.typeName); only lists and strings have elements", at: position)
        }
    }

    /// The fields member access reaches on `object` (nil value: not known), or nil when it has none.
    static func fields(of object: Value, options: SessionOptions) -> [(String, Value?)]? {
        switch object {
        case .record(let r):
            return r.fields.map { ($0.0, $0.1) }
        case .model(let m):
            return modelFields(m)
        case .corpus(let c):
            return [("source", .string(c.name)), ("documents", .number(Double(c.documents))),
                    ("tokens", c.tokens.map { .number(Double($0)) })]
        case .chart(let c):
            return [("type", .string(c.type)),
                    ("text", .string(c.render(options.width, options.ascii, false)))]
        default:
            return nil
        }
    }

    private func member(_ object: Value, _ field: String, at position: SourcePosition) throws -> Value {
        let noun = object.typeName
        let missingNote = [
            "step": "this model's training step is not known",
            "tokens": "the corpus is tokenised when first used with a model; its token count is not known yet",
        ]
        guard let fields = Interpreter.fields(of: object, options: options) else {
            throw LangError("\(noun) has no fields", at: position)
        }
        if let hit = fields.first(where: { $0.0 == field }) {
            if let v = hit.1 { return v }
            throw LangError(missingNote[field] ?? "'\(field)' is not known for this value", at: position)
        }
        let names = fields.map(\.0)
        if case .record(let r) = object, r.kind == "timed", let inner = r["value"],
           Interpreter.fields(of: inner, options: options)?.contains(where: { $0.0 == field }) == true {
            throw LangError("a timed result has no field '\(field)'; the timed value is '.value' (e.g. e.value.\(field))", at: position)
        }
        throw LangError(
            "\(noun) has no field '\(field)'" + Diagnostics.suggestion(field, in: names)
                + " (fields: \(names.joined(separator: ", ")))", at: position)
    }

    /// The fields of a model reachable with member access (nil: not known).
    static func modelFields(_ m: Model) -> [(String, Value?)] {
        [
            ("architecture", .string(m.config.architecture.rawValue)),
            ("layers", .number(Double(m.config.numLayers))),
            ("memories", .number(Double(m.config.intermediateSize))),
            ("parameters", .number(Double(m.parameterCount))),
            ("step", m.step.map { .number(Double($0)) }),
            ("interventions", .list(m.interventions.map { .string($0) })),
        ] + m.measurements.map { ($0.name, .number($0.value)) } + multiplierFields(m)
    }

    /// `multipliers` of a rescaled model: per layer, the memories rescaled and the largest multiplier.
    static func multiplierFields(_ m: Model) -> [(String, Value?)] {
        guard let r = m.rescaleSummary else { return [] }
        let layers: [Value] = r.layers.enumerated().map { l, layer in
            var rec = Record(kind: "layer", fields: [("layer", .number(Double(l))), ("count", .number(Double(layer.count))),
                                                     ("largest", .number(layer.largest))])
            rec.plain = true
            return .record(rec)
        }
        return [("multipliers", .list(layers))]
    }
}
