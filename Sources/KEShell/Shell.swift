import KELang

/// Entry point of the `ke` executable.
public enum KEShell {
    public static func main() {
        print("ke")
    }
}
