import Foundation
import XCTest
@testable import KECore

/// Multiple-choice tasks: reading task files, scoring choices as OLMo's ICLMetric against
/// transformers' recording (`Tests/Fixtures/tasks/expected.json`, made by
/// `Scripts/fixtures/tasks.py`), the prediction rules and the file errors.
final class MultipleChoiceTests: XCTestCase {
    static let taskDir = Fixtures.root + "/tasks"
    static let badDir = Fixtures.root + "/tasks_bad"
    static let models = ["olmo", "llama_gqa", "neox", "gpt2"]

    func expected() throws -> JSONValue {
        try JSONValue.parse(bytes: readFileBytes(Self.taskDir + "/expected.json"))
    }

    // MARK: Reading

    func testLoadsADirectoryInNameOrderAndASingleFile() throws {
        let suite = try TaskSuite.load(path: Self.taskDir)
        XCTAssertEqual(suite.tasks.map(\.name), ["science", "stories", "words"])
        XCTAssertEqual(suite.tasks.map(\.metric), [.acc, .lenNorm, .acc])
        XCTAssertEqual(suite.tasks.map(\.items.count), [8, 8, 8])
        XCTAssertEqual(suite.itemCount, 24)
        XCTAssertEqual(suite.source, Self.taskDir)
        XCTAssertEqual(suite.tasks[1].source, Self.taskDir + "/stories.jsonl")
        // The recording lists the same tasks.
        let recorded = try expected()["tasks"]?.arrayValue ?? []
        XCTAssertEqual(recorded.compactMap { $0["name"]?.stringValue }, suite.tasks.map(\.name))
        XCTAssertEqual(recorded.compactMap { $0["metric"]?.stringValue }, suite.tasks.map(\.metric.rawValue))

        let one = try TaskSuite.load(path: Self.taskDir + "/stories.jsonl")
        XCTAssertEqual(one.tasks, [suite.tasks[1]])
        // The blank line after item 2 is skipped; the first item has the non-ASCII choice.
        XCTAssertEqual(one.tasks[0].items[0].choices[1], " café au lait and a croissant")
        XCTAssertEqual(one.tasks[0].items[7], ChoiceItem(context: "Is it raining today? No, it is", choices: [" sunny", " sunny"], label: 1))
    }

