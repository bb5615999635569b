#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KECore

/// A progress bar on stderr: `label [██████░░░░]  42%  1234/2900  310.5/s  loss 2.31`.
///
/// Draws only when stderr is a terminal, at most 20 times a second, and clears its line when the
/// work is done (or when `finish()` is called). Thread-safe: the handler may be called from any thread.
public final class ProgressBar: @unchecked Sendable {
    // MARK: Configuration

    /// Text before the bar.
    public let label: String
    /// Minimum seconds between two redraws (0.05 → at most 20 redraws per second).
    public let minInterval: Double
    /// Where the bar is written; nil draws nothing.
    private let sink: ((String) -> Void)?
    private let widthProvider: () -> Int
    private let unicode: Bool
    private let clock: () -> Double

    // MARK: State (guarded by `lock`)

    private var lock = pthread_mutex_t()
    private var startTime: Double?
    private var lastDraw = -Double.infinity
    private var drawn = false
    private var lastDone = 0
    /// Number of redraws so far (for tests).
    public private(set) var redraws = 0

    /// A bar on stderr when stderr is a terminal, else a bar that draws nothing.
    public convenience init(label: String = "") {
        let tty = Terminal.isTTY(2)
        self.init(label: label,
                  sink: tty ? { text in
                      let bytes = Array(text.utf8)
                      bytes.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count) }
                  } : nil,
                  width: { Terminal.ioctlWidth(2) ?? Terminal.width },
                  unicode: Terminal.supportsUTF8)
    }

    /// A bar writing to `sink` (nil: silent), with a given width source and glyph set.
    public init(label: String, sink: ((String) -> Void)?, width: @escaping () -> Int = { 80 },
                unicode: Bool = false, minInterval: Double = 0.05,
                clock: @escaping () -> Double = ProgressBar.monotonicSeconds) {
        self.label = label
        self.sink = sink
        self.widthProvider = width
        self.unicode = unicode
        self.minInterval = minInterval
        self.clock = clock
        pthread_mutex_init(&lock, nil)
    }

    deinit { pthread_mutex_destroy(&lock) }

    /// The handler to pass to core functions.
    public var handler: ProgressHandler {
        { [self] done, total, note in self.update(done: done, total: total, note: note) }
    }

    /// Records progress; redraws when enough time has passed; clears the line once `done >= total`.
    public func update(done: Int, total: Int, note: String) {
        guard let sink else { return }
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let now = clock()
        // A new piece of work (the count went back) restarts the rate.
        if startTime == nil || done < lastDone { startTime = now; lastDraw = -Double.infinity }
        lastDone = done
        if total > 0, done >= total {
            if drawn { sink("\r\u{1B}[K") }
            drawn = false
            startTime = nil
            lastDone = 0
            return
        }
        guard now - lastDraw >= minInterval - 1e-9 else { return }
        lastDraw = now
        let elapsed = now - (startTime ?? now)
        let line = ProgressBar.render(label: label, done: done, total: total, note: note,
                                      elapsed: elapsed, width: widthProvider(), unicode: unicode)
        sink("\r" + line + "\u{1B}[K")
        drawn = true
        redraws += 1
    }

    /// Clears the bar if it is shown (call when the work ends early, e.g. on error).
    public func finish() {
        guard let sink else { return }
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if drawn { sink("\r\u{1B}[K") }
        drawn = false
        startTime = nil
        lastDone = 0
    }

    // MARK: Rendering

    /// One line of at most `width - 1` characters (the last column is left free so the terminal
    /// never wraps).
    static func render(label: String, done: Int, total: Int, note: String, elapsed: Double,
                       width: Int, unicode: Bool) -> String {
        let fraction = total > 0 ? min(1, max(0, Double(done) / Double(total))) : 0
        let percent = Int((fraction * 100).rounded(.down))
        var tail = "\(pad(String(percent), 3))%"
        if total > 0 { tail += "  \(done)/\(total)" }
        if elapsed > 0, done > 0 { tail += "  " + formatRate(Double(done) / elapsed) + "/s" }
        if !note.isEmpty { tail += "  " + note }
        let head = label.isEmpty ? "" : label + " "
        let room = max(0, width - 1)
        let barWidth = min(40, room - head.count - tail.count - 3)
        var line = head
        if barWidth >= 5 {
            let filled = Int((fraction * Double(barWidth)).rounded(.down))
            let on = unicode ? "█" : "#"
            let off = unicode ? "░" : "-"
            line += "[" + String(repeating: on, count: filled)
                + String(repeating: off, count: barWidth - filled) + "] "
        }
        line += tail
        if line.count > room { line = String(line.prefix(room)) }
        return line
    }

    static func formatRate(_ rate: Double) -> String {
        guard rate.isFinite else { return "-" }
        if rate >= 100 { return String(Int(rate.rounded())) }
        let tenths = (rate * 10).rounded() / 10
        return String(tenths)
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }

    /// Seconds from a monotonic clock.
    public static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// Progress handlers for the shell.
public enum Progress {
    /// A handler drawing a bar on stderr, or nil when stderr is not a terminal.
    public static func handler(label: String = "") -> ProgressHandler? {
        guard Terminal.isTTY(2) else { return nil }
        return ProgressBar(label: label).handler
    }
}
