// MARK: Hugging Face tensor names ↔ canonical parameters
//
// Each family publishes its weights under its own names (its entry's `HFTensorLayout`,
// Families/) and, for GPT-2 and GPT-NeoX, in its own layouts:
//
//   GPT-2 Conv1D      weight stored [in, out]          → canonical [out, in] (transpose)
//   GPT-2 c_attn      weight [D, 3D] = [in, (q|k|v)]   → q.w, k.w, v.w, each transposed
//                     bias [3D] = (q|k|v)              → q.b, k.b, v.b
//   GPT-NeoX QKV      weight [3D, D], rows ordered (head, {q,k,v}, head_dim) → q/k/v rows
//                     bias [3D] in the same order
//
// Model prefixes (`model.`, `gpt_neox.`, `transformer.`) are detected from the embedding's name,
// so bare base-model saves load too. The output head never has a prefix; GPT-NeoX calls it
// `embed_out.weight` (published checkpoints; written back that way) or `lm_head.weight`
// (transformers ≥ 5 renames on load).
//
// Extra tensors: known non-parameter buffers (attention masks `attn.bias`, `masked_bias`,
// `rotary_emb.inv_freq`) and a head stored alongside tied embeddings are ignored; any other
// unexpected tensor is an ERROR, because it means the checkpoint has parameters the config
// does not describe (e.g. a q/k norm), and silently dropping them would change the model.

#if canImport(Glibc)
import Glibc
#endif

/// How one Hugging Face tensor relates to canonical tensors.
enum HFTensorRole: Equatable {
    /// Same layout as the canonical tensor.
    case direct(String)
    /// HF [in, out] (Conv1D) ↔ canonical [out, in].
    case transposed(String)
    /// GPT-2 `c_attn.weight` [D, 3D] ↔ `L{l}.q.w`, `k.w`, `v.w`.
    case gpt2QKVWeight(layer: Int)
    /// GPT-2 `c_attn.bias` [3D] ↔ `L{l}.q.b`, `k.b`, `v.b`.
    case gpt2QKVBias(layer: Int)
    /// GPT-NeoX `query_key_value.weight` [3D, D], per-head interleaved.
    case neoxQKVWeight(layer: Int)
    /// GPT-NeoX `query_key_value.bias` [3D], per-head interleaved.
    case neoxQKVBias(layer: Int)

    /// The canonical tensors this HF tensor fills.
    var canonicalNames: [String] {
        switch self {
        case .direct(let n), .transposed(let n): return [n]
        case .gpt2QKVWeight(let l), .neoxQKVWeight(let l): return ["L\(l).q.w", "L\(l).k.w", "L\(l).v.w"]
        case .gpt2QKVBias(let l), .neoxQKVBias(let l): return ["L\(l).q.b", "L\(l).k.b", "L\(l).v.b"]
        }
    }
}

/// One Hugging Face tensor: full name, shape in the checkpoint, and its role.
struct HFTensorSpec: Equatable {
    var name: String
    var shape: [Int]
    var role: HFTensorRole
}

/// Builds a family's tensor list: `add` one tensor, or the `norm` tensors of a norm as the
/// config's norm kind has them.
struct HFTensorSpecList {
    let config: ModelConfig
    var specs: [HFTensorSpec] = []

    init(config: ModelConfig) { self.config = config }

    mutating func add(_ name: String, _ shape: [Int], _ role: HFTensorRole) {
        specs.append(HFTensorSpec(name: name, shape: shape, role: role))
    }

    /// Norm tensors `hf`.weight/.bias → canonical `canon`.w/.b.
    mutating func norm(_ hf: String, _ canon: String) {
        let D = config.hiddenSize
        switch config.norm {
        case .nonParametricLayerNorm: break
        case .rmsNorm: add("\(hf).weight", [D], .direct("\(canon).w"))
        case .layerNorm(let bias):
            add("\(hf).weight", [D], .direct("\(canon).w"))
            if bias { add("\(hf).bias", [D], .direct("\(canon).b")) }
        }
    }
}

/// True for non-parameter buffers some checkpoints include.
func isKnownBuffer(_ name: String) -> Bool {
    let suffixes = [".attn.bias", ".attn.masked_bias", ".attention.bias", ".attention.masked_bias",
                    "rotary_emb.inv_freq"]
    return suffixes.contains { name.hasSuffix($0) }
}

// MARK: Layout conversions

