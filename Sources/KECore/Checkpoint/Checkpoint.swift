// MARK: Loading and saving Hugging Face model directories (placeholder; replaced by the checkpoint work)

extension Model {
    /// Loads a Hugging Face model directory: config.json, model.safetensors (or a sharded
    /// index), tokenizer.json.
    public static func load(directory: String) throws -> Model {
        throw CoreError("loading not implemented yet", file: directory)
    }

    /// Writes a Hugging Face directory that transformers loads unchanged. Refuses a non-empty
    /// existing directory unless `force`; writes to a temporary sibling and renames.
    public func save(to directory: String, force: Bool = false) throws {
        throw CoreError("saving not implemented yet", file: directory)
    }
}
