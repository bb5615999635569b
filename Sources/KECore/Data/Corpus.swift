import Foundation

// MARK: Corpora

/// Tokenised documents. Documents never attend to each other.
///
/// A *packed* corpus (`corpus "FILE" seq N pack`, or a `.npy` token file) holds rows of exactly
/// `rowLength` tokens cut from one stream of documents, as OLMo's and Pythia's pretraining data
/// are: each row is then one of `documents`, and a document may span rows.
public struct Corpus: Sendable {
    /// Token ids of each document (no special tokens added), each at most `seq` long; for a
    /// packed corpus, its rows.
    public var documents: [[Int]]
    /// Where it came from (file path or built-in name).
    public var source: String
    /// The length of every row of a packed corpus; nil for a corpus of documents.
    public var rowLength: Int?
    public init(documents: [[Int]], source: String, rowLength: Int? = nil) {
        self.documents = documents
        self.source = source
        self.rowLength = rowLength
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

    /// Packs documents as OLMo's pretraining data are: the documents' tokens (no special tokens)
    /// are concatenated in order, each document followed by `eos` (nothing when nil: a tokenizer
    /// without an end-of-sequence token, such as the tiny run's), and the stream is cut into rows
    /// of exactly `seq` tokens. The last partial row is dropped; at most `limit` rows are made
    /// (documents after the last row needed are not tokenised).
    ///
    /// - Throws: `CoreError` naming `source` when `seq` < 1, `limit` < 1, or the documents give
    ///   no whole row; "cancelled" on cancel.
    public static func packed(texts: [String], tokenizer: Tokenizer, eos: Int?, seq: Int, limit: Int? = nil,
                              source: String) throws -> Corpus {
        guard seq >= 1 else { throw CoreError("seq must be at least 1", file: source) }
        if let limit, limit < 1 { throw CoreError("limit must be at least 1", file: source) }
        var rows: [[Int]] = []
        var current: [Int] = []
        current.reserveCapacity(seq)
        func add(_ id: Int) {
            current.append(id)
            if current.count == seq { rows.append(current); current.removeAll(keepingCapacity: true) }
        }
        for t in texts {
            if let limit, rows.count >= limit { break }
            try Cancellation.shared.check()
            for id in tokenizer.encode(t) { add(id) }
            if let eos { add(eos) }
        }
        if let limit, rows.count > limit { rows.removeLast(rows.count - limit) }
        guard !rows.isEmpty else {
            throw CoreError("packing gives no whole row of \(seq) tokens (the documents hold fewer)", file: source)
        }
        return Corpus(documents: rows, source: source, rowLength: seq)
    }

    /// Rows of a packed corpus file: a `.npy` token file (see `readNumPyTokenRows`; the
    /// tokenizer is not used), or a text corpus packed by `packed(texts:…)`.
    ///
    /// - Parameters:
    ///   - seq: row length (for a 2-D `.npy`, nil means its width).
    ///   - limit: at most this many rows.
    ///   - vocabSize: the model's vocabulary; `.npy` ids outside it are an error.
    /// - Throws: `CoreError` naming the file, as the readers do.
    public static func loadPacked(path: String, tokenizer: Tokenizer, eos: Int?, seq: Int?, limit: Int?,
                                  vocabSize: Int) throws -> Corpus {
        if isNumPyFile(path) {
            let rows = try readNumPyTokenRows(path: path, seq: seq, limit: limit, vocabSize: vocabSize)
            return Corpus(documents: rows, source: path, rowLength: rows[0].count)
        }
        guard let seq else { throw CoreError("a packed corpus needs `seq N`, the length of its rows", file: path) }
        return try packed(texts: try readDocuments(path: path), tokenizer: tokenizer, eos: eos, seq: seq,
                          limit: limit, source: path)
    }

    /// Rows of a `.npy` token file without reading them: its row count (at most `limit`) and
    /// width, for a corpus value's display before it is used.
    ///
    /// - Throws: `CoreError` naming the file, as `readNumPyTokenRows` does for the header.
    public static func numPyShape(path: String, seq: Int?, limit: Int?) throws -> (rows: Int, width: Int) {
        let file = try MappedFile(path: path)
        let h = try parseNumPyHeader(file.bytes, file: path)
        let (rows, width) = try h.rowShape(seq: seq, file: path)
        return (min(rows, limit ?? Int.max), width)
    }

    /// True for a `.npy` file name (case-insensitive).
    public static func isNumPyFile(_ path: String) -> Bool { path.lowercased().hasSuffix(".npy") }

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
        // A missing file is named as such before any talk of formats.
        guard FileManager.default.fileExists(atPath: path) else { throw CoreError("no such file", file: path) }
        guard let format = LineFormat(path: path) else {
            throw CoreError("unsupported corpus format: use a .txt file (one document per line) or .jsonl (a \"text\" field per line)", file: path)
        }
        let bytes = try readFileBytes(path)
        var docs: [String] = []
        try forEachLine(bytes) { lineNo, range in
            if let limit, docs.count >= limit { return false }
            let line: String
            do { line = try decodeUTF8(bytes, range, firstLine: lineNo) } catch let e as InvalidUTF8 {
                if lenient { return true }
                throw CoreError(e.description, file: path)
            }
            if line.allSatisfy({ $0.isWhitespace }) { return true }
            switch format {
            case .text:
                docs.append(line)
            case .jsonLines:
                let v: JSONValue
                do { v = try JSONValue.parse(line) } catch let e as JSONError {
                    if lenient { return true }
                    throw CoreError("line \(lineNo): malformed JSON (\(e.message) at column \(e.offset + 1))", file: path)
                }
                guard let text = v["text"]?.stringValue else {
                    if lenient { return true }
                    throw CoreError("line \(lineNo): expected an object with a string field \"text\"", file: path)
                }
                if !text.isEmpty { docs.append(text) }
            }
            return true
        }
        return docs
    }
}
