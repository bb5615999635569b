// MARK: The SentencePiece tokenizer inside a GGUF file (`tokenizer.ggml.model` "llama")
//
// Split from GGUFTokenizer.swift, which holds what the byte-level and SentencePiece builders
// share (token strings, types, special tokens) and the byte-level builder.

// MARK: SentencePiece (`llama`)
//
// transformers hands the vocabulary and the merges (the file's, else derived from the scores) to
// a tokenizer class chosen by `general.architecture` (`select_tokenizer_builder`): BPE with byte
// fallback (`<0xNN>` tokens for a character outside the vocabulary) and fused unknowns. The added
// tokens and post-processor follow `ggufSpecialTokens`, with bos added unless the file says
// otherwise. `tokenizer.ggml.add_space_prefix` is read but not used by transformers:
// LlamaTokenizer always prepends `▁` to the text, so ke does too.

/// How transformers builds a SentencePiece vocabulary, by architecture.
enum GGUFSentencePieceFlavour {
    /// LlamaTokenizer: Metaspace pre-tokenizer (prepend `▁` to the text's first piece, no
    /// split), decoder Replace `▁`, ByteFallback, Fuse, Strip one leading space.
    case llama
    /// Phi-3: the prefix comes from a normalizer (Prepend `▁`, Replace ` ` by `▁`, on every piece
    /// between added tokens) and there is no pre-tokenizer.
    case phi3
    /// GemmaTokenizer: tokens of spaces respelled with `▁`, merges derived from file order, Replace
    /// normalizer, Split on ` ` (never matches after it), no Strip decoder, `<unk>` as BPE unknown.
    case gemma

    /// The flavour of GGUF architecture `architecture`: a loadable family's entry says
    /// (`GGUFArchitecture.tokenizerFlavour`); for tokenizer-only architectures, as transformers
    /// chooses (gemma2 and gemma3 as Gemma, phi3 as Phi-3); else LlamaTokenizer's.
    init(architecture: String) {
        if let entry = ggufArchitectures.first(where: { $0.gguf == architecture }) {
            self = entry.tokenizerFlavour
            return
        }
        switch architecture {
        case "gemma2", "gemma3": self = .gemma
        case "phi3": self = .phi3
        default: self = .llama
        }
    }

    /// The tokenizer class's default special tokens, in the order transformers adds them
    /// (`SPECIAL_TOKENS_ATTRIBUTES`: bos, eos, unk, sep, pad, cls, mask).
    var defaultSpecials: [String] {
        switch self {
        case .llama, .phi3: return ["<s>", "</s>", "<unk>"]
        case .gemma: return ["<bos>", "<eos>", "<unk>", "<pad>", "<mask>"]
        }
    }
}

/// True for a scalar Python's `str.strip()` removes (`Py_UNICODE_ISSPACE`: White_Space, plus the
/// separators U+001C…U+001F).
private func isPythonSpace(_ u: Unicode.Scalar) -> Bool {
    u.properties.isWhitespace || (0x1C...0x1F).contains(u.value)
}

/// transformers' `generate_merges`: every split of every token into two tokens of the vocabulary
/// (a token's splits ordered by the ids of their halves), then all of them sorted by the token's
/// score, the left half's length and the right half's length (scalars), each descending, ties
/// kept in order. `order` lists each distinct token once (first occurrence), `score` its score.
func ggufDerivedMerges(order: [String], ids: [TokenKey: Int], score: [TokenKey: Double]) -> [JSONValue] {
    struct Merge { var left: String; var right: String; var score: Double; var leftLen: Int; var rightLen: Int }
    // Only halves of a length some token has can be tokens: checking that first keeps one very
    // long token (a hostile file) from costing the square of its length.
    let lengths = Set(order.map { $0.unicodeScalars.count })
    var all: [Merge] = []
    for t in order {
        let u = Array(t.unicodeScalars)
        guard u.count > 1, let s = score[TokenKey(t)] else { continue }
        var local: [(Merge, Int, Int)] = []
        for k in 1..<u.count where lengths.contains(k) && lengths.contains(u.count - k) {
            let l = String(scalars: u[..<k]), r = String(scalars: u[k...])
            if let il = ids[TokenKey(l)], let ir = ids[TokenKey(r)] {
                local.append((Merge(left: l, right: r, score: s, leftLen: k, rightLen: u.count - k), il, ir))
            }
        }
        local.sort { ($0.1, $0.2) < ($1.1, $1.2) }
        all.append(contentsOf: local.map { $0.0 })
    }
    // Python's sort with reverse=True is stable: equal keys keep their order, hence the position.
    let sorted = all.enumerated().sorted { a, b in
        let x = a.element, y = b.element
        if x.score != y.score { return x.score > y.score }
        if x.leftLen != y.leftLen { return x.leftLen > y.leftLen }
        if x.rightLen != y.rightLen { return x.rightLen > y.rightLen }
        return a.offset < b.offset
    }
    return sorted.map { .array([.string($0.element.left), .string($0.element.right)]) }
}

