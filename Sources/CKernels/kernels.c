// Register tiles and packing of ke's fixed-order matrix product. Compiled with
// -ffp-contract=off: the only fused multiply-adds are the explicit _mm*_fmadd_ps below, one per
// element of C per k, in k order; nothing else does arithmetic on C. See CKernels.h.

#include "CKernels.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

int ke_cpu_has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
}

int ke_cpu_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// One register tile of MR rows × NV vectors of LANES floats. The constant loops are unrolled
// completely by the compiler, so acc[][] lives in registers. An edge tile (rows < MR or cols <
// MR's NV·LANES) reads and writes only C[0..<rows, 0..<cols]: its rows past `rows` repeat the
// last row of A and are never stored, and its columns past `cols` are masked off in the loads
// and stores of C (their lanes compute on the packed panel's zero padding and are discarded).
// The kept lanes' chains are those of a full tile.
#define KE_TILE(NAME, TARGET, VEC, LANES, MR, NV, LOADU, STOREU, SET1, FMADD, ZERO,                 \
                MASK_T, MASK, MLOADU, MSTOREU)                                                     \
__attribute__((target(TARGET)))                                                                    \
void NAME(long kc, const float *a, long rowStride, long kStride, long rows, long cols,             \
          const float *b, float *c, long ldc, int accumulate) {                                    \
    VEC acc[MR][NV];                                                                               \
    const float *ar[MR];                                                                           \
    const int full = rows == MR && cols == NV * LANES;                                             \
    MASK_T mask[NV];                                                                               \
    for (int v = 0; v < NV; v++) {                                                                 \
        long valid = cols - v * LANES;                                                             \
        mask[v] = MASK(valid < 0 ? 0 : valid > LANES ? LANES : valid);                             \
    }                                                                                              \
    for (int r = 0; r < MR; r++) ar[r] = a + (r < rows ? r : rows - 1) * rowStride;                \
    for (int r = 0; r < MR; r++)                                                                   \
        for (int v = 0; v < NV; v++) acc[r][v] = ZERO();                                           \
    if (accumulate && full) {                                                                      \
        for (int r = 0; r < MR; r++)                                                               \
            for (int v = 0; v < NV; v++) acc[r][v] = LOADU(c + r * ldc + v * LANES);               \
    } else if (accumulate) {                                                                       \
        for (int r = 0; r < MR; r++)                                                               \
            if (r < rows)                                                                          \
                for (int v = 0; v < NV; v++) acc[r][v] = MLOADU(c + r * ldc + v * LANES, mask[v]); \
    }                                                                                              \
    /* The next tile down (the ir loop's next call) reads C's next MR rows: ask for their lines \
       now, so they arrive while this tile's chains run. A hint only, never a fault or a bit. */   \
    for (int r = 0; r < MR; r++)                                                                   \
        for (int v = 0; v < NV; v++)                                                               \
            _mm_prefetch((const char *)(c + (MR + r) * ldc + v * LANES), _MM_HINT_T0);             \
    if (rowStride == 1 && kStride == MR && rows == MR) {                                           \
        /* Packed A: the tile's MR values of one k are consecutive. */                             \
        for (long p = 0; p < kc; p++) {                                                            \
            VEC bv[NV];                                                                            \
            for (int v = 0; v < NV; v++) bv[v] = LOADU(b + v * LANES);                             \
            for (int r = 0; r < MR; r++) {                                                         \
                VEC x = SET1(a[r]);                                                                \
                for (int v = 0; v < NV; v++) acc[r][v] = FMADD(x, bv[v], acc[r][v]);               \
            }                                                                                      \
            a += MR; b += NV * LANES;                                                              \
        }                                                                                          \
    } else {                                                                                       \
        long o = 0;                                                                                \
        for (long p = 0; p < kc; p++) {                                                            \
            VEC bv[NV];                                                                            \
            for (int v = 0; v < NV; v++) bv[v] = LOADU(b + v * LANES);                             \
            for (int r = 0; r < MR; r++) {                                                         \
                VEC x = SET1(ar[r][o]);                                                            \
                for (int v = 0; v < NV; v++) acc[r][v] = FMADD(x, bv[v], acc[r][v]);               \
            }                                                                                      \
            o += kStride; b += NV * LANES;                                                         \
        }                                                                                          \
    }                                                                                              \
    if (full) {                                                                                    \
        for (int r = 0; r < MR; r++)                                                               \
            for (int v = 0; v < NV; v++) STOREU(c + r * ldc + v * LANES, acc[r][v]);               \
    } else {                                                                                       \
        for (int r = 0; r < MR; r++)                                                               \
            if (r < rows)                                                                          \
                for (int v = 0; v < NV; v++) MSTOREU(c + r * ldc + v * LANES, mask[v], acc[r][v]); \
    }                                                                                              \
}

// Lane masks of the first `n` lanes (0 ≤ n ≤ LANES) and the masked loads and stores of C.
#define KE_MASK16(n) ((__mmask16)((1u << (n)) - 1u))
#define KE_MLOAD16(p, m) _mm512_maskz_loadu_ps((m), (p))
#define KE_MSTORE16(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define KE_MASK8(n) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define KE_MLOAD8(p, m) _mm256_maskload_ps((p), (m))
#define KE_MSTORE8(p, m, v) _mm256_maskstore_ps((p), (m), (v))

KE_TILE(ke_sgemm_tile_6x64_avx512, "avx512f,fma", __m512, 16, 6, 4,
        _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_setzero_ps,
        __mmask16, KE_MASK16, KE_MLOAD16, KE_MSTORE16)

