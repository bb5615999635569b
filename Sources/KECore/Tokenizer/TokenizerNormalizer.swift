@_spi(_Unicode) import Swift

// MARK: Normalizers
//
// The `normalizer` of tokenizer.json. HF applies it to each piece of text left between
// non-normalized added tokens.

/// A text normalizer from tokenizer.json.
indirect enum TokenNormalizer {
    case nfc
    case nfd
    case lowercase
    /// Removes leading / trailing White_Space.
    case strip(left: Bool, right: Bool)
    /// Prepends the text to non-empty input.
    case prepend(Scalars)
    /// Replaces every match of the pattern by the content.
    case replace(TextPattern, Scalars)
    case sequence([TokenNormalizer])

    /// Reads a `normalizer` object; nil for JSON null.
    static func parse(_ j: JSONValue, file: String?) throws -> TokenNormalizer? {
        if j.isNull { return nil }
        guard let type = j["type"]?.stringValue else {
            throw CoreError("tokenizer normalizer has no \"type\"", file: file)
        }
        switch type {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "Lowercase": return .lowercase
        case "Strip":
            return .strip(left: j["strip_left"]?.boolValue ?? true, right: j["strip_right"]?.boolValue ?? true)
        case "Prepend":
            guard let p = j["prepend"]?.stringValue else {
                throw CoreError("tokenizer Prepend normalizer has no \"prepend\" string", file: file)
            }
            return .prepend(Array(p.unicodeScalars))
        case "Replace":
            let pattern = try TextPattern.parse(j["pattern"], what: "Replace normalizer", file: file)
            guard let content = j["content"]?.stringValue else {
                throw CoreError("tokenizer Replace normalizer has no \"content\" string", file: file)
            }
            return .replace(pattern, Array(content.unicodeScalars))
        case "Sequence":
            guard let items = j["normalizers"]?.arrayValue else {
                throw CoreError("tokenizer Sequence normalizer has no \"normalizers\" list", file: file)
            }
            return .sequence(try items.compactMap { try parse($0, file: file) })
        default:
            throw CoreError("unsupported tokenizer normalizer \"\(type)\"", file: file)
        }
    }

    /// The normalized form of `s`.
    func apply(_ s: Scalars) -> Scalars {
        switch self {
        case .nfc:
            if s.allSatisfy({ $0.value < 0x300 }) { return s }  // below U+0300 NFC is the identity
            let bytes = String(scalars: s)._nfcCodeUnits
            return Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
        case .nfd:
            if s.allSatisfy({ $0.value < 0xC0 }) { return s }
            return Array(String(scalars: s)._nfd)
        case .lowercase:
            var out = Scalars()
            out.reserveCapacity(s.count)
            for u in s {
                if u.value < 128 {
                    out.append(u >= "A" && u <= "Z" ? Unicode.Scalar(u.value + 32) ?? u : u)
                } else {
                    out.append(contentsOf: u.properties.lowercaseMapping.unicodeScalars)
                }
            }
            return out
        case .strip(let left, let right):
            var lo = 0, hi = s.count
            if left { while lo < hi && CharClass.isSpace(s[lo]) { lo += 1 } }
            if right { while hi > lo && CharClass.isSpace(s[hi - 1]) { hi -= 1 } }
            return Array(s[lo..<hi])
        case .prepend(let p):
            return s.isEmpty ? s : p + s
        case .replace(let pattern, let content):
            var out = Scalars()
            for (r, isMatch) in pattern.matches(in: s) {
                if isMatch { out.append(contentsOf: content) } else { out.append(contentsOf: s[r]) }
            }
            return out
        case .sequence(let items):
            var cur = s
            for n in items { cur = n.apply(cur) }
            return cur
        }
    }
}
