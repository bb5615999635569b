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

extension Corpus {
    /// Reads a corpus file: `.txt` (one document per line) or `.jsonl` (a `"text"` field per
    /// line). Each document is tokenised without special tokens and truncated to `seq` tokens;
    /// at most `limit` documents are kept. Empty documents are dropped.
    public static func load(path: String, tokenizer: Tokenizer, limit: Int? = nil, seq: Int? = nil) throws -> Corpus {
        throw CoreError("corpus loading not implemented yet", file: path)
    }
}
