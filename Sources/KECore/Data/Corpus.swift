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
