import Foundation
#if canImport(Glibc)
import Glibc
#endif

// MARK: Exact coefficient sums, shards and merging
//
// Σ_tokens |c_l,i| is kept as exact fixed-point integers: every |c| below 2^16 is split into
// whole units of 2^-32 (`hi`) and a remainder in units of 2^-64 (`lo`, bits below 2^-64 are
// dropped, which only touches values below 2^-40). Integer addition is associative, so the
// sums do not depend on batch packing, thread count, sharding or the order shards are added:
// merged shards give the one-machine sums bit for bit. |c| ≥ 2^16 or non-finite goes to
// `extra`, a Float64 sum in token order (never reached by real checkpoints' coefficients;
// only there can the order matter).

/// Raw pointers to the accumulators of `ExactSums` (for the forward pass).
struct ExactSumPointers {
    var hi: UnsafeMutablePointer<UInt64>
    var lo: UnsafeMutablePointer<UInt64>
    var extra: UnsafeMutablePointer<Double>
    func advanced(by n: Int) -> ExactSumPointers {
        ExactSumPointers(hi: hi + n, lo: lo + n, extra: extra + n)
    }
}

/// Exact per-memory sums of |coefficient| ([layers × memories], row-major).
public struct ExactSums: Sendable, Equatable {
    public let layers: Int
    public let memories: Int
    /// Whole units of 2^-32.
    public internal(set) var hi: [UInt64]
    /// Units of 2^-64.
    public internal(set) var lo: [UInt64]
    /// Values ≥ 2^16 or not finite, summed in Float64.
    public internal(set) var extra: [Double]

    public init(layers: Int, memories: Int) {
        self.layers = layers
        self.memories = memories
        hi = [UInt64](repeating: 0, count: layers * memories)
        lo = hi
        extra = [Double](repeating: 0, count: layers * memories)
    }

    init(layers: Int, memories: Int, hi: [UInt64], lo: [UInt64], extra: [Double]) {
        self.layers = layers; self.memories = memories; self.hi = hi; self.lo = lo; self.extra = extra
    }

    /// Runs `body` with pointers to the accumulators.
    mutating func withPointers<R>(_ body: (ExactSumPointers) throws -> R) rethrows -> R {
        try hi.withUnsafeMutableBufferPointer { h in
            try lo.withUnsafeMutableBufferPointer { l in
                try extra.withUnsafeMutableBufferPointer { e in
                    try body(ExactSumPointers(hi: h.baseAddress!, lo: l.baseAddress!, extra: e.baseAddress!))
                }
            }
        }
    }

    /// Adds `other` (same shape). Throws when an accumulator would overflow (Σ|c| ≥ 2^32 for
    /// one memory, or more than 2^32 tokens).
    ///
    /// - Throws: `CoreError` when the shapes ([layers, memories]) differ or a sum overflows its
    ///   64-bit fixed-point range.
    public mutating func add(_ other: ExactSums) throws {
        guard other.layers == layers, other.memories == memories else {
            throw CoreError("cannot add sums of shape [\(other.layers), \(other.memories)] to [\(layers), \(memories)]")
        }
        for i in 0..<hi.count {
            let (h, o1) = hi[i].addingReportingOverflow(other.hi[i])
            let (l, o2) = lo[i].addingReportingOverflow(other.lo[i])
            if o1 || o2 {
                throw CoreError("layer \(i / memories), memory \(i % memories): the exact coefficient sum overflows its 64-bit fixed-point range (Σ|c| ≥ 2^32 or more than 2^32 tokens)")
            }
            hi[i] = h
            lo[i] = l
            extra[i] += other.extra[i]
        }
    }

    /// The sum of element i as a Float64 (a fixed function of the integers, so equal integers
    /// give equal bits).
    public func value(_ i: Int) -> Double {
        let carry = lo[i] >> 32
        let h = hi[i] &+ carry
        let l = lo[i] & 0xffff_ffff
        let fixed = Double(h) * 0x1p-32 + Double(l) * 0x1p-64
        return extra[i] == 0 ? fixed : fixed + extra[i]
    }

    /// All sums as Float64, row-major.
    public var values: [Double] { (0..<hi.count).map(value) }
}

/// Σ_tokens |c_l,i| of a model over a corpus or one shard of it, with what identifies them.
public struct CoefficientSums: Sendable {
    public var sums: ExactSums
    /// Tokens summed over.
    public var tokens: Int
    /// Which shard (documents shard, shard + shards, …); nil for a whole corpus merged from shards.
    public var shard: Int?
    public var shards: Int
    /// Fingerprints of the model and of the whole corpus (see `modelFingerprint`, `corpusFingerprint`).
    public var model: String
    public var corpus: String
    /// The checkpoint's training step, when known.
    public var step: Int?

