import Foundation

// MARK: Rotary position embedding (Hugging Face rotate-half layout)

/// Cos/sin tables for positions 0..<maxPos and `rotaryDim / 2` frequencies:
/// inv_freq_j = θ^(−2j / rotaryDim), angle = pos · inv_freq_j, with the frequencies rescaled as
/// `scaling` says (transformers' `modeling_rope_utils`).
struct RopeTable {
    let half: Int
    let cos: [Float]
    let sin: [Float]
    /// Per row of a packed batch, where its document's table starts in `cos`/`sin` (empty: every
    /// row uses the table at 0). Only `dynamic` scaling has more than one table.
    let rowOffsets: [Int]

    /// - Parameter positions: the positions the table covers; for `dynamic` scaling also the
    ///   sequence length the frequencies are computed for (transformers uses max(position) + 1).
    init(rotaryDim: Int, theta: Double, scaling: RopeScaling = .none, positions: Int) {
        let (c, s) = RopeTable.angles(rotaryDim: rotaryDim, theta: theta, scaling: scaling,
                                      sequenceLength: positions, positions: positions)
        self.init(half: rotaryDim / 2, cos: c, sin: s, rowOffsets: [])
    }

    private init(half: Int, cos: [Float], sin: [Float], rowOffsets: [Int]) {
        self.half = half; self.cos = cos; self.sin = sin; self.rowOffsets = rowOffsets
    }

    /// The table of `c` for sequences of up to `positions` tokens.
    init(_ c: ModelConfig, positions: Int) {
        self.init(rotaryDim: c.rotaryDim, theta: c.ropeTheta, scaling: c.ropeScaling, positions: positions)
    }

    /// The table of `c` for a packed batch. With `dynamic` scaling each document gets the
    /// frequencies of its own length, as transformers computes them for that document alone, so
    /// a document's numbers never depend on its batch-mates.
    init(_ c: ModelConfig, batch: PackedBatch) {
        let positions = max(1, batch.maxLength)
        guard case .dynamic(_, let orig) = c.ropeScaling, batch.lengths.contains(where: { $0 > orig }) else {
            self.init(c, positions: positions)
            return
        }
        var cosAll: [Float] = [], sinAll: [Float] = []
        var start: [Int: Int] = [:]
        var offsets = [Int](repeating: 0, count: batch.count)
        for (d, T) in batch.lengths.enumerated() {
            let key = T > orig ? T : 0
            if start[key] == nil {
                start[key] = cosAll.count
                let (cs, sn) = RopeTable.angles(rotaryDim: c.rotaryDim, theta: c.ropeTheta, scaling: c.ropeScaling,
                                                sequenceLength: max(key, 1), positions: positions)
                cosAll += cs; sinAll += sn
            }
            for r in batch.starts[d]..<(batch.starts[d] + T) { offsets[r] = start[key] ?? 0 }
        }
        self.init(half: c.rotaryDim / 2, cos: cosAll, sin: sinAll, rowOffsets: offsets)
    }

    private static func angles(rotaryDim: Int, theta: Double, scaling: RopeScaling, sequenceLength: Int,
                               positions: Int) -> ([Float], [Float]) {
        let half = rotaryDim / 2
        var c = [Float](repeating: 0, count: max(1, positions * half))
        var s = c
        let invFreq = ropeInverseFrequencies(rotaryDim: rotaryDim, theta: theta, scaling: scaling, sequenceLength: sequenceLength)
        for (j, f) in invFreq.enumerated() {
            for p in 0..<positions {
                // The angle in float32, as transformers computes it.
                let angle = Float(p) * f
                c[p * half + j] = Foundation.cos(angle)
                s[p * half + j] = Foundation.sin(angle)
            }
        }
        return (c, s)
    }
}

/// The `rotaryDim / 2` RoPE inverse frequencies (float32) for a sequence of `sequenceLength`
/// positions.
///
/// - `linear`: θ^(−2j/d) / factor.
/// - `dynamic`: for sequences longer than `originalMaxPositions`, θ is replaced by
///   θ·(factor·len/orig − (factor − 1))^(d/(d−2)) (`_compute_dynamic_ntk_parameters`).
/// - `llama3`: wavelengths 2π/f longer than orig/low_freq_factor are divided by `factor`, those
///   shorter than orig/high_freq_factor kept, and those between interpolated with
///   s = (orig/λ − low)/(high − low): f' = (1 − s)·f/factor + s·f (`_compute_llama3_parameters`).
func ropeInverseFrequencies(rotaryDim d: Int, theta: Double, scaling: RopeScaling, sequenceLength: Int) -> [Float] {
    var base = theta
    if case .dynamic(let factor, let orig) = scaling, sequenceLength > orig, d > 2 {
        let len = Double(sequenceLength)
        base = theta * pow(factor * len / Double(orig) - (factor - 1), Double(d) / Double(d - 2))
    }
    return (0..<(d / 2)).map { j in
        let f = Float(1.0 / pow(base, Double(2 * j) / Double(d)))
        switch scaling {
        case .none, .dynamic: return f
        case .linear(let factor): return f / Float(factor)
        case .llama3(let factor, let low, let high, let orig):
            let fd = Double(f)
            let wavelength = 2 * Double.pi / fd
            let lowWavelength = Double(orig) / low, highWavelength = Double(orig) / high
            if wavelength > lowWavelength { return Float(fd / factor) }
            if wavelength < highWavelength { return f }
            let smooth = (Double(orig) / wavelength - low) / (high - low)
            return Float((1 - smooth) * fd / factor + smooth * fd)
        }
    }
}

/// Applies RoPE in place to `heads` heads of width `headDim` in each of `n` rows (row stride
/// `stride`), rotating the first `2·half` dims: x1 = x[:half], x2 = x[half:2half];
/// x1' = x1·cos − x2·sin, x2' = x2·cos + x1·sin. `inverse` applies the transpose (for backward).
@inline(__always)
func applyRope(
    _ x: UnsafeMutablePointer<Float>, rows n: Int, stride: Int, heads: Int, headDim: Int,
    positions: UnsafePointer<Int32>, table: RopeTable, inverse: Bool = false
) {
    let half = table.half
    if half == 0 { return }
    table.cos.withUnsafeBufferPointer { cosT in
        table.sin.withUnsafeBufferPointer { sinT in
            guard let cosBase = cosT.baseAddress, let sinBase = sinT.baseAddress else { return }
            for r in 0..<n {
                let p = Int(positions[r])
                let o = r < table.rowOffsets.count ? table.rowOffsets[r] : 0
                let cp = cosBase + o + p * half, sp = sinBase + o + p * half
                for h in 0..<heads {
                    let v = x + r * stride + h * headDim
                    for j in 0..<half {
                        let a = v[j], b = v[j + half]
                        let c = cp[j], s = inverse ? -sp[j] : sp[j]
                        v[j] = a * c - b * s
                        v[j + half] = b * c + a * s
                    }
                }
            }
        }
    }
}
