import KECore
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
        let both = renderBoth(script: script, file: file)
        return (both.markdown, both.ok)
    }

    /// Runs `script` (named `file` in messages) once in a fresh session and renders both its
    /// Markdown transcript and its Jupyter notebook (`IPyNotebook`, serialized).
    public static func renderBoth(script: String, file: String) -> (markdown: String, notebook: String, ok: Bool) {
        let runner = CellRunner(options: sessionOptions)
        let name = NotebookRenderer.baseName(file)
        let chunks = Syntax.chunks(script).map { chunk -> NotebookChunk in
            switch chunk {
            case .prose(let text): return .prose(text)
            case .code(let code, let line): return .code(code, line: line)
            }
        }
        var runs: [NotebookCellRun] = []
        let (markdown, ok) = NotebookRenderer.render(chunks: chunks, scriptName: name) { code, line in
            var outputs: [CellOutput] = []
            let status = runner.run(code, file: name, firstLine: line) { outputs.append($0) }
            // The notebook's cells say where a message is as the kernel does: `<cell>:LINE:COL`
            // within the cell; the transcript keeps the script's own lines.
            runs.append(NotebookCellRun(outputs: outputs.map { $0.cellRelative(file: name, firstLine: line) },
                                        status: status))
            let text = outputs.map { o in o.plainText.hasSuffix("\n") ? o.plainText : o.plainText + "\n" }.joined()
            return (text, status == .ok)
        }
        return (markdown, IPyNotebook.serialized(IPyNotebook.document(chunks: chunks, runs: runs)), ok)
    }

    /// The file workflows on the language.
    static var files: NotebookFiles {
        NotebookFiles(render: { source, file in render(script: source, file: file) },
                      renderBoth: { source, file in renderBoth(script: source, file: file) })
    }

    /// `--notebook`: writes the transcript of `scriptPath` to `outPath` (atomically), or its
    /// Jupyter notebook when `outPath` ends in `.ipynb`; true when the script ran without error
    /// (the file is written either way).
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

    /// `--update`: rewrites `SCRIPT.md`, and `SCRIPT.ipynb` when it exists; true when the script
    /// ran without error.
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
                Terminal.write("\(scriptPath): transcript differs from \(against ?? files.checkedPaths(for: scriptPath).joined(separator: " or ")) (\(rewrite) rewrites it)\n", to: 2)
                return 1
            case .update:
                let ok = try update(scriptPath: scriptPath)
                let path = files.checkedPaths(for: scriptPath).joined(separator: " and ")
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
        sibling(of: scriptPath, extension: ".md")
    }

    /// The Jupyter notebook stored beside a script: `dir/name.ke` → `dir/name.ipynb`.
    static func notebookPath(for scriptPath: String) -> String {
        sibling(of: scriptPath, extension: ".ipynb")
    }

    static func sibling(of scriptPath: String, extension ext: String) -> String {
        if scriptPath.hasSuffix(".ke") { return String(scriptPath.dropLast(3)) + ext }
        return scriptPath + ext
    }

    /// True for a path that names a Jupyter notebook (`.ipynb`).
    static func isIPyNotebook(_ path: String) -> Bool { path.hasSuffix(".ipynb") }

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
    /// Renders both the transcript and the Jupyter notebook from one run (nil: notebooks are
    /// not available, e.g. with a fake renderer).
    var renderBoth: ((_ source: String, _ file: String) -> (markdown: String, notebook: String, ok: Bool))? = nil

    /// `ke --notebook OUT.md SCRIPT.ke` (or `OUT.ipynb`): writes the transcript or the notebook
    /// (even when the script fails, so the error is on record); true when the script ran
    /// without error.
    func writeNotebook(scriptPath: String, to outPath: String) throws -> Bool {
        let source = try readScript(scriptPath)
        if NotebookRenderer.isIPyNotebook(outPath) {
            let (_, notebook, ok) = try both(source, scriptPath)
            try FileSystem.writeAtomically(notebook, to: outPath)
            return ok
        }
        let (markdown, ok) = render(source, scriptPath)
        try FileSystem.writeAtomically(markdown, to: outPath)
        return ok
    }

    /// The files `--check` and `--update` use beside a script: `SCRIPT.md`, and `SCRIPT.ipynb`
    /// when it exists (and notebooks are available).
    func checkedPaths(for scriptPath: String) -> [String] {
        let notebook = NotebookRenderer.notebookPath(for: scriptPath)
        return [NotebookRenderer.transcriptPath(for: scriptPath)]
            + (renderBoth != nil && FileSystem.exists(notebook) ? [notebook] : [])
    }

    /// `ke --check SCRIPT.ke [--against OUT.md | OUT.ipynb]`: runs the script once and compares
    /// with `against` (nil: `SCRIPT.md` beside it, and `SCRIPT.ipynb` when it exists). A notebook
    /// is compared by its text outputs (`IPyNotebook.transcript(of:)`). `diff` is empty when
    /// they all match.
    ///
    /// - Throws: `ShellError` when the script or a stored file cannot be read, or a notebook is
    ///   not valid nbformat 4 JSON.
    func check(scriptPath: String, against: String? = nil, tolerance: Tolerance) throws -> (ok: Bool, diff: String) {
        let source = try readScript(scriptPath)
        let paths = against.map { [$0] } ?? checkedPaths(for: scriptPath)
        var stored: [String] = []
        for path in paths {
            guard let text = FileSystem.read(path) else {
                let create = against.map { "ke --notebook \($0) \(scriptPath)" } ?? "ke --update \(scriptPath)"
                throw ShellError("\(path): no transcript to compare with (create it with: \(create))")
            }
            stored.append(text)
        }
        let fresh: (markdown: String, notebook: String?)
        if paths.contains(where: NotebookRenderer.isIPyNotebook) {
            let (markdown, notebook, _) = try both(source, scriptPath)
            fresh = (markdown, notebook)
        } else {
            fresh = (render(source, scriptPath).markdown, nil)
        }
        var diffs: [String] = []
        for (path, text) in zip(paths, stored) {
            let expected: String, actual: String
            if NotebookRenderer.isIPyNotebook(path), let notebook = fresh.notebook {
                expected = try IPyNotebook.transcript(of: parseNotebook(text, file: path), file: path)
                actual = try IPyNotebook.transcript(of: parseNotebook(notebook, file: path), file: "\(scriptPath) (this run)")
            } else {
                expected = text
                actual = fresh.markdown
            }
            if let diff = Transcript.diff(expected: expected, actual: actual, tolerance: tolerance,
                                          expectedName: path, actualName: "\(scriptPath) (this run)") {
                diffs.append(diff)
            }
        }
        return diffs.isEmpty ? (true, "") : (false, diffs.joined())
    }

    /// `ke --update SCRIPT.ke`: rewrites `SCRIPT.md`, and `SCRIPT.ipynb` when it exists, from one
    /// run; true when the script ran without error.
    func update(scriptPath: String) throws -> Bool {
        let paths = checkedPaths(for: scriptPath)
        guard paths.count > 1 else {
            return try writeNotebook(scriptPath: scriptPath, to: NotebookRenderer.transcriptPath(for: scriptPath))
        }
        let (markdown, notebook, ok) = try both(try readScript(scriptPath), scriptPath)
        try FileSystem.writeAtomically(markdown, to: paths[0])
        try FileSystem.writeAtomically(notebook, to: paths[1])
        return ok
    }

    private func both(_ source: String, _ file: String) throws -> (markdown: String, notebook: String, ok: Bool) {
        guard let renderBoth else { throw ShellError("\(file): Jupyter notebooks are not available here") }
        return renderBoth(source, file)
    }

    private func parseNotebook(_ text: String, file: String) throws -> JSONValue {
        do { return try JSONValue.parse(text) } catch {
            throw ShellError("\(file): not a Jupyter notebook: invalid JSON (\(error))")
        }
    }

    func readScript(_ path: String) throws -> String {
        guard FileSystem.exists(path), !FileSystem.isDirectory(path), let text = FileSystem.read(path) else {
            throw ShellError("\(path): cannot read the script")
        }
        return text
    }
}
