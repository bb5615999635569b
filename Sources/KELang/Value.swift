import Foundation
import KECore

// MARK: Values
//
// Everything an expression can evaluate to. Results of commands (entropy, perplexity, tokens,
// timings, …) are `Record`s: a kind, ordered fields reachable with member access, and the
// `CommandResult` they were made from, which renders them (see Results.swift).

/// A value of the experiment language.
public enum Value: Sendable {
    /// Absent result (JSON null), e.g. `retention` when nothing was known before.
    case null
    case number(Double)
    case string(String)
    case bool(Bool)
    case list([Value])
    case model(Model)
    case corpus(CorpusValue)
    indirect case chart(ChartValue)
    indirect case record(Record)

    /// How the value is named in type errors: "a number", "an entropy result".
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .number: return "a number"
        case .string: return "a string"
        case .bool: return "a boolean"
        case .list: return "a list"
        case .model: return "a model"
        case .corpus: return "a corpus"
        case .chart: return "a chart"
        case .record(let r): return r.typeName
        }
    }
}

extension Value {
    /// The names reachable with member access (`e.total`), for completion; empty when none.
    public var fieldNames: [String] {
        switch self {
        case .record(let r): return r.fields.map(\.0)
        case .model(let m):
            return ["architecture", "layers", "memories", "parameters", "step", "interventions"] + m.measurements.map(\.name)
                + (m.rescaleSummary == nil ? [] : ["multipliers"])
        case .corpus: return ["source", "documents", "tokens"]
        case .chart: return ["type", "text"]
        default: return []
        }
    }
}

/// A result with a kind and ordered named fields (`e.total`, `p.loss`).
public struct Record: Sendable {
    /// What it is: "entropy", "perplexity", "tokens", "timed", …
    public var kind: String
    /// Fields in display and JSON order.
    public var fields: [(String, Value)]
    /// The command result it was made from (e.g. an `EntropyResult`): how it renders, and what
    /// commands that take a result read.
    var result: (any CommandResult)?
    /// True for rows inside results: written to JSON as a plain object, without "kind".
    public var plain = false

    public init(kind: String, fields: [(String, Value)]) {
        self.kind = kind
        self.fields = fields
    }

    /// The field `name`, if present.
    public subscript(name: String) -> Value? { fields.first(where: { $0.0 == name })?.1 }

    /// "an entropy result", "a perplexity result".
    public var typeName: String {
        let vowel = kind.first.map { "aeiou".contains($0) } ?? false
        return (vowel ? "an " : "a ") + kind + " result"
    }
}

// MARK: Corpora

/// A corpus as written in a script: a file and options, tokenised lazily by the tokenizer of
/// whichever model it is used with (and cached per tokenizer). A packed corpus (`pack`, or a
/// `.npy` token file) is cut into rows of `seq` tokens; packing puts the model's end-of-sequence
/// id after each document, so its rows are cached per tokenizer and end-of-sequence id.
public final class CorpusValue: @unchecked Sendable {
    /// The file as given.
    public let path: String
    /// How it is shown and recorded: the path, or a built-in name such as `tiny:heldout`.
    public let name: String
    public let limit: Int?
    public let seq: Int?
    /// Whether each document gets the post-processor's special tokens (`corpus … special`).
    public let special: Bool
    /// Whether documents are packed into rows of `seq` tokens (`corpus … pack`, or a `.npy` file).
    public let packed: Bool
    /// Documents counted when the value was made (`Corpus.countDocuments`: non-blank lines or
    /// JSON-lines records with text), at most `limit`; for a `.npy` file, its rows.
    public let countedDocuments: Int

    private let lock = NSLock()
    /// Tokenisations so far, by tokenizer identity, end-of-sequence id and vocabulary size (the
    /// tokenizer is retained so identities cannot be reused).
    private var cache: [(tokenizer: Tokenizer, eos: Int?, vocab: Int, corpus: Corpus)] = []

    /// Reads the file once to check it and count its documents; bad records are reported when
    /// the corpus is first used.
    ///
    /// - Throws: `CoreError` naming the file: missing or unreadable, an unsupported extension,
    ///   `limit` < 1; with `pack`, no `seq`; for a `.npy` file, a header that is not one of
    ///   integer token ids or a `seq` that does not fit its shape.
    public init(path: String, limit: Int?, seq: Int?, name: String? = nil, special: Bool = false,
                pack: Bool = false) throws {
        self.special = special
        self.path = path
        self.name = name ?? path
        self.limit = limit
        self.seq = seq
        if Corpus.isNumPyFile(path) {
            if let limit, limit < 1 { throw CoreError("limit must be at least 1", file: path) }
            self.packed = true
            self.countedDocuments = try Corpus.numPyShape(path: path, seq: seq, limit: limit).rows
        } else {
            if pack && seq == nil { throw CoreError("`pack` cuts the documents into rows of `seq N` tokens: give seq", file: path) }
            self.packed = pack
            self.countedDocuments = try Corpus.countDocuments(path: path, limit: pack ? nil : limit)
        }
    }

    /// The corpus tokenised with `tokenizer` (cached). A packed corpus needs `tokenized(for:)`.
    ///
    /// - Throws: `CoreError` naming the file as `Corpus.load` does (invalid UTF-8, a malformed JSON
    ///   line, `seq` < 1), or "cancelled".
    public func tokenized(with tokenizer: Tokenizer) throws -> Corpus {
        try tokenized(with: tokenizer, eos: nil, vocabSize: tokenizer.vocabSize)
    }

    /// The corpus as `model` reads it: tokenised with its tokenizer and, when packed, with its
    /// end-of-sequence id (the first of `directoryInfo.eosTokenIDs`; none for a model without
    /// one) after each document and ids checked against its vocabulary (cached).
    ///
    /// - Throws: `CoreError` naming the file, as `Corpus.load` and `Corpus.loadPacked` do.
    public func tokenized(for model: Model) throws -> Corpus {
        try tokenized(with: model.tokenizer, eos: packed ? model.directoryInfo?.eosTokenIDs.first : nil,
                      vocabSize: model.config.vocabSize)
    }

    private func tokenized(with tokenizer: Tokenizer, eos: Int?, vocabSize: Int) throws -> Corpus {
        lock.lock()
        if let hit = cache.first(where: { $0.tokenizer === tokenizer && $0.eos == eos && (!packed || $0.vocab == vocabSize) }) {
            lock.unlock()
            return hit.corpus
        }
        lock.unlock()
        var corpus = packed
            ? try Corpus.loadPacked(path: path, tokenizer: tokenizer, eos: eos, seq: seq, limit: limit, vocabSize: vocabSize)
            : try Corpus.load(path: path, tokenizer: tokenizer, limit: limit, seq: seq, addSpecialTokens: special)
        corpus.source = name
        lock.lock()
        cache.append((tokenizer, eos, vocabSize, corpus))
        lock.unlock()
        return corpus
    }

    /// The most recent tokenisation, if it was used with a model already.
    public var latest: Corpus? {
        lock.lock()
        defer { lock.unlock() }
        return cache.last?.corpus
    }

    /// Documents: exact once tokenised, else as counted from the file.
    public var documents: Int { latest?.documents.count ?? countedDocuments }
    /// Tokens with the most recent tokenizer, or nil before any model used it.
    public var tokens: Int? { latest?.tokenCount }
}
