import Foundation

// MARK: Data for the continual-pretraining protocol
//
// Built-in data for reproducing the paper's findings 2 and 3 (Kim et al. 2025, §4: continual
// knowledge learning in the protocol of Chang et al. 2024) at toy scale, generated from a run's
// world:
//
//   tiny:para    new people taught in `versions` biography versions (paraphrases)
//   tiny:once    other new people, one version only
//   tiny:shift   a continual corpus from a shifted domain (other people, other distributions)
//   tiny:tasks   zero-shot multiple choice on the people the run knows best (forgetting)
//
// Every set is seeded by the world's seed and a tag of its own (30–35), so it is the same text
// on every machine. The people of tiny:para, tiny:once and tiny:shift are reserved at the end of
// the name grid just below the tiny:new people: a stream without arrivals (the built-in runs)
// names core people only, so they never occur in pretraining (`ContinualDataConfig.validate`
// checks that a stream with arrivals cannot reach them either).

/// The sizes of a world's continual-protocol data. Enters a run's cache key only when it differs
/// from `standard`, so runs cached before it existed keep their keys.
public struct ContinualDataConfig: Sendable, Hashable, Codable {
    /// Items of `tiny:para` (taught in every injection event, one version each).
    public var paraItems = 12
    /// Items of `tiny:once` (each taught in one event).
    public var onceItems = 60
    /// Biography versions of a `tiny:para` item (version 1 is its `train_context`).
    public var versions = 10
    /// People of the `tiny:shift` population (sampled by Zipf(1) rank).
    public var shiftPeople = 2_000
    /// Words (= tokens) of `tiny:shift` at least: whole documents are added until reached.
    public var shiftTokens = 840_000
    /// The most frequent core people (ranks 0, 1, …) that `tiny:tasks` asks about, five items
    /// each (one per attribute).
    public var taskPeople = 100

    public init() {}

    /// The built-in sizes: 12 + 60 items (12 + 6 = 18 fact rows per event of ten, ≈ 56 % of a
    /// 32-row batch), 10 versions, 2,000 shift people, ≥ 840,000 shift tokens (410 steps of
    /// 32 × 64 in one epoch), 100 × 5 task items.
    public static var standard: ContinualDataConfig { ContinualDataConfig() }

    /// Sizes for `TinyRunConfig.test` (its world has 400 names and 100 core people).
    public static var test: ContinualDataConfig {
        var c = ContinualDataConfig()
        c.paraItems = 4; c.onceItems = 10; c.shiftPeople = 40; c.shiftTokens = 4_000; c.taskPeople = 8
        return c
    }

    /// People reserved below the new-fact people: para, once, then the shift population.
    public var reservedPeople: Int { paraItems + onceItems + shiftPeople }

    /// Checks the sizes against the world they are drawn from and the stream of a run of
    /// `steps` steps.
    ///
    /// - Throws: `CoreError` ("continual data: …") when a size is out of range, the reserved
    ///   people do not fit between the people the stream can name and the new-fact people, the
    ///   task people are not core people, or an attribute has fewer than 4 values (a task needs
    ///   4 distinct choices).
    public func validate(world w: WorldConfig, steps: Int) throws {
        func check(_ ok: Bool, _ what: String) throws { if !ok { throw CoreError("continual data: \(what)") } }
        try check((1...10_000).contains(paraItems) && (1...10_000).contains(onceItems) && (1...100_000).contains(shiftPeople),
                  "para and once items must be 1…10000, shift people 1…100000")
        try check((1...100).contains(versions), "versions must be 1…100")
        try check((1...100_000_000).contains(shiftTokens), "shift tokens must be 1…100000000")
        try check((1...100_000).contains(taskPeople) && taskPeople <= w.corePeople, "task people must be core people (1…100000)")
        let arrivals = w.arrivalsPerStep > 0 ? Int((Double(steps) * w.arrivalsPerStep).rounded(.up)) : 0
        try check(w.corePeople + arrivals + w.newPeople + reservedPeople <= w.firstNames * w.lastNames,
                  "para, once and shift people (\(reservedPeople)) do not fit beside the stream's people and the new people")
        try check([w.cities, w.universities, w.majors, w.employers].allSatisfy { $0 >= 4 },
                  "tasks need at least 4 values of every attribute")
    }
}

/// One multiple-choice item: the context, the candidate continuations (each beginning with a
/// space) and the index of the right one. Scored by comparing the log-likelihood of each choice
/// after the context (`metric` "acc": the summed log-probability; "len_norm": per token).
public struct WorldTask: Sendable, Equatable {
    public var context: String
    public var choices: [String]
    public var label: Int
    public var metric = "acc"

