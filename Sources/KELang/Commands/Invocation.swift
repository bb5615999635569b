import KECore

// MARK: Invocation
//
// What a command's implementation sees: its arguments, evaluated on demand (so `time` can time
// the evaluation of its argument), with typed accessors whose errors point at the argument.

/// One call of a command while it runs.
final class Invocation {
    let command: Command
    let call: CommandCall
    /// Where the command word is.
    let position: SourcePosition
    let interpreter: Interpreter
    private var cache: [ArgumentKey: Value] = [:]

    init(command: Command, call: CommandCall, position: SourcePosition, interpreter: Interpreter) {
        self.command = command
        self.call = call
        self.position = position
        self.interpreter = interpreter
    }

    var options: SessionOptions { interpreter.options }
    var progress: ProgressHandler? { interpreter.progress }

    // MARK: Raw access

    /// True when the argument `key` was given.
    func has(_ key: ArgumentKey) -> Bool { call.arguments[key] != nil }

    /// Where argument `key` is (the command word if absent).
    func position(of key: ArgumentKey) -> SourcePosition {
        switch call.arguments[key] {
        case .expression(let e)?: return e.position
        case .word(_, let p)?: return p
        case .flag(let p)?: return p
        case nil: return position
        }
    }

    /// The value of argument `key` (evaluated once).
    func value(_ key: ArgumentKey) throws -> Value {
        if let v = cache[key] { return v }
        guard case .expression(let e)? = call.arguments[key] else {
            let shown = command.param(key)?.placeholder ?? key.name
            throw LangError("'\(command.name)' needs \(shown) — usage: \(command.synopsis)", at: position)
        }
        let v = try interpreter.evaluate(e)
        cache[key] = v
        return v
    }

    /// The bare word given for `key`, if any.
    func word(_ key: ArgumentKey) -> String? {
        if case .word(let w, _)? = call.arguments[key] { return w }
        return nil
    }

    /// True when flag `key` was given.
    func flag(_ key: ArgumentKey) -> Bool {
        if case .flag? = call.arguments[key] { return true }
        return false
    }

    /// Prints a warning about this command on stderr (`FILE:LINE:COL: warning: …`); the value
    /// is still computed. KECore returns warnings as values; this is where they are shown.
    func warn(_ message: String) { interpreter.diagnose("warning", message, position) }

    /// Prints a note about this command on stderr (`FILE:LINE:COL: note: …`).
    func note(_ message: String) { interpreter.diagnose("note", message, position) }

    /// An error at argument `key` (or at the command word).
    func error(_ message: String, at key: ArgumentKey? = nil) -> LangError {
        LangError(message, at: key.map { position(of: $0) } ?? position)
    }

    /// "expected a model, found a number" at argument `key`.
    func typeError(_ key: ArgumentKey, expected: String, found: Value) -> LangError {
        error("\(describe(key)) expected \(expected), found \(found.typeName)", at: key)
    }

    /// How an argument is named in messages: "'on'" or "'entropy'".
    private func describe(_ key: ArgumentKey) -> String {
        command.param(key)?.keyword != nil ? "'\(command.name) … \(key.name)'" : "'\(command.name)'"
    }

    // MARK: Typed access

    func model(_ key: ArgumentKey) throws -> Model {
        let v = try value(key)
        guard let m = try modelOrCheckpoint(v, at: key) else { throw typeError(key, expected: "a model", found: v) }
        return m
    }

    /// `v` as a model: a model, or a checkpoint of a series (`checkpoints "DIR"`) loaded now
    /// (load errors reported at `key`); nil for other values.
    func modelOrCheckpoint(_ v: Value, at key: ArgumentKey) throws -> Model? {
        if case .model(let m) = v { return m }
        guard let checkpoint = v.result(CheckpointReference.self) else { return nil }
        do { return try checkpoint.load() } catch let e as CoreError { throw error(e.description, at: key) }
    }

