// MARK: JSON values
//
// A small, strict JSON reader and writer. It keeps object key order (so a rewritten
// config.json reads like the original), keeps integers distinct from floats, limits nesting
// depth, and reports the byte offset of any syntax error. Used for config.json,
// tokenizer.json, safetensors headers, corpora and fact files.

/// A parsed JSON value.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// Key–value pairs in document order.
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    // MARK: Accessors

    /// The member `key` of an object (the last one if repeated), else nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.last(where: { $0.0 == key })?.1
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var objectValue: [(String, JSONValue)]? { if case .object(let o) = self { return o }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }

    /// An integer, also from a float with no fractional part (`1.0`).
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9e15: return Int(d)
        default: return nil
        }
    }

    /// Any number as a Double.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// Object as a dictionary (last duplicate wins).
    public var dictionary: [String: JSONValue]? {
        guard case .object(let pairs) = self else { return nil }
        var d: [String: JSONValue] = [:]
        for (k, v) in pairs { d[k] = v }
        return d
    }
}

// MARK: Parsing

/// A JSON syntax error with the byte offset where it was found.
public struct JSONError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var offset: Int
    public var description: String { "\(message) at byte \(offset)" }
}

extension JSONValue {
    /// Maximum nesting of arrays and objects accepted by the parser.
    public static let maxDepth = 512

