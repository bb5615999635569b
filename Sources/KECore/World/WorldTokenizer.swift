// MARK: The world's tokenizer.json

extension World {
    /// A Hugging Face `tokenizer.json` for the world's vocabulary: a `WordLevel` model with the
    /// `Whitespace` pre-tokenizer and `[UNK]`/`[PAD]` as special added tokens, field for field
    /// what the `tokenizers` library writes (`Tokenizer.to_str()`), so `transformers` loads it.
    public func tokenizerJSON() -> JSONValue {
        func added(_ id: Int, _ content: String) -> JSONValue {
            .object([
                ("id", .int(id)), ("content", .string(content)),
                ("single_word", .bool(false)), ("lstrip", .bool(false)), ("rstrip", .bool(false)),
                ("normalized", .bool(false)), ("special", .bool(true)),
            ])
        }
        let vocab = JSONValue.object(vocabulary.enumerated().map { ($0.element, .int($0.offset)) })
        return .object([
            ("version", .string("1.0")),
            ("truncation", .null), ("padding", .null),
            ("added_tokens", .array([added(0, "[UNK]"), added(1, "[PAD]")])),
            ("normalizer", .null),
            ("pre_tokenizer", .object([("type", .string("Whitespace"))])),
            ("post_processor", .null), ("decoder", .null),
            ("model", .object([("type", .string("WordLevel")), ("vocab", vocab), ("unk_token", .string("[UNK]"))])),
        ])
    }
}
