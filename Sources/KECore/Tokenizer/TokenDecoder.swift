// MARK: Decoders
//
// The `decoder` of tokenizer.json: turns token strings back into text. Each decoder maps the
// list of token strings to a new list (HF `decode_chain`); the results are concatenated.

/// A decoder from tokenizer.json.
indirect enum TokenDecoder {
    /// GPT-2 byte map inverted; a token with a scalar outside the map keeps its own UTF-8.
    case byteLevel
    case replace(TextPattern, Scalars)
    /// Runs of `<0xNN>` tokens become their UTF-8 text (one U+FFFD per byte if invalid).
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    /// `▁` back to spaces; the first token loses its prefix unless `prepend_scheme` is never.
    case metaspace(replacement: Unicode.Scalar, dropFirst: Bool)
    /// The end-of-word suffix becomes a space, except on the last token.
    case bpe(suffix: Scalars)
    case sequence([TokenDecoder])

    /// Reads a `decoder` object; nil for JSON null.
    static func parse(_ j: JSONValue, file: String?) throws -> TokenDecoder? {
        if j.isNull { return nil }
        guard let type = j["type"]?.stringValue else {
            throw CoreError("tokenizer decoder has no \"type\"", file: file)
        }
        switch type {
        case "ByteLevel": return .byteLevel
        case "Replace":
            let pattern = try TextPattern.parse(j["pattern"], what: "Replace decoder", file: file)
            guard let content = j["content"]?.stringValue else {
                throw CoreError("tokenizer Replace decoder has no \"content\" string", file: file)
            }
            return .replace(pattern, Array(content.unicodeScalars))
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            guard let c = j["content"]?.stringValue, c.unicodeScalars.count == 1, let u = c.unicodeScalars.first else {
                throw CoreError("tokenizer Strip decoder needs a one-character \"content\"", file: file)
            }
            let start = j["start"]?.intValue ?? 0, stop = j["stop"]?.intValue ?? 0
            return .strip(content: u, start: max(0, start), stop: max(0, stop))
        case "Metaspace":
            let r = j["replacement"]?.stringValue ?? "\u{2581}"
            guard r.unicodeScalars.count == 1, let u = r.unicodeScalars.first else {
                throw CoreError("tokenizer Metaspace decoder needs a one-character \"replacement\"", file: file)
            }
            let scheme = j["prepend_scheme"]?.stringValue ?? ((j["add_prefix_space"]?.boolValue ?? true) ? "always" : "never")
            return .metaspace(replacement: u, dropFirst: scheme != "never")
        case "BPEDecoder":
            return .bpe(suffix: Array((j["suffix"]?.stringValue ?? "</w>").unicodeScalars))
        case "Sequence":
            guard let items = j["decoders"]?.arrayValue else {
                throw CoreError("tokenizer Sequence decoder has no \"decoders\" list", file: file)
            }
            return .sequence(try items.compactMap { try parse($0, file: file) })
        default:
            throw CoreError("unsupported tokenizer decoder \"\(type)\"", file: file)
        }
    }

    /// HF `decode_chain`.
    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            return [TokenDecoder.byteLevelText(tokens)]
        case .replace(let pattern, let content):
            let first: Unicode.Scalar? = { if case .literal(let p) = pattern { return p.first }; return nil }()
            return tokens.map { t in
                if let first, !t.unicodeScalars.contains(first) { return t }  // nothing to replace
                let s = Array(t.unicodeScalars)
                var out = Scalars()
                for (r, isMatch) in pattern.matches(in: s) {
                    if isMatch { out.append(contentsOf: content) } else { out.append(contentsOf: s[r]) }
                }
                return String(scalars: out)
            }
        case .byteFallback:
            return TokenDecoder.byteFallback(tokens)
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { t in
                let s = Array(t.unicodeScalars)
                var lo = 0
                while lo < s.count && lo < start && s[lo] == content { lo += 1 }
                var hi = s.count
                while hi > lo && s.count - hi < stop && s[hi - 1] == content { hi -= 1 }
                return String(scalars: s[lo..<hi])
            }
        case .metaspace(let replacement, let dropFirst):
            return tokens.enumerated().map { i, t in
                var out = String.UnicodeScalarView()
                for u in t.unicodeScalars {
                    if u == replacement {
                        if !(i == 0 && dropFirst) { out.append(" ") }
                    } else {
                        out.append(u)
                    }
                }
                return String(out)
            }
        case .bpe(let suffix):
            let pattern = TextPattern.literal(suffix)
            return tokens.enumerated().map { i, t in
                let s = Array(t.unicodeScalars)
                var out = Scalars()
                for (r, isMatch) in pattern.matches(in: s) {
                    if isMatch { if i != tokens.count - 1 { out.append(" ") } } else { out.append(contentsOf: s[r]) }
                }
                return String(scalars: out)
            }
        case .sequence(let items):
            var cur = tokens
            for d in items { cur = d.decodeChain(cur) }
            return cur
        }
    }

    /// ByteLevel: every token's scalars mapped back to bytes (a token with a scalar outside the
    /// byte map keeps its UTF-8), decoded as one UTF-8 text.
    static func byteLevelText(_ tokens: [String]) -> String {
        var bytes: [UInt8] = []
        for t in tokens {
            let start = bytes.count
            var ok = true
            for u in t.unicodeScalars {
                guard let b = ByteLevelMap.scalarToByte[u.value] else { ok = false; break }
                bytes.append(b)
            }
            if !ok { bytes.removeSubrange(start...); bytes.append(contentsOf: t.utf8) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// ByteFallback: runs of `<0xNN>` tokens become their UTF-8 text, or one U+FFFD per byte
    /// when the run is not valid UTF-8; other tokens pass through.
    static func byteFallback(_ tokens: [String]) -> [String] {
        var out: [String] = []
        var pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            if let s = String(validating: pending, as: UTF8.self) {
                out.append(s)
            } else {
                out.append(contentsOf: Array(repeating: "\u{FFFD}", count: pending.count))
            }
            pending.removeAll()
        }
        for t in tokens {
            if let b = TokenDecoder.fallbackByte(t) { pending.append(b) } else { flush(); out.append(t) }
        }
        flush()
        return out
    }

    /// The byte of a `<0xNN>` token.
    static func fallbackByte(_ t: String) -> UInt8? {
        guard t.utf8.count == 6 else { return nil }
        let u = Array(t.utf8)
        guard u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"),
              u[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }
}
