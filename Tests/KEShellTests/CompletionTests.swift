import XCTest
import KELang
@testable import KEShell

final class CompletionTests: XCTestCase {
    // MARK: Fixtures

    /// A fake file system: directory path → entries.
    let tree: [String: [(name: String, isDirectory: Bool)]] = [
        ".": [("runs", true), ("report.md", false), ("run.ke", false), (".hidden", false)],
        "runs/": [("a.json", false), ("b.json", false), ("old", true)],
        "/home/me/": [("data", true), ("notes.txt", false)],
        "/home/me/data/": [("corpus.txt", false)],
    ]

    func sources(variables: [String] = ["model", "corpus", "losses"]) -> CompletionSources {
        let tree = self.tree
        return CompletionSources(
            commands: ["entropy", "entropy_curve", "load", "perplexity", "plot", "train"],
            keywords: { name in
                switch name {
                case "entropy": return ["on", "layers", "limit", "every"]
                case "plot": return ["title", "width", "log"]
                default: return []
                }
            },
            variables: variables,
            listDirectory: { path in tree[path] ?? tree[path + "/"] },
            homeDirectory: "/home/me")
    }

    func complete(_ text: String) -> CompletionResult {
        Completion.complete(before: text, sources: sources())
    }

    // MARK: Names

    func testCommandPrefixCompletesUniquely() {
        let r = complete("perp")
        XCTAssertEqual(r.candidates, ["perplexity"])
        XCTAssertEqual(r.insertion, "lexity ")  // a command takes arguments after a space
        XCTAssertEqual(complete("let x = mod").insertion, "el")  // a variable may be followed by `.`
        XCTAssertEqual(complete("entropy model o").insertion, "n ")
    }

    func testAmbiguousPrefixExtendsToCommonPart() {
        let r = complete("entr")
        XCTAssertEqual(r.candidates, ["entropy", "entropy_curve"])
        XCTAssertEqual(r.commonPrefix, "entropy")
        XCTAssertEqual(r.insertion, "opy")
        // Once the common part is typed, nothing more to insert: the list is shown.
        XCTAssertEqual(complete("entropy").insertion, "")
        XCTAssertEqual(complete("entropy").candidates.count, 2)
    }

    func testVariablesAndCommandsMixAfterLet() {
        XCTAssertEqual(complete("let x = lo").candidates, ["load", "losses"])
        XCTAssertEqual(complete("let x = c").candidates, ["corpus"])
    }

    func testReservedWordsOnlyAtStatementStart() {
        XCTAssertEqual(complete("le").candidates, ["let"])
        XCTAssertEqual(complete("f").candidates, ["for"])
        XCTAssertEqual(complete("x = le").candidates, [])
        XCTAssertEqual(complete("let a = 1; le").candidates, ["let"])
    }

    func testKeywordsOfTheCurrentCommand() {
        // Commands take arguments without parentheses: `entropy MODEL on CORPUS limit N`.
        XCTAssertEqual(complete("entropy model o").candidates, ["on"])
        XCTAssertEqual(complete("let e = entropy model on corpus l").candidates, ["layers", "limit", "load", "losses"])
        XCTAssertEqual(complete("plot [losses, losses] ti").candidates, ["title"])
        // The innermost command at the same bracket level wins.
        XCTAssertEqual(complete("plot (entropy model ev").candidates, ["every"])
        XCTAssertEqual(complete("plot (entropy model on corpus).layers ti").candidates, ["title"])
        // Inside a list literal, the outer command's keywords do not apply.
        XCTAssertEqual(complete("plot [lo").candidates, ["load", "losses"])
        // A new statement forgets the previous command.
        XCTAssertEqual(complete("plot losses; ti").candidates, [])
        XCTAssertEqual(complete("for x in losses {\n  plot x ti").candidates, ["title"])
        XCTAssertEqual(complete("for x in losses {\n  plot x\n  ti").candidates, [])
        // A field named like a command is not a command.
        XCTAssertEqual(complete("model.plot ti").candidates, [])
    }

    /// The shell's own sources (the command registry): `load`'s keywords, `tokenizer` included.
    func testRegistryKeywordsOfLoad() {
        let session = Session(options: SessionOptions(), output: { _ in }, errorOutput: { _ in })
        let real = SessionEngine(session).completionSources()
        // An argument may also be a command (`tokenize`), so both are offered.
        XCTAssertEqual(Completion.complete(before: "let m = load \"d\" tok", sources: real).candidates, ["tokenize", "tokenizer"])
        XCTAssertEqual(Completion.complete(before: "let m = load \"d\" tokenize", sources: real).candidates, ["tokenize", "tokenizer"])
        XCTAssertEqual(Completion.complete(before: "load \"d\" tokenizer \"t.json\" bf", sources: real).insertion, "16 ")
        XCTAssertTrue(Completion.complete(before: "checkpoints \"s\" toke", sources: real).candidates.contains("tokenizer"))
    }

