import Foundation

// MARK: Token embedding and output head, forward and backward
//
// x = embed[token] (+ pos_embed[position]) (· √D for Gemma); logits = norm(x) · Eᵀ with E the
// output embedding (`lm_head`, or `embed` when tied).

/// x[r] = embed[tokens[r]] (+ pos_embed[positions[r]]), times the embedding scale when the
/// architecture has one. x [N, D]; `rowScratch` holds D floats.
func embeddingForward(
    _ c: ModelConfig, embed: MatrixWeights, posEmbed: MatrixWeights?, tokens: UnsafePointer<Int32>,
    positions: UnsafePointer<Int32>, rows N: Int, into x: UnsafeMutablePointer<Float>,
    rowScratch: UnsafeMutablePointer<Float>
) {
    let D = c.hiddenSize
    for r in 0..<N {
        let xr = x + r * D
        embed.row(Int(tokens[r]), width: D, into: xr)
        if let pe = posEmbed {
            pe.row(Int(positions[r]), width: D, into: rowScratch)
            for j in 0..<D { xr[j] += rowScratch[j] }
        }
        if let s = c.embeddingScale {
            for j in 0..<D { xr[j] *= s }
        }
    }
}

/// Backward of `embeddingForward`: dEmbed[tokens[r]] += dx[r]·scale, dPos[positions[r]] += dx[r].
/// The row of `paddingIndex` gets no gradient (`nn.Embedding(padding_idx:)`).
func embeddingBackward(
    _ c: ModelConfig, dx: UnsafePointer<Float>, tokens: UnsafePointer<Int32>, positions: UnsafePointer<Int32>,
    rows N: Int, dEmbed: UnsafeMutablePointer<Float>, dPosEmbed: UnsafeMutablePointer<Float>?
) {
    let D = c.hiddenSize
    for r in 0..<N {
        let dr = dx + r * D
        let t = Int(tokens[r])
        if t != c.paddingIndex {
            let er = dEmbed + t * D
            if let s = c.embeddingScale {
                for j in 0..<D { er[j] += dr[j] * s }
            } else {
                for j in 0..<D { er[j] += dr[j] }
            }
        }
        if let gp = dPosEmbed {
            let pr = gp + Int(positions[r]) * D
            for j in 0..<D { pr[j] += dr[j] }
        }
    }
}

/// Validates a batch against the configuration: token ids inside the vocabulary, documents
/// within learned positions, heads that group over the key/value heads.
/// - Throws: `CoreError` naming the token id, the length or the head counts.
func checkBatch(_ batch: PackedBatch, _ c: ModelConfig) throws {
    if c.learnedPositions && batch.maxLength > c.maxPositions {
        throw CoreError("a document has \(batch.maxLength) tokens but the model has only \(c.maxPositions) positions; use 'seq \(c.maxPositions)'")
    }
    for t in batch.tokens where t < 0 || Int(t) >= c.vocabSize {
        throw CoreError("token id \(t) is outside the vocabulary of \(c.vocabSize)")
    }
    if c.numKVHeads < 1 || c.numHeads % c.numKVHeads != 0 {
        throw CoreError("\(c.numHeads) attention heads cannot be grouped over \(c.numKVHeads) key/value heads")
    }
}

// MARK: Next-token log-probabilities without full rows of logits

/// Vocabulary entries per tile of `headLogProbs`: about 4M floats of logits at a time, in whole
/// 16-column blocks.
func headTileColumns(rows n: Int, vocab v: Int) -> Int {
    min(v, max(256, ((1 << 22) / max(1, n)) / 16 * 16))
}

/// out[r] = log softmax(h_r · Eᵀ)[targets[r]] for every row with targets[r] ≥ 0. `logits` holds
/// n × `headTileColumns` floats; `embeddingRows` holds that many rows of E in f32 when E is compact.
///
/// The head runs over tiles of the vocabulary, each one GEMM over all rows (so the output
/// embedding is packed once per batch rather than once per chunk of rows); each row keeps a
/// running maximum and a Float64 sum of exponentials rescaled to it.
/// - Throws: `CancellationError` when the user interrupts.
func headLogProbs(
    _ h: UnsafePointer<Float>, rows n: Int, dim d: Int, unembed: MatrixWeights, vocab v: Int,
    targets: UnsafePointer<Int32>, into out: UnsafeMutablePointer<Double>,
    logits: UnsafeMutablePointer<Float>, embeddingRows rowsF32: UnsafeMutablePointer<Float>
) throws {
    let tile = headTileColumns(rows: n, vocab: v)
    let rowMax = UnsafeMutablePointer<Float>.allocate(capacity: n)
    let rowSum = UnsafeMutablePointer<Double>.allocate(capacity: n)
    let picked = UnsafeMutablePointer<Float>.allocate(capacity: n)
    rowMax.initialize(repeating: -.infinity, count: n)
    rowSum.initialize(repeating: 0, count: n)
    picked.initialize(repeating: .nan, count: n)
    defer { rowMax.deallocate(); rowSum.deallocate(); picked.deallocate() }
    var v0 = 0
    while v0 < v {
        try Cancellation.shared.check()
        let vt = min(tile, v - v0)
        // logits[n, vt] = h · E[v0..<v0+vt]ᵀ
        let e = unembed.rows(v0, count: vt, width: d, scratch: rowsF32)
        sgemm(transB: true, m: n, n: vt, k: d, a: h, b: e, c: logits, ldc: vt, packedB: unembed.packedB(rows: v0, count: vt))
        parallelRanges(n, minChunk: 64) { rows in
            for r in rows {
                let row = logits + r * vt
                let m = vmax(row, count: vt)
                let s = Double(sumOfExpShifted(row, count: vt, shift: m))
                let old = rowMax[r]
                if m > old {
                    rowSum[r] = rowSum[r] * exp(Double(old) - Double(m)) + s
                    rowMax[r] = m
                } else {
                    rowSum[r] += s * exp(Double(m) - Double(old))
                }
                let t = Int(targets[r]) - v0
                if t >= 0 && t < vt { picked[r] = row[t] }
            }
        }
        v0 += vt
    }
    for r in 0..<n where targets[r] >= 0 {
        out[r] = Double(picked[r]) - Double(rowMax[r]) - log(rowSum[r])
    }
}
