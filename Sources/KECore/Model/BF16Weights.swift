import Foundation

// MARK: Weights kept as bfloat16
//
// A 1B-parameter model is 4.7 GB in f32 and 2.4 GB in bf16. `load … bf16` keeps every parameter
// as its bf16 bits in the canonical layout (2 bytes each). The forward pass converts the matrices
// a tile of rows at a time, just before each sgemm, into a small f32 buffer; vectors (norm
// weights, biases) are converted once, at load. A bf16 value converts to f32 exactly, so for a
// BF16 checkpoint the results are identical to loading it as f32. Commands that need f32
// parameters everywhere (train, save, memory inspection, …) ask for an f32 copy explicitly
// (`Model.f32Parameters()`), which lives only as long as they hold it.

/// A model's parameters as bfloat16 bits, in canonical layout.
public final class BF16Weights: Sendable {
    /// The canonical layout (as `ParameterStore`), with one bf16 value per scalar.
    let slots: [TensorSlot]
    /// `slots` by name.
    let slotIndex: [String: TensorSlot]
    let bits: [UInt16]
    /// The 1-D tensors (norm weights, biases) as f32 (bf16 values), each at `vectorOffset[name]`.
    let vectors: [Float]
    let vectorOffset: [String: Int]

    /// Bits in the canonical layout `slots`.
    init(slots: [TensorSlot], bits: [UInt16]) {
        self.slots = slots
        self.slotIndex = Dictionary(slots.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.bits = bits
        var v: [Float] = [], offsets: [String: Int] = [:]
        for s in slots where s.shape.count == 1 {
            offsets[s.name] = v.count
            v.append(contentsOf: bits[s.offset..<(s.offset + s.count)].map(bf16ToFloat))
        }
        vectors = v
        vectorOffset = offsets
    }

    /// Rounds `store` to bf16, to nearest even (exact when its values came from bf16).
    convenience init(_ store: ParameterStore) {
        let bits = store.data.withUnsafeBufferPointer { src in
            [UInt16](unsafeUninitializedCapacity: src.count) { dst, n in
                if let s = src.baseAddress, let d = dst.baseAddress {
                    parallelRanges(src.count, minChunk: 1 << 20) { r in
                        for i in r { d[i] = floatToBF16Bits(s[i]) }
                    }
                }
                n = src.count
            }
        }
        self.init(slots: store.slots, bits: bits)
    }

    /// Number of scalars.
    var count: Int { bits.count }

    /// The f32 parameter store (4 bytes a scalar).
    func expanded() -> ParameterStore {
        let data = bits.withUnsafeBufferPointer { src in
            [Float](unsafeUninitializedCapacity: src.count) { dst, n in
                if let s = src.baseAddress, let d = dst.baseAddress {
                    parallelRanges(src.count, minChunk: 1 << 20) { r in
                        convertBF16(s + r.lowerBound, d + r.lowerBound, count: r.count)
                    }
                }
                n = src.count
            }
        }
        return ParameterStore(slots: slots, data: data)
    }
}

/// BF16 bits → Float (exact).
@inline(__always)
func bf16ToFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

/// dst[i] = bf16ToFloat(src[i]) for i < n, eight at a time.
@inline(__always)
func convertBF16(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count n: Int) {
    var i = 0
    while i + 8 <= n {
        let v = SIMD8<UInt32>(truncatingIfNeeded: SIMD8<UInt16>(
            src[i], src[i + 1], src[i + 2], src[i + 3], src[i + 4], src[i + 5], src[i + 6], src[i + 7])) &<< 16
        store8(unsafeBitCast(v, to: F8.self), dst + i)
        i += 8
    }
    while i < n { dst[i] = bf16ToFloat(src[i]); i += 1 }
}

extension Model {
    /// The same model with its parameters kept as bf16 (rounded to nearest even; exact for
    /// weights that came from a BF16 checkpoint). Interventions and multipliers are kept. A model
    /// kept as quantised ggml blocks is returned as it is: it is already smaller than bf16.
    /// - Throws: `CoreError` if this model's memory multipliers do not fit its shape.
    public func keepingBF16() throws -> Model {
        guard case .f32(let p) = storage else { return self }
        return try Model(config: config, storage: .bf16(BF16Weights(p)), tokenizer: tokenizer, step: step,
                     memoryMultipliers: memoryMultipliers.layers, interventions: interventions, source: source,
                     directoryInfo: directoryInfo)
    }

    /// True when the parameters are held as bf16 (not converted to f32).
    public var isBF16: Bool { if case .bf16 = storage { return true } else { return false } }
}