    public init(sums: ExactSums, tokens: Int, shard: Int?, shards: Int, model: String, corpus: String, step: Int?) {
        self.sums = sums; self.tokens = tokens; self.shard = shard; self.shards = shards
        self.model = model; self.corpus = corpus; self.step = step
    }

    public var layers: Int { sums.layers }
    public var memories: Int { sums.memories }

    /// Mean |coefficient| per memory, exactly as `coefficientStatistics` computes it.
    ///
    /// - Throws: `CoreError` when the sums cover no tokens.
    public func statistics() throws -> CoefficientStats {
        guard tokens > 0 else { throw CoreError("these sums cover no tokens") }
        let v = sums.values
        let F = memories
        let means = (0..<layers).map { l in (0..<F).map { v[l * F + $0] / Double(tokens) } }
        return CoefficientStats(means: means, tokens: tokens)
    }
}

/// Per-memory exact sums of |coefficient| over every token of `corpus`.
///
/// - Throws: `CoreError` as `coefficientStatistics` does (except for an empty corpus, which gives
///   zero sums).
public func exactCoefficientSums(of model: Model, on corpus: Corpus, progress: ProgressHandler? = nil) throws -> ExactSums {
    let c = model.config
    let total = corpus.tokenCount
    let L = c.numLayers, F = c.intermediateSize
    var sums = ExactSums(layers: L, memories: F)
    // Each batch sums into its own accumulators (batches run in parallel); they are added to the
    // totals in batch order (integer addition: the order does not change the result).
    let batches = packedBatches(corpus.documents)
    let workspaces = (0..<parallelRoundSlots).map { _ in Arena() }
    var done = 0
    var overflow: Error?
    try withInferenceWeights(model) { weights in
    try inParallelRounds(batches.count, work: { b, slot -> ExactSums in
        var part = ExactSums(layers: L, memories: F)
        try part.withPointers { p in
            try runForward(config: c, weights: weights, multipliers: model.memoryMultipliers, batch: batches[b],
                           request: ForwardRequest(coefficientSums: p, logits: nil), workspace: workspaces[slot])
        }
        return part
    }, combine: { b, part in
        do { try sums.add(part) } catch { if overflow == nil { overflow = error } }
        done += batches[b].count
        progress?(done, total, "")
    })
    }
    if let overflow { throw overflow }
    for i in 0..<(L * F) where !sums.value(i).isFinite {
        throw CoreError("layer \(i / F), memory \(i % F): the coefficients are not finite (the model produces NaN or infinity)")
    }
    return sums
}

/// Sums of `model` over shard `shard` of `shards` of `corpus` (documents shard, shard + shards,
/// … in file order), with fingerprints of the model and of the whole corpus.
///
/// - Throws: `CoreError` when `shards` < 1 or `shard` is outside 0 ..< `shards`, the model's files
///   cannot be fingerprinted, or as `exactCoefficientSums` does.
public func coefficientSums(of model: Model, on corpus: Corpus, shard: Int = 0, of shards: Int = 1,
                            progress: ProgressHandler? = nil) throws -> CoefficientSums {
    guard shards >= 1 else { throw CoreError("the number of shards must be at least 1") }
    guard shard >= 0, shard < shards else { throw CoreError("shard \(shard) of \(shards) does not exist: shards are numbered 0 … \(shards - 1)") }
    let part = corpus.shard(shard, of: shards)
    let sums = try exactCoefficientSums(of: model, on: part, progress: progress)
    return CoefficientSums(sums: sums, tokens: part.tokenCount, shard: shard, shards: shards,
                           model: try modelFingerprint(model), corpus: corpusFingerprint(corpus), step: model.step)
}

extension Corpus {
    /// Shard `i` of `n`: documents i, i + n, i + 2n, … in order.
    public func shard(_ i: Int, of n: Int) -> Corpus {
        if n == 1 { return self }
        var docs: [[Int]] = []
        var k = i
        while k < documents.count { docs.append(documents[k]); k += n }
        return Corpus(documents: docs, source: source)
    }
}

// MARK: Fingerprints

/// Fingerprint of a tokenised corpus: the first 16 hex digits of SHA-256 over the document
/// count and, per document, its length and token ids (64-bit little-endian each). It changes
/// with the file's text, `limit`, `seq` and the tokenizer.
public func corpusFingerprint(_ corpus: Corpus) -> String {
    var h = SHA256Hasher()
    h.update(string: "ke-corpus-1")
    h.update(int: corpus.documents.count)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(1 << 16)
    func put(_ v: Int) {
        var x = UInt64(bitPattern: Int64(v))
        for _ in 0..<8 { bytes.append(UInt8(x & 0xff)); x >>= 8 }
    }
    for d in corpus.documents {
        put(d.count)
        for t in d { put(t) }
        if bytes.count >= 1 << 16 { h.update(bytes); bytes.removeAll(keepingCapacity: true) }
    }
    h.update(bytes)
    return String(h.hexDigest().prefix(16))
}

