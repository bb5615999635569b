// MARK: OLMo-trainer ("native") checkpoints: config.yaml + model.safetensors or model.pt
//
// The OLMo trainer saves unsharded checkpoints as `config.yaml` (the run's settings; the model's
// are under `model:`) and the state dict, as `model.safetensors` (current trainers) or
// `model.pt` (torch.save); its loader (olmo/checkpoint.py `load_state_dict`) tries
// model.safetensors first, and so does ke. In model.safetensors each tensor's name is the
// URL-safe base64 of a pickled `(keys, value_is_pickled)` pair (olmo/safetensors_util.py
// `encode_key`), keys being the tuple of nested dict keys; a model's state dict is flat, so
// keys is one state-dict name and value_is_pickled is False. The pickle is read by the
// restricted reader (Pickle.swift). Both files use the trainer's own tensor names:
//
//   transformer.wte.weight                [V, d]          → model.embed_tokens.weight
//   transformer.blocks.N.att_proj.weight  [d + 2·kv, d]   → q_proj | k_proj | v_proj (rows, in order)
//   transformer.blocks.N.attn_out.weight  [d, d]          → self_attn.o_proj.weight
//   transformer.blocks.N.ff_proj.weight   [2F, d]         → up_proj = rows [0, F), gate_proj = rows [F, 2F)
//   transformer.blocks.N.ff_out.weight    [d, F]          → mlp.down_proj.weight
//   transformer.ff_out.weight             [V, d]          → lm_head.weight
//
// With `weight_tying: true` (the trainer's default) the trainer builds no ff_out at all and the
// head is the embedding; a state dict that still holds one does not fit its config (the trainer's
// strict load refuses it), and ke refuses it too rather than drop the stored head.
//
// This is the mapping of transformers' `convert_olmo_weights_to_hf.py` (`torch.split` of
// att_proj by [d, kv, kv]; `up_proj_weight, gate_proj_weight = torch.chunk(ff_proj, 2, dim=0)`).
// Checked against the OLMo trainer's own SwiGLU (olmo/model.py: `x, gate = x.chunk(2, dim=-1);
// return F.silu(gate) * x`): the FIRST half of ff_proj is the part multiplied by the activation
// (HF's up_proj), the SECOND half goes through SiLU (HF's gate_proj). Both sources agree. So the paper's `change_parameters.py`, which scales the
// first half of ff_proj, scales exactly HF's up_proj rows, which is what ke's rescale folds
// (`foldCoefficientScale` multiplies `up.w` rows).
//
// The trainer's config.yaml is read in OLMoTrainerConfig.swift.

/// An OLMo-trainer `model.safetensors` presented under its state-dict names (decoded from the
/// stored names, see the header).
public final class OLMoSafetensorsStateDict: TensorSource, @unchecked Sendable {
    let inner: SafetensorsFile
    /// State-dict name → stored (encoded) name.
    private let stored: [String: String]

    /// Opens `path` (an OLMo-trainer model.safetensors) and decodes every tensor name.
    ///
    /// - Throws: `CoreError` naming `path` for any error of `SafetensorsFile(path:)`, a name that
    ///   is not URL-safe base64, whose pickle is refused by the restricted reader or is not a
    ///   pair (tuple of strings, bool), an entry holding a pickled Python value or a nested key
    ///   (never part of a model's state dict), or two names that decode to the same key.
    public init(path: String) throws {
        let file = try SafetensorsFile(path: path)
        inner = file
        var map: [String: String] = [:]
        for t in file.tensors {
            let key = try olmoDecodeSafetensorsKey(t.name, file: path)
            if let other = map[key] {
                throw CoreError("tensors '\(other)' and '\(t.name)' both decode to the key '\(key)'", file: path)
            }
            map[key] = t.name
        }
        stored = map
    }

    public var names: [String] { stored.keys.sorted() }

    public func tensorInfo(_ name: String) -> TensorSourceInfo? {
        stored[name].flatMap { inner.info($0) }.map { TensorSourceInfo(dtype: $0.dtype.rawValue, shape: $0.shape, isWeightType: $0.dtype.isWeightType) }
    }

    /// - Throws: `CoreError` when there is no tensor `name`, or as `SafetensorsFile.read`.
    public func read(_ name: String, into dest: UnsafeMutableBufferPointer<Float>) throws {
        guard let s = stored[name] else { throw CoreError("no tensor named '\(name)'", file: inner.path) }
        try inner.read(s, into: dest)
    }

    public func float32Pointer(_ name: String) -> UnsafePointer<Float>? {
        guard let s = stored[name], let info = inner.info(s), info.dtype == .f32 else { return nil }
        let raw = inner.rawBytes(info)
        guard let p = raw.baseAddress, Int(bitPattern: p) % 4 == 0 else { return nil }
        return p.assumingMemoryBound(to: Float.self)
    }
}

