import XCTest
@testable import KECore

/// The synthetic world: determinism, parity with the Python prototype, vocabulary closure,
/// fact format, template disjointness, tokenizer.json and the tiny run's configuration.
final class WorldTests: XCTestCase {
    // MARK: Helpers

    private static let standard: World = {
        do { return try World(WorldConfig()) } catch { fatalError("standard world: \(error)") }
    }()

    private func fnv(_ s: String) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    private var arrivalsConfig: WorldConfig {
        var c = WorldConfig()
        c.seed = 7; c.corePeople = 2_000; c.arrivalsPerStep = 2; c.arrivalWindow = 300; c.arrivalShare = 0.5
        return c
    }

    // MARK: PRNG

    func testSplitMix64ReferenceVector() {
        var r = SplitMix64(seed: 1_234_567)
        XCTAssertEqual(r.next(), 6_457_827_717_110_365_317)
        var a = SplitMix64(seed: 42)
        XCTAssertEqual([a.next(), a.next(), a.next()], [13_679_457_532_755_275_413, 2_949_826_092_126_892_291, 5_139_283_748_462_763_858])
        XCTAssertEqual(SplitMix64.derive(7, [1, 2, 3]), 15_619_577_285_842_681_397)
        var u = SplitMix64(seed: 1)
        XCTAssertEqual(u.uniform(), 0.5665615751722809)
        XCTAssertEqual(u.below(1000), 519)
    }

    func testZipfTableFollowsRanks() {
        let z = ZipfTable(count: 4)  // P ∝ 1, 1/2, 1/3, 1/4 (sum 25/12)
        XCTAssertEqual(z.sample(0), 0)
        XCTAssertEqual(z.sample(0.47), 0)   // cdf[0] = 0.48
        XCTAssertEqual(z.sample(0.49), 1)
        XCTAssertEqual(z.sample(0.999), 3)
        XCTAssertEqual(z.cdf.last, 1.0)
    }

    // MARK: Parity with Scripts/research/parity.py

    func testMatchesPythonPrototype() throws {
        let w = Self.standard
        XCTAssertEqual(w.vocabulary.count, 2666)
        XCTAssertEqual(w.vocabulary[150], "1989")
        XCTAssertEqual(w.vocabulary.last, "fufeamy")
        XCTAssertEqual(w.name(0), "latil troukefox")
        XCTAssertEqual(w.name(w.newPerson(0)), "sond trisi")
        XCTAssertEqual(w.attributes(0), ["january 27 , 1999", "rainihond", "trigouston", "peaprathics", "meagendcorp"])
        XCTAssertEqual(w.document(step: 5, row: 0), "the bron rains the caifour on the kiprey kle . the trafin kluss the gistuvir . the couzol pobross a sinokaith then . the bregun broubims the vor never . cax leatruceth majored in jaiferics . the employer of cax leatruceth was steanamcorp . cax leatruceth was born in gipror . the school of cax leatruceth was vujumton . cax leatruceth was born on")
        XCTAssertEqual(w.heldoutDocuments(count: 1, step: 7).first, "a troutriry trolem doss the greasy tistan . a ramy klipoklin firass the segouca while . a trealy ganes vestours a gul again . the bregun meas the tistan . a wukluxy hefoun seajas the koul often . the steavoul grears the kany brox often . the jeaxy baisistaix houths a sto to the teandy gajuzeas . the keklesy mutrairan pess a cathy houbriwe")
        var docs: [String] = []
        for s in 0..<10 { for r in 0..<5 { docs.append(w.document(step: s, row: r)) } }
        XCTAssertEqual(fnv(docs.joined(separator: "\n")), "47e313aca0c51ba1")

        let k0 = try XCTUnwrap(w.knownFacts().first)
        XCTAssertEqual(k0.trainContext, "latil troukefox worked for meagendcorp . latil troukefox was born in rainihond . the school of latil troukefox was trigouston . latil troukefox came into this world on january 27 , 1999 . the field of latil troukefox was peaprathics .")
        XCTAssertEqual(k0.memInput, ["latil troukefox was born on", "latil troukefox spent early years in", "latil troukefox graduated from", "the field of latil troukefox was", "latil troukefox was employed by"])
        XCTAssertEqual(k0.genInput, ["the day latil troukefox arrived was", "the hometown of latil troukefox is", "latil troukefox earned a diploma at", "latil troukefox was a student of", "the company of latil troukefox was"])
        let n1 = w.newFacts()[1]
        XCTAssertEqual(n1.trainContext, "klowin braidrean was employed by naibreathcorp . the birthplace of klowin braidrean is wocirond . klowin braidrean came into this world on june 14 , 1900 . klowin braidrean majored in peaprathics . klowin braidrean studied at gutrindton .")
        XCTAssertEqual(n1.memTarget, ["june 14 , 1900", "wocirond", "gutrindton", "peaprathics", "naibreathcorp"])
        XCTAssertEqual(n1.genInput[3], "the subject klowin braidrean chose was")

        let a = try World(arrivalsConfig)
        XCTAssertEqual(a.document(step: 500, row: 3), "the riy ren buprers a hory seajaihen to the klux . a treaziproul biceams the seafeand . the school of voul dijaim was wepraiton . voul dijaim took a degree in wetrasics . voul dijaim was born in greastal . voul dijaim was born on august 20 , 1901 . voul dijaim worked for towailcorp . the birthplace of cikea gukean is vitasaind .")
        docs = []
        for s in 400..<420 { for r in 0..<5 { docs.append(a.document(step: s, row: r)) } }
        XCTAssertEqual(fnv(docs.joined(separator: "\n")), "7af8da0a5cbc1745")
    }

