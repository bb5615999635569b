// MARK: libFuzzer target: gguf
//
// The input is a GGUF file. It is opened (header, metadata, tensor infos, extents), every
// tensor is dequantised, and the whole model path runs: config from `ARCH.*`, tokenizer from
// `tokenizer.ggml.*`, q/k un-permutation and the weight mapping (`Model.load(gguf:)`), then one
// token through the loaded model. Any outcome but a thrown error or success is a bug. Built and
// run by `Scripts/fuzz gguf SECONDS`.

import Foundation
@testable import KECore

let directory = fuzzScratchDirectory("gguf")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = directory + "/model.gguf"
    guard (try? writeFileBytes(Array(UnsafeRawBufferPointer(start: data, count: size)), to: path)) != nil else { return 0 }
    guard let f = try? GGUFFile(path: path) else { return 0 }
    for t in f.tensors {
        var out = [Float](repeating: 0, count: t.count)
        out.withUnsafeMutableBufferPointer { _ = try? f.read(t, into: $0) }
    }
    _ = try? ggufTokenizerJSON(f)
    // A loaded model runs one token, through per-tile dequantisation when its matrices are blocks.
    if let model = try? Model.load(gguf: path), model.config.vocabSize > 0 {
        _ = try? lastLogits(model: model, tokens: [0])
    }
    return 0
}
