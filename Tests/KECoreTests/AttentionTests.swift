import XCTest
@testable import KECore

/// Causal attention computed block by block over the unmasked keys only (Attention.swift) gives
/// the bits of the full T × T formulation it replaced, forward and backward: documents of
/// ragged lengths packed together (1, 5, 64, 200: not multiples of the block), grouped key/value
/// heads, a sliding window, GPT-2's layer-index scaling, inputs with signed zeros, and the
/// key/value-cache forward at several first positions.
final class AttentionTests: XCTestCase {
    /// Heads, key/value heads, head dim, sliding window, layer (scales by 1/(l+1) when set).
    struct Shape { let heads, kvHeads, headDim: Int; var window: Int? = nil; var layerScaled = false }

    func layout(_ s: Shape) throws -> AttentionLayout {
        var c = try ModelConfig(huggingFaceJSON: #"{"model_type":"llama","hidden_size":\#(s.heads * s.headDim),"num_attention_heads":\#(s.heads),"num_key_value_heads":\#(s.kvHeads),"head_dim":\#(s.headDim),"num_hidden_layers":3,"intermediate_size":8,"vocab_size":7}"#)
        c.slidingWindows = [s.window, s.window, s.window]
        c.scaleAttentionByInverseLayerIndex = s.layerScaled
        return AttentionLayout(c, layer: 2)
    }

    /// `n` values, roughly N(0, σ²); with `zeros`, about a third are +0 or −0.
    func values(_ n: Int, _ rng: inout TestRNG, sigma: Float = 2, zeros: Bool) -> [Float] {
        (0..<n).map { _ in
            let x = rng.normal() * sigma
            guard zeros else { return x }
            switch rng.next() % 6 { case 0: return 0; case 1: return -0.0; default: return x }
        }
    }

    // MARK: The full T × T formulation (the code before the masked half was skipped)

    func referenceForward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                          out: UnsafeMutablePointer<Float>, batch: PackedBatch, layout L: AttentionLayout,
                          probs: UnsafeMutablePointer<Float>, probOffsets: [Int]) {
        for (d, start) in batch.starts.enumerated() {
            let T = batch.lengths[d]
            for h in 0..<L.heads {
                let s = probs + probOffsets[d] + h * T * T
                sgemm(transB: true, m: T, n: T, k: L.headDim, alpha: L.scale, a: q + L.q(start, h), lda: L.qStride,
                      b: k + L.kv(start, h), ldb: L.kvStride, c: s, ldc: T)
                for i in 0..<T { maskedSoftmax(s + i * T, width: T, lo: L.firstVisible(i), hi: i) }
                sgemm(m: T, n: L.headDim, k: T, a: s, lda: T, b: v + L.kv(start, h), ldb: L.kvStride,
                      c: out + L.q(start, h), ldc: L.qStride)
            }
        }
    }

    func referenceBackward(dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                           probs: UnsafePointer<Float>, probOffsets: [Int], batch: PackedBatch, layout L: AttentionLayout,
                           dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                           dP: UnsafeMutablePointer<Float>) {
        let hd = L.headDim, qs = L.qStride, kvs = L.kvStride
        for (d, start) in batch.starts.enumerated() {
            let T = batch.lengths[d]
            for h in 0..<L.heads {
                let P = probs + probOffsets[d] + h * T * T
                let qo = L.q(start, h), kvo = L.kv(start, h)
                sgemm(transB: true, m: T, n: T, k: hd, a: dOut + qo, lda: qs, b: v + kvo, ldb: kvs, c: dP, ldc: T)
                sgemm(transA: true, m: T, n: hd, k: T, a: P, lda: T, b: dOut + qo, ldb: qs, beta: 1, c: dv + kvo, ldc: kvs)
                for i in 0..<T {
                    let pr = P + i * T, gr = dP + i * T, lo = L.firstVisible(i)
                    var dot: Float = 0
                    for j in lo...i { dot += pr[j] * gr[j] }
                    for j in 0..<lo { gr[j] = 0 }
                    for j in lo...i { gr[j] = pr[j] * (gr[j] - dot) }
                    for j in (i + 1)..<T { gr[j] = 0 }
                }
                sgemm(m: T, n: hd, k: T, alpha: L.scale, a: dP, lda: T, b: k + kvo, ldb: kvs, c: dq + qo, ldc: qs)
                sgemm(transA: true, m: T, n: hd, k: T, alpha: L.scale, a: dP, lda: T, b: q + qo, ldb: qs,
                      beta: 1, c: dk + kvo, ldc: kvs)
            }
        }
    }