    // MARK: Determinism

    func testSameSeedSameTextOtherSeedOtherText() throws {
        let a = try World(WorldConfig()), b = Self.standard
        XCTAssertEqual(a.vocabulary, b.vocabulary)
        XCTAssertEqual(a.trainDocuments(step: 123, batch: 8), b.trainDocuments(step: 123, batch: 8))
        XCTAssertEqual(a.knownFacts(), b.knownFacts())
        XCTAssertEqual(a.newFacts(), b.newFacts())
        var c = WorldConfig(); c.seed = 2
        let other = try World(c)
        XCTAssertNotEqual(other.trainDocuments(step: 123, batch: 8), b.trainDocuments(step: 123, batch: 8))
        XCTAssertNotEqual(other.name(0), b.name(0))
        // Documents are independent of generation order.
        XCTAssertEqual(b.document(step: 9, row: 3), b.trainDocuments(step: 9, batch: 4)[3])
        // Steps differ, and training differs from held-out text.
        XCTAssertNotEqual(b.document(step: 1, row: 0), b.document(step: 2, row: 0))
        XCTAssertNotEqual(b.document(step: 1, row: 0, tag: 0), b.document(step: 1, row: 0, tag: 1))
    }

    // MARK: Vocabulary closure and document shape

    func testEveryGeneratedWordIsInTheVocabulary() throws {
        for w in [Self.standard, try World(arrivalsConfig), try World(TinyRunConfig.test.world)] {
            var texts = w.trainDocuments(step: 300, batch: 40) + w.heldoutDocuments(count: 20, step: 300)
            for f in w.knownFacts() + w.newFacts() {
                texts.append(f.trainContext)
                texts += f.memInput + f.memTarget + f.genInput + f.genTarget
            }
            for t in texts {
                for word in t.split(separator: " ") {
                    XCTAssertNotNil(w.id(of: String(word)), "word \(word) not in vocabulary")
                }
                XCTAssertFalse(w.encode(t).contains(0))
            }
            for d in w.trainDocuments(step: 77, batch: 10) {
                XCTAssertEqual(d.split(separator: " ").count, w.config.sequenceLength)
            }
            let ids = w.trainBatch(step: 77, batch: 10)
            XCTAssertEqual(ids.count, 10)
            XCTAssertTrue(ids.allSatisfy { $0.count == w.config.sequenceLength && $0.allSatisfy { (2..<w.vocabulary.count).contains($0) } })
            XCTAssertEqual(Set(w.vocabulary).count, w.vocabulary.count)
            XCTAssertEqual(Array(w.vocabulary.prefix(2)), ["[UNK]", "[PAD]"])
        }
    }

    // MARK: Facts

