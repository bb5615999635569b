// MARK: A GGUF file's `ARCH.*` metadata as a transformers config.json
//
// Each GGUF architecture's entry (in its family's file, Families/) names a builder reading the
// metadata through `GGUFMetadata`; the result is the config.json transformers would write for
// the model, parsed by `ModelConfig(huggingFace:)` as any other.

/// Typed access to a GGUF file's `ARCH.*` metadata, with errors naming the key.
struct GGUFMetadata {
    let file: GGUFFile
    let arch: String

    func value(_ key: String) -> GGUFValue? { file.value("\(arch).\(key)") }

    /// A required positive integer `ARCH.key`.
    /// - Throws: `CoreError` naming the file and key when it is missing or not a positive integer.
    func int(_ key: String) throws -> Int {
        guard let i = try optionalInt(key) else { throw CoreError("missing \(arch).\(key)", file: file.path) }
        return i
    }

    /// An optional positive integer `ARCH.key`.
    /// - Throws: `CoreError` naming the file and key when it is present but not a positive integer.
    func optionalInt(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue, i > 0 else { throw CoreError("\(arch).\(key) must be a positive integer", file: file.path) }
        return i
    }

    /// An optional finite number `ARCH.key`, as the decimal a float32 prints as (GGUF stores
    /// f32; `1e-6` should stay 1e-6 in config.json, not 9.99999997e-07).
    /// - Throws: `CoreError` naming the file and key when it is present but not a finite number.
    func number(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.doubleValue, d.isFinite else { throw CoreError("\(arch).\(key) must be a finite number", file: file.path) }
        if case .float = v, let shortest = Double("\(Float(d))") { return shortest }
        return d
    }

    /// An optional boolean `ARCH.key`.
    /// - Throws: `CoreError` naming the file and key when it is present but not a boolean.
    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.boolValue else { throw CoreError("\(arch).\(key) must be true or false", file: file.path) }
        return b
    }

    /// `vocab_size`: the embedding's rows, else `ARCH.vocab_size`, else the token list's length.
    var vocabSize: Int {
        if let embd = file.tensor("token_embd.weight"), embd.shape.count == 2 { return embd.shape[0] }
        return value("vocab_size")?.intValue ?? file.value("tokenizer.ggml.tokens")?.arrayValue?.count ?? 0
    }

    /// `tie_word_embeddings`: the converter writes no `output.weight` for tied embeddings.
    var tied: JSONValue { .bool(file.tensor("output.weight") == nil) }

    /// bos/eos token ids from the tokenizer metadata.
    var specialTokens: [(String, JSONValue)] {
        var d: [(String, JSONValue)] = []
        if let bos = file.value("tokenizer.ggml.bos_token_id")?.intValue { d.append(("bos_token_id", .int(bos))) }
        if let eos = file.value("tokenizer.ggml.eos_token_id")?.intValue { d.append(("eos_token_id", .int(eos))) }
        return d
    }
}

/// The transformers config.json (as JSON) that a GGUF file's `ARCH.*` metadata describes.
///
/// - Throws: `CoreError` naming the file for an unknown architecture or a missing or malformed
///   required key.
func ggufHuggingFaceConfig(_ f: GGUFFile) throws -> (json: JSONValue, architecture: GGUFArchitecture) {
    guard let archName = f.value("general.architecture")?.stringValue else {
        throw CoreError("missing general.architecture", file: f.path)
    }
    guard let arch = ggufArchitectures.first(where: { $0.gguf == archName }) else {
        // A family llama.cpp writes under another architecture (Mistral as `llama`) says so.
        let hint = modelFamilies.first { $0.architecture.rawValue == archName }?.ggufNote.map { "; " + $0 } ?? ""
        throw CoreError("GGUF architecture '\(archName)' is not supported (supported: \(ggufArchitectures.map(\.gguf).joined(separator: ", "))\(hint))", file: f.path)
    }
    var d: [(String, JSONValue)] = [("architectures", .array([.string(arch.hfClass)])), ("model_type", .string(arch.modelType))]
    for (key, value) in try arch.config(GGUFMetadata(file: f, arch: archName)) {
        // A later key (OLMo 3's model_type) replaces an earlier one.
        if let i = d.firstIndex(where: { $0.0 == key }) { d[i].1 = value } else { d.append((key, value)) }
    }
    return (.object(d), arch)
}