    // MARK: Comparison

    func assertSameBits(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let differ = zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count
        XCTAssertEqual(differ, 0, "\(what): \(differ) of \(a.count) values differ in their bits", file: file, line: line)
    }

    /// Forward and backward of documents of `lengths` packed together, new against reference:
    /// the kept probabilities, out, dq, dk and dv bit for bit.
    func comparePacked(_ lengths: [Int], _ shape: Shape, zeros: Bool = false, seed: UInt64 = 1) throws {
        let L = try layout(shape)
        var rng = TestRNG(seed)
        let batch = PackedBatch(documents: lengths.map { Array(repeating: 0, count: $0) })
        let N = batch.count, qDim = L.qStride, kvDim = L.kvStride
        let q = values(N * qDim, &rng, zeros: zeros), k = values(N * kvDim, &rng, zeros: zeros)
        let v = values(N * kvDim, &rng, zeros: zeros), dOut = values(N * qDim, &rng, sigma: 1, zeros: zeros)
        var offsets: [Int] = [], total = 0
        for T in lengths { offsets.append(total); total += L.heads * T * T }
        let maxT = batch.maxLength
        // Probabilities start as NaN: the new path must not read what it does not write.
        var probs = ([Float](repeating: .nan, count: total), [Float](repeating: .nan, count: total))
        var out = ([Float](repeating: 0, count: N * qDim), [Float](repeating: 0, count: N * qDim))
        var dq = out, dk = ([Float](repeating: 0, count: N * kvDim), [Float](repeating: 0, count: N * kvDim)), dv = dk
        var scratch = [Float](repeating: .nan, count: maxT * maxT)
        q.withUnsafeBufferPointer { q in k.withUnsafeBufferPointer { k in v.withUnsafeBufferPointer { v in
            dOut.withUnsafeBufferPointer { dO in scratch.withUnsafeMutableBufferPointer { sc in
                let (q, k, v, dO, sc) = (q.baseAddress!, k.baseAddress!, v.baseAddress!, dO.baseAddress!, sc.baseAddress!)
                referenceForward(q: q, k: k, v: v, out: &out.0, batch: batch, layout: L, probs: &probs.0, probOffsets: offsets)
                attentionForward(q: q, k: k, v: v, out: &out.1, batch: batch, layout: L, scratch: sc, probs: &probs.1,
                                 probOffsets: offsets)
                referenceBackward(dOut: dO, q: q, k: k, v: v, probs: probs.0, probOffsets: offsets, batch: batch, layout: L,
                                  dq: &dq.0, dk: &dk.0, dv: &dv.0, dP: sc)
                sc.update(repeating: .nan, count: maxT * maxT)
                attentionBackward(dOut: dO, q: q, k: k, v: v, probs: probs.1, probOffsets: offsets, batch: batch, layout: L,
                                  dq: &dq.1, dk: &dk.1, dv: &dv.1, scratch: sc)
            } }
        } } }
        let what = "lengths \(lengths), \(shape), zeros \(zeros)"
        // The kept probabilities (j ≤ i) agree too.
        var kept = ([Float](), [Float]())
        for (d, T) in lengths.enumerated() {
            for h in 0..<L.heads { for i in 0..<T { for j in 0...i {
                let o = offsets[d] + h * T * T + i * T + j
                kept.0.append(probs.0[o]); kept.1.append(probs.1[o])
            } } }
        }
        assertSameBits(kept.0, kept.1, "probabilities, " + what)
        assertSameBits(out.0, out.1, "out, " + what)
        assertSameBits(dq.0, dq.1, "dq, " + what)
        assertSameBits(dk.0, dk.1, "dk, " + what)
        assertSameBits(dv.0, dv.1, "dv, " + what)
        XCTAssertFalse(out.1.contains { !$0.isFinite } || dq.1.contains { !$0.isFinite } || dk.1.contains { !$0.isFinite },
                       "non-finite result, " + what)
        XCTAssertTrue(dv.1.contains { $0 != 0 }, "no gradient reached v, " + what)
        // A one-token document's only score has gradient 0 (its softmax is constant).
        if lengths.contains(where: { $0 > 1 }) { XCTAssertTrue(dk.1.contains { $0 != 0 }, "no gradient reached k, " + what) }
    }

