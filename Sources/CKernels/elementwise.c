// The FFN activations of Sources/KECore/Model/Activation.swift (with the exp/erf/tanh of
// Tensor/VectorMath.swift) in sixteen AVX-512 lanes. Each lane applies the Swift SIMD8 form's operations in its order:
// the same IEEE multiplies, adds, divides, comparisons and integer steps, no fused multiply-add
// (-ffp-contract=off), so every element gets the same bits (ElementwiseKernelTests compares them).
// See KEElementwise.h.

#include "KEElementwise.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define KE_AVX512 __attribute__((target("avx512f,avx2,fma"), always_inline)) static inline

typedef __m512 V;

KE_AVX512 V set1(float c) { return _mm512_set1_ps(c); }
KE_AVX512 V add(V a, V b) { return _mm512_add_ps(a, b); }
KE_AVX512 V sub(V a, V b) { return _mm512_sub_ps(a, b); }
KE_AVX512 V mul(V a, V b) { return _mm512_mul_ps(a, b); }
KE_AVX512 V dvd(V a, V b) { return _mm512_div_ps(a, b); }
/// −x: the sign bit flipped (as Swift's prefix minus; 0 − x would turn +0 into +0).
KE_AVX512 V neg(V x) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u)));
}
/// where(m, a, b): a in the lanes of m, else b (Swift's `b.replacing(with: a, where: m)`).
KE_AVX512 V where(__mmask16 m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }
KE_AVX512 __mmask16 lt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
KE_AVX512 __mmask16 gt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
KE_AVX512 __mmask16 ge(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }

/// vclamp: x > hi → hi, then !(y ≥ lo) → lo (NaN becomes lo).
KE_AVX512 V clamp(V x, float lo, float hi) {
    V y = where(gt(x, set1(hi)), set1(hi), x);
    return where((__mmask16)~ge(y, set1(lo)), set1(lo), y);
}

/// vabs: x < 0 → −x.
KE_AVX512 V absv(V x) { return where(lt(x, set1(0)), neg(x), x); }

/// vexp (Cephes range reduction and polynomial).
KE_AVX512 V vexp(V xIn) {
    V x = clamp(xIn, -87.3f, 88.7f);
    V magic = set1(12582912.0f);
    V t = add(mul(x, set1(1.44269504088896341f)), magic);
    V n = sub(t, magic);
    V r = sub(x, mul(n, set1(0.693359375f)));
    r = sub(r, mul(n, set1(-2.12194440e-4f)));
    V p = set1(1.9875691500e-4f);
    p = add(mul(p, r), set1(1.3981999507e-3f));
    p = add(mul(p, r), set1(8.3334519073e-3f));
    p = add(mul(p, r), set1(4.1665795894e-2f));
    p = add(mul(p, r), set1(1.6666665459e-1f));
    p = add(mul(p, r), set1(5.0000001201e-1f));
    V y = add(add(mul(mul(p, r), r), r), set1(1.0f));
    __m512i bits = _mm512_slli_epi32(
        _mm512_add_epi32(_mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B400000)),
                         _mm512_set1_epi32(127)), 23);
    return mul(y, _mm512_castsi512_ps(bits));
}

/// verf (Abramowitz & Stegun 7.1.26 above 0.6, the Maclaurin series below).
KE_AVX512 V verf(V x) {
    V a = absv(x);
    V t = dvd(set1(1.0f), add(set1(1.0f), mul(set1(0.3275911f), a)));
    V p = set1(1.061405429f);
    p = sub(mul(p, t), set1(1.453152027f));
    p = add(mul(p, t), set1(1.421413741f));
    p = sub(mul(p, t), set1(0.284496736f));
    p = add(mul(p, t), set1(0.254829592f));
    V y = sub(set1(1.0f), mul(mul(p, t), vexp(mul(neg(a), a))));
    y = where(lt(x, set1(0)), neg(y), y);
    V x2 = mul(x, x);
    V s = set1(1.646211437e-06f);
    s = add(mul(s, x2), set1(-1.492565036e-05f));
    s = add(mul(s, x2), set1(1.205533298e-04f));
    s = add(mul(s, x2), set1(-8.548327023e-04f));
    s = add(mul(s, x2), set1(5.223977625e-03f));
    s = add(mul(s, x2), set1(-2.686617065e-02f));
    s = add(mul(s, x2), set1(1.128379167e-01f));
    s = add(mul(s, x2), set1(-3.761263890e-01f));
    s = add(mul(s, x2), set1(1.128379167e+00f));
    return where(lt(a, set1(0.6f)), mul(x, s), y);
}