    func string(_ key: ArgumentKey) throws -> String {
        let v = try value(key)
        guard case .string(let s) = v else { throw typeError(key, expected: "a string", found: v) }
        return s
    }

    func number(_ key: ArgumentKey) throws -> Double {
        let v = try value(key)
        guard case .number(let x) = v else { throw typeError(key, expected: "a number", found: v) }
        return x
    }

    /// A whole number in `range`.
    func int(_ key: ArgumentKey, in range: ClosedRange<Int>) throws -> Int {
        let x = try number(key)
        guard let i = Interpreter.wholeNumber(x) else {
            throw error("\(describe(key)) expected a whole number, found \(Printer.number(x))", at: key)
        }
        guard range.contains(i) else {
            let upper = range.upperBound >= Int.max / 2 ? "" : " and \(range.upperBound)"
            let bound = upper.isEmpty ? "at least \(range.lowerBound)" : "between \(range.lowerBound)\(upper)"
            throw error("\(describe(key)) must be \(bound), found \(i)", at: key)
        }
        return i
    }

    /// A whole number in `range` when the argument was given.
    func optionalInt(_ key: ArgumentKey, in range: ClosedRange<Int>) throws -> Int? {
        has(key) ? try int(key, in: range) : nil
    }

    /// A fraction in [0, 1]: a percent literal (`10%`) or a plain number in [0, 1].
    func fraction(_ key: ArgumentKey) throws -> Double {
        let x = try number(key)
        guard x.isFinite, x >= 0, x <= 1 else {
            var found = Printer.number(x)
            if case .expression(let e)? = call.arguments[key], Invocation.isPercentLiteral(e) {
                found = Printer.number(x * 100) + "%"
            } else if x > 1 && x <= 100 {
                found += " (for \(found) percent write \(found)%)"
            }
            throw error(
                "\(describe(key)) must be a fraction between 0 and 1 or a percentage between 0% and 100%, found \(found)",
                at: key)
        }
        return x
    }

    /// True for `50%` and `-50%`.
    private static func isPercentLiteral(_ e: Expr) -> Bool {
        switch e.kind {
        case .percent: return true
        case .negate(let inner): if case .percent = inner.kind { return true }; return false
        default: return false
        }
    }

    /// A finite number.
    func finite(_ key: ArgumentKey) throws -> Double {
        let x = try number(key)
        guard x.isFinite else { throw error("\(describe(key)) must be a finite number", at: key) }
        return x
    }

    func list(_ key: ArgumentKey) throws -> [Value] {
        let v = try value(key)
        guard case .list(let items) = v else { throw typeError(key, expected: "a list", found: v) }
        return items
    }

    /// The elements of list `key`, each converted by `element` (nil: not one of the `what`, an
    /// error naming its index).
    private func elements<T>(_ key: ArgumentKey, _ what: String, _ element: (Value) -> T?) throws -> [T] {
        try list(key).enumerated().map { i, v in
            guard let x = element(v) else {
                throw error("\(describe(key)) expected a list of \(what), but element \(i) is \(v.typeName)", at: key)
            }
            return x
        }
    }

    /// A list of numbers.
    func numbers(_ key: ArgumentKey) throws -> [Double] {
        try elements(key, "numbers") { if case .number(let x) = $0 { x } else { nil } }
    }

    /// A list of strings.
    func strings(_ key: ArgumentKey) throws -> [String] {
        try elements(key, "strings") { if case .string(let s) = $0 { s } else { nil } }
    }

    /// A list of lists of numbers.
    func matrix(_ key: ArgumentKey) throws -> [[Double]] {
        let items = try list(key)
        return try items.enumerated().map { i, row in
            guard case .list(let cells) = row else {
                throw error("\(describe(key)) expected a list of lists of numbers, but row \(i) is \(row.typeName)", at: key)
            }
            return try cells.enumerated().map { j, v in
                guard case .number(let x) = v else {
                    throw error("\(describe(key)) expected numbers, but row \(i) element \(j) is \(v.typeName)", at: key)
                }
                return x
            }
        }
    }

