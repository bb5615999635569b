import KECore
import KELang

// MARK: - Cells
//
// One home for "run a piece of code and say what it showed", shared by the Jupyter kernel
// (`ke --kernel-stdio`, which streams the outputs as JSON lines) and `.ipynb` notebooks (which
// store them). A cell's outputs, in order: streams (warnings and notes on stderr), display data
// (values shown before the cell's last one), the result (the value of the cell's last
// statement, when it is an expression statement) and the error that stopped it.

/// One output of a cell.
enum CellOutput {
    case stream(name: String, text: String)
    /// A value shown before the cell's last value, as a MIME bundle (`MIMEBundle.of`).
    case display([(String, JSONValue)])
    /// The cell's value, as a MIME bundle.
    case result([(String, JSONValue)])
    case error(CellError)

    /// The output as the terminal and the Markdown transcripts show it: the stream's text, the
    /// value's `text/plain`, the error with its caret.
    var plainText: String {
        switch self {
        case .stream(_, let text): return text
        case .display(let bundle), .result(let bundle):
            return bundle.first(where: { $0.0 == MIMEBundle.plainText })?.1.stringValue ?? ""
        case .error(let e): return e.formatted
        }
    }
}

extension CellOutput {
    /// The output with each message located in `file` from line `firstLine` on
    /// (`FILE:LINE:COL: warning: …`) located as the kernel reports it, within the cell
    /// (`<cell>:LINE−firstLine+1:COL: …`). Values are unchanged.
    func cellRelative(file: String, firstLine: Int) -> CellOutput {
        func relocate(_ text: String) -> String {
            let prefix = file + ":"
            return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
                guard line.hasPrefix(prefix) else { return String(line) }
                let rest = line.dropFirst(prefix.count)
                guard let colon = rest.firstIndex(of: ":"), let n = Int(rest[..<colon]), n >= firstLine else { return String(line) }
                return KernelServer.cellFile + ":\(n - firstLine + 1)" + rest[colon...]
            }.joined(separator: "\n")
        }
        switch self {
        case .stream(let name, let text): return .stream(name: name, text: relocate(text))
        case .error(var e):
            e.formatted = relocate(e.formatted)
            if let line = e.line { e.line = line - firstLine + 1 }
            return .error(e)
        case .display, .result: return self
        }
    }
}

/// The error that stopped a cell.
struct CellError {
    /// The message alone (`unknown name 'x'`).
    var message: String
    /// 1-based line and column within the text run (nil for an error without a position).
    var line: Int?
    var column: Int?
    /// The source line and a caret under the column (`"let x = y\n        ^"`), or "".
    var caret: String
    /// The error as the shell prints it: `FILE:LINE:COL: error: MESSAGE`, then the caret.
    var formatted: String

    init(_ error: LangError?, formatted: String) {
        self.formatted = formatted
        if let error {
            message = error.message
            line = error.position.line
            column = error.position.column
        } else {
            let marker = ": error: "
            message = formatted.range(of: marker).map { String(formatted[$0.upperBound...]) } ?? formatted
        }
        let parts = formatted.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        caret = error != nil && parts.count == 2 ? String(parts[1]) : ""
    }
}

/// How a cell ended.
enum CellStatus: String {
    case ok, error, aborted
}

/// A session that runs cells and reports their outputs (the kernel's and the notebooks').
final class CellRunner {
    let session: Session
    /// Receives the outputs of the cell being run.
    private var sink: (CellOutput) -> Void = { _ in }
    /// The last value shown and not yet reported (it may turn out to be the cell's result).
    private var pending: Value?

    /// A session with `options` whose outputs go to the cell being run.
    init(options: SessionOptions = Notebook.sessionOptions) {
        final class Forward: @unchecked Sendable { weak var runner: CellRunner? }
        let forward = Forward()
        session = Session(options: options,
                          output: { forward.runner?.stream("stdout", $0) },
                          errorOutput: { forward.runner?.stream("stderr", $0) })
        forward.runner = self
        session.valueSink = { [unowned self] value in
            self.flushPending()
            self.pending = value
        }
        session.errorSink = { [unowned self] error, formatted in
            self.flushPending()
            self.sink(.error(CellError(error, formatted: formatted)))
        }
    }

    /// Runs `code` (named `file` in errors, its first line numbered `firstLine`) and passes its
    /// outputs to `sink` in order; aborted when it stopped because the session was cancelled
    /// (Ctrl-C, SIGINT).
    func run(_ code: String, file: String, firstLine: Int = 1, sink: @escaping (CellOutput) -> Void) -> CellStatus {
        self.sink = sink
        pending = nil
        defer { self.sink = { _ in }; pending = nil }
        let ok = session.run(code, file: file, firstLine: firstLine)
        if let value = pending {
            pending = nil
            let bundle = MIMEBundle.of(value, options: session.options)
            // (After an error, `errorSink` has reported the pending value already.)
            sink(ok && session.endsWithExpression ? .result(bundle) : .display(bundle))
        }
        if ok { return .ok }
        return Cancellation.shared.isCancelled ? .aborted : .error
    }

    private func stream(_ name: String, _ text: String) {
        flushPending()
        sink(.stream(name: name, text: text.hasSuffix("\n") ? text : text + "\n"))
    }

    /// Reports the pending value as display data (something came after it).
    private func flushPending() {
        guard let value = pending else { return }
        pending = nil
        sink(.display(MIMEBundle.of(value, options: session.options)))
    }
}
