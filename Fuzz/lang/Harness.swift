// MARK: libFuzzer target: lang
//
// The input is a script. It is scanned, parsed and run in a fresh Session, in an empty
// working directory (so `load`, `corpus` and `save` fail cleanly: there are no files to find).
// A watchdog cancels a run after one second (long `for` loops are legal, not bugs); errors must
// come back as diagnostics. Built and run by `Scripts/fuzz lang SECONDS`.

import Foundation
import KECore
@testable import KELang

/// When the current run started (0: none running).
nonisolated(unsafe) var runStarted: Double = 0

/// Moves into an empty directory and starts the watchdog, once.
nonisolated(unsafe) let setUp: Void = {
    let dir = "/dev/shm/ke-fuzz-lang-\(getpid())"
    mkdir(dir, 0o700)
    chdir(dir)
    let watchdog = Thread {
        while true {
            usleep(50_000)
            let s = runStarted
            if s > 0, Date().timeIntervalSince1970 - s > 1 { Cancellation.shared.cancel() }
        }
    }
    watchdog.start()
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLang(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = setUp
    let source = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
    var printed = 0
    var errors: [String] = []
    var options = SessionOptions()
    options.width = 60
    let session = Session(options: options, output: { printed += $0.count }, errorOutput: { errors.append($0) })
    runStarted = Date().timeIntervalSince1970
    let ok = session.run(source, file: "fuzz.ke")
    runStarted = 0
    if !ok && errors.isEmpty { fatalError("a failed run reported no error") }
    for e in errors where !e.hasPrefix("fuzz.ke:") { fatalError("diagnostic without FILE:LINE:COL: \(e)") }
    // The JSON printer too, on whatever the script defined.
    options.json = true
    session.options = options
    for name in session.variableNames {
        if let v = session.value(of: name) { _ = session.render(v) }
    }
    return 0
}