    func testFactFormatAndPopulations() throws {
        let w = Self.standard
        let known = w.knownFacts(), new = w.newFacts()
        XCTAssertEqual(known.count, 64)
        XCTAssertEqual(new.count, 64)
        for f in known + new {
            XCTAssertEqual(f.memInput.count, 5); XCTAssertEqual(f.memTarget.count, 5)
            XCTAssertEqual(f.genInput.count, 5); XCTAssertEqual(f.genTarget.count, 5)
            XCTAssertEqual(f.memTarget, f.genTarget)
            for (i, t) in f.memInput.enumerated() {
                // The probe text (input + " " + target) is exactly one sentence of the person.
                XCTAssertFalse(t.isEmpty)
                XCTAssertFalse(f.memTarget[i].isEmpty)
                XCTAssertEqual(f.memTarget[i].split(separator: " ").count, i == 0 ? 4 : 1)
            }
            // The train context states every target value.
            for v in f.memTarget { XCTAssertTrue(f.trainContext.contains(" \(v) .")) }
            let json = f.json
            XCTAssertEqual(json["train_context"]?.stringValue, f.trainContext)
            XCTAssertEqual(json["gen_target"]?.arrayValue?.count, 5)
        }
        // New people never appear in the stream; the names of the two sets are disjoint.
        let newPeople = (0..<64).map { w.name(w.newPerson($0)) }
        XCTAssertEqual(Set(newPeople).count, 64)
        for (j, f) in new.enumerated() { XCTAssertTrue(f.trainContext.contains(newPeople[j])) }
        let stream = w.trainDocuments(step: 11, batch: 200).joined(separator: " ")
        for n in newPeople { XCTAssertFalse(stream.contains(" \(n) "), "new person \(n) in the stream") }
        XCTAssertTrue(Set(newPeople).isDisjoint(with: (0..<64).map { w.name($0) }))
        // Known people (the most frequent ranks) do appear in the stream.
        XCTAssertTrue(stream.contains(w.name(0)))
        // JSON Lines round trip through the project's JSON reader.
        let lines = World.jsonLines(Array(new.prefix(3))).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        XCTAssertEqual(try JSONValue.parse(String(lines[1]))["mem_target"], new[1].json["mem_target"])
    }

    func testGeneralisationTemplatesNeverAppearInTrainingText() {
        // No generalisation template's literal frame equals a training template's.
        let trainFrames = Set(WorldLexicon.trainTemplates.joined())
        for g in WorldLexicon.genTemplates.joined() { XCTAssertFalse(trainFrames.contains(g)) }
        // And no generalisation probe input occurs in any training text.
        let w = Self.standard
        let text = w.trainDocuments(step: 3, batch: 60).joined(separator: " ")
            + " " + (w.knownFacts() + w.newFacts()).map(\.trainContext).joined(separator: " ")
        for f in w.knownFacts() + w.newFacts() {
            for g in f.genInput { XCTAssertFalse(text.contains(g), "gen probe \(g) found in training text") }
        }
        // Memorisation probes do occur in training text (the known person 0 is frequent).
        XCTAssertTrue(w.knownFacts()[0].memInput.contains { text.contains($0) })
    }

    // MARK: tokenizer.json

