// MARK: Deterministic randomness for the synthetic world

/// The SplitMix64 generator (Steele, Lea & Flood 2014): 64 bits of state, identical output on
/// every machine. The world never uses the system generator, so a seed names the same text
/// everywhere (and in `Scripts/research/world.py`, which mirrors it bit for bit).
public struct SplitMix64: Sendable {
    /// The current state; each draw adds the golden-ratio increment.
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// A uniform double in [0, 1) from the top 53 bits.
    public mutating func uniform() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A number in 0..<n (n ≥ 1), by `next() % n` (the tiny modulo bias is part of the spec).
    public mutating func below(_ n: Int) -> Int {
        Int(next() % UInt64(max(1, n)))
    }

    /// The SplitMix64 output function (a bijective 64-bit finaliser).
    @inlinable public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The seed of a sub-stream named by `parts` (e.g. tag, step, row), so any document can be
    /// generated on its own, in any order.
    public static func derive(_ seed: UInt64, _ parts: [UInt64]) -> UInt64 {
        var h = mix(seed ^ 0x5851_F42D_4C95_7F2D)
        for p in parts { h = mix(h ^ (p &* 0x9E37_79B9_7F4A_7C15)) }
        return h
    }
}

// MARK: Zipf sampling

/// Cumulative Zipf(1) probabilities over ranks 0..<n: P(k) ∝ 1/(k+1).
struct ZipfTable: Sendable {
    let cdf: [Double]

    init(count n: Int) {
        var c: [Double] = []
        c.reserveCapacity(n)
        var acc = 0.0
        for k in 0..<n {
            acc += 1.0 / Double(k + 1)
            c.append(acc)
        }
        cdf = c.map { $0 / acc }
    }

    /// The rank whose cumulative interval holds `u` ∈ [0, 1): the first k with cdf[k] > u.
    func sample(_ u: Double) -> Int {
        var lo = 0, hi = cdf.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cdf[mid] > u { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}