    /// The item as a JSON object: `{"context", "choices", "label", "metric"}`.
    public var json: JSONValue {
        .object([
            ("context", .string(context)),
            ("choices", .array(choices.map { .string($0) })),
            ("label", .int(label)),
            ("metric", .string(metric)),
        ])
    }
}

extension World {
    /// The attribute names, in the order of `attributes(_:)`: birth_date, birth_city,
    /// university, major, employer (also the file names of `tiny:tasks`).
    public static var attributeNames: [String] { WorldLexicon.attributes }

    /// The `j`-th person reserved for the continual data: the people just below the new-fact
    /// people at the end of the name grid (j = 0 is the first `tiny:para` person).
    public func continualPerson(_ j: Int) -> Int { newPerson(config.newPeople + j) }

    /// The people of `tiny:para`, `tiny:once` and the `tiny:shift` population, in that order.
    public func continualPeople(_ c: ContinualDataConfig) -> (para: [Int], once: [Int], shift: [Int]) {
        let para = (0..<c.paraItems).map(continualPerson)
        let once = (c.paraItems..<(c.paraItems + c.onceItems)).map(continualPerson)
        let shift = ((c.paraItems + c.onceItems)..<c.reservedPeople).map(continualPerson)
        return (para, once, shift)
    }

    // MARK: Facts with biography versions

    /// The fact item of person `p` with `versions` biography versions. Each version states all
    /// five attributes, one sentence each, in its own random order; per attribute the versions
    /// cycle through the 3 training and 2 version templates (from a random start, shuffled), so
    /// 10 versions use each template twice. Versions are pairwise distinct. Memorisation probes
    /// are version 1's sentences cut before the value; generalisation probes use a held-out
    /// template that no version uses.
    func versionedFact(_ p: Int, versions: Int, _ r: inout SplitMix64) -> WorldFact {
        let values = attributes(p), n = name(p)
        let pools = (0..<5).map { WorldLexicon.trainTemplates[$0] + WorldLexicon.versionTemplates[$0] }
        // choice[a][v]: the template of attribute a in version v.
        let choice: [[Int]] = pools.map { pool in
            let start = r.below(pool.count)
            var c = (0..<versions).map { (start + $0) % pool.count }
            World.shuffle(&c, &r)
            return c
        }
        var texts: [String] = []
        var seen = Set<String>()
        for v in 0..<versions {
            var text = ""
            for _ in 0..<1_000 {
                var order = Array(0..<5)
                World.shuffle(&order, &r)
                text = order.map { a in WorldLexicon.fill(pools[a][choice[a][v]], name: n, value: values[a]) }
                    .joined(separator: " ")
                if seen.insert(text).inserted { break }
            }
            texts.append(text)
        }
        var f = WorldFact(trainContext: texts[0], memInput: [], memTarget: [], genInput: [], genTarget: [],
                          paraphrases: Array(texts.dropFirst()))
        for a in 0..<5 {
            let gs = WorldLexicon.genTemplates[a]
            f.memInput.append(WorldLexicon.prefix(pools[a][choice[a][0]], name: n))
            f.memTarget.append(values[a])
            f.genInput.append(WorldLexicon.prefix(gs[r.below(gs.count)], name: n))
            f.genTarget.append(values[a])
        }
        return f
    }

    /// `tiny:para`: `paraItems` new people, each with `versions` biography versions
    /// (`trainContext` is version 1, `paraphrases` versions 2…). Tag 30.
    public func paraFacts(_ c: ContinualDataConfig) -> [WorldFact] {
        var r = SplitMix64(seed: SplitMix64.derive(config.seed, [30]))
        return continualPeople(c).para.map { versionedFact($0, versions: c.versions, &r) }
    }

    /// `tiny:once`: `onceItems` other new people, one biography version each (no
    /// `paraphrases`), drawn as a `tiny:para` item's version 1 is. Tag 31.
    public func onceFacts(_ c: ContinualDataConfig) -> [WorldFact] {
        var r = SplitMix64(seed: SplitMix64.derive(config.seed, [31]))
        return continualPeople(c).once.map { versionedFact($0, versions: 1, &r) }
    }

    // MARK: The shifted corpus

