// MARK: libFuzzer target: pickle
//
// The input is a PyTorch checkpoint (a torch.save zip or a legacy stream) or a bare pickle. The
// bytes are run through the restricted pickle reader in memory and, as text, through the
// OLMo-trainer safetensors key decoder (base64 → pickle), then written as model.pt and opened as
// a checkpoint (zip reader or legacy stream, pickle, storage extents); every tensor is read as
// Float32, and the state dict is mapped onto a fixture OLMo config as an OLMo-trainer checkpoint. Any outcome
// but a thrown error or success is a bug. Built and run by `Scripts/fuzz pickle SECONDS`.

import Foundation
@testable import KECore

let olmo: ModelConfig? = {
    let root = ProcessInfo.processInfo.environment["KE_FUZZ_FIXTURES"] ?? "Tests/Fixtures"
    return try? ModelConfig.load(path: "\(root)/formats/olmo_st/config.json")
}()

let directory = fuzzScratchDirectory("pickle")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPickle(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    _ = try? readRestrictedPickle(bytes, file: "fuzz.pkl")
    _ = try? olmoDecodeSafetensorsKey(String(decoding: bytes, as: UTF8.self), file: "fuzz.safetensors")
    let path = directory + "/model.pt"
    guard (try? writeFileBytes(Array(bytes), to: path)) != nil else { return 0 }
    guard let checkpoint = try? PyTorchCheckpoint(paths: [path]) else { return 0 }
    for name in checkpoint.names {
        _ = try? checkpoint.floats(name)
        _ = checkpoint.float32Pointer(name)
    }
    if let olmo, let native = try? OLMoNativeSource(checkpoint: checkpoint, config: olmo, file: path) {
        for name in native.names { _ = try? native.floats(name) }
        _ = try? loadParameters(config: olmo, from: native, file: path)
    }
    return 0
}