KE_TILE(ke_sgemm_tile_6x16_avx2, "avx2,fma", __m256, 8, 6, 2,
        _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_setzero_ps,
        __m256i, KE_MASK8, KE_MLOAD8, KE_MSTORE8)

#else
// Not x86: no vector tiles here (the portable Swift tile runs); these are never called.
int ke_cpu_has_avx512(void) { return 0; }
int ke_cpu_has_avx2_fma(void) { return 0; }
void ke_sgemm_tile_6x64_avx512(long kc, const float *a, long rowStride, long kStride, long rows, long cols,
                               const float *b, float *c, long ldc, int accumulate) {}
void ke_sgemm_tile_6x16_avx2(long kc, const float *a, long rowStride, long kStride, long rows, long cols,
                             const float *b, float *c, long ldc, int accumulate) {}
#endif

void ke_pack_a(const float *a, long rowStride, long kStride, long i0, long mc, long k0, long kc,
               float alpha, long mr, float *dst) {
    if (kStride != 1) {
        // A stored [k, m] (transposed): at each k the block's mc values are consecutive. Read them
        // once, in order, and deal them to the panels (each k's line of A is touched once; panel
        // by panel, a line would be fetched again for every panel it feeds).
        long full = mc / mr * mr;
        for (long kk = 0; kk < kc; kk++) {
            const float *col = a + i0 * rowStride + (k0 + kk) * kStride;
            float *out = dst + kk * mr;
            for (long p = 0; p < full; p += mr) {
                float *o = out + p * kc;
                const float *c = col + p * rowStride;
                if (alpha == 1.0f) { for (long ii = 0; ii < mr; ii++) o[ii] = c[ii * rowStride]; }
                else { for (long ii = 0; ii < mr; ii++) o[ii] = alpha * c[ii * rowStride]; }
            }
            if (full < mc) {
                float *o = out + full * kc;
                const float *c = col + full * rowStride;
                long h = mc - full;
                for (long ii = 0; ii < mr; ii++) o[ii] = ii < h ? (alpha == 1.0f ? c[ii * rowStride] : alpha * c[ii * rowStride]) : 0.0f;
            }
        }
        return;
    }
    for (long p = 0; p < mc; p += mr) {
        long h = mc - p < mr ? mc - p : mr;
        float *panel = dst + p * kc;
        const float *src = a + (i0 + p) * rowStride + k0 * kStride;
        if (h < mr) memset(panel, 0, sizeof(float) * (size_t)(kc * mr));
        // Rows of A are contiguous in k: read each row in order, write every mr-th float.
        for (long ii = 0; ii < h; ii++) {
            const float *row = src + ii * rowStride;
            float *out = panel + ii;
            if (alpha == 1.0f) { for (long kk = 0; kk < kc; kk++) out[kk * mr] = row[kk]; }
            else { for (long kk = 0; kk < kc; kk++) out[kk * mr] = alpha * row[kk]; }
        }
    }
}

void ke_pack_b(const float *b, long kStride, long colStride, long k0, long kc, long j0, long nc,
               long nr, float *dst) {
    for (long p = 0; p < nc; p += nr) {
        long w = nc - p < nr ? nc - p : nr;
        float *panel = dst + p * kc;
        const float *src = b + k0 * kStride + (j0 + p) * colStride;
        if (colStride == 1) {
            for (long kk = 0; kk < kc; kk++) {
                float *out = panel + kk * nr;
                memcpy(out, src + kk * kStride, sizeof(float) * (size_t)w);
                if (w < nr) memset(out + w, 0, sizeof(float) * (size_t)(nr - w));
            }
        } else {
            // B stored [n, k] (transposed): each column is contiguous in k.
            if (w < nr) memset(panel, 0, sizeof(float) * (size_t)(kc * nr));
            for (long jj = 0; jj < w; jj++) {
                const float *col = src + jj * colStride;
                float *out = panel + jj;
                for (long kk = 0; kk < kc; kk++) out[kk * nr] = col[kk * kStride];
            }
        }
    }
}

// MARK: Exact column sums of |a| on the float bits

// Vectorised by the compiler for each instruction set; integers, so every clone gives the same sums.
#if defined(__x86_64__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void ke_exact_abs_column_sums(const float *a, long rows, long cols, long rowStride,
                              unsigned long long *hi, unsigned long long *lo, int *outside) {
    uint32_t any = 0;
    for (long r = 0; r < rows; r++) {
        const uint32_t *row = (const uint32_t *)(const void *)(a + r * rowStride);
        for (long j = 0; j < cols; j++) {
            // |a| = m · 2^(e − 150) with the 24-bit significand m; in units of 2^-64 that is
            // m · 2^s, s = e − 86, an integer of up to 80 bits: hi gets the units of 2^-32
            // (m · 2^s / 2^32, exact), lo the remaining units of 2^-64 (the low 32 bits).
            uint32_t u = row[j] & 0x7fffffffu;
            uint32_t e = u >> 23;
            uint32_t inRange = e - 87u <= 55u;   // 2^-40 ≤ |a| < 2^16, normal
            unsigned long long m = (unsigned long long)((u & 0x7fffffu) | 0x800000u);
            uint32_t s = inRange ? e - 86u : 1u;
            unsigned long long h = s >= 32u ? m << (s - 32u) : m >> (32u - s);
            unsigned long long l = s >= 32u ? 0 : (m << s) & 0xffffffffu;
            hi[j] += inRange ? h : 0;
            lo[j] += inRange ? l : 0;
            any |= (uint32_t)(!inRange & (u != 0));
        }
    }
    *outside = any != 0;
}