    /// `tiny:shift`: documents from a shifted domain, at least `shiftTokens` words in all, one
    /// document per string. A document is whole segments (never cut) until it has at least
    /// `sequenceLength` words; 40 % of segments (pretraining: 50 %) are biographies of the shift
    /// population (Zipf(1) over `shiftPeople` reserved people, never in pretraining) stating 3–5
    /// of their attributes, with training templates chosen 10/30/60 % (pretraining: uniform) and
    /// attribute values from shifted distributions (each value list's Zipf ranks permuted by a
    /// seed; birth years Zipf from 1999 downwards). Filler comes from a perturbed grammar: the
    /// same words, but permuted Zipf ranks, redrawn noun → verb → object preferences followed
    /// 60 % of the time (pretraining: 80 %), "a" more often than "the", adjectives every other
    /// noun phrase, and a quarter of sentences two clauses joined by "and", "but" or "while".
    /// Every word is in the world's vocabulary. Tags 32 (grammar), 33 (documents), 34 (people).
    public func shiftDocuments(_ c: ContinualDataConfig) -> [String] {
        let g = ShiftDomain(self, c)
        var docs: [String] = []
        var total = 0
        var i = 0
        while total < c.shiftTokens {
            var r = SplitMix64(seed: SplitMix64.derive(config.seed, [33, UInt64(i)]))
            var words: [Substring] = []
            while words.count < config.sequenceLength {
                if r.uniform() < 0.4 {
                    for s in g.biography(g.person(&r), &r) { words += s.split(separator: " ") }
                } else {
                    for _ in 0..<(2 + r.below(3)) { words += g.fillerSentence(&r).split(separator: " ") }
                }
            }
            docs.append(words.joined(separator: " "))
            total += words.count
            i += 1
        }
        return docs
    }

    // MARK: Multiple-choice tasks

    /// `tiny:tasks`: per attribute (in `attributeNames` order), one item per task person (core
    /// ranks 0…taskPeople−1, the people pretraining names most often): context = a training
    /// template of that attribute cut before the value (a memorisation probe's input), choices =
    /// the person's value and 3 distinct other values of that attribute drawn from the world's
    /// own distribution (Zipf, so frequency alone does not give the answer away), each with a
    /// leading space, in a seeded random order; label = the index of the true value; metric
    /// "acc". Tag 35.
    public func tasks(_ c: ContinualDataConfig) -> [[WorldTask]] {
        (0..<5).map { a in
            (0..<c.taskPeople).map { p in
                var r = SplitMix64(seed: SplitMix64.derive(config.seed, [35, UInt64(a), UInt64(p)]))
                let ts = WorldLexicon.trainTemplates[a]
                let context = WorldLexicon.prefix(ts[r.below(ts.count)], name: name(p))
                let truth = attributes(p)[a]
                var values = [truth]
                var attempts = 0
                while values.count < 4 {
                    attempts += 1
                    let v = attempts <= 10_000 ? attributeValue(a, &r) : attributeValue(a, fallback: attempts - 10_001)
                    if !values.contains(v) { values.append(v) }
                }
                World.shuffle(&values, &r)
                return WorldTask(context: context, choices: values.map { " " + $0 }, label: values.firstIndex(of: truth) ?? 0)
            }
        }
    }

    /// A value of attribute `a` drawn as `attributes(_:)` draws it (a date: uniform month and
    /// day, Zipf year).
    func attributeValue(_ a: Int, _ r: inout SplitMix64) -> String {
        switch a {
        case 0:
            let month = WorldLexicon.months[r.below(12)]
            let day = 1 + r.below(28)
            return "\(month) \(day) , \(1900 + zipfYears.sample(r.uniform()))"
        case 1: return cities[zipfCities.sample(r.uniform())]
        case 2: return universities[zipfUniversities.sample(r.uniform())]
        case 3: return majors[zipfMajors.sample(r.uniform())]
        default: return employers[zipfEmployers.sample(r.uniform())]
        }
    }

    /// The `k`-th value of attribute `a` in list order (a safety net after 10,000 rejected
    /// draws; never reached with ≥ 4 values per attribute in practice).
    func attributeValue(_ a: Int, fallback k: Int) -> String {
        switch a {
        case 0: return "january \(1 + k % 28) , \(1900 + (k / 28) % 100)"
        case 1: return cities[k % cities.count]
        case 2: return universities[k % universities.count]
        case 3: return majors[k % majors.count]
        default: return employers[k % employers.count]
        }
    }

    /// Fisher–Yates with `r.below` (the biography's order shuffle).
    static func shuffle<T>(_ xs: inout [T], _ r: inout SplitMix64) {
        guard xs.count > 1 else { return }
        for i in stride(from: xs.count - 1, to: 0, by: -1) {
            xs.swapAt(i, r.below(i + 1))
        }
    }

    /// Tasks as JSON Lines, the form `tasks "PATH"` reads.
    public static func jsonLines(_ tasks: [WorldTask]) -> String {
        tasks.map { $0.json.serialized() + "\n" }.joined()
    }
}

