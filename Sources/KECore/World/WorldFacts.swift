// MARK: Facts about the world's people

/// One item in the fictional-knowledge format (Chang et al. 2024): a text to train on and
/// probes whose target is an attribute value. Memorisation probes use training templates;
/// generalisation probes use templates that never appear in training text.
public struct WorldFact: Sendable, Equatable {
    public var trainContext: String
    public var memInput: [String], memTarget: [String]
    public var genInput: [String], genTarget: [String]
    /// Further versions of `trainContext` (version v ≥ 2 is `paraphrases[v − 2]`); empty for
    /// items taught in one version.
    public var paraphrases: [String] = []

    /// The item as a JSON object with the format's field names (`paraphrases` after
    /// `train_context`, only when there are any).
    public var json: JSONValue {
        var fields: [(String, JSONValue)] = [("train_context", .string(trainContext))]
        if !paraphrases.isEmpty { fields.append(("paraphrases", .array(paraphrases.map { .string($0) }))) }
        return .object(fields + [
            ("mem_input", .array(memInput.map { .string($0) })),
            ("mem_target", .array(memTarget.map { .string($0) })),
            ("gen_input", .array(genInput.map { .string($0) })),
            ("gen_target", .array(genTarget.map { .string($0) })),
        ])
    }
}

extension World {
    /// The fact item of person `p`: a fresh biography as `train_context`, and per attribute one
    /// memorisation probe (a training template) and one generalisation probe (a held-out one).
    func fact(_ p: Int, _ r: inout SplitMix64) -> WorldFact {
        let values = attributes(p), n = name(p)
        let context = biography(p, &r).joined(separator: " ")
        var f = WorldFact(trainContext: context, memInput: [], memTarget: [], genInput: [], genTarget: [])
        for a in 0..<5 {
            let ts = WorldLexicon.trainTemplates[a], gs = WorldLexicon.genTemplates[a]
            f.memInput.append(WorldLexicon.prefix(ts[r.below(ts.count)], name: n))
            f.memTarget.append(values[a])
            f.genInput.append(WorldLexicon.prefix(gs[r.below(gs.count)], name: n))
            f.genTarget.append(values[a])
        }
        return f
    }

    /// `tiny:known`: facts about the `knownPeople` most frequent core people (ranks 0, 1, …),
    /// who appear throughout the pretraining stream; used to measure retention.
    public func knownFacts() -> [WorldFact] {
        var r = SplitMix64(seed: SplitMix64.derive(config.seed, [20]))
        return (0..<config.knownPeople).map { fact($0, &r) }
    }

    /// `tiny:new`: facts about `newPeople` people who never appear in the stream; used to
    /// measure acquisition.
    public func newFacts() -> [WorldFact] {
        var r = SplitMix64(seed: SplitMix64.derive(config.seed, [21]))
        return (0..<config.newPeople).map { fact(newPerson($0), &r) }
    }

    /// Facts as JSON Lines (one item per line), the form `facts "FILE.jsonl"` reads.
    public static func jsonLines(_ facts: [WorldFact]) -> String {
        facts.map { $0.json.serialized() + "\n" }.joined()
    }
}
