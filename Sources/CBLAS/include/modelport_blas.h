// The BLAS the verifier's forward passes run on, loaded at first use (see blas_loader.c for why it is not linked).
#ifndef MODELPORT_BLAS_H
#define MODELPORT_BLAS_H

#ifdef __cplusplus
extern "C" {
#endif

/// CBLAS's enumerations (cblas.h, the reference CBLAS interface): row-major storage, transposition.
enum { MODELPORT_BLAS_ROW_MAJOR = 101, MODELPORT_BLAS_NO_TRANS = 111, MODELPORT_BLAS_TRANS = 112 };

/// What was loaded, and why. Strings live as long as the process.
typedef struct {
    /// 1 when a BLAS with cblas_sgemm is loaded.
    int loaded;
    /// The library file (dladdr of cblas_sgemm), or the reason none loaded.
    const char *library;
    /// The kernel OpenBLAS runs (openblas_get_corename), or "" for another BLAS.
    const char *core;
    /// OpenBLAS's build description (openblas_get_config), or "".
    const char *config;
    /// The core type the CPU calls for, from cpuid ("SkylakeX", "Haswell", "Zen", "Sandybridge"), or "" to leave it to OpenBLAS.
    const char *detected_core;
    /// Where OPENBLAS_CORETYPE came from: "user" (set before the process asked), "cpuid" (set here), or "openblas" (left unset).
    const char *core_choice;
} modelport_blas_info;

/// Loads the BLAS once (thread-safe), choosing OpenBLAS's kernel from cpuid first; later calls return the same.
const modelport_blas_info *modelport_blas_load(void);

/// The core type cpuid calls for on this CPU, as OPENBLAS_CORETYPE spells it, or "" (not x86-64, or too old to matter).
const char *modelport_blas_detect_core(void);

/// cblas_sgemm of the loaded library; modelport_blas_load must have reported `loaded`.
void modelport_blas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                          const float *b, int ldb, float beta, float *c, int ldc);

/// The library's thread count (openblas_get_num_threads), or 1 when it has no such call.
int modelport_blas_threads(void);

/// 1 when this CPU (and its OS) runs AVX2 with FMA, the instructions of the row operations below (vector_kernels.c).
int modelport_vector_avx2(void);

/// `values[i] = gelu(values[i] + bias[i])` (erf GELU; `bias` may be NULL). Only when modelport_vector_avx2() is 1.
void modelport_vector_bias_gelu(float *values, const float *bias, long count);

/// Softmax of one row in place after adding `mask` and `bias` (either may be NULL); a NaN or +∞ makes the row NaN, a
/// row of −∞ becomes zeros. Only when modelport_vector_avx2() is 1.
void modelport_vector_softmax(float *scores, long count, const float *mask, const float *bias);

/// Sums for comparing `count` values of `a` with `b` (whole groups of four), in four double lanes (lane l over
/// elements l, l + 4, …): lanes[0..<4] Σ(a − b)², [4..<8] max |a − b|, [8..<12] Σ a·b, [12..<16] Σ a², [16..<20]
/// Σ b². Only when modelport_vector_avx2() is 1.
void modelport_vector_quality_lanes(const float *a, const float *b, long count, double lanes[20]);

/// `y[i·ldy + j] = Σ_p x[i·k + p] · w[j·k + p]` for i < rows, j < columns: the product x · Wᵀ with both row-major,
/// W streamed once without packing, for few rows of x. Only when modelport_vector_avx2() is 1.
void modelport_small_gemm_nt(const float *x, long rows, long k, const float *w, long columns, float *y, long ldy);

#ifdef __cplusplus
}
#endif

#endif
