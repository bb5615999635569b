#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: What a model directory holds besides config.json and the weights
//
// A Hugging Face directory also carries the tokenizer's settings (tokenizer_config.json,
// special_tokens_map.json, added_tokens.json), the generation settings (generation_config.json),
// a chat template (chat_template.jinja / .json), a README and licence. `save` copies these files
// unchanged; `generate` stops at the end-of-sequence ids they name.

/// Where a model was loaded from and what its directory says about generation.
public struct ModelDirectoryInfo: Sendable, Equatable {
    /// The directory the model was loaded from (its other files are copied by `save`); for a GGUF
    /// file, the file itself (nothing is copied from it).
    public var directory: String
    /// End-of-sequence token ids: `generation_config.json`'s `eos_token_id` (an int or a list),
    /// else `tokenizer_config.json`'s `eos_token` looked up in the tokenizer, else
    /// `config.json`'s `eos_token_id`. Empty when none is given.
    public var eosTokenIDs: [Int]
    /// Which file `eosTokenIDs` came from (nil when empty).
    public var eosSource: String?
    /// The tokenizer.json given with `load … tokenizer "FILE"` in place of the directory's own
    /// (nil when the directory's tokenizer is used). `save` copies it as tokenizer.json and
    /// leaves out the directory's tokenizer files.
    public var tokenizerFile: String?
    /// Files `save` writes that the model's source does not hold as files: for a GGUF file,
    /// tokenizer_config.json and generation_config.json made from its metadata
    /// (`ggufSideFiles`). Name → contents.
    public var generatedFiles: [String: String]

    public init(directory: String, eosTokenIDs: [Int], eosSource: String?, tokenizerFile: String? = nil,
                generatedFiles: [String: String] = [:]) {
        self.directory = directory
        self.eosTokenIDs = eosTokenIDs
        self.eosSource = eosSource
        self.tokenizerFile = tokenizerFile
        self.generatedFiles = generatedFiles
    }

    /// Reads the generation settings of `directory`.
    ///
    /// - Parameters:
    ///   - directory: a model directory.
    ///   - config: the model's config.json as parsed (for its `eos_token_id`).
    ///   - tokenizer: the model's tokenizer (to look up a `tokenizer_config.json` `eos_token`).
    ///   - tokenizerFile: the tokenizer.json given in place of the directory's own, if any; the
    ///     directory's tokenizer_config.json then describes another tokenizer and is not read.
    /// - Throws: `CoreError` naming the file when `generation_config.json` or
    ///   `tokenizer_config.json` exists but is not valid JSON, or an `eos_token_id` is neither an
    ///   integer nor a list of integers. Ids outside the vocabulary are ignored.
    public static func read(directory: String, config: ModelConfig, tokenizer: Tokenizer,
                            tokenizerFile: String? = nil) throws -> ModelDirectoryInfo {
        let vocab = max(config.vocabSize, tokenizer.vocabSize)
        func ids(_ v: JSONValue?, file: String) throws -> [Int]? {
            guard let v, !v.isNull else { return nil }
            let list: [JSONValue] = v.arrayValue ?? [v]
            var out: [Int] = []
            for item in list {
                guard let i = item.intValue else {
                    throw CoreError("\"eos_token_id\" must be an integer or a list of integers", file: file)
                }
                // An id outside the vocabulary can never be generated (real configs carry such
                // leftovers, e.g. GPT-2's 50256 in a re-sized model): it is ignored.
                if i >= 0 && i < vocab && !out.contains(i) { out.append(i) }
            }
            return out
        }
        func json(_ name: String) throws -> JSONValue? {
            let path = directory + "/" + name
            guard fileExists(path) else { return nil }
            return try readJSONFile(path)
        }
        func info(_ ids: [Int], _ source: String?) -> ModelDirectoryInfo {
            ModelDirectoryInfo(directory: directory, eosTokenIDs: ids, eosSource: source, tokenizerFile: tokenizerFile)
        }
        let genPath = directory + "/generation_config.json"
        if let gen = try json("generation_config.json"), let list = try ids(gen["eos_token_id"], file: genPath) {
            return info(list, "generation_config.json")
        }
        if tokenizerFile == nil, let tc = try json("tokenizer_config.json") {
            // `eos_token` is a string or an AddedToken object {"content": …}.
            let eos = tc["eos_token"]
            if let text = eos?.stringValue ?? eos?["content"]?.stringValue, let id = tokenizer.id(of: text) {
                return info([id], "tokenizer_config.json")
            }
        }
        if let list = try? ids(config.rawJSON["eos_token_id"], file: directory + "/config.json"), !list.isEmpty {
            return info(list, "config.json")
        }
        return info([], nil)
    }
}

// MARK: Files carried over by save

/// File names ke writes itself when saving (never copied from the source).
let filesWrittenBySave: Set<String> = ["config.json", "model.safetensors"]

/// The files of a directory that belong to its tokenizer: not copied by `save` when the model
/// was loaded with another tokenizer (`load … tokenizer "FILE"`).
let tokenizerSideFiles: Set<String> = [
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.json", "merges.txt", "vocab.txt", "tokenizer.model", "spiece.model",
]

/// True for a file that holds weights or points to weight shards: safetensors, PyTorch, GGUF,
/// TensorFlow/Flax/ONNX exports and shard index files. These are never copied by `save`.
public func isWeightFile(_ name: String) -> Bool {
    let lower = name.lowercased()
    let weightSuffixes = [".safetensors", ".bin", ".pt", ".pth", ".gguf", ".ckpt", ".h5", ".msgpack",
                          ".onnx", ".ot", ".npz", ".pkl", ".index.json"]
    if weightSuffixes.contains(where: { lower.hasSuffix($0) }) { return true }
    // Sharded files such as model-00001-of-00002.safetensors are covered above; this catches
    // shard indexes with other names (e.g. pytorch_model.bin.index.json is covered too).
    return false
}

/// The regular files (symlinks followed) at the top level of `directory` that `save` copies
/// unchanged: everything except weight files, the files ke writes itself, and hidden files; of
/// an OLMo-trainer directory also not its config.yaml (the trainer's settings, which the
/// config.json written in its place replaces). Sub-directories are not copied. Sorted by name.
///
/// - Throws: `CoreError` naming the directory when it cannot be read.
public func carriedOverFiles(of directory: String) throws -> [String] {
    var out: [String] = []
    let native = CheckpointFormat.detect(directory: directory) == .olmoTrainerFolder
    for name in try directoryEntries(directory).sorted() {
        if name.hasPrefix(".") || filesWrittenBySave.contains(name) || isWeightFile(name) { continue }
        if native && name == "config.yaml" { continue }
        var st = stat()
        guard stat(directory + "/" + name, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
        out.append(name)
    }
    return out
}
