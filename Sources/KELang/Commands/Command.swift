import KECore

// MARK: Command declarations
//
// A command is one declaration: its name, its parameters (which drive the parser), its help
// text, and the closure that runs it. `CommandRegistry` lists them all; the parser, `help` and
// the shell's tab completion read only the registry.

/// The public description of a command, for `help` and tab completion.
public struct CommandSpec: Sendable, Equatable {
    /// The command word.
    public let name: String
    /// The usage form, e.g. `entropy MODEL on CORPUS`.
    public let synopsis: String
    /// One short line for the `help` list.
    public let brief: String
    /// One paragraph: what it computes (with the formula where there is one) and what it returns.
    public let summary: String
    /// A complete statement using it.
    public let example: String
    /// Its keywords (`on`, `limit`, `force`, …) in declaration order.
    public let keywords: [String]
    /// The help section it is listed under ("models", "charts", "values", "help").
    public let group: String
}

/// What a parameter takes.
enum ParamKind: Sendable {
    /// An expression.
    case value
    /// A bare word (not evaluated), e.g. the topic of `help`.
    case word
    /// A keyword on its own, e.g. `force`.
    case flag
}

/// One parameter of a command: positional (no keyword) or introduced by a keyword.
struct Param: Sendable {
    /// The key of the argument in a `CommandCall`.
    var key: ArgumentKey
    /// The keyword that introduces it (its key's name), or nil for a positional parameter.
    var keyword: String?
    /// How the argument is shown in the synopsis: `MODEL`, `"FILE"`, `N`.
    var placeholder: String
    var kind: ParamKind
    var optional: Bool

    /// A required positional expression, shown as its key (in quotes when `quoted`: `"TEXT"`).
    static func positional(_ key: ArgumentKey, quoted: Bool = false) -> Param {
        Param(key: key, keyword: nil, placeholder: quoted ? "\"\(key.name)\"" : key.name, kind: .value, optional: false)
    }
    /// An optional positional bare word.
    static func optionalWord(_ key: ArgumentKey) -> Param {
        Param(key: key, keyword: nil, placeholder: key.name, kind: .word, optional: true)
    }
    /// A required `keyword EXPR`.
    static func keyword(_ key: ArgumentKey, _ placeholder: String) -> Param {
        Param(key: key, keyword: key.name, placeholder: placeholder, kind: .value, optional: false)
    }
    /// An optional `keyword EXPR`.
    static func option(_ key: ArgumentKey, _ placeholder: String) -> Param {
        Param(key: key, keyword: key.name, placeholder: placeholder, kind: .value, optional: true)
    }
    /// An optional bare keyword.
    static func flag(_ key: ArgumentKey) -> Param {
        Param(key: key, keyword: key.name, placeholder: key.name, kind: .flag, optional: true)
    }

    /// The parameter as shown in a synopsis.
    var synopsis: String {
        let text: String
        switch kind {
        case .flag: text = keyword ?? placeholder
        default: text = keyword.map { "\($0) \(placeholder)" } ?? placeholder
        }
        return optional ? "[\(text)]" : text
    }
}

/// How a command's positional argument binds.
enum CommandForm: Sendable {
    /// Arguments are full expressions (`entropy MODEL on CORPUS`, `time EXPR`).
    case command
    /// One argument bound like unary minus (`len xs + 1` is `(len xs) + 1`).
    case prefix
}

/// A command: signature, help text and implementation.
struct Command: Sendable {
    let name: String
    let params: [Param]
    let form: CommandForm
    let group: String
    let brief: String
    let summary: String
    let example: String
    let run: @Sendable (Invocation) throws -> Value

    init(_ name: String, _ params: [Param] = [], form: CommandForm = .command, group: String,
         brief: String, summary: String, example: String, run: @escaping @Sendable (Invocation) throws -> Value) {
        self.name = name
        self.params = params
        self.form = form
        self.group = group
        self.brief = brief
        self.summary = summary
        self.example = example
        self.run = run
    }

    /// `name` followed by each parameter.
    var synopsis: String { ([name] + params.map(\.synopsis)).joined(separator: " ") }

    /// The parameter introduced by `keyword`.
    func param(keyword: String) -> Param? { params.first { $0.keyword == keyword } }

    /// The parameter whose argument is `key`.
    func param(_ key: ArgumentKey) -> Param? { params.first { $0.key == key } }

    var spec: CommandSpec {
        CommandSpec(name: name, synopsis: synopsis, brief: brief, summary: summary, example: example,
                    keywords: params.compactMap(\.keyword), group: group)
    }
}

// MARK: Registry

/// Every command of the language. The parser dispatches on it; `help` and completion read it.
public enum CommandRegistry {
    /// All commands in help order. Adding a command: declare it (one `static let` in a file
    /// under `Commands/`) and list it here.
    static let commands: [Command] = [
        // models and corpora
        .load, .corpus, .entropy, .perplexity, .tokenize, .rescale, .save, .sums, .merge,
        // charts
        .plot, .bar, .hist, .heatmap, .spark,
        // looking inside (Entropy, Memories, Interventions, Prediction, Checkpoints)
        .coefficients, .rank, .compare, .trace, .memory, .top, .search, .scale, .ablate, .predict,
        .generate, .checkpoints,
        // training, fact injection, multiple-choice tasks (Training.swift, Lab.swift, Evaluation.swift)
        .train, .facts, .probe, .inject, .pretrain, .tasks, .evaluate,
        // values
        .len, .range, .sum, .mean, .min, .max, .argmin, .argmax, .str, .log, .exp, .sqrt, .pearson, .spearman, .time,
        // help
        .help,
    ]

    private static let byName: [String: Command] = {
        var d: [String: Command] = [:]
        for c in commands { d[c.name] = c }
        return d
    }()

    /// The command named `name`.
    static func command(_ name: String) -> Command? { byName[name] }

    /// Descriptions of every command, in help order.
    public static var all: [CommandSpec] { commands.map(\.spec) }

    /// The description of `name`, if it is a command.
    public static func spec(_ name: String) -> CommandSpec? { byName[name]?.spec }

    /// Every word the language gives meaning to: commands, their keywords, reserved words.
    public static var vocabulary: [String] {
        var words = Set(reservedWords.keys)
        for c in commands {
            words.insert(c.name)
            for k in c.params.compactMap(\.keyword) { words.insert(k) }
        }
        return words.sorted()
    }
}
