import Foundation
import XCTest
@testable import KECore

/// Per-layer coefficient summaries and checkpoint series.
final class InspectCoefficientsTests: XCTestCase {

    func testGini() {
        // Gini of equal values in Double: 2·Σ i·x / (n·s) − (n+1)/n cancels to within a few ulps of 0
        XCTAssertEqual(giniCoefficient([1, 1, 1, 1]), 0, accuracy: 1e-12)
        XCTAssertEqual(giniCoefficient([0, 0, 0, 1]), 0.75, accuracy: 1e-12)  // (n − 1) / n
        // Brute force Σ|xi − xj| / (2 n² mean) on an uneven vector.
        let x: [Double] = [0.3, 2, 0, 5, 1.25, 0.7]
        var s = 0.0
        for a in x { for b in x { s += abs(a - b) } }
        let n = Double(x.count)
        // Two Double formulas over 6 values: a few ulps of a result ≈ 0.5
        XCTAssertEqual(giniCoefficient(x), s / (2 * n * n * (x.reduce(0, +) / n)), accuracy: 1e-12)
        XCTAssertEqual(giniCoefficient([]), 0)
        XCTAssertEqual(giniCoefficient([0, 0]), 0)
    }

    func testLayerSummaryOfAKnownVector() {
        // 200 memories: one holds 100, one holds 50, 150 hold 1, 48 hold 0.001.
        var m = [Double](repeating: 1, count: 200)
        m[7] = 100; m[9] = 50
        for i in 152..<200 { m[i] = 0.001 }
        let s = LayerCoefficientSummary(mean: m)
        let total = m.reduce(0, +)
        XCTAssertEqual(s.top1Share, 150 / total, accuracy: 1e-12)  // top 1 % of 200 = 2 memories
        // layer mean ≈ 1.5; 1 % of it ≈ 0.015 > 0.001: the 48 small ones are silent.
        XCTAssertEqual(s.silent, 48)
        let p = m.map { $0 / total }
        let h = -p.reduce(0) { $0 + $1 * log($1) }
        // Double entropy of 200 probabilities summed in another order: a few ulps (~1e-15)
        XCTAssertEqual(s.entropy, h, accuracy: 1e-12)
        // The same entropy divided by log 200 in Double: a few ulps
        XCTAssertEqual(s.normalizedEntropy, h / log(200), accuracy: 1e-12)
        XCTAssertEqual(s.gini, giniCoefficient(m))
        XCTAssertEqual(s.mean, m)
        // Small layers still count one top memory; an all-zero layer is defined, not NaN.
        XCTAssertEqual(LayerCoefficientSummary(mean: [1, 3]).top1Share, 0.75)
        let z = LayerCoefficientSummary(mean: [0, 0, 0])
        XCTAssertEqual(z.entropy, 0); XCTAssertEqual(z.gini, 0); XCTAssertEqual(z.top1Share, 0)
        XCTAssertEqual(z.silent, 0)
    }

    func testSummaryMatchesTransformersEntropy() throws {
        for name in ["olmo", "neox", "gpt2"] {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let exp = try Fixtures.expected(name)
            let corpus = Corpus(documents: Fixtures.docs(exp), source: "fixture")
            let s = try coefficientSummary(of: model, on: corpus)
            XCTAssertEqual(s.tokens, exp["entropy"]?["tokens"]?.intValue)
            let want = exp["entropy"]?["layers"]?.doubles ?? []
            XCTAssertEqual(s.layers.count, want.count)
            let F = Double(model.config.intermediateSize)
            for (l, (got, w)) in zip(s.layers, want).enumerated() {
                // Per-layer entropy from means agreeing with HF's to ~1e-7 relative: ~1e-8, held to 1e-5 relative
                XCTAssertEqual(got.entropy, w, accuracy: 1e-5 * w, "\(name) layer \(l)")
                // normalized ≤ 1: the same ~1e-8 agreement, held to 1e-5 absolute
                XCTAssertEqual(got.normalizedEntropy, w / log(F), accuracy: 1e-5, name)
                let hf = try Fixtures.arrays(name).floats("coef_means.\(l)").map(Double.init)
                // Double means of float32 |coef| (≤ 1.3) vs HF's means rounded to float32 (ulp ≤ 1.2e-7): ~1e-7; 1e-5
                XCTAssertLessThan(maxAbsDiff(got.mean, hf), 1e-5, name)
                XCTAssertEqual(got.top1Share, (hf.max() ?? 0) / hf.reduce(0, +), accuracy: 1e-5, name)  // F < 200: 1 memory
                XCTAssertGreaterThan(got.gini, 0); XCTAssertLessThan(got.gini, 1)
            }
            // The percentile profile: rows per layer, descending, averaging the sorted means.
            let prof = s.percentileProfile(bins: 8)
            XCTAssertEqual(prof.count, model.config.numLayers)
            for (row, layer) in zip(prof, s.layers) {
                XCTAssertEqual(row.count, 8)
                XCTAssertEqual(row, row.sorted(by: >))
                // Two Double sums of the same ≤ 256 means in different groupings: ~1e-14 relative.
                XCTAssertEqual(row.reduce(0, +) / 8, layer.mean.reduce(0, +) / F, accuracy: 1e-9)
            }
        }
    }

