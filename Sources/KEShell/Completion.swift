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
                variables: [String] = [], reservedWords: [String] = ["let", "for"],
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
    /// True when a single candidate is a command or keyword, so a space follows it.
    public var spaceAfterUnique = false
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
        if candidates.count == 1, kind == .name, spaceAfterUnique { text += " " }
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
        let commands = Set(sources.commands)
        let scan = Scan(text, isCommand: { commands.contains($0) })
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
        var spaced = Set(sources.commands)
        if let command = scan.currentCommand {
            let keywords = sources.keywords(command)
            pool += keywords
            spaced.formUnion(keywords)
        } else if scan.atStatementStart(start, in: chars) {
            pool += sources.reservedWords
            spaced.formUnion(sources.reservedWords)
        }
        let candidates = Set(pool.filter { $0.hasPrefix(word) && !$0.isEmpty }).sorted()
        var result = CompletionResult(kind: .name, word: word, candidates: candidates)
        result.spaceAfterUnique = candidates.count == 1 && spaced.contains(candidates[0])
        return result
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

/// A light scan of the text before the cursor: open string, comment, bracket nesting and the
/// command whose arguments are being typed.
///
/// Commands take their arguments without parentheses (`let e = entropy m on c limit 10`), so the
/// command of a word is the last command name seen earlier at the same bracket level of the same
/// statement; `( [ {` open a new level (`{` also starts a new statement).
struct Scan {
    /// The contents of a string literal still open at the cursor (escapes resolved), or nil.
    var openString: String?
    /// True when the cursor is inside a `#` comment.
    var inComment = false
    /// Innermost last: for each open level, the last command name seen in it.
    var frames: [Frame] = [Frame(opener: nil)]
    /// Character index where the current statement (or bracket level) starts.
    var levelStart: Int { frames.last?.start ?? 0 }

    struct Frame {
        var opener: Character?
        var command: String?
        var start = 0
    }

    init(_ text: String, isCommand: (String) -> Bool = { _ in false }) {
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
                if c == "\n" { inComment = false; endStatement(at: i + 1) }
                i += 1
                continue
            }
            if Completion.isIdentifierChar(c), !c.isNumber, i == 0 || !Completion.isIdentifierChar(chars[i - 1]) {
                var j = i
                while j < chars.count, Completion.isIdentifierChar(chars[j]) { j += 1 }
                // A complete word (not the one under the cursor) naming a command, not a field.
                let word = String(chars[i..<j])
                let isField = i > 0 && chars[i - 1] == "."
                if j < chars.count, !isField, isCommand(word) { frames[frames.count - 1].command = word }
                i = j
                continue
            }
            switch c {
            case "\"": openString = ""
            case "#": inComment = true
            case "(", "[", "{": frames.append(Frame(opener: c, command: nil, start: i + 1))
            case ")", "]", "}":
                if frames.count > 1 { frames.removeLast() }
            case "\n", ";":
                // A newline inside ( or [ does not end the statement.
                if frames.last?.opener == nil || frames.last?.opener == "{" { endStatement(at: i + 1) }
            default: break
            }
            i += 1
        }
    }

    private mutating func endStatement(at index: Int) {
        frames[frames.count - 1].command = nil
        frames[frames.count - 1].start = index
    }

    /// The command whose arguments the cursor is in, if any.
    var currentCommand: String? { frames.last?.command }

    /// True when only spaces separate the start of the statement from `start`.
    func atStatementStart(_ start: Int, in chars: [Character]) -> Bool {
        guard let frame = frames.last, frame.opener == nil || frame.opener == "{" else { return false }
        var i = frame.start
        while i < start, chars[i] == " " || chars[i] == "\t" { i += 1 }
        return i == start
    }
}