    /// Parses one JSON document (surrounding white space allowed).
    ///
    /// - Throws: `JSONError` (message and byte offset) when `text` is not one JSON value, or has
    ///   text after it.
    public static func parse(_ text: String) throws -> JSONValue {
        var copy = text
        return try copy.withUTF8 { try parse(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Parses one JSON document from UTF-8 bytes.
    ///
    /// - Throws: `JSONError` (message and byte offset) when the bytes are not one UTF-8 JSON value,
    ///   or have text after it.
    public static func parse(bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        var p = JSONParser(bytes: bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.pos != bytes.count { throw p.error("unexpected text after the JSON value") }
        return v
    }

    /// Parses one JSON document from UTF-8 bytes.
    ///
    /// - Throws: `JSONError` as the buffer form does.
    public static func parse(bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBytes { try parse(bytes: $0) }
    }
}

struct JSONParser {
    let b: UnsafeRawBufferPointer
    var pos = 0
    init(bytes: UnsafeRawBufferPointer) { b = bytes }

    func error(_ m: String) -> JSONError { JSONError(message: m, offset: pos) }

    mutating func skipSpace() {
        while pos < b.count {
            let c = b[pos]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 } else { break }
        }
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard pos < b.count else { throw error("unexpected end of JSON") }
        switch b[pos] {
        case UInt8(ascii: "{"):
            if depth >= JSONValue.maxDepth { throw error("JSON nested too deeply") }
            pos += 1
            var pairs: [(String, JSONValue)] = []
            skipSpace()
            if pos < b.count && b[pos] == UInt8(ascii: "}") { pos += 1; return .object(pairs) }
            while true {
                skipSpace()
                guard pos < b.count, b[pos] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let k = try string()
                skipSpace()
                guard pos < b.count, b[pos] == UInt8(ascii: ":") else { throw error("expected ':'") }
                pos += 1
                skipSpace()
                let v = try value(depth: depth + 1)
                pairs.append((k, v))
                skipSpace()
                guard pos < b.count else { throw error("unterminated object") }
                if b[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if b[pos] == UInt8(ascii: "}") { pos += 1; return .object(pairs) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            if depth >= JSONValue.maxDepth { throw error("JSON nested too deeply") }
            pos += 1
            var items: [JSONValue] = []
            skipSpace()
            if pos < b.count && b[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard pos < b.count else { throw error("unterminated array") }
                if b[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if b[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "N"): return try literal("NaN", .double(.nan))
        case UInt8(ascii: "I"): return try literal("Infinity", .double(.infinity))
        default:
            return try number()
        }
    }

    mutating func literal(_ word: String, _ v: JSONValue) throws -> JSONValue {
        for c in word.utf8 {
            guard pos < b.count, b[pos] == c else { throw error("invalid literal") }
            pos += 1
        }
        return v
    }

    mutating func number() throws -> JSONValue {
        let start = pos
        var isFloat = false
        if pos < b.count && b[pos] == UInt8(ascii: "-") {
            pos += 1
            if pos < b.count && b[pos] == UInt8(ascii: "I") {
                _ = try literal("Infinity", .null)
                return .double(-.infinity)
            }
        }
        let digitsStart = pos
        while pos < b.count {
            let c = b[pos]
            if c >= 0x30 && c <= 0x39 { pos += 1 }
            else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
                        || ((c == UInt8(ascii: "+") || c == UInt8(ascii: "-")) && isFloat) {
                isFloat = true; pos += 1
            } else { break }
        }
        guard pos > digitsStart else { pos = start; throw error("unexpected character") }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<pos]), as: UTF8.self)
        if !isFloat, let i = Int(text) { return .int(i) }
        guard let d = Double(text) else { pos = start; throw error("invalid number '\(text)'") }
        return .double(d)
    }

    mutating func hex4() throws -> UInt32 {
        guard pos + 4 <= b.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[pos]
            v <<= 4
            switch c {
            case 0x30...0x39: v |= UInt32(c - 0x30)
            case 0x41...0x46: v |= UInt32(c - 0x41 + 10)
            case 0x61...0x66: v |= UInt32(c - 0x61 + 10)
            default: throw error("invalid \\u escape")
            }
            pos += 1
        }
        return v
    }

    mutating func string() throws -> String {
        pos += 1  // opening quote
        var bytes: [UInt8] = []
        let start = pos
        // Fast path: no escapes.
        while pos < b.count {
            let c = b[pos]
            if c == UInt8(ascii: "\"") {
                let s = UnsafeRawBufferPointer(rebasing: b[start..<pos])
                pos += 1
                guard let str = String(validating: s, as: UTF8.self) else {
                    throw JSONError(message: "invalid UTF-8 in string", offset: start)
                }
                return str
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { break }
            pos += 1
        }
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[start..<pos]))
        while pos < b.count {
            let c = b[pos]
            if c == UInt8(ascii: "\"") {
                pos += 1
                guard let str = String(validating: bytes, as: UTF8.self) else {
                    throw JSONError(message: "invalid UTF-8 in string", offset: start)
                }
                return str
            }
            if c < 0x20 { throw error("control character in string") }
            if c != UInt8(ascii: "\\") { bytes.append(c); pos += 1; continue }
            pos += 1
            guard pos < b.count else { break }
            let e = b[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5C)
            case UInt8(ascii: "/"): bytes.append(0x2F)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    // High surrogate: expect a low one.
                    if pos + 6 <= b.count && b[pos] == UInt8(ascii: "\\") && b[pos + 1] == UInt8(ascii: "u") {
                        pos += 2
                        let low = try hex4()
                        if low >= 0xDC00 && low < 0xE000 {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else { scalar = 0xFFFD }
                    } else { scalar = 0xFFFD }
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    scalar = 0xFFFD
                }
                let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                bytes.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                throw error("invalid escape")
            }
        }
        throw JSONError(message: "unterminated string", offset: start - 1)
    }
}

// MARK: Writing

extension JSONValue {
    /// Compact JSON text. Floats use the shortest representation that round-trips;
    /// non-finite numbers are written as `null` unless `allowNonFinite`.
    public func serialized(pretty: Bool = false, indent: Int = 0) -> String {
        var out = ""
        write(into: &out, pretty: pretty, indent: indent)
        return out
    }

    func write(into out: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let v): out += v ? "true" : "false"
        case .int(let v): out += String(v)
        case .double(let v): out += JSONValue.formatDouble(v)
        case .string(let s): JSONValue.quote(s, into: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += pretty ? ", " : "," }
                item.write(into: &out, pretty: pretty, indent: indent + 2)
            }
            out += "]"
        case .object(let pairs):
            if pairs.isEmpty { out += "{}"; return }
            out += "{"
            for (i, (k, v)) in pairs.enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + String(repeating: " ", count: indent + 2) }
                JSONValue.quote(k, into: &out)
                out += pretty ? ": " : ":"
                v.write(into: &out, pretty: pretty, indent: indent + 2)
            }
            if pretty { out += "\n" + String(repeating: " ", count: indent) }
            out += "}"
        }
    }

    /// Shortest round-tripping decimal; integral values keep a `.0`; non-finite → `null`.
    public static func formatDouble(_ v: Double) -> String {
        guard v.isFinite else { return "null" }
        let s = "\(v)"
        return s
    }

    /// Appends `s` as a JSON string literal.
    public static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}
