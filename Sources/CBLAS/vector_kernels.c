// Row operations of the forward pass (bias + erf GELU, softmax) in AVX2 + FMA, chosen at run time by cpuid.
//
// The Swift package is built for the x86-64 baseline (SSE2), where Sources/Verifier/Vector.swift's eight-lane SIMD
// values are two SSE registers, without fused multiply-add and with a slow divide. On a CPU with AVX2 and FMA (Intel
// since Haswell, AMD since Zen) these functions do the same arithmetic in one 256-bit register per eight lanes. They
// compute the same functions, by the same formulas, as Vector.swift (Cephes expf, Abramowitz & Stegun 7.1.26 for
// erf); only the rounding of the fused multiply-adds differs (a few units in the last place).
#include "modelport_blas.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static int avx2_fma_supported(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx) || eax < 7) return 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const int osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, fma = (ecx >> 12) & 1;
    if (!osxsave || !avx || !fma) return 0;
    unsigned int xcr0_low, xcr0_high;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & 0x6) != 0x6) return 0;  // the OS does not save the YMM state (Intel SDM vol. 1, 13.3)
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    return (ebx >> 5) & 1;  // AVX2
}

int modelport_vector_avx2(void) {
    static int supported = -1;  // a benign race: every thread computes the same value
    if (supported < 0) supported = avx2_fma_supported();
    return supported;
}

#define AVX2 __attribute__((target("avx2,fma")))

// eˣ for x ≤ 0, 0 below the smallest normal result (Vector.exp).
AVX2 static inline __m256 exp_nonpositive(__m256 x) {
    const __m256 lowest = _mm256_set1_ps(-87.33654f), magic = _mm256_set1_ps(12582912.0f);
    const __m256 under = _mm256_cmp_ps(x, lowest, _CMP_LT_OQ);
    const __m256 c = _mm256_blendv_ps(x, lowest, under);
    const __m256 shifted = _mm256_fmadd_ps(c, _mm256_set1_ps(1.44269504088896341f), magic);
    const __m256 n = _mm256_sub_ps(shifted, magic);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), c);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    const __m256 er = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i bits = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_set1_epi32(0x4B400000 - 127));
    const __m256 result = _mm256_mul_ps(er, _mm256_castsi256_ps(_mm256_slli_epi32(bits, 23)));
    return _mm256_blendv_ps(result, _mm256_setzero_ps(), under);
}

// 0.5·x·(1 + erf(x/√2)), erf by Abramowitz & Stegun 7.1.26 (Vector.erf).
AVX2 static inline __m256 gelu(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    const __m256 a = _mm256_andnot_ps(sign, z);
    const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(a, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    const __m256 e = exp_nonpositive(_mm256_xor_ps(_mm256_mul_ps(a, a), sign));
    const __m256 y = _mm256_fnmadd_ps(_mm256_mul_ps(p, t), e, _mm256_set1_ps(1.0f));
    const __m256 erf = _mm256_or_ps(y, _mm256_and_ps(z, sign));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), erf));
}

AVX2 static void bias_gelu(float *p, const float *bias, long count) {
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 x = _mm256_loadu_ps(p + i);
        if (bias) x = _mm256_add_ps(x, _mm256_loadu_ps(bias + i));
        _mm256_storeu_ps(p + i, gelu(x));
    }
    if (i < count) {
        float lanes[8] = {0};
        const long n = count - i;
        for (long j = 0; j < n; j++) lanes[j] = p[i + j] + (bias ? bias[i + j] : 0.0f);
        _mm256_storeu_ps(lanes, gelu(_mm256_loadu_ps(lanes)));
        memcpy(p + i, lanes, (size_t)n * sizeof(float));
    }
}

