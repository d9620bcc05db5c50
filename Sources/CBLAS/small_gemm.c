// y = x · Wᵀ for few rows of x, in AVX2 + FMA, chosen at run time (modelport_vector_avx2).
//
// With a handful of token rows (the quality check after quantizing runs 2 × 16 tokens) a BLAS sgemm spends most of
// its time packing W, which it reads once to pack and again to multiply. Here each output is a dot product of a row of
// x with a row of W, both contiguous, so W is streamed once from memory: a block of 3 rows of W meets every block of 4
// rows of x while it sits in cache. Each dot product runs in eight lanes with fused multiply-adds, the lanes added at
// the end, so the result differs from a BLAS's only by the order of the additions.
#include "modelport_blas.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline float lanes_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Lanes [0, count) of a row tail (count < 8) loaded, the others 0.
AVX2 static inline __m256 load_tail(const float *p, long count) {
    static const int ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_maskload_ps(p, _mm256_loadu_si256((const __m256i *)(ones + 8 - count)));
}

// y[i][j] (i < MB rows of x, j < NB rows of W) = x_i · w_j over k; MB ≤ 4, NB ≤ 3 (12 accumulators, 16 registers).
#define BLOCK(MB, NB)                                                                                                   \
    AVX2 static void block_##MB##_##NB(const float *x, long ldx, const float *w, long ldw, long k, float *y, long ldy) { \
        __m256 acc[MB][NB];                                                                                             \
        for (int i = 0; i < MB; i++)                                                                                    \
            for (int j = 0; j < NB; j++) acc[i][j] = _mm256_setzero_ps();                                              \
        long p = 0;                                                                                                     \
        for (; p + 8 <= k; p += 8) {                                                                                    \
            __m256 wv[NB];                                                                                              \
            for (int j = 0; j < NB; j++) wv[j] = _mm256_loadu_ps(w + j * ldw + p);                                     \
            for (int i = 0; i < MB; i++) {                                                                              \
                const __m256 xv = _mm256_loadu_ps(x + i * ldx + p);                                                     \
                for (int j = 0; j < NB; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);                        \
            }                                                                                                           \
        }                                                                                                               \
        if (p < k) {                                                                                                    \
            __m256 wv[NB];                                                                                              \
            for (int j = 0; j < NB; j++) wv[j] = load_tail(w + j * ldw + p, k - p);                                    \
            for (int i = 0; i < MB; i++) {                                                                              \
                const __m256 xv = load_tail(x + i * ldx + p, k - p);                                                    \
                for (int j = 0; j < NB; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);                        \
            }                                                                                                           \
        }                                                                                                               \
        for (int i = 0; i < MB; i++)                                                                                    \
            for (int j = 0; j < NB; j++) y[i * ldy + j] = lanes_sum(acc[i][j]);                                         \
    }

BLOCK(4, 3) BLOCK(4, 2) BLOCK(4, 1)
BLOCK(3, 3) BLOCK(3, 2) BLOCK(3, 1)
BLOCK(2, 3) BLOCK(2, 2) BLOCK(2, 1)
BLOCK(1, 3) BLOCK(1, 2) BLOCK(1, 1)

typedef void (*block_fn)(const float *, long, const float *, long, long, float *, long);
static const block_fn blocks[4][3] = {
    {block_1_1, block_1_2, block_1_3},
    {block_2_1, block_2_2, block_2_3},
    {block_3_1, block_3_2, block_3_3},
    {block_4_1, block_4_2, block_4_3},
};

void modelport_small_gemm_nt(const float *x, long rows, long k, const float *w, long columns, float *y, long ldy) {
    for (long j = 0; j < columns; j += 3) {
        const long nb = columns - j < 3 ? columns - j : 3;
        for (long i = 0; i < rows; i += 4) {
            const long mb = rows - i < 4 ? rows - i : 4;
            blocks[mb - 1][nb - 1](x + i * k, k, w + j * k, k, k, y + i * ldy + j, ldy);
        }
    }
}

#else

void modelport_small_gemm_nt(const float *x, long rows, long k, const float *w, long columns, float *y, long ldy) {
    (void)x, (void)rows, (void)k, (void)w, (void)columns, (void)y, (void)ldy;
}

#endif
