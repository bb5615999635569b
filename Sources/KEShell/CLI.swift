#if canImport(Glibc)
import Glibc
#endif
import KECore
import KELang

// MARK: Command line
//
//     ke [options] FILE.ke        run a script
//     ke [options] -c 'SOURCE'    run source text
//     ke [options] help [NAME]    the language's help: every command, or one explained
//     ke [options]                REPL on a terminal; statements from stdin otherwise
//     ke --kernel-stdio           the Jupyter kernel's JSON-lines protocol (Kernel.swift)
//     ke --install-kernel [--user | --prefix DIR]
//                                 write the Jupyter kernelspec (KernelSpec.swift)
//
// Errors exit 1; usage errors exit 2.

/// What the command line asked for.
struct CLIOptions: Equatable {
    var json = false
    var ascii = false
    /// nil: colour when stdout is a terminal and NO_COLOR is unset.
    var color: Bool?
    /// nil: the terminal's width, else $COLUMNS, else 80.
    var width: Int?
    var source: String?
    var file: String?
    /// `--notebook [OUT.md]`, `--check` or `--update`: the script is run as a notebook (nil: run
    /// it plainly). `--tolerance X` is folded into `.check`.
    var notebook: Notebook.Mode?
    var help = false
    var version = false
    var doctor = false
    /// `--kernel-stdio`: serve the kernel protocol on stdin/stdout.
    var kernelStdio = false
    /// `--install-kernel`: where to write the kernelspec (nil: not asked).
    var installKernel: KernelSpec.Location?
}

/// A usage error: a message for stderr, exit status 2.
struct UsageError: Error, Equatable {
    var message: String
    /// Whether the usage text follows the message (not for an unknown help topic, whose
    /// message points to `ke help` instead).
    var showUsage = true
}

/// Parses arguments and runs `ke`.
enum CLI {
    static let version = "ke 0.1.0"

    static let usage = """
        usage: ke [options] [FILE.ke]
               ke [options] -c SOURCE
               ke [options] help [NAME]  (every command, or one explained: as `help` in a script)
               ke [options]              (REPL on a terminal; reads statements from stdin otherwise)

        options:
          -c SOURCE       run SOURCE instead of a file
          --json          print each value as one line of JSON
          --ascii         draw charts with ASCII only
          --color, --no-color
                          force ANSI colour on or off (default: on for a terminal)
          --width N       columns for charts and tables (default: the terminal's)
          --notebook [OUT.md | OUT.ipynb] FILE
                          render FILE.ke as a Markdown notebook (prose, code, outputs)
                          to OUT.md, or to stdout; as a Jupyter notebook (nbformat 4.5,
                          ke kernel) to OUT.ipynb
          --check FILE [--against OUT.md | OUT.ipynb]
                          re-run FILE.ke and compare with OUT, or with FILE.md and (when
                          it exists) FILE.ipynb beside it (numbers within --tolerance,
                          timings and absolute paths ignored; text/plain outputs only)
          --update FILE   re-run FILE.ke and rewrite FILE.md (and FILE.ipynb if present)
          --tolerance X   relative tolerance of --check (default 1e-3; absolute 1e-6)
          --help          show this help
          --version       show the version
          --doctor        show the CPU, which matrix-product kernel is in use (and whether
                          results are reproducible), and both kernels' measured speed
          --kernel-stdio  serve the Jupyter kernel's JSON-lines protocol on stdin/stdout
                          (what Scripts/jupyter/ke_kernel.py runs)
          --install-kernel [--user | --prefix DIR]
                          write the Jupyter kernelspec "ke" for this binary, for this user
                          (the default) or under DIR/share/jupyter/kernels

        `ke help` lists every command of the language and `ke help NAME` explains one, as
        `help` and `help NAME` do in a script or the shell (a script file named help runs as
        `ke ./help`).
        """

    // MARK: Parsing

