import Foundation
import XCTest
@testable import KECore

// MARK: Bad PyTorch and GGUF files
//
// Each case must give a CoreError naming the file and the problem: never a crash, a hang or a
// huge allocation.

final class ReliabilityFormatsTests: XCTestCase {
    let formats = Fixtures.root + "/formats"

    func write(_ bytes: [UInt8], name: String = "model.pt") throws -> String {
        let path = try makeTempDir(self) + "/" + name
        try writeFileBytes(bytes, to: path)
        return path
    }

    func torchError(_ bytes: [UInt8], _ fragment: String, line: UInt = #line) throws {
        let path = try write(bytes)
        assertNamedError(path, fragment, line: line) { _ = try PyTorchCheckpoint(paths: [path]) }
    }

    /// A valid image and the offsets of its parts, for corrupting.
    func validImage() -> [UInt8] {
        torchImage(PickleBuilder.stateDict { $0.tensor("w", key: "0", numel: 4, offset: 0, size: [4], stride: [1]) },
                   storages: [("0", [1, 2, 3, 4])])
    }

    func offsetOfCentralDirectory(_ b: [UInt8]) -> Int {
        let e = b.count - 22
        return Int(b[e + 16]) | Int(b[e + 17]) << 8 | Int(b[e + 18]) << 16 | Int(b[e + 19]) << 24
    }

    func testEveryTruncationOfARealTorchFileIsRejected() throws {
        let bytes = try readFileBytes(formats + "/torch/strided.pt")
        let dir = try makeTempDir(self)
        let path = dir + "/strided.pt"
        for cut in stride(from: 0, to: bytes.count, by: 7) {
            try writeFileBytes(Array(bytes[0..<cut]), to: path)
            do {
                _ = try PyTorchCheckpoint(paths: [path])
                XCTFail("a file cut at \(cut) bytes was accepted")
            } catch let e as CoreError {
                XCTAssertEqual(e.file, path)
            }
        }
    }

    func testBadZipArchives() throws {
        let good = validImage()
        XCTAssertNoThrow(try PyTorchCheckpoint(paths: [try write(good)]))
        // 1. not a zip at all
        try torchError(Array("hello world, not a checkpoint".utf8), "not a zip archive")
        // 2. legacy torch < 1.6 pickle stream
        try torchError([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8], "legacy PyTorch format")
        // 3. legacy tar
        var tar = [UInt8](repeating: 0, count: 1024)
        tar.replaceSubrange(257..<262, with: Array("ustar".utf8))
        try torchError(tar, "legacy PyTorch tar format")
        // 4. end record cut off
        try torchError(Array(good.dropLast(5)), "no end-of-central-directory record")
        let cd = offsetOfCentralDirectory(good)
        // 5. a compressed entry (method 8 = deflate)
        var b = good; b[cd + 10] = 8
        try torchError(b, "is compressed (method 8)")
        // 6. an encrypted entry
        b = good; b[cd + 8] = 1
        try torchError(b, "is encrypted")
        // 7. an entry count larger than the central directory can hold
        b = good; b[b.count - 22 + 10] = 0xFE; b[b.count - 22 + 11] = 0xFF
        try torchError(b, "more than its")
        // 8. central directory offset past the end of the file
        b = good; b[b.count - 22 + 19] = 0x7F
        try torchError(b, "is outside the")
        // 9. local header offset pointing nowhere
        b = good; b[cd + 42] = 0x03
        try torchError(b, "does not point at a local header")
        // 10. an entry size running past the file
        b = good; b[cd + 23] = 0x40; b[cd + 27] = 0x40
        try torchError(b, "is outside the")
        // 11. multi-disk
        b = good; b[b.count - 22 + 4] = 1
        try torchError(b, "multi-disk")
        // 12. stored sizes that differ
        b = good; b[cd + 20] = b[cd + 20] &+ 1
        try torchError(b, "sizes differ")
        // 13. no data.pkl
        try torchError(storedZip([("archive/other", [1, 2])]), "has no data.pkl")
        // 14. big-endian byte order
        try torchError(storedZip([("a/data.pkl", [0x80, 2, 0x7D, 0x2E]), ("a/byteorder", Array("big".utf8))]), "byte order 'big'")
        // 15. duplicate entries
        try torchError(storedZip([("a/data.pkl", [0x80, 2, 0x7D, 0x2E]), ("a/data.pkl", [0x2E])]), "appears twice")
        // 16. the pickle holds a list, not a state dict
        try torchError(storedZip([("a/data.pkl", [0x80, 2, 0x5D, 0x2E])]), "holds a list, not a state dict")
        // 17. an empty file
        try torchError([], "not a zip archive")
    }

    /// `load "DIR"` on a directory whose pytorch_model.bin is bad names that file.
    func testModelLoadNamesTheBadBin() throws {
        let dir = try makeTempDir(self)
        for f in ["config.json", "tokenizer.json"] {
            try FileManager.default.copyItem(atPath: formats + "/olmo_bin/" + f, toPath: dir + "/" + f)
        }
        var p = PickleBuilder(); p.global("subprocess", "Popen")
        try writeFileBytes(storedZip([("a/data.pkl", p.bytes)]), to: dir + "/pytorch_model.bin")
        assertNamedError(dir + "/pytorch_model.bin", "refusing global 'subprocess.Popen'") { _ = try Model.load(directory: dir) }
    }
}