// MARK: The shifted domain

/// The perturbed grammar, value distributions and population of `tiny:shift`.
struct ShiftDomain {
    let world: World
    let people: [Int]
    let zipfPeople: ZipfTable
    let nounRank: [Int], verbRank: [Int], adjectiveRank: [Int]
    let nounVerbs: [[Int]], verbObjects: [[Int]]
    /// Value rank → value index, per attribute 1…4 (cities, universities, majors, employers).
    let valueRank: [[Int]]

    init(_ w: World, _ c: ContinualDataConfig) {
        world = w
        people = w.continualPeople(c).shift
        zipfPeople = ZipfTable(count: max(1, people.count))
        var g = SplitMix64(seed: SplitMix64.derive(w.config.seed, [32]))
        func permutation(_ n: Int) -> [Int] {
            var p = Array(0..<n)
            World.shuffle(&p, &g)
            return p
        }
        nounRank = permutation(w.nouns.count)
        verbRank = permutation(w.verbs.count)
        adjectiveRank = permutation(w.adjectives.count)
        nounVerbs = (0..<w.nouns.count).map { _ in (0..<3).map { _ in g.below(w.verbs.count) } }
        verbObjects = (0..<w.verbs.count).map { _ in (0..<4).map { _ in g.below(w.nouns.count) } }
        valueRank = [w.cities.count, w.universities.count, w.majors.count, w.employers.count].map(permutation)
    }

    /// A shift person by Zipf(1) rank.
    func person(_ r: inout SplitMix64) -> Int { people[zipfPeople.sample(r.uniform())] }

    /// The shifted attribute values of person `p` (fixed per person, tag 34).
    func attributes(_ p: Int) -> [String] {
        let w = world
        var r = SplitMix64(seed: SplitMix64.derive(w.config.seed, [34, UInt64(p)]))
        let month = WorldLexicon.months[r.below(12)]
        let day = 1 + r.below(28)
        let year = 1999 - w.zipfYears.sample(r.uniform())
        let city = w.cities[valueRank[0][w.zipfCities.sample(r.uniform())]]
        let uni = w.universities[valueRank[1][w.zipfUniversities.sample(r.uniform())]]
        let major = w.majors[valueRank[2][w.zipfMajors.sample(r.uniform())]]
        let employer = w.employers[valueRank[3][w.zipfEmployers.sample(r.uniform())]]
        return ["\(month) \(day) , \(year)", city, uni, major, employer]
    }

    /// 3–5 attribute sentences in a random order; training templates chosen 10/30/60 %.
    func biography(_ p: Int, _ r: inout SplitMix64) -> [String] {
        let values = attributes(p), n = world.name(p)
        var order = Array(0..<5)
        World.shuffle(&order, &r)
        let k = 3 + r.below(3)
        return order.prefix(k).map { a in
            let u = r.uniform()
            let t = u < 0.1 ? 0 : (u < 0.4 ? 1 : 2)
            return WorldLexicon.fill(WorldLexicon.trainTemplates[a][t], name: n, value: values[a])
        }
    }

    func nounPhrase(_ r: inout SplitMix64, _ noun: Int) -> String {
        let w = world
        let det = r.below(3) == 0 ? "the" : "a"
        if r.below(2) == 0 {
            return det + " " + w.adjectives[adjectiveRank[w.zipfAdjectives.sample(r.uniform())]] + " " + w.nouns[noun]
        }
        return det + " " + w.nouns[noun]
    }

    func clause(_ r: inout SplitMix64) -> String {
        let w = world
        let s = nounRank[w.zipfNouns.sample(r.uniform())]
        let v = r.below(5) < 3 ? nounVerbs[s][r.below(3)] : verbRank[w.zipfVerbs.sample(r.uniform())]
        let o = r.below(5) < 3 ? verbObjects[v][r.below(4)] : nounRank[w.zipfNouns.sample(r.uniform())]
        var text = nounPhrase(&r, s) + " " + w.verbs[v] + " " + nounPhrase(&r, o)
        let k = r.below(6)
        if k < 2 {
            let prep = WorldLexicon.function[4 + r.below(8)]
            text += " " + prep + " " + nounPhrase(&r, nounRank[w.zipfNouns.sample(r.uniform())])
        } else if k == 2 {
            text += " " + WorldLexicon.function[12 + r.below(6)]
        }
        return text
    }

    func fillerSentence(_ r: inout SplitMix64) -> String {
        var text = clause(&r)
        if r.below(4) == 0 {
            text += " " + ["and", "but", "while"][r.below(3)] + " " + clause(&r)
        }
        return text + " ."
    }
}
