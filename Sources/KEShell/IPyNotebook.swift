import KECore
import KELang

// MARK: - Jupyter notebooks (.ipynb)
//
// `ke --notebook OUT.ipynb SCRIPT.ke` writes the script as an nbformat 4.5 notebook for the ke
// kernel: comment prose becomes Markdown cells (as in the Markdown transcript), each top-level
// statement a code cell with its outputs as the kernel shows them (`CellOutput`: streams,
// display data, the execute result, the error). The file is deterministic: keys sorted, one
// space of indentation (as nbformat writes), cell ids numbered, no timestamps, so committed
// notebooks diff cleanly. `--check` compares notebooks by their text: the Markdown transcript
// form of both (`transcript(of:)`), under the transcript's tolerance rules.

/// The outputs of one code cell of a notebook run.
struct NotebookCellRun {
    var outputs: [CellOutput]
    var status: CellStatus
}

enum IPyNotebook {
    /// The notebook's metadata: the ke kernelspec and language.
    static let metadata: JSONValue = .object([
        ("kernelspec", .object([("display_name", .string("ke")), ("language", .string("ke")), ("name", .string("ke"))])),
        ("language_info", .object([("file_extension", .string(".ke")), ("mimetype", .string("text/x-ke")),
                                   ("name", .string("ke"))])),
    ])

    /// The notebook of `chunks` whose code chunks ran with `runs` (in order; a failed run ends
    /// the notebook, as it ends the transcript).
    static func document(chunks: [NotebookChunk], runs: [NotebookCellRun]) -> JSONValue {
        var cells: [JSONValue] = []
        var remaining = runs[...]
        var count = 0
        for chunk in chunks {
            switch chunk {
            case .prose(let text):
                let paragraph = NotebookRenderer.proseText(text)
                if paragraph.isEmpty { continue }
                cells.append(.object([
                    ("cell_type", .string("markdown")), ("id", .string("cell-\(cells.count + 1)")),
                    ("metadata", .object([])), ("source", lines(paragraph)),
                ]))
            case .code(let code, _):
                let source = NotebookRenderer.trimBlankLines(code)
                if source.isEmpty { continue }
                guard let run = remaining.popFirst() else { break }
                count += 1
                cells.append(.object([
                    ("cell_type", .string("code")), ("execution_count", .int(count)),
                    ("id", .string("cell-\(cells.count + 1)")), ("metadata", .object([])),
                    ("outputs", .array(run.outputs.map { output(from: $0, count: count) })), ("source", lines(source)),
                ]))
                if run.status != .ok { return notebook(cells) }
            }
        }
        return notebook(cells)
    }

    static func notebook(_ cells: [JSONValue]) -> JSONValue {
        .object([("cells", .array(cells)), ("metadata", metadata), ("nbformat", .int(4)), ("nbformat_minor", .int(5))])
    }

    /// One output in nbformat's shape.
    static func output(from output: CellOutput, count: Int) -> JSONValue {
        switch output {
        case .stream(let name, let text):
            return .object([("name", .string(name)), ("output_type", .string("stream")), ("text", lines(text))])
        case .display(let bundle):
            return .object([("data", data(bundle)), ("metadata", .object([])), ("output_type", .string("display_data"))])
        case .result(let bundle):
            return .object([("data", data(bundle)), ("execution_count", .int(count)), ("metadata", .object([])),
                            ("output_type", .string("execute_result"))])
        case .error(let e):
            return .object([("ename", .string(KernelServer.errorName)), ("evalue", .string(e.message)),
                            ("output_type", .string("error")),
                            ("traceback", .array(e.formatted.split(separator: "\n", omittingEmptySubsequences: false)
                                .map { .string(String($0)) }))])
        }
    }

    /// A MIME bundle as nbformat stores it: text types as lists of lines, the JSON form as
    /// itself under `MIMEBundle.notebookJSON` (see there why not `application/json`).
    static func data(_ bundle: [(String, JSONValue)]) -> JSONValue {
        .object(MIMEBundle.forNotebook(bundle).map { type, value in
            if type != MIMEBundle.notebookJSON, case .string(let s) = value { return (type, lines(s)) }
            return (type, value)
        })
    }

