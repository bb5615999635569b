import KECore

// MARK: help

extension Command {
    static let help = Command(
        "help", [.optionalWord(.NAME)], group: "help",
        brief: "List commands, or explain one.",
        summary: """
            Without a name: every command with its synopsis. With a name: its synopsis, \
            description and an example.
            """,
        example: "help entropy",
        run: { inv in
            guard let name = inv.word(.NAME) else { return .record(Record(CommandList(commands: CommandRegistry.all))) }
            guard let spec = CommandRegistry.spec(name) else {
                throw inv.error(
                    "no command named '\(name)'" + Diagnostics.suggestion(name, in: CommandRegistry.all.map(\.name)),
                    at: .NAME)
            }
            return .record(Record(CommandHelp(spec: spec)))
        })
}

// MARK: Results

/// `help`: every command, grouped, with its synopsis and brief.
struct CommandList: CommandResult {
    let commands: [CommandSpec]

    var kind: String { "help" }

    var fields: [(String, Value)] {
        let entries: [Value] = commands.map { spec in
            .record(Record(kind: "command", fields: [
                ("name", .string(spec.name)), ("synopsis", .string(spec.synopsis)), ("group", .string(spec.group)),
            ]))
        }
        return [("commands", .list(entries))]
    }

    func human(options: SessionOptions) -> String? {
        var lines = ["Commands (help NAME for details):"]
        var group = ""
        let width = min(30, commands.map(\.synopsis.count).max() ?? 0)
        for spec in commands {
            if spec.group != group {
                group = spec.group
                lines.append("")
                lines.append("  \(group)")
            }
            let brief = Printer.clip(spec.brief, options.width - width - 6)
            if spec.synopsis.count > width {
                lines.append("    \(spec.synopsis)")
                lines.append("    " + String(repeating: " ", count: width + 2) + brief)
            } else {
                let pad = String(repeating: " ", count: width - spec.synopsis.count + 2)
                lines.append("    \(spec.synopsis)\(pad)\(brief)")
            }
        }
        lines.append("")
        lines.append("Statements: let NAME = EXPR · for NAME in LIST { … } · if COND { … } else { … } · # comment")
        lines.append("Lists: [a, b, …] · [EXPR for NAME in LIST] · xs[i] (from 0; xs[-1] is the last)")
        lines.append("Jupyter: ke --install-kernel, then pick the ke kernel · ke --notebook OUT.ipynb SCRIPT.ke")
        return lines.joined(separator: "\n")
    }
}

/// `help NAME`: one command's synopsis, description and example.
struct CommandHelp: CommandResult {
    let spec: CommandSpec

    var kind: String { "help" }

    var fields: [(String, Value)] {
        [("name", .string(spec.name)), ("synopsis", .string(spec.synopsis)),
         ("summary", .string(spec.summary)), ("example", .string(spec.example)),
         ("keywords", .list(spec.keywords.map { .string($0) }))]
    }

    func human(options: SessionOptions) -> String? {
        var lines = ["  " + spec.synopsis, ""]
        lines += Printer.wrap(spec.summary, width: max(40, options.width - 2)).map { "  " + $0 }
        lines.append("")
        lines.append("  Example:")
        lines += spec.example.split(separator: "\n").map { "    " + $0 }
        return lines.joined(separator: "\n")
    }
}
