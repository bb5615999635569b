// MARK: help

extension Command {
    static let help = Command(
        "help", [.optionalWord("NAME")], group: "help",
        brief: "List commands, or explain one.",
        summary: """
            Without a name: every command with its synopsis. With a name: its synopsis, \
            description and an example.
            """,
        example: "help entropy",
        run: { inv in
            guard let name = inv.word("NAME") else {
                let entries: [Value] = CommandRegistry.all.map { spec in
                    .record(Record(kind: "command", fields: [
                        ("name", .string(spec.name)), ("synopsis", .string(spec.synopsis)),
                        ("group", .string(spec.group)),
                    ]))
                }
                return .record(Record(kind: "help", fields: [("commands", .list(entries))]))
            }
            guard let spec = CommandRegistry.spec(name) else {
                throw inv.error(
                    "no command named '\(name)'" + Diagnostics.suggestion(name, in: CommandRegistry.all.map(\.name)),
                    at: "NAME")
            }
            return .record(Record(kind: "help", fields: [
                ("name", .string(spec.name)), ("synopsis", .string(spec.synopsis)),
                ("summary", .string(spec.summary)), ("example", .string(spec.example)),
                ("keywords", .list(spec.keywords.map { .string($0) })),
            ]))
        })
}
