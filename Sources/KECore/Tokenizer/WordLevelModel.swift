// MARK: WordLevel model

/// One id per whole word; unknown words map to the unknown token (or are dropped without one).
final class WordLevelModel: @unchecked Sendable {
    let vocab: [TokenKey: Int]
    let vocabR: [String?]
    let unkID: Int?

    init(json m: JSONValue, file: String?) throws {
        guard let pairs = m["vocab"]?.objectValue else {
            throw CoreError("WordLevel model has no \"vocab\" object", file: file)
        }
        let (v, r) = try readVocab(pairs, file: file)
        vocab = v
        vocabR = r
        unkID = m["unk_token"]?.stringValue.flatMap { v[TokenKey($0)] }
    }

    /// Appends the id of `word` to `out`.
    func tokenize(_ word: Scalars, into out: inout [Int]) {
        if let id = vocab[TokenKey(String(scalars: word))] ?? unkID { out.append(id) }
    }
}
