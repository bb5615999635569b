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

/// How a corpus or fact file holds its records, told by its extension (case-insensitive).
enum LineFormat: Equatable {
    /// `.txt`: one record per line.
    case text
    /// `.jsonl` or `.ndjson`: one JSON value per line.
    case jsonLines

    /// The format of `path`, or nil for any other extension.
    init?(path: String) {
        let lower = path.lowercased()
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") { self = .jsonLines }
        else if lower.hasSuffix(".txt") { self = .text }
        else { return nil }
    }
}

extension Corpus {
    /// Reads a corpus file: `.txt` (one document per line) or `.jsonl`/`.ndjson` (a `"text"`
    /// field per line). Each document is tokenised without special tokens and truncated to `seq`
    /// tokens; at most `limit` documents are kept. Empty documents are dropped.
    /// With `addSpecialTokens` each document gets the post-processor's special tokens (HF
    /// `add_special_tokens=True`; `seq` truncates the text before them, as HF).
    ///
    /// - Throws: `CoreError` naming the file, as `readDocuments` does, or when `seq` < 1; on cancel.
    public static func load(path: String, tokenizer: Tokenizer, limit: Int? = nil, seq: Int? = nil,
                            addSpecialTokens: Bool = false) throws -> Corpus {
        let texts = try readDocuments(path: path, limit: limit)
        return try Corpus(texts: texts, tokenizer: tokenizer, seq: seq, source: path, addSpecialTokens: addSpecialTokens)
    }

    /// Tokenises `texts` (documents), truncating each to `seq` tokens.
    ///
    /// - Throws: `CoreError` when `seq` < 1, or "cancelled" on cancel.
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

    /// The documents of a corpus file, the one reader of corpora: `.txt`, one document per
    /// line; `.jsonl` or `.ndjson`, the string field `"text"` of the object on each line. Lines
    /// that are blank (and JSON records whose text is empty) are skipped; a trailing `\r` is
    /// dropped; at most `limit` documents are read.
    ///
    /// - Throws: `CoreError` naming the file: an unsupported extension, `limit` < 1, the file
    ///   missing or unreadable, invalid UTF-8 (byte offset and line), or a JSON line that is
    ///   malformed or has no string `"text"` (line and column).
    public static func readDocuments(path: String, limit: Int? = nil) throws -> [String] {
        try documents(path: path, limit: limit, skippingBadRecords: false)
    }

    /// How many documents `readDocuments` finds, without failing on a bad record: a line that
    /// is not UTF-8, not JSON, or has no string `"text"` is skipped (the error comes when the
    /// corpus is read for use). A corpus value counts its documents this way when it is made.
    ///
    /// - Throws: `CoreError` naming the file: an unsupported extension, `limit` < 1, the file
    ///   missing or unreadable.
    public static func countDocuments(path: String, limit: Int? = nil) throws -> Int {
        try documents(path: path, limit: limit, skippingBadRecords: true).count
    }

    /// The corpus reader behind `readDocuments` and `countDocuments`.
    private static func documents(path: String, limit: Int?, skippingBadRecords lenient: Bool) throws -> [String] {
        if let limit, limit < 1 { throw CoreError("limit must be at least 1", file: path) }
        guard let format = LineFormat(path: path) else {
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
            defer { start = end + 1 }
            let line: String
            do { line = try decodeUTF8(bytes, start..<lineEnd, firstLine: lineNo) } catch {
                if lenient { continue }
                throw CoreError(error.description, file: path)
            }
            if line.allSatisfy({ $0.isWhitespace }) { continue }
            switch format {
            case .text:
                docs.append(line)
            case .jsonLines:
                let v: JSONValue
                do { v = try JSONValue.parse(line) } catch let e as JSONError {
                    if lenient { continue }
                    throw CoreError("line \(lineNo): malformed JSON (\(e.message) at column \(e.offset + 1))", file: path)
                }
                guard let text = v["text"]?.stringValue else {
                    if lenient { continue }
                    throw CoreError("line \(lineNo): expected an object with a string field \"text\"", file: path)
                }
                if !text.isEmpty { docs.append(text) }
            }
        }
        return docs
    }
}