    func testNoCompletionInCommentsNumbersOrAfterDot() {
        XCTAssertEqual(complete("# entr").candidates, [])
        XCTAssertEqual(complete("let x = 12").candidates, [])
        XCTAssertEqual(complete("model.la").candidates, [])
    }

    func testEmptyWordOffersEverything() {
        let r = complete("plot ")
        XCTAssertTrue(r.candidates.contains("title"))
        XCTAssertFalse(r.candidates.contains("let"))
        XCTAssertTrue(r.candidates.contains("model"))
        XCTAssertTrue(r.candidates.contains("entropy"))
    }

    func testCursorInTheMiddleUsesTextBeforeIt() {
        let line = "entr model"
        let r = Completion.complete(line: line, cursor: 4, sources: sources())
        XCTAssertEqual(r.word, "entr")
        XCTAssertEqual(r.candidates, ["entropy", "entropy_curve"])
        // Cursor counted in UTF-8 bytes: "é" is two bytes.
        let r2 = Completion.complete(line: "\"é\" + mo", cursor: 9, sources: sources())
        XCTAssertEqual(r2.candidates, ["model"])
    }

    // MARK: Strings

    func testBuiltinNamesInsideStrings() {
        XCTAssertEqual(complete("load \"ti").candidates, Completion.builtinNames)
        XCTAssertEqual(complete("load \"ti").insertion, "ny")
        XCTAssertEqual(complete("entropy model on \"tiny:").candidates,
                       ["tiny:heldout", "tiny:known", "tiny:new", "tiny:train"])
        let heldout = complete("entropy model on \"tiny:h")
        XCTAssertEqual(heldout.candidates, ["tiny:heldout"])
        XCTAssertEqual(heldout.kind, .builtin)
        XCTAssertEqual(heldout.insertion, "eldout\"")
        XCTAssertEqual(complete("load \"tiny@").candidates, ["tiny@"])
        XCTAssertEqual(complete("load \"tiny@").insertion, "")
    }

    func testFilePathsInsideStrings() {
        let r = complete("load \"ru")
        XCTAssertEqual(r.kind, .path)
        XCTAssertEqual(r.candidates, ["run.ke", "runs/"])
        XCTAssertEqual(r.insertion, "n")
        let inDir = complete("load \"runs/")
        XCTAssertEqual(inDir.candidates, ["runs/a.json", "runs/b.json", "runs/old/"])
        XCTAssertEqual(inDir.displayCandidates, ["a.json", "b.json", "old/"])
        // A unique file closes the string; a unique directory does not.
        XCTAssertEqual(complete("load \"runs/a").insertion, ".json\"")
        XCTAssertEqual(complete("load \"runs/o").insertion, "ld/")
    }

    func testHiddenFilesOnlyWithDotPrefix() {
        XCTAssertFalse(complete("load \"").candidates.contains(".hidden"))
        XCTAssertEqual(complete("load \".h").candidates, [".hidden"])
    }

    func testTildeExpandsToHomeButStaysAsTyped() {
        XCTAssertEqual(complete("load \"~").candidates, ["~/"])
        XCTAssertEqual(complete("load \"~/").candidates, ["~/data/", "~/notes.txt"])
        XCTAssertEqual(complete("load \"~/data/c").candidates, ["~/data/corpus.txt"])
        XCTAssertEqual(complete("load \"/home/me/n").candidates, ["/home/me/notes.txt"])
    }

    func testClosedStringsAndEscapes() {
        // The string is closed: completing code again.
        XCTAssertEqual(complete("load \"runs/a.json\", lo").candidates, ["load", "losses"])
        // An escaped quote does not close the string.
        XCTAssertEqual(complete("print \"say \\\"ti").kind, .path)
        XCTAssertEqual(complete("x = \"#\" + mo").candidates, ["model"])
    }

    func testMissingDirectoryGivesNothing() {
        XCTAssertEqual(complete("load \"nowhere/x").candidates, [])
    }

    func testRealFileSystemListing() throws {
        let dir = NSTemporaryDirectory() + "ke-completion-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/file.txt", contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let listing = try XCTUnwrap(FileSystem.list(dir))
        XCTAssertEqual(listing.map(\.name).sorted(), ["file.txt", "sub"])
        XCTAssertEqual(listing.first { $0.name == "sub" }?.isDirectory, true)
        XCTAssertNil(FileSystem.list(dir + "/missing"))
        let r = Completion.complete(before: "load \"\(dir)/s", sources: CompletionSources())
        XCTAssertEqual(r.candidates, ["\(dir)/sub/"])
    }

    // MARK: Listing

    func testColumnsFillTopToBottom() {
        let text = LineEditor.columns(["a", "bb", "c", "d", "e"], width: 12)
        // cell = 4, 2 columns fit in 11; 3 rows
        XCTAssertEqual(text, "a   d\nbb  e\nc\n")
        XCTAssertEqual(LineEditor.columns([], width: 80), "")
        XCTAssertTrue(LineEditor.columns(Array(repeating: "x", count: 5), width: 80, limit: 2).hasSuffix("… 3 more\n"))
    }
}
