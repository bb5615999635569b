import XCTest
@testable import KELang

final class HelpTests: XCTestCase {
    /// The commands every build must have, each with help text.
    let required = ["load", "corpus", "entropy", "perplexity", "tokenize", "rescale", "save", "help",
                    "plot", "bar", "hist", "heatmap", "spark", "len", "range", "sum", "mean", "min", "max", "time"]

    func testRegistryIsCompleteAndDocumented() {
        let names = CommandRegistry.all.map(\.name)
        XCTAssertEqual(Set(names).count, names.count, "duplicate command names")
        for name in required { XCTAssertNotNil(CommandRegistry.spec(name), "missing command \(name)") }
        for spec in CommandRegistry.all {
            XCTAssertTrue(spec.synopsis.hasPrefix(spec.name), spec.name)
            XCTAssertFalse(spec.brief.isEmpty, "\(spec.name) has no brief")
            XCTAssertGreaterThan(spec.summary.count, 30, "\(spec.name) has no real summary")
            XCTAssertFalse(spec.example.isEmpty, "\(spec.name) has no example")
            XCTAssertTrue(spec.example.contains(spec.name), "\(spec.name)'s example does not use it")
            for k in spec.keywords { XCTAssertTrue(spec.synopsis.contains(k), "\(spec.name): keyword \(k) not in synopsis") }
        }
        XCTAssertEqual(CommandRegistry.spec("corpus")?.synopsis, "corpus \"FILE\" [limit N] [seq N] [special] [pack] [world W]")
        XCTAssertEqual(CommandRegistry.spec("rescale")?.synopsis, "rescale MODEL bottom P by Q [on CORPUS] [using SUMS] [cap X]")
        XCTAssertEqual(CommandRegistry.spec("rescale")?.keywords, ["bottom", "by", "on", "using", "cap"])
        XCTAssertEqual(CommandRegistry.spec("save")?.synopsis, "save MODEL to \"DIR\" [force]")
        XCTAssertNil(CommandRegistry.spec("nope"))
        XCTAssertTrue(CommandRegistry.vocabulary.contains("limit"))
        XCTAssertTrue(CommandRegistry.vocabulary.contains("let"))
    }

    func testRescaleHelpExplainsTheFold() {
        let summary = (CommandRegistry.spec("rescale")?.summary ?? "").lowercased()
        XCTAssertTrue(summary.contains("for gated (swiglu) mlps the multiplier folds exactly into row i of the up projection"), summary)
        XCTAssertTrue(summary.contains("for gelu mlps it is a per-memory coefficient multiplier, folded into the value vector when saved"), summary)
        XCTAssertTrue(CommandRegistry.spec("entropy")?.summary.contains("H_l = −Σ_i p_l,i ln p_l,i") ?? false)
    }

    /// Every example parses (with the variables examples use defined).
    func testExamplesParse() throws {
        for spec in CommandRegistry.all {
            var scanner = Scanner(spec.example)
            let tokens = try scanner.scan()
            var parser = Parser(tokens: tokens, known: ["m", "c", "e", "e1", "e2", "r", "xs"])
            XCTAssertNoThrow(try parser.parseProgram(), "example of \(spec.name): \(spec.example)")
        }
    }

    func testHelpListsEveryCommand() {
        let r = runKE("help")
        XCTAssertTrue(r.ok)
        XCTAssertEqual(r.outputs.count, 1)
        for spec in CommandRegistry.all {
            XCTAssertTrue(r.outputs[0].contains(spec.synopsis), "help does not list \(spec.name)")
            XCTAssertTrue(r.outputs[0].contains(spec.brief), "help does not show the brief of \(spec.name)")
        }
    }

    func testHelpName() {
        for spec in CommandRegistry.all {
            let r = runKE("help \(spec.name)", width: 100)
            XCTAssertTrue(r.ok, spec.name)
            let text = r.outputs.first ?? ""
            XCTAssertTrue(text.contains(spec.synopsis), spec.name)
            XCTAssertTrue(text.contains("Example:"), spec.name)
            XCTAssertTrue(text.contains(spec.example.split(separator: "\n")[0]), spec.name)
        }
        assertError("help entopy", "1:6: error: no command named 'entopy' — did you mean 'entropy'?")
        let j = runKE("help time", json: true)
        XCTAssertEqual(j.outputs.first?.hasPrefix(#"{"kind":"help","name":"time","synopsis":"time EXPR""#), true)
    }
}