    /// Text as nbformat's list of lines, each but the last keeping its "\n".
    static func lines(_ text: String) -> JSONValue {
        var out: [JSONValue] = []
        var line = ""
        for c in text.unicodeScalars {
            line.unicodeScalars.append(c)
            if c == "\n" { out.append(.string(line)); line = "" }
        }
        if !line.isEmpty { out.append(.string(line)) }
        return .array(out)
    }

    /// A multiline string as nbformat may store it (a string or a list of strings), joined.
    static func joined(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let s)?: return s
        case .array(let parts)?:
            var out = ""
            for p in parts {
                guard case .string(let s) = p else { return nil }
                out += s
            }
            return out
        default: return nil
        }
    }

    // MARK: Text form

    /// The notebook as a Markdown transcript (prose, code, each code cell's text outputs: the
    /// `text/plain` of its values, its streams and its error traceback), the form `--check`
    /// compares.
    ///
    /// - Throws: `ShellError` naming `file` when the JSON is not an nbformat 4 notebook.
    static func transcript(of notebook: JSONValue, file: String) throws -> String {
        guard case .array(let cells)? = notebook["cells"], notebook["nbformat"]?.intValue == 4 else {
            throw ShellError("\(file): not a Jupyter notebook (nbformat 4 with \"cells\")")
        }
        var blocks: [String] = []
        for (i, cell) in cells.enumerated() {
            guard let type = cell["cell_type"]?.stringValue, let source = joined(cell["source"]) else {
                throw ShellError("\(file): cell \(i + 1) has no cell_type or source")
            }
            switch type {
            case "markdown":
                let text = NotebookRenderer.trimBlankLines(source)
                if !text.isEmpty { blocks.append(text) }
            case "code":
                blocks.append(NotebookRenderer.fenced(NotebookRenderer.trimBlankLines(source), info: "ke"))
                var text = ""
                for output in cell["outputs"]?.arrayValue ?? [] {
                    var piece: String?
                    switch output["output_type"]?.stringValue {
                    case "stream"?: piece = joined(output["text"])
                    case "display_data"?, "execute_result"?: piece = joined(output["data"]?[MIMEBundle.plainText])
                    case "error"?: piece = output["traceback"]?.arrayValue?.compactMap(\.stringValue).joined(separator: "\n")
                    default: piece = nil
                    }
                    if let piece { text += piece.hasSuffix("\n") ? piece : piece + "\n" }
                }
                let output = NotebookRenderer.trimBlankLines(text)
                if !output.isEmpty { blocks.append(NotebookRenderer.fenced(output, info: "text")) }
            default:
                continue
            }
        }
        return blocks.joined(separator: "\n\n") + "\n"
    }

    // MARK: Writing

    /// The notebook as nbformat writes it (`json.dumps(nb, sort_keys=True, indent=1,
    /// ensure_ascii=False)` and a final newline): keys sorted, one space per level.
    static func serialized(_ notebook: JSONValue) -> String {
        var out = ""
        write(notebook, indent: 0, into: &out)
        return out + "\n"
    }

    private static func write(_ value: JSONValue, indent: Int, into out: inout String) {
        let inner = String(repeating: " ", count: indent + 1)
        switch value {
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += inner
                write(item, indent: indent + 1, into: &out)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case .object(let pairs) where !pairs.isEmpty:
            out += "{\n"
            let sorted = pairs.sorted { Array($0.0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.0.unicodeScalars.map(\.value)) }
            for (i, (key, item)) in sorted.enumerated() {
                out += inner
                JSONValue.quote(key, into: &out)
                out += ": "
                write(item, indent: indent + 1, into: &out)
                out += i + 1 < sorted.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        default:
            out += value.serialized()
        }
    }
}