    /// Parses the arguments (without the program name).
    ///
    /// `ke help [NAME]` becomes the source `help [NAME]`, run as `-c` source is.
    ///
    /// - Throws: `UsageError` for an unknown option, an option without its value, a `--width`
    ///   outside 20…1000 columns, a negative or non-numeric `--tolerance`, more than one script
    ///   file, both `-c` and a file, several of `--notebook`, `--check`, `--update` (or one of
    ///   them without a script file), or `help` with more than one name, a name that is not a
    ///   word, or a word that names no command.
    static func parse(_ args: [String]) throws -> CLIOptions {
        var o = CLIOptions()
        var i = 0
        var positional: [String] = []
        /// True when the first positional argument is the word `help` (not after `--`).
        var helpWord = false
        /// The notebook flags in the order given, and `--notebook`'s output file.
        var notebookFlags: [String] = []
        var notebookOutput: String?
        var tolerance: Double?
        var against: String?
        /// `--user` / `--prefix DIR`, which go with `--install-kernel`.
        var kernelLocation: KernelSpec.Location?
        func value(_ flag: String) throws -> String {
            i += 1
            guard i < args.count else { throw UsageError(message: "\(flag) needs a value") }
            return args[i]
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "--json": o.json = true
            case "--ascii": o.ascii = true
            case "--color", "--colour": o.color = true
            case "--no-color", "--no-colour": o.color = false
            case "--help", "-h": o.help = true
            case "--version", "-V": o.version = true
            case "--doctor": o.doctor = true
            case "--kernel-stdio": o.kernelStdio = true
            case "--install-kernel": o.installKernel = .user
            case "--user":
                if kernelLocation != nil { throw UsageError(message: "give --user or --prefix DIR once") }
                kernelLocation = .user
            case "--prefix":
                if kernelLocation != nil { throw UsageError(message: "give --user or --prefix DIR once") }
                kernelLocation = .prefix(try value(a))
            case "--notebook":
                notebookFlags.append(a)
                if i + 1 < args.count, args[i + 1].hasSuffix(".md") || args[i + 1].hasSuffix(".ipynb") {
                    i += 1
                    notebookOutput = args[i]
                }
            case "--tolerance":
                let s = try value(a)
                guard let t = Double(s), t.isFinite, t >= 0 else {
                    throw UsageError(message: "--tolerance needs a non-negative number, found '\(s)'")
                }
                tolerance = t
            case "--check", "--update": notebookFlags.append(a)
            case "--against": against = try value(a)
            case "-c": o.source = try value(a)
            case "--width":
                let s = try value(a)
                guard let w = Int(s), w >= 20, w <= 1000 else {
                    throw UsageError(message: "--width needs a number between 20 and 1000, found '\(s)'")
                }
                o.width = w
            case "--":
                positional += args[(i + 1)...]
                i = args.count
                continue
            default:
                if a.hasPrefix("-") && a != "-" {
                    throw UsageError(message: "unknown option '\(a)'" + Diagnostics.suggestion(a, in: optionNames))
                }
                if positional.isEmpty && a == "help" { helpWord = true }
                positional.append(a)
            }
            i += 1
        }
        if helpWord {
            let topics = positional.dropFirst()
            guard topics.count <= 1 else {
                throw UsageError(message: "help takes one command name at most, found \(topics.count): \(topics.joined(separator: " "))")
            }
            if let topic = topics.first, !isWord(topic) {
                throw UsageError(message: "help needs a command name, found '\(topic)'")
            }
            if let topic = topics.first, CommandRegistry.spec(topic) == nil {
                let names = CommandRegistry.all.map(\.name)
                throw UsageError(message: "no help for '\(topic)': no command has that name"
                                 + Diagnostics.suggestion(topic, in: names) + " (`ke help` lists every command)",
                                 showUsage: false)
            }
            guard o.source == nil else { throw UsageError(message: "give either -c SOURCE or help, not both") }
            guard notebookFlags.isEmpty else { throw UsageError(message: "--notebook, --check and --update need a script file, not help") }
            o.source = (["help"] + topics).joined(separator: " ")
            positional = []
        }
        if let location = kernelLocation {
            guard o.installKernel != nil else { throw UsageError(message: "--user and --prefix DIR go with --install-kernel") }
            o.installKernel = location
        }
        if o.kernelStdio || o.installKernel != nil {
            let flag = o.kernelStdio ? "--kernel-stdio" : "--install-kernel"
            guard !(o.kernelStdio && o.installKernel != nil) else {
                throw UsageError(message: "--kernel-stdio and --install-kernel exclude each other")
            }
            guard positional.isEmpty, o.source == nil, notebookFlags.isEmpty, !helpWord else {
                throw UsageError(message: "\(flag) takes no script, -c SOURCE, help or notebook option")
            }
        }
        if positional.count > 1 {
            throw UsageError(message: "expected at most one script file, found \(positional.count) arguments")
        }
        o.file = positional.first
        if o.source != nil && o.file != nil {
            throw UsageError(message: "give either -c SOURCE or a script file, not both")
        }
        if Set(notebookFlags).count > 1 { throw UsageError(message: "--notebook, --check and --update exclude each other") }
        if against != nil && notebookFlags.first != "--check" {
            throw UsageError(message: "--against OUT.md goes with --check (ke --check SCRIPT.ke --against OUT.md)")
        }
        if let flag = notebookFlags.first {
            guard o.file != nil else { throw UsageError(message: "--notebook, --check and --update need a script file") }
            switch flag {
            case "--notebook": o.notebook = .render(output: notebookOutput)
            case "--check": o.notebook = .check(tolerance: tolerance.map { Tolerance(relative: $0) } ?? .standard, against: against)
            default: o.notebook = .update
            }
        }
        return o
    }

    /// Every option of the command line (for "did you mean").
    static let optionNames = [
        "--json", "--ascii", "--color", "--no-color", "--help", "--version", "--doctor", "--notebook",
        "--tolerance", "--check", "--update", "--against", "--width", "-c", "--kernel-stdio", "--install-kernel",
        "--user", "--prefix",
    ]

    /// The "did you mean" note for a script argument that does not exist and looks like a
    /// misspelt subcommand (`ke hlep`), or "" when there is none.
    static func subcommandSuggestion(_ file: String) -> String {
        guard isWord(file), file != "help", !FileSystem.exists(file) else { return "" }
        if let near = Diagnostics.nearest(file, in: ["help"]) { return " — did you mean 'ke \(near)'?" }
        if let near = Diagnostics.nearest(file, in: CommandRegistry.all.map(\.name)) {
            return " — did you mean 'ke help \(near)' or 'ke -c \"\(near) …\"'?"
        }
        return ""
    }

    /// True for a name the language could know as a command: a letter or underscore, then
    /// letters, digits and underscores.
    static func isWord(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    // MARK: Running

    /// Runs `ke` with `args`; returns the exit status.
    static func run(_ args: [String]) -> Int32 {
        let options: CLIOptions
        do {
            options = try parse(args)
        } catch let e as UsageError {
            writeError(e.showUsage ? "ke: \(e.message)\n\n\(usage)" : "ke: \(e.message)")
            return 2
        } catch {
            writeError("ke: \(error)")
            return 2
        }
        if options.help { writeOut(usage); return 0 }
        if options.version { writeOut(version); return 0 }
        if options.doctor { writeOut(doctorReport()); return 0 }
        if options.kernelStdio { return Kernel.runStdio() }
        if let location = options.installKernel {
            do {
                let folder = try KernelSpec.install(location)
                writeOut("installed the Jupyter kernel \"ke\" in \(folder)")
                return 0
            } catch {
                writeError("ke: \(error)")
                return 1
            }
        }

        let session = Session(options: sessionOptions(options), output: writeOut, errorOutput: writeError)
        if session.options.progress { session.progress = progressBar }

        if let mode = options.notebook, let file = options.file {
            return Notebook.run(scriptPath: file, mode: mode)
        }
        if let source = options.source {
            return session.run(source, file: "<command line>") ? 0 : 1
        }
        if let file = options.file, file != "-" {
            let bytes: [UInt8]
            do { bytes = try readFileBytes(file) } catch {
                let why = FileSystem.exists(file) ? "cannot read '\(file)'" : "no such file '\(file)'"
                writeError("ke: \(why)" + subcommandSuggestion(file))
                return 1
            }
            switch Syntax.decode(bytes) {
            case .success(let text): return session.run(text, file: file) ? 0 : 1
            case .failure(let e):
                writeError("\(file): error: \(e)")
                return 1
            }
        }
        if options.file == nil && isatty(0) != 0 {
            return REPL.run(session: session, version: version)
        }
        // Plain mode: the whole of stdin is one script.
        let bytes = readAll(fd: 0)
        switch Syntax.decode(bytes) {
        case .success(let text): return session.run(text, file: "<stdin>") ? 0 : 1
        case .failure(let e):
            writeError("<stdin>: error: \(e)")
            return 1
        }
    }

    /// Session options from the command line and the terminal.
    static func sessionOptions(_ o: CLIOptions) -> SessionOptions {
        var s = SessionOptions()
        s.json = o.json
        s.ascii = o.ascii
        let terminal = isatty(1) != 0
        let noColor = getenv("NO_COLOR").map { String(cString: $0).isEmpty == false } ?? false
        let dumb = getenv("TERM").map { String(cString: $0) == "dumb" } ?? false
        s.color = o.json ? false : (o.color ?? (terminal && !noColor && !dumb))
        s.width = o.width ?? terminalWidth() ?? 80
        s.progress = isatty(2) != 0 && !o.json
        return s
    }

    /// Columns of the terminal on stdout, else $COLUMNS.
    static func terminalWidth() -> Int? {
        var w = winsize()
        if isatty(1) != 0, ioctl(1, UInt(TIOCGWINSZ), &w) == 0, w.ws_col >= 20 { return Int(w.ws_col) }
        if let c = getenv("COLUMNS"), let n = Int(String(cString: c)), n >= 20, n <= 1000 { return n }
        return nil
    }

    // MARK: Output

    static func writeOut(_ s: String) { write(fd: 1, s + "\n") }

    static func writeError(_ s: String) { write(fd: 2, s + "\n") }

    /// Writes all of `s` to file descriptor `fd` (unbuffered, so stdout and stderr interleave
    /// in order).
    static func write(fd: Int32, _ s: String) {
        var bytes = Array(s.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += n
        }
        bytes.removeAll()
    }

    /// A one-line progress bar on stderr, erased when done.
    static let progressBar: ProgressHandler = { done, total, note in
        guard total > 0 else { return }
        if done >= total {
            write(fd: 2, "\r\u{1B}[K")
        } else {
            let width = 30
            let filled = Swift.max(0, Swift.min(width, done * width / total))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            write(fd: 2, "\r[\(bar)] \(done)/\(total) \(note)\u{1B}[K")
        }
    }

    // MARK: Standard input

    /// Everything readable from `fd` until end of file.
    static func readAll(fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return out
    }
}

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