AVX2 static void softmax(float *s, long count, const float *mask, const float *bias) {
    if (count <= 0) return;
    __m256 maximum = _mm256_set1_ps(-INFINITY), nan = _mm256_setzero_ps();
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_loadu_ps(s + i);
        if (mask) v = _mm256_add_ps(v, _mm256_loadu_ps(mask + i));
        if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + i));
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        maximum = _mm256_max_ps(maximum, v);
        _mm256_storeu_ps(s + i, v);
    }
    float top = -INFINITY;
    int any_nan = _mm256_movemask_ps(nan) != 0;
    float lanes[8];
    _mm256_storeu_ps(lanes, maximum);
    for (int j = 0; j < 8; j++) top = lanes[j] > top ? lanes[j] : top;
    for (long j = i; j < count; j++) {
        float v = s[j] + (mask ? mask[j] : 0.0f) + (bias ? bias[j] : 0.0f);
        if (v != v) any_nan = 1;
        top = v > top ? v : top;
        s[j] = v;
    }
    // A NaN or +∞ score makes the row NaN, as in PyTorch; a row of −∞ (every key masked) becomes zeros.
    if (any_nan || top == INFINITY) {
        for (long j = 0; j < count; j++) s[j] = NAN;
        return;
    }
    if (top == -INFINITY) {
        memset(s, 0, (size_t)count * sizeof(float));
        return;
    }
    const __m256 shift = _mm256_set1_ps(top);
    __m256 sum = _mm256_setzero_ps();
    for (i = 0; i + 8 <= count; i += 8) {
        const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(s + i), shift));
        _mm256_storeu_ps(s + i, e);
        sum = _mm256_add_ps(sum, e);
    }
    if (i < count) {
        const long n = count - i;
        for (int j = 0; j < 8; j++) lanes[j] = j < n ? s[i + j] : -INFINITY;
        const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(lanes), shift));
        _mm256_storeu_ps(lanes, e);
        memcpy(s + i, lanes, (size_t)n * sizeof(float));
        sum = _mm256_add_ps(sum, e);
    }
    _mm256_storeu_ps(lanes, sum);
    float total = 0;
    for (int j = 0; j < 8; j++) total += lanes[j];
    const __m256 inverse = _mm256_set1_ps(1.0f / total);
    for (i = 0; i + 8 <= count; i += 8) _mm256_storeu_ps(s + i, _mm256_mul_ps(_mm256_loadu_ps(s + i), inverse));
    for (; i < count; i++) s[i] *= 1.0f / total;
}

void modelport_vector_bias_gelu(float *values, const float *bias, long count) { bias_gelu(values, bias, count); }

// The running sums of a tensor comparison in four double lanes, lane l over elements l, l + 4, l + 8, … in order:
// (x − y)², max |x − y|, x·y, x², y² (TensorQuality.Sums, which adds the lanes and the tail). Products and sums are
// rounded separately, as the Swift loop does, so the figures are the same bit for bit.
AVX2 void modelport_vector_quality_lanes(const float *a, const float *b, long count, double lanes[20]) {
    __m256d squared = _mm256_setzero_pd(), worst = _mm256_setzero_pd(), dot = _mm256_setzero_pd();
    __m256d na = _mm256_setzero_pd(), nb = _mm256_setzero_pd();
    const __m256d magnitude = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFLL));
    for (long i = 0; i + 4 <= count; i += 4) {
        const __m256d x = _mm256_cvtps_pd(_mm_loadu_ps(a + i)), y = _mm256_cvtps_pd(_mm_loadu_ps(b + i));
        const __m256d d = _mm256_sub_pd(x, y);
        squared = _mm256_add_pd(squared, _mm256_mul_pd(d, d));
        worst = _mm256_max_pd(_mm256_and_pd(d, magnitude), worst);  // a NaN difference keeps the running maximum
        dot = _mm256_add_pd(dot, _mm256_mul_pd(x, y));
        na = _mm256_add_pd(na, _mm256_mul_pd(x, x));
        nb = _mm256_add_pd(nb, _mm256_mul_pd(y, y));
    }
    _mm256_storeu_pd(lanes, squared);
    _mm256_storeu_pd(lanes + 4, worst);
    _mm256_storeu_pd(lanes + 8, dot);
    _mm256_storeu_pd(lanes + 12, na);
    _mm256_storeu_pd(lanes + 16, nb);
}

void modelport_vector_softmax(float *scores, long count, const float *mask, const float *bias) { softmax(scores, count, mask, bias); }

#else

int modelport_vector_avx2(void) { return 0; }
void modelport_vector_quality_lanes(const float *a, const float *b, long count, double lanes[20]) {
    (void)a, (void)b, (void)count, (void)lanes;
}
void modelport_vector_bias_gelu(float *values, const float *bias, long count) { (void)values, (void)bias, (void)count; }
void modelport_vector_softmax(float *scores, long count, const float *mask, const float *bias) {
    (void)scores, (void)count, (void)mask, (void)bias;
}

#endif
