// MARK: Corpora

/// Tokenised documents. Documents never attend to each other.
public struct Corpus: Sendable {
    /// Token ids of each document (no special tokens added), each at most `seq` long.
    public var documents: [[Int]]
    /// Where it came from (file path or built-in name).
    public var source: String
    public init(documents: [[Int]], source: String) {
        self.documents = documents
        self.source = source
    }
    /// Total number of tokens.
    public var tokenCount: Int { documents.reduce(0) { $0 + $1.count } }
}

import Foundation

extension Corpus {
    /// Reads a corpus file: `.txt` (one document per line) or `.jsonl` (a `"text"` field per
    /// line). Each document is tokenised without special tokens and truncated to `seq` tokens;
    /// at most `limit` documents are kept. Empty documents are dropped.
    /// With `addSpecialTokens` each document gets the post-processor's special tokens (HF
    /// `add_special_tokens=True`; `seq` truncates the text before them, as HF).
    public static func load(path: String, tokenizer: Tokenizer, limit: Int? = nil, seq: Int? = nil,
                            addSpecialTokens: Bool = false) throws -> Corpus {
        let texts = try readDocuments(path: path, limit: limit)
        return try Corpus(texts: texts, tokenizer: tokenizer, seq: seq, source: path, addSpecialTokens: addSpecialTokens)
    }

    /// Tokenises `texts` (documents), truncating each to `seq` tokens.
    public init(texts: [String], tokenizer: Tokenizer, seq: Int? = nil, source: String,
                addSpecialTokens: Bool = false) throws {
        if let seq, seq < 1 { throw CoreError("seq must be at least 1", file: source) }
        var docs: [[Int]] = []
        docs.reserveCapacity(texts.count)
        for t in texts {
            try Cancellation.shared.check()
            var ids = addSpecialTokens ? tokenizer.encode(t, addSpecialTokens: true, maxLength: seq) : tokenizer.encode(t)
            if let seq, ids.count > seq { ids.removeLast(ids.count - seq) }
            if !ids.isEmpty { docs.append(ids) }
        }
        self.init(documents: docs, source: source)
    }

    /// The documents of a `.txt` or `.jsonl` file, validated as UTF-8.
    public static func readDocuments(path: String, limit: Int? = nil) throws -> [String] {
        if let limit, limit < 1 { throw CoreError("limit must be at least 1", file: path) }
        let lower = path.lowercased()
        let isJSONL = lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson")
        guard isJSONL || lower.hasSuffix(".txt") else {
            throw CoreError("unsupported corpus format: use a .txt file (one document per line) or .jsonl (a \"text\" field per line)", file: path)
        }
        let bytes = try readFileBytes(path)
        var docs: [String] = []
        var lineNo = 0
        var start = 0
        let n = bytes.count
        while start < n {
            if let limit, docs.count >= limit { break }
            var end = start
            while end < n && bytes[end] != 0x0A { end += 1 }
            lineNo += 1
            var lineEnd = end
            if lineEnd > start && bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let slice = bytes[start..<lineEnd]
            guard let line = String(validating: slice, as: UTF8.self) else {
                let bad = firstInvalidUTF8Offset(bytes, from: start, to: lineEnd)
                throw CoreError("invalid UTF-8 at byte \(bad) (line \(lineNo))", file: path)
            }
            if isJSONL {
                if !line.allSatisfy({ $0.isWhitespace }) {
                    let v: JSONValue
                    do { v = try JSONValue.parse(line) } catch let e as JSONError {
                        throw CoreError("line \(lineNo): malformed JSON (\(e.message) at column \(e.offset + 1))", file: path)
                    }
                    guard let text = v["text"]?.stringValue else {
                        throw CoreError("line \(lineNo): expected an object with a string field \"text\"", file: path)
                    }
                    if !text.isEmpty { docs.append(text) }
                }
            } else if !line.allSatisfy({ $0.isWhitespace }) {
                docs.append(line)
            }
            start = end + 1
        }
        return docs
    }
}

/// Byte offset of the first invalid UTF-8 sequence in bytes[from..<to].
func firstInvalidUTF8Offset(_ bytes: [UInt8], from: Int, to: Int) -> Int {
    var i = from
    while i < to {
        let b = bytes[i]
        let len: Int
        if b < 0x80 { len = 1 } else if b >> 5 == 0x6 { len = 2 } else if b >> 4 == 0xE { len = 3 } else if b >> 3 == 0x1E { len = 4 } else { return i }
        if i + len > to { return i }
        if String(validating: bytes[i..<(i + len)], as: UTF8.self) == nil { return i }
        i += len
    }
    return to
}
