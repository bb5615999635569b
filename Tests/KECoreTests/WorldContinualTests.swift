import Foundation
import XCTest
@testable import KECore

/// The continual-protocol data (`tiny:para`, `tiny:once`, `tiny:shift`, `tiny:tasks`) and the
/// `tiny-cosine` configuration: determinism, disjoint populations, shapes, task validity,
/// vocabulary coverage, the cache files, and the built-in runs' cache keys.
final class WorldContinualTests: XCTestCase {
    private static let standard: World = {
        do { return try World(WorldConfig()) } catch { fatalError("standard world: \(error)") }
    }()
    private static let test: World = {
        do { return try World(TinyRunConfig.test.world) } catch { fatalError("test world: \(error)") }
    }()

    /// The standard sizes with a short shifted corpus (the full 840,000 tokens are for the cache).
    private var standardShort: ContinualDataConfig {
        var c = ContinualDataConfig.standard
        c.shiftTokens = 30_000
        return c
    }

    /// Every generated text of one world, in a fixed order (the bytes the cache would hold).
    private static func allText(_ w: World, _ c: ContinualDataConfig) -> String {
        World.jsonLines(w.paraFacts(c)) + World.jsonLines(w.onceFacts(c))
            + w.shiftDocuments(c).joined(separator: "\n") + w.tasks(c).map(World.jsonLines).joined()
    }

    // MARK: Determinism

