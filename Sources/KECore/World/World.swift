import Foundation

// MARK: World settings

/// The settings of a synthetic world. Every field enters the cache key of a run built on it.
///
/// People have two-token names (first, last) and five attributes (birth date, birth city,
/// university, major, employer) whose values are Zipf(1)-distributed. The pretraining stream
/// samples a *core* population by Zipf(1) rank, optionally mixed with *arrivals*: newcomers who
/// enter the stream at a steady rate and stay in it for `window` steps (a long tail that is
/// never exhausted). About half the text is filler from a small Zipfian grammar.
public struct WorldConfig: Sendable, Hashable, Codable {
    /// The seed naming the world: same seed, same words, people and text on every machine.
    public var seed: UInt64 = 1
    /// Distinct first and last names (names are their pairs).
    public var firstNames = 200
    public var lastNames = 200
    /// People in the Zipf-sampled core population (indices 0..<corePeople; rank = index).
    public var corePeople = 20_000
    /// People reserved for `tiny:new` (never in the stream) and core people probed by `tiny:known`.
    public var newPeople = 64
    public var knownPeople = 64
    /// Attribute value counts.
    public var cities = 200
    public var universities = 100
    public var majors = 60
    public var employers = 200
    /// Filler grammar sizes.
    public var nouns = 1000
    public var verbs = 300
    public var adjectives = 200
    /// Probability that a document segment is a biography (else a filler paragraph).
    public var biographyShare = 0.5
    /// Words (= tokens) per document.
    public var sequenceLength = 64
    /// Newcomers entering the stream per step (0 = no arrivals), how many steps each stays,
    /// and the share of biographies that are about newcomers.
    public var arrivalsPerStep = 0.0
    public var arrivalWindow = 200
    public var arrivalShare = 0.0

    public init() {}

    /// Checks the settings, so generation can never trap or loop forever.
    ///
    /// - Throws: `CoreError` ("world: …") naming the first setting out of range.
    public func validate() throws {
        func check(_ ok: Bool, _ what: String) throws { if !ok { throw CoreError("world: \(what)") } }
        try check((2...2_000).contains(firstNames) && (2...2_000).contains(lastNames), "first and last names must each be 2…2000")
        let names = firstNames * lastNames
        try check(names % 7919 != 0, "first × last names must not be a multiple of 7919")
        try check((1...1_000_000).contains(corePeople), "core people must be 1…1000000")
        try check((1...10_000).contains(newPeople) && (1...10_000).contains(knownPeople), "new and known people must be 1…10000")
        try check(corePeople + newPeople <= names, "core + new people exceed the \(names) names")
        try check(knownPeople <= corePeople, "known people must be core people")
        try check([cities, universities, majors, employers].allSatisfy { (1...2_000).contains($0) }, "attribute value counts must be 1…2000")
        try check((1...3_000).contains(nouns) && (1...1_000).contains(verbs) && (1...1_000).contains(adjectives), "grammar sizes out of range (nouns ≤ 3000, verbs and adjectives ≤ 1000)")
        try check(biographyShare >= 0 && biographyShare <= 1, "biography share must be in [0, 1]")
        try check((8...4_096).contains(sequenceLength), "sequence length must be 8…4096")
        try check(arrivalsPerStep >= 0 && arrivalsPerStep <= 1_000, "arrivals per step must be 0…1000")
        try check((1...1_000_000).contains(arrivalWindow), "arrival window must be 1…1000000")
        try check(arrivalShare >= 0 && arrivalShare <= 1, "arrival share must be in [0, 1]")
    }
}

// MARK: World

/// A seeded synthetic world of people and filler text: vocabulary, pretraining stream,
/// held-out text and fact sets. Pure and deterministic; mirrors `Scripts/research/world.py`.
public final class World: Sendable {
    public let config: WorldConfig
    /// The word-level vocabulary; index = token id. Ids 0 and 1 are `[UNK]` and `[PAD]`.
    public let vocabulary: [String]
    let ids: [String: Int]
    let first: [String], last: [String]
    let cities: [String], universities: [String], majors: [String], employers: [String]
    let nouns: [String], verbs: [String], adjectives: [String]
    let nounVerbs: [[Int]], verbObjects: [[Int]]
    let zipfNouns: ZipfTable, zipfVerbs: ZipfTable, zipfAdjectives: ZipfTable, zipfCore: ZipfTable
    let zipfCities: ZipfTable, zipfUniversities: ZipfTable, zipfMajors: ZipfTable, zipfEmployers: ZipfTable
    let zipfYears: ZipfTable
    /// People the stream may name: every name but those reserved for new facts.
    let streamPeople: Int
    let nameOffset: Int

