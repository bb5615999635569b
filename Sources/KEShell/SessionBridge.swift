import KECore
import KELang

// MARK: - The language behind the REPL

/// Adapts a language `Session` to the REPL loop.
final class SessionEngine: ShellEngine {
    let session: Session
    /// The file name errors report (`<stdin>`).
    let file: String

    init(_ session: Session, file: String = "<stdin>") {
        self.session = session
        self.file = file
    }

    func run(_ source: String, firstLine: Int) -> Bool {
        session.run(source, file: file, firstLine: firstLine)
    }

    func needsContinuation(_ source: String) -> Bool {
        Syntax.needsContinuation(source)
    }

    func completionSources() -> CompletionSources {
        CompletionSources(commands: CommandRegistry.all.map(\.name),
                          keywords: { CommandRegistry.spec($0)?.keywords ?? [] },
                          variables: session.variableNames,
                          reservedWords: ["let", "for"])
    }
}

extension REPL {
    /// Runs the interactive loop on `session` (whose output closures print to the terminal) until
    /// Ctrl-D; returns the exit status. On a terminal: line editing, history in
    /// `$XDG_STATE_HOME/ke/history`, Tab completion, Ctrl-C handling and a progress bar.
    public static func run(session: Session, version: String = "ke") -> Int32 {
        if session.options.progress { session.progress = ProgressBar().handler }
        let welcome = "\(version) · OpenBLAS \(blasCoreName) · type help for commands, Ctrl-D to quit"
        return run(engine: SessionEngine(session), welcome: welcome)
    }
}

// MARK: - Notebooks on the language

/// Notebooks: run a script chunk by chunk and write (or check) its Markdown transcript.
///
/// Transcripts are rendered for reproducibility: human output, ASCII charts, 80 columns, no
/// colour, no progress bar. `--check` compares numbers with a tolerance (default 1e-3 relative,
/// 1e-6 absolute; integers exactly), ignores timings and shortens absolute paths (see
/// `Transcript`).
public enum Notebook {
    /// What to do with a script.
    public enum Mode: Equatable, Sendable {
        /// Write the transcript to `output` (nil: print it on stdout).
        case render(output: String?)
        /// Compare with `SCRIPT.md` beside the script.
        case check(tolerance: Tolerance)
        /// Rewrite `SCRIPT.md` beside the script.
        case update
    }

    /// Options of the session that runs a notebook.
    public static var sessionOptions: SessionOptions {
        var o = SessionOptions()
        o.ascii = true
        o.width = 80
        o.color = false
        o.progress = false
        o.json = false
        return o
    }

    /// Runs `script` (named `file` in messages) in a fresh session and renders its transcript.
    public static func render(script: String, file: String) -> (markdown: String, ok: Bool) {
        final class Buffer { var text = "" }
        let buffer = Buffer()
        let append: (String) -> Void = { piece in
            buffer.text += piece
            if !piece.hasSuffix("\n") { buffer.text += "\n" }
        }
        let session = Session(options: sessionOptions, output: append, errorOutput: append)
        let name = NotebookRenderer.baseName(file)
        let chunks = Syntax.chunks(script).map { chunk -> NotebookChunk in
            switch chunk {
            case .prose(let text): return .prose(text)
            case .code(let code, let line): return .code(code, line: line)
            }
        }
        return NotebookRenderer.render(chunks: chunks, scriptName: name) { code, line in
            buffer.text = ""
            let ok = session.run(code, file: name, firstLine: line)
            return (buffer.text, ok)
        }
    }

    /// The file workflows on the language.
    static var files: NotebookFiles {
        NotebookFiles(render: { source, file in render(script: source, file: file) })
    }

    /// `--notebook`: writes the transcript of `scriptPath` to `outPath` (atomically); true when
    /// the script ran without error (the transcript is written either way).
    public static func write(scriptPath: String, to outPath: String) throws -> Bool {
        try files.writeNotebook(scriptPath: scriptPath, to: outPath)
    }

    /// `--check`: runs the script and compares with `SCRIPT.md`; `diff` is empty when they match.
    public static func check(scriptPath: String, tolerance: Tolerance = .standard) throws -> (ok: Bool, diff: String) {
        try files.check(scriptPath: scriptPath, tolerance: tolerance)
    }

    /// `--update`: rewrites `SCRIPT.md`; true when the script ran without error.
    public static func update(scriptPath: String) throws -> Bool {
        try files.update(scriptPath: scriptPath)
    }

    /// The command-line front: runs `mode`, prints results and errors, returns the exit status
    /// (0 success; 1 script error, transcript mismatch or unreadable file).
    public static func run(scriptPath: String, mode: Mode) -> Int32 {
        do {
            switch mode {
            case .render(let output?):
                return try write(scriptPath: scriptPath, to: output) ? 0 : 1
            case .render(nil):
                let source = try files.readScript(scriptPath)
                let (markdown, ok) = render(script: source, file: scriptPath)
                Terminal.write(markdown, to: 1)
                return ok ? 0 : 1
            case .check(let tolerance):
                let (ok, diff) = try check(scriptPath: scriptPath, tolerance: tolerance)
                if ok {
                    Terminal.write("\(scriptPath): transcript matches\n", to: 1)
                    return 0
                }
                Terminal.write(diff, to: 1)
                Terminal.write("\(scriptPath): transcript differs from \(NotebookRenderer.transcriptPath(for: scriptPath)) (ke --update \(scriptPath) rewrites it)\n", to: 2)
                return 1
            case .update:
                let ok = try update(scriptPath: scriptPath)
                let path = NotebookRenderer.transcriptPath(for: scriptPath)
                Terminal.write(ok ? "wrote \(path)\n" : "wrote \(path) (the script stopped with an error)\n", to: ok ? 1 : 2)
                return ok ? 0 : 1
            }
        } catch {
            Terminal.write("ke: \(error)\n", to: 2)
            return 1
        }
    }
}
