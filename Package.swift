// swift-tools-version:6.0
import PackageDescription

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

        // MARK: Modules
        /// Tensors, checkpoints, tokenizers, models, statistics, training. Prints nothing.
        .target(name: "KECore", dependencies: ["CBLAS"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
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
