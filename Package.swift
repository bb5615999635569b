// swift-tools-version:6.0
import Foundation
import PackageDescription

/// ke is always built on the machine that runs it (`Scripts/ke`, `Scripts/test`), so the numeric
/// core may use that CPU's vector units: AVX2 + FMA registers (8 floats per SIMD8 operation instead
/// of two 4-float halves) when /proc/cpuinfo lists them. Results are bit-identical either way:
/// Swift never fuses a multiply and an add on its own, and the explicit fused multiply-adds of the
/// matrix-product kernel are IEEE `fma` on every target (one instruction with FMA, a libm call
/// without). Bounds, overflow and conversion checks stay on (no `-Ounchecked`).
let vectorFlags: [String] = {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
    let flags = Set(line.split(separator: " "))
    return flags.contains("avx2") && flags.contains("fma") ? ["-target-cpu", "haswell"] : []
}()

let package = Package(
    name: "ke",
    products: [
        .executable(name: "ke", targets: ["ke"]),
        .library(name: "KECore", targets: ["KECore"]),
    ],
    targets: [
        // MARK: System libraries (installed by Scripts/ke and Scripts/test)
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CEditLine", path: "Sources/CEditLine", pkgConfig: "libedit",
            providers: [.apt(["libedit-dev"])]),
        /// The regex library of Hugging Face `tokenizers`: Split/Replace patterns run on it.
        .systemLibrary(
            name: "COniguruma", path: "Sources/COniguruma", pkgConfig: "oniguruma",
            providers: [.apt(["libonig-dev"])]),
        /// OpenSSL's libcrypto: SHA-256 for the fingerprints of models (every weight byte) and corpora.
        .systemLibrary(
            name: "CCrypto", path: "Sources/CCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),

        // MARK: Modules
        /// Tensors, checkpoints, tokenizers, models, statistics, training. Prints nothing.
        /// The register tiles (AVX-512, AVX2) and packing of the fixed-order matrix product, in C
        /// for the vector intrinsics; chosen at run time by CPU. `-ffp-contract=off`: the only fused
        /// multiply-adds are the explicit ones, so every element of C is the documented chain.
        .target(name: "CKernels",
                cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),
        .target(name: "KECore", dependencies: ["CBLAS", "COniguruma", "CCrypto", "CKernels"],
                exclude: ["README.md"],
                swiftSettings: [.unsafeFlags(vectorFlags, .when(configuration: .release))]),
        /// Terminal charts: numbers in, glyphs out.
        .target(name: "KECharts"),
        /// The experiment language: scanner, parser, interpreter, values.
        .target(name: "KELang", dependencies: ["KECore", "KECharts"]),
        /// The terminal: line editing, history, completion, notebooks.
        .target(name: "KEShell", dependencies: ["KELang", "KECharts", "KECore", "CEditLine"]),
        .executableTarget(name: "ke", dependencies: ["KEShell"]),

        // MARK: Tests
        .testTarget(name: "KECoreTests", dependencies: ["KECore"]),
        .testTarget(name: "KEChartsTests", dependencies: ["KECharts"], exclude: ["Golden"]),
        .testTarget(name: "KELangTests", dependencies: ["KELang"]),
        .testTarget(name: "KEShellTests", dependencies: ["KEShell"]),
    ],
    swiftLanguageModes: [.v6]
)
