// MARK: A GGUF file's tensors under Hugging Face names
//
// `GGUFTensorSource` presents the file's tensors as the HF checkpoint they were converted from,
// undoing each architecture's rewrites one tensor at a time (see GGUFModel.swift's header), so
// the HF-name mapping of WeightMap.swift loads the model; the quantised loader (QuantizedLoad
// .swift) asks it for the stored rows instead.

/// A GGUF file's tensors under HF names, dequantised to f32 with the converter's rewrites undone.
public final class GGUFTensorSource: TensorSource, @unchecked Sendable {
    public let file: GGUFFile
    private let byHF: [String: (info: GGUFTensorInfo, transform: GGUFTensorTransform)]

    /// - Throws: `CoreError` naming the file for a tensor name outside the layout, or a
    ///   rewritten tensor whose shape cannot be undone (q/k rows not whole head pairs, a fused
    ///   q|k|v that is not [3·D, D] / [3·D], a Conv1D weight that is not 2-D).
    init(file: GGUFFile, architecture: GGUFArchitecture, hidden: Int, heads: Int, kvHeads: Int) throws {
        self.file = file
        var map: [String: (GGUFTensorInfo, GGUFTensorTransform)] = [:]
        for t in file.tensors {
            // llama.cpp stores precomputed RoPE frequencies for some models: not a parameter.
            if t.name == "rope_freqs.weight" { continue }
            guard let (hf, rewrite) = architecture.hfName(t.name) else {
                throw CoreError("tensor '\(t.name)' is not part of the \(architecture.gguf) layout ke knows", file: file.path)
            }
            let transform: GGUFTensorTransform
            switch rewrite {
            case nil: transform = .none
            case .ropeQ?, .ropeK?:
                let n = rewrite == .ropeQ ? heads : kvHeads
                guard t.shape.count == 2, n > 0, t.shape[0] % (2 * n) == 0 else {
                    throw CoreError("tensor '\(t.name)' has shape \(t.shape), not a whole number of head pairs for \(n) heads", file: file.path)
                }
                transform = .unpermuteRoPE(heads: n)
            case .neoxQKV?:
                let want = t.shape.count == 1 ? [3 * hidden] : [3 * hidden, hidden]
                guard t.shape == want, heads > 0, hidden % heads == 0 else {
                    throw CoreError("fused tensor '\(t.name)' has shape \(t.shape); q|k|v of embedding_length \(hidden) needs \(want)", file: file.path)
                }
                transform = .neoxQKV(heads: heads)
            case .transpose?:
                guard t.shape.count == 2 else {
                    throw CoreError("tensor '\(t.name)' has shape \(t.shape); a Conv1D weight must be 2-D", file: file.path)
                }
                transform = .transpose
            case .minusOne?:
                transform = .minusOne
            }
            map[hf] = (t, transform)
        }
        byHF = map
    }

    public var names: [String] { byHF.keys.sorted() }

    public func tensorInfo(_ name: String) -> TensorSourceInfo? {
        guard let (t, transform) = byHF[name] else { return nil }
        let shape = transform == .transpose ? Array(t.shape.reversed()) : t.shape
        return TensorSourceInfo(dtype: t.type.name, shape: shape, isWeightType: true)
    }

    /// Dequantises GGUF tensor data and undoes its rewrite (row permutation, transpose, −1).
    /// - Throws: `CoreError` when there is no tensor `name`, `dest` has another element count, or its data cannot be dequantised.
    public func read(_ name: String, into dest: UnsafeMutableBufferPointer<Float>) throws {
        guard let (t, transform) = byHF[name] else { throw CoreError("no tensor named '\(name)'", file: file.path) }
        switch transform {
        case .none:
            return try file.read(t, into: dest)
        case .minusOne:
            try file.read(t, into: dest)
            for i in dest.indices { dest[i] -= 1 }
            return
        default: break
        }
        var tmp = [Float](repeating: 0, count: t.count)
        try tmp.withUnsafeMutableBufferPointer { try file.read(t, into: $0) }
        guard let d = dest.baseAddress else { return }
        let rows = t.shape[0], cols = t.shape.count == 2 ? t.shape[1] : 1
        tmp.withUnsafeBufferPointer { src in
            guard let s = src.baseAddress else { return }
            switch transform {
            case .unpermuteRoPE(let heads):
                // GGUF row h·hd + 2i + j → HF row h·hd + j·hd/2 + i.
                let hd = rows / heads, half = hd / 2
                for h in 0..<heads {
                    for j in 0..<2 {
                        for i in 0..<half {
                            copyFloats(d + (h * hd + j * half + i) * cols, s + (h * hd + 2 * i + j) * cols, cols)
                        }
                    }
                }
            case .neoxQKV(let heads):
                // GGUF row j·D + h·hd + r → HF row (3h + j)·hd + r; hd rows move together.
                let D = rows / 3, hd = D / heads
                for h in 0..<heads {
                    for j in 0..<3 {
                        copyFloats(d + (3 * h + j) * hd * cols, s + (j * D + h * hd) * cols, hd * cols)
                    }
                }
            case .transpose:
                // GGUF [out, in] → HF [in, out].
                transposeBlock(s, srcStride: cols, rows: rows, cols: cols, d, dstStride: rows)
            case .none, .minusOne:
                break
            }
        }
    }

    /// The 2-D GGUF tensor that HF tensor `name` is made of, with the rewrite undone on reading
    /// (the quantised loader keeps the blocks of every rewrite that only moves whole rows).
    func storedTensor(_ name: String) -> (tensor: GGUFTensorInfo, transform: GGUFTensorTransform)? {
        guard let (t, transform) = byHF[name], t.shape.count == 2 else { return nil }
        return (t, transform)
    }

    /// Drops the file pages of HF tensor `name` from resident memory once it has been copied out.
    func releasePages(of name: String) {
        guard let (t, _) = byHF[name] else { return }
        file.file.releasePages(t.fileOffset..<(t.fileOffset + t.byteCount))
    }

    public func float32Pointer(_ name: String) -> UnsafePointer<Float>? {
        guard let (t, transform) = byHF[name], transform == .none else { return nil }
        return file.float32Pointer(t)
    }
}