/// dst[0..<n] = src[0..<n].
@inline(__always)
func copyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    dst.update(from: src, count: n)
}

/// dst[c·dstStride + r] = src[r·srcStride + c] for r < rows, c < cols (cache-blocked).
func transposeBlock(_ src: UnsafePointer<Float>, srcStride: Int, rows: Int, cols: Int,
                    _ dst: UnsafeMutablePointer<Float>, dstStride: Int) {
    // 64×64 blocks, writing destination rows contiguously (fastest variant measured here).
    let B = 64
    var r0 = 0
    while r0 < rows {
        let r1 = min(r0 + B, rows)
        var c0 = 0
        while c0 < cols {
            let c1 = min(c0 + B, cols)
            for c in c0..<c1 {
                let d = dst + c * dstStride
                for r in r0..<r1 { d[r] = src[r * srcStride + c] }
            }
            c0 = c1
        }
        r0 = r1
    }
}

/// Fills canonical tensors of `store` from HF tensor data `hf` (laid out as `spec.shape`).
func scatterHF(_ spec: HFTensorSpec, _ hf: UnsafePointer<Float>, into store: UnsafeMutablePointer<Float>,
               slots: [TensorSlot], config c: ModelConfig) {
    let D = c.hiddenSize, hd = c.headDim
    switch spec.role {
    case .direct:
        copyFloats(store + slots[0].offset, hf, slots[0].count)
    case .transposed:
        // HF [in, out] → canonical [out, in]
        transposeBlock(hf, srcStride: spec.shape[1], rows: spec.shape[0], cols: spec.shape[1],
                       store + slots[0].offset, dstStride: spec.shape[0])
    case .gpt2QKVWeight:
        // HF [D(in), 3D(out)]: block j of columns → canonical j [D(out), D(in)]
        for j in 0..<3 {
            transposeBlock(hf + j * D, srcStride: 3 * D, rows: D, cols: D, store + slots[j].offset, dstStride: D)
        }
    case .gpt2QKVBias:
        for j in 0..<3 { copyFloats(store + slots[j].offset, hf + j * D, D) }
    case .neoxQKVWeight, .neoxQKVBias:
        // HF row (h·3 + j)·hd + d  → canonical j row h·hd + d; a row has D (weight) or 1 (bias) values.
        let rowLen = spec.shape.count == 1 ? 1 : D
        for h in 0..<c.numHeads {
            for j in 0..<3 {
                let n = hd * rowLen
                copyFloats(store + slots[j].offset + h * n, hf + (h * 3 + j) * n, n)
            }
        }
    }
}

/// Produces HF tensor data (laid out as `spec.shape`) from canonical tensors of `store`.
func gatherHF(_ spec: HFTensorSpec, from store: UnsafePointer<Float>, slots: [TensorSlot],
              config c: ModelConfig, into hf: UnsafeMutablePointer<Float>) {
    let D = c.hiddenSize, hd = c.headDim
    switch spec.role {
    case .direct:
        copyFloats(hf, store + slots[0].offset, slots[0].count)
    case .transposed:
        // canonical [out, in] → HF [in, out]
        transposeBlock(store + slots[0].offset, srcStride: spec.shape[0], rows: spec.shape[1], cols: spec.shape[0],
                       hf, dstStride: spec.shape[1])
    case .gpt2QKVWeight:
        for j in 0..<3 {
            transposeBlock(store + slots[j].offset, srcStride: D, rows: D, cols: D, hf + j * D, dstStride: 3 * D)
        }
    case .gpt2QKVBias:
        for j in 0..<3 { copyFloats(hf + j * D, store + slots[j].offset, D) }
    case .neoxQKVWeight, .neoxQKVBias:
        let rowLen = spec.shape.count == 1 ? 1 : D
        for h in 0..<c.numHeads {
            for j in 0..<3 {
                let n = hd * rowLen
                copyFloats(hf + (h * 3 + j) * n, store + slots[j].offset + h * n, n)
            }
        }
    }
}

// MARK: Loading and saving parameter stores

