// MARK: ggml i-quant dequantisation, as gguf-py (gguf/quants.py) computes it
//
// The i-quants look values up in grids of 4 or 8 elements (GGMLGrids.swift, generated from
// gguf-py's tables) and carry signs per 8 elements; s is a 4-bit scale of 16 or 32 elements:
//
//   IQ2_XXS d, 8 × (u32 4 grid bytes, u32 4×7-bit sign indices | s << 28)
//                                          x = ((d·(0.5 + s))·0.25)·g·±1, iq2xxs_grid[256]
//   IQ2_XS  d, qs[32]:u16 (9-bit grid | 7-bit sign index), scales[8]   as IQ2_XXS, iq2xs_grid[512]
//   IQ2_S   d, qs[32], signs[32], qh[8] (2 high grid bits), scales[8]  as IQ2_XXS, iq2s_grid[1024]
//   IQ3_XXS d, qs[64] grid bytes, 8 × u32 (4×7-bit sign indices | s << 28)
//                                          x = ((d·(0.5 + s))·0.5)·g·±1, iq3xxs_grid[256]
//   IQ3_S   d, qs[64], qh[8] (9th grid bit), signs[32], scales[4]
//                                          x = (d·(1 + 2s))·g·±1, iq3s_grid[512]
//   IQ1_S   d, qs[32], qh[8]:u16 (3 high grid bits ×4 | 3-bit s << 12 | delta sign << 15)
//                                          x = (d·(2s + 1))·(g + ±0.125), iq1s_grid[2048] (−1, 0, 1)
//   IQ1_M   qs[32], qh[16] (3 high grid bits | delta sign, per nibble), scales[4]:u16 (4 × 3-bit
//           s; the f16 d in the top nibbles)  as IQ1_S with 16 scales
//   IQ4_NL  d, qs[16]                      x = d·kvalues[q], q as Q4_0's nibbles
//   IQ4_XS  d, scales_h:u16, scales_l[4], qs[128]   x = (d·(s − 32))·kvalues[q], 6-bit s per 32
//   TQ1_0   qs[48], qh[4], d               x = d·(t − 1), base-3 digits t packed 5 (4) per byte
//   TQ2_0   qs[64], d                      x = d·(q − 1), 2-bit q
//
// g·±1 is a float product, as numpy multiplies by the sign array (not a negation).
//
// The byte helpers (f16, u8, u16, u32) and the dispatch (`ggmlDequantize`) are in
// GGUFDequantize.swift.

/// The 8 sign bits of `signs` as ±1 (bit j set: element j is −1), as gguf-py's sign arrays.
@inline(__always) private func signs8(_ signs: UInt8) -> SIMD8<Float> {
    let bits = (SIMD8<UInt32>(repeating: UInt32(signs)) &>> SIMD8<UInt32>(0, 1, 2, 3, 4, 5, 6, 7)) & 1
    return 1 - 2 * SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: bits))
}

/// The 8 bytes of `v` (byte j = element j) as Floats, unsigned or (`signed`) int8.
@inline(__always) private func bytes8(_ v: UInt64, signed: Bool = false) -> SIMD8<Float> {
    let b = unsafeBitCast(v.littleEndian, to: SIMD8<UInt8>.self)
    if signed { return SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: unsafeBitCast(b, to: SIMD8<Int8>.self))) }
    return SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: b))
}

