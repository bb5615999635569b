// MARK: Character classes and the GPT-2 byte map
//
// The classes used by Hugging Face pre-tokenizers, over Unicode scalars:
// - `\p{L}`, `\p{N}`: general categories L* and N* (Oniguruma, as HF's Split/ByteLevel regexes).
// - `\s`: the White_Space property (Oniguruma's Unicode `\s` and Rust's `char::is_whitespace`).
// - Rust regex `\w` (Alphabetic, M, Nd, Pc, Join_Control): the `Whitespace` pre-tokenizer and
//   the added-token `single_word` test.

/// An array of Unicode scalars: the text unit every tokenizer stage works on.
typealias Scalars = [Unicode.Scalar]

/// Character-class predicates with an ASCII fast path.
enum CharClass {
    private static let letter: UInt8 = 1, number: UInt8 = 2, space: UInt8 = 4, word: UInt8 = 8

    /// Flags of the 128 ASCII scalars.
    private static let ascii: [UInt8] = (0..<128).map { v -> UInt8 in
        let u = Unicode.Scalar(UInt8(v))
        var f: UInt8 = 0
        if (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") { f |= letter | word }
        if u >= "0" && u <= "9" { f |= number | word }
        if u == "_" { f |= word }
        if (v >= 9 && v <= 13) || v == 32 { f |= space }
        return f
    }

    /// `\p{L}`.
    @inline(__always) static func isLetter(_ u: Unicode.Scalar) -> Bool {
        if u.value < 128 { return ascii[Int(u.value)] & letter != 0 }
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// `\p{N}`.
    @inline(__always) static func isNumber(_ u: Unicode.Scalar) -> Bool {
        if u.value < 128 { return ascii[Int(u.value)] & number != 0 }
        switch u.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// `\s`: the Unicode White_Space property.
    @inline(__always) static func isSpace(_ u: Unicode.Scalar) -> Bool {
        if u.value < 128 { return ascii[Int(u.value)] & space != 0 }
        return u.properties.isWhitespace
    }

    /// Rust regex `\w`.
    @inline(__always) static func isWord(_ u: Unicode.Scalar) -> Bool {
        if u.value < 128 { return ascii[Int(u.value)] & word != 0 }
        let p = u.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}

// MARK: Byte-level map

/// GPT-2's `bytes_to_unicode`: every byte maps to a printable scalar.
enum ByteLevelMap {
    /// Scalar of each byte value.
    static let byteToScalar: [Unicode.Scalar] = {
        var bs: [Int] = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b)
            cs.append(256 + n)
            n += 1
        }
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        for (b, c) in zip(bs, cs) { table[b] = Unicode.Scalar(UInt32(c)) ?? " " }
        return table
    }()

    /// Byte of each mapped scalar (the inverse map).
    static let scalarToByte: [UInt32: UInt8] = {
        var d: [UInt32: UInt8] = [:]
        for (b, u) in byteToScalar.enumerated() { d[u.value] = UInt8(b) }
        return d
    }()

    /// Maps every UTF-8 byte of `s` to its scalar.
    static func map(_ s: Scalars) -> Scalars {
        var out = Scalars()
        out.reserveCapacity(s.count + 4)
        for u in s { forEachUTF8Byte(u) { out.append(byteToScalar[Int($0)]) } }
        return out
    }
}

/// Calls `body` with each UTF-8 byte of `u`.
@inline(__always) func forEachUTF8Byte(_ u: Unicode.Scalar, _ body: (UInt8) -> Void) {
    let v = u.value
    if v < 0x80 {
        body(UInt8(v))
    } else if v < 0x800 {
        body(UInt8(0xC0 | (v >> 6))); body(UInt8(0x80 | (v & 0x3F)))
    } else if v < 0x10000 {
        body(UInt8(0xE0 | (v >> 12))); body(UInt8(0x80 | ((v >> 6) & 0x3F))); body(UInt8(0x80 | (v & 0x3F)))
    } else {
        body(UInt8(0xF0 | (v >> 18))); body(UInt8(0x80 | ((v >> 12) & 0x3F)))
        body(UInt8(0x80 | ((v >> 6) & 0x3F))); body(UInt8(0x80 | (v & 0x3F)))
    }
}

extension String {
    /// A string made of `scalars` (encoded straight to UTF-8).
    init(scalars: some Collection<Unicode.Scalar>) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(scalars.count * 2)
        for u in scalars { forEachUTF8Byte(u) { bytes.append($0) } }
        self = String(decoding: bytes, as: UTF8.self)
    }
}

// MARK: Exact string keys

/// A string key compared by its exact scalars. Swift's `String` equality treats canonically
/// equivalent text as equal ("é" == "e\u{301}"), which HF vocabularies do not.
struct TokenKey: Hashable {
    let string: String
    init(_ s: String) { string = s }

    static func == (a: TokenKey, b: TokenKey) -> Bool {
        var x = a.string, y = b.string
        return x.withUTF8 { px in
            y.withUTF8 { py in
                px.count == py.count && px.elementsEqual(py)
            }
        }
    }

    func hash(into h: inout Hasher) {
        var s = string
        s.withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
