import Foundation
import KECore

// MARK: Builtins on values
//
// len, range, sum, mean, min, max, log, exp, sqrt bind like unary minus (`len xs + 1` is `(len xs) + 1`);
// `time` takes a whole expression.

extension Command {
    static let len = Command(
        "len", [.positional(.X)], form: .prefix, group: "values",
        brief: "Length of a list or string.",
        summary: "The number of elements of a list, or of characters in a string.",
        example: "len [1, 2, 3]",
        run: { inv in
            let v = try inv.value(.X)
            switch v {
            case .list(let items): return .number(Double(items.count))
            case .string(let s): return .number(Double(s.count))
            default: throw inv.typeError(.X, expected: "a list or a string", found: v)
            }
        })

    static let range = Command(
        "range", [.positional(.N)], form: .prefix, group: "values",
        brief: "The list 0 … N−1.",
        summary: "The list 0, 1, …, N − 1 (empty when N is 0).",
        example: "for i in range 3 { i * i }",
        run: { inv in
            let n = try inv.int(.N, in: 0...Interpreter.maxListLength)
            return .list((0..<n).map { .number(Double($0)) })
        })

    static let sum = reduction("sum", "The sum of a list of numbers.", "sum [1, 2, 3]") { $0.reduce(0, +) }
    static let mean = reduction("mean", "The mean of a list of numbers.", "mean e.layers") {
        $0.reduce(0, +) / Double($0.count)
    }
    static let min = reduction("min", "The smallest number of a list.", "min [3, 1, 2]") { $0.min() ?? .nan }
    static let max = reduction("max", "The largest number of a list.", "max e.layers") { $0.max() ?? .nan }

    /// A builtin reducing a non-empty list of numbers to one number.
    private static func reduction(_ name: String, _ summary: String, _ example: String,
                                  _ f: @escaping @Sendable ([Double]) -> Double) -> Command {
        Command(name, [.positional(.LIST)], form: .prefix, group: "values", brief: summary,
                summary: summary + " An empty list is an error.", example: example,
                run: { inv in
                    let xs = try inv.numbers(.LIST)
                    guard !xs.isEmpty else { throw inv.error("'\(name)' of an empty list", at: .LIST) }
                    let r = f(xs)
                    guard r.isFinite else { throw inv.error("'\(name)' is too large (beyond ±1.8e308)", at: .LIST) }
                    return .number(r)
                })
    }

    static let argmin = position("argmin", "The index of the smallest number of a list.", "argmin e.layers", smallest: true)
    static let argmax = position("argmax", "The index of the largest number of a list.", "argmax e.layers", smallest: false)

    /// A builtin giving the index (from 0) of the smallest or largest number of a non-empty list,
    /// the first one on ties.
    private static func position(_ name: String, _ brief: String, _ example: String, smallest: Bool) -> Command {
        Command(name, [.positional(.LIST)], form: .prefix, group: "values", brief: brief,
                summary: brief + " Indices count from 0, as `xs[i]` does; on ties the first wins. "
                    + "An empty list, or one holding NaN, is an error.",
                example: example,
                run: { inv in
                    let xs = try inv.numbers(.LIST)
                    guard !xs.isEmpty else { throw inv.error("'\(name)' of an empty list", at: .LIST) }
                    if xs.contains(where: \.isNaN) { throw inv.error("'\(name)' of a list holding NaN", at: .LIST) }
                    var best = 0
                    for i in xs.indices.dropFirst() where smallest ? xs[i] < xs[best] : xs[i] > xs[best] { best = i }
                    return .number(Double(best))
                })
    }

    static let str = Command(
        "str", [.positional(.X)], form: .prefix, group: "values",
        brief: "A number as text, as ke prints it.",
        summary: """
            The text of a number exactly as ke prints it (6 significant digits: `str 0.1234567` is \
            "0.123457", `str 3` is "3"), of a boolean ("true", "false"); a string is returned as it \
            is. Use it to build labels: `"layer " + str i`.
            """,
        example: "bar e.layers labels [\"L\" + str i for i in range (len e.layers)]",
        run: { inv in
            let v = try inv.value(.X)
            switch v {
            case .number(let x): return .string(Printer.number(x))
            case .string: return v
            case .bool(let b): return .string(b ? "true" : "false")
            default: throw inv.typeError(.X, expected: "a number, a boolean or a string", found: v)
            }
        })

    static let log = elementwise("log", "Natural logarithm, elementwise on lists.",
                                 "log 256", domain: "a positive number") { $0 > 0 ? Foundation.log($0) : nil }
    static let exp = elementwise("exp", "e to the power x, elementwise on lists.",
                                 "exp 1", domain: "a number below 709") { $0 < 709 ? Foundation.exp($0) : nil }
    static let sqrt = elementwise("sqrt", "Square root, elementwise on lists.",
                                  "sqrt 2", domain: "a non-negative number") { $0 >= 0 ? $0.squareRoot() : nil }

    /// A builtin applying `f` to a number or to every number of a list; nil from `f` is a
    /// domain error naming the offending value.
    private static func elementwise(_ name: String, _ summary: String, _ example: String, domain: String,
                                    _ f: @escaping @Sendable (Double) -> Double?) -> Command {
        Command(name, [.positional(.X)], form: .prefix, group: "values", brief: summary,
                summary: summary + " Outside its domain (\(domain)) it is an error, never NaN.",
                example: example,
                run: { inv in
                    func apply(_ x: Double) throws -> Double {
                        guard let y = f(x), y.isFinite else {
                            throw inv.error("'\(name)' needs \(domain), found \(Printer.number(x))", at: .X)
                        }
                        return y
                    }
                    let v = try inv.value(.X)
                    switch v {
                    case .number(let x): return .number(try apply(x))
                    case .list: return .list(try inv.numbers(.X).map { .number(try apply($0)) })
                    default: throw inv.typeError(.X, expected: "a number or a list of numbers", found: v)
                    }
                })
    }