/// IQ2_XXS, IQ2_XS and IQ2_S blocks of 256: 32 groups of 8 elements, each one point of an
/// 8-element grid with 8 sign bits; group g has scale s of sub-block g/4 (IQ2_XXS, 32 elements)
/// or g/2 (IQ2_XS, IQ2_S, 16 elements); x = ((d·(0.5 + s))·0.25)·grid·sign.
@inline(__always)
func iq2Blocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, type: GGMLType) {
    let grid = type == .iq2_XXS ? iq2xxsGrid : type == .iq2_XS ? iq2xsGrid : iq2sGrid
    let bb = type.block.bytes
    grid.withUnsafeBufferPointer { grid in
        ksignsIQ2XS.withUnsafeBufferPointer { ksigns in
            for b in 0..<blocks {
                let p = s + b * bb, o = d + b * 256
                let dd = f16(p, 0)
                switch type {
                case .iq2_XXS:
                    // Sub-block ib: u32 of 4 grid bytes, u32 of 4 sign indices and the scale.
                    for ib in 0..<8 {
                        let aux1 = u32(p, 2 + 8 * ib + 4)
                        let db = dd * (0.5 + Float(aux1 >> 28)) * 0.25
                        for l in 0..<4 {
                            let gp = grid[Int(u8(p, 2 + 8 * ib + l))]
                            let signs = ksigns[Int((aux1 >> UInt32(7 * l)) & 0x7F)]
                            store8(db * bytes8(gp) * signs8(signs), o + 32 * ib + 8 * l)
                        }
                    }
                case .iq2_XS:
                    for g in 0..<32 {
                        let q = u16(p, 2 + 2 * g)
                        let scale = (u8(p, 66 + g / 4) >> UInt8(4 * ((g / 2) % 2))) & 0x0F
                        let db = dd * (0.5 + Float(scale)) * 0.25
                        store8(db * bytes8(grid[Int(q & 511)]) * signs8(ksigns[Int(q >> 9)]), o + 8 * g)
                    }
                default:  // IQ2_S: 8 low grid bits in qs, 2 high in qh, signs stored
                    for g in 0..<32 {
                        let point = Int(u8(p, 2 + g)) | Int((u8(p, 66 + g / 4) >> UInt8(2 * (g % 4))) & 3) << 8
                        let scale = (u8(p, 74 + g / 4) >> UInt8(4 * ((g / 2) % 2))) & 0x0F
                        let db = dd * (0.5 + Float(scale)) * 0.25
                        store8(db * bytes8(grid[point]) * signs8(u8(p, 34 + g)), o + 8 * g)
                    }
                }
            }
        }
    }
}

/// IQ3_XXS and IQ3_S blocks of 256: 8 sub-blocks of 32, each 8 points of a 4-element grid and
/// 4 sets of 8 sign bits; x = ((d·(0.5 + s))·0.5)·grid·sign (IQ3_XXS), (d·(1 + 2s))·grid·sign (IQ3_S).
@inline(__always)
func iq3Blocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, type: GGMLType) {
    let bb = type.block.bytes
    /// Grid points i and i + 1 (4 elements each) as the 8 elements of one group.
    @inline(__always) func pair(_ grid: UnsafeBufferPointer<UInt32>, _ a: Int, _ b: Int) -> SIMD8<Float> {
        bytes8(UInt64(grid[a]) | UInt64(grid[b]) << 32)
    }
    if type == .iq3_XXS {
        iq3xxsGrid.withUnsafeBufferPointer { grid in
            ksignsIQ2XS.withUnsafeBufferPointer { ksigns in
                for b in 0..<blocks {
                    let p = s + b * bb, o = d + b * 256
                    let dd = f16(p, 0)
                    for ib in 0..<8 {
                        let aux = u32(p, 66 + 4 * ib)
                        let db = dd * (0.5 + Float(aux >> 28)) * 0.5
                        for l in 0..<4 {
                            let g = 4 * ib + l
                            let v = pair(grid, Int(u8(p, 2 + 2 * g)), Int(u8(p, 3 + 2 * g)))
                            store8(db * v * signs8(ksigns[Int((aux >> UInt32(7 * l)) & 0x7F)]), o + 8 * g)
                        }
                    }
                }
            }
        }
    } else {
        iq3sGrid.withUnsafeBufferPointer { grid in
            for b in 0..<blocks {
                let p = s + b * bb, o = d + b * 256
                let dd = f16(p, 0)
                for ib in 0..<8 {
                    let db = dd * Float(1 + 2 * Int((u8(p, 106 + ib / 2) >> UInt8(4 * (ib % 2))) & 0x0F))
                    let qh = u8(p, 66 + ib)  // the 9th bit of the sub-block's 8 grid points
                    for l in 0..<4 {
                        let g = 4 * ib + l, i = 2 * l
                        let v = pair(grid, Int(u8(p, 2 + 2 * g)) | Int((qh >> UInt8(i)) & 1) << 8,
                                     Int(u8(p, 3 + 2 * g)) | Int((qh >> UInt8(i + 1)) & 1) << 8)
                        store8(db * v * signs8(u8(p, 74 + g)), o + 8 * g)
                    }
                }
            }
        }
    }
}

