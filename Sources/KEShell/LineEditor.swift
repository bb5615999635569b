#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CEditLine

// MARK: - State reached from C callbacks

// libedit calls back through plain C function pointers, which cannot capture Swift context.
// The shell has one editor at a time, so the callbacks read these process-wide values.

/// The prompt text returned to libedit (owned, NUL-terminated).
nonisolated(unsafe) private var promptText: UnsafeMutablePointer<CChar>? = strdup("ke> ")
/// Computes completions from the text before the cursor.
nonisolated(unsafe) private var completionProvider: ((String) -> CompletionResult)?

/// Ctrl-C presses not yet handled by the editor (set by the shell's SIGINT handler).
nonisolated(unsafe) var pendingInterrupts: Int32 = 0

/// Reads one character from stdin for libedit, decoding UTF-8 itself.
///
/// libedit's own reader blocks in `read`; a SIGINT arriving just before that call would be
/// missed (the line would not be cleared). This reader waits with `poll` in short slices and
/// checks `pendingInterrupts` between them, so Ctrl-C always ends the line within 0.1 s.
private let readCharCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<wchar_t>?) -> Int32 = { _, out in
    guard let out else { return -1 }
    out.pointee = 0
    var bytes: [UInt8] = []
    var need = 1
    while bytes.count < need {
        if pendingInterrupts != 0 {
            errno = EINTR
            return -1
        }
        var fds = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        let ready = poll(&fds, 1, 100)
        if ready == 0 { continue }
        if ready < 0 {
            if errno == EINTR { continue }
            return -1
        }
        var byte: UInt8 = 0
        let n = read(0, &byte, 1)
        if n == 0 { return 0 }
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { continue }
            return -1
        }
        if !bytes.isEmpty, byte & 0xC0 != 0x80 { bytes.removeAll() }  // broken sequence: start again
        if bytes.isEmpty {
            switch byte {
            case 0x00...0x7F: need = 1
            case 0xC2...0xDF: need = 2
            case 0xE0...0xEF: need = 3
            case 0xF0...0xF4: need = 4
            default: continue  // not a valid first byte: skip it
            }
        }
        bytes.append(byte)
    }
    // Overlong or surrogate encodings decode to U+FFFD, which is inserted as such.
    let scalar = String(decoding: bytes, as: UTF8.self).unicodeScalars.first ?? "\u{FFFD}"
    out.pointee = wchar_t(bitPattern: scalar.value)
    return 1
}

private let promptCallback: @convention(c) (OpaquePointer?) -> UnsafeMutablePointer<CChar>? = { _ in
    promptText
}

private let completeCallback: @convention(c) (OpaquePointer?, Int32) -> UInt8 = { el, _ in
    guard let el, let info = el_line(el), let buffer = info.pointee.buffer,
          let cursor = info.pointee.cursor, let provider = completionProvider else {
        return UInt8(CC_ERROR)
    }
    let count = max(0, cursor - buffer)
    let before = buffer.withMemoryRebound(to: UInt8.self, capacity: count) {
        String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
    }
    let result = provider(before)
    if result.candidates.isEmpty { return UInt8(CC_REFRESH_BEEP) }
    let insertion = result.insertion
    if !insertion.isEmpty {
        return el_insertstr(el, insertion) == 0 ? UInt8(CC_REFRESH) : UInt8(CC_ERROR)
    }
    guard result.candidates.count > 1 else { return UInt8(CC_REFRESH_BEEP) }
    let listing = LineEditor.columns(result.displayCandidates, width: Terminal.width)
    Terminal.write("\n" + listing)
    return UInt8(CC_REDISPLAY)
}

// MARK: - Line editor

/// An interactive line editor over libedit: emacs keys, Ctrl-R history search, Tab completion,
/// persistent history.
final class LineEditor {
    /// What one read produced.
    enum Input: Equatable {
        /// A line (without its newline).
        case line(String)
        /// Ctrl-C was pressed: the line was dropped.
        case interrupted
        /// Ctrl-D on an empty line, or end of input.
        case endOfInput
    }

