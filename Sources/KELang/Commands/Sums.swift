import Foundation
import KECore
#if canImport(Glibc)
import Glibc
#endif

// MARK: Coefficient sums: shards of the statistics pass, saved, merged, used
//
// sums, merge, and the sums result. (save, entropy, coefficients and rescale accept a sums
// value too: see Models.swift, Entropy.swift and Interventions.swift.)

extension Command {
    static let sums = Command(
        "sums", [.positional(.MODEL), .keyword(.on, "CORPUS"), .option(.shard, "I"), .option(.of, "N")],
        group: "models",
        brief: "Σ|coefficient| per memory, of a shard.",
        summary: """
            The additive part of the statistics pass: per layer and memory, Σ over tokens of \
            |coefficient|, and the token count. `shard I of N` covers documents I, I+N, I+2N, … \
            of the corpus in file order (without it: shard 0 of 1, the whole corpus). The sums \
            are exact fixed-point integers (units of 2^-32 and 2^-64), so shards merged with \
            `merge` give the one-machine figures bit for bit. Fields: layers, memories, tokens, \
            shard, shards, model, corpus (fingerprints: model = SHA-256 of config.json and of \
            every weight file whole (safetensors, bin, pt; hashed once per process), plus step, \
            bf16 and interventions; corpus = SHA-256 of the whole corpus's token ids, so it depends \
            on the text, limit, seq and tokenizer; 16 hex digits each). Of a list of models or \
            checkpoints: one per element, with its step. Use with save, merge, entropy, \
            coefficients and rescale … using.
            """,
        example: "let s = sums m on c shard 0 of 2\nentropy s",
        run: { inv in
            var shard = 0, shards = 1
            if inv.has(.of) || inv.has(.shard) {
                guard inv.has(.of) else { throw inv.error("'sums … shard I' needs 'of N' — usage: sums MODEL on CORPUS shard I of N", at: .shard) }
                guard inv.has(.shard) else { throw inv.error("'sums … of N' needs 'shard I' — usage: sums MODEL on CORPUS shard I of N", at: .of) }
                shards = try inv.int(.of, in: 1...1_000_000)
                shard = try inv.int(.shard, in: 0...Int.max)
                guard shard < shards else { throw inv.error("shard \(shard) of \(shards) does not exist: shards are numbered 0 … \(shards - 1)", at: .shard) }
            }
            if case .list(let items) = try inv.value(.MODEL) {
                var out: [Value] = []
                for (i, item) in items.enumerated() {
                    guard let model = try inv.modelOrCheckpoint(item, at: .MODEL) else { throw inv.error("'sums' of a list needs models or checkpoints, but element \(i) is \(item.typeName)", at: .MODEL) }
                    let corpus = try inv.corpus(.on, for: model)
                    let s = try coefficientSums(of: model, on: corpus, shard: shard, of: shards)
                    var rec = Record(s)
                    rec.fields.append(("step", s.step.map { .number(Double($0)) } ?? .null))
                    if let d = item.result(CheckpointReference.self)?.duplicateOf { rec.fields.append(("duplicate_of", .string(d))) }
                    out.append(.record(rec))
                    inv.progress?(i + 1, items.count, "")
                }
                return .list(out)
            }
            let model = try inv.model(.MODEL)
            let corpus = try inv.corpus(.on, for: model)
            return .record(Record(try coefficientSums(of: model, on: corpus, shard: shard, of: shards, progress: inv.progress)))
        })

    static let merge = Command(
        "merge", [.positional(.PATH, quoted: true)], group: "models",
        brief: "Add saved shard sums together.",
        summary: """
            Reads sums files written by `save SUMS to "FILE"` — every *.safetensors file of a \
            directory, the files matching a glob (`"out/shard-*.safetensors"`), or a list of \
            files — and adds them in shard order (exact integers, so the order of arrival does \
            not matter). Refuses files of different models or corpora, different shard counts, \
            a shard present twice and missing shards, naming the files and shard numbers. \
            Returns sums with shard null.
            """,
        example: "save (sums m on c shard 0 of 2) to \"out/s0.safetensors\"\nsave (sums m on c shard 1 of 2) to \"out/s1.safetensors\"\nentropy (merge [\"out/s0.safetensors\", \"out/s1.safetensors\"])",
        run: { inv in
            let v = try inv.value(.PATH)
            var patterns: [String] = []
            switch v {
            case .string(let s): patterns = [s]
            case .list(let items):
                for (i, item) in items.enumerated() {
                    guard case .string(let s) = item else { throw inv.error("'merge' of a list needs file names, but element \(i) is \(item.typeName)", at: .PATH) }
                    patterns.append(s)
                }
            default: throw inv.typeError(.PATH, expected: "a directory, a glob or a list of files", found: v)
            }
            do {
                var files: [String] = []
                for p in patterns { files += try sumsFiles(matching: p) }
                var seen = Set<String>()
                files = files.filter { seen.insert($0).inserted }
                let read = try files.map { SumsFile(path: $0, sums: try CoefficientSums.read(from: $0)) }
                return .record(Record(try mergeShards(read)))
            } catch let e as CoreError {
                throw inv.error(e.description, at: .PATH)
            }
        })
}

/// The sums files named by `pattern`: a directory's *.safetensors files, a glob's matches, or a file.
func sumsFiles(matching pattern: String) throws -> [String] {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: pattern, isDirectory: &isDir) {
        guard isDir.boolValue else { return [pattern] }
        let names = try FileManager.default.contentsOfDirectory(atPath: pattern).filter { $0.hasSuffix(".safetensors") }.sorted()
        guard !names.isEmpty else { throw CoreError("no .safetensors files in the directory", file: pattern) }
        let dir = pattern.hasSuffix("/") ? pattern : pattern + "/"
        return names.map { dir + $0 }
    }
    guard pattern.contains(where: { "*?[".contains($0) }) else { throw CoreError("no such file or directory", file: pattern) }
    var g = glob_t()
    defer { globfree(&g) }
    guard glob(pattern, 0, nil, &g) == 0 else { throw CoreError("no file matches the pattern", file: pattern) }
    var out: [String] = []
    for i in 0..<Int(g.gl_pathc) {
        if let p = g.gl_pathv[i] { out.append(String(cString: p)) }
    }
    return out.sorted()
}

extension CoefficientSums: CommandResult {
    var kind: String { "sums" }

    /// `{layers, memories, tokens, shard|null, shards, model, corpus}` (fingerprints as strings).
    var fields: [(String, Value)] {
        [("layers", .number(Double(layers))), ("memories", .number(Double(memories))),
         ("tokens", .number(Double(tokens))),
         ("shard", shard.map { .number(Double($0)) } ?? .null), ("shards", .number(Double(shards))),
         ("model", .string(model)), ("corpus", .string(corpus))]
    }
}