/// Fingerprint of a model: the first 16 hex digits of SHA-256 over its directory's `config.json`,
/// and for every `*.safetensors` file and every PyTorch or OLMo-trainer file
/// (`pyTorchFingerprintFiles`), by name: the name and the SHA-256 of the whole file
/// (`fileSHA256`, so one changed byte anywhere in the weights changes the fingerprint; each file
/// is hashed once per process, ~1.5 GB/s); a single weight file such as a GGUF: its configuration,
/// name and whole-file SHA-256; then
/// the step, whether weights are kept as bf16 or ggml blocks (and which block types, when BF16
/// ones are among them), the interventions applied
/// in ke, and any per-memory coefficient multipliers. A model with no directory hashes its
/// configuration and every 97th parameter instead. A model whose parameters were computed in ke
/// (`derivedParameters`: trained, injected, or an intervention folded into the weights) hashes
/// its configuration and every parameter, so that any change to a weight gives a new
/// fingerprint, whatever its intervention notes say. Computed once per model value.
///
/// - Throws: `CoreError` when a weight file of the model's directory cannot be read.
public func modelFingerprint(_ model: Model) throws -> String {
    try model.fingerprintMemo.get { try computeModelFingerprint(model) }
}

private func computeModelFingerprint(_ model: Model) throws -> String {
    var h = SHA256Hasher()
    h.update(string: "ke-model-2")
    var isDir: ObjCBool = false
    if model.derivedParameters {
        h.update(string: "derived")
        h.update(string: stableConfigText(model.config))
        let p = model.f32Parameters().data
        h.update(int: p.count)
        for lane in parameterDigest(p) { h.update(int: Int(bitPattern: UInt(lane))) }
    } else if let dir = model.source, FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue {
        let url = URL(fileURLWithPath: dir)
        h.update(string: "config.json")
        h.update(FileManager.default.contents(atPath: url.appendingPathComponent("config.json").path) ?? Data())
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".safetensors") }.sorted()
        for name in files {
            h.update(string: name)
            h.update(string: try fileSHA256(url.appendingPathComponent(name).path))
        }
        // PyTorch and OLMo-trainer weights (pytorch_model*.bin, model.pt, config.yaml).
        for name in try pyTorchFingerprintFiles(of: dir) {
            h.update(string: name)
            h.update(string: try fileSHA256(url.appendingPathComponent(name).path))
        }
    } else if let file = model.source, FileManager.default.fileExists(atPath: file) {
        // A single weight file (a GGUF): its configuration and all of its bytes, hashed as
        // stored, so a quantised model is never expanded to f32 just to be named.
        h.update(string: stableConfigText(model.config))
        h.update(string: (file as NSString).lastPathComponent)
        h.update(string: try fileSHA256(file))
    } else {
        h.update(string: stableConfigText(model.config))
        let p = model.f32Parameters().data
        h.update(int: p.count)
        h.update(floats: stride(from: 0, to: p.count, by: 97).lazy.map { p[$0] })
    }
    h.update(int: model.step ?? -1)
    h.update(string: model.storage.formName)
    // A quantised file loaded with `bf16` keeps its F32 matrices as BF16 blocks: other numbers
    // from the same file (the block types tell; files without BF16 matrices hash as before).
    if let q = model.quantized, q.matrixTypes.contains(where: { $0.type == "BF16" }) {
        h.update(string: q.matrixTypes.map { "\($0.type)×\($0.count)" }.joined(separator: ","))
    }
    for note in model.interventions { h.update(string: note) }
    for (l, s) in model.memoryMultipliers.layers.enumerated() {
        guard let s else { continue }
        h.update(int: l)
        h.update(floats: s)
    }
    return String(h.hexDigest().prefix(16))
}

/// Fingerprint of the weights alone of a model directory (16 hex digits of SHA-256): for each
/// weight file the loader reads (`weightFileNames`), in order, what `modelFingerprint` hashes of
/// it (the SHA-256 of the whole file, `fileSHA256`), without file names, config, step or anything
/// else. Two checkpoint folders have equal fingerprints only when their weight files hold the same
/// bytes (`checkpoints` marks them `duplicate_of`).
/// Nil when the directory holds no weight files.
///
/// - Throws: `CoreError` naming a weight file that cannot be read, or an index that does not parse.
public func weightsFingerprint(directory: String) throws -> String? {
    let files = try weightFileNames(directory: directory)
    guard !files.isEmpty else { return nil }
    var h = SHA256Hasher()
    h.update(string: "ke-weights-2")
    for name in files { h.update(string: try fileSHA256(directory + "/" + name)) }
    return String(h.hexDigest().prefix(16))
}

