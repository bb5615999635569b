import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process on a pseudo-terminal, driven like a person at a keyboard.
final class PTY {
    let master: Int32
    let pid: pid_t
    /// Everything read from the terminal so far.
    private(set) var bytes: [UInt8] = []
    /// Offset in `bytes` from which `expect` searches.
    private var mark = 0
    private var exitStatus: Int32?

    private init(master: Int32, pid: pid_t) {
        self.master = master
        self.pid = pid
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        close(master)
    }

    /// Runs `body` in a forked child on a new terminal; the child exits with its return value.
    static func fork(columns: UInt16 = 80, _ body: () -> Int32) -> PTY? {
        var master: Int32 = -1
        var size = winsize(ws_row: 24, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        let pid = forkpty(&master, nil, nil, &size)
        if pid < 0 { return nil }
        if pid == 0 { _exit(body()) }
        return PTY(master: master, pid: pid)
    }

    /// Starts `path` with `arguments` and exactly `environment` on a new terminal.
    static func spawn(_ path: String, _ arguments: [String], environment: [String: String]) -> PTY? {
        // Prepare C strings before forking: the child only calls exec.
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        return fork {
            execve(path, argv, envp)
            return 127
        }
    }

    // MARK: Talking

    /// Types `text` (control characters included, e.g. "\u{3}" for Ctrl-C).
    func send(_ text: String) {
        let data = Array(text.utf8)
        _ = data.withUnsafeBufferPointer { write(master, $0.baseAddress, $0.count) }
    }

    /// Reads until the text after the last match contains `needle` (escape sequences and carriage
    /// returns removed); true when found within `timeout` seconds. Moves the mark past the match.
    @discardableResult
    func expect(_ needle: String, timeout: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let (clean, origin) = PTY.cleanMapped(Array(bytes[mark...]))
            let text = String(decoding: clean, as: UTF8.self)
            if let range = text.range(of: needle) {
                let end = text.utf8.distance(from: text.utf8.startIndex, to: range.upperBound)
                if end > 0, end <= origin.count { mark += origin[end - 1] + 1 }
                return true
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 || !readSome(timeout: left) { return false }
        }
    }

    /// Waits for a prompt, then a little longer: libedit prints the prompt just before it puts the
    /// terminal in raw mode, and control keys typed in between would reach the cooked terminal.
    @discardableResult
    func expectPrompt(_ prompt: String, timeout: Double = 5) -> Bool {
        guard expect(prompt, timeout: timeout) else { return false }
        usleep(30_000)
        return true
    }

    /// Reads whatever arrives within `timeout` seconds; false on timeout or end of output.
    @discardableResult
    func readSome(timeout: Double) -> Bool {
        var fds = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        let ready = poll(&fds, 1, Int32(max(1, timeout * 1000)))
        guard ready > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(master, &buffer, buffer.count)
        guard n > 0 else { return false }
        bytes.append(contentsOf: buffer[0..<n])
        return true
    }

    /// Everything read so far, cleaned.
    var text: String { PTY.clean(bytes) }

    /// Waits for the child to exit (reading its output meanwhile); its exit status, or nil on timeout.
    func waitForExit(timeout: Double = 5) -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                while readSome(timeout: 0.05) {}
                let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                exitStatus = code
                return code
            }
            readSome(timeout: 0.05)
        }
        return nil
    }

    /// Terminal output without ANSI escape sequences, carriage returns and bell characters.
    static func clean(_ bytes: [UInt8]) -> String {
        String(decoding: cleanMapped(bytes).bytes, as: UTF8.self)
    }

    /// The cleaned bytes and, for each, its index in `bytes`.
    static func cleanMapped(_ bytes: [UInt8]) -> (bytes: [UInt8], origin: [Int]) {
        var out: [UInt8] = []
        var origin: [Int] = []
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x1B {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "[") {
                    i += 1
                    while i < bytes.count, !(0x40...0x7E).contains(bytes[i]) { i += 1 }
                }
                i += 1
                continue
            }
            if b != UInt8(ascii: "\r") && b != 0x07 { out.append(b); origin.append(i) }
            i += 1
        }
        return (out, origin)
    }
}