    /// Each malformed file fails with its fault, at its line, rendered `FILE:LINE: error: …`.
    func testEveryBadFileNamesItsLine() throws {
        let cases: [(file: String, line: Int?, message: String)] = [
            ("malformed.jsonl", 3, "malformed JSON (unterminated object at column 54)"),
            ("missing_label.jsonl", 2, "missing field \"label\""),
            ("label_range.jsonl", 4, "label 2 is out of range: the item has 2 choices (labels 0…1)"),
            ("one_choice.jsonl", 2, "an item needs at least 2 choices, found 1"),
            ("empty_context.jsonl", 2, "the context is empty"),
            ("choices_type.jsonl", 2, "field \"choices\"[1] must be a string"),
            ("unknown_metric.jsonl", 1, "unknown metric \"f1\": use \"acc\" or \"len_norm\""),
            ("mixed_metric.jsonl", 3, "metric \"len_norm\" disagrees with \"acc\" on line 1: a task's lines must agree on the metric"),
            ("empty.jsonl", nil, "the task has no items"),
        ]
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.badDir).filter { $0.hasSuffix(".jsonl") }
        XCTAssertEqual(Set(names), Set(cases.map(\.file)), "every bad fixture has a case")
        for c in cases {
            let path = Self.badDir + "/" + c.file
            do {
                _ = try TaskSuite.load(path: path)
                XCTFail("\(c.file) loaded")
            } catch let e as CoreError {
                XCTAssertEqual(e, CoreError(c.message, file: path, line: c.line), c.file)
                let place = c.line.map { "\(path):\($0): error: " } ?? "\(path): "
                XCTAssertEqual(e.description, place + c.message)
            }
        }
        // A directory stops at its first bad file in name order.
        XCTAssertThrowsError(try TaskSuite.load(path: Self.badDir)) { e in
            XCTAssertEqual((e as? CoreError)?.file, Self.badDir + "/choices_type.jsonl")
        }
    }

    func testPathErrors() throws {
        let dir = NSTemporaryDirectory() + "ke-tasks-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "x".write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
        func message(_ path: String) -> String {
            do { _ = try TaskSuite.load(path: path); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(dir), "\(dir): the directory has no .jsonl task files")
        XCTAssertEqual(message(dir + "/notes.txt"), "\(dir)/notes.txt: expected a .jsonl task file (one item per line) or a directory of them")
        XCTAssertEqual(message(dir + "/none.jsonl"), "\(dir)/none.jsonl: no such file or directory")
        // Invalid UTF-8 on line 2; a null metric is not stated; label given as a float that is whole.
        let bytes = Array(#"{"context": "a", "choices": ["b", "c"], "label": 1.0, "metric": null}"#.utf8) + [0x0A, 0xFF, 0x0A]
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/bad.jsonl", contents: Data(bytes)))
        XCTAssertEqual(message(dir + "/bad.jsonl"), "\(dir)/bad.jsonl:2: error: invalid UTF-8 at byte 70")
        try #"{"context": "a", "choices": ["b", "c"], "label": 1.5}"#.write(toFile: dir + "/half.jsonl", atomically: true, encoding: .utf8)
        XCTAssertEqual(message(dir + "/half.jsonl"), "\(dir)/half.jsonl:1: error: field \"label\" must be a whole number")
        try #"{"context": "a", "choices": ["b", "c"], "label": 1, "metric": null}"#.write(toFile: dir + "/ok.jsonl", atomically: true, encoding: .utf8)
        XCTAssertEqual(try TaskSuite.load(path: dir + "/ok.jsonl").tasks[0].metric, .acc)
        // A line without "metric" means acc: it disagrees with a first line's len_norm.
        try #"""
            {"context": "a", "choices": ["b", "c"], "label": 1, "metric": "len_norm"}
            {"context": "a", "choices": ["b", "c"], "label": 0}
            """#.write(toFile: dir + "/implicit.jsonl", atomically: true, encoding: .utf8)
        XCTAssertEqual(message(dir + "/implicit.jsonl"),
                       "\(dir)/implicit.jsonl:2: error: metric \"acc\" (the default: no \"metric\" given) disagrees with \"len_norm\" on line 1: a task's lines must agree on the metric")
        try "[1, 2]\n".write(toFile: dir + "/list.jsonl", atomically: true, encoding: .utf8)
        XCTAssertEqual(message(dir + "/list.jsonl"), "\(dir)/list.jsonl:1: error: expected an object with \"context\", \"choices\" and \"label\"")
    }

    // MARK: Prediction rules

    func testTiesGoToTheLowestIndex() {
        XCTAssertEqual(predictedChoice(logProbs: [-1, -1], choices: [" a", " a"], metric: .acc), 0)
        XCTAssertEqual(predictedChoice(logProbs: [-3, -1, -1], choices: [" a", " b", " c"], metric: .acc), 1)
        XCTAssertEqual(predictedChoice(logProbs: [-3, -2, -2], choices: [" abc", " ab", " ab"], metric: .lenNorm), 0)
        XCTAssertEqual(predictedChoice(logProbs: [-4, -2], choices: [" abcd", " ab"], metric: .lenNorm), 0)
    }

    /// len_norm divides by max(1, characters − 1), characters being Unicode scalars, not bytes.
    func testLenNormCountsCharacters() {
        // " café" has 5 characters (6 bytes), " cafe" 5: per character −4.2/4 < −4.0/4, so the
        // second wins; dividing by bytes (−4.2/5 > −4.0/4) would pick the first.
        XCTAssertEqual(predictedChoice(logProbs: [-4.2, -4.0], choices: [" café", " cafe"], metric: .lenNorm), 1)
        XCTAssertEqual(predictedChoice(logProbs: [-4.2, -4.0], choices: [" café", " cafe"], metric: .acc), 1)
        // Longer choices win under len_norm when their per-character score is better.
        XCTAssertEqual(predictedChoice(logProbs: [-3, -5], choices: [" ab", " abcdef"], metric: .acc), 0)
        XCTAssertEqual(predictedChoice(logProbs: [-3, -5], choices: [" ab", " abcdef"], metric: .lenNorm), 1)
        // A one-character (or empty) choice divides by 1, not 0.
        XCTAssertEqual(predictedChoice(logProbs: [-3, -5], choices: ["a", " bcdef"], metric: .lenNorm), 1)
        XCTAssertEqual(predictedChoice(logProbs: [-0.5, -5], choices: [" ", " bcdef"], metric: .lenNorm), 0)
    }

    // MARK: Against transformers

    /// Every choice's summed log-probability matches transformers; acc, len_norm, score and mean
    /// are equal exactly (the recording checks that every decision wins by more than 1e-3).
    func testEveryChoiceMatchesTransformers() throws {
        let suite = try TaskSuite.load(path: Self.taskDir)
        let exp = try expected()
        for name in Self.models {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            guard let rec = exp["models"]?[name], let recTasks = rec["tasks"]?.arrayValue else {
                return XCTFail("no recording for \(name)")
            }
            let lps = try choiceLogProbs(model, on: suite)
            var worst = 0.0
            for (t, task) in suite.tasks.enumerated() {
                let recorded = (recTasks[t]["logprobs"]?.arrayValue ?? []).map(\.doubles)
                XCTAssertEqual(recorded.count, task.items.count)
                for (i, item) in task.items.enumerated() where i < recorded.count {
                    XCTAssertEqual(recorded[i].count, item.choices.count)
                    // Each sum has 1–12 terms of magnitude ~6; float32 logits differ from PyTorch's
                    // by ~1e-6 (other summation orders, see ForwardParityTests), so each log-softmax
                    // term by a few 1e-6 and a sum by up to ~2e-5 (measured: at most 4.5e-6). 1e-4
                    // leaves room without hiding a wrong token (that would move a sum by > 0.1).
                    for (a, b) in zip(lps[t][i], recorded[i]) {
                        worst = max(worst, abs(a - b))
                        XCTAssertEqual(a, b, accuracy: 1e-4, "\(name) \(task.name) item \(i)")
                    }
                    for (metric, key) in [(ChoiceMetric.acc, "acc"), (.lenNorm, "len_norm")] {
                        let p = predictedChoice(logProbs: lps[t][i], choices: item.choices, metric: metric)
                        let predicted = recTasks[t]["predictions"]?[key]?.arrayValue ?? []
                        XCTAssertEqual(p, i < predicted.count ? predicted[i].intValue : nil, "\(name) \(task.name) item \(i) \(key)")
                    }
                }
            }
            // The two identical choices of the tie items tie exactly and go to index 0 (label 1: wrong).
            for t in [0, 1] {
                let tie = lps[t][7]
                XCTAssertEqual(tie[0], tie[1], "\(name): identical choices are scored once")
            }
            let ev = try evaluate(model, on: suite)
            XCTAssertEqual(ev, evaluation(of: suite, logProbs: lps))
            for (t, s) in ev.tasks.enumerated() {
                let r = recTasks[t]
                XCTAssertEqual(s.name, r["name"]?.stringValue)
                XCTAssertEqual(s.items, r["items"]?.intValue)
                XCTAssertEqual(s.metric.rawValue, r["metric"]?.stringValue)
                // Ratios of small integers, computed the same way: equal.
                XCTAssertEqual(s.acc, r["acc"]?.doubleValue, "\(name) \(s.name)")
                XCTAssertEqual(s.lenNorm, r["len_norm"]?.doubleValue, "\(name) \(s.name)")
                XCTAssertEqual(s.score, r["score"]?.doubleValue, "\(name) \(s.name)")
            }
            XCTAssertEqual(ev.mean, rec["mean"]?.doubleValue, name)
            print("multiple choice \(name): largest |ke − transformers| over \(suite.itemCount) items: \(worst)")
        }
    }

    /// Every (context, choice) is scored in its own right: the network path agrees with the sum
    /// of log-probabilities from the training forward, one document at a time.
    func testNetworkScoresMatchTheTrainingForward() throws {
        let net = testNetwork(.llamaGQA, vocab: 64)
        let suite = TaskSuite(tasks: [ChoiceTask(name: "t", items: [
            ChoiceItem(context: "The capital of Zorbia is", choices: [" Quil.", " Vandor.", " Quil."], label: 1),
            ChoiceItem(context: "a", choices: [" b", "cd"], label: 0),
        ], metric: .lenNorm, source: "t.jsonl")], source: "t.jsonl")
        let lps = try choiceLogProbs(net, on: suite, encode: charEncode)
        func total(_ doc: [Int]) throws -> Double {
            doc.count < 2 ? 0 : -(try lossAndGradients(net, batch: PackedBatch(documents: [doc]), grads: nil)) * Double(doc.count - 1)
        }
        for (i, item) in suite.tasks[0].items.enumerated() {
            let ctx = charEncode(item.context)
            for (j, choice) in item.choices.enumerated() {
                let expected = try total(ctx + charEncode(choice)) - total(ctx)
                // Training and inference forwards in float32 differ by ~1e-6 per log-probability.
                XCTAssertEqual(lps[0][i][j], expected, accuracy: 1e-4, "item \(i) choice \(j)")
            }
        }
        XCTAssertEqual(lps[0][0][0], lps[0][0][2])
        let ev = try evaluateNetwork(net, on: suite, encode: charEncode)
        XCTAssertEqual(ev, evaluation(of: suite, logProbs: lps))
        XCTAssertEqual(ev.tasks[0].score, ev.tasks[0].lenNorm)
    }

    /// The same bits whether batches run in parallel rounds or one at a time, on a suite large
    /// enough for many packed batches.
    func testScoresDoNotDependOnHowBatchesAreScheduled() throws {
        let base = try TaskSuite.load(path: Self.taskDir)
        var tasks: [ChoiceTask] = []
        for copy in 0..<12 {
            for var t in base.tasks {
                t.name += "-\(copy)"
                t.items = t.items.map { var it = $0; it.context = "\(copy). " + it.context; return it }
                tasks.append(t)
            }
        }
        let suite = TaskSuite(tasks: tasks, source: "copies")
        let model = try Model.load(directory: Fixtures.modelDir("llama_gqa"))
        let parallel = try choiceLogProbs(model, on: suite)
        elementwiseSerial = true
        defer { elementwiseSerial = false }
        let serial = try choiceLogProbs(model, on: suite)
        XCTAssertEqual(parallel, serial)
    }

    func testTokenisationErrorsNameTheItem() throws {
        // GPT-2 has learned positions (64): longer sequences are an error (rotary models have none).
        let model = try Model.load(directory: Fixtures.modelDir("gpt2"))
        func message(_ items: [ChoiceItem]) -> String {
            let suite = TaskSuite(tasks: [ChoiceTask(name: "t", items: items, metric: .acc, source: "t.jsonl")], source: "t.jsonl")
            do { _ = try evaluate(model, on: suite); return "no error" } catch { return "\(error)" }
        }
        let ok = ChoiceItem(context: "Hi", choices: [" a", " b"], label: 0)
        XCTAssertEqual(message([ok, ChoiceItem(context: "Hi", choices: [" a", ""], label: 0)]),
                       "t.jsonl: item 1: choice 1 \"\" has no tokens")
        XCTAssertEqual(message([ChoiceItem(context: "", choices: [" a", " b"], label: 0)]),
                       "t.jsonl: item 0: the context \"\" has no tokens")
        let long = String(repeating: " the", count: 69)
        XCTAssertEqual(message([ChoiceItem(context: "Hi", choices: [" a", long], label: 0)]),
                       "t.jsonl: item 0: choice 1 needs 70 positions but the model has only 64")
        XCTAssertEqual(message([]), "t.jsonl: the task has no items")
        XCTAssertThrowsError(try evaluate(model, on: TaskSuite(tasks: [], source: "none")))
    }
}
