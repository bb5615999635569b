// MARK: libFuzzer target: config
//
// The input is a config.json. It is parsed from bytes and from a String (both entry points);
// a config that parses is taken through everything derived from it: canonical and Hugging Face
// tensor shapes, an empty parameter store's layout, and config.json regeneration, which must
// parse back to the same sizes. Built and run by `Scripts/fuzz config SECONDS`.

import Foundation
@testable import KECore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    _ = try? ModelConfig(huggingFaceJSON: String(decoding: bytes, as: UTF8.self), file: "config.json")
    guard let json = try? JSONValue.parse(bytes: bytes) else { return 0 }
    _ = json.serialized()
    _ = json.serialized(pretty: true)
    guard let c = try? ModelConfig(huggingFace: json, file: "config.json") else { return 0 }
    var scalars = 0
    for (_, shape) in canonicalTensorShapes(for: c) { scalars += shape.reduce(1, *) }
    for p in hfPrefixes(c.architecture) {
        for s in huggingFaceTensorSpecs(for: c, prefix: p) { _ = s.shape.reduce(1, *) }
    }
    guard let regenerated = try? huggingFaceConfigJSON(for: c) else { return 0 }
    let again: ModelConfig
    do {
        again = try ModelConfig(huggingFace: JSONValue.parse(regenerated.serialized()), file: "regenerated")
    } catch {
        fatalError("a valid config regenerates to one that does not load: \(error)\n\(regenerated.serialized())")
    }
    if again.hiddenSize != c.hiddenSize || again.numLayers != c.numLayers
        || again.intermediateSize != c.intermediateSize || again.vocabSize != c.vocabSize
        || again.architecture != c.architecture {
        fatalError("config changed when regenerated: \(regenerated.serialized())")
    }
    return 0
}
