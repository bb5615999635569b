import Foundation
import XCTest
@testable import KELang

/// Arguments are fetched by typed key (`inv.string(.title)`, one `ArgumentKey` per argument), so
/// a misspelt key does not compile. These tests check what the compiler cannot: that every
/// command declares each key once, and (reading the command declarations) that each key a
/// command's implementation asks for is one that command declares, and every key asked for by a
/// shared helper is declared by some command.
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

    /// Keys a block declares: its parameters' keys, and the chart options it includes.
    private func declaredKeys(_ text: String) throws -> Set<String> {
        var keys = Set(try matches(#"\.(?:positional|optionalWord|keyword|option|flag)\(\.(\w+)"#, in: text))
        for options in try matches(#"ChartOptions\.params\(([^)]*)\)"#, in: text) {
            keys.formUnion(try matches(#"\.(\w+)"#, in: options))
        }
        return keys
    }

    /// Keys a block asks for: through an accessor, as the place of an error (`at: .KEY`, `at: c ?
    /// .KEY1 : .KEY2`), or in a list of keys it loops over.
    private func usedKeys(_ text: String) throws -> Set<String> {
        let names = Self.accessors.joined(separator: "|")
        var keys = Set(try matches(#"inv\.(?:\#(names))\((?:of: )?\.(\w+)"#, in: text))
        keys.formUnion(try matches(#"\bat: \.(\w+)"#, in: text))
        keys.formUnion(try matches(#"\bat: [^\n]*? \? \.(\w+) : \."#, in: text))
        keys.formUnion(try matches(#"\bat: [^\n]*? \? \.\w+ : \.(\w+)"#, in: text))
        for list in try matches(#"ArgumentKey\)? in \[([^\]]*)\]"#, in: text) {
            keys.formUnion(try matches(#"\.(\w+)"#, in: list))
        }
        return keys
    }

    /// The registry's check: every command declares each key (and each keyword) once, and a
    /// positional parameter is shown as its key (quoted or not), so messages name it as declared.
    func testEveryCommandDeclaresEachKeyOnce() {
        XCTAssertGreaterThan(CommandRegistry.commands.count, 30)
        for command in CommandRegistry.commands {
            let keys = command.params.map(\.key.name)
            XCTAssertEqual(Set(keys).count, keys.count, "'\(command.name)' declares a key twice: \(keys)")
            for p in command.params {
                if let keyword = p.keyword {
                    XCTAssertEqual(keyword, p.key.name, "'\(command.name)': keyword and key differ")
                } else {
                    XCTAssertTrue([p.key.name, "\"\(p.key.name)\""].contains(p.placeholder), "'\(command.name)': \(p.placeholder)")
                }
            }
        }
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
