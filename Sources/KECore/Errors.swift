/// An error from the core library: a plain message, optionally naming the file it concerns and
/// the line of that file.
///
/// The core never prints. Callers (the language, the shell) add the script position.
public struct CoreError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, phrased for a person (no trailing period needed).
    public var message: String
    /// The file the problem concerns, if any.
    public var file: String?
    /// The 1-based line of `file` the problem is on, if it is on one line (a data file's record).
    public var line: Int?

    public init(_ message: String, file: String? = nil, line: Int? = nil) {
        self.message = message
        self.file = file
        self.line = line
    }

    /// `FILE:LINE: error: MESSAGE` when the line is known (the form compilers use, so editors
    /// jump to it), `FILE: MESSAGE` with only a file, else the message.
    public var description: String {
        if let file, let line { return "\(file):\(line): error: \(message)" }
        if let file { return "\(file): \(message)" }
        return message
    }
}

/// A flag that long loops poll so that Ctrl-C can cancel them cleanly.
public final class Cancellation: @unchecked Sendable {
    /// The process-wide flag set by the shell's SIGINT handler.
    public static let shared = Cancellation()
    private var flag: Int32 = 0
    public init() {}
    /// True once `cancel()` was called and until `reset()`.
    public var isCancelled: Bool { flag != 0 }
    public func cancel() { flag = 1 }
    public func reset() { flag = 0 }
    /// Throws `CoreError("cancelled")` when the flag is set.
    ///
    /// - Throws: `CoreError("cancelled")` when the flag is set.
    public func check() throws {
        if flag != 0 { throw CoreError("cancelled") }
    }
}

/// Reports progress of long work; the shell draws a bar, tests pass nil.
public typealias ProgressHandler = @Sendable (_ done: Int, _ total: Int, _ note: String) -> Void
