import KECharts
import KECore

// MARK: Multiple-choice evaluation
//
// tasks, evaluate, and the evaluation result (`bar` of it is in ResultCharts.swift). Reading task
// files and scoring choices (OLMo's ICLMetric) are KECore's `Training/MultipleChoice.swift`.

extension Command {
    static let tasks = Command(
        "tasks", [.positional(.PATH, quoted: true), .option(.world, "W")], group: "training",
        brief: "Read multiple-choice tasks.",
        summary: """
            Reads zero-shot multiple-choice tasks: a .jsonl file (one task, named after the file) \
            or a directory of them (one task per .jsonl file, in name order). Each line is \
            {"context": "…", "choices": ["…", …], "label": i} with an optional "metric": "acc" \
            (the default, also for a line without one) or "len_norm"; a task's lines must agree \
            on the metric. Choices are \
            continuations and, as in OLMo's tasks, usually begin with a space. A bad line is \
            reported as FILE:LINE. Fields: tasks (names), items (over all tasks), metrics, source. \
            Scripts/export-tasks.py writes SciQ, Winogrande, PIQA, OBQA, HellaSwag and ARC-Easy \
            in this format. Built in: "tiny:tasks" — zero-shot multiple choice about the tiny \
            run's world, the stand-in for the paper's downstream benchmarks when measuring \
            forgetting: five tasks (birth_date, birth_city, university, major, employer), 100 \
            items each, about the 100 people the pretraining text names most often (Zipf ranks \
            0–99). Each context is a training sentence cut before the value ("the birth date of \
            latil troukefox is"); the four choices are the person's true value and three other \
            values of the same attribute drawn from the world's own frequencies (so the most \
            common value does not give the answer away), each with a leading space, in a seeded \
            order; metric "acc". Written on first use without training, like the other tiny: names; \
            `world W` gives the tasks of the world with seed W (the one `pretrain … world W` \
            trains on).
            """,
        example: "let t = tasks \"Tests/Fixtures/tasks\"\nt.tasks",
        run: { inv in
            let path = try inv.string(.PATH)
            do {
                if let builtin = try BuiltinNames.tasksPath(path, inv) {
                    var suite = try TaskSuite.load(path: builtin)
                    suite.source = try BuiltinNames.shownName(path, inv)
                    return .record(Record(suite))
                }
                return .record(Record(try TaskSuite.load(path: path)))
            } catch let e as CoreError {
                throw inv.error(e.description, at: .PATH)
            }
        })

    static let evaluate = Command(
        "evaluate", [.positional(.MODEL), .keyword(.on, "TASKS")], group: "training",
        brief: "Multiple-choice accuracy on tasks.",
        summary: """
            Zero-shot multiple choice as OLMo's ICLMetric computes it (olmo/eval/downstream.py): \
            the ids are tokenize(context) ++ tokenize(choice), each without special tokens, and \
            a choice's score is s = Σ_j log p(t_j | everything before it) over the choice's \
            tokens t_j (teacher forced). acc predicts argmax s; len_norm predicts argmax \
            s ÷ max(1, n − 1), with n the choice's length in characters (OLMo's \
            cont_str_len = len(continuation) − 1, its continuations beginning with a space). \
            Ties go to the lowest index. Per task: acc and len_norm, the fractions of items \
            predicted right (both always computed), and score, the value of the task's metric. \
            Fields: tasks (each {name, items, acc, len_norm, metric, score}) and mean, the mean \
            score. `bar EVALUATION` charts the scores.
            """,
        example: "let t = tasks \"Tests/Fixtures/tasks\"\nlet o = load \"Tests/Fixtures/models/olmo\"\nlet ev = evaluate o on t\nev.mean\nbar ev",
        run: { inv in
            let model = try inv.model(.MODEL)
            let suite = try inv.tasks(.on)
            return .record(Record(try KECore.evaluate(model, on: suite)))
        })
}

extension Invocation {
    /// The task-suite argument `key` (a value of `tasks "PATH"`).
    func tasks(_ key: ArgumentKey) throws -> TaskSuite {
        let v = try value(key)
        guard let s = v.result(TaskSuite.self) else { throw typeError(key, expected: "tasks", found: v) }
        return s
    }
}

// MARK: Results

extension TaskSuite: CommandResult {
    var kind: String { "tasks" }

    /// `{tasks, items, metrics, source}`: task names, the item count over all tasks, each
    /// task's metric.
    var fields: [(String, Value)] {
        [("tasks", .list(tasks.map { .string($0.name) })),
         ("items", .number(Double(itemCount))),
         ("metrics", .list(tasks.map { .string($0.metric.rawValue) })),
         ("source", .string(source))]
    }

    /// One line per task: its name, item count and metric.
    func human(options: SessionOptions) -> String? {
        let width = tasks.map(\.name.count).max() ?? 0
        var lines = ["\(tasks.count) task\(tasks.count == 1 ? "" : "s"), \(Printer.grouped(itemCount)) items from \(source)"]
        for t in tasks {
            lines.append("  " + Printer.padRight(t.name, width) + "  " + Printer.pad(Printer.grouped(t.items.count), 6)
                         + " items  " + t.metric.rawValue)
        }
        return lines.joined(separator: "\n")
    }
}

extension Evaluation: CommandResult {
    var kind: String { "evaluation" }

    /// `{tasks, mean}`; each task a plain record `{name, items, acc, len_norm, metric, score}`.
    var fields: [(String, Value)] {
        let rows: [Value] = tasks.map { t in
            .record(plainRecord("task", [
                ("name", .string(t.name)), ("items", .number(Double(t.items))), ("acc", .number(t.acc)),
                ("len_norm", .number(t.lenNorm)), ("metric", .string(t.metric.rawValue)), ("score", .number(t.score)),
            ]))
        }
        return [("tasks", .list(rows)), ("mean", .number(mean))]
    }

    /// A table of the tasks, a bar of each score (0 to 1), then the mean.
    func human(options: SessionOptions) -> String? {
        let width = max(4, tasks.map(\.name.count).max() ?? 0)
        let barWidth = max(10, min(30, options.width - width - 52))
        var lines = ["multiple-choice evaluation on \(tasks.count) task\(tasks.count == 1 ? "" : "s")",
                     "  " + Printer.padRight("task", width) + "  items  acc       len_norm  metric    score"]
        for t in tasks {
            let n = Int((Swift.min(Swift.max(t.score, 0), 1) * Double(barWidth)).rounded())
            lines.append("  " + Printer.padRight(t.name, width) + "  " + Printer.pad(String(t.items), 5) + "  "
                         + Printer.padRight(Printer.number(t.acc), 8) + "  " + Printer.padRight(Printer.number(t.lenNorm), 8)
                         + "  " + Printer.padRight(t.metric.rawValue, 8) + "  " + Printer.padRight(Printer.number(t.score), 8)
                         + " " + String(repeating: options.ascii ? "#" : "█", count: n))
        }
        lines.append("  mean score \(Printer.number(mean))")
        return lines.joined(separator: "\n")
    }

    /// The table of `human`, the mean score under it.
    var htmlTable: HTMLTable? {
        HTMLTable(caption: "multiple-choice evaluation on \(tasks.count) task\(tasks.count == 1 ? "" : "s")",
                  header: ["task", "items", "acc", "len_norm", "metric", "score"],
                  rows: tasks.map { t in
                      [t.name, String(t.items), Printer.number(t.acc), Printer.number(t.lenNorm), t.metric.rawValue,
                       Printer.number(t.score)]
                  },
                  notes: ["mean score \(Printer.number(mean))"])
    }
}
