#ifndef KE_CKERNELS_H
#define KE_CKERNELS_H

#include "KEElementwise.h"

/// Register tiles of ke's fixed-order matrix product (see Sources/KECore/Tensor/GEMM.swift for
/// the contract). Each computes C[0..<MR, 0..<NR] (+)= A·Bpanel over kc, one fused multiply-add
/// chain per element of C, k in order: lanes are independent elements, so a wider vector only
/// computes more elements at once and every element's chain is the scalar definition.
///
/// A: element (r, k) of the tile's rows is at a[min(r, rows − 1)·rowStride + k·kStride]
/// (rows ≥ 1; the tile's rows past `rows` repeat the last one and the caller discards them).
/// B: a packed panel, kc × NR floats, k-major (NR consecutive floats per k).
/// C: row-major with leading dimension ldc; loaded first when `accumulate` ≠ 0, else the chain
/// starts at 0. Only C[0..<rows, 0..<cols] is read (when accumulating) and written; the lines of
/// the next MR rows at the same columns are prefetched (a hint: never a fault, never a bit).

#ifdef __cplusplus
extern "C" {
#endif

/// Stops OpenBLAS's helper threads (its `blas_thread_shutdown_`; the next threaded call starts
/// them again): after each call they spin for a while on cores another kernel being timed
/// needs. −1 when the OpenBLAS linked is serial. Never while another thread may be in OpenBLAS.
int ke_openblas_stop_threads(void);

/// 1 when this CPU runs AVX-512F and FMA instructions (and the OS saves the zmm registers).
int ke_cpu_has_avx512(void);
/// 1 when this CPU runs AVX2 and FMA instructions.
int ke_cpu_has_avx2_fma(void);

/// 6 × 64 tile: 24 zmm accumulators. Call only when `ke_cpu_has_avx512()`. Reads and writes
/// only C[0..<rows, 0..<cols] (1 ≤ rows ≤ 6, 1 ≤ cols ≤ 64; an edge tile masks the rest).
void ke_sgemm_tile_6x64_avx512(long kc, const float *a, long rowStride, long kStride, long rows, long cols,
                                const float *b, float *c, long ldc, int accumulate);
/// 6 × 16 tile: 12 ymm accumulators. Call only when `ke_cpu_has_avx2_fma()`. Reads and writes
/// only C[0..<rows, 0..<cols] (1 ≤ rows ≤ 6, 1 ≤ cols ≤ 16).
void ke_sgemm_tile_6x16_avx2(long kc, const float *a, long rowStride, long kStride, long rows, long cols,
                             const float *b, float *c, long ldc, int accumulate);

/// Packs α·A[i0..<i0+mc, k0..<k0+kc] (element (i, k) at a[i·rowStride + k·kStride]) as panels of
/// mr rows, each kc × mr floats (k-major), zero past row mc. α = 1 copies the bits.
void ke_pack_a(const float *a, long rowStride, long kStride, long i0, long mc, long k0, long kc,
               float alpha, long mr, float *dst);
/// Packs B[k0..<k0+kc, j0..<j0+nc] (element (k, j) at b[k·kStride + j·colStride]) as panels of
/// nr columns, each kc × nr floats (k-major), zero past column nc. Copies bits only.
void ke_pack_b(const float *b, long kStride, long colStride, long k0, long kc, long j0, long nc,
               long nr, float *dst);

/// hi[j] += Σ_r ⌊|a[r,j]|·2^32⌋ and lo[j] += Σ_r (|a[r,j]|·2^64 mod 2^32), over r < rows and
/// j < cols (a[r,j] at a[r·rowStride + j]), for every |a| in [2^-40, 2^16) (exact: such a float
/// has no bits below 2^-64). Zeros add nothing. Sets *outside to 1 when some nonzero |a| lies
/// outside that range (subnormal, tiny, huge, infinite or NaN): the caller adds those itself;
/// else 0. Integer arithmetic on the float bits only, so the sums are the same on every CPU.
void ke_exact_abs_column_sums(const float *a, long rows, long cols, long rowStride,
                              unsigned long long *hi, unsigned long long *lo, int *outside);

/// A task of `ke_pool_run`: called once per worker w in 0..<workers with the caller's context.
typedef void (*ke_pool_task)(void *ctx, long w, long workers);

/// Runs fn(ctx, w, workers) for every w in 0..<workers at once: w = 0 on the calling thread, the
/// others on the pool's threads (started on first use, then kept; after a task each spins up to
/// KE_SPIN_US microseconds, default 100, before sleeping). Returns when all are done: 1. Returns
/// 0 without calling fn when the pool is busy (a run from another thread, or from inside a task)
/// or a thread cannot be started: the caller then does the work itself.
int ke_pool_run(long workers, ke_pool_task fn, void *ctx);
/// Waits until all `workers` workers of the running `ke_pool_run` task have called it (each must
/// call it the same number of times). Spins, yielding the core after KE_SPIN_US.
void ke_pool_barrier(long workers);

#ifdef __cplusplus
}
#endif
#endif
