import Foundation
import XCTest
@testable import KECore

/// Dequantisation throughput per ggml type (ns per weight), the cost the per-tile matrix
/// product pays on every pass. Runs only with KE_BENCH_DEQUANT=1, in a release build.
final class DequantizeBenchmarkTests: XCTestCase {
    func testDequantizeThroughput() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["KE_BENCH_DEQUANT"] == "1", "set KE_BENCH_DEQUANT=1")
        let elements = 1 << 22
        var rng = SplitMix64(seed: 1)
        for type in GGMLType.allCases where type != .f32 {
            let (be, bb) = type.block
            var bytes = [UInt8](repeating: 0, count: elements / be * bb)
            for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
            // Moderate f16 scales everywhere a block keeps one, so no value is NaN or infinite (IQ1_M
            // spreads its scale over four nibbles, left random).
            for b in 0..<(elements / be) {
                for o in [0, 2, 52, 64, 80, 82, 108, 208] where o + 1 < bb && (type != .f16 && type != .bf16) {
                    bytes[b * bb + o] = 0x00; bytes[b * bb + o + 1] = 0x2C
                }
            }
            var out = [Float](repeating: 0, count: elements)
            var best = Double.infinity
            for _ in 0..<5 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                bytes.withUnsafeBytes { src in out.withUnsafeMutableBufferPointer { ggmlDequantize(src, type: type, into: $0) } }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / Double(elements))
            }
            print("dequantize \(type.name): \(String(format: "%.3f", best)) ns/weight")
        }
    }
}
