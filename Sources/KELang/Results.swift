import KECore

// MARK: Command results
//
// A command returns a core value (an `EntropyResult`, a `Prediction`, …) wrapped in a `Record`.
// The value's type says how it reads: each result type implements `CommandResult` (its kind,
// its fields for member access and JSON, its human and one-line renderings) next to the
// command that makes it, and the record keeps the value itself, so the printer and the
// commands that take a result (`compare`, `hist`, `plot`, `rescale … using`) see its type.

/// A command's result: what it is, its fields and how it reads.
protocol CommandResult: Sendable {
    /// What it is, as written in JSON (`"kind"`) and in type errors: "entropy", "prediction".
    var kind: String { get }
    /// Fields in display and JSON order (member access reads them).
    var fields: [(String, Value)] { get }
    /// The rendering for people (no trailing newline); nil: the generic table of fields.
    func human(options: SessionOptions) -> String?
    /// The one-line rendering inside lists; nil when it needs several lines.
    var inline: String? { get }
    /// The result as an HTML table for notebooks (`text/html`); nil when it is not tabular.
    var htmlTable: HTMLTable? { get }
    /// The chart drawn beside the result in notebooks (`image/svg+xml`), e.g. the layer bars
    /// of an entropy result; nil when none.
    var displayChart: ChartValue? { get }
}

extension CommandResult {
    func human(options: SessionOptions) -> String? { nil }
    var inline: String? { nil }
    var htmlTable: HTMLTable? { nil }
    var displayChart: ChartValue? { nil }
}

extension Record {
    /// The record of `result`: its kind and fields, with the result kept.
    init(_ result: some CommandResult) {
        self.init(kind: result.kind, fields: result.fields)
        self.result = result
    }
}

extension Value {
    /// The result behind a record value, as `T` (nil for other values and other results).
    func result<T: CommandResult>(_ type: T.Type) -> T? {
        guard case .record(let r) = self else { return nil }
        return r.result as? T
    }
}

// MARK: Rows

/// A record printed in JSON without a "kind" (rows inside results).
func plainRecord(_ kind: String, _ fields: [(String, Value)]) -> Record {
    var r = Record(kind: kind, fields: fields)
    r.plain = true
    return r
}

/// A list of numbers as a list value.
func numberList(_ xs: [Double]) -> Value { .list(xs.map { .number($0) }) }
