#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KECore
import KELang

// MARK: - The kernel's stdio protocol
//
// `ke --kernel-stdio` is the ke side of the Jupyter kernel: a persistent session (variables
// persist across requests, the working directory is the process's) that reads one JSON request
// per line on stdin and answers with JSON lines on stdout, each flushed. The Python wrapper
// (Scripts/jupyter/ke_kernel.py, on ipykernel) maps the lines to Jupyter messages.
//
// Requests carry "id" (a string, echoed in every answer line) and "type":
//
//     execute      {code}          → stream*, display*, result?, error?, then done
//     complete     {code, cursor}  → complete {matches, cursor_start, cursor_end}, then done
//     inspect      {code, cursor}  → inspect {found, data: {"text/plain": …}}, then done
//     is_complete  {code}          → is_complete {status, indent}, then done
//     shutdown                     → done, then exit 0 (end of input also exits 0)
//
// Every request ends with exactly one {"type":"done","status":"ok"|"error"|"aborted"}. Cursors
// count Unicode code points (Jupyter's convention). A malformed line gets an error line (its id,
// or null) and done with status "error". SIGINT while a request executes cancels it (as Ctrl-C
// does in the shell): error "interrupted", done "aborted", and the session lives on; SIGINT while
// idle is ignored.

/// 1 while a request executes (SIGINT then cancels it).
nonisolated(unsafe) private var kernelExecuting: Int32 = 0

private let kernelInterruptHandler: @convention(c) (Int32) -> Void = { _ in
    if kernelExecuting != 0 { Cancellation.shared.cancel() }
}

/// Answers protocol requests on one session.
final class KernelServer {
    /// The file name errors in cells report.
    static let cellFile = "<cell>"
    /// The error name of every error line.
    static let errorName = "ke error"

    let runner: CellRunner
    /// Writes one answer line (without its newline).
    private let send: (String) -> Void

    init(options: SessionOptions = Notebook.sessionOptions, send: @escaping (String) -> Void) {
        self.runner = CellRunner(options: options)
        self.send = send
    }

    var session: Session { runner.session }

    /// Handles one request line; false after `shutdown` (the caller then exits). Blank lines
    /// are ignored.
    @discardableResult
    func handle(_ line: String) -> Bool {
        if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { return true }
        let request: JSONValue
        do { request = try JSONValue.parse(line) } catch {
            return fail(id: .null, "malformed request: not JSON (\(error))")
        }
        guard case .object = request else { return fail(id: .null, "malformed request: not a JSON object") }
        guard case .string(let idText)? = request["id"] else {
            return fail(id: request["id"] ?? .null, "malformed request: \"id\" must be a string")
        }
        let id = JSONValue.string(idText)
        guard let type = request["type"]?.stringValue else {
            return fail(id: id, "malformed request: \"type\" must be a string")
        }
        func code() -> String? { request["code"]?.stringValue }
        /// The cursor (code points), clamped to the code; the code's end when absent.
        func cursor(in code: String) -> Int? {
            let length = code.unicodeScalars.count
            guard let c = request["cursor"] else { return length }
            guard let n = c.intValue else { return nil }
            return max(0, min(n, length))
        }
        switch type {
        case "execute":
            guard let code = code() else { return fail(id: id, "malformed request: execute needs \"code\", a string") }
            execute(id: id, code: code)
        case "complete":
            guard let code = code(), let at = cursor(in: code) else {
                return fail(id: id, "malformed request: complete needs \"code\", a string, and \"cursor\", an integer")
            }
            complete(id: id, code: code, cursor: at)
        case "inspect":
            guard let code = code(), let at = cursor(in: code) else {
                return fail(id: id, "malformed request: inspect needs \"code\", a string, and \"cursor\", an integer")
            }
            inspect(id: id, code: code, cursor: at)
        case "is_complete":
            guard let code = code() else { return fail(id: id, "malformed request: is_complete needs \"code\", a string") }
            answer(id, "is_complete", [("status", .string(Syntax.inputStatus(code).rawValue)), ("indent", .string(""))])
            done(id, .ok)
        case "shutdown":
            done(id, .ok)
            return false
        default:
            return fail(id: id, "malformed request: unknown type '\(type)'"
                        + Diagnostics.suggestion(type, in: ["execute", "complete", "inspect", "is_complete", "shutdown"]))
        }
        return true
    }

    // MARK: Requests

