import KELang

// MARK: - Public entry points

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
        /// Compare with `against`, or with `SCRIPT.md` beside the script when nil.
        case check(tolerance: Tolerance, against: String? = nil)
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
    ///
    /// - Throws: `ShellError` when the script cannot be read or the notebook cannot be written.
    public static func write(scriptPath: String, to outPath: String) throws -> Bool {
        try files.writeNotebook(scriptPath: scriptPath, to: outPath)
    }

    /// `--check`: runs the script and compares with `transcript` (nil: `SCRIPT.md` beside the
    /// script); `diff` is empty when they match.
    ///
    /// - Throws: `ShellError` when the script or its transcript cannot be read.
    public static func check(scriptPath: String, against transcript: String? = nil,
                             tolerance: Tolerance = .standard) throws -> (ok: Bool, diff: String) {
        try files.check(scriptPath: scriptPath, against: transcript, tolerance: tolerance)
    }

    /// `--update`: rewrites `SCRIPT.md`; true when the script ran without error.
    ///
    /// - Throws: `ShellError` when the script cannot be read or the transcript cannot be written.
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
            case .check(let tolerance, let against):
                let (ok, diff) = try check(scriptPath: scriptPath, against: against, tolerance: tolerance)
                if ok {
                    Terminal.write("\(scriptPath): transcript matches\n", to: 1)
                    return 0
                }
                Terminal.write(diff, to: 1)
                let rewrite = against.map { "ke --notebook \($0) \(scriptPath)" } ?? "ke --update \(scriptPath)"
                Terminal.write("\(scriptPath): transcript differs from \(against ?? NotebookRenderer.transcriptPath(for: scriptPath)) (\(rewrite) rewrites it)\n", to: 2)
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

// MARK: - Chunks

/// One piece of a notebook script: prose (comment text, markers already removed, so `## Title`
/// in a script becomes the Markdown heading `# Title`) or code with its first line.
enum NotebookChunk: Equatable {
    case prose(String)
    case code(String, line: Int)
}

// MARK: - Rendering

/// Turns a script's chunks and their outputs into a Markdown transcript.
///
/// Layout: a one-line HTML comment naming the script, then for each chunk, separated by blank
/// lines, a paragraph (prose) or a ```` ```ke ```` block followed by a ```` ```text ```` block of
/// its output (omitted when it printed nothing). The first failing chunk's error is its output
/// and ends the transcript.
enum NotebookRenderer {
    /// Runs `chunks` in order through `run(code, firstLine)` and renders the transcript.
    static func render(chunks: [NotebookChunk], scriptName: String,
                       run: (String, Int) -> (output: String, ok: Bool)) -> (markdown: String, ok: Bool) {
        var blocks: [String] = [
            "<!-- Transcript of \(scriptName), written by `ke --notebook`; `ke --update \(scriptName)` rewrites it. -->"
        ]
        var ok = true
        for chunk in chunks {
            switch chunk {
            case .prose(let text):
                let paragraph = proseText(text)
                if !paragraph.isEmpty { blocks.append(paragraph) }
            case .code(let code, let line):
                let source = trimBlankLines(code)
                if source.isEmpty { continue }
                blocks.append(fenced(source, info: "ke"))
                let result = run(code, line)
                let output = trimBlankLines(result.output)
                if !output.isEmpty { blocks.append(fenced(output, info: "text")) }
                if !result.ok { ok = false }
            }
            if !ok { break }
        }
        return (blocks.joined(separator: "\n\n") + "\n", ok)
    }

    /// Prose as a paragraph: trailing spaces and surrounding blank lines removed.
    static func proseText(_ text: String) -> String {
        trimBlankLines(text)
    }

    /// A fenced block whose fence is longer than any backtick run inside `body`.
    static func fenced(_ body: String, info: String) -> String {
        var longest = 0, run = 0
        for c in body { if c == "`" { run += 1; longest = max(longest, run) } else { run = 0 } }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        return fence + info + "\n" + body + "\n" + fence
    }

    /// `text` without leading and trailing blank lines and without trailing spaces on each line.
    static func trimBlankLines(_ text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            String($0.hasSuffix("\r") ? $0.dropLast() : $0).trimmingTrailingSpaces
        }
        while let first = lines.first, first.isEmpty { lines.removeFirst() }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        return lines.joined(separator: "\n")
    }
}

// MARK: - Paths

extension NotebookRenderer {
    /// The transcript stored beside a script: `dir/name.ke` → `dir/name.md` (other names get `.md` added).
    static func transcriptPath(for scriptPath: String) -> String {
        if scriptPath.hasSuffix(".ke") { return String(scriptPath.dropLast(3)) + ".md" }
        return scriptPath + ".md"
    }

    /// The last component of a path.
    static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

// MARK: - Files

/// The file-level notebook workflows, with the script renderer injected (the language in the
/// shell, a fake in tests).
struct NotebookFiles {
    /// Renders a script's source (named `file`) to a Markdown transcript; false when it failed.
    var render: (_ source: String, _ file: String) -> (markdown: String, ok: Bool)

    /// `ke --notebook OUT.md SCRIPT.ke`: writes the transcript (even when the script fails, so
    /// the error is on record); true when the script ran without error.
    func writeNotebook(scriptPath: String, to outPath: String) throws -> Bool {
        let source = try readScript(scriptPath)
        let (markdown, ok) = render(source, scriptPath)
        try FileSystem.writeAtomically(markdown, to: outPath)
        return ok
    }

    /// `ke --check SCRIPT.ke [--against OUT.md]`: runs the script and compares with `against`
    /// (nil: `SCRIPT.md` beside it). `diff` is empty when they match.
    func check(scriptPath: String, against: String? = nil, tolerance: Tolerance) throws -> (ok: Bool, diff: String) {
        let source = try readScript(scriptPath)
        let transcript = against ?? NotebookRenderer.transcriptPath(for: scriptPath)
        guard let stored = FileSystem.read(transcript) else {
            let create = against.map { "ke --notebook \($0) \(scriptPath)" } ?? "ke --update \(scriptPath)"
            throw ShellError("\(transcript): no transcript to compare with (create it with: \(create))")
        }
        let (markdown, _) = render(source, scriptPath)
        guard let diff = Transcript.diff(expected: stored, actual: markdown, tolerance: tolerance,
                                         expectedName: transcript, actualName: "\(scriptPath) (this run)") else {
            return (true, "")
        }
        return (false, diff)
    }

    /// `ke --update SCRIPT.ke`: rewrites `SCRIPT.md`; true when the script ran without error.
    func update(scriptPath: String) throws -> Bool {
        try writeNotebook(scriptPath: scriptPath, to: NotebookRenderer.transcriptPath(for: scriptPath))
    }

    func readScript(_ path: String) throws -> String {
        guard FileSystem.exists(path), !FileSystem.isDirectory(path), let text = FileSystem.read(path) else {
            throw ShellError("\(path): cannot read the script")
        }
        return text
    }
}