/// What loading needs: the canonical layout, the checkpoint's tensors and, for each, the
/// canonical slots it fills. Checks names, dtypes and shapes.
func planLoad(config c: ModelConfig, from source: TensorSource, file: String?) throws
    -> (layout: (slots: [TensorSlot], count: Int), specs: [HFTensorSpec], slotsFor: [[TensorSlot]]) {
    let names = Set(source.names)
    let hf = c.architecture.family.tensors
    let prefix = hf.prefixes.first { names.contains($0 + hf.embeddingName) } ?? hf.prefixes[0]
    var headName = hf.headName
    if let other = hf.alternateHeadName, !names.contains(headName), names.contains(other) { headName = other }
    let specs = hf.specs(c, prefix, headName)

    // Names: missing and unexpected.
    let missing = specs.map(\.name).filter { !names.contains($0) }
    if !missing.isEmpty {
        var msg = "checkpoint is missing \(missing.count) tensor\(missing.count == 1 ? "" : "s"): "
            + missing.prefix(8).joined(separator: ", ") + (missing.count > 8 ? ", …" : "")
        if !c.tieWordEmbeddings && missing.contains(where: { $0 == "lm_head.weight" || $0 == "embed_out.weight" }) {
            msg += " (tie_word_embeddings is false, so the output head must be stored)"
        }
        throw CoreError(msg, file: file)
    }
    let expected = Set(specs.map(\.name))
    let heads: Set<String> = ["lm_head.weight", "embed_out.weight"]
    let extra = source.names.filter {
        !expected.contains($0) && !isKnownBuffer($0) && !(c.tieWordEmbeddings && heads.contains($0))
    }
    if !extra.isEmpty {
        throw CoreError("checkpoint has \(extra.count) tensor\(extra.count == 1 ? "" : "s") that \(c.architecture.hfClassName) with this config does not have: "
            + extra.prefix(8).joined(separator: ", ") + (extra.count > 8 ? ", …" : ""), file: file)
    }

    // Dtypes and shapes.
    for s in specs {
        guard let info = source.tensorInfo(s.name) else { continue }
        guard info.isWeightType else {
            throw CoreError("tensor \(s.name) has dtype \(info.dtype); weights must be F32, F16 or BF16", file: file)
        }
        guard info.shape == s.shape else {
            throw CoreError("tensor \(s.name) has shape \(info.shape), the config implies \(s.shape)", file: file)
        }
    }

    // Values: direct tensors go straight into the store; others through one scratch buffer.
    // The canonical layout (as `ParameterStore(config:)` lays it out), without allocating yet.
    let layout = canonicalLayout(for: c)
    var slotIndex: [String: TensorSlot] = [:]
    for slot in layout.slots { slotIndex[slot.name] = slot }
    var slotsFor: [[TensorSlot]] = []
    for s in specs {
        var list: [TensorSlot] = []
        for n in s.role.canonicalNames {
            guard let slot = slotIndex[n] else {
                throw CoreError("internal: no canonical tensor \(n) for \(s.name)", file: file)
            }
            list.append(slot)
        }
        slotsFor.append(list)
    }
    // Every scalar is written exactly once below, so the storage can start uninitialised.
    let covered = Set(slotsFor.joined().map(\.name))
    if let lost = layout.slots.first(where: { !covered.contains($0.name) }) {
        throw CoreError("internal: canonical tensor \(lost.name) has no checkpoint source", file: file)
    }
    return (layout, specs, slotsFor)
}

/// Reads the parameters of `config` from `source`, checking names, dtypes and shapes.
func loadParameters(config c: ModelConfig, from source: TensorSource, file: String? = nil) throws -> ParameterStore {
    let (layout, specs, slotsFor) = try planLoad(config: c, from: source, file: file)
    var scratch: [Float] = []
    let data = try [Float](unsafeUninitializedCapacity: layout.count) { buf, initialized in
        initialized = 0
        let base = buf.baseAddress!
        adviseHugePages(UnsafeMutableRawPointer(base), bytes: layout.count * 4)
        for (s, slots) in zip(specs, slotsFor) {
            let n = s.shape.reduce(1, *)
            if case .direct = s.role {
                try source.read(s.name, into: UnsafeMutableBufferPointer(start: base + slots[0].offset, count: n))
                continue
            }
            if let f32 = source.float32Pointer(s.name) {
                scatterHF(s, f32, into: base, slots: slots, config: c)  // straight from the mapping
                continue
            }
            if scratch.count < n { scratch = [Float](repeating: 0, count: n) }
            try scratch.withUnsafeMutableBufferPointer { tmp in
                try source.read(s.name, into: UnsafeMutableBufferPointer(rebasing: tmp[0..<n]))
                scatterHF(s, tmp.baseAddress!, into: base, slots: slots, config: c)
            }
        }
        initialized = layout.count
    }
    return ParameterStore(slots: layout.slots, data: data)
}

