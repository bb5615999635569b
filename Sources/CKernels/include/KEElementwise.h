#ifndef KE_ELEMENTWISE_H
#define KE_ELEMENTWISE_H

/// The FFN activations and their backward in sixteen AVX-512 lanes (Sources/CKernels/elementwise.c). Each lane applies the operations of the Swift
/// SIMD8 form (`Activation`, `vexp`, `verf`, `vtanh`) in the same order, without fused
/// multiply-adds, so the results are the same bits. Call only when `ke_cpu_has_avx512()`.
/// Counts are whole groups of eight (n % 8 == 0): the caller finishes a row with the scalar form.

#ifdef __cplusplus
extern "C" {
#endif

/// The kinds, in the order of Swift's `Activation` cases.
enum { KE_ACT_GELU = 0, KE_ACT_GELU_TANH = 1, KE_ACT_SILU = 2, KE_ACT_RELU = 3 };

/// y[i] = act(x[i]), times u[i] when u is not NULL, for i < n. y may be x.
void ke_activate_avx512(int kind, const float *x, const float *u, float *y, long n);

/// For i < n: with up, dup[i] = g[i]·act(pre[i]) and g[i] = g[i]·up[i]·act′(pre[i]);
/// without (up NULL, dup unused), g[i] = g[i]·act′(pre[i]).
void ke_activation_backward_avx512(int kind, float *g, const float *pre, const float *up, float *dup, long n);

#ifdef __cplusplus
}
#endif
#endif
