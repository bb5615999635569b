import COniguruma

// MARK: Oniguruma regexes
//
// HF `tokenizers` compiles every Split / Replace pattern with the `onig` crate's `Regex::new`:
// Oniguruma, UTF-8, `ONIG_OPTION_NONE`, the default syntax (`ONIG_SYNTAX_ONIGURUMA`). Matches are
// found as the crate's `find_iter` finds them: each search starts where the previous match ended
// (the whole text stays the subject, so `^`, `\b` and look-behind see what lies before); an empty
// match moves the next search one character on, and an empty match right after a match is skipped.

/// A compiled Oniguruma regex with HF's options.
final class OnigPattern: @unchecked Sendable {
    // @unchecked: the compiled regex is never changed after `init`; Oniguruma searches keep their
    // state in the region and stack of each call, so concurrent searches are safe.
    private let regex: OnigRegex
    /// The pattern as written in tokenizer.json.
    let source: String
    /// Whether text gets `OnigUnicode16` stand-ins: not when the pattern itself spells out a
    /// scalar that has one (the literal could never match its stand-in).
    private let useStandIns: Bool

    /// Oniguruma's one-time set-up with the UTF-8 encoding, done before the first compile.
    private static let initialized: Bool = {
        var encodings: [OnigEncoding?] = [ke_onig_utf8()]
        return encodings.withUnsafeMutableBufferPointer { onig_initialize($0.baseAddress, 1) } == ONIG_NORMAL
    }()

    /// Compiles `source` with HF's meaning: POSIX `[:punct:]` rewritten when the library's
    /// differs from HF's (`hfPunct`), and text matched with Unicode 16 stand-ins. With
    /// `standIns: false` the library runs as it is (to probe it).
    /// - Throws: `OnigPattern.CompileError` with Oniguruma's message when the pattern is invalid.
    init(_ source: String, standIns: Bool = true) throws(CompileError) {
        guard OnigPattern.initialized else { throw CompileError(message: "Oniguruma could not be initialized") }
        var reg: OnigRegex?
        var info = OnigErrorInfo()
        let rewrite = standIns && !OnigPattern.libraryPunctHasSymbols
        let compiled = rewrite ? OnigPattern.hfPunct(source, ascii: OnigPattern.setsPosixASCII(source)) : source
        let bytes = Array(compiled.utf8)
        let code = bytes.withUnsafeBufferPointer { p -> Int32 in
            // An empty pattern still needs a valid start pointer.
            let base = p.baseAddress ?? UnsafePointer(bitPattern: 1)
            guard let base else { return ONIGERR_MEMORY }
            return onig_new(&reg, base, base + p.count, OnigOptionType(ONIG_OPTION_NONE), ke_onig_utf8(),
                            ke_onig_default_syntax(), &info)
        }
        guard code == ONIG_NORMAL, let reg else {
            if let reg { onig_free(reg) }
            throw CompileError(message: OnigPattern.message(code, &info))
        }
        regex = reg
        self.source = source
        useStandIns = standIns && !source.unicodeScalars.contains { OnigUnicode16.shared.standIns[$0.value] != nil }
    }

    /// Whether the library's `[[:punct:]]` covers symbols as HF's (Oniguruma 6.9.9 and later:
    /// P and S); 6.9.8 has punctuation only.
    static let libraryPunctHasSymbols: Bool = {
        guard let p = try? OnigPattern("[[:punct:]]", standIns: false) else { return true }
        var found = false
        p.forEachMatch(in: ["$"]) { _ in found = true }
        return found
    }()

    /// Whether an option group of `source` turns on `P` (POSIX brackets ASCII only), under which
    /// HF's `[:punct:]` is ASCII punctuation and symbols (the library's lacks $+<=>^`|~).
    static func setsPosixASCII(_ source: String) -> Bool {
        let s = Array(source.unicodeScalars)
        var i = 0
        while i + 2 < s.count {
            if s[i] == "\\" { i += 2; continue }
            if s[i] == "(" && s[i + 1] == "?" {
                var j = i + 2
                while j < s.count && s[j] != ":" && s[j] != ")" && s[j] != "-" {
                    if s[j] == "P" { return true }
                    guard s[j].properties.isAlphabetic else { break }
                    j += 1
                }
            }
            i += 1
        }
        return false
    }

