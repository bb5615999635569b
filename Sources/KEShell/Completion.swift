#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Sources of names

/// Where completion candidates come from; the REPL fills it from the command registry and the
/// session, tests fill it by hand.
public struct CompletionSources {
    /// Command names (`entropy`, `load`, …).
    public var commands: [String]
    /// Keywords of a command, by command name.
    public var keywords: (String) -> [String]
    /// Names of the session's variables.
    public var variables: [String]
    /// Reserved words offered at statement level (`let`, `for`).
    public var reservedWords: [String]
    /// Lists a directory: (name, is a directory), or nil when it cannot be read.
    public var listDirectory: (String) -> [(name: String, isDirectory: Bool)]?
    /// The home directory used to expand `~`.
    public var homeDirectory: String?

    public init(commands: [String] = [], keywords: @escaping (String) -> [String] = { _ in [] },
                variables: [String] = [], reservedWords: [String] = ["let", "for", "in"],
                listDirectory: @escaping (String) -> [(name: String, isDirectory: Bool)]? = FileSystem.list,
                homeDirectory: String? = FileSystem.home) {
        self.commands = commands
        self.keywords = keywords
        self.variables = variables
        self.reservedWords = reservedWords
        self.listDirectory = listDirectory
        self.homeDirectory = homeDirectory
    }
}

// MARK: - Result

/// What to complete at the cursor and the possible completions.
public struct CompletionResult: Equatable, Sendable {
    /// What the word is.
    public enum Kind: Equatable, Sendable {
        /// A name in code: command, keyword, variable or reserved word.
        case name
        /// A built-in corpus/model name inside a string literal (`"tiny:train"`).
        case builtin
        /// A file path inside a string literal.
        case path
    }

    public var kind: Kind
    /// The text being completed (the end of the line before the cursor).
    public var word: String
    /// Full replacements for `word`, sorted, without duplicates.
    public var candidates: [String]

    /// The longest prefix shared by every candidate (at least `word` when they all extend it).
    public var commonPrefix: String {
        guard var prefix = candidates.first else { return word }
        for c in candidates.dropFirst() {
            while !c.hasPrefix(prefix) { prefix.removeLast() }
        }
        return prefix
    }

    /// The text to insert at the cursor: the common extension of the word, plus a closing quote
    /// when a single non-directory string completion is found. Empty when there is nothing to add.
    public var insertion: String {
        let common = commonPrefix
        guard common.hasPrefix(word) else { return "" }
        var text = String(common.dropFirst(word.count))
        if candidates.count == 1, kind != .name, !common.hasSuffix("/"), common != "tiny@" { text += "\"" }
        return text
    }

    /// Short names to show when the completion is ambiguous (paths show only their last part).
    public var displayCandidates: [String] {
        guard kind == .path else { return candidates }
        return candidates.map { c in
            let trimmed = c.hasSuffix("/") ? String(c.dropLast()) : c
            guard let slash = trimmed.lastIndex(of: "/") else { return c }
            return String(c[c.index(after: slash)...])
        }
    }
}

// MARK: - Engine

/// Tab completion: a pure function from the line before the cursor to candidates.
public enum Completion {
    /// Built-in names offered inside string literals that start like `tiny`.
    public static let builtinNames = ["tiny", "tiny:heldout", "tiny:known", "tiny:new", "tiny:train", "tiny@"]

    /// Candidates for the text `line` with the cursor after `cursor` bytes (UTF-8) of it.
    public static func complete(line: String, cursor: Int, sources: CompletionSources) -> CompletionResult {
        let bytes = Array(line.utf8)
        let end = max(0, min(cursor, bytes.count))
        let before = String(decoding: bytes[0..<end], as: UTF8.self)
        return complete(before: before, sources: sources)
    }

    /// Candidates for the text before the cursor.
    public static func complete(before text: String, sources: CompletionSources) -> CompletionResult {
        let scan = Scan(text)
        if scan.inComment { return CompletionResult(kind: .name, word: "", candidates: []) }
        if let literal = scan.openString {
            return completeString(literal, sources: sources)
        }
        // The identifier before the cursor.
        let chars = Array(text)
        var start = chars.count
        while start > 0, isIdentifierChar(chars[start - 1]) { start -= 1 }
        let word = String(chars[start..<chars.count])
        if let first = word.first, first.isNumber {
            return CompletionResult(kind: .name, word: word, candidates: [])
        }
        // After a dot (field access) there is nothing we can know.
        var k = start - 1
        while k >= 0, chars[k] == " " { k -= 1 }
        if k >= 0, chars[k] == "." { return CompletionResult(kind: .name, word: word, candidates: []) }

        var pool: [String] = sources.commands + sources.variables
        if let command = scan.currentCommand(endingBefore: start, in: chars) {
            pool += sources.keywords(command)
        } else if scan.atStatementStart(start, in: chars) {
            pool += sources.reservedWords
        }
        let candidates = Set(pool.filter { $0.hasPrefix(word) && !$0.isEmpty }).sorted()
        return CompletionResult(kind: .name, word: word, candidates: candidates)
    }

