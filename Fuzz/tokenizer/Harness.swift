// MARK: libFuzzer target: tokenizer
//
// The input is used twice: as a tokenizer.json (loaded, then used to encode and decode a fixed
// text with special characters), and as text (its first 512 bytes decoded leniently as UTF-8)
// encoded and decoded with each fixture tokenizer. Built and run by `Scripts/fuzz tokenizer SECONDS`.

import Foundation
@testable import KECore

/// The fixture tokenizers that encode the input as text.
let fixed: [Tokenizer] = {
    let root = ProcessInfo.processInfo.environment["KE_FUZZ_FIXTURES"] ?? "Tests/Fixtures"
    let names = ["bytelevel_bpe", "llama3_split", "nfc_prefix", "sentencepiece_bpe",
                 "wordlevel_whitespace", "wordlevel_wssplit"]
    // hf16/classes runs a generic pattern on Oniguruma; hf16/post_llama3 has a post-processor.
    let hf16 = ["hf16/classes", "hf16/regex_anchors", "hf16/post_llama3", "hf16/added_gapped"]
    let loaded = (names + hf16).compactMap { try? Tokenizer(contentsOf: "\(root)/tokenizers/\($0).json") }
    if loaded.count != names.count + hf16.count { fatalError("fixture tokenizers not found under \(root) (set KE_FUZZ_FIXTURES)") }
    return loaded
}()

/// A fixed text with spaces, digits, punctuation, combining marks, CJK, emoji and controls.
let sample = "Hello  world, it's 3.14159 — naïve cafe\u{301} 日本語 🙂\u{200d}🙂\n\t<|endoftext|> end "

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    // As a tokenizer.json.
    if let json = try? JSONValue.parse(bytes: bytes), let t = try? Tokenizer(json: json, file: "tokenizer.json") {
        let ids = t.encode(sample)
        _ = t.encodeWithTokens(sample)
        _ = t.encode(sample, addSpecialTokens: true, maxLength: 5)
        try? t.checkAddedTokens(fitEmbeddingRows: 100)
        _ = t.decode(ids)
        _ = t.decode(ids + [0, 1, t.vocabSize, -1, Int.max], skipSpecialTokens: true)
        _ = t.token(ids.first ?? 0)
        _ = t.id(of: "world")
    }
    // As text: the first 512 bytes (encoding is local to words; a 12 KB seed would take ~0.7 s under
    // the sanitizers).
    let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes.prefix(512)), as: UTF8.self)
    for t in fixed {
        let ids = t.encode(text)
        _ = t.encode(text, addSpecialTokens: true)
        for id in ids where id < 0 || id >= t.vocabSize { fatalError("encode produced id \(id) outside 0..<\(t.vocabSize)") }
        _ = t.decode(ids)
        _ = t.decode(ids, skipSpecialTokens: true)
    }
    return 0
}
