#if canImport(Glibc)
import Glibc
#endif
import KECore
import KELang

// MARK: --doctor

extension CLI {
    /// The CPU's vector extensions, which kernel computes matrix products and whether results
    /// are on the reproducible path, and the measured speed of both kernels on this machine.
    static func doctorReport() -> String {
        let coreType = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) } ?? "unset"
        let flags = BLASSetup.cpuFlags()
        let vector = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16"].filter(flags.contains)
        let inUse = matrixProductKernel
        var lines = [version]
        lines.append("CPU               \(cpuModelName() ?? "unknown")")
        lines.append("vector extensions \(vector.isEmpty ? "none found" : vector.joined(separator: " "))")
        switch inUse {
        case .fixedOrder:
            lines.append("matrix products   fixed-order (ke's kernel): reproducible, the same bits on every x86-64 CPU and thread count")
            if !(flags.contains("avx2") && flags.contains("fma")) {
                lines.append("                  (no AVX2+FMA here: same bits, but each fused multiply-add is a library call, slowly)")
            }
        case .openBLAS:
            lines.append("matrix products   OpenBLAS (KE_GEMM=openblas): NOT reproducible; results change with the CPU, the kernel and the thread count")
        }
        let runnable = GEMMMicroKernel.allCases.filter(\.isSupported).map(\.rawValue).joined(separator: ", ")
        lines.append("register tile     \(gemmMicroKernel.summary) (this CPU runs: \(runnable); KE_GEMM_TILE forces one, same bits)")
        lines.append("OpenBLAS kernel   \(blasCoreName)  (OPENBLAS_CORETYPE=\(coreType))\(inUse == .openBLAS ? "" : ", used only with KE_GEMM=openblas")")
        lines.append("threads           \(blasThreads)")
        let other: MatrixProductKernel = inUse == .fixedOrder ? .openBLAS : .fixedOrder
        var ratio = 0.0
        for n in [512, 1024, 2048] {
            let a = measureSgemmRate(size: n, kernel: inUse), b = measureSgemmRate(size: n, kernel: other)
            ratio = b / a
            lines.append(String(format: "sgemm %4d³       %.1f GFLOP/s %@  (%@ %.1f)", n, a / 1e9, inUse.rawValue, other.rawValue, b / 1e9))
        }
        if inUse == .fixedOrder && ratio > 1.1 {
            lines.append(String(format: "advice            OpenBLAS is %.0f%% faster here on large products; KE_GEMM=openblas trades reproducibility for that speed", (ratio - 1) * 100))
        }
        return lines.joined(separator: "\n")
    }

    /// The first `model name` of /proc/cpuinfo.
    static func cpuModelName() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return nil }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
}
