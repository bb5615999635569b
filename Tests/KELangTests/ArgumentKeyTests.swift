import Foundation
import XCTest

/// Arguments are fetched by key (`inv.string("title")`), so a misspelt key would only fail when
/// that line runs. This test reads the command declarations and checks, for every command, that
/// each key its implementation asks for is one it declares, and that every key asked for by a
/// shared helper is declared by some command: a misspelling fails the suite, not a user.
final class ArgumentKeyTests: XCTestCase {
    /// Accessors of `Invocation` whose first argument (or `at:` label) is an argument key.
    private static let accessors = [
        "has", "value", "word", "flag", "position", "string", "number", "int", "optionalInt", "fraction",
        "finite", "list", "numbers", "strings", "matrix", "layer", "memory", "memories", "positive",
        "optionalString", "facts", "sumsStatistics", "corpus", "model", "tasks", "coefficientSummary",
        "layerEntropies", "modelOrCheckpoint", "typeError",
    ]

    private func matches(_ pattern: String, in text: String) throws -> [String] {
        let re = try NSRegularExpression(pattern: pattern)
        let ns = text as NSString
        return re.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: 1)) }
    }

    /// Keys a block declares: keywords, and positional placeholders without their quotes.
    private func declaredKeys(_ text: String) throws -> Set<String> {
        let literal = #""((?:[^"\\]|\\.)*)""#
        var keys = Set<String>()
        for kind in ["positional", "optionalWord", "keyword", "option", "flag"] {
            for raw in try matches(#"\.\#(kind)\(\#(literal)"#, in: text) {
                keys.insert(raw.replacingOccurrences(of: "\\\"", with: "").replacingOccurrences(of: "\"", with: ""))
            }
        }
        return keys
    }

    /// Keys a block asks for.
    private func usedKeys(_ text: String) throws -> Set<String> {
        let names = Self.accessors.joined(separator: "|")
        var keys = Set(try matches(#"inv\.(?:\#(names))\((?:of: )?"([^"]+)""#, in: text))
        keys.formUnion(try matches(#"inv\.error\([^\n]*?, at: "([^"]+)"\)"#, in: text))
        keys.formUnion(try matches(#"statistics\(of: [^\n]*?, at: "([^"]+)"\)"#, in: text))
        return keys
    }

    func testEveryArgumentKeyIsDeclared() throws {
        let commands = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/KELang/Commands").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: commands.path).filter { $0.hasSuffix(".swift") }.sorted()
        XCTAssertFalse(files.isEmpty, "no command files under \(commands.path)")
        var allDeclared = Set<String>()
        var helperUses: [(file: String, key: String)] = []
        var checkedCommands = 0
        for file in files {
            let text = try String(contentsOf: commands.appendingPathComponent(file), encoding: .utf8)
            allDeclared.formUnion(try declaredKeys(text))
            // Split at each `static let NAME = Command(`: the first piece holds no command.
            let pieces = text.components(separatedBy: "static let ")
            var outside = pieces[0]
            for piece in pieces.dropFirst() {
                guard let eq = piece.range(of: " = Command("), piece[..<eq.lowerBound].allSatisfy({ $0.isLetter || $0.isNumber }) else {
                    outside += piece
                    continue
                }
                // The command's block ends where its extension closes (a `}` at column 0).
                let end = piece.range(of: "\n}\n")?.lowerBound ?? piece.endIndex
                let block = String(piece[..<end])
                outside += String(piece[end...])
                let name = String(piece[..<eq.lowerBound])
                let declared = try declaredKeys(block)
                for key in try usedKeys(block).sorted() where !declared.contains(key) {
                    XCTFail("\(file): command '\(name)' asks for argument '\(key)', which it does not declare (declared: \(declared.sorted()))")
                }
                checkedCommands += 1
            }
            for key in try usedKeys(outside) { helperUses.append((file, key)) }
        }
        XCTAssertGreaterThan(checkedCommands, 30, "the declarations were not found: is the pattern still `static let NAME = Command(`?")
        for (file, key) in helperUses where !allDeclared.contains(key) {
            XCTFail("\(file): a helper asks for argument '\(key)', which no command declares")
        }
    }
}