    /// `source` with every POSIX bracket `[:punct:]` inside a character class spelled as HF's
    /// Oniguruma means it, `\p{P}\p{S}` (`[:^punct:]`: the nested class `[^\p{P}\p{S}]`); with
    /// `ascii` (option P), the 32 ASCII punctuation and symbol characters.
    static func hfPunct(_ source: String, ascii: Bool = false) -> String {
        let set = ascii ? #"\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E"# : #"\p{P}\p{S}"#
        let s = Array(source.unicodeScalars)
        var out = String.UnicodeScalarView()
        var depth = 0  // character-class nesting
        var i = 0
        func at(_ k: Int, _ lit: String) -> Bool {
            let l = Array(lit.unicodeScalars)
            return k + l.count <= s.count && Array(s[k..<(k + l.count)]) == l
        }
        while i < s.count {
            let c = s[i]
            if c == "\\" {  // an escape: copy it and the escaped scalar
                out.append(c)
                if i + 1 < s.count { out.append(s[i + 1]) }
                i += 2
                continue
            }
            if depth > 0 && at(i, "[:punct:]") {
                out.append(contentsOf: set.unicodeScalars); i += 9; continue
            }
            if depth > 0 && at(i, "[:^punct:]") {
                out.append(contentsOf: "[^\(set)]".unicodeScalars); i += 10; continue
            }
            if depth > 0 && at(i, "[:") {  // another POSIX bracket: copy it whole
                var j = i + 2
                while j + 1 < s.count && !(s[j] == ":" && s[j + 1] == "]") && s[j] != "[" { j += 1 }
                if j + 1 < s.count && s[j] == ":" && s[j + 1] == "]" {
                    out.append(contentsOf: s[i..<(j + 2)]); i = j + 2; continue
                }
            }
            out.append(c)
            if c == "[" {
                depth += 1
                // A "]" right after "[" or "[^" is a literal member.
                if i + 1 < s.count && s[i + 1] == "^" { out.append(s[i + 1]); i += 1 }
                if i + 1 < s.count && s[i + 1] == "]" { out.append(s[i + 1]); i += 1 }
            } else if c == "]" && depth > 0 {
                depth -= 1
            }
            i += 1
        }
        return String(out)
    }

    deinit { onig_free(regex) }

    /// A pattern Oniguruma rejected.
    struct CompileError: Error {
        let message: String
    }

    /// Oniguruma's text for error `code`.
    private static func message(_ code: Int32, _ info: UnsafeMutablePointer<OnigErrorInfo>?) -> String {
        // ONIG_MAX_ERROR_MESSAGE_LEN is 90; the buffer leaves room for the terminating zero.
        var buf = [UInt8](repeating: 0, count: 256)
        let n = buf.withUnsafeMutableBufferPointer { ke_onig_error_string($0.baseAddress, code, info) }
        return String(decoding: buf.prefix(max(0, min(Int(n), buf.count))), as: UTF8.self)
    }

    /// Calls `body` with each match in `s` (scalar offsets), as HF's `find_iter`. Returns false when
    /// Oniguruma stopped with an error (its retry limit on a pathological pattern); the matches
    /// found until then have been reported.
    @discardableResult
    func forEachMatch(in s: Scalars, _ body: (Range<Int>) -> Void) -> Bool {
        // UTF-8 text, and the scalar index of each byte offset that starts a scalar.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.count + 8)
        var scalarAt = [Int32](repeating: -1, count: 0)
        scalarAt.reserveCapacity(s.count * 2 + 1)
        let table: OnigUnicode16? = useStandIns && s.contains(where: { $0.value >= 0x300 }) ? OnigUnicode16.shared : nil
        let first = table?.first ?? UInt32.max
        for (k, u0) in s.enumerated() {
            let u = u0.value >= first ? (table?.standIns[u0.value] ?? u0) : u0
            let before = bytes.count
            forEachUTF8Byte(u) { bytes.append($0) }
            scalarAt.append(Int32(k))
            for _ in (before + 1)..<bytes.count { scalarAt.append(-1) }
        }
        scalarAt.append(Int32(s.count))
        guard let region = onig_region_new() else { return false }
        defer { onig_region_free(region, 1) }
        return bytes.withUnsafeBufferPointer { p -> Bool in
            // Oniguruma needs a valid pointer even for empty text.
            var empty: UInt8 = 0
            return withUnsafePointer(to: &empty) { e -> Bool in
                let base = p.baseAddress ?? e
                let end = base + p.count
                var lastEnd = 0
                var skipNextEmpty = false
                while lastEnd <= p.count {
                    onig_region_clear(region)
                    let r = onig_search(regex, base, end, base + lastEnd, end, region, OnigOptionType(ONIG_OPTION_NONE))
                    if r == ONIG_MISMATCH { return true }
                    if r < 0 { return false }
                    guard region.pointee.num_regs > 0, let b = region.pointee.beg, let en = region.pointee.end else { return false }
                    let ms = Int(b[0]), me = Int(en[0])
                    guard ms >= 0, me >= ms, me <= p.count else { return false }
                    lastEnd = me
                    if ms == me {
                        // Step over one character (one byte at the end, which ends the loop).
                        var step = 1
                        while lastEnd + step < p.count && scalarAt[lastEnd + step] < 0 { step += 1 }
                        lastEnd += step
                        if skipNextEmpty { skipNextEmpty = false; continue }
                    } else {
                        skipNextEmpty = true
                    }
                    let lo = scalarAt[ms], hi = scalarAt[me]
                    // Matches of a UTF-8 pattern on valid UTF-8 start and end on scalar boundaries.
                    guard lo >= 0, hi >= 0 else { return false }
                    body(Int(lo)..<Int(hi))
                }
                return true
            }
        }
    }
}
