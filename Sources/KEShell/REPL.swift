#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KECore

// MARK: - Interrupts

/// 1 while a statement runs (Ctrl-C then cancels it instead of clearing the line).
nonisolated(unsafe) private var commandRunning: Int32 = 0

private let sigintHandler: @convention(c) (Int32) -> Void = { _ in
    if commandRunning != 0 {
        if Cancellation.shared.isCancelled {
            // A second Ctrl-C while the first has not been honoured yet: leave now.
            let message = "\ninterrupted\n"
            _ = message.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
            _exit(130)
        }
        Cancellation.shared.cancel()
    } else {
        pendingInterrupts &+= 1
    }
}

/// Installs the SIGINT handler without `SA_RESTART`, so a blocking read returns at once.
private func installInterruptHandler() {
    installSIGINTHandler(sigintHandler, restartingReads: false)
}

/// Installs `handler` for SIGINT (the shell's and the kernel's one way to do it). With
/// `restartingReads` (`SA_RESTART`) a blocking read goes on after the signal; without, it
/// returns at once with EINTR.
func installSIGINTHandler(_ handler: @convention(c) (Int32) -> Void, restartingReads: Bool) {
    _ = Cancellation.shared  // initialise the singleton before a signal can reach it
    var action = sigaction()
    #if canImport(Glibc)
    action.__sigaction_handler.sa_handler = handler
    #else
    action.__sigaction_u.__sa_handler = handler
    #endif
    sigemptyset(&action.sa_mask)
    action.sa_flags = restartingReads ? SA_RESTART : 0
    sigaction(SIGINT, &action, nil)
}

// MARK: - Engine

/// What the loop needs from the language (a `Session` in the shell, a fake in tests).
protocol ShellEngine: AnyObject {
    /// Runs one entry; prints its results and errors itself; false on error.
    func run(_ source: String, firstLine: Int) -> Bool
    /// True when `source` is incomplete (open bracket or string) and another line should be read.
    func needsContinuation(_ source: String) -> Bool
    /// Names for Tab completion (commands, keywords and the current variables).
    func completionSources() -> CompletionSources
}

// MARK: - REPL

/// The interactive read–eval–print loop: `ke> ` prompt, `..> ` for continuation lines.
public enum REPL {
    /// Prompt for a new entry.
    static let prompt = "ke> "
    /// Prompt while an entry is incomplete.
    static let continuationPrompt = "..> "

    /// Runs the loop on `engine` until Ctrl-D or end of input; returns the exit status (0).
    static func run(engine: ShellEngine, welcome: String?, environment: [String: String] = Terminal.environment) -> Int32 {
        setUTF8Locale()
        let interactive = Terminal.isTTY(0)
        let historyPath = interactive ? LineEditor.defaultHistoryPath(environment: environment) : nil
        guard let editor = LineEditor(historyPath: historyPath, completion: { [engine] before in
            Completion.complete(before: before, sources: engine.completionSources())
        }) else {
            writeError("ke: cannot start the line editor\n")
            return 1
        }
        installInterruptHandler()
        if interactive, let welcome { writeOut(welcome + "\n") }

        var entry: [String] = []
        var nextLine = 1  // line number of the next line read, across the whole session
        var entryFirstLine = 1
        while true {
            editor.prompt = entry.isEmpty ? prompt : continuationPrompt
            pendingInterrupts = 0
            switch editor.read() {
            case .endOfInput:
                if interactive { writeOut("\n") }
                return 0
            case .interrupted:
                // Ctrl-C at the prompt: drop the line (and any unfinished entry), keep the session.
                entry.removeAll()
                writeOut("\n")
                continue
            case .line(let line):
                if entry.isEmpty {
                    entryFirstLine = nextLine
                    if line.trimmingSpaces.isEmpty { nextLine += 1; continue }
                    if line.trimmingSpaces == "exit" || line.trimmingSpaces == "quit" { return 0 }
                }
                nextLine += 1 + line.reduce(0) { $1 == "\n" ? $0 + 1 : $0 }  // a recalled entry may span lines
                entry.append(line)
                let source = entry.joined(separator: "\n")
                if engine.needsContinuation(source) { continue }
                entry.removeAll()
                editor.addHistory(source)
                Cancellation.shared.reset()
                commandRunning = 1
                _ = engine.run(source, firstLine: entryFirstLine)
                commandRunning = 0
                Cancellation.shared.reset()
            }
        }
    }

    /// Makes the C library decode UTF-8 input: the user's locale, or C.UTF-8 when that is not UTF-8.
    static func setUTF8Locale() {
        if let name = setlocale(LC_CTYPE, ""), isUTF8(String(cString: name)) { return }
        if setlocale(LC_CTYPE, "C.UTF-8") != nil { return }
        _ = setlocale(LC_CTYPE, "en_US.UTF-8")
    }

    static func isUTF8(_ locale: String) -> Bool {
        let lower = locale.lowercased()
        return lower.contains("utf-8") || lower.contains("utf8")
    }

    static func writeOut(_ text: String) { Terminal.write(text, to: 1) }

    static func writeError(_ text: String) { Terminal.write(text, to: 2) }
}
