#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KECore

// MARK: - Jupyter kernelspec
//
// `ke --install-kernel [--user | --prefix DIR]` writes `kernels/ke/kernel.json` (and a logo)
// where Jupyter looks for kernelspecs. The spec runs the Python wrapper with this binary:
//
//     ["/usr/bin/python3", "<repo>/Scripts/jupyter/ke_kernel.py", "--ke", "<this ke>", "-f", "{connection_file}"]
//
// The wrapper is found beside the binary's package: the binary lives in <repo>/.build/…/release,
// so the folders above it are searched for Scripts/jupyter/ke_kernel.py.

/// The ke kernelspec.
enum KernelSpec {
    /// Where the kernelspec goes.
    enum Location: Equatable {
        /// Jupyter's user data folder: $JUPYTER_DATA_DIR, else $XDG_DATA_HOME/jupyter, else
        /// ~/.local/share/jupyter (jupyter_core's rule on Linux).
        case user
        /// DIR/share/jupyter (as `jupyter kernelspec install --prefix DIR`).
        case prefix(String)
    }

    /// The wrapper, relative to the repository root.
    static let wrapperPath = "Scripts/jupyter/ke_kernel.py"
    /// The Python that runs the wrapper (Debian's, which has python3-ipykernel).
    static let python = "/usr/bin/python3"

    /// The `kernels/ke` folder for `location`.
    ///
    /// - Throws: `ShellError` when the home folder is unknown (for `.user`).
    static func folder(_ location: Location, environment: [String: String] = Terminal.environment) throws -> String {
        switch location {
        case .prefix(let dir):
            return absolute(dir) + "/share/jupyter/kernels/ke"
        case .user:
            if let d = environment["JUPYTER_DATA_DIR"], !d.isEmpty { return absolute(d) + "/kernels/ke" }
            if let x = environment["XDG_DATA_HOME"], !x.isEmpty { return absolute(x) + "/jupyter/kernels/ke" }
            guard let home = environment["HOME"].flatMap({ $0.isEmpty ? nil : $0 }) ?? FileSystem.home else {
                throw ShellError("cannot find the home folder for --user (HOME is not set); use --prefix DIR")
            }
            return home + "/.local/share/jupyter/kernels/ke"
        }
    }

    /// The contents of kernel.json for the wrapper at `wrapper` and the binary at `ke`.
    static func kernelJSON(wrapper: String, ke: String) -> String {
        JSONValue.object([
            ("argv", .array([python, wrapper, "--ke", ke, "-f", "{connection_file}"].map { .string($0) })),
            ("display_name", .string("ke")),
            ("language", .string("ke")),
            ("interrupt_mode", .string("signal")),
            ("metadata", .object([("debugger", .bool(false))])),
        ]).serialized(pretty: true) + "\n"
    }

    /// A small logo (JupyterLab shows `logo-svg.svg` in its launcher).
    static let logo = """
        <svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
        <rect width="64" height="64" rx="10" fill="#0072B2"/>
        <text x="32" y="43" font-family="DejaVu Sans Mono, monospace" font-size="30" font-weight="bold" fill="#ffffff" text-anchor="middle">ke</text>
        </svg>

        """

    /// This process's binary, as an absolute path with symbolic links resolved.
    static func executablePath() -> String? {
        #if os(Linux)
        return realPath("/proc/self/exe")
        #else
        return realPath(CommandLine.arguments[0])
        #endif
    }

    /// The wrapper in the package that holds `executable`: the first folder above it that has
    /// Scripts/jupyter/ke_kernel.py.
    static func wrapper(near executable: String) -> String? {
        var dir = executable
        while let slash = dir.lastIndex(of: "/") {
            dir = String(dir[..<slash])
            let candidate = (dir.isEmpty ? "" : dir) + "/" + wrapperPath
            if FileSystem.exists(candidate), !FileSystem.isDirectory(candidate) { return candidate }
            if dir.isEmpty { break }
        }
        return nil
    }

    /// Writes kernel.json and the logo into the folder for `location` (each file atomically,
    /// folders created); returns the folder.
    ///
    /// - Throws: `ShellError` when this binary's path cannot be found, the wrapper is not in its
    ///   package, or a folder or file cannot be written.
    static func install(_ location: Location) throws -> String {
        guard let ke = executablePath() else { throw ShellError("cannot find the path of this ke binary") }
        guard let wrapper = wrapper(near: ke) else {
            throw ShellError("cannot find \(wrapperPath) in a folder above \(ke): --install-kernel needs the ke binary "
                             + "built inside its repository (Scripts/ke --install-kernel builds and runs it there)")
        }
        let folder = try self.folder(location)
        guard FileSystem.makeDirectories(folder) else { throw ShellError("cannot create the folder \(folder)") }
        try FileSystem.writeAtomically(kernelJSON(wrapper: wrapper, ke: ke), to: folder + "/kernel.json")
        try FileSystem.writeAtomically(logo, to: folder + "/logo-svg.svg")
        return folder
    }

    /// `path` made absolute against the working directory (not resolved).
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        guard let cwd = getcwd(nil, 0) else { return path }
        defer { free(cwd) }
        return String(cString: cwd) + "/" + path
    }

    /// `realpath(3)` of `path`, or nil.
    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