    /// A layer number in 0 ..< `layers`.
    func layer(_ key: ArgumentKey, of layers: Int) throws -> Int {
        guard layers > 0 else { throw error("the model has no layers", at: key) }
        return try int(key, in: 0...(layers - 1))
    }

    /// A memory number of `model`, in 0 ..< d_ff.
    func memory(_ key: ArgumentKey, of model: Model) throws -> Int {
        try int(key, in: 0...max(0, model.config.intermediateSize - 1))
    }

    /// A non-empty list of memory numbers of `model`.
    func memories(_ key: ArgumentKey, of model: Model) throws -> [Int] {
        let F = model.config.intermediateSize
        let xs = try numbers(key)
        guard !xs.isEmpty else { throw error("'\(command.name) … \(key.name)' needs at least one memory", at: key) }
        return try xs.map { x in
            guard let i = Interpreter.wholeNumber(x) else {
                throw error("memory numbers must be whole numbers, found \(Printer.number(x))", at: key)
            }
            guard i >= 0, i < F else {
                throw error("memory \(i) does not exist: each layer has memories 0…\(F - 1)", at: key)
            }
            return i
        }
    }

    /// A finite number > 0 (or ≥ 0 with `allowZero`).
    func positive(_ key: ArgumentKey, allowZero: Bool = false) throws -> Double {
        let x = try finite(key)
        guard x > 0 || (allowZero && x == 0) else {
            throw error("'\(key.name)' must be \(allowZero ? "≥ 0" : "> 0"), found \(Printer.number(x))", at: key)
        }
        return x
    }

    /// A string argument when given.
    func optionalString(_ key: ArgumentKey) throws -> String? {
        has(key) ? try string(key) : nil
    }

    /// The fact-set argument `key`.
    func facts(_ key: ArgumentKey) throws -> FactSet {
        let v = try value(key)
        guard let f = v.result(FactSet.self) else { throw typeError(key, expected: "a fact set", found: v) }
        return f
    }

    /// The statistics of a sums value, with errors reported at `key`.
    func statistics(of sums: CoefficientSums, at key: ArgumentKey) throws -> CoefficientStats {
        do { return try sums.statistics() } catch let e as CoreError { throw error(e.description, at: key) }
    }

    /// The statistics of the sums value given as `key`, which must have been measured on
    /// `model` (same fingerprint); errors at `key`.
    func sumsStatistics(_ key: ArgumentKey, for model: Model) throws -> CoefficientStats {
        let v = try value(key)
        guard let s = v.result(CoefficientSums.self) else { throw typeError(key, expected: "a sums value", found: v) }
        let fp: String
        do { fp = try modelFingerprint(model) } catch let e as CoreError { throw error(e.description, at: .MODEL) }
        guard s.model == fp else {
            throw error("the sums were measured on model \(s.model), not on this model (\(fp))", at: key)
        }
        return try statistics(of: s, at: key)
    }

    /// The coefficient statistics of `model` on `corpus`, from the session's cache when this
    /// model (by fingerprint) was measured on this corpus before.
    ///
    /// - Throws: `CoreError` as `coefficientStatistics` does.
    func statistics(of model: Model, on corpus: Corpus) throws -> CoefficientStats {
        try interpreter.statisticsCache.statistics(of: model, on: corpus, progress: progress)
    }

    /// The corpus argument `key` tokenised with `model`'s tokenizer.
    func corpus(_ key: ArgumentKey, for model: Model) throws -> Corpus {
        let v = try value(key)
        guard case .corpus(let c) = v else { throw typeError(key, expected: "a corpus", found: v) }
        do {
            return try c.tokenized(for: model)
        } catch let e as CoreError {
            throw error(e.description, at: key)
        }
    }
}
