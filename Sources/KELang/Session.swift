import Foundation
import KECore

// MARK: Session
//
// The entry point the CLI and the REPL use: run source text, print each expression statement's
// value, report the first error. Variables persist across runs.

/// How values are printed.
public struct SessionOptions: Sendable {
    /// Print each value as one line of JSON instead of the human form.
    public var json = false
    /// Draw charts with ASCII only.
    public var ascii = false
    /// Use ANSI colour in charts.
    public var color = false
    /// Columns available for charts, tables and lists.
    public var width = 80
    /// Report progress of long computations (through `Session.progress`).
    public var progress = false
    public init() {}
}

/// A running program: variables, options, and where output goes.
public final class Session {
    public var options: SessionOptions {
        didSet { interpreter.options = options }
    }
    /// Called by long computations when `options.progress` is set (the shell draws a bar).
    public var progress: ProgressHandler? {
        didSet { interpreter.progress = options.progress ? progress : nil }
    }
    private let output: (String) -> Void
    private let errorOutput: (String) -> Void
    private let interpreter: Interpreter
    /// The file of the text being run (for notes).
    private var currentFile = ""
    /// When set, receives each value an expression statement shows, instead of its rendering
    /// going to `output` (the kernel and `.ipynb` notebooks turn values into MIME bundles).
    public var valueSink: ((Value) -> Void)?
    /// When set, receives the error that stops a run instead of `errorOutput`: the `LangError`
    /// (nil for an error without a position) and its formatted text, caret included, as
    /// `errorOutput` would have received it.
    public var errorSink: ((_ error: LangError?, _ formatted: String) -> Void)?
    /// True when the last successful `run`'s text ended with an expression statement, so the
    /// last value it showed is the text's value (a notebook cell's result).
    public private(set) var endsWithExpression = false

    /// `output` receives each printed value as one string without a trailing newline (it may
    /// span several lines; a JSON value is exactly one line). `errorOutput` receives each
    /// formatted diagnostic, also without a trailing newline.
    public init(options: SessionOptions = SessionOptions(), output: @escaping (String) -> Void,
                errorOutput: @escaping (String) -> Void) {
        self.options = options
        self.output = output
        self.errorOutput = errorOutput
        self.interpreter = Interpreter(options: options)
        interpreter.emit = { [unowned self] value, position in
            self.print(value, at: position)
        }
        interpreter.diagnose = { [unowned self] kind, message, position in
            self.errorOutput("\(self.currentFile):\(position): \(kind): \(message)")
        }
    }

    /// Runs source text: the whole text is scanned and parsed first (so a syntax error or an
    /// unknown name stops it before anything runs), then each statement runs in order and each
    /// expression statement's value is passed to `output` (one call per value). The first error
    /// is reported through `errorOutput` as `FILE:LINE:COL: error: …` with the source line and
    /// a caret; execution stops there. Variables persist across calls. Returns false on error.
    ///
    /// `firstLine` is the line number of the first line of `source` within `file` (for the
    /// REPL and notebooks, which run a file piecewise).
    ///
    /// The work runs on a helper thread with a large stack (the caller blocks until it is done),
    /// so the deepest nesting the parser admits cannot overflow the caller's stack, even in
    /// debug builds; `output` and `errorOutput` are called from that thread.
    @discardableResult
    public func run(_ source: String, file: String, firstLine: Int = 1) -> Bool {
        onLargeStack { self.runHere(source, file: file, firstLine: firstLine) }
    }

    /// `run` on the current thread.
    private func runHere(_ source: String, file: String, firstLine: Int) -> Bool {
        Cancellation.shared.reset()
        currentFile = file
        endsWithExpression = false
        interpreter.progress = options.progress ? progress : nil
        do {
            var scanner = Scanner(source, firstLine: firstLine)
            let tokens = try scanner.scan()
            var parser = Parser(tokens: tokens, known: Set(interpreter.globals.keys))
            let program = try parser.parseProgram()
            try interpreter.execute(program)
            if case .expression = program.last { endsWithExpression = true }
            return true
        } catch let e as LangError {
            report(e, Diagnostics.format(e, file: file, source: source, firstLine: firstLine))
            return false
        } catch {
            report(nil, "\(file): error: \(error)")
            return false
        }
    }

    /// The error that stopped a run, to `errorSink` when set, else to `errorOutput`.
    private func report(_ error: LangError?, _ formatted: String) {
        if let errorSink { errorSink(error, formatted) } else { errorOutput(formatted) }
    }

    /// The session's store of corpus passes (see `StatisticsCache`).
    var statisticsCache: StatisticsCache { interpreter.statisticsCache }

    /// Names of the variables defined so far, sorted.
    public var variableNames: [String] { interpreter.globals.keys.sorted() }

    /// The value of variable `name`, if defined.
    public func value(of name: String) -> Value? { interpreter.globals[name] }

    /// Defines or replaces variable `name` (which must not be a command or reserved word).
    public func define(_ name: String, _ value: Value) { interpreter.globals[name] = value }

    /// `value` rendered as `run` prints it (human or one JSON line, per `options`).
    public func render(_ value: Value) -> String {
        if options.json {
            var nonFinite = false
            return Printer.jsonLine(value, options: options, nonFinite: &nonFinite)
        }
        return Printer.human(value, options: options)
    }

    private func print(_ value: Value, at position: SourcePosition) {
        if let valueSink { return valueSink(value) }
        if options.json {
            var nonFinite = false
            let line = Printer.jsonLine(value, options: options, nonFinite: &nonFinite)
            output(line)
            if nonFinite {
                errorOutput("\(currentFile):\(position): note: a NaN or infinite number was written as null")
            }
        } else {
            output(Printer.human(value, options: options))
        }
    }
}

// MARK: Large stack

/// Stack size of the thread that runs scripts: parsing and evaluating the deepest nesting the
/// parser admits (256 levels) takes a few MB in debug builds.
let scriptStackSize = 256 << 20

/// A result slot shared with the helper thread.
private final class StackBox<T>: @unchecked Sendable {
    var body: (() -> T)?
    var result: T?
}

/// Runs `body` on a new thread with a `scriptStackSize` stack and waits for it.
func onLargeStack<T>(_ body: @escaping () -> T) -> T {
    let box = StackBox<T>()
    box.body = body
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        box.result = box.body?()
        box.body = nil
        done.signal()
    }
    thread.stackSize = scriptStackSize
    thread.start()
    done.wait()
    guard let result = box.result else {
        // Unreachable: the thread always stores a result before signalling.
        return body()
    }
    return result
}