    func testPackedDocumentsMatchFullProducts() throws {
        let plain = Shape(heads: 4, kvHeads: 4, headDim: 16)
        for lengths in [[1], [5], [64], [200], [37, 1, 64, 5, 17, 16, 33]] {
            try comparePacked(lengths, plain)
        }
    }

    func testGroupedHeadsWindowsAndScalingMatchFullProducts() throws {
        let shapes = [Shape(heads: 4, kvHeads: 2, headDim: 8), Shape(heads: 6, kvHeads: 1, headDim: 64),
                      Shape(heads: 4, kvHeads: 2, headDim: 16, window: 7), Shape(heads: 2, kvHeads: 2, headDim: 12, window: 40),
                      Shape(heads: 3, kvHeads: 3, headDim: 16, layerScaled: true)]
        for (i, shape) in shapes.enumerated() {
            try comparePacked([70, 3, 129, 48], shape, seed: UInt64(10 + i))
        }
    }

    func testSignedZerosMatchFullProducts() throws {
        try comparePacked([64, 21, 97], Shape(heads: 4, kvHeads: 2, headDim: 16), zeros: true, seed: 7)
        try comparePacked([33, 200], Shape(heads: 2, kvHeads: 1, headDim: 8, window: 9), zeros: true, seed: 8)
    }

    /// The key/value-cache forward: M rows at positions p0… over p0 + M keys, against the full
    /// M × (p0 + M) scores of the code it replaced.
    func testCachedRowsMatchFullProducts() throws {
        for (p0, M, shape) in [(0, 64, Shape(heads: 4, kvHeads: 2, headDim: 16)), (0, 77, Shape(heads: 2, kvHeads: 2, headDim: 8)),
                               (20, 13, Shape(heads: 4, kvHeads: 1, headDim: 16)), (131, 1, Shape(heads: 2, kvHeads: 2, headDim: 16)),
                               (5, 40, Shape(heads: 2, kvHeads: 1, headDim: 8, window: 11))] {
            let L = try layout(shape)
            var rng = TestRNG(UInt64(100 + p0 + M))
            let P = p0 + M
            let q = values(M * L.qStride, &rng, zeros: false)
            let keys = values(P * L.kvStride, &rng, zeros: false), vals = values(P * L.kvStride, &rng, zeros: false)
            var expected = [Float](repeating: 0, count: M * L.qStride), got = expected
            var scores = [Float](repeating: .nan, count: M * P)
            q.withUnsafeBufferPointer { qb in keys.withUnsafeBufferPointer { kb in vals.withUnsafeBufferPointer { vb in
                scores.withUnsafeMutableBufferPointer { sb in expected.withUnsafeMutableBufferPointer { eb in
                    let (q, k, v, s, e) = (qb.baseAddress!, kb.baseAddress!, vb.baseAddress!, sb.baseAddress!, eb.baseAddress!)
                    for h in 0..<L.heads {
                        sgemm(transB: true, m: M, n: P, k: L.headDim, alpha: L.scale, a: q + L.q(0, h), lda: L.qStride,
                              b: k + L.kv(0, h), ldb: L.kvStride, c: s, ldc: P)
                        for i in 0..<M { maskedSoftmax(s + i * P, width: P, lo: L.firstVisible(p0 + i), hi: p0 + i) }
                        sgemm(m: M, n: L.headDim, k: P, a: s, lda: P, b: v + L.kv(0, h), ldb: L.kvStride,
                              c: e + L.q(0, h), ldc: L.qStride)
                    }
                    s.update(repeating: .nan, count: M * P)
                    attentionForward(q: q, keys: k, values: v, firstPosition: p0, rows: M, out: &got, layout: L, scores: s)
                } }
            } } }
            assertSameBits(expected, got, "cached rows p0 \(p0), M \(M), \(shape)")
        }
    }
}
