// MARK: ggml block dequantisation, as gguf-py (gguf/quants.py) computes it
//
// Every block type is decoded to the same Float32 values gguf-py produces: the same products in
// the same order, in float32 (f16 scales widened exactly first). Block layouts, bytes in order:
//
//   Q4_0  d:f16, qs[16]                    x = d·(q − 8),   q = nibble (low nibbles: elements 0–15)
//   Q4_1  d:f16, m:f16, qs[16]             x = d·q + m
//   Q5_0  d:f16, qh:u32, qs[16]            x = d·(q − 16),  q = nibble | bit i of qh << 4
//   Q5_1  d:f16, m:f16, qh:u32, qs[16]     x = d·q + m
//   Q8_0  d:f16, q[32]:i8                  x = q·d
//   Q2_K  scales[16], qs[64], d, dmin      x = (d·(sc & 15))·q − dmin·(sc >> 4), 2-bit q
//   Q3_K  hmask[32], qs[64], scales[12], d x = (d·(s − 32))·(q − 4·!hbit), 6-bit packed s
//   Q4_K  d, dmin, scales[12], qs[128]     x = (d·sc)·q − dmin·m,   6-bit packed sc/m per 32
//   Q5_K  d, dmin, scales[12], qh[32], qs[128]   as Q4_K with a fifth bit from qh
//   Q6_K  ql[128], qh[64], scales[16]:i8, d      x = (d·s)·(q − 32), 6-bit q
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
// The caller guarantees `src.count` = blocks × block bytes and `dest.count` = blocks × block
// elements (GGUFFile checks both at open).

@inline(__always) private func f16(_ p: UnsafeRawPointer, _ o: Int) -> Float {
    halfBitsToFloat(UInt16(p.load(fromByteOffset: o, as: UInt8.self)) | UInt16(p.load(fromByteOffset: o + 1, as: UInt8.self)) << 8)
}
@inline(__always) private func u8(_ p: UnsafeRawPointer, _ o: Int) -> UInt8 { p.load(fromByteOffset: o, as: UInt8.self) }
@inline(__always) private func u16(_ p: UnsafeRawPointer, _ o: Int) -> UInt16 { UInt16(u8(p, o)) | UInt16(u8(p, o + 1)) << 8 }
@inline(__always) private func u32(_ p: UnsafeRawPointer, _ o: Int) -> UInt32 { UInt32(u16(p, o)) | UInt32(u16(p, o + 2)) << 16 }

/// The Q4_K/Q5_K 6-bit scale and min of sub-block `j` (0..<8) from the 12 packed bytes at `s`.
@inline(__always) private func scaleMinK4(_ s: UnsafeRawPointer, _ j: Int) -> (Float, Float) {
    if j < 4 {
        return (Float(u8(s, j) & 0x3F), Float(u8(s, j + 4) & 0x3F))
    }
    let sc = (u8(s, j + 4) & 0x0F) | ((u8(s, j - 4) >> 2) & 0x30)
    let m = (u8(s, j + 4) >> 4) | ((u8(s, j) >> 2) & 0x30)
    return (Float(sc), Float(m))
}

