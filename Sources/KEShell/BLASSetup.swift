#if canImport(Glibc)
import Glibc
#endif

// MARK: OpenBLAS core selection
//
// OpenBLAS reads OPENBLAS_CORETYPE once, when the library loads (before main). Debian's
// OpenBLAS 0.3.21 misdetects some recent CPUs as Prescott (~30 GFLOP/s instead of ~245 with
// the SkylakeX kernels). So when the variable is unset we pick the core from /proc/cpuinfo,
// set it, and re-execute ourselves once with the same arguments.

/// Chooses the OpenBLAS kernels before any BLAS call.
enum BLASSetup {
    /// Marker set before re-executing, so a failed or repeated setup can never loop.
    static let marker = "KE_OPENBLAS_REEXEC"

    /// Sets OPENBLAS_CORETYPE from the CPU flags and re-executes `/proc/self/exe`, unless the
    /// user set it, the marker is present, or the CPU has neither AVX-512 nor AVX2.
    static func configure() {
        #if os(Linux)
        guard getenv("OPENBLAS_CORETYPE") == nil, getenv(marker) == nil else { return }
        guard let core = coreType(cpuFlags: cpuFlags()) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv(marker, "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed: carry on with whatever OpenBLAS detected.
        #endif
    }

    /// "SkylakeX" with avx512f, "Haswell" with avx2, else nil.
    static func coreType(cpuFlags: Set<String>) -> String? {
        if cpuFlags.contains("avx512f") { return "SkylakeX" }
        if cpuFlags.contains("avx2") { return "Haswell" }
        return nil
    }

    /// The `flags` of the first processor in /proc/cpuinfo (empty if unreadable).
    static func cpuFlags() -> Set<String> {
        guard let f = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(f) }
        var buffer = [CChar](repeating: 0, count: 65536)
        while fgets(&buffer, Int32(buffer.count), f) != nil {
            let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard line.hasPrefix("flags") || line.hasPrefix("Features"),
                  let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init))
        }
        return []
    }
}
