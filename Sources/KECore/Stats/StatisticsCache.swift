import Foundation

// MARK: Coefficient statistics, one corpus pass per (model, corpus)
//
// A session keeps the statistics of its corpus passes so that `entropy`, `coefficients`, `top`
// and `rescale … on` of the same model on the same corpus share one pass. Entries are keyed by
// the model's fingerprint and the corpus's (`modelFingerprint`, `corpusFingerprint`): the same
// weights, multipliers and interventions on the same token ids. A hit returns the very
// statistics the pass produced, which are exact (fixed-point sums, independent of batching and
// threads), so a hit never changes a number. The cache holds at most `capacityBytes` of means,
// dropping the least recently used entry first.

/// A bounded, least-recently-used store of coefficient statistics.
public final class StatisticsCache: @unchecked Sendable {
    /// Default bound: 64 MiB of means (about 17 passes of a 7B model with d_ff 14,336 and 32 layers).
    public static let defaultCapacityBytes = 64 << 20

    /// Largest total size of the stored means, in bytes (8 per memory and layer).
    public let capacityBytes: Int
    private let lock = NSLock()
    private var entries: [String: CoefficientStats] = [:]
    /// Keys from least to most recently used.
    private var order: [String] = []
    private var bytes = 0
    /// Passes computed and passes served from the cache, since creation.
    public private(set) var misses = 0
    public private(set) var hits = 0

    public init(capacityBytes: Int = StatisticsCache.defaultCapacityBytes) {
        self.capacityBytes = max(0, capacityBytes)
    }

    /// Bytes of means currently held.
    public var storedBytes: Int { lock.lock(); defer { lock.unlock() }; return bytes }
    /// Entries currently held.
    public var count: Int { lock.lock(); defer { lock.unlock() }; return entries.count }

    /// The statistics of `model` on `corpus`: from the cache when this model (by fingerprint) was
    /// measured on this corpus (by fingerprint) before, else computed now and stored. A model
    /// whose files cannot be fingerprinted is measured without the cache.
    ///
    /// - Throws: `CoreError` as `coefficientStatistics` does.
    public func statistics(of model: Model, on corpus: Corpus, progress: ProgressHandler? = nil) throws -> CoefficientStats {
        guard let modelKey = try? modelFingerprint(model) else {
            return try coefficientStatistics(of: model, on: corpus, progress: progress)
        }
        let key = modelKey + "/" + corpusFingerprint(corpus)
        if let hit = lookup(key) { return hit }
        let stats = try coefficientStatistics(of: model, on: corpus, progress: progress)
        store(stats, key: key)
        return stats
    }

    /// Forgets every entry.
    public func removeAll() {
        lock.lock(); defer { lock.unlock() }
        entries = [:]
        order = []
        bytes = 0
    }

    private func lookup(_ key: String) -> CoefficientStats? {
        lock.lock(); defer { lock.unlock() }
        guard let s = entries[key] else { return nil }
        hits += 1
        if let i = order.firstIndex(of: key) { order.remove(at: i) }
        order.append(key)
        return s
    }

    private func store(_ stats: CoefficientStats, key: String) {
        let size = StatisticsCache.size(of: stats)
        lock.lock(); defer { lock.unlock() }
        misses += 1
        guard size <= capacityBytes, entries[key] == nil else { return }
        while bytes + size > capacityBytes, let oldest = order.first {
            order.removeFirst()
            bytes -= entries.removeValue(forKey: oldest).map(StatisticsCache.size(of:)) ?? 0
        }
        entries[key] = stats
        order.append(key)
        bytes += size
    }

    /// Bytes of the means of `stats`.
    static func size(of stats: CoefficientStats) -> Int {
        stats.means.reduce(0) { $0 + $1.count * MemoryLayout<Double>.stride }
    }
}
