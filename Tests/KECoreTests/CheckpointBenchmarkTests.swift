import Foundation
import XCTest
@testable import KECore

/// Load-speed measurement on real-sized checkpoints; runs only when KE_BENCH_CHECKPOINTS names
/// model directories (colon-separated), e.g. in a release build:
///   KE_BENCH_CHECKPOINTS=/tmp/a:/tmp/b swift test -c release --filter CheckpointBenchmarkTests
/// User + system CPU seconds of this process.
func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}

final class CheckpointBenchmarkTests: XCTestCase {
    func testLoadSpeed() throws {
        guard let dirs = ProcessInfo.processInfo.environment["KE_BENCH_CHECKPOINTS"] else {
            throw XCTSkip("set KE_BENCH_CHECKPOINTS to measure load speed")
        }
        for dir in dirs.split(separator: ":").map(String.init) {
            _ = try loadCheckpointWeights(directory: dir)  // warm the page cache
            // CPU time (user + system) is reported besides wall time: on a shared machine the
            // wall clock mostly measures other processes.
            let c0 = cpuSeconds(), t0 = DispatchTime.now().uptimeNanoseconds
            let w = try loadCheckpointWeights(directory: dir)
            let secs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, cpu = cpuSeconds() - c0
            let gb = Double(w.params.count * 4) / 1e9
            print(String(format: "load %@: %d params (%.2f GB as F32): wall %.3f s = %.3f s/GB, cpu %.3f s = %.3f s/GB",
                         dir, w.params.count, gb, secs, secs / gb, cpu, cpu / gb))
            XCTAssertLessThan(cpu / gb, 1.0, dir)
        }
    }
}
