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
// The i-quants (IQ*) are in GGUFDequantizeIQ.swift.
//
// The caller guarantees `src.count` = blocks × block bytes and `dest.count` = blocks × block
// elements (GGUFFile checks both at open).

@inline(__always) func f16(_ p: UnsafeRawPointer, _ o: Int) -> Float {
    halfBitsToFloat(UInt16(p.load(fromByteOffset: o, as: UInt8.self)) | UInt16(p.load(fromByteOffset: o + 1, as: UInt8.self)) << 8)
}
@inline(__always) func u8(_ p: UnsafeRawPointer, _ o: Int) -> UInt8 { p.load(fromByteOffset: o, as: UInt8.self) }
@inline(__always) func u16(_ p: UnsafeRawPointer, _ o: Int) -> UInt16 { UInt16(u8(p, o)) | UInt16(u8(p, o + 1)) << 8 }
@inline(__always) func u32(_ p: UnsafeRawPointer, _ o: Int) -> UInt32 { UInt32(u16(p, o)) | UInt32(u16(p, o + 2)) << 16 }

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
    case .q8_0: q8_0Blocks(s, d, blocks: blocks, blockBytes: bb, blockElements: be)
    case .q4_0: legacyBlocks(s, d, blocks: blocks, blockBytes: bb, hasMin: false, fifthBit: false, offset: 8)
    case .q4_1: legacyBlocks(s, d, blocks: blocks, blockBytes: bb, hasMin: true, fifthBit: false, offset: 0)
    case .q5_0: legacyBlocks(s, d, blocks: blocks, blockBytes: bb, hasMin: false, fifthBit: true, offset: 16)
    case .q5_1: legacyBlocks(s, d, blocks: blocks, blockBytes: bb, hasMin: true, fifthBit: true, offset: 0)
    case .q2_K: q2_KBlocks(s, d, blocks: blocks, blockBytes: bb, blockElements: be)
    case .q3_K: q3_KBlocks(s, d, blocks: blocks, blockBytes: bb, blockElements: be)
    case .q4_K: kBlocks45(s, d, blocks: blocks, blockBytes: bb, fifthBit: false)
    case .q5_K: kBlocks45(s, d, blocks: blocks, blockBytes: bb, fifthBit: true)
    case .q6_K: q6_KBlocks(s, d, blocks: blocks, blockBytes: bb, blockElements: be)
    case .iq2_XXS, .iq2_XS, .iq2_S: iq2Blocks(s, d, blocks: blocks, type: type)
    case .iq3_XXS, .iq3_S: iq3Blocks(s, d, blocks: blocks, type: type)
    case .iq1_S, .iq1_M: iq1Blocks(s, d, blocks: blocks, type: type)
    case .iq4_NL: iq4_NLBlocks(s, d, blocks: blocks, blockBytes: bb, blockElements: be)
    case .iq4_XS: iq4_XSBlocks(s, d, blocks: blocks, blockBytes: bb, blockElements: be)
    case .tq1_0: tq1_0Blocks(s, d, blocks: blocks, blockBytes: bb, blockElements: be)
    case .tq2_0: tq2_0Blocks(s, d, blocks: blocks, blockBytes: bb, blockElements: be)
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

// MARK: Block decoders of the legacy and k-quant types

/// Q8_0 blocks: x = q·d (layout in the header).
private func q8_0Blocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, blockBytes bb: Int, blockElements be: Int) {
    for b in 0..<blocks {
        let p = s + b * bb, o = d + b * be
        let scale = f16(p, 0)
        for i in 0..<32 { o[i] = Float(Int8(bitPattern: u8(p, 2 + i))) * scale }
    }
}

/// Q2_K blocks (layout and formula in the header).
private func q2_KBlocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, blockBytes bb: Int, blockElements be: Int) {
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
}

/// Q3_K blocks (layout and formula in the header).
private func q3_KBlocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, blockBytes bb: Int, blockElements be: Int) {
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
}

/// Q6_K blocks (layout and formula in the header).
private func q6_KBlocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, blockBytes bb: Int, blockElements be: Int) {
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
}

/// TQ1_0 blocks (ternary, base-3 packed).
private func tq1_0Blocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, blockBytes bb: Int, blockElements be: Int) {
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
}

/// TQ2_0 blocks (ternary, 2-bit).
private func tq2_0Blocks(_ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, blocks: Int, blockBytes bb: Int, blockElements be: Int) {
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
