import XCTest
@testable import KECore

/// The formats' one byte reader and their typed errors (file + byte offset).
final class ByteCursorTests: XCTestCase {

    func testReadsLittleEndianValuesAndAdvances() throws {
        // 0x0201, 0x06050403, -2 (i32), 1.0 as f16 (0x3C00), 1.0 as bf16 (0x3F80), 0.5 as f32, a string.
        let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0xFE, 0xFF, 0xFF, 0xFF, 0x00, 0x3C, 0x80, 0x3F,
                              0x00, 0x00, 0x00, 0x3F] + Array("hey".utf8)
        try bytes.withUnsafeBytes { raw in
            var r = ByteCursor<GGUFFormat>(raw, file: "x.bin")
            XCTAssertEqual(try r.u16(), 0x0201)
            XCTAssertEqual(try r.u32(), 0x0605_0403)
            XCTAssertEqual(try r.i32(), -2)
            XCTAssertEqual(try r.f16(), 1.0)
            XCTAssertEqual(try r.bf16(), 1.0)
            XCTAssertEqual(try r.f32(), 0.5)
            XCTAssertEqual(r.position, 18)
            XCTAssertEqual(try r.string(length: 3), "hey")
            XCTAssertTrue(r.isAtEnd)
            // Reads at an offset do not move the cursor.
            XCTAssertEqual(try r.uint(8, at: 0), 0xFFFE_0605_0403_0201)
            XCTAssertEqual(r.position, 21)
        }
    }

    func testTruncationNamesTheFieldsOffsetAndLeavesThePosition() throws {
        let bytes: [UInt8] = [1, 2, 3]
        try bytes.withUnsafeBytes { raw in
            var r = ByteCursor<PickleFormat>(raw, file: "x.pkl")
            XCTAssertEqual(try? r.u8(), 1)
            XCTAssertThrowsError(try r.u32()) { e in
                let f = e as? PickleError
                XCTAssertEqual(f?.offset, 1)
                XCTAssertEqual(f?.file, "x.pkl")
                XCTAssertEqual(f?.coreError.description, "x.pkl: pickle: truncated: a 4-byte field is past the end (3 bytes) at byte 1")
            }
            XCTAssertEqual(r.position, 1)
            // A hostile length cannot overflow the bounds check.
            XCTAssertThrowsError(try r.skip(Int.max))
            XCTAssertThrowsError(try r.take(-1))
            XCTAssertThrowsError(try r.uint(2, at: Int.max))
        }
    }

    func testSixtyFourBitOffsetsMustFitInInt() throws {
        let bytes = [UInt8](repeating: 0xFF, count: 8)
        try bytes.withUnsafeBytes { raw in
            let r = ByteCursor<ZipFormat>(raw, file: "x.zip")
            XCTAssertThrowsError(try r.int64(at: 0, what: "ZIP64 size")) { e in
                XCTAssertEqual((e as? ZipError)?.coreError.message, "ZIP64 size \(UInt64.max) is too large at byte 0")
            }
        }
    }

    func testFirstOverlapIgnoresEmptyExtents() {
        let extents = [10..<20, 15..<15, 0..<10, 20..<30]
        XCTAssertNil(firstOverlap(extents) { $0 })
        let overlapping = [0..<10, 20..<30, 9..<12]
        XCTAssertEqual(firstOverlap(overlapping) { $0 }.map { [$0.0, $0.1] }, [0..<10, 9..<12])
    }

    /// GGUF header errors name the byte where the bad field starts.
    func testGGUFErrorsNameTheByte() throws {
        typealias G = ReliabilityFormatsTests.GGUFBuilder
        let path = try makeTempDir(self) + "/model.gguf"
        func check(_ bytes: [UInt8], _ fragment: String, line: UInt = #line) throws {
            try writeFileBytes(bytes, to: path)
            assertNamedError(path, fragment, line: line) { _ = try GGUFFile(path: path) }
        }
        var g = G(); g.version = 1
        try check(g.bytes(), "GGUF version 1 is not supported (only 2 and 3) at byte 4")
        var b = G().bytes(); b[15] = 0x10
        try check(b, "is larger than the rest of the file can hold at byte 8")   // tensor count: u64 at 8
        // magic 4 + version 4 + counts 16 = 24; key "k" is 8 + 1 bytes; its type is at 33.
        g = G(); g.kv = G.str("k") + G.le(77, 4); g.kvCount = 1
        try check(g.bytes(), "unknown metadata value type 77 at byte 33")
    }

    /// Zip and pickle errors name the byte too.
    func testZipAndPickleErrorsNameTheByte() throws {
        let path = try makeTempDir(self) + "/model.pt"
        // A refused opcode (INST, 0x69) right after PROTO 2: at byte 2.
        try writeFileBytes([0x80, 0x02, 0x69], to: path)
        assertNamedError(path, "refusing opcode INST (0x69): not used by a plain state dict at byte 2") {
            _ = try [UInt8]([0x80, 0x02, 0x69]).withUnsafeBytes { try readRestrictedPickle($0, file: path) }
        }
        // An end record alone claiming one entry: its central directory cannot hold it.
        var eocd: [UInt8] = [0x50, 0x4B, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)
        eocd[10] = 1
        try writeFileBytes(eocd, to: path)
        assertNamedError(path, "claims 1 entries") { _ = try ZipArchive(path: path) }
    }
}