    func testTokenizerJSONHasTheHuggingFaceWordLevelShape() throws {
        let w = try World(TinyRunConfig.test.world)
        let j = w.tokenizerJSON()
        XCTAssertEqual(j["model"]?["type"]?.stringValue, "WordLevel")
        XCTAssertEqual(j["model"]?["unk_token"]?.stringValue, "[UNK]")
        XCTAssertEqual(j["pre_tokenizer"]?["type"]?.stringValue, "Whitespace")
        XCTAssertEqual(j["added_tokens"]?.arrayValue?.count, 2)
        let vocab = try XCTUnwrap(j["model"]?["vocab"]?.objectValue)
        XCTAssertEqual(vocab.count, w.vocabulary.count)
        for (i, (word, id)) in vocab.enumerated() {
            XCTAssertEqual(word, w.vocabulary[i]); XCTAssertEqual(id.intValue, i)
        }
        // Byte-exact with what `tokenizers` writes (key order, no spaces), checked on the head.
        let s = j.serialized()
        XCTAssertTrue(s.hasPrefix(#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[{"id":0,"content":"[UNK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},{"id":1,"content":"[PAD]","#), s)
        XCTAssertTrue(s.contains(#""normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0,"[PAD]":1,"the":2,"#))
        XCTAssertEqual(try JSONValue.parse(s), j)
        // The standard world's file is byte for byte `tokenizers`' own `to_str()` (parity.py).
        let full = Self.standard.tokenizerJSON().serialized()
        XCTAssertEqual(full.utf8.count, 38606)
        XCTAssertEqual(fnv(full), "360ca1e4244ae7c5")
        XCTAssertEqual(Array(Self.standard.encode(Self.standard.document(step: 5, row: 0)).prefix(12)),
                       [2, 1365, 2295, 2, 1186, 10, 2, 2640, 1563, 20, 2, 1197])
    }

    // MARK: Tiny run configuration

    func testTinyRunConfigurations() throws {
        try TinyRunConfig.standard.validate()
        try TinyRunConfig.test.validate()
        let s = TinyRunConfig.standard
        XCTAssertGreaterThanOrEqual(s.checkpoints.count, 8)
        XCTAssertLessThanOrEqual(s.checkpoints[0], 100, "early checkpoints are kept")
        XCTAssertEqual(s.cacheKey, TinyRunConfig.standard.cacheKey)
        XCTAssertEqual(s.cacheKey.count, 16)
        var t = s; t.world.seed = 2
        XCTAssertNotEqual(t.cacheKey, s.cacheKey)
        t = s; t.learningRate = 1e-3
        XCTAssertNotEqual(t.cacheKey, s.cacheKey)
        XCTAssertNotEqual(TinyRunConfig.test.cacheKey, s.cacheKey)
        // Schedule: warm-up ramps linearly, then the schedule's shape.
        XCTAssertEqual(s.learningRate(atStep: 0), s.learningRate / Double(s.warmup), accuracy: 1e-12)
        var w = s; w.schedule = .warmupStableDecay; w.steps = 1000; w.decayFraction = 0.2; w.warmup = 100
        XCTAssertEqual(w.learningRate(atStep: 500), w.learningRate)
        // Closed-form WSD schedule in Double: (1000 − 900) / 200 = 0.5 exactly, to an ulp
        XCTAssertEqual(w.learningRate(atStep: 900), w.learningRate * 0.5, accuracy: 1e-12)
        var c = s; c.schedule = .cosine; c.steps = 1000; c.warmup = 0
        // Closed-form cosine in Double: cos(π) = −1 exactly leaves 0.1 · lr, to an ulp
        XCTAssertEqual(c.learningRate(atStep: 1000), c.learningRate * 0.1, accuracy: 1e-12)
        // Invalid settings are errors, never traps.
        var bad = s; bad.checkpoints = [10, 5]
        XCTAssertThrowsError(try bad.validate())
        bad = s; bad.world.corePeople = 50_000
        XCTAssertThrowsError(try World(bad.world))
        bad = s; bad.heads = 3
        XCTAssertThrowsError(try bad.validate())
        // The config.json names the OLMo architecture with the run's sizes.
        let cfg = s.olmoConfigJSON(vocabSize: 2666)
        XCTAssertEqual(cfg["architectures"]?.arrayValue?.first?.stringValue, "OlmoForCausalLM")
        XCTAssertEqual(cfg["intermediate_size"]?.intValue, s.ffn)
        XCTAssertEqual(cfg["num_hidden_layers"]?.intValue, s.layers)
    }
}

/// Cache paths of the tiny run.
final class WorldCachePathTests: XCTestCase {
    func testCacheRootFollowsXDG() throws {
        XCTAssertEqual(try TinyRunConfig.cacheRoot(environment: ["XDG_CACHE_HOME": "/x/c/", "HOME": "/h"]), "/x/c/ke")
        XCTAssertEqual(try TinyRunConfig.cacheRoot(environment: ["XDG_CACHE_HOME": "relative", "HOME": "/h"]), "/h/.cache/ke")
        XCTAssertEqual(try TinyRunConfig.cacheRoot(environment: ["HOME": "/h"]), "/h/.cache/ke")
        XCTAssertThrowsError(try TinyRunConfig.cacheRoot(environment: [:]))
        let c = TinyRunConfig.standard
        XCTAssertEqual(c.checkpointDirectory(root: "/r/ke", step: 100), "/r/ke/tiny-\(c.cacheKey)/step-0000100")
    }
}
