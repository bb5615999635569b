import Foundation
import XCTest
@testable import KECore

// MARK: Helpers shared by the checkpoint tests

/// A fresh temporary directory, removed at the end of the test.
func makeTempDir(_ test: XCTestCase) throws -> String {
    let path = NSTemporaryDirectory() + "ke-ckpt-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Writes a raw safetensors image: 8-byte little-endian length, header text, data bytes.
func writeRawSafetensors(_ path: String, header: String, data: [UInt8] = [], length: UInt64? = nil) throws {
    let h = Array(header.utf8)
    var bytes: [UInt8] = []
    let n = length ?? UInt64(h.count)
    for i in 0..<8 { bytes.append(UInt8((n >> (8 * UInt64(i))) & 0xFF)) }
    bytes += h + data
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Asserts that `body` throws a CoreError whose message contains `fragment`.
func assertCoreError(_ fragment: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error containing '\(fragment)'", file: file, line: line)
    } catch let e as CoreError {
        XCTAssertTrue(e.message.contains(fragment), "message '\(e.message)' lacks '\(fragment)'", file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}

final class SafetensorsTests: XCTestCase {

    // MARK: Round trips

    func testRoundTripF32() throws {
        let dir = try makeTempDir(self)
        let p = dir + "/a.safetensors"
        let a: [Float] = [1, -2.5, 3e-38, .infinity, -0.0, .leastNonzeroMagnitude, 65504, 123456.789]
        let b: [Float] = (0..<6).map { Float($0) * 0.1 }
        try writeSafetensors([
            SafetensorsEntry(name: "z.last", shape: [2, 4], values: a),
            SafetensorsEntry(name: "a.first", shape: [3, 2], values: b),
            SafetensorsEntry(name: "scalar", shape: [], values: [7]),
            SafetensorsEntry(name: "empty", shape: [0, 3], values: []),
        ], dtype: .f32, metadata: ["format": "pt", "note": "x"], to: p)
        let f = try SafetensorsFile(path: p)
        XCTAssertEqual(f.metadata, ["format": "pt", "note": "x"])
        XCTAssertEqual(f.names, ["a.first", "empty", "scalar", "z.last"])  // sorted like the Python library
        XCTAssertEqual(f.shape(of: "z.last"), [2, 4])
        XCTAssertEqual(f.shape(of: "scalar"), [])
        XCTAssertEqual(try f.floats("z.last").map(\.bitPattern), a.map(\.bitPattern))
        XCTAssertEqual(try f.floats("a.first"), b)
        XCTAssertEqual(try f.floats("scalar"), [7])
        XCTAssertEqual(try f.floats("empty"), [])
        // Offsets are contiguous in name order and the header is padded to a multiple of 8.
        let raw = try Data(contentsOf: URL(fileURLWithPath: p))
        let hlen = raw.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(hlen % 8, 0)
        XCTAssertEqual(raw.count, 8 + hlen + 4 * (8 + 6 + 1))
        XCTAssertEqual(f.info("a.first")?.begin, 0)
        XCTAssertEqual(f.info("scalar")?.begin, 24)
        XCTAssertEqual(f.info("z.last")?.begin, 28)
    }

    func testRoundTripBF16ExactAndRounded() throws {
        let dir = try makeTempDir(self)
        let p = dir + "/b.safetensors"
        // Exactly representable in bf16: survive unchanged (incl. a bf16 subnormal and infinities).
        let exact: [Float] = [1, -2, 0.5, 3.140625, Float(bitPattern: 0x0001_0000), -.infinity, .infinity, 0, -0.0]
        // Rounding: 1 + 2^-8 is a tie → even (1.0); 1 + 3·2^-9 rounds up to 1 + 2^-7.
        let ties: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-9, 1 + 0x1p-7 + 0x1p-8]
        try writeSafetensors([SafetensorsEntry(name: "e", shape: [exact.count], values: exact),
                              SafetensorsEntry(name: "t", shape: [3], values: ties),
                              SafetensorsEntry(name: "n", shape: [1], values: [.nan])], dtype: .bf16, to: p)
        let f = try SafetensorsFile(path: p)
        XCTAssertEqual(f.info("e")?.dtype, .bf16)
        XCTAssertEqual(try f.floats("e").map(\.bitPattern), exact.map(\.bitPattern))
        XCTAssertEqual(try f.floats("t"), [1, 1 + 0x1p-7, 1 + 0x1p-6])
        XCTAssertTrue(try f.floats("n")[0].isNaN)
    }

    func testRoundTripF16IncludingSubnormalsAndOverflow() throws {
        let dir = try makeTempDir(self)
        let p = dir + "/h.safetensors"
        let smallest: Float = 0x1p-24, largestSub: Float = 1023 * 0x1p-24
        let exact: [Float] = [0, -0.0, 1, -1.5, 65504, -65504, smallest, -smallest, largestSub, 0x1p-14,
                              .infinity, -.infinity, 0.333251953125]
        // 70000 → inf; 2^-26 → 0; 3·2^-26 → 2^-24 (above half); 2^-25 → 0 (tie to even);
        // 1 + 2^-11 → 1 (tie to even); 1 + 3·2^-11 → 1 + 2^-9.
        let rounded: [Float] = [70000, 0x1p-26, 3 * 0x1p-26, 0x1p-25, 1 + 0x1p-11, 1 + 3 * 0x1p-11]
        try writeSafetensors([SafetensorsEntry(name: "e", shape: [exact.count], values: exact),
                              SafetensorsEntry(name: "r", shape: [rounded.count], values: rounded)], dtype: .f16, to: p)
        let f = try SafetensorsFile(path: p)
        XCTAssertEqual(f.info("e")?.dtype, .f16)
        XCTAssertEqual(try f.floats("e").map(\.bitPattern), exact.map(\.bitPattern))
        XCTAssertEqual(try f.floats("r"), [.infinity, 0, smallest, 0, 1, 1 + 0x1p-9])
    }

    func testHalfConversionMatchesSwiftFloat16ForEveryBitPattern() {
        for bits in 0...0xFFFF {
            let h = UInt16(bits)
            let mine = halfBitsToFloat(h)
            let ref = Float(Float16(bitPattern: h))
            if ref.isNaN { XCTAssertTrue(mine.isNaN); continue }
            XCTAssertEqual(mine.bitPattern, ref.bitPattern, "half bits \(bits)")
            // And back: every non-NaN half survives F32 → F16.
            XCTAssertEqual(floatToHalfBits(mine), h, "half bits \(bits)")
        }
    }

    func testFloatToHalfMatchesSwiftFloat16OnRandomFloats() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<200_000 {
            let f = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &g))
            if f.isNaN { continue }
            XCTAssertEqual(floatToHalfBits(f), Float16(f).bitPattern, "float \(f)")
        }
    }

    func testReadIntoBufferAndIntegerDtypes() throws {
        let dir = try makeTempDir(self)
        let p = dir + "/i.safetensors"
        // I32 [2] = 7, -3 ; F64 [1] = 0.25 ; U8 [2] = 1, 255
        var data: [UInt8] = []
        for v: Int32 in [7, -3] { withUnsafeBytes(of: v.littleEndian) { data += $0 } }
        withUnsafeBytes(of: (0.25 as Double).bitPattern.littleEndian) { data += $0 }
        data += [1, 255]
        let header = #"{"i":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"d":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},"u":{"dtype":"U8","shape":[2],"data_offsets":[16,18]}}"#
        try writeRawSafetensors(p, header: header, data: data)
        let f = try SafetensorsFile(path: p)
        XCTAssertEqual(try f.floats("i"), [7, -3])
        XCTAssertEqual(try f.floats("d"), [0.25])
        XCTAssertEqual(try f.floats("u"), [1, 255])
        var buf = [Float](repeating: 0, count: 2)
        try buf.withUnsafeMutableBufferPointer { try f.read("i", into: $0) }
        XCTAssertEqual(buf, [7, -3])
        var wrong = [Float](repeating: 0, count: 3)
        assertCoreError("has 2 elements, destination holds 3") {
            try wrong.withUnsafeMutableBufferPointer { try f.read("i", into: $0) }
        }
        assertCoreError("no tensor named 'zz'") { _ = try f.floats("zz") }
    }

    func testUnalignedDataSectionReadsCorrectly() throws {
        // Header length 3 (not a multiple of 8): data starts at byte 11.
        let dir = try makeTempDir(self)
        let p = dir + "/u.safetensors"
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]}}"#
        var data: [UInt8] = []
        for v: Float in [1.5, -4] { withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 } }
        data += [0x40, 0x40]  // bf16 0x4040 = 3.0
        var hh = h
        while hh.utf8.count % 4 != 1 { hh += " " }
        try writeRawSafetensors(p, header: hh, data: data)
        let f = try SafetensorsFile(path: p)
        XCTAssertEqual(try f.floats("a"), [1.5, -4])
        XCTAssertEqual(try f.floats("b"), [3])
    }

    func testDataSectionNotFullyCoveredIsAllowed() throws {
        let dir = try makeTempDir(self)
        let p = dir + "/gap.safetensors"
        let h = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        try writeRawSafetensors(p, header: h, data: [0, 0, 0, 0, 0, 0, 0x80, 0x3F, 9, 9])
        XCTAssertEqual(try SafetensorsFile(path: p).floats("a"), [1])
    }

    // MARK: Malformed files, one case each

    func check(_ header: String, data: [UInt8] = [], length: UInt64? = nil, _ fragment: String,
               file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try makeTempDir(self)
        let p = dir + "/bad.safetensors"
        try writeRawSafetensors(p, header: header, data: data, length: length)
        do {
            _ = try SafetensorsFile(path: p)
            XCTFail("expected an error containing '\(fragment)'", file: file, line: line)
        } catch let e as CoreError {
            XCTAssertTrue(e.message.contains(fragment), "message '\(e.message)' lacks '\(fragment)'", file: file, line: line)
            XCTAssertEqual(e.file, p, file: file, line: line)
        }
    }

    func testFileShorterThanEightBytes() throws {
        let dir = try makeTempDir(self)
        let p = dir + "/short.safetensors"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: p))
        assertCoreError("3 bytes, shorter than the 8-byte header length") { _ = try SafetensorsFile(path: p) }
        let e = dir + "/empty.safetensors"
        try Data().write(to: URL(fileURLWithPath: e))
        assertCoreError("0 bytes, shorter than the 8-byte header length") { _ = try SafetensorsFile(path: e) }
    }

    func testMissingFile() throws {
        assertCoreError("cannot open safetensors file") { _ = try SafetensorsFile(path: "/nonexistent/x.safetensors") }
    }

    func testHeaderLengthBeyondFile() throws {
        try check("{}", length: 100, "header length 100 exceeds the 2 bytes after the length field")
    }

    func testHeaderLengthAbsurd() throws {
        try check("{}", length: 1 << 62, "larger than the 100 MB limit")
        try check("{}", length: UInt64.max, "larger than the 100 MB limit")
    }

    func testHeaderNotJSON() throws {
        try check("{\"a\": ", "header is not valid JSON")
    }

    func testHeaderNotObject() throws {
        try check("[1, 2]", "header is not a JSON object")
    }

    func testEntryNotObject() throws {
        try check(#"{"a": 5}"#, "tensor 'a': header entry is not an object")
    }

    func testEntryMissingDtype() throws {
        try check(#"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0], "tensor 'a': missing dtype")
    }

    func testEntryMissingShape() throws {
        try check(#"{"a":{"dtype":"F32","data_offsets":[0,4]}}"#, data: [0, 0, 0, 0], "tensor 'a': missing shape")
    }

    func testEntryMissingOffsets() throws {
        try check(#"{"a":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0], "tensor 'a': missing data_offsets")
    }

    func testUnknownDtype() throws {
        try check(#"{"a":{"dtype":"F8_E9","shape":[1],"data_offsets":[0,1]}}"#, data: [0], "tensor 'a': unknown dtype \"F8_E9\"")
        try check(#"{"a":{"dtype":3,"shape":[1],"data_offsets":[0,1]}}"#, data: [0], "tensor 'a': unknown dtype 3")
    }

    func testNegativeDimension() throws {
        try check(#"{"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,0]}}"#, "negative dimension -1 in shape")
    }

    func testNonIntegerDimension() throws {
        try check(#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0], "shape entry 1.5 is not an integer")
    }

    func testElementCountOverflow() throws {
        try check(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0],
                  "element count overflows")
        // Count fits but bytes overflow.
        try check(#"{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0],
                  "needs too many")
    }

    func testOffsetsMalformed() throws {
        try check(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, data: [0, 0, 0, 0], "data_offsets must be [begin, end] integers")
        try check(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":"0-4"}}"#, data: [0, 0, 0, 0], "data_offsets must be [begin, end] integers")
    }

    func testOffsetsReversed() throws {
        try check(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0], "are not ordered begin ≤ end")
        try check(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, data: [0, 0, 0, 0], "are not ordered begin ≤ end")
    }

    func testOffsetsPastDataSection() throws {
        try check(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0],
                  "data_offsets end 8 is past the data section (4 bytes)")
    }

    func testOffsetsSizeMismatch() throws {
        try check(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0, 0, 0, 0, 0],
                  "data_offsets span 4 bytes but F32 shape [2] needs 8")
    }

    func testOverlappingTensors() throws {
        try check(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                  data: [UInt8](repeating: 0, count: 8), "tensors 'a' and 'b' overlap")
    }

    func testDuplicateName() throws {
        try check(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                  data: [UInt8](repeating: 0, count: 8), "tensor 'a' appears twice")
    }

    func testBadMetadata() throws {
        try check(#"{"__metadata__":{"format":1}}"#, "__metadata__ value for 'format' is not a string")
        try check(#"{"__metadata__":[]}"#, "__metadata__ is not an object")
    }

    // MARK: Writer validation

    func testWriterRejectsWrongCountAndLeavesNoFile() throws {
        let dir = try makeTempDir(self)
        let p = dir + "/w.safetensors"
        assertCoreError("needs 4 values, got 3") {
            try writeSafetensors([SafetensorsEntry(name: "a", shape: [2, 2], values: [1, 2, 3])], to: p)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
        assertCoreError("reserved or repeated") {
            try writeSafetensors([SafetensorsEntry(name: "a", shape: [1], values: [1]),
                                  SafetensorsEntry(name: "a", shape: [1], values: [1])], to: p)
        }
        assertCoreError("can only write F32, F16 or BF16") {
            try writeSafetensors([], dtype: .i32, to: p)
        }
    }

    // MARK: Sharded checkpoints

    func writeShardedDir(index: String) throws -> String {
        let dir = try makeTempDir(self)
        try writeSafetensors([SafetensorsEntry(name: "a", shape: [1], values: [1])], to: dir + "/s1.safetensors")
        try writeSafetensors([SafetensorsEntry(name: "b", shape: [2], values: [2, 3])], to: dir + "/s2.safetensors")
        try index.write(toFile: dir + "/model.safetensors.index.json", atomically: true, encoding: .utf8)
        return dir
    }

    func testShardedIndexLoads() throws {
        let dir = try writeShardedDir(index: #"{"metadata":{},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}"#)
        let c = try SafetensorsCheckpoint(directory: dir)
        XCTAssertEqual(c.files.count, 2)
        XCTAssertEqual(c.names, ["a", "b"])
        XCTAssertEqual(try c.floats("b"), [2, 3])
    }

    func testShardedIndexRejectsEscapes() throws {
        for bad in ["../s1.safetensors", "/etc/passwd", "sub/../../x", "./s1.safetensors", ""] {
            let dir = try writeShardedDir(index: #"{"weight_map":{"a":"\#(bad)"}}"#)
            assertCoreError("is not a plain file inside the model directory") { _ = try SafetensorsCheckpoint(directory: dir) }
        }
    }

    func testShardedIndexMissingShard() throws {
        let dir = try writeShardedDir(index: #"{"weight_map":{"a":"s1.safetensors","b":"s9.safetensors"}}"#)
        assertCoreError("shard 's9.safetensors' listed in the index does not exist") { _ = try SafetensorsCheckpoint(directory: dir) }
    }

    func testShardedIndexOnlyNamesShardFiles() throws {
        // As transformers: the index finds the shard files; the tensors come from the shards.
        var dir = try writeShardedDir(index: #"{"weight_map":{"a":"s2.safetensors"}}"#)
        XCTAssertEqual(try SafetensorsCheckpoint(directory: dir).names, ["b"])
        // A tensor the index does not list is still loaded from a listed shard.
        dir = try writeShardedDir(index: #"{"weight_map":{"a":"s1.safetensors","x":"s2.safetensors"}}"#)
        let c = try SafetensorsCheckpoint(directory: dir)
        XCTAssertEqual(c.names, ["a", "b"])
        XCTAssertEqual(try c.floats("b"), [2, 3])
    }

    func testShardedIndexDuplicateTensorNamesBothShards() throws {
        let dir = try writeShardedDir(index: #"{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","c":"s3.safetensors"}}"#)
        try writeSafetensors([SafetensorsEntry(name: "a", shape: [1], values: [5])], to: dir + "/s3.safetensors")
        assertCoreError("tensor 'a' is stored in two shards, '\(dir)/s1.safetensors' and '\(dir)/s3.safetensors'") {
            _ = try SafetensorsCheckpoint(directory: dir)
        }
    }

    func testShardedIndexMalformed() throws {
        var dir = try writeShardedDir(index: #"{"weights":{}}"#)
        assertCoreError("missing object \"weight_map\"") { _ = try SafetensorsCheckpoint(directory: dir) }
        dir = try writeShardedDir(index: #"{"weight_map":{"a":1}}"#)
        assertCoreError("weight_map entry for 'a' is not a file name") { _ = try SafetensorsCheckpoint(directory: dir) }
        dir = try writeShardedDir(index: "{")
        assertCoreError("not valid JSON") { _ = try SafetensorsCheckpoint(directory: dir) }
    }

    func testNoWeightsFile() throws {
        let dir = try makeTempDir(self)
        assertCoreError("missing model.safetensors") { _ = try SafetensorsCheckpoint(directory: dir) }
    }
}
