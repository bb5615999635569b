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

    /// `ke --check SCRIPT.ke`: runs the script and compares with `SCRIPT.md`. `diff` is empty
    /// when they match.
    func check(scriptPath: String, tolerance: Tolerance) throws -> (ok: Bool, diff: String) {
        let source = try readScript(scriptPath)
        let transcript = NotebookRenderer.transcriptPath(for: scriptPath)
        guard let stored = FileSystem.read(transcript) else {
            throw ShellError("\(transcript): no transcript to compare with (create it with: ke --update \(scriptPath))")
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