    static let pearson = correlation(
        "pearson", "Pearson correlation of two lists.",
        """
        Pearson's r = Σ(x−x̄)(y−ȳ) / √(Σ(x−x̄)² · Σ(y−ȳ)²) of two lists of numbers of the same length \
        (at least 3). A list whose values are all equal has no correlation: an error. The paper \
        correlates acquisition and forgetting with knowledge entropy this way over a checkpoint series.
        """,
        "pearson [1, 2, 3, 4] [2, 4, 5, 9]", pearsonCorrelation)
    static let spearman = correlation(
        "spearman", "Spearman rank correlation of two lists.",
        """
        Spearman's ρ: Pearson's r of the ranks of two lists of numbers of the same length (at least 3), \
        tied values getting the average of their ranks. A list whose values are all equal is an error.
        """,
        "spearman [1, 2, 3, 4] [1, 3, 2, 4]", { pearsonCorrelation(averageRanks($0), averageRanks($1)) })

    /// A builtin correlating two lists of numbers.
    private static func correlation(_ name: String, _ brief: String, _ summary: String, _ example: String,
                                    _ f: @escaping @Sendable ([Double], [Double]) -> Double?) -> Command {
        Command(name, [.positional(.XS), .positional(.YS)], group: "values", brief: brief, summary: summary,
                example: example,
                run: { inv in
                    let xs = try inv.numbers(.XS), ys = try inv.numbers(.YS)
                    guard xs.count == ys.count else {
                        throw inv.error("'\(name)' needs two lists of the same length, found \(xs.count) and \(ys.count)", at: .YS)
                    }
                    guard xs.count >= 3 else {
                        throw inv.error("'\(name)' needs at least 3 points, found \(xs.count)", at: .XS)
                    }
                    for (key, list): (ArgumentKey, [Double]) in [(.XS, xs), (.YS, ys)] where !list.allSatisfy(\.isFinite) {
                        throw inv.error("'\(name)' of a list with a non-finite number", at: key)
                    }
                    guard let r = f(xs, ys) else {
                        let key: ArgumentKey = Set(xs).count == 1 ? .XS : .YS
                        throw inv.error("'\(name)' is undefined: every value of \(key == .XS ? "the first" : "the second") list is the same", at: key)
                    }
                    return .number(r)
                })
    }

    static let time = Command(
        "time", [.positional(.EXPR)], group: "values",
        brief: "Value of EXPR and the seconds it took.",
        summary: """
            Evaluates EXPR and returns its value together with the elapsed wall-clock seconds. \
            Fields: seconds, value. The result wraps the value: after `let e = time (entropy m on \
            c)`, the entropy is `e.value` (so its total is `e.value.total`) and the time `e.seconds`.
            """,
        example: "let e = time (entropy m on c)\ne.value.total\ne.seconds",
        run: { inv in
            let clock = ContinuousClock()
            let start = clock.now
            let v = try inv.value(.EXPR)
            let d = clock.now - start
            let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
            return .record(Record(Timed(seconds: seconds, value: v)))
        })
}

/// `time EXPR`: a value and the seconds it took.
struct Timed: CommandResult {
    let seconds: Double
    let value: Value

    var kind: String { "timed" }
    var fields: [(String, Value)] { [("seconds", .number(seconds)), ("value", value)] }

    /// The value, then the time: on the same line, or on a line of its own after a
    /// multi-line value.
    func human(options: SessionOptions) -> String? {
        let body = Printer.human(value, options: options)
        return body + (body.contains("\n") ? "\n" : "  ") + "(\(Printer.seconds(seconds)))"
    }
}

/// Pearson's r of two lists of the same length; nil when either has zero variance.
func pearsonCorrelation(_ xs: [Double], _ ys: [Double]) -> Double? {
    let n = Double(xs.count)
    let mx = xs.reduce(0, +) / n, my = ys.reduce(0, +) / n
    var sxy = 0.0, sxx = 0.0, syy = 0.0
    for (x, y) in zip(xs, ys) {
        sxy += (x - mx) * (y - my)
        sxx += (x - mx) * (x - mx)
        syy += (y - my) * (y - my)
    }
    guard sxx > 0, syy > 0 else { return nil }
    return Swift.max(-1, Swift.min(1, sxy / (sxx * syy).squareRoot()))
}

/// Ranks 1 … n of `xs`, tied values sharing the average of their ranks (as scipy's rankdata).
func averageRanks(_ xs: [Double]) -> [Double] {
    let order = xs.indices.sorted { xs[$0] < xs[$1] || (xs[$0] == xs[$1] && $0 < $1) }
    var ranks = [Double](repeating: 0, count: xs.count)
    var i = 0
    while i < order.count {
        var j = i
        while j + 1 < order.count && xs[order[j + 1]] == xs[order[i]] { j += 1 }
        let rank = Double(i + j + 2) / 2   // the average of ranks i+1 … j+1
        for k in i...j { ranks[order[k]] = rank }
        i = j + 1
    }
    return ranks
}
