import KECore
import KELang

// MARK: - The language behind the REPL

/// Adapts a language `Session` to the REPL loop.
final class SessionEngine: ShellEngine {
    let session: Session
    /// The file name errors report (`<stdin>`).
    let file: String
    /// The progress bar, cleared after each entry (an error or Ctrl-C may leave it drawn).
    let bar: ProgressBar?

    init(_ session: Session, file: String = "<stdin>", bar: ProgressBar? = nil) {
        self.session = session
        self.file = file
        self.bar = bar
    }

    func run(_ source: String, firstLine: Int) -> Bool {
        defer { bar?.finish() }
        return session.run(source, file: file, firstLine: firstLine)
    }

    func needsContinuation(_ source: String) -> Bool {
        Syntax.needsContinuation(source)
    }

    func completionSources() -> CompletionSources {
        CompletionSources(commands: CommandRegistry.all.map(\.name),
                          keywords: { CommandRegistry.spec($0)?.keywords ?? [] },
                          variables: session.variableNames,
                          reservedWords: ["let", "for", "if", "else"])
    }
}

extension REPL {
    /// Runs the interactive loop on `session` (whose output closures print to the terminal) until
    /// Ctrl-D; returns the exit status. On a terminal: line editing, history in
    /// `$XDG_STATE_HOME/ke/history`, Tab completion, Ctrl-C handling and a progress bar.
    public static func run(session: Session, version: String = "ke") -> Int32 {
        var bar: ProgressBar?
        if session.options.progress {
            let b = ProgressBar()
            session.progress = b.handler
            bar = b
        }
        let welcome = "\(version) · \(kernelBanner) · type help for commands, Ctrl-D to quit"
        return run(engine: SessionEngine(session, bar: bar), welcome: welcome)
    }
}

/// The kernel that computes matrix products, as the shell's banner names it: ke's fixed-order
/// kernel by default, OpenBLAS (with its core) only under KE_GEMM=openblas.
var kernelBanner: String {
    switch matrixProductKernel {
    case .fixedOrder: return "fixed-order kernel (reproducible)"
    case .openBLAS: return "OpenBLAS \(blasCoreName) (KE_GEMM=openblas, not reproducible)"
    }
}