    /// - Throws: `CoreError` when `config` is invalid or its word lists cannot be generated
    ///   distinct.
    public init(_ config: WorldConfig) throws {
        try config.validate()
        self.config = config
        let seed = config.seed
        var rng = SplitMix64(seed: SplitMix64.derive(seed, [1]))
        var used = Set(WorldLexicon.months).union(WorldLexicon.function).union(WorldLexicon.templateWords)
        func words(_ n: Int, _ lo: Int, _ hi: Int, _ suffix: String = "") throws -> [String] {
            var out: [String] = []
            var attempts = 0
            while out.count < n {
                attempts += 1
                if attempts > 100 * n + 10_000 { throw CoreError("world: cannot generate \(n) distinct words") }
                let k = lo + rng.below(hi - lo + 1)
                var w = ""
                for _ in 0..<k {
                    w += WorldLexicon.onsets[rng.below(WorldLexicon.onsets.count)]
                    w += WorldLexicon.vowels[rng.below(WorldLexicon.vowels.count)]
                }
                w += WorldLexicon.codas[rng.below(WorldLexicon.codas.count)] + suffix
                if used.insert(w).inserted { out.append(w) }
            }
            return out
        }
        first = try words(config.firstNames, 1, 2)
        last = try words(config.lastNames, 2, 3)
        cities = try words(config.cities, 2, 3)
        universities = try words(config.universities, 2, 2, "ton")
        majors = try words(config.majors, 2, 2, "ics")
        employers = try words(config.employers, 2, 2, "corp")
        nouns = try words(config.nouns, 1, 3)
        verbs = try words(config.verbs, 1, 2, "s")
        adjectives = try words(config.adjectives, 1, 2, "y")

        var g = SplitMix64(seed: SplitMix64.derive(seed, [2]))
        nounVerbs = (0..<config.nouns).map { _ in (0..<3).map { _ in g.below(config.verbs) } }
        verbObjects = (0..<config.verbs).map { _ in (0..<4).map { _ in g.below(config.nouns) } }
        zipfNouns = ZipfTable(count: config.nouns)
        zipfVerbs = ZipfTable(count: config.verbs)
        zipfAdjectives = ZipfTable(count: config.adjectives)
        zipfCore = ZipfTable(count: config.corePeople)
        zipfCities = ZipfTable(count: config.cities)
        zipfUniversities = ZipfTable(count: config.universities)
        zipfMajors = ZipfTable(count: config.majors)
        zipfEmployers = ZipfTable(count: config.employers)
        zipfYears = ZipfTable(count: 100)

        let templateOnly = WorldLexicon.templateWords.subtracting(WorldLexicon.function).sorted()
        var vocab = ["[UNK]", "[PAD]"] + WorldLexicon.function + WorldLexicon.months
        vocab += (1...28).map(String.init) + (0..<100).map { String(1900 + $0) } + [","]
        vocab += templateOnly + first + last + cities + universities + majors + employers
        vocab += nouns + verbs + adjectives
        vocabulary = vocab
        var map: [String: Int] = [:]
        for (i, w) in vocab.enumerated() {
            if map[w] != nil { throw CoreError("world: duplicate vocabulary word \(w)") }
            map[w] = i
        }
        ids = map
        let names = config.firstNames * config.lastNames
        streamPeople = names - config.newPeople
        nameOffset = Int(SplitMix64.derive(seed, [3]) % UInt64(names))
    }

    // MARK: People

    /// The full name ("first last") of person `p`: an affine bijection of the name grid.
    public func name(_ p: Int) -> String {
        let n = config.firstNames * config.lastNames
        let q = Int((UInt64(7919) &* UInt64(((p % n) + n) % n) &+ UInt64(nameOffset)) % UInt64(n))
        return first[q % config.firstNames] + " " + last[q / config.firstNames]
    }

    /// The person index of the `j`-th new-fact person (reserved at the end of the name grid).
    public func newPerson(_ j: Int) -> Int { config.firstNames * config.lastNames - 1 - j }

    /// Attribute values of person `p`, in `WorldLexicon.attributes` order (a date is 4 words).
    public func attributes(_ p: Int) -> [String] {
        var r = SplitMix64(seed: SplitMix64.derive(config.seed, [4, UInt64(p)]))
        let month = WorldLexicon.months[r.below(12)]
        let day = 1 + r.below(28)
        let year = 1900 + zipfYears.sample(r.uniform())
        let date = "\(month) \(day) , \(year)"
        let city = cities[zipfCities.sample(r.uniform())]
        let uni = universities[zipfUniversities.sample(r.uniform())]
        let major = majors[zipfMajors.sample(r.uniform())]
        let employer = employers[zipfEmployers.sample(r.uniform())]
        return [date, city, uni, major, employer]
    }