    /// Runs the cell, streaming its outputs.
    func execute(id: JSONValue, code: String) {
        kernelExecuting = 1
        let status = runner.run(code, file: KernelServer.cellFile) { [self] output in
            switch output {
            case .stream(let name, let text):
                answer(id, "stream", [("name", .string(name)), ("text", .string(text))])
            case .display(let bundle):
                answer(id, "display", [("data", .object(bundle))])
            case .result(let bundle):
                answer(id, "result", [("data", .object(bundle))])
            case .error(let e):
                answer(id, "error", [
                    ("ename", .string(KernelServer.errorName)), ("message", .string(e.message)),
                    ("line", e.line.map { .int($0) } ?? .null), ("column", e.column.map { .int($0) } ?? .null),
                    ("caret", .string(e.caret)), ("traceback", .array([.string(e.formatted)])),
                ])
            }
        }
        kernelExecuting = 0
        Cancellation.shared.reset()
        done(id, status)
    }

    /// The shell's Tab completion of the text before the cursor.
    func complete(id: JSONValue, code: String, cursor: Int) {
        let before = String(String.UnicodeScalarView(code.unicodeScalars.prefix(cursor)))
        let result = Completion.complete(before: before, sources: SessionEngine(session).completionSources())
        answer(id, "complete", [
            ("matches", .array(result.candidates.map { .string($0) })),
            ("cursor_start", .int(cursor - result.word.unicodeScalars.count)), ("cursor_end", .int(cursor)),
        ])
        done(id, .ok)
    }

    /// `help NAME` for a command name at the cursor; a variable's type and value for a variable.
    func inspect(id: JSONValue, code: String, cursor: Int) {
        let word = KernelServer.word(in: code, at: cursor)
        var text: String?
        if !word.isEmpty, CommandRegistry.spec(word) != nil {
            var help = ""
            let scratch = Session(options: session.options, output: { help += $0 + "\n" }, errorOutput: { _ in })
            if scratch.run("help \(word)", file: "<help>") { text = help }
        } else if !word.isEmpty, let value = session.value(of: word) {
            text = "\(word): \(value.typeName)\n" + KernelServer.clipped(session.render(value)) + "\n"
        }
        answer(id, "inspect", [("found", .bool(text != nil)),
                               ("data", .object(text.map { [(MIMEBundle.plainText, .string($0))] } ?? []))])
        done(id, .ok)
    }

    /// Longest inspection of a variable, in lines (a long list prints one element a line).
    static let inspectLines = 200

    /// `text` cut to `inspectLines` lines, the cut said.
    static func clipped(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > inspectLines else { return text }
        return lines.prefix(inspectLines).joined(separator: "\n") + "\n… (\(lines.count - inspectLines) more lines)"
    }

    /// The identifier around `cursor` (code points), or "".
    static func word(in code: String, at cursor: Int) -> String {
        let scalars = Array(code.unicodeScalars)
        func isWordScalar(_ u: Unicode.Scalar) -> Bool { u == "_" || u.properties.isAlphabetic || ("0"..."9").contains(u) }
        var start = min(max(cursor, 0), scalars.count), end = start
        while start > 0, isWordScalar(scalars[start - 1]) { start -= 1 }
        while end < scalars.count, isWordScalar(scalars[end]) { end += 1 }
        return String(String.UnicodeScalarView(scalars[start..<end]))
    }

    // MARK: Answers

    private func answer(_ id: JSONValue, _ type: String, _ fields: [(String, JSONValue)]) {
        send(JSONValue.object([("id", id), ("type", .string(type))] + fields).serialized())
    }

    private func done(_ id: JSONValue, _ status: CellStatus) {
        answer(id, "done", [("status", .string(status.rawValue))])
    }

    /// A protocol error: an error line and done with status "error". Returns true (go on).
    private func fail(id: JSONValue, _ message: String) -> Bool {
        answer(id, "error", [
            ("ename", .string(KernelServer.errorName)), ("message", .string(message)), ("line", .null), ("column", .null),
            ("caret", .string("")), ("traceback", .array([.string("ke: \(message)")])),
        ])
        done(id, .error)
        return true
    }
}

/// `ke --kernel-stdio`.
public enum Kernel {
    /// Serves requests from stdin until `shutdown` or end of input; returns the exit status (0).
    public static func runStdio() -> Int32 {
        installInterruptHandler()
        let server = KernelServer { line in Terminal.write(line + "\n", to: 1) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                if !server.handle(line) { return 0 }
            }
            let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            buffer.append(contentsOf: chunk[0..<n])
        }
        // A last line without a newline still counts.
        if !buffer.isEmpty { server.handle(String(decoding: buffer, as: UTF8.self)) }
        return 0
    }

    /// SIGINT cancels the executing request and is ignored otherwise (`SA_RESTART`: reads go on).
    private static func installInterruptHandler() {
        installSIGINTHandler(kernelInterruptHandler, restartingReads: true)
    }
}
