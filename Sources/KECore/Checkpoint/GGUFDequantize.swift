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
// The caller guarantees `src.count` = blocks × block bytes and `dest.count` = blocks × block
// elements (GGUFFile checks both at open).

@inline(__always) private func f16(_ p: UnsafeRawPointer, _ o: Int) -> Float {
    halfBitsToFloat(UInt16(p.load(fromByteOffset: o, as: UInt8.self)) | UInt16(p.load(fromByteOffset: o + 1, as: UInt8.self)) << 8)
}
@inline(__always) private func u8(_ p: UnsafeRawPointer, _ o: Int) -> UInt8 { p.load(fromByteOffset: o, as: UInt8.self) }

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
    case .q4_0, .q4_1, .q5_0, .q5_1:
        for b in 0..<blocks {
            let p = s + b * bb, o = d + b * be
            let scale = f16(p, 0)
            var min: Float = 0, qsAt = 2, qh: UInt32 = 0
            switch type {
            case .q4_1: min = f16(p, 2); qsAt = 4
            case .q5_0: qh = p.loadUnaligned(fromByteOffset: 2, as: UInt32.self).littleEndian; qsAt = 6
            case .q5_1: min = f16(p, 2); qh = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian; qsAt = 8
            default: break
            }
            for i in 0..<32 {
                let byte = u8(p, qsAt + (i & 15))
                var q = Int(i < 16 ? byte & 0x0F : byte >> 4)
                if type == .q5_0 || type == .q5_1 { q |= Int((qh >> UInt32(i)) & 1) << 4 }
                switch type {
                case .q4_0: o[i] = scale * Float(q - 8)
                case .q5_0: o[i] = scale * Float(q - 16)
                default: o[i] = scale * Float(q) + min
                }
            }
        }
    case .q2_K:
        for b in 0..<blocks {
            let p = s + b * bb, o = d + b * be
            let dd = f16(p, 80), dmin = f16(p, 82)
            for e in 0..<256 {
                let sc = u8(p, e / 16)
                let dl = dd * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                let half = e / 128, shift = (e % 128) / 32, l = e % 32
                let q = (u8(p, 16 + half * 32 + l) >> UInt8(2 * shift)) & 3
                o[e] = dl * Float(q) - ml
            }
        }
    case .q3_K:
        for b in 0..<blocks {
            let p = s + b * bb, o = d + b * be
            let dd = f16(p, 108)
            var scales = [Float](repeating: 0, count: 16)
            for k in 0..<16 {
                let low = k < 8 ? u8(p, 96 + k) & 0x0F : u8(p, 96 + k - 8) >> 4
                let high = (u8(p, 104 + k % 4) >> UInt8(2 * (k / 4))) & 3
                scales[k] = Float(Int(low | high << 4) - 32)
            }
            for e in 0..<256 {
                let dl = dd * scales[e / 16]
                let half = e / 128, shift = (e % 128) / 32, l = e % 32
                let ql = Int((u8(p, 32 + half * 32 + l) >> UInt8(2 * shift)) & 3)
                let hbit = Int((u8(p, l) >> UInt8(e / 32)) & 1)
                o[e] = dl * Float(ql - ((hbit ^ 1) << 2))
            }
        }
    case .q4_K, .q5_K:
        for b in 0..<blocks {
            let p = s + b * bb, o = d + b * be
            let dd = f16(p, 0), dmin = f16(p, 2)
            let qsAt = type == .q4_K ? 16 : 48
            for sub in 0..<8 {
                let (sc, m) = scaleMinK4(p + 4, sub)
                let dl = dd * sc, ml = dmin * m
                let chunk = sub / 2, nib = UInt8(4 * (sub % 2))
                for l in 0..<32 {
                    var q = (u8(p, qsAt + chunk * 32 + l) >> nib) & 0x0F
                    if type == .q5_K { q |= ((u8(p, 16 + l) >> UInt8(sub)) & 1) << 4 }
                    o[sub * 32 + l] = dl * Float(q) - ml
                }
            }
        }
    case .q6_K:
        for b in 0..<blocks {
            let p = s + b * bb, o = d + b * be
            let dd = f16(p, 208)
            for e in 0..<256 {
                let half = e / 128, w = e % 128
                let ql = (u8(p, half * 64 + w % 64) >> UInt8(4 * (w / 64))) & 0x0F
                let qh = (u8(p, 128 + half * 32 + w % 32) >> UInt8(2 * (w / 32))) & 3
                let q = Int(ql | qh << 4) - 32
                let scale = dd * Float(Int8(bitPattern: u8(p, 192 + e / 16)))
                o[e] = scale * Float(q)
            }
        }
    }
}