/// The tokenizer.json of a `llama` (SentencePiece) GGUF tokenizer, as transformers builds it.
func ggufSentencePieceJSON(_ f: GGUFFile) throws -> JSONValue {
    let flavour = GGUFSentencePieceFlavour(architecture: f.value("general.architecture")?.stringValue ?? "")
    let raw = try ggufTokenStrings(f)
    guard !raw.isEmpty else { throw CoreError("tokenizer.ggml.tokens is empty", file: f.path) }
    let n = raw.count

    // Byte tokens must be spelled <0x00>…<0xFF>: llama.cpp reads the byte from the spelling and
    // byte fallback finds them by it.
    let types = try ggufTokenTypes(f, count: n)
    for i in 0..<n where types[i] == 6 && TokenDecoder.fallbackByte(raw[i]) == nil {
        throw CoreError("tokenizer.ggml.tokens[\(i)] \(TextPattern.jsonQuoted(raw[i])) is a byte token (type 6) but not <0x00>…<0xFF>", file: f.path)
    }

    // GemmaTokenizer looks a token of spaces up as `▁`s, so such tokens are respelled.
    let tokens = flavour != .gemma ? raw : raw.map { t in
        t.unicodeScalars.contains(" ") && t.unicodeScalars.allSatisfy(isPythonSpace)
            ? String(repeating: "\u{2581}", count: t.unicodeScalars.count) : t
    }
    let vocab = GGUFVocabulary(tokens)

    // Merges: the file's, else derived from the scores (Gemma: from the file order).
    let merges: [JSONValue]
    if let m = try ggufMerges(f) {
        merges = m
    } else {
        var score: [TokenKey: Double] = [:]
        if flavour == .gemma {
            for (i, t) in tokens.enumerated() { score[TokenKey(t)] = -Double(i) }
        } else {
            score = try ggufScores(f, tokens: tokens)
        }
        merges = ggufDerivedMerges(order: vocab.order, ids: vocab.ids, score: score)
    }

    let (added, post) = try ggufSpecialTokens(f, raw: raw, types: types, vocab: vocab, defaults: flavour.defaultSpecials,
                                              control: { _ in true }, addBOSDefault: true)
    if let v = f.value("tokenizer.ggml.add_space_prefix"), v.boolValue == nil {
        throw CoreError("tokenizer.ggml.add_space_prefix is not a bool", file: f.path)
    }

    let (normalizer, preTokenizer) = flavour.normalizerAndPreTokenizer

    return .object([
        ("version", .string("1.0")),
        ("truncation", .null), ("padding", .null),
        ("added_tokens", added),
        ("normalizer", normalizer),
        ("pre_tokenizer", ggufSplitPreTokenizer(f) ?? preTokenizer),
        ("post_processor", post),
        ("decoder", .object([("type", .string("Sequence")), ("decoders", .array(flavour.decoders))])),
        ("model", .object([
            ("type", .string("BPE")), ("dropout", .null),
            ("unk_token", flavour == .gemma ? .string("<unk>") : .null),
            ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null),
            ("fuse_unk", .bool(true)), ("byte_fallback", .bool(true)), ("ignore_merges", .bool(false)),
            ("vocab", vocab.json), ("merges", .array(merges)),
        ])),
    ])
}

extension GGUFSentencePieceFlavour {
    /// The decoders: Replace `▁` by a space, ByteFallback, Fuse, and (but for Gemma) Strip one
    /// leading space.
    var decoders: [JSONValue] {
        let meta = JSONValue.object([("String", .string("\u{2581}"))])
        var decoders: [JSONValue] = [
            .object([("type", .string("Replace")), ("pattern", meta), ("content", .string(" "))]),
            .object([("type", .string("ByteFallback"))]),
            .object([("type", .string("Fuse"))]),
        ]
        if self != .gemma {
            decoders.append(.object([("type", .string("Strip")), ("content", .string(" ")), ("start", .int(1)), ("stop", .int(0))]))
        }
        return decoders
    }

    /// How the `▁` prefix and spaces are produced: by the pre-tokenizer (Llama), a normalizer
    /// (Phi-3), or a normalizer and a Split on spaces (Gemma). A file's own split pattern
    /// (`ggufSplitPreTokenizer`) replaces the pre-tokenizer.
    var normalizerAndPreTokenizer: (JSONValue, JSONValue) {
        let space = JSONValue.object([("String", .string(" "))])
        let replaceSpaces = JSONValue.object([("type", .string("Replace")), ("pattern", space), ("content", .string("\u{2581}"))])
        switch self {
        case .llama:
            return (.null, .object([("type", .string("Metaspace")), ("replacement", .string("\u{2581}")),
                                    ("prepend_scheme", .string("first")), ("split", .bool(false))]))
        case .phi3:
            return (.object([("type", .string("Sequence")), ("normalizers", .array([
                .object([("type", .string("Prepend")), ("prepend", .string("\u{2581}"))]), replaceSpaces,
            ]))]), .null)
        case .gemma:
            return (replaceSpaces, .object([("type", .string("Split")), ("pattern", space),
                                            ("behavior", .string("MergedWithPrevious")), ("invert", .bool(false))]))
        }
    }
}