    // MARK: Strings

    static func completeString(_ literal: String, sources: CompletionSources) -> CompletionResult {
        var candidates: [String] = []
        if literal.hasPrefix("tiny") || "tiny".hasPrefix(literal) {
            candidates += builtinNames.filter { $0.hasPrefix(literal) }
        }
        let isBuiltin = !candidates.isEmpty && literal.hasPrefix("t")
        if !isBuiltin {
            candidates += pathCandidates(literal, sources: sources)
        }
        let kind: CompletionResult.Kind = isBuiltin ? .builtin : .path
        return CompletionResult(kind: kind, word: literal, candidates: Set(candidates).sorted())
    }

    /// Paths that extend `typed` (as written, `~` kept); directories end in `/`.
    static func pathCandidates(_ typed: String, sources: CompletionSources) -> [String] {
        let dirPart: String   // as typed, up to and including the last "/"
        let namePrefix: String
        if let slash = typed.lastIndex(of: "/") {
            dirPart = String(typed[...slash])
            namePrefix = String(typed[typed.index(after: slash)...])
        } else if typed == "~" || (typed.hasPrefix("~") && !typed.contains("/")) {
            // "~" alone completes to the home directory itself.
            return typed == "~" && sources.homeDirectory != nil ? ["~/"] : []
        } else {
            dirPart = ""
            namePrefix = typed
        }
        var directory = dirPart.isEmpty ? "." : dirPart
        if directory.hasPrefix("~/") {
            guard let home = sources.homeDirectory else { return [] }
            directory = home + directory.dropFirst()
        }
        guard let entries = sources.listDirectory(directory) else { return [] }
        return entries
            .filter { $0.name != "." && $0.name != ".." }
            .filter { $0.name.hasPrefix(namePrefix) }
            .filter { namePrefix.hasPrefix(".") || !$0.name.hasPrefix(".") }
            .map { dirPart + $0.name + ($0.isDirectory ? "/" : "") }
    }

    static func isIdentifierChar(_ c: Character) -> Bool {
        c == "_" || c.isLetter || c.isNumber
    }
}

// MARK: - Scanning the line

/// A light scan of the text before the cursor: open string, comment, open parentheses.
struct Scan {
    /// The contents of a string literal still open at the cursor (escapes resolved), or nil.
    var openString: String?
    /// True when the cursor is inside a `#` comment.
    var inComment = false
    /// For each open `(`: its character index and the identifier just before it (if any).
    var openParens: [(index: Int, callee: String?)] = []
    /// Character index where the current statement starts (after the last newline or `;` or `{`).
    var statementStart = 0

    init(_ text: String) {
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if let s = openString {
                if c == "\\", i + 1 < chars.count {
                    let n = chars[i + 1]
                    openString = s + String(n == "n" ? "\n" : n == "t" ? "\t" : n)
                    i += 2
                    continue
                }
                if c == "\"" { openString = nil } else { openString = s + String(c) }
                i += 1
                continue
            }
            if inComment {
                if c == "\n" { inComment = false; statementStart = i + 1 }
                i += 1
                continue
            }
            switch c {
            case "\"": openString = ""
            case "#": inComment = true
            case "(":
                var k = i - 1
                while k >= 0, chars[k] == " " { k -= 1 }
                var b = k
                while b >= 0, Completion.isIdentifierChar(chars[b]) { b -= 1 }
                let name = k > b ? String(chars[(b + 1)...k]) : nil
                openParens.append((i, name))
            case ")":
                if !openParens.isEmpty { openParens.removeLast() }
            case "\n", ";", "{", "}":
                if openParens.isEmpty { statementStart = i + 1 }
            default: break
            }
            i += 1
        }
    }

    /// The command whose argument list (or statement) holds the word starting at `start`:
    /// the callee of the innermost open `(`, else the first word of a statement like `entropy m, c`.
    func currentCommand(endingBefore start: Int, in chars: [Character]) -> String? {
        if let last = openParens.last { return last.callee }
        var i = statementStart
        while i < start, chars[i] == " " || chars[i] == "\t" { i += 1 }
        var j = i
        while j < start, Completion.isIdentifierChar(chars[j]) { j += 1 }
        // `name args…`: the first word must be followed by a space, not `(` or an operator.
        guard j > i, j < start, chars[j] == " " || chars[j] == "\t" else { return nil }
        var k = j
        while k < start, chars[k] == " " || chars[k] == "\t" { k += 1 }
        if k < start, !Completion.isIdentifierChar(chars[k]) && chars[k] != "\"" { return nil }
        let first = String(chars[i..<j])
        if first == "let" || first == "for" { return nil }
        return first
    }

    /// True when only spaces separate the statement start from `start`.
    func atStatementStart(_ start: Int, in chars: [Character]) -> Bool {
        guard openParens.isEmpty else { return false }
        var i = statementStart
        while i < start, chars[i] == " " || chars[i] == "\t" { i += 1 }
        return i == start
    }
}