/// Dequantises `src` (whole blocks of `type`) into `dest`.
func ggmlDequantize(_ src: UnsafeRawBufferPointer, type: GGMLType, into dest: UnsafeMutableBufferPointer<Float>) {
    guard let s = src.baseAddress, let d = dest.baseAddress, dest.count > 0 else { return }
    let (be, bb) = type.block
    let blocks = dest.count / be
    switch type {
    case .f32:
        for i in 0..<dest.count { d[i] = s.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
    case .f16:
        convertToFloat32(src, dtype: .f16, into: dest)
    case .bf16:
        convertToFloat32(src, dtype: .bf16, into: dest)
    case .q8_0:
        for b in 0..<blocks {
            let p = s + b * bb, o = d + b * be
            let scale = f16(p, 0)
            for i in 0..<32 { o[i] = Float(Int8(bitPattern: u8(p, 2 + i))) * scale }
        }
    case .q4_0: legacyBlocks(s, d, blocks: blocks, blockBytes: bb, hasMin: false, fifthBit: false, offset: 8)
    case .q4_1: legacyBlocks(s, d, blocks: blocks, blockBytes: bb, hasMin: true, fifthBit: false, offset: 0)
    case .q5_0: legacyBlocks(s, d, blocks: blocks, blockBytes: bb, hasMin: false, fifthBit: true, offset: 16)
    case .q5_1: legacyBlocks(s, d, blocks: blocks, blockBytes: bb, hasMin: true, fifthBit: true, offset: 0)
    case .q2_K:
        // Element e = 32j + l (j < 8, l < 32): 2-bit q at byte 16 + 32(j/4) + l, shift 2(j%4);
        // scale byte e/16 = 2j + l/16.
        for b in 0..<blocks {
            let p = s + b * bb, o = d + b * be
            let dd = f16(p, 80), dmin = f16(p, 82)
            for j in 0..<8 {
                let qs = p + 16 + (j / 4) * 32, shift = UInt8(2 * (j % 4))
                for h in 0..<2 {
                    let sc = u8(p, 2 * j + h)
                    let dl = dd * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                    for l in (16 * h)..<(16 * h + 16) {
                        let q = (u8(qs, l) >> shift) & 3
                        o[32 * j + l] = dl * Float(q) - ml
                    }
                }
            }
        }
    case .q3_K:
        // Element e = 32j + l: low 2 bits at byte 32 + 32(j/4) + l, shift 2(j%4); high bit j of
        // byte l (clear: subtract 4); 6-bit scale k = e/16 = 2j + l/16 from 12 packed bytes.
        for b in 0..<blocks {
            let p = s + b * bb, o = d + b * be
            let dd = f16(p, 108)
            for j in 0..<8 {
                let qs = p + 32 + (j / 4) * 32, shift = UInt8(2 * (j % 4)), hshift = UInt8(j)
                for h in 0..<2 {
                    let k = 2 * j + h
                    let low = k < 8 ? u8(p, 96 + k) & 0x0F : u8(p, 96 + k - 8) >> 4
                    let high = (u8(p, 104 + k % 4) >> UInt8(2 * (k / 4))) & 3
                    let dl = dd * Float(Int(low | high << 4) - 32)
                    for l in (16 * h)..<(16 * h + 16) {
                        let ql = Int((u8(qs, l) >> shift) & 3)
                        let hbit = Int((u8(p, l) >> hshift) & 1)
                        o[32 * j + l] = dl * Float(ql - ((hbit ^ 1) << 2))
                    }
                }
            }
        }
    case .q4_K: kBlocks45(s, d, blocks: blocks, blockBytes: bb, fifthBit: false)
    case .q5_K: kBlocks45(s, d, blocks: blocks, blockBytes: bb, fifthBit: true)
    case .q6_K:
        // Element e = 128·half + 32·quarter + l: low 4 bits at byte 64·half + 32(quarter%2) + l,
        // shift 4(quarter/2); high 2 bits at byte 128 + 32·half + l, shift 2·quarter; signed
        // scale byte 192 + e/16.
        for b in 0..<blocks {
            let p = s + b * bb, o = d + b * be
            let dd = f16(p, 208)
            for half in 0..<2 {
                for quarter in 0..<4 {
                    let ql = p + 64 * half + 32 * (quarter % 2), qh = p + 128 + 32 * half
                    let lowShift = UInt8(4 * (quarter / 2)), highShift = UInt8(2 * quarter)
                    let e0 = 128 * half + 32 * quarter
                    for h in 0..<2 {
                        let scale = dd * Float(Int8(bitPattern: u8(p, 192 + (e0 + 16 * h) / 16)))
                        for l in (16 * h)..<(16 * h + 16) {
                            let q = Int((u8(ql, l) >> lowShift) & 0x0F | ((u8(qh, l) >> highShift) & 3) << 4) - 32
                            o[e0 + l] = scale * Float(q)
                        }
                    }
                }
            }
        }
    case .iq2_XXS, .iq2_XS, .iq2_S: iq2Blocks(s, d, blocks: blocks, type: type)
    case .iq3_XXS, .iq3_S: iq3Blocks(s, d, blocks: blocks, type: type)
    case .iq1_S, .iq1_M: iq1Blocks(s, d, blocks: blocks, type: type)
    case .iq4_NL:
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
    case .iq4_XS:
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
    case .tq1_0:
        // Byte c holds 5 (qh: 4) base-3 digits as c ≈ 256·Σ t_k 3^−(k+1); digit k is
        // ((c·3^k mod 256)·3) >> 8. Elements: qs[0..<32] digit k → 32k + m; qs[32..<48] →
        // 160 + 16k + m; qh[0..<4] → 240 + 4k + m.
        let pow3: [UInt8] = [1, 3, 9, 27, 81]
        for b in 0..<blocks {
            let p = s + b * bb, o = d + b * be
            let dd = f16(p, 52)
            @inline(__always) func digit(_ c: UInt8, _ k: Int) -> Float {
                Float(Int((UInt16(c &* pow3[k]) * 3) >> 8) - 1)
            }
            for k in 0..<5 {
                for m in 0..<32 { o[32 * k + m] = dd * digit(u8(p, m), k) }
                for m in 0..<16 { o[160 + 16 * k + m] = dd * digit(u8(p, 32 + m), k) }
            }
            for k in 0..<4 {
                for m in 0..<4 { o[240 + 4 * k + m] = dd * digit(u8(p, 48 + m), k) }
            }
        }
    case .tq2_0:
        // Element 128j + 32k + m is bits 2k of qs[32j + m].
        for b in 0..<blocks {
            let p = s + b * bb, o = d + b * be
            let dd = f16(p, 64)
            for j in 0..<2 {
                for k in 0..<4 {
                    for m in 0..<32 {
                        let q = Int((u8(p, 32 * j + m) >> UInt8(2 * k)) & 3) - 1
                        o[128 * j + 32 * k + m] = dd * Float(q)
                    }
                }
            }
        }
    }
}

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
private func iq2Blocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, type: GGMLType) {
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
private func iq3Blocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, type: GGMLType) {
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
private func iq1Blocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, type: GGMLType) {
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

/// Q4_0, Q4_1, Q5_0, Q5_1 blocks of 32: d:f16, [m:f16], [qh:u32], qs[16]. Element i < 16 is the
/// low nibble of qs[i], element i + 16 its high nibble; the fifth bit of element i is bit i of
/// qh. x = d·(q − offset) without a minimum, d·q + m with one (gguf-py's order).
@inline(__always)
private func legacyBlocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, blockBytes bb: Int,
                          hasMin: Bool, fifthBit: Bool, offset: Int32) {
    let qsAt = 2 + (hasMin ? 2 : 0) + (fifthBit ? 4 : 0)
    let lanes = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    for b in 0..<blocks {
        let p = s + b * bb, o = d + b * 32
        let scale = f16(p, 0), minimum: Float = hasMin ? f16(p, 2) : 0
        let bytes = p.loadUnaligned(fromByteOffset: qsAt, as: SIMD16<UInt8>.self)
        var lo = SIMD16<Int32>(truncatingIfNeeded: bytes & 0x0F), hi = SIMD16<Int32>(truncatingIfNeeded: bytes &>> 4)
        if fifthBit {
            let qh = SIMD16<UInt32>(repeating: p.loadUnaligned(fromByteOffset: hasMin ? 4 : 2, as: UInt32.self).littleEndian)
            lo |= SIMD16<Int32>(truncatingIfNeeded: ((qh &>> lanes) & 1) &<< 4)
            hi |= SIMD16<Int32>(truncatingIfNeeded: ((qh &>> (lanes &+ 16)) & 1) &<< 4)
        }
        let low: SIMD16<Float>, high: SIMD16<Float>
        if hasMin {
            low = scale * SIMD16<Float>(lo) + minimum
            high = scale * SIMD16<Float>(hi) + minimum
        } else {
            low = scale * SIMD16<Float>(lo &- offset)
            high = scale * SIMD16<Float>(hi &- offset)
        }
        UnsafeMutableRawPointer(o).storeBytes(of: low, as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(o + 16).storeBytes(of: high, as: SIMD16<Float>.self)
    }
}

/// Q4_K and Q5_K blocks of 256: d, dmin, scales[12], [qh[32]], qs[128]. Sub-block j (32
/// elements) takes nibble j%2 of qs[32(j/2) + l] and, for Q5_K, bit j of qh[l] as its fifth bit;
/// x = (d·sc_j)·q − dmin·m_j.
@inline(__always)
private func kBlocks45(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, blockBytes bb: Int,
                       fifthBit: Bool) {
    let qsAt = fifthBit ? 48 : 16
    for b in 0..<blocks {
        let p = s + b * bb, o = d + b * 256
        let dd = f16(p, 0), dmin = f16(p, 2)
        for sub in 0..<8 {
            let (sc, m) = scaleMinK4(p + 4, sub)
            let dl = dd * sc, ml = dmin * m
            let nibble = UInt8(4 * (sub % 2)), bit = UInt8(sub)
            for h in 0..<2 {
                let bytes = p.loadUnaligned(fromByteOffset: qsAt + (sub / 2) * 32 + 16 * h, as: SIMD16<UInt8>.self)
                var q = (bytes &>> nibble) & 0x0F
                if fifthBit {
                    let qh = p.loadUnaligned(fromByteOffset: 16 + 16 * h, as: SIMD16<UInt8>.self)
                    q |= ((qh &>> bit) & 1) &<< 4
                }
                let x = dl * SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: q)) - ml
                UnsafeMutableRawPointer(o + sub * 32 + 16 * h).storeBytes(of: x, as: SIMD16<Float>.self)
            }
        }
    }
}
