// MARK: libFuzzer target: lang
//
// The input is a script. It is scanned, parsed and run in a fresh Session (whole, or chunk by
// chunk as a notebook runs it) where `m`, `c` and `f` are a fixture model, corpus and fact set,
// in an empty working directory (so `load`, `corpus` and `facts` of relative paths fail
// cleanly; scripts containing `save` are skipped, they would fill it with copies, and so are
// `pretrain` and the built-in "tiny" run, which take minutes to build).
// A watchdog cancels a run after one second (long `for` loops are legal, not bugs); errors must
// come back as diagnostics. Built and run by `Scripts/fuzz lang SECONDS`.

import Foundation
import KECore
@testable import KELang

/// When the current run started (0: none running).
nonisolated(unsafe) var runStarted: Double = 0

/// Moves into an empty directory and starts the watchdog, once.
let setUp: Void = {
    chdir(fuzzScratchDirectory("lang"))
    let watchdog = Thread {
        while true {
            usleep(50_000)
            let s = runStarted
            if s > 0, Date().timeIntervalSince1970 - s > 1 { Cancellation.shared.cancel() }
        }
    }
    watchdog.start()
}()

/// `m` (the tiny Llama fixture), `c` (the fixture corpus) and `f` (the fixture facts), loaded
/// once and defined in every session, so scripts reach the model, training and inspection
/// commands.
let predefined: [(String, Value)] = {
    let root = ProcessInfo.processInfo.environment["KE_FUZZ_FIXTURES"] ?? "Tests/Fixtures"
    let s = Session(output: { _ in }, errorOutput: { fatalError("fixtures: \($0)") })
    s.run("""
        let m = load "\(root)/models/llama_gqa"
        let c = corpus "\(root)/corpus.txt"
        let f = facts "\(root)/facts.json"
        """, file: "prelude.ke")
    return ["m", "c", "f"].compactMap { n in s.value(of: n).map { (n, $0) } }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLang(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = setUp
    let source = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
    // `save` would fill the scratch directory with model copies; `pretrain` and the built-in
    // "tiny" run take minutes to build.
    if source.contains("save") || source.contains("pretrain") || source.contains("tiny") { return -1 }
    var printed = 0
    var errors: [String] = []
    var options = SessionOptions()
    options.width = 60
    let session = Session(options: options, output: { printed += $0.count }, errorOutput: { errors.append($0) })
    for (name, value) in predefined { session.define(name, value) }
    // The shell's helpers on the same text: UTF-8 decoding, REPL continuation, notebook chunks.
    _ = Syntax.decode(Array(UnsafeBufferPointer(start: data, count: size)))
    _ = Syntax.needsContinuation(source)
    let chunks = Syntax.chunks(source)
    runStarted = Date().timeIntervalSince1970
    if size % 2 == 0 {
        // As a script: all at once.
        let ok = session.run(source, file: "fuzz.ke")
        if !ok && errors.isEmpty { fatalError("a failed run reported no error") }
    } else {
        // As a notebook: statement by statement, each at its own first line, until an error.
        for case .code(let code, let line) in chunks {
            let ok = session.run(code, file: "fuzz.ke", firstLine: line)
            if !ok && errors.isEmpty { fatalError("a failed chunk reported no error") }
            if !ok { break }
        }
    }
    runStarted = 0
    for e in errors where !e.hasPrefix("fuzz.ke:") { fatalError("diagnostic without FILE:LINE:COL: \(e)") }
    // The JSON printer too, on whatever the script defined.
    options.json = true
    session.options = options
    for name in session.variableNames {
        if let v = session.value(of: name) { _ = session.render(v) }
    }
    return 0
}
