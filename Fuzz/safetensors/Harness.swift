// MARK: libFuzzer target: safetensors
//
// The input is a model.safetensors file. It is validated (header parser), every tensor is read
// as Float32 (every dtype conversion), and the tensors are mapped onto the parameters of each
// fixture checkpoint's config (missing tensors, wrong shapes and dtypes). Any outcome but a
// thrown error or success is a bug. Built and run by `Scripts/fuzz safetensors SECONDS`.

import Foundation
@testable import KECore

/// Fixture configs (gpt2, gpt_neox, llama_gqa, olmo_bf16) the tensors are mapped onto.
let configs: [ModelConfig] = {
    let root = ProcessInfo.processInfo.environment["KE_FUZZ_FIXTURES"] ?? "Tests/Fixtures"
    return ["gpt2", "gpt_neox", "llama_gqa", "olmo_bf16"].compactMap {
        try? ModelConfig.load(path: "\(root)/checkpoint/\($0)/config.json")
    }
}()

/// A private directory holding model.safetensors.
let directory = fuzzScratchDirectory("safetensors")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    // In memory: the header parser and every conversion.
    if let parsed = try? parseSafetensorsHeader(bytes, file: "fuzz.safetensors") {
        let body = UnsafeRawBufferPointer(rebasing: bytes[parsed.dataStart...])
        for t in parsed.tensors {
            var out = [Float](repeating: 0, count: t.count)
            out.withUnsafeMutableBufferPointer {
                convertToFloat32(UnsafeRawBufferPointer(rebasing: body[t.begin..<t.end]), dtype: t.dtype, into: $0)
            }
        }
    }
    // Through the file system: open, read, and load against each config.
    let path = directory + "/model.safetensors"
    guard (try? writeFileBytes(Array(bytes), to: path)) != nil else { return 0 }
    guard let checkpoint = try? SafetensorsCheckpoint(directory: directory) else { return 0 }
    for name in checkpoint.names { _ = try? checkpoint.floats(name) }
    for c in configs { _ = try? loadParameters(config: c, from: checkpoint, file: directory) }
    return 0
}
