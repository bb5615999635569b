#if canImport(Glibc)
import Glibc
#endif
import KELang

/// Entry point of the `ke` executable.
public enum KEShell {
    /// Selects the OpenBLAS kernels (may re-execute the process), then runs the command line.
    public static func main() {
        BLASSetup.configure()
        exit(CLI.run(Array(CommandLine.arguments.dropFirst())))
    }
}