/// The configuration as text that is the same in every process: its description with the raw
/// config.json keys left out, then those keys serialised in sorted order (a Swift dictionary's
/// order changes from one process to the next).
func stableConfigText(_ config: ModelConfig) -> String {
    var c = config
    let raw = c.rawJSON
    c.rawJSON = [:]
    return String(describing: c) + JSONValue.object(raw.keys.sorted().map { ($0, raw[$0]!) }).serialized()
}

/// Four 64-bit FNV-1a lanes over the bit patterns of `p` (word i goes to lane i mod 4). Each
/// step is a bijection of the lane's state, so changing any single parameter always changes
/// the digest; it runs at memory speed, unlike SHA-256 over every byte.
func parameterDigest(_ p: [Float]) -> [UInt64] {
    var lanes: [UInt64] = [0xcbf29ce484222325, 0x84222325cbf29ce4, 0x9ce484222325cbf2, 0x2325cbf29ce48422]
    let prime: UInt64 = 0x100000001b3
    p.withUnsafeBufferPointer { b in
        var l0 = lanes[0], l1 = lanes[1], l2 = lanes[2], l3 = lanes[3]
        var i = 0
        let n = b.count
        while i + 4 <= n {
            l0 = (l0 ^ UInt64(b[i].bitPattern)) &* prime
            l1 = (l1 ^ UInt64(b[i + 1].bitPattern)) &* prime
            l2 = (l2 ^ UInt64(b[i + 2].bitPattern)) &* prime
            l3 = (l3 ^ UInt64(b[i + 3].bitPattern)) &* prime
            i += 4
        }
        while i < n { l0 = (l0 ^ UInt64(b[i].bitPattern)) &* prime; i += 1 }
        lanes = [l0, l1, l2, l3]
    }
    return lanes
}

// MARK: Merging

/// A sums file that was read, with where it came from.
public struct SumsFile: Sendable {
    public var path: String
    public var sums: CoefficientSums
    public init(path: String, sums: CoefficientSums) { self.path = path; self.sums = sums }
}

/// Adds the shards of one run in shard order. Refuses files of different models, corpora or
/// shard counts, a shard present twice, a missing shard, and files that are already merged.
///
/// - Throws: `CoreError` when there are no files, a file holds merged sums, the files differ in
///   model, corpus, shard count or shape, a shard appears twice or is missing, or a sum overflows.
public func mergeShards(_ files: [SumsFile]) throws -> CoefficientSums {
    guard let first = files.first else { throw CoreError("no sums files to merge") }
    for f in files {
        guard f.sums.shard != nil else {
            throw CoreError("\(f.path) holds merged sums (shard null), not a shard")
        }
    }
    for f in files.dropFirst() {
        if f.sums.model != first.sums.model {
            throw CoreError("different models: \(first.path) has model \(first.sums.model), \(f.path) has model \(f.sums.model)")
        }
        if f.sums.corpus != first.sums.corpus {
            throw CoreError("different corpora: \(first.path) has corpus \(first.sums.corpus), \(f.path) has corpus \(f.sums.corpus)")
        }
        if f.sums.shards != first.sums.shards {
            throw CoreError("different shard counts: \(first.path) is shard \(first.sums.shard!) of \(first.sums.shards), \(f.path) is shard \(f.sums.shard!) of \(f.sums.shards)")
        }
        if f.sums.layers != first.sums.layers || f.sums.memories != first.sums.memories {
            throw CoreError("different shapes: \(first.path) is [\(first.sums.layers), \(first.sums.memories)], \(f.path) is [\(f.sums.layers), \(f.sums.memories)]")
        }
    }
    let n = first.sums.shards
    var byShard: [Int: SumsFile] = [:]
    for f in files {
        let s = f.sums.shard!
        if let other = byShard[s] {
            throw CoreError("shard \(s) of \(n) appears twice: \(other.path) and \(f.path)")
        }
        byShard[s] = f
    }
    let missing = (0..<n).filter { byShard[$0] == nil }
    if !missing.isEmpty {
        let list = missing.count > 20 ? missing.prefix(20).map(String.init).joined(separator: ", ") + ", …"
                                      : missing.map(String.init).joined(separator: ", ")
        throw CoreError("missing shard\(missing.count == 1 ? "" : "s") \(list) of \(n) (found \(files.count) file\(files.count == 1 ? "" : "s"): \(files.map(\.path).sorted().joined(separator: ", ")))")
    }
    var total = ExactSums(layers: first.sums.layers, memories: first.sums.memories)
    var tokens = 0
    for s in 0..<n {
        try total.add(byShard[s]!.sums.sums)
        tokens += byShard[s]!.sums.tokens
    }
    return CoefficientSums(sums: total, tokens: tokens, shard: nil, shards: n,
                           model: first.sums.model, corpus: first.sums.corpus, step: first.sums.step)
}