    func testGeneratorsAreDeterministicAndThreadIndependent() throws {
        for (w, c) in [(Self.test, ContinualDataConfig.test), (Self.standard, standardShort)] {
            let first = Self.allText(w, c)
            XCTAssertEqual(Self.allText(w, c), first)
            // Generated on 4 threads at once (each its own World): the same bytes.
            let cfg = w.config
            let results = LockedBox<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                let other = try? World(cfg)
                results.mutate { $0.append(other.map { Self.allText($0, c) } ?? "") }
            }
            XCTAssertEqual(results.value, Array(repeating: first, count: 4))
        }
        // Another world seed is other text.
        var seed2 = TinyRunConfig.test.world
        seed2.seed = 2
        XCTAssertNotEqual(Self.allText(try World(seed2), .test), Self.allText(Self.test, .test))
    }

    /// Pinned digests of the standard world's sets: a change to any generator shows here.
    func testStandardDigests() {
        let w = Self.standard, c = ContinualDataConfig.standard
        let para = w.paraFacts(c), once = w.onceFacts(c)
        XCTAssertEqual(para.count, 12)
        XCTAssertEqual(once.count, 60)
        XCTAssertEqual(w.tasks(c).map(\.count), [100, 100, 100, 100, 100])
        let shift = w.shiftDocuments(standardShort)
        XCTAssertEqual(shift.count, 374)
        XCTAssertEqual(fnv(World.jsonLines(para)), "5e5bad3a9e309af3")
        XCTAssertEqual(fnv(World.jsonLines(once)), "2c45588c57323cf0")
        XCTAssertEqual(fnv(w.tasks(c).map(World.jsonLines).joined()), "99d58466f299dbdb")
        XCTAssertEqual(fnv(shift.joined(separator: "\n")), "bc18ac62528c3215")
    }

    // MARK: Populations

    func testPopulationsAreDisjointAndNeverInPretraining() throws {
        for (w, c) in [(Self.test, ContinualDataConfig.test), (Self.standard, standardShort)] {
            let cfg = w.config
            let people = w.continualPeople(c)
            let para = Set(people.para), once = Set(people.once), shift = Set(people.shift)
            let new = Set((0..<cfg.newPeople).map(w.newPerson))
            XCTAssertEqual(para.count, c.paraItems); XCTAssertEqual(once.count, c.onceItems); XCTAssertEqual(shift.count, c.shiftPeople)
            for (a, b) in [(para, once), (para, shift), (once, shift), (para, new), (once, new), (shift, new)] {
                XCTAssertTrue(a.isDisjoint(with: b))
            }
            // The stream (no arrivals) names core people only: indices below corePeople.
            for p in para.union(once).union(shift) {
                XCTAssertGreaterThanOrEqual(p, cfg.corePeople)
                XCTAssertLessThan(p, cfg.firstNames * cfg.lastNames)
            }
            // Names are distinct people (the name grid is a bijection).
            let names = (para.union(once).union(shift).union(new)).map(w.name)
            XCTAssertEqual(Set(names).count, names.count)
            // And none of them occurs in pretraining text (a name is two words: look up word pairs).
            let stream = Self.wordPairs((1...20).flatMap { w.trainDocuments(step: $0, batch: 32) })
            XCTAssertTrue(stream.contains(w.name(0)))
            for n in names { XCTAssertFalse(stream.contains(n), "\(n) in the stream") }
            // The shifted corpus names shift people only, never a core (pretraining) person.
            let shiftPairs = Self.wordPairs(w.shiftDocuments(c))
            XCTAssertTrue(shiftPairs.contains(w.name(people.shift[0])))
            for p in 0..<cfg.corePeople { XCTAssertFalse(shiftPairs.contains(w.name(p)), "core person \(p) in tiny:shift") }
            for p in para.union(once) { XCTAssertFalse(shiftPairs.contains(w.name(p))) }
        }
    }

    /// Every pair of adjacent words of `texts`, as "w1 w2".
    private static func wordPairs(_ texts: [String]) -> Set<String> {
        var pairs = Set<String>()
        for t in texts {
            let words = t.split(separator: " ")
            for i in words.indices.dropFirst() { pairs.insert(words[i - 1] + " " + words[i]) }
        }
        return pairs
    }

    // MARK: Shapes

    func testParaAndOnceShapes() throws {
        for (w, c) in [(Self.test, ContinualDataConfig.test), (Self.standard, ContinualDataConfig.standard)] {
            let para = w.paraFacts(c), once = w.onceFacts(c)
            XCTAssertEqual(para.count, c.paraItems)
            XCTAssertEqual(once.count, c.onceItems)
            let people = w.continualPeople(c)
            for (items, ps, versions) in [(para, people.para, c.versions), (once, people.once, 1)] {
                for (f, p) in zip(items, ps) {
                    let all = [f.trainContext] + f.paraphrases
                    XCTAssertEqual(all.count, versions)
                    XCTAssertEqual(Set(all).count, versions, "versions must differ")
                    let values = w.attributes(p)
                    XCTAssertEqual(f.memTarget, values)
                    XCTAssertEqual(f.genTarget, values)
                    XCTAssertEqual(f.memInput.count, 5); XCTAssertEqual(f.genInput.count, 5)
                    for v in all {
                        // Each version: the five attributes, one sentence each, every sentence naming the person.
                        let sentences = v.split(separator: ".").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                        XCTAssertEqual(sentences.count, 5, v)
                        for s in sentences { XCTAssertTrue(s.contains(w.name(p)), s) }
                        for value in values { XCTAssertTrue(v.contains(" \(value) ."), "\(value) missing in \(v)") }
                        // Generalisation probes use templates no version uses.
                        for g in f.genInput { XCTAssertFalse(v.contains(g), "gen probe \(g) inside a version") }
                    }
                    // Memorisation probes are cut from version 1.
                    for (i, t) in zip(f.memInput, f.memTarget) { XCTAssertTrue(f.trainContext.contains(i + " " + t + " ."), i) }
                    let json = f.json
                    XCTAssertEqual(json["paraphrases"]?.arrayValue?.count, versions > 1 ? versions - 1 : nil)
                }
            }
        }
        // Over the 12 standard items, each attribute's five templates are all used (2 each per item).
        let f = Self.standard.paraFacts(.standard)[0]
        let all = ([f.trainContext] + f.paraphrases).joined(separator: " ")
        for a in 0..<5 {
            for t in WorldLexicon.trainTemplates[a] + WorldLexicon.versionTemplates[a] {
                XCTAssertTrue(all.contains(WorldLexicon.prefix(t, name: Self.standard.name(Self.standard.continualPerson(0)))), t)
            }
        }
    }

    func testVersionTemplatesAddNoWordAndAvoidGeneralisationTemplates() {
        let genWords = Set(WorldLexicon.genTemplates.joined().flatMap { $0.split(separator: " ").map(String.init) })
            .subtracting(WorldLexicon.trainTemplates.joined().flatMap { $0.split(separator: " ").map(String.init) })
            .subtracting(WorldLexicon.function)
        let trainFrames = Set(WorldLexicon.trainTemplates.joined()), genFrames = Set(WorldLexicon.genTemplates.joined())
        for t in WorldLexicon.versionTemplates.joined() {
            XCTAssertTrue(t.hasSuffix("{v} ."))
            XCTAssertFalse(trainFrames.contains(t) || genFrames.contains(t))
            for word in t.split(separator: " ") where word != "{n}" && word != "{v}" {
                XCTAssertNotNil(Self.standard.id(of: String(word)), "\(word) not in the vocabulary")
                XCTAssertFalse(genWords.contains(String(word)), "\(word) belongs to a generalisation template")
            }
        }
    }

    func testShiftCorpusShape() throws {
        let w = Self.standard, c = standardShort
        let docs = w.shiftDocuments(c)
        let lengths = docs.map { $0.split(separator: " ").count }
        XCTAssertGreaterThanOrEqual(lengths.reduce(0, +), c.shiftTokens)
        XCTAssertLessThan(lengths.dropLast().reduce(0, +), c.shiftTokens, "stops as soon as the tokens are reached")
        XCTAssertTrue(lengths.allSatisfy { $0 >= w.config.sequenceLength })
        XCTAssertTrue(docs.allSatisfy { $0.hasSuffix(" .") }, "documents are whole sentences")
        // Not the pretraining text: no shared document, and shifted value frequencies.
        let train = Set(w.trainDocuments(step: 1, batch: 64))
        XCTAssertTrue(train.isDisjoint(with: docs))
        // Shifted value distributions: over the people, pretraining's most common value of each
        // attribute (Zipf rank 0, the earliest birth year) is not the shift population's.
        let shift = ShiftDomain(w, c)
        func top(_ people: [Int], _ a: Int, _ values: (Int) -> [String]) -> String {
            var counts: [String: Int] = [:]
            for p in people {
                let v = values(p)[a]
                counts[a == 0 ? String(v.split(separator: " ").last ?? "") : v, default: 0] += 1
            }
            return counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? ""
        }
        let core = Array(0..<2_000)
        XCTAssertEqual(top(core, 0, w.attributes), "1900")
        XCTAssertEqual(top(shift.people, 0, shift.attributes), "1999")
        for (a, list) in [(1, w.cities), (2, w.universities), (3, w.majors), (4, w.employers)] {
            XCTAssertEqual(top(core, a, w.attributes), list[0])
            XCTAssertNotEqual(top(shift.people, a, shift.attributes), list[0])
        }
    }

    // MARK: Tasks

    func testTasksAreValid() throws {
        for (w, c) in [(Self.test, ContinualDataConfig.test), (Self.standard, ContinualDataConfig.standard)] {
            let sets = w.tasks(c)
            XCTAssertEqual(sets.count, 5)
            var labels = [Int](repeating: 0, count: 4)
            for (a, items) in sets.enumerated() {
                XCTAssertEqual(items.count, c.taskPeople)
                for (p, t) in items.enumerated() {
                    XCTAssertEqual(t.choices.count, 4)
                    XCTAssertEqual(Set(t.choices).count, 4)
                    XCTAssertTrue((0..<4).contains(t.label))
                    labels[t.label] += 1
                    XCTAssertTrue(t.choices.allSatisfy { $0.hasPrefix(" ") && !$0.hasPrefix("  ") })
                    XCTAssertEqual(t.choices[t.label], " " + w.attributes(p)[a])
                    let frames = WorldLexicon.trainTemplates[a].map { WorldLexicon.prefix($0, name: w.name(p)) }
                    XCTAssertTrue(frames.contains(t.context), t.context)
                    // Distractors are values of the same attribute (dates: four words).
                    for ch in t.choices { XCTAssertEqual(ch.split(separator: " ").count, a == 0 ? 4 : 1) }
                    XCTAssertEqual(t.metric, "acc")
                    let json = t.json
                    XCTAssertEqual(json["label"]?.intValue, t.label)
                    XCTAssertEqual(json["choices"]?.arrayValue?.count, 4)
                }
            }
            // Shuffled: the true value is not always in one place.
            XCTAssertGreaterThan(labels.filter { $0 > 0 }.count, 2)
        }
    }

    // MARK: Vocabulary

    func testEveryTokenIsKnown() throws {
        for (w, c) in [(Self.test, ContinualDataConfig.test), (Self.standard, standardShort)] {
            var texts: [String] = w.shiftDocuments(c)
            for f in w.paraFacts(c) + w.onceFacts(c) {
                texts += [f.trainContext] + f.paraphrases + f.memInput + f.memTarget + f.genInput + f.genTarget
            }
            for t in w.tasks(c).joined() { texts += [t.context] + t.choices }
            let tokenizer = try TinyRunBuilder.tokenizer(for: w)
            for t in texts {
                for word in t.split(separator: " ") { XCTAssertNotNil(w.id(of: String(word)), "\(word) unknown") }
                XCTAssertFalse(tokenizer.encode(t, addSpecialTokens: false).contains(0), t)
            }
            // A task's context and choice tokenise as the concatenation does (word-level).
            let t = w.tasks(c)[1][0]
            XCTAssertEqual(tokenizer.encode(t.context + t.choices[0], addSpecialTokens: false),
                           tokenizer.encode(t.context, addSpecialTokens: false) + tokenizer.encode(t.choices[0], addSpecialTokens: false))
        }
    }

    // MARK: Cache files

    func testFilesAreWrittenAndAddedToCompleteRuns() throws {
        let root = NSTemporaryDirectory() + "ke-continual-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cfg = TinyRunConfig.test, w = Self.test
        let lab = TinyLab(root: root)
        let files = try lab.files(cfg)
        let para = try FactSet.load(path: files.paraFacts)
        XCTAssertEqual(para.count, cfg.continual.paraItems)
        XCTAssertEqual(para.items[0].trainContext, w.paraFacts(cfg.continual)[0].trainContext)
        XCTAssertEqual(try readFileBytes(files.paraFacts), Array(World.jsonLines(w.paraFacts(cfg.continual)).utf8))
        XCTAssertEqual(try readFileBytes(files.onceFacts), Array(World.jsonLines(w.onceFacts(cfg.continual)).utf8))
        XCTAssertEqual(try Corpus.readDocuments(path: files.shiftText), w.shiftDocuments(cfg.continual))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: files.tasksDirectory).sorted(),
                       World.attributeNames.map { $0 + ".jsonl" }.sorted())
        for (file, items) in zip(files.taskFiles, w.tasks(cfg.continual)) {
            XCTAssertEqual(try readFileBytes(file), Array(World.jsonLines(items).utf8))
        }
        // A run is complete without the continual files (pretraining does not write them); they
        // are added to it, without training, when first asked for.
        let run = try TinyLab(root: root + "/fresh").run(cfg, measureEntropy: false)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.files.paraFacts))
        XCTAssertFalse(TinyLab.dataComplete(run.files))
        let builds = TinyRunBuilder.buildCount
        XCTAssertNotNil(TinyLab(root: root + "/fresh").completedRun(cfg))
        let added = try TinyLab(root: root + "/fresh").files(cfg)
        XCTAssertEqual(TinyRunBuilder.buildCount, builds)
        XCTAssertTrue(TinyLab.dataComplete(added))
        XCTAssertEqual(try readFileBytes(added.shiftText), try readFileBytes(files.shiftText))
        XCTAssertNotNil(TinyLab(root: root + "/fresh").completedRun(cfg))
        let entries = try FileManager.default.contentsOfDirectory(atPath: run.directory)
        XCTAssertFalse(entries.contains { $0.hasPrefix(".") }, "temporaries left: \(entries)")
    }

    // MARK: Configurations and cache keys

    func testBuiltinRunKeysAndCosineCheckpoints() throws {
        // `tiny`'s key is the one every cache already holds.
        XCTAssertEqual(TinyRunConfig.standard.cacheKey, "e4c31ec02d5df7ba")
        XCTAssertFalse(TinyRunConfig.standard.canonicalDescription.contains("continual"))
        let cosine = TinyRunConfig.standardCosine
        try cosine.validate()
        XCTAssertEqual(cosine.schedule, .cosine)
        XCTAssertEqual(cosine.steps, 1_200)
        XCTAssertEqual(cosine.learningRate, 4e-3)
        XCTAssertEqual(cosine.warmup, 100)
        XCTAssertEqual(cosine.checkpoints, [25, 50, 100, 180, 200, 300, 400, 600, 800, 900, 1_000, 1_200])
        XCTAssertNotEqual(cosine.cacheKey, TinyRunConfig.standard.cacheKey)
        // Same world, model and seed as `tiny`: only the schedule and checkpoints differ.
        var same = cosine
        same.schedule = .constant; same.checkpoints = TinyRunConfig.standard.checkpoints
        XCTAssertEqual(same, TinyRunConfig.standard)
        XCTAssertEqual(TinyRunConfig.testCosine.checkpoints, [5, 6, 10, 20, 30, 40])
        XCTAssertEqual(TinyRunConfig.cosineMarks(steps: 1_200), [180, 600, 900, 1_200])
        // Cosine to 10 %: the rate falls monotonically after warm-up and approaches 4e-4 at the end.
        let rates = (0..<cosine.steps).map(cosine.learningRate(atStep:))
        XCTAssertEqual(rates[99], 4e-3, accuracy: 1e-15)
        XCTAssertTrue(zip(rates[100...], rates[101...]).allSatisfy { $0 >= $1 })
        XCTAssertEqual(rates[1_199], 4e-4, accuracy: 1e-8)
        XCTAssertGreaterThan(rates[1_199], 4e-4)
        XCTAssertEqual(rates[599], 4e-4 + 0.5 * 3.6e-3 * (1 + cos(Double.pi * 499 / 1_100)), accuracy: 1e-15)
        // The test configuration's sizes enter its key; invalid sizes are errors.
        XCTAssertTrue(TinyRunConfig.test.canonicalDescription.contains("continual.para=4"))
        var bad = TinyRunConfig.test
        bad.continual.shiftPeople = 1_000
        XCTAssertThrowsError(try bad.validate())
        bad = TinyRunConfig.test
        bad.continual.taskPeople = 101
        XCTAssertThrowsError(try bad.validate())
        bad = TinyRunConfig.test
        bad.world.majors = 3
        XCTAssertThrowsError(try bad.validate())
    }

    private func fnv(_ s: String) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