    /// A biography: one training-template sentence per attribute, in a random order.
    func biography(_ p: Int, _ r: inout SplitMix64) -> [String] {
        let values = attributes(p), n = name(p)
        var order = Array(0..<5)
        for i in stride(from: 4, to: 0, by: -1) {
            let j = r.below(i + 1)
            order.swapAt(i, j)
        }
        return order.map { a in
            let ts = WorldLexicon.trainTemplates[a]
            return WorldLexicon.fill(ts[r.below(ts.count)], name: n, value: values[a])
        }
    }

    // MARK: Filler grammar

    func nounPhrase(_ r: inout SplitMix64, _ noun: Int) -> String {
        let det = r.below(3) != 0 ? "the" : "a"
        if r.below(3) == 0 {
            return det + " " + adjectives[zipfAdjectives.sample(r.uniform())] + " " + nouns[noun]
        }
        return det + " " + nouns[noun]
    }

    func fillerSentence(_ r: inout SplitMix64) -> String {
        let s = zipfNouns.sample(r.uniform())
        let v = r.below(5) != 0 ? nounVerbs[s][r.below(3)] : zipfVerbs.sample(r.uniform())
        let o = r.below(5) != 0 ? verbObjects[v][r.below(4)] : zipfNouns.sample(r.uniform())
        var text = nounPhrase(&r, s)
        text += " " + verbs[v]
        text += " " + nounPhrase(&r, o)
        let k = r.below(4)
        if k == 0 {
            let p = WorldLexicon.function[4 + r.below(8)]
            let extra = zipfNouns.sample(r.uniform())
            text += " " + p + " " + nounPhrase(&r, extra)
        } else if k == 1 {
            text += " " + WorldLexicon.function[12 + r.below(6)]
        }
        return text + " ."
    }

    // MARK: Stream

    /// The person a biography at `step` is about: a newcomer (share `arrivalShare`, once any
    /// have arrived) or a core person by Zipf(1) rank.
    func person(atStep step: Int, _ r: inout SplitMix64) -> Int {
        if config.arrivalsPerStep > 0 && r.uniform() < config.arrivalShare && step > 0 {
            let total = Int(Double(step) * config.arrivalsPerStep)
            let lo = max(0, total - Int(Double(config.arrivalWindow) * config.arrivalsPerStep))
            if total > lo {
                return (config.corePeople + lo + r.below(total - lo)) % streamPeople
            }
        }
        return zipfCore.sample(r.uniform())
    }

    /// Document `row` of the stream at `step` (`tag` 0 = training, 1 = held-out, others free):
    /// biographies and filler paragraphs until `sequenceLength` words, cut there.
    public func document(step: Int, row: Int, tag: Int = 0) -> String {
        var r = SplitMix64(seed: SplitMix64.derive(config.seed, [UInt64(10 &+ max(0, tag)), UInt64(max(0, step)), UInt64(max(0, row))]))
        var words: [Substring] = []
        let seq = config.sequenceLength
        while words.count < seq {
            if r.uniform() < config.biographyShare {
                let p = person(atStep: step, &r)
                for s in biography(p, &r) { words += s.split(separator: " ") }
            } else {
                for _ in 0..<(2 + r.below(3)) { words += fillerSentence(&r).split(separator: " ") }
            }
        }
        return words.prefix(seq).joined(separator: " ")
    }

    /// The training batch of `step`: documents 0..<batch (biographies are sampled afresh
    /// for every step, so the stream never repeats).
    public func trainDocuments(step: Int, batch: Int) -> [String] {
        parallelMap(batch) { document(step: step, row: $0, tag: 0) }
    }

    /// `count` held-out documents: fresh text from the stream's distribution at `step`.
    public func heldoutDocuments(count: Int, step: Int) -> [String] {
        parallelMap(count) { document(step: step, row: $0, tag: 1) }
    }

    // MARK: Tokens

    /// The token id of each whitespace-separated word (`[UNK]` = 0 for unknown words), the
    /// same ids the world's WordLevel `tokenizer.json` gives for world text.
    public func encode(_ text: String) -> [Int] {
        text.split(separator: " ").map { ids[String($0)] ?? 0 }
    }

    /// The training batch of `step` as token ids: `batch` rows of `sequenceLength` ids each.
    public func trainBatch(step: Int, batch: Int) -> [[Int]] {
        parallelMap(batch) { encode(document(step: step, row: $0, tag: 0)) }
    }

    /// The id of `word`, if in the vocabulary.
    public func id(of word: String) -> Int? { ids[word] }
}
