// MARK: Character classes and the GPT-2 byte map
//
// The classes used by Hugging Face pre-tokenizers, over Unicode scalars:
// - `\p{L}`, `\p{N}`: general categories L* and N* (Oniguruma, as HF's Split/ByteLevel regexes).
// - `\s`: the White_Space property (Oniguruma's Unicode `\s` and Rust's `char::is_whitespace`).
// - Rust regex `\w` (Alphabetic, M, Nd, Pc, Join_Control): the `Whitespace` pre-tokenizer and
//   the added-token `single_word` test.
//
// Unicode version. HF `tokenizers` 0.23 classifies with Unicode 16.0 tables (its bundled
// Oniguruma 6.9.10 and the `regex` crate), except Rust's `char::is_numeric`, whose std tables are
// Unicode 17.0 like Swift's. So every class here but `isRustNumeric` is Swift's property
// restricted to scalars assigned in Unicode 16.0 or before: a scalar assigned later is
// unassigned (`Cn`) for HF, hence no letter, number, space or word.
// Tests/KECoreTests/TokenizerUnicodeTests checks every code point against classes recorded from HF.

/// An array of Unicode scalars: the text unit every tokenizer stage works on.
typealias Scalars = [Unicode.Scalar]

/// Character-class predicates (Unicode 16.0, as HF) read from one flag table.
enum CharClass {
    private static let letter: UInt8 = 1, number: UInt8 = 2, space: UInt8 = 4, word: UInt8 = 8
    private static let rustNumber: UInt8 = 16

    /// The Unicode version of HF `tokenizers`' tables (see the file comment).
    static let unicodeVersion = (major: 16, minor: 0)

    /// Scalars below this bound are classified from `table`; above it (planes 4 to 16) Unicode 16
    /// assigns only tags, variation selectors and private use, so the few lookups there are computed.
    private static let tableBound: UInt32 = 0x40000

    /// Flags of every scalar below `tableBound` (one byte each, 256 KiB, built once on first use).
    private static let table: [UInt8] = (0..<tableBound).map { v in
        guard let u = Unicode.Scalar(v) else { return 0 }  // surrogates
        return flags(u)
    }

    /// True when `u` was assigned in Unicode 16.0 or before (HF's tables know it).
    @inline(__always) static func isAssignedInHF(_ u: Unicode.Scalar) -> Bool {
        guard let age = u.properties.age else { return false }
        return age.major < unicodeVersion.major
            || (age.major == unicodeVersion.major && age.minor <= unicodeVersion.minor)
    }

    /// The class flags of `u` from Swift's properties, restricted to Unicode 16.0.
    private static func flags(_ u: Unicode.Scalar) -> UInt8 {
        let p = u.properties
        var f: UInt8 = 0
        switch p.generalCategory {  // Rust's std (unlike its regex crate) has Unicode 17 tables
        case .decimalNumber, .letterNumber, .otherNumber: f |= rustNumber
        default: break
        }
        if u.value >= 0x80 && !isAssignedInHF(u) { return f }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: f |= letter
        case .decimalNumber, .letterNumber, .otherNumber: f |= number
        default: break
        }
        if p.isWhitespace { f |= space }
        if p.isAlphabetic || p.isJoinControl { f |= word }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: f |= word
        default: break
        }
        return f
    }

    @inline(__always) private static func has(_ u: Unicode.Scalar, _ f: UInt8) -> Bool {
        let v = u.value
        if v < tableBound { return table[Int(v)] & f != 0 }
        return flags(u) & f != 0
    }

    /// `\p{L}`.
    @inline(__always) static func isLetter(_ u: Unicode.Scalar) -> Bool { has(u, letter) }

    /// `\p{N}`.
    @inline(__always) static func isNumber(_ u: Unicode.Scalar) -> Bool { has(u, number) }

    /// Rust's `char::is_numeric` (the `Digits` pre-tokenizer): N*, from Rust's Unicode 17 tables.
    @inline(__always) static func isRustNumeric(_ u: Unicode.Scalar) -> Bool { has(u, rustNumber) }

    /// `\s`: the Unicode White_Space property.
    @inline(__always) static func isSpace(_ u: Unicode.Scalar) -> Bool { has(u, space) }

    /// Rust regex `\w`.
    @inline(__always) static func isWord(_ u: Unicode.Scalar) -> Bool { has(u, word) }
}