/// The state-dict name an OLMo-trainer model.safetensors stores as `encoded`: the one key of
/// the pickled `(keys, value_is_pickled)` pair its URL-safe base64 holds
/// (olmo/safetensors_util.py `decode_key`).
///
/// - Throws: `CoreError` naming `file` and the stored name when it is not padded URL-safe
///   base64, its pickle is refused or malformed, it is not `((str,), False)`: a pickled Python
///   value (`value_is_pickled` True) or a nested key is not a tensor of a model.
func olmoDecodeSafetensorsKey(_ encoded: String, file: String) throws -> String {
    let shown = encoded.count > 60 ? String(encoded.prefix(60)) + "…" : encoded
    guard let bytes = urlSafeBase64Decode(encoded) else {
        throw CoreError("tensor name '\(shown)' is not URL-safe base64, as OLMo's trainer encodes its keys (is this an OLMo-trainer model.safetensors?)", file: file)
    }
    let value: PickleValue
    do { value = try bytes.withUnsafeBytes { try readRestrictedPickle($0, file: file) } }
    catch let e as CoreError { throw CoreError("tensor name '\(shown)': \(e.message)", file: file) }
    guard case .tuple(let pair) = value, pair.count == 2, case .tuple(let keys) = pair[0], case .bool(let pickled) = pair[1] else {
        throw CoreError("tensor name '\(shown)' decodes to a \(value.kind), not OLMo's (keys, value_is_pickled) pair", file: file)
    }
    let parts = try keys.map { k -> String in
        guard case .string(let s) = k else { throw CoreError("tensor name '\(shown)' has a key part that is a \(k.kind), not a string", file: file) }
        return s
    }
    guard !pickled else {
        throw CoreError("entry \(parts) holds a pickled Python value, not a tensor (ke reads model weights only)", file: file)
    }
    guard parts.count == 1 else {
        throw CoreError("entry \(parts) is a nested key; a model's state dict is flat (one name per tensor)", file: file)
    }
    return parts[0]
}

/// The bytes of padded URL-safe base64 (RFC 4648 §5: `-` and `_` for `+` and `/`, `=` padding
/// to a multiple of 4 characters), as Python's `base64.urlsafe_b64decode` reads what
/// `urlsafe_b64encode` writes; nil for any other character, a wrong length or misplaced padding.
func urlSafeBase64Decode(_ text: String) -> [UInt8]? {
    let chars = Array(text.utf8)
    guard chars.count % 4 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(chars.count / 4 * 3)
    var i = 0
    while i < chars.count {
        var v: UInt32 = 0, pad = 0
        for j in 0..<4 {
            let c = chars[i + j]
            let d: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): d = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): d = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"): d = 62
            case UInt8(ascii: "_"): d = 63
            case UInt8(ascii: "="):
                // Padding: only the last one or two characters of the last group.
                guard i + 4 == chars.count, j >= 2 else { return nil }
                pad += 1; d = 0
            default: return nil
            }
            if pad > 0 && c != UInt8(ascii: "=") { return nil }
            v = v << 6 | d
        }
        let group = [UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        out += group.prefix(3 - pad)
        i += 4
    }
    return out
}

/// An OLMo-trainer state dict presented under HF names (att_proj and ff_proj split by rows).
public final class OLMoNativeSource: TensorSource, @unchecked Sendable {
    let inner: TensorSource
    /// HF name → (native name, first row, row count); rows nil = the whole tensor.
    private let map: [String: (native: String, rows: Range<Int>?)]
    private let file: String