    func testPercentileBands() {
        XCTAssertEqual(percentileBands([6, 5, 4, 3, 2, 1], bins: 3), [5.5, 3.5, 1.5])
        XCTAssertEqual(percentileBands([3, 2], bins: 5), [3, 2])
        XCTAssertEqual(percentileBands([], bins: 5), [])
        XCTAssertEqual(percentileBands([4, 3, 2, 1, 0], bins: 2), [3.5, 1])  // bands of 2 and 3
    }

    // MARK: Checkpoint series

    func testSeriesOrderAndEntropyMatchRecording() throws {
        let dir = Fixtures.root + "/series"
        let exp = try JSONValue.parse(bytes: readFileBytes(dir + "/expected.json"))
        let series = try CheckpointSeries(directory: dir)
        XCTAssertEqual(series.checkpoints.map(\.name), exp["folders"]?.arrayValue?.compactMap(\.stringValue))
        XCTAssertEqual(series.steps, (exp["order"]?.arrayValue ?? []).map(\.intValue))
        XCTAssertEqual(series.checkpoints.first?.config.intermediateSize, 32)
        let texts = try Corpus.readDocuments(path: Fixtures.root + "/corpus.txt")
        let results = try series.entropy(corpus: { try Corpus(texts: texts, tokenizer: $0, source: "corpus") })
        let want = exp["checkpoints"]?.arrayValue ?? []
        XCTAssertEqual(results.count, 5)
        for (r, w) in zip(results, want) {
            XCTAssertEqual(r.step, w["step"]?.intValue)
            // Series entropies (≈ 7) from float32 forwards vs HF's: ~1e-8 like the fixture models, held to 1e-5
            XCTAssertEqual(r.total, try XCTUnwrap(w["entropy"]?["total"]?.doubleValue), accuracy: 1e-5)
            XCTAssertEqual(r.tokens, w["entropy"]?["tokens"]?.intValue)
        }
        let m = try series.model(at: 2)
        XCTAssertEqual(m.step, 1000)
        XCTAssertThrowsError(try series.model(at: 5))
    }

    func testSeriesIsLazyAndListsUnsteppedLast() throws {
        let fm = FileManager.default
        let tmp = NSTemporaryDirectory() + "ke-inspect-series-\(getpid())"
        defer { try? fm.removeItem(atPath: tmp) }
        try? fm.removeItem(atPath: tmp)
        let src = Fixtures.root + "/series/step1000"
        for name in ["final", "step-20", "checkpoint-3", "step20-tokens1B"] {
            try fm.createDirectory(atPath: tmp + "/" + name, withIntermediateDirectories: true)
            for f in ["config.json", "tokenizer.json"] {
                try fm.copyItem(atPath: src + "/" + f, toPath: tmp + "/" + name + "/" + f)
            }
            // Weights that cannot be read: only a use of the checkpoint may notice.
            try Data("not safetensors".utf8).write(to: URL(fileURLWithPath: tmp + "/" + name + "/model.safetensors"))
        }
        try fm.createDirectory(atPath: tmp + "/notes", withIntermediateDirectories: true)  // no config.json
        try Data().write(to: URL(fileURLWithPath: tmp + "/README.md"))
        let series = try CheckpointSeries(directory: tmp + "/")
        XCTAssertEqual(series.checkpoints.map(\.name), ["checkpoint-3", "step-20", "step20-tokens1B", "final"])
        XCTAssertEqual(series.steps, [3, 20, 20, nil])
        XCTAssertThrowsError(try series.model(at: 0))
        XCTAssertThrowsError(try CheckpointSeries(directory: tmp + "/notes")) { e in
            XCTAssertTrue("\(e)".contains("no checkpoint folders"), "\(e)")
        }
        XCTAssertThrowsError(try CheckpointSeries(directory: tmp + "/missing"))
    }
}