// MARK: Oniguruma at Unicode 16

/// Debian's Oniguruma (6.9.8) has older Unicode tables (14.0) than HF's bundled one (6.9.10,
/// Unicode 16.0). Text handed to Oniguruma has each scalar assigned after the library's version
/// and in 16.0 or before replaced by a stand-in the library knows, with the same general category
/// and the same Alphabetic, Uppercase, Lowercase and White_Space values, so every category and
/// POSIX class (`\p{L}`, `\w`, `[[:punct:]]`, `\s`, …) sees what HF's Oniguruma sees (checked for
/// \p{L}, \p{N} and \s on every code point). Not emulated: the script, block and emoji properties
/// (`\p{Han}`, `\p{Emoji}`) of those scalars, and the few older scalars whose Alphabetic or
/// Lowercase value changed after the library's version (U+0F82, U+AB69). The library's version is
/// probed, not assumed: with a Unicode 16 Oniguruma there are no stand-ins.
struct OnigUnicode16: Sendable {
    /// The stand-in of every scalar the library does not know and HF's tables do.
    let standIns: [UInt32: Unicode.Scalar]
    /// The smallest scalar with a stand-in: text below it needs none.
    let first: UInt32
    /// The library's Unicode version as probed (for messages and tests).
    let libraryVersion: (major: Int, minor: Int)

    static let shared = OnigUnicode16()

    private init() {
        // A letter first assigned in each version: the newest one Oniguruma calls \p{L} is its version.
        let probes: [(Int, Int, UInt32)] = [(16, 0, 0x10D50), (15, 1, 0x2EBF0), (15, 0, 0x11F04),
                                            (14, 0, 0x1E290), (13, 0, 0x10E80)]
        var lib = (major: 12, minor: 1)
        if let letter = try? OnigPattern(#"\p{L}"#, standIns: false) {
            for (major, minor, v) in probes {
                guard let u = Unicode.Scalar(v) else { continue }
                var found = false
                letter.forEachMatch(in: [u]) { _ in found = true }
                if found { lib = (major, minor); break }
            }
        }
        libraryVersion = lib
        func newer(_ a: Unicode.Version, than b: (major: Int, minor: Int)) -> Bool {
            a.major > b.major || (a.major == b.major && a.minor > b.minor)
        }
        struct Key: Hashable { var category: Unicode.GeneralCategory; var alpha, upper, lower, space: Bool }
        func key(_ u: Unicode.Scalar) -> Key {
            let p = u.properties
            return Key(category: p.generalCategory, alpha: p.isAlphabetic, upper: p.isUppercase,
                       lower: p.isLowercase, space: p.isWhitespace)
        }
        var new: [(UInt32, Key)] = []
        var firstOfKey: [Key: Unicode.Scalar] = [:]
        // Stand-ins are taken from the supplementary planes first: far from ASCII, so a stand-in
        // rarely has a case pair with a character a pattern spells out. Every scalar HF knows is
        // below U+40000 apart from tags, variation selectors and private use, which no version
        // since 3.2 changed.
        for v in Array(0x10000..<0x40000) + Array(0..<0x10000) {
            guard let u = Unicode.Scalar(UInt32(v)), let age = u.properties.age else { continue }
            if newer(age, than: lib) {
                if !newer(age, than: CharClass.unicodeVersion) { new.append((UInt32(v), key(u))) }
            } else {
                let k = key(u)
                if firstOfKey[k] == nil { firstOfKey[k] = u }
            }
        }
        var out: [UInt32: Unicode.Scalar] = [:]
        for (v, k) in new { if let r = firstOfKey[k] { out[v] = r } }
        standIns = out
        first = out.keys.min() ?? UInt32.max
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
