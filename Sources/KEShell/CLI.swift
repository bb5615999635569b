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

    /// Parses the arguments (without the program name): `scan` reads each argument in turn, then
    /// the checks that relate them run in a fixed order (help, kernel, script, notebook).
    ///
    /// `ke help [NAME]` becomes the source `help [NAME]`, run as `-c` source is.
    ///
    /// - Throws: `UsageError` for an unknown option, an option without its value, a `--width`
    ///   outside 20…1000 columns, a negative or non-numeric `--tolerance`, more than one script
    ///   file, both `-c` and a file, several of `--notebook`, `--check`, `--update` (or one of
    ///   them without a script file), or `help` with more than one name, a name that is not a
    ///   word, or a word that names no command.
    static func parse(_ args: [String]) throws -> CLIOptions {
        var s = try scan(args)
        try resolveHelp(&s)
        try resolveKernel(&s)
        try resolveScript(&s)
        return s.options
    }

    /// The command line as read, before the checks that relate its arguments.
    struct ScannedArguments {
        var options = CLIOptions()
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
    }

    /// The options that take no value: each sets one field.
    static let switches: [String: @Sendable (inout CLIOptions) -> Void] = [
        "--json": { $0.json = true }, "--ascii": { $0.ascii = true },
        "--color": { $0.color = true }, "--colour": { $0.color = true },
        "--no-color": { $0.color = false }, "--no-colour": { $0.color = false },
        "--help": { $0.help = true }, "-h": { $0.help = true },
        "--version": { $0.version = true }, "-V": { $0.version = true },
        "--doctor": { $0.doctor = true }, "--kernel-stdio": { $0.kernelStdio = true },
        "--install-kernel": { $0.installKernel = .user },
    ]

    /// Reads each argument in turn: switches (`switches`), options with a value, positionals.
    ///
    /// - Throws: `UsageError` for an unknown option, a missing or malformed value, or
    ///   `--user`/`--prefix` given twice.
    static func scan(_ args: [String]) throws -> ScannedArguments {
        var s = ScannedArguments()
        var i = 0
        func value(_ flag: String) throws -> String {
            i += 1
            guard i < args.count else { throw UsageError(message: "\(flag) needs a value") }
            return args[i]
        }
        while i < args.count {
            let a = args[i]
            if let set = switches[a] {
                set(&s.options)
                i += 1
                continue
            }
            switch a {
            case "--user", "--prefix":
                if s.kernelLocation != nil { throw UsageError(message: "give --user or --prefix DIR once") }
                s.kernelLocation = a == "--user" ? .user : .prefix(try value(a))
            case "--notebook":
                s.notebookFlags.append(a)
                if i + 1 < args.count, args[i + 1].hasSuffix(".md") || args[i + 1].hasSuffix(".ipynb") {
                    i += 1
                    s.notebookOutput = args[i]
                }
            case "--tolerance":
                let v = try value(a)
                guard let t = Double(v), t.isFinite, t >= 0 else {
                    throw UsageError(message: "--tolerance needs a non-negative number, found '\(v)'")
                }
                s.tolerance = t
            case "--check", "--update": s.notebookFlags.append(a)
            case "--against": s.against = try value(a)
            case "-c": s.options.source = try value(a)
            case "--width":
                let v = try value(a)
                guard let w = Int(v), w >= 20, w <= 1000 else {
                    throw UsageError(message: "--width needs a number between 20 and 1000, found '\(v)'")
                }
                s.options.width = w
            case "--":
                s.positional += args[(i + 1)...]
                i = args.count
                continue
            default:
                if a.hasPrefix("-") && a != "-" {
                    throw UsageError(message: "unknown option '\(a)'" + Diagnostics.suggestion(a, in: optionNames))
                }
                if s.positional.isEmpty && a == "help" { s.helpWord = true }
                s.positional.append(a)
            }
            i += 1
        }
        return s
    }

    /// `ke help [NAME]`: checks the topic and turns it into the source `help [NAME]`.
    private static func resolveHelp(_ s: inout ScannedArguments) throws {
        guard s.helpWord else { return }
        let topics = s.positional.dropFirst()
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
        guard s.options.source == nil else { throw UsageError(message: "give either -c SOURCE or help, not both") }
        guard s.notebookFlags.isEmpty else { throw UsageError(message: "--notebook, --check and --update need a script file, not help") }
        s.options.source = (["help"] + topics).joined(separator: " ")
        s.positional = []
    }

    /// `--kernel-stdio` and `--install-kernel [--user | --prefix DIR]` stand alone.
    private static func resolveKernel(_ s: inout ScannedArguments) throws {
        if let location = s.kernelLocation {
            guard s.options.installKernel != nil else { throw UsageError(message: "--user and --prefix DIR go with --install-kernel") }
            s.options.installKernel = location
        }
        let o = s.options
        guard o.kernelStdio || o.installKernel != nil else { return }
        let flag = o.kernelStdio ? "--kernel-stdio" : "--install-kernel"
        guard !(o.kernelStdio && o.installKernel != nil) else {
            throw UsageError(message: "--kernel-stdio and --install-kernel exclude each other")
        }
        guard s.positional.isEmpty, o.source == nil, s.notebookFlags.isEmpty, !s.helpWord else {
            throw UsageError(message: "\(flag) takes no script, -c SOURCE, help or notebook option")
        }
    }

    /// The script file, and the notebook mode (`--notebook`, `--check`, `--update`) that runs it.
    private static func resolveScript(_ s: inout ScannedArguments) throws {
        if s.positional.count > 1 {
            throw UsageError(message: "expected at most one script file, found \(s.positional.count) arguments")
        }
        s.options.file = s.positional.first
        if s.options.source != nil && s.options.file != nil {
            throw UsageError(message: "give either -c SOURCE or a script file, not both")
        }
        if Set(s.notebookFlags).count > 1 { throw UsageError(message: "--notebook, --check and --update exclude each other") }
        if s.against != nil && s.notebookFlags.first != "--check" {
            throw UsageError(message: "--against OUT.md goes with --check (ke --check SCRIPT.ke --against OUT.md)")
        }
        guard let flag = s.notebookFlags.first else { return }
        guard s.options.file != nil else { throw UsageError(message: "--notebook, --check and --update need a script file") }
        switch flag {
        case "--notebook": s.options.notebook = .render(output: s.notebookOutput)
        case "--check":
            s.options.notebook = .check(tolerance: s.tolerance.map { Tolerance(relative: $0) } ?? .standard, against: s.against)
        default: s.options.notebook = .update
        }
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
        if session.options.progress { session.progress = ProgressBar().handler }

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
}