    /// - Throws: `CoreError` naming `file` for a native tensor ke does not map, a fused tensor
    ///   whose rows do not match the config, or an output head (`transformer.ff_out.weight`) in
    ///   a checkpoint whose config ties it to the embedding (`weight_tying: true`).
    init(checkpoint: TensorSource, config c: ModelConfig, file: String) throws {
        inner = checkpoint
        self.file = file
        let d = c.numHeads * c.headDim, kv = c.numKVHeads * c.headDim, F = c.intermediateSize
        var m: [String: (String, Range<Int>?)] = [:]
        for name in checkpoint.names {
            switch name {
            case "transformer.wte.weight": m["model.embed_tokens.weight"] = (name, nil); continue
            case "transformer.ff_out.weight":
                // OLMo's trainer (olmo/model.py) creates no ff_out module when weight_tying is
                // true, so its strict load_state_dict refuses this file; tying silently would
                // drop a trained head.
                guard !c.tieWordEmbeddings else {
                    throw CoreError("holds transformer.ff_out.weight (an output head), but config.yaml has weight_tying: true (the default when absent): OLMo's trainer builds no ff_out for a tied model and would not load this state dict; set weight_tying: false to use the stored head", file: file)
                }
                m["lm_head.weight"] = (name, nil); continue
            default: break
            }
            let parts = name.split(separator: ".")
            guard parts.count == 5, parts[0] == "transformer", parts[1] == "blocks", let l = Int(parts[2]), parts[4] == "weight" else {
                throw CoreError("tensor '\(name)' is not part of the OLMo-trainer layout ke maps", file: file)
            }
            let h = "model.layers.\(l)"
            let rows = checkpoint.tensorInfo(name)?.shape.first ?? 0
            switch parts[3] {
            case "att_proj":
                guard rows == d + 2 * kv else {
                    throw CoreError("\(name) has \(rows) rows; q|k|v of the config need \(d + 2 * kv)", file: file)
                }
                m["\(h).self_attn.q_proj.weight"] = (name, 0..<d)
                m["\(h).self_attn.k_proj.weight"] = (name, d..<(d + kv))
                m["\(h).self_attn.v_proj.weight"] = (name, (d + kv)..<(d + 2 * kv))
            case "ff_proj":
                guard rows == 2 * F else { throw CoreError("\(name) has \(rows) rows; up|gate of the config need \(2 * F)", file: file) }
                m["\(h).mlp.up_proj.weight"] = (name, 0..<F)          // first half: up (see the header)
                m["\(h).mlp.gate_proj.weight"] = (name, F..<(2 * F))  // second half: gate
            case "attn_out": m["\(h).self_attn.o_proj.weight"] = (name, nil)
            case "ff_out": m["\(h).mlp.down_proj.weight"] = (name, nil)
            default:
                throw CoreError("tensor '\(name)' is not part of the OLMo-trainer layout ke maps", file: file)
            }
        }
        map = m
    }

    public var names: [String] { map.keys.sorted() }

    public func tensorInfo(_ name: String) -> TensorSourceInfo? {
        guard let e = map[name], var info = inner.tensorInfo(e.native) else { return nil }
        if let r = e.rows, !info.shape.isEmpty { info.shape[0] = r.count }
        return info
    }

    /// - Throws: `CoreError` when there is no tensor `name`, `dest` has another element count, or its storage cannot be read.
    public func read(_ name: String, into dest: UnsafeMutableBufferPointer<Float>) throws {
        guard let e = map[name], let info = inner.tensorInfo(e.native) else { throw CoreError("no tensor named '\(name)'", file: file) }
        guard let r = e.rows else { return try inner.read(e.native, into: dest) }
        let cols = info.shape.dropFirst().reduce(1, *)
        guard dest.count == r.count * cols else {
            throw CoreError("tensor '\(name)' has \(r.count * cols) elements, destination holds \(dest.count)", file: file)
        }
        var whole = [Float](repeating: 0, count: info.count)
        try whole.withUnsafeMutableBufferPointer { try inner.read(e.native, into: $0) }
        whole.withUnsafeBufferPointer { src in
            guard let s = src.baseAddress, let d = dest.baseAddress else { return }
            copyFloats(d, s + r.lowerBound * cols, r.count * cols)
        }
    }

    public func float32Pointer(_ name: String) -> UnsafePointer<Float>? {
        guard let e = map[name], let p = inner.float32Pointer(e.native), let info = inner.tensorInfo(e.native) else { return nil }
        let cols = info.shape.dropFirst().reduce(1, *)
        return p + (e.rows?.lowerBound ?? 0) * cols
    }
}

/// True when `directory` is an OLMo-trainer checkpoint (config.yaml + model.safetensors or
/// model.pt, no config.json).
func isOLMoNativeDirectory(_ directory: String) -> Bool {
    !fileExists(directory + "/config.json") && fileExists(directory + "/config.yaml")
        && (fileExists(directory + "/model.safetensors") || fileExists(directory + "/model.pt"))
}

/// The state-dict file of an OLMo-trainer directory, in its loader's order: model.safetensors,
/// else model.pt.
func olmoNativeWeightFile(_ directory: String) -> String {
    fileExists(directory + "/model.safetensors") ? "model.safetensors" : "model.pt"
}

/// The state dict of the OLMo-trainer directory `directory` (`olmoNativeWeightFile`), under its
/// native names, mapped to HF names by `config`.
/// - Throws: `CoreError` naming the weight file at fault.
func openOLMoNativeSource(directory: String, config: ModelConfig) throws -> OLMoNativeSource {
    let name = olmoNativeWeightFile(directory)
    let path = directory + "/" + name
    let stateDict: TensorSource = name == "model.safetensors" ? try OLMoSafetensorsStateDict(path: path)
                                                               : try PyTorchCheckpoint(paths: [path])
    return try OLMoNativeSource(checkpoint: stateDict, config: config, file: path)
}
