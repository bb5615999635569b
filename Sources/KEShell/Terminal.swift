#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Facts about the terminal the shell runs in: width, whether a stream is a terminal, colour, UTF-8.
public enum Terminal {
    // MARK: Streams

    /// True when file descriptor `fd` is a terminal.
    public static func isTTY(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// True when standard input and standard output are both terminals (an interactive session).
    public static var isInteractive: Bool { isTTY(0) && isTTY(1) }

    // MARK: Width

    /// The width in columns: the terminal's (`TIOCGWINSZ` on stdout, then stderr), then `$COLUMNS`, then 80.
    public static var width: Int {
        for fd: Int32 in [1, 2] {
            if let w = ioctlWidth(fd) { return w }
        }
        return width(environment: environment)
    }

    /// The width from the environment alone: `COLUMNS` when it is a sensible number, else 80.
    static func width(environment env: [String: String]) -> Int {
        if let text = env["COLUMNS"], let w = Int(text.trimmingSpaces), w >= 10, w <= 10_000 { return w }
        return 80
    }

    /// The width of the terminal on `fd`, or nil when it is not a terminal or reports 0.
    static func ioctlWidth(_ fd: Int32) -> Int? {
        guard isTTY(fd) else { return nil }
        var size = winsize()
        #if canImport(Glibc)
        let request = UInt(TIOCGWINSZ)
        #else
        let request = TIOCGWINSZ
        #endif
        guard ioctl(fd, request, &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    // MARK: Colour and glyphs

    /// Colour is used when stdout is a terminal and `NO_COLOR` is unset or empty (https://no-color.org).
    public static var colorAllowed: Bool { colorAllowed(isTTY: isTTY(1), environment: environment) }

    static func colorAllowed(isTTY: Bool, environment env: [String: String]) -> Bool {
        guard isTTY else { return false }
        if let v = env["NO_COLOR"], !v.isEmpty { return false }
        if env["TERM"] == "dumb" { return false }
        return true
    }

    /// True when the locale (`LC_ALL`, else `LC_CTYPE`, else `LANG`) names UTF-8, so braille and
    /// block glyphs may be drawn; otherwise charts and bars use ASCII.
    public static var supportsUTF8: Bool { supportsUTF8(environment: environment) }

    static func supportsUTF8(environment env: [String: String]) -> Bool {
        for key in ["LC_ALL", "LC_CTYPE", "LANG"] {
            if let v = env[key], !v.isEmpty {
                let lower = v.lowercased()
                return lower.contains("utf-8") || lower.contains("utf8")
            }
        }
        return false
    }

    // MARK: Environment

    /// The process environment as a dictionary.
    static var environment: [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                result[String(s[..<eq])] = String(s[s.index(after: eq)...])
            }
            p += 1
        }
        return result
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\n" || c == "\r" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" || c == "\r" { s.removeLast() }
        return String(s)
    }
}

extension Terminal {
    /// Writes `text` to file descriptor `fd` unbuffered (1: stdout, 2: stderr), retrying short writes.
    public static func write(_ text: String, to fd: Int32 = 1) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBufferPointer { buf in
                #if canImport(Glibc)
                Glibc.write(fd, buf.baseAddress! + offset, buf.count - offset)
                #else
                Darwin.write(fd, buf.baseAddress! + offset, buf.count - offset)
                #endif
            }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }
}
