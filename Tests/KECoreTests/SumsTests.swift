import Foundation
import XCTest
@testable import KECore

/// Exact coefficient sums: shard + merge equals one pass, files round-trip, merge refuses bad sets.
final class SumsTests: XCTestCase {
    func testSHA256() {
        var h = SHA256Hasher()
        h.update(Array("abc".utf8))
        XCTAssertEqual(h.hexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var long = SHA256Hasher()
        long.update([UInt8](repeating: 0x61, count: 1000))
        XCTAssertEqual(long.hexDigest(), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    private func fixture() throws -> (Model, Corpus) {
        let model = try Model.load(directory: Fixtures.modelDir("olmo"))
        let corpus = try Corpus.load(path: Fixtures.root + "/corpus.txt", tokenizer: model.tokenizer)
        return (model, corpus)
    }

    func testShardsMergeToTheOnePassBitForBit() throws {
        let (model, corpus) = try fixture()
        let one = try coefficientStatistics(of: model, on: corpus)
        for n in [1, 2, 3, 5] {
            let files = try (0..<n).reversed().map { i in
                SumsFile(path: "s\(i)", sums: try coefficientSums(of: model, on: corpus, shard: i, of: n))
            }
            let merged = try mergeShards(files)
            XCTAssertNil(merged.shard)
            XCTAssertEqual(merged.tokens, corpus.tokenCount)
            let stats = try merged.statistics()
            XCTAssertEqual(stats.means, one.means, "\(n) shards")
            XCTAssertEqual(try knowledgeEntropy(from: stats).total, try knowledgeEntropy(from: one).total)
        }
    }

    func testFileRoundTripAndNoOverwrite() throws {
        let (model, corpus) = try fixture()
        let s = try coefficientSums(of: model, on: corpus, shard: 1, of: 2)
        let dir = NSTemporaryDirectory() + "ke-sums-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/s.safetensors"
        try s.write(to: path)
        let back = try CoefficientSums.read(from: path)
        XCTAssertEqual(back.sums, s.sums)
        XCTAssertEqual(back.tokens, s.tokens)
        XCTAssertEqual(back.shard, 1)
        XCTAssertEqual(back.shards, 2)
        XCTAssertEqual(back.model, s.model)
        XCTAssertEqual(back.corpus, s.corpus)
        let f = try SafetensorsFile(path: path)
        XCTAssertEqual(f.info("sums")?.dtype, .f64)
        XCTAssertEqual(f.info("sums")?.shape, [model.config.numLayers, model.config.intermediateSize])
        XCTAssertThrowsError(try s.write(to: path)) { XCTAssertTrue("\($0)".contains("never overwritten"), "\($0)") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["s.safetensors"])
    }

    func testMergeRefusals() throws {
        let (model, corpus) = try fixture()
        let s0 = try coefficientSums(of: model, on: corpus, shard: 0, of: 3)
        let s1 = try coefficientSums(of: model, on: corpus, shard: 1, of: 3)
        let s2 = try coefficientSums(of: model, on: corpus, shard: 2, of: 3)
        func refuses(_ files: [SumsFile], _ words: [String]) {
            XCTAssertThrowsError(try mergeShards(files)) { e in
                for w in words { XCTAssertTrue("\(e)".contains(w), "'\(e)' lacks '\(w)'") }
            }
        }
        refuses([SumsFile(path: "a", sums: s0), SumsFile(path: "c", sums: s2)], ["missing shard 1 of 3"])
        refuses([SumsFile(path: "a", sums: s0), SumsFile(path: "b", sums: s1), SumsFile(path: "b2", sums: s1),
                 SumsFile(path: "c", sums: s2)], ["shard 1 of 3 appears twice", "b", "b2"])
        var foreign = s1
        foreign.model = "0000000000000000"
        refuses([SumsFile(path: "a", sums: s0), SumsFile(path: "x", sums: foreign), SumsFile(path: "c", sums: s2)],
                ["different models", "x"])
        var otherCorpus = s1
        otherCorpus.corpus = "1111111111111111"
        refuses([SumsFile(path: "a", sums: s0), SumsFile(path: "y", sums: otherCorpus)], ["different corpora", "y"])
        let half = try coefficientSums(of: model, on: corpus, shard: 1, of: 2)
        refuses([SumsFile(path: "a", sums: s0), SumsFile(path: "h", sums: half)], ["different shard counts", "h"])
    }

    func testRescaleFromSumsEqualsRescaleOnCorpus() throws {
        let (model, corpus) = try fixture()
        let merged = try mergeShards(try (0..<2).map { SumsFile(path: "\($0)", sums: try coefficientSums(of: model, on: corpus, shard: $0, of: 2)) })
        let a = try model.rescaled(bottom: 0.5, by: 2, on: corpus)
        let b = try model.rescaled(bottom: 0.5, by: 2, stats: try merged.statistics(), source: "sums")
        XCTAssertEqual(a.f32Parameters().data, b.f32Parameters().data)
    }
    // MARK: Fingerprints cover every weight byte (issue 30)

    /// Two copies of the fixture model differing in one weight byte that lies between the 16
    /// pages the former fingerprint sampled: their model and weights fingerprints differ, and
    /// `merge` refuses shards of one with shards of the other.
    func testFingerprintCoversEveryWeightByte() throws {
        let src = Fixtures.modelDir("olmo")
        let root = try makeTempDir(self)
        let a = root + "/a", b = root + "/b"
        for dir in [a, b] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for f in ["config.json", "tokenizer.json", "model.safetensors"] {
                try FileManager.default.copyItem(atPath: src + "/" + f, toPath: dir + "/" + f)
            }
        }
        XCTAssertEqual(try weightsFingerprint(directory: a), try weightsFingerprint(directory: b))
        let path = b + "/model.safetensors"
        var bytes = try readFileBytes(path)
        var n = 0
        for k in 0..<8 { n |= Int(bytes[k]) << (8 * k) }
        let headerEnd = 8 + n, size = bytes.count, dataBytes = size - headerEnd
        // The pages the sampling rule read: 16 of 4 KiB spread evenly over the data.
        let sampled = (0..<16).map { k -> Range<Int> in
            let start = min(headerEnd + Int(Double(dataBytes - 1) * Double(k) / 15), max(headerEnd, size - 4096))
            return start..<min(size, start + 4096)
        }
        var target = (sampled[7].upperBound + sampled[8].lowerBound) / 2
        target -= (target - headerEnd) % 4                  // the low mantissa byte of an F32
        XCTAssertFalse(sampled.contains { $0.contains(target) }, "the byte lies between sampled pages")
        bytes[target] ^= 0x01
        try writeFileBytes(bytes, to: path)

        let ma = try Model.load(directory: a), mb = try Model.load(directory: b)
        XCTAssertNotEqual(try modelFingerprint(ma), try modelFingerprint(mb))
        XCTAssertNotEqual(try weightsFingerprint(directory: a), try weightsFingerprint(directory: b))
        let corpus = try Corpus.load(path: Fixtures.root + "/corpus.txt", tokenizer: ma.tokenizer)
        let shards = [SumsFile(path: "a.sums", sums: try coefficientSums(of: ma, on: corpus, shard: 0, of: 2)),
                      SumsFile(path: "b.sums", sums: try coefficientSums(of: mb, on: corpus, shard: 1, of: 2))]
        XCTAssertThrowsError(try mergeShards(shards))
    }

    /// `fileSHA256` is SHA-256 of the whole file, and a file rewritten in place is hashed again.
    func testFileSHA256FollowsTheFile() throws {
        let path = try makeTempDir(self) + "/f.bin"
        try writeFileBytes(Array("abc".utf8), to: path)
        XCTAssertEqual(try fileSHA256(path), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(try fileSHA256(path), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        try writeFileBytes(Array("abd".utf8), to: path)
        XCTAssertNotEqual(try fileSHA256(path), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        assertNamedError(path + ".missing", "cannot open") { _ = try fileSHA256(path + ".missing") }
        let fifo = path + ".fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        assertNamedError(fifo, "not a regular file") { _ = try fileSHA256(fifo) }
    }

}
