// MARK: Shared by every libFuzzer harness (compiled with each by Scripts/fuzz)

import Foundation

/// A private scratch directory for files a harness writes: `KE_FUZZ_SCRATCH`, or a fresh one
/// per process under the temporary directory.
func fuzzScratchDirectory(_ target: String) -> String {
    let d = ProcessInfo.processInfo.environment["KE_FUZZ_SCRATCH"] ?? NSTemporaryDirectory() + "ke-fuzz-\(target)-\(getpid())"
    mkdir(d, 0o700)
    return d
}