/// Reads the parameters of `config` from `source` as bf16 bits (see `BF16Weights`), one
/// tensor at a time: memory holds the bf16 parameters plus one tensor in f32, never the whole
/// model in f32.
func loadParametersBF16(config c: ModelConfig, from source: TensorSource, file: String? = nil) throws -> BF16Weights {
    let (layout, specs, slotsFor) = try planLoad(config: c, from: source, file: file)
    var hf: [Float] = [], canonical: [Float] = []
    let bits = try [UInt16](unsafeUninitializedCapacity: layout.count) { buf, initialized in
        initialized = 0
        guard let base = buf.baseAddress else { return }
        for (s, slots) in zip(specs, slotsFor) {
            try readCanonical(s, slots: slots, from: source, config: c, hf: &hf, canonical: &canonical) { slot, src in
                let dst = base + slot.offset
                for i in 0..<slot.count { dst[i] = floatToBF16Bits(src[i]) }
            }
        }
        initialized = layout.count
    }
    return BF16Weights(slots: layout.slots, bits: bits)
}

/// Reads HF tensor `s` from `source`, scatters it into its canonical `slots` and calls `body`
/// with each slot and its f32 values (valid only during the call). `hf` and `canonical` are
/// scratch buffers, grown as needed and reused between calls, so one tensor at a time is in f32.
/// - Throws: whatever `source.read` or `body` throws.
func readCanonical(_ s: HFTensorSpec, slots: [TensorSlot], from source: TensorSource, config c: ModelConfig,
                   hf: inout [Float], canonical: inout [Float],
                   _ body: (TensorSlot, UnsafePointer<Float>) throws -> Void) throws {
    let n = s.shape.reduce(1, *)
    if hf.count < n { hf = [Float](repeating: 0, count: n) }
    // The canonical span the tensor fills (its slots, and anything between them).
    let lo = slots.map(\.offset).min() ?? 0
    let hi = slots.map { $0.offset + $0.count }.max() ?? 0
    if canonical.count < hi - lo { canonical = [Float](repeating: 0, count: hi - lo) }
    try hf.withUnsafeMutableBufferPointer { h in
        try canonical.withUnsafeMutableBufferPointer { cb in
            guard let hp = h.baseAddress, let cp = cb.baseAddress else { return }
            try source.read(s.name, into: UnsafeMutableBufferPointer(start: hp, count: n))
            // scatterHF addresses slots by absolute offset: shift the base down by `lo`.
            scatterHF(s, hp, into: cp - lo, slots: slots, config: c)
            for slot in slots { try body(slot, cp + (slot.offset - lo)) }
        }
    }
}

/// The slots `ParameterStore(config:)` creates, and the total scalar count.
func canonicalLayout(for c: ModelConfig) -> (slots: [TensorSlot], count: Int) {
    var slots: [TensorSlot] = []
    var offset = 0
    for (name, shape) in canonicalTensorShapes(for: c) {
        let s = TensorSlot(name: name, shape: shape, offset: offset)
        slots.append(s)
        offset += s.count
    }
    return (slots, offset)
}

/// The HF tensors of `store` as safetensors entries (inverse of `loadParameters`).
func huggingFaceEntries(config c: ModelConfig, store: ParameterStore) throws -> [SafetensorsEntry] {
    let specs = huggingFaceTensorSpecs(for: c, prefix: hfPrefixes(c.architecture)[0])
    var entries: [SafetensorsEntry] = []
    for s in specs {
        var slots: [TensorSlot] = []
        for n in s.role.canonicalNames {
            guard let slot = store.slot(n) else {
                throw CoreError("parameter store has no tensor \(n) (needed for \(s.name))")
            }
            slots.append(slot)
        }
        let expected = s.shape.reduce(1, *)
        guard slots.reduce(0, { $0 + $1.count }) == expected else {
            throw CoreError("parameter store layout does not match the config at \(s.name)")
        }
        entries.append(SafetensorsEntry(name: s.name, shape: s.shape) { dest in
            store.data.withUnsafeBufferPointer { src in
                gatherHF(s, from: src.baseAddress!, slots: slots, config: c, into: dest.baseAddress!)
            }
        })
    }
    return entries
}
