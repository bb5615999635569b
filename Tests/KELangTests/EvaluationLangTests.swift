import Foundation
import XCTest
@testable import KECore
@testable import KELang

/// tasks and evaluate through the language, on the task fixtures (`Tests/Fixtures/tasks`,
/// recorded with transformers by `Scripts/fixtures/tasks.py`).
final class EvaluationLangTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    func testTasksValue() throws {
        let r = Captured(json: true).run("""
            let t = tasks "\(fixtures)/tasks"
            t
            t.tasks
            (tasks "\(fixtures)/tasks/words.jsonl").items
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        guard r.outputs.count == 3 else { return XCTFail("\(r.outputs)") }
        let t = try JSONValue.parse(r.outputs[0])
        XCTAssertEqual(t.objectValue?.map(\.0), ["kind", "tasks", "items", "metrics", "source"])
        XCTAssertEqual(t["kind"]?.stringValue, "tasks")
        XCTAssertEqual(t["items"]?.intValue, 24)
        XCTAssertEqual(t["metrics"]?.arrayValue?.compactMap(\.stringValue), ["acc", "len_norm", "acc"])
        XCTAssertEqual(t["source"]?.stringValue, fixtures + "/tasks")
        XCTAssertEqual(r.outputs[1], #"["science","stories","words"]"#)
        XCTAssertEqual(r.outputs[2], "8")
    }

    /// `--json`: kind "evaluation", per task {name, items, acc, len_norm, metric, score} equal to
    /// transformers' recording, and the mean.
    func testEvaluationJSONMatchesTheRecording() throws {
        let exp = try JSONValue.parse(bytes: readFileBytes(fixtures + "/tasks/expected.json"))
        for name in ["olmo", "gpt2"] {
            let r = Captured(json: true).run("""
                evaluate (load "\(fixtures)/models/\(name)") on tasks "\(fixtures)/tasks"
                """)
            XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
            guard let line = r.outputs.first else { return XCTFail("no output") }
            let ev = try JSONValue.parse(line)
            XCTAssertEqual(ev.objectValue?.map(\.0), ["kind", "tasks", "mean"])
            XCTAssertEqual(ev["kind"]?.stringValue, "evaluation")
            let rec = exp["models"]?[name]
            let tasks = ev["tasks"]?.arrayValue ?? [], recTasks = rec?["tasks"]?.arrayValue ?? []
            XCTAssertEqual(tasks.count, 3)
            for (t, r) in zip(tasks, recTasks) {
                XCTAssertEqual(t.objectValue?.map(\.0), ["name", "items", "acc", "len_norm", "metric", "score"])
                for key in ["name", "metric"] { XCTAssertEqual(t[key]?.stringValue, r[key]?.stringValue, "\(name) \(key)") }
                for key in ["items", "acc", "len_norm", "score"] {
                    XCTAssertEqual(t[key]?.doubleValue, r[key]?.doubleValue, "\(name) \(key)")
                }
            }
            // Fractions of items, compared exactly (the recording's decisions win by > 1e-3).
            XCTAssertEqual(ev["mean"]?.doubleValue, rec?["mean"]?.doubleValue)
        }
    }

    func testHumanRenderingAndBarChart() throws {
        let r = Captured(width: 80, ascii: true).run("""
            let ev = evaluate (load "\(fixtures)/models/olmo") on tasks "\(fixtures)/tasks"
            ev
            ev.tasks[1].metric
            bar ev
            """)
        XCTAssertTrue(r.ok, r.errors.joined(separator: "\n"))
        guard r.outputs.count == 3 else { return XCTFail("\(r.outputs)") }
        XCTAssertEqual(r.outputs[0], """
            multiple-choice evaluation on 3 tasks
              task     items  acc       len_norm  metric    score
              science      8  0.375     0.25      acc       0.375    ########
              stories      8  0         0.125     len_norm  0.125    ###
              words        8  0.25      0.25      acc       0.25     #####
              mean score 0.25
            """)
        XCTAssertEqual(r.outputs[1], "len_norm")
        XCTAssertTrue(r.outputs[2].contains("score per task (mean 0.25)"), r.outputs[2])
        XCTAssertTrue(r.outputs[2].contains("science"), r.outputs[2])
        let j = Captured(json: true).run("""
            bar (evaluate (load "\(fixtures)/models/olmo") on tasks "\(fixtures)/tasks")
            """)
        XCTAssertTrue(j.ok, j.errors.joined(separator: "\n"))
        let chart = try JSONValue.parse(j.outputs.first ?? "")
        XCTAssertEqual(chart["labels"]?.arrayValue?.compactMap(\.stringValue), ["science", "stories", "words"])
        XCTAssertEqual(chart["values"]?.arrayValue?.compactMap(\.doubleValue), [0.375, 0.125, 0.25])
    }

    /// A bad line is reported FILE:LINE: error: … after the script position.
    func testErrorsNameTheFileAndLine() throws {
        let bad = fixtures + "/tasks_bad"
        assertError("tasks \"\(bad)/label_range.jsonl\"",
                    "1:7: error: \(bad)/label_range.jsonl:4: error: label 2 is out of range: the item has 2 choices (labels 0…1)")
        assertError("tasks \"\(bad)/malformed.jsonl\"",
                    "1:7: error: \(bad)/malformed.jsonl:3: error: malformed JSON (unterminated object at column 54)")
        assertError("tasks \"\(bad)/empty.jsonl\"", "1:7: error: \(bad)/empty.jsonl: the task has no items")
        assertError("let m = load \"\(fixtures)/models/olmo\"\nevaluate m on \"x\"",
                    "2:15: error: 'evaluate … on' expected tasks, found a string")
        assertError("evaluate 3 on 4", "1:10: error: 'evaluate' expected a model, found a number")
    }

    /// The built binary prints the error with the data file's line and exits 1.
    func testCommandLineReportsTheLine() throws {
        guard let exe = CLITests.binary() else { throw XCTSkip("the ke binary is not built") }
        let p = Process()
        p.executableURL = exe
        p.arguments = ["-c", "tasks \"\(fixtures)/tasks_bad/one_choice.jsonl\""]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1)
        XCTAssertTrue(text.hasPrefix("<command line>:1:7: error: \(fixtures)/tasks_bad/one_choice.jsonl:2: error: an item needs at least 2 choices, found 1\n"), text)
    }
}