    private let editor: OpaquePointer
    private let history: OpaquePointer
    /// The history file, or nil when history is not persisted.
    let historyPath: String?

    /// Sets up libedit on the standard streams. `historyPath` is loaded now and saved after each entry.
    init?(program: String = "ke", historyPath: String?, completion: @escaping (String) -> CompletionResult) {
        guard let history = history_init() else { return nil }
        guard let editor = ke_el_init(program) else { history_end(history); return nil }
        self.editor = editor
        self.history = history
        self.historyPath = historyPath
        completionProvider = completion
        ke_history_setsize(history, 2000)
        ke_history_setunique(history, 1)
        ke_el_set_history(editor, history)
        ke_el_set_editor(editor, "emacs")
        ke_el_set_signal(editor, 1)
        ke_el_set_prompt(editor, promptCallback)
        if Terminal.isTTY(0) { ke_el_set_getc(editor, readCharCallback) }
        ke_el_bind_ctrl_r(editor)
        ke_el_set_complete(editor, completeCallback)
        _ = ke_el_source_default(editor)  // ~/.editrc, if any
        if let historyPath {
            if let slash = historyPath.lastIndex(of: "/") {
                FileSystem.makeDirectories(String(historyPath[..<slash]))
            }
            if FileSystem.exists(historyPath) { _ = ke_history_load(history, historyPath) }
        }
    }

    deinit {
        el_end(editor)
        history_end(history)
        completionProvider = nil
    }

    /// The prompt shown by the next `read()`.
    var prompt: String = "ke> " {
        didSet {
            free(promptText)
            promptText = strdup(prompt)
        }
    }

    /// Number of entries in the in-memory history.
    var historyCount: Int { Int(ke_history_count(history)) }

    /// Reads one line with editing.
    func read() -> Input {
        var count: Int32 = 0
        guard let raw = el_gets(editor, &count) else {
            return count < 0 ? .interrupted : .endOfInput
        }
        var line = String(cString: raw)
        while line.hasSuffix("\n") || line.hasSuffix("\r") { line.removeLast() }
        return .line(line)
    }

    /// Adds an entry (possibly several lines) to history once and saves the history file.
    func addHistory(_ entry: String) {
        guard !entry.trimmingSpaces.isEmpty else { return }
        ke_history_enter(history, entry)
        if let historyPath { _ = ke_history_save(history, historyPath) }
    }

    // MARK: Paths

    /// `$XDG_STATE_HOME/ke/history`, else `~/.local/state/ke/history`; nil without a home.
    static func defaultHistoryPath(environment env: [String: String]) -> String? {
        if let state = env["XDG_STATE_HOME"], state.hasPrefix("/") {
            return state + "/ke/history"
        }
        guard let home = env["HOME"] ?? FileSystem.home, !home.isEmpty else { return nil }
        return home + "/.local/state/ke/history"
    }

    // MARK: Listing

    /// Names laid out in columns (filled top to bottom) to fit `width`; each row ends with a newline.
    static func columns(_ names: [String], width: Int, limit: Int = 200) -> String {
        let shown = Array(names.prefix(limit))
        guard !shown.isEmpty else { return "" }
        let cell = (shown.map(\.count).max() ?? 0) + 2
        let perRow = max(1, min(shown.count, max(1, width - 1) / cell))
        let rows = (shown.count + perRow - 1) / perRow
        var out = ""
        for r in 0..<rows {
            var line = ""
            for c in 0..<perRow {
                let i = c * rows + r
                guard i < shown.count else { break }
                let name = shown[i]
                let isLast = c == perRow - 1 || (c + 1) * rows + r >= shown.count
                line += isLast ? name : name + String(repeating: " ", count: cell - name.count)
            }
            out += line + "\n"
        }
        if names.count > shown.count { out += "… \(names.count - shown.count) more\n" }
        return out
    }
}