/// IQ1_S and IQ1_M blocks of 256: 32 groups of 8, each one point of the int8 grid (−1, 0, 1)
/// shifted by ±delta; x = dl·(grid + delta), dl = d·(2s + 1) per 32 (IQ1_S) or 16 (IQ1_M) elements.
@inline(__always)
func iq1Blocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, type: GGMLType) {
    let bb = type.block.bytes
    iq1sGrid.withUnsafeBufferPointer { grid in
        for b in 0..<blocks {
            let p = s + b * bb, o = d + b * 256
            if type == .iq1_S {
                let dd = f16(p, 0)
                for ib in 0..<8 {
                    let h = u16(p, 34 + 2 * ib)
                    let dl = dd * Float(2 * ((h >> 12) & 7) + 1)
                    let delta = h & 0x8000 == 0 ? iq1Delta : -iq1Delta
                    for l in 0..<4 {
                        let point = Int(u8(p, 2 + 4 * ib + l)) | Int((h >> UInt16(3 * l)) & 7) << 8
                        store8(dl * (bytes8(grid[point], signed: true) + delta), o + 32 * ib + 8 * l)
                    }
                }
            } else {
                // The f16 d is the top nibbles of the 4 scale words, lowest word first.
                let w0 = u16(p, 48), w1 = u16(p, 50), w2 = u16(p, 52), w3 = u16(p, 54)
                let dd = halfBitsToFloat(w0 >> 12 | (w1 & 0xF000) >> 8 | (w2 & 0xF000) >> 4 | (w3 & 0xF000))
                for g in 0..<32 {
                    let k = g / 2  // scale k is 3 bits at 3(k % 4) of word k / 4
                    let dl = dd * Float(2 * ((u16(p, 48 + 2 * (k / 4)) >> UInt16(3 * (k % 4))) & 7) + 1)
                    let nibble = (u8(p, 32 + g / 2) >> UInt8(4 * (g % 2))) & 0x0F
                    let delta = nibble & 0x08 == 0 ? iq1Delta : -iq1Delta
                    let point = Int(u8(p, g)) | Int(nibble & 7) << 8
                    store8(dl * (bytes8(grid[point], signed: true) + delta), o + 8 * g)
                }
            }
        }
    }
}

/// IQ4_NL blocks: x = d·kvalues[q].
func iq4_NLBlocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, blockBytes bb: Int, blockElements be: Int) {
    kvaluesIQ4NL.withUnsafeBufferPointer { k in
        for b in 0..<blocks {
            let p = s + b * bb, o = d + b * be
            let dd = f16(p, 0)
            for i in 0..<16 {
                let q = u8(p, 2 + i)
                o[i] = dd * Float(k[Int(q & 0x0F)])
                o[i + 16] = dd * Float(k[Int(q >> 4)])
            }
        }
    }
}

/// IQ4_XS blocks: x = (d·(s − 32))·kvalues[q].
func iq4_XSBlocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, blockBytes bb: Int, blockElements be: Int) {
    kvaluesIQ4NL.withUnsafeBufferPointer { k in
        for b in 0..<blocks {
            let p = s + b * bb, o = d + b * be
            let dd = f16(p, 0), high = u16(p, 2)
            for ib in 0..<8 {
                let low = (u8(p, 4 + ib / 2) >> UInt8(4 * (ib % 2))) & 0x0F
                let ls = Int(low | (UInt8(truncatingIfNeeded: high >> UInt16(2 * ib)) & 3) << 4) - 32
                let dl = dd * Float(ls)
                for j in 0..<16 {
                    let q = u8(p, 8 + 16 * ib + j)
                    o[32 * ib + j] = dl * Float(k[Int(q & 0x0F)])
                    o[32 * ib + j + 16] = dl * Float(k[Int(q >> 4)])
                }
            }
        }
    }
}