/// vtanh (via e^{2x}; the odd series below 0.04).
KE_AVX512 V vtanh(V x) {
    V c = clamp(x, -9.0f, 9.0f);
    V e = vexp(mul(set1(2.0f), c));
    V y = dvd(sub(e, set1(1.0f)), add(e, set1(1.0f)));
    V x2 = mul(c, c);
    V q = set1(-17.0f / 315.0f);
    q = add(mul(q, x2), set1(2.0f / 15.0f));
    q = add(mul(q, x2), set1(-1.0f / 3.0f));
    q = add(mul(q, x2), set1(1.0f));
    V series = mul(c, q);
    return where(lt(absv(c), set1(0.04f)), series, y);
}

// The activations' shared inner values: act and act′ of one kind read the same exp/erf/tanh.
// gelu, geluTanh, silu, relu: the order of `Activation`'s cases (KE_ACT_*).

/// act(x), and act′(x) into *der when der is given.
KE_AVX512 V activation(int kind, V x, V *der) {
    switch (kind) {
    case KE_ACT_GELU: {
        V er = verf(mul(x, set1(0.70710678118654752f)));
        if (der) {
            V cdf = mul(set1(0.5f), add(set1(1.0f), er));
            V pdf = mul(vexp(mul(mul(set1(-0.5f), x), x)), set1(0.39894228040143268f));
            *der = add(cdf, mul(x, pdf));
        }
        return mul(mul(set1(0.5f), x), add(set1(1.0f), er));
    }
    case KE_ACT_GELU_TANH: {
        V inner = add(x, mul(mul(mul(set1(0.044715f), x), x), x));
        V t = vtanh(mul(set1(0.79788456080286536f), inner));
        if (der) {
            V du = mul(set1(0.79788456080286536f), add(set1(1.0f), mul(mul(set1(3.0f * 0.044715f), x), x)));
            *der = add(mul(set1(0.5f), add(set1(1.0f), t)),
                       mul(mul(mul(set1(0.5f), x), sub(set1(1.0f), mul(t, t))), du));
        }
        return mul(mul(set1(0.5f), x), add(set1(1.0f), t));
    }
    case KE_ACT_SILU: {
        V onePlusE = add(set1(1.0f), vexp(neg(x)));
        if (der) {
            V s = dvd(set1(1.0f), onePlusE);
            *der = mul(s, add(set1(1.0f), mul(x, sub(set1(1.0f), s))));
        }
        return dvd(x, onePlusE);
    }
    default:
        if (der) *der = where((__mmask16)~gt(x, set1(0)), set1(0), set1(1.0f));
        return where(lt(x, set1(0)), set1(0), x);
    }
}

/// 16 lanes, or the low 8 (`mask` 0xFF) for the last group of eight.
KE_AVX512 V load(const float *p, __mmask16 mask) { return _mm512_maskz_loadu_ps(mask, p); }
KE_AVX512 void store(float *p, V v, __mmask16 mask) { _mm512_mask_storeu_ps(p, mask, v); }

/// Groups of sixteen, then one of eight when n % 16 == 8: `body(i, mask)` with full-width loads
/// and stores in the loop (a masked store costs more on AMD Zen 4) and the low eight lanes last.
#define KE_GROUPS(n, body)                                          \
    do {                                                            \
        long i_ = 0;                                                \
        for (; i_ + 16 <= (n); i_ += 16) body(i_, (__mmask16)0xFFFF); \
        if (i_ < (n)) body(i_, (__mmask16)0xFF);                    \
    } while (0)

KE_AVX512 void activateGroup(int kind, const float *x, const float *u, float *y, long i, __mmask16 m) {
    V a = activation(kind, load(x + i, m), 0);
    store(y + i, u ? mul(a, load(u + i, m)) : a, m);
}

__attribute__((target("avx512f,avx2,fma")))
void ke_activate_avx512(int kind, const float *x, const float *u, float *y, long n) {
#define KE_BODY(i, m) activateGroup(kind, x, u, y, i, m)
    KE_GROUPS(n, KE_BODY);
#undef KE_BODY
}

KE_AVX512 void backwardGroup(int kind, float *g, const float *pre, const float *up, float *dup, long i, __mmask16 m) {
    V dc = load(g + i, m), der;
    V a = activation(kind, load(pre + i, m), &der);
    if (up) {
        store(dup + i, mul(dc, a), m);
        store(g + i, mul(mul(dc, load(up + i, m)), der), m);
    } else {
        store(g + i, mul(dc, der), m);
    }
}

__attribute__((target("avx512f,avx2,fma")))
void ke_activation_backward_avx512(int kind, float *g, const float *pre, const float *up, float *dup, long n) {
#define KE_BODY(i, m) backwardGroup(kind, g, pre, up, dup, i, m)
    KE_GROUPS(n, KE_BODY);
#undef KE_BODY
}

#else
// Not x86: the Swift SIMD8 forms run; these are never called.
void ke_activate_avx512(int kind, const float *x, const float *u, float *y, long n) {}
void ke_activation_backward_avx512(int kind, float *g, const float *pre, const float *up, float *dup, long n) {}
#endif
