#define _GNU_SOURCE
#include "CSystemShims.h"
#include <errno.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/types.h>
#include <fcntl.h>
#endif

long modelport_copy_file_range(int fd_in, int64_t *off_in, int fd_out, size_t len) {
#if defined(__linux__)
    loff_t offset = (loff_t)*off_in;
    ssize_t n = copy_file_range(fd_in, &offset, fd_out, NULL, len, 0);
    *off_in = (int64_t)offset;
    return (long)n;
#else
    (void)fd_in; (void)off_in; (void)fd_out; (void)len;
    errno = ENOSYS;
    return -1;
#endif
}

int modelport_start_writeback(int fd, int64_t offset, int64_t length) {
#if defined(__linux__)
    return sync_file_range(fd, (off_t)offset, (off_t)length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}

#if defined(__linux__)
#include <pthread.h>
#include <stdlib.h>

struct modelport_writeback {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    pthread_t thread;
    int fd;
    int stopping;
    int64_t requested;  // writeback asked for everything before this offset
    int64_t started;    // and started for everything before this one
};

static void *modelport_writeback_run(void *argument) {
    struct modelport_writeback *w = argument;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->requested == w->started && !w->stopping) pthread_cond_wait(&w->changed, &w->lock);
        if (w->stopping) break;  // what is left is the fsync's (or the file is being dropped)
        int64_t from = w->started, to = w->requested;
        pthread_mutex_unlock(&w->lock);
        (void)sync_file_range(w->fd, (off_t)from, (off_t)(to - from), SYNC_FILE_RANGE_WRITE);  // a hint: errors ignored
        pthread_mutex_lock(&w->lock);
        w->started = to;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

modelport_writeback *modelport_writeback_create(int fd) {
    struct modelport_writeback *w = calloc(1, sizeof *w);
    if (w == NULL) return NULL;
    w->fd = fd;
    if (pthread_mutex_init(&w->lock, NULL) != 0) { free(w); return NULL; }
    if (pthread_cond_init(&w->changed, NULL) != 0) { pthread_mutex_destroy(&w->lock); free(w); return NULL; }
    pthread_attr_t attributes;
    int made = pthread_attr_init(&attributes) == 0;
    if (made) pthread_attr_setstacksize(&attributes, 64 << 10);  // the loop above needs next to nothing
    if (!made || pthread_create(&w->thread, &attributes, modelport_writeback_run, w) != 0) {
        if (made) pthread_attr_destroy(&attributes);
        pthread_cond_destroy(&w->changed);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    pthread_attr_destroy(&attributes);
    return w;
}

void modelport_writeback_request(modelport_writeback *w, int64_t end) {
    pthread_mutex_lock(&w->lock);
    if (end > w->requested) {
        w->requested = end;
        pthread_cond_signal(&w->changed);
    }
    pthread_mutex_unlock(&w->lock);
}

void modelport_writeback_finish(modelport_writeback *w) {
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_signal(&w->changed);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->changed);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
#else
modelport_writeback *modelport_writeback_create(int fd) { (void)fd; return NULL; }
void modelport_writeback_request(modelport_writeback *w, int64_t end) { (void)w; (void)end; }
void modelport_writeback_finish(modelport_writeback *w) { (void)w; }
#endif

#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <fcntl.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif


int modelport_rename_noreplace(const char *from, const char *to) {
#if defined(__linux__) && defined(SYS_renameat2)
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 1 /* RENAME_NOREPLACE */);
#elif defined(__APPLE__)
    return renamex_np(from, to, RENAME_EXCL);
#else
    (void)from; (void)to;
    errno = ENOSYS;
    return -1;
#endif
}

/* Temporary outputs to remove on SIGINT / SIGTERM / SIGHUP. Fixed slots of fixed size, written before the slot is
   published, so the handler reads only complete paths and calls only unlink(2) and raise(3). */
#define MODELPORT_TEMP_SLOTS 64
#define MODELPORT_TEMP_PATH 4096
static char modelport_temp_paths[MODELPORT_TEMP_SLOTS][MODELPORT_TEMP_PATH];
static volatile sig_atomic_t modelport_temp_used[MODELPORT_TEMP_SLOTS];

static void modelport_cleanup_signal(int signo) {
    for (int i = 0; i < MODELPORT_TEMP_SLOTS; i++) {
        if (modelport_temp_used[i] == 1) unlink(modelport_temp_paths[i]);
    }
    signal(signo, SIG_DFL);
    raise(signo);
}

void modelport_install_cleanup_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = modelport_cleanup_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
}

int modelport_register_temporary(const char *path) {
    size_t length = strlen(path);
    if (length >= MODELPORT_TEMP_PATH) return -1;
    for (int i = 0; i < MODELPORT_TEMP_SLOTS; i++) {
        if (__sync_bool_compare_and_swap(&modelport_temp_used[i], 0, 2)) { /* 2: being filled, not yet visible */
            memcpy(modelport_temp_paths[i], path, length + 1);
            __sync_synchronize();
            modelport_temp_used[i] = 1;
            return i;
        }
    }
    return -1;
}

void modelport_release_temporary(int id) {
    if (id >= 0 && id < MODELPORT_TEMP_SLOTS) modelport_temp_used[id] = 0;
}

/* An 8 x 8 block transpose in vector registers (clang/gcc vector extensions, so the same code serves SSE, AVX2 and
 * NEON): three rounds of interleaving, pairs of 32-bit lanes, then 64-bit pairs, then 128-bit halves. */
typedef uint32_t modelport_v8u __attribute__((vector_size(32), aligned(4)));

#if defined(__clang__)
#define MP_SHUFFLE(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define MP_SHUFFLE(a, b, ...) __builtin_shuffle(a, b, (modelport_v8u){__VA_ARGS__})
#endif

#define MODELPORT_TRANSPOSE_BODY                                                                                     \
    const uint32_t *src = (const uint32_t *)source;                                                                  \
    uint32_t *dst = (uint32_t *)destination;                                                                         \
    const size_t tile = 128;                                                                                          \
    size_t full_columns = columns / 8 * 8;                                                                           \
    for (size_t row_tile = first_row; row_tile < end_row; row_tile += tile) {                                        \
        size_t row_end = row_tile + tile < end_row ? row_tile + tile : end_row;                                      \
        size_t row_blocks_end = row_tile + (row_end - row_tile) / 8 * 8;                                             \
        for (size_t column_tile = 0; column_tile < columns; column_tile += tile) {                                   \
            size_t column_end = column_tile + tile < columns ? column_tile + tile : columns;                         \
            size_t column_blocks_end = column_end < full_columns ? column_end : full_columns;                        \
            for (size_t r = row_tile; r < row_blocks_end; r += 8) {                                                  \
                size_t c = column_tile;                                                                              \
                for (; c < column_blocks_end; c += 8) {                                                              \
                    modelport_v8u r0, r1, r2, r3, r4, r5, r6, r7;                                                    \
                    memcpy(&r0, src + (r + 0) * src_stride + c, 32);                                                    \
                    memcpy(&r1, src + (r + 1) * src_stride + c, 32);                                                    \
                    memcpy(&r2, src + (r + 2) * src_stride + c, 32);                                                    \
                    memcpy(&r3, src + (r + 3) * src_stride + c, 32);                                                    \
                    memcpy(&r4, src + (r + 4) * src_stride + c, 32);                                                    \
                    memcpy(&r5, src + (r + 5) * src_stride + c, 32);                                                    \
                    memcpy(&r6, src + (r + 6) * src_stride + c, 32);                                                    \
                    memcpy(&r7, src + (r + 7) * src_stride + c, 32);                                                    \
                    modelport_v8u t0 = MP_SHUFFLE(r0, r1, 0, 8, 1, 9, 4, 12, 5, 13);                                 \
                    modelport_v8u t1 = MP_SHUFFLE(r0, r1, 2, 10, 3, 11, 6, 14, 7, 15);                               \
                    modelport_v8u t2 = MP_SHUFFLE(r2, r3, 0, 8, 1, 9, 4, 12, 5, 13);                                 \
                    modelport_v8u t3 = MP_SHUFFLE(r2, r3, 2, 10, 3, 11, 6, 14, 7, 15);                               \
                    modelport_v8u t4 = MP_SHUFFLE(r4, r5, 0, 8, 1, 9, 4, 12, 5, 13);                                 \
                    modelport_v8u t5 = MP_SHUFFLE(r4, r5, 2, 10, 3, 11, 6, 14, 7, 15);                               \
                    modelport_v8u t6 = MP_SHUFFLE(r6, r7, 0, 8, 1, 9, 4, 12, 5, 13);                                 \
                    modelport_v8u t7 = MP_SHUFFLE(r6, r7, 2, 10, 3, 11, 6, 14, 7, 15);                               \
                    modelport_v8u u0 = MP_SHUFFLE(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);                                 \
                    modelport_v8u u1 = MP_SHUFFLE(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);                               \
                    modelport_v8u u2 = MP_SHUFFLE(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);                                 \
                    modelport_v8u u3 = MP_SHUFFLE(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);                               \
                    modelport_v8u u4 = MP_SHUFFLE(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);                                 \
                    modelport_v8u u5 = MP_SHUFFLE(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);                               \
                    modelport_v8u u6 = MP_SHUFFLE(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);                                 \
                    modelport_v8u u7 = MP_SHUFFLE(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);                               \
                    modelport_v8u o0 = MP_SHUFFLE(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11);                                 \
                    modelport_v8u o1 = MP_SHUFFLE(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11);                                 \
                    modelport_v8u o2 = MP_SHUFFLE(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11);                                 \
                    modelport_v8u o3 = MP_SHUFFLE(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11);                                 \
                    modelport_v8u o4 = MP_SHUFFLE(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15);                               \
                    modelport_v8u o5 = MP_SHUFFLE(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15);                               \
                    modelport_v8u o6 = MP_SHUFFLE(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15);                               \
                    modelport_v8u o7 = MP_SHUFFLE(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15);                               \
                    memcpy(dst + (c + 0) * dst_stride + r, &o0, 32);                                                       \
                    memcpy(dst + (c + 1) * dst_stride + r, &o1, 32);                                                       \
                    memcpy(dst + (c + 2) * dst_stride + r, &o2, 32);                                                       \
                    memcpy(dst + (c + 3) * dst_stride + r, &o3, 32);                                                       \
                    memcpy(dst + (c + 4) * dst_stride + r, &o4, 32);                                                       \
                    memcpy(dst + (c + 5) * dst_stride + r, &o5, 32);                                                       \
                    memcpy(dst + (c + 6) * dst_stride + r, &o6, 32);                                                       \
                    memcpy(dst + (c + 7) * dst_stride + r, &o7, 32);                                                       \
                }                                                                                                    \
                for (size_t rr = r; rr < r + 8; rr++)                                                                \
                    for (size_t cc = c; cc < column_end; cc++) dst[cc * dst_stride + rr] = src[rr * src_stride + cc];         \
            }                                                                                                        \
            for (size_t rr = row_blocks_end; rr < row_end; rr++)                                                     \
                for (size_t cc = column_tile; cc < column_end; cc++) dst[cc * dst_stride + rr] = src[rr * src_stride + cc];   \
        }                                                                                                            \
    }

#if defined(__x86_64__)
/* Whether this CPU runs AVX2, asked once (every AVX2 kernel below is chosen by it). */
static int modelport_has_avx2(void) {
    static int avx2 = -1; /* threads that race here store the same answer */
    int known = __atomic_load_n(&avx2, __ATOMIC_RELAXED);
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&avx2, known, __ATOMIC_RELAXED);
    }
    return known;
}

/* The kernel `void name params` made of the statements `body` (which use the parameters' names), compiled twice from
 * the same C, for the baseline and with AVX2 enabled, and run as the AVX2 copy where the processor has it: the
 * results are the same either way. */
#define MODELPORT_AVX2_KERNEL(name, params, args, body)                                                              \
    static void name##_generic params { body }                                                                     \
    __attribute__((target("avx2"))) static void name##_avx2 params { body }                                        \
    void name params {                                                                                              \
        if (modelport_has_avx2()) name##_avx2 args;                                                                 \
        else name##_generic args;                                                                                   \
    }
#else
#define MODELPORT_AVX2_KERNEL(name, params, args, body) void name params { body }
#endif

MODELPORT_AVX2_KERNEL(modelport_transpose32,
                      (const void *source, size_t src_stride, void *destination, size_t dst_stride, size_t columns,
                       size_t first_row, size_t end_row),
                      (source, src_stride, destination, dst_stride, columns, first_row, end_row), MODELPORT_TRANSPOSE_BODY)

/* The zip/zlib CRC-32 (reflected polynomial 0xEDB88320) and CRC-32C (Castagnoli, reflected 0x82F63B78) by
 * carry-less multiplication, after Intel's white paper "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ
 * Instruction" (Gopal et al., 2009): 128-bit lanes of the message are folded forward (a lane times x^d mod P lands d
 * bits later, where it is added to the data there), folded into one, reduced to 64 and then 32 bits, and finished by
 * a Barrett reduction. Only the constants depend on the polynomial: x^k mod P for the fold distances (bit-reflected,
 * shifted by one), floor(x^64 / P) and P itself, computed below from the polynomial. With AVX-512 and VPCLMULQDQ the
 * lanes are 512-bit registers, four 128-bit lanes each, folded 256 bytes at a time. */
#if defined(__x86_64__)
#include <wmmintrin.h>
#include <smmintrin.h>
#include <nmmintrin.h>
#include <immintrin.h>

typedef struct {
    /* {x^(d+32), x^(d-32)} mod P for fold distances d of 2048, 512 and 128 bits; x^64 mod P; {P, floor(x^64 / P)}. */
    uint64_t fold2048[2], fold512[2], fold128[2], fold64, barrett[2];
} modelport_crc_constants;

/* x^n mod P, bit-reflected (bit 31 the constant term), shifted left once into the 33-bit form the products use. */
static uint64_t modelport_crc_power(uint32_t reflected, unsigned n) {
    uint32_t v = 0x80000000u; /* x^0 */
    while (n--) v = (v & 1) ? (v >> 1) ^ reflected : v >> 1;
    return (uint64_t)v << 1;
}

static void modelport_crc_make(modelport_crc_constants *k, uint32_t reflected) {
    const unsigned distances[3] = {2048, 512, 128};
    uint64_t *slots[3] = {k->fold2048, k->fold512, k->fold128};
    for (int i = 0; i < 3; i++) {
        slots[i][0] = modelport_crc_power(reflected, distances[i] + 32);
        slots[i][1] = modelport_crc_power(reflected, distances[i] - 32);
    }
    k->fold64 = modelport_crc_power(reflected, 64);
    /* floor(x^64 / P) by long division with P in the usual order (bit i the coefficient of x^i), then reflected
       to 33 bits. */
    uint64_t normal = 1ull << 32, quotient = 0;
    for (int b = 0; b < 32; b++) if (reflected & (1u << b)) normal |= 1ull << (31 - b);
    unsigned __int128 remainder = (unsigned __int128)1 << 64;
    for (int b = 64; b >= 32; b--) {
        if ((remainder >> b) & 1) { remainder ^= (unsigned __int128)normal << (b - 32); quotient |= 1ull << (b - 32); }
    }
    uint64_t mu = 0;
    for (int b = 0; b < 33; b++) if (quotient & (1ull << b)) mu |= 1ull << (32 - b);
    k->barrett[0] = ((uint64_t)reflected << 1) | 1;
    k->barrett[1] = mu;
}

static modelport_crc_constants modelport_crc32_constants, modelport_crc32c_constants;
/* 0: no carry-less multiplication; 1: 128-bit lanes (PCLMULQDQ, SSE4.1); 2: also 512-bit (AVX-512F, VPCLMULQDQ). */
static int modelport_crc_level, modelport_crc_supported; /* the level in use (tests may lower it), the CPU's */
static int modelport_has_crc32c_instruction; /* SSE4.2 */
static pthread_once_t modelport_crc_once = PTHREAD_ONCE_INIT;

static void modelport_crc_setup(void) {
    modelport_crc_make(&modelport_crc32_constants, 0xEDB88320u);
    modelport_crc_make(&modelport_crc32c_constants, 0x82F63B78u);
    __builtin_cpu_init();
    modelport_has_crc32c_instruction = __builtin_cpu_supports("sse4.2");
    int level = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1") ? 1 : 0;
    if (level && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq")) level = 2;
    modelport_crc_supported = modelport_crc_level = level;
}

#define MODELPORT_LOAD128(p) _mm_loadu_si128((const __m128i *)(p))

/* x · x^d + next, for the fold constants k of distance d. */
__attribute__((target("pclmul,sse4.1")))
static inline __m128i modelport_fold(__m128i x, __m128i k, __m128i next) {
    return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), next);
}

/* The remaining `blocks16` 16-byte blocks folded into x; then 128 → 64 bits (which appends the 32 zero bits the CRC
   definition needs), 64 → 32, and the Barrett step. */
__attribute__((target("pclmul,sse4.1")))
static inline uint32_t modelport_crc_finish(const modelport_crc_constants *k, __m128i x, const unsigned char *p,
                                            size_t blocks16) {
    const __m128i fold128 = MODELPORT_LOAD128(k->fold128), barrett = MODELPORT_LOAD128(k->barrett);
    const __m128i fold64 = _mm_set_epi64x(0, (long long)k->fold64), low32 = _mm_set_epi32(0, 0, 0, -1);
    for (; blocks16 > 0; blocks16--, p += 16) x = modelport_fold(x, fold128, MODELPORT_LOAD128(p));
    x = _mm_xor_si128(_mm_srli_si128(x, 8), _mm_clmulepi64_si128(x, fold128, 0x10));
    x = _mm_xor_si128(_mm_srli_si128(x, 4), _mm_clmulepi64_si128(_mm_and_si128(x, low32), fold64, 0x00));
    __m128i t = _mm_clmulepi64_si128(_mm_and_si128(x, low32), barrett, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), barrett, 0x00);
    return (uint32_t)_mm_extract_epi32(_mm_xor_si128(x, t), 1);
}

/* Four lanes of `width` bytes (registers of type `vector`, read by `load`, the first one `first`: the message's first
   lane with the state added) folded forward by `far` (4 · width bytes) until fewer than 4 · width bytes are left, then
   into one (x1) by `near` (width bytes); p and blocks16 advance past what was folded. */
#define MODELPORT_FOLD_FOUR_LANES(vector, load, fold, far, near, width, first)                                     \
    vector x1 = (first), x2 = load(p + (width)), x3 = load(p + 2 * (width)), x4 = load(p + 3 * (width));          \
    for (p += 4 * (width), blocks16 -= (width) / 4; blocks16 >= (width) / 4; blocks16 -= (width) / 4, p += 4 * (width)) { \
        x1 = fold(x1, far, load(p));                                                                               \
        x2 = fold(x2, far, load(p + (width)));                                                                     \
        x3 = fold(x3, far, load(p + 2 * (width)));                                                                 \
        x4 = fold(x4, far, load(p + 3 * (width)));                                                                 \
    }                                                                                                              \
    x1 = fold(fold(fold(x1, near, x2), near, x3), near, x4);

/* Four 128-bit lanes folded 64 bytes at a time. blocks16 >= 4. */
__attribute__((target("pclmul,sse4.1")))
static uint32_t modelport_crc_fold128(const modelport_crc_constants *k, uint32_t state, const unsigned char *p,
                                      size_t blocks16) {
    const __m128i fold512 = MODELPORT_LOAD128(k->fold512), fold128 = MODELPORT_LOAD128(k->fold128);
    MODELPORT_FOLD_FOUR_LANES(__m128i, MODELPORT_LOAD128, modelport_fold, fold512, fold128, 16,
                              _mm_xor_si128(MODELPORT_LOAD128(p), _mm_cvtsi32_si128((int)state)))
    return modelport_crc_finish(k, x1, p, blocks16);
}

/* modelport_fold on each of the four 128-bit lanes of a 512-bit register. */
__attribute__((target("avx512f,vpclmulqdq")))
static inline __m512i modelport_fold512(__m512i x, __m512i k, __m512i next) {
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00), _mm512_clmulepi64_epi128(x, k, 0x11), next, 0x96);
}

/* Four 512-bit lanes folded 256 bytes at a time, then as above. blocks16 >= 16. */
__attribute__((target("pclmul,sse4.1,avx512f,vpclmulqdq")))
static uint32_t modelport_crc_fold512(const modelport_crc_constants *k, uint32_t state, const unsigned char *p,
                                      size_t blocks16) {
    const __m512i fold2048 = _mm512_broadcast_i32x4(MODELPORT_LOAD128(k->fold2048));
    const __m512i fold512 = _mm512_broadcast_i32x4(MODELPORT_LOAD128(k->fold512));
    MODELPORT_FOLD_FOUR_LANES(__m512i, _mm512_loadu_si512, modelport_fold512, fold2048, fold512, 64,
                              _mm512_xor_si512(_mm512_loadu_si512(p), _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)state))))
    const __m128i fold128 = MODELPORT_LOAD128(k->fold128);
    __m128i x = _mm512_castsi512_si128(x1);
    x = modelport_fold(x, fold128, _mm512_extracti32x4_epi32(x1, 1));
    x = modelport_fold(x, fold128, _mm512_extracti32x4_epi32(x1, 2));
    x = modelport_fold(x, fold128, _mm512_extracti32x4_epi32(x1, 3));
    return modelport_crc_finish(k, x, p, blocks16);
}

int modelport_crc_fold_limit(int bits) {
    pthread_once(&modelport_crc_once, modelport_crc_setup);
    int wanted = bits >= 512 ? 2 : bits >= 128 ? 1 : 0;
    if (wanted > modelport_crc_supported) wanted = modelport_crc_supported;
    int previous = __atomic_exchange_n(&modelport_crc_level, wanted, __ATOMIC_RELAXED);
    return previous == 2 ? 512 : previous == 1 ? 128 : 0;
}

/* The register over the longest whole-16-byte-block prefix of at least 64 bytes; that prefix's length (0: none). */
static size_t modelport_crc_fold(const modelport_crc_constants *k, uint32_t *state, const void *data, size_t length) {
    int level = __atomic_load_n(&modelport_crc_level, __ATOMIC_RELAXED);
    if (level == 0 || length < 64) return 0;
    size_t blocks = length / 16;
    *state = level == 2 && blocks >= 16 ? modelport_crc_fold512(k, *state, data, blocks)
                                        : modelport_crc_fold128(k, *state, data, blocks);
    return blocks * 16;
}

size_t modelport_crc32_folded(uint32_t *state, const void *data, size_t length) {
    pthread_once(&modelport_crc_once, modelport_crc_setup);
    return modelport_crc_fold(&modelport_crc32_constants, state, data, length);
}

/* The CRC instruction for what folding leaves (and on processors without carry-less multiplication). */
__attribute__((target("sse4.2")))
static uint32_t modelport_crc32c_instruction(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = crc;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
    }
    uint32_t c32 = (uint32_t)c;
    for (; n > 0; n--) c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}

int modelport_crc32c_hardware(uint32_t *crc, const void *data, size_t length) {
    pthread_once(&modelport_crc_once, modelport_crc_setup);
    if (!modelport_has_crc32c_instruction) return 0;
    size_t folded = modelport_crc_fold(&modelport_crc32c_constants, crc, data, length);
    *crc = modelport_crc32c_instruction(*crc, (const unsigned char *)data + folded, length - folded);
    return 1;
}
#else
size_t modelport_crc32_folded(uint32_t *state, const void *data, size_t length) {
    (void)state; (void)data; (void)length;
    return 0;
}

int modelport_crc_fold_limit(int bits) {
    (void)bits;
    return 0;
}

int modelport_crc32c_hardware(uint32_t *crc, const void *data, size_t length) {
    (void)crc; (void)data; (void)length;
    return 0;
}
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* GGUF Q8_0 (ggml's block_q8_0: ggml_half d; int8_t qs[32]) expanded to floats, as ggml's dequantize_row_q8_0. */
static inline float modelport_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x03FF, bits;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000u | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {
        uint32_t e = 113;
        while ((mantissa & 0x0400) == 0) { mantissa <<= 1; e--; }
        bits = sign | (e << 23) | ((mantissa & 0x03FF) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

#define MODELPORT_Q8_0_BODY                                                                                         \
    const unsigned char *p = (const unsigned char *)source;                                                         \
    for (size_t b = 0; b < blocks; b++, p += 34, destination += 32) {                                              \
        const float d = modelport_half_to_float((uint16_t)(p[0] | (p[1] << 8)));                                  \
        const signed char *q = (const signed char *)(p + 2);                                                        \
        for (int j = 0; j < 32; j++) destination[j] = d * (float)q[j];                                              \
    }

MODELPORT_AVX2_KERNEL(modelport_q8_0_dequantize, (const void *source, size_t blocks, float *destination),
                      (source, blocks, destination), MODELPORT_Q8_0_BODY)

/* Per-channel int8 (Sources/Quantization/PackedQuants.swift, Int8PerChannel): row ranges and codes. */
#include <math.h>

static inline float modelport_load_f32(const unsigned char *p) {
    float v;
    memcpy(&v, p, 4);
    return v;
}

/* One value into a running minimum and maximum; 1 when it is a NaN or an infinity (all-ones exponent). */
static inline int modelport_range_step(const unsigned char *p, float *lo, float *hi) {
    const float v = modelport_load_f32(p);
    uint32_t bits;
    memcpy(&bits, &v, 4);
    *lo = v < *lo ? v : *lo;
    *hi = v > *hi ? v : *hi;
    return (bits & 0x7F800000u) == 0x7F800000u;
}

static int modelport_f32_row_ranges_generic(const void *source, size_t columns, size_t first_row, size_t end_row, float *lo,
                                            float *hi) {
    const unsigned char *base = (const unsigned char *)source;
    int bad = 0;
    for (size_t r = first_row; r < end_row; r++) {
        float l = 0, h = 0;
        for (size_t c = 0; c < columns; c++) bad |= modelport_range_step(base + (r * columns + c) * 4, &l, &h);
        lo[r] = l;
        hi[r] = h;
    }
    return bad;
}

static void modelport_int8_quantize_rows_generic(const void *source, size_t columns, size_t first_row, size_t end_row,
                                                 const float *scales, signed char *codes) {
    const unsigned char *base = (const unsigned char *)source;
    for (size_t r = first_row; r < end_row; r++) {
        const float scale = scales[r];
        for (size_t c = 0; c < columns; c++) {
            float x = modelport_load_f32(base + (r * columns + c) * 4) / scale;
            x = x < -128.0f ? -128.0f : (x > 127.0f ? 127.0f : x);
            codes[r * columns + c] = (signed char)nearbyintf(x);
        }
    }
}

#if defined(__x86_64__)
/* Running lane minima and maxima of `count` (a multiple of 8) f32 values at `p`, and lanes flagging a NaN or an
 * infinity (all-ones exponent). */
__attribute__((target("avx2")))
static inline void modelport_range_lanes_avx2(const unsigned char *p, size_t count, __m256 *l, __m256 *h, __m256i *bad) {
    const __m256i exponent = _mm256_set1_epi32(0x7F800000);
    for (size_t j = 0; j < count; j += 8) {
        const __m256 v = _mm256_loadu_ps((const float *)(p + j * 4));
        *bad = _mm256_or_si256(*bad, _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(v), exponent), exponent));
        *l = _mm256_min_ps(*l, v);
        *h = _mm256_max_ps(*h, v);
    }
}

/* The smallest of the lanes of `l` and `*lo`, and the largest of those of `h` and `*hi`, lane by lane in order. */
__attribute__((target("avx2")))
static inline void modelport_reduce_lanes_avx2(__m256 l, __m256 h, float *lo, float *hi) {
    float lanes_l[8], lanes_h[8];
    _mm256_storeu_ps(lanes_l, l);
    _mm256_storeu_ps(lanes_h, h);
    for (int j = 0; j < 8; j++) {
        *lo = lanes_l[j] < *lo ? lanes_l[j] : *lo;
        *hi = lanes_h[j] > *hi ? lanes_h[j] : *hi;
    }
}

__attribute__((target("avx2")))
static int modelport_f32_row_ranges_avx2(const void *source, size_t columns, size_t first_row, size_t end_row, float *lo,
                                         float *hi) {
    const unsigned char *base = (const unsigned char *)source;
    __m256i bad = _mm256_setzero_si256();
    int tail_bad = 0;
    const size_t whole = columns / 8 * 8;
    for (size_t r = first_row; r < end_row; r++) {
        const unsigned char *row = base + r * columns * 4;
        __m256 l = _mm256_setzero_ps(), h = _mm256_setzero_ps();
        modelport_range_lanes_avx2(row, whole, &l, &h, &bad);
        float fl = 0, fh = 0;
        modelport_reduce_lanes_avx2(l, h, &fl, &fh);
        for (size_t c = whole; c < columns; c++) tail_bad |= modelport_range_step(row + c * 4, &fl, &fh);
        lo[r] = fl;
        hi[r] = fh;
    }
    return tail_bad || !_mm256_testz_si256(bad, bad);
}

__attribute__((target("avx2")))
static void modelport_int8_quantize_rows_avx2(const void *source, size_t columns, size_t first_row, size_t end_row,
                                              const float *scales, signed char *codes) {
    const unsigned char *base = (const unsigned char *)source;
    const __m256 low = _mm256_set1_ps(-128.0f), high = _mm256_set1_ps(127.0f);
    for (size_t r = first_row; r < end_row; r++) {
        const unsigned char *row = base + r * columns * 4;
        signed char *out = codes + r * columns;
        const __m256 scale = _mm256_set1_ps(scales[r]);
        size_t c = 0;
        for (; c + 8 <= columns; c += 8) {
            __m256 x = _mm256_div_ps(_mm256_loadu_ps((const float *)(row + c * 4)), scale);
            x = _mm256_min_ps(_mm256_max_ps(x, low), high);
            const __m256i q = _mm256_cvtps_epi32(_mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
            _mm_storel_epi64((__m128i *)(out + c), _mm_packs_epi16(q16, q16));
        }
        for (; c < columns; c++) {
            float x = modelport_load_f32(row + c * 4) / scales[r];
            x = x < -128.0f ? -128.0f : (x > 127.0f ? 127.0f : x);
            out[c] = (signed char)nearbyintf(x);
        }
    }
}

#endif

int modelport_f32_row_ranges(const void *source, size_t columns, size_t first_row, size_t end_row, float *lo, float *hi) {
#if defined(__x86_64__)
    if (modelport_has_avx2()) return modelport_f32_row_ranges_avx2(source, columns, first_row, end_row, lo, hi);
#endif
    return modelport_f32_row_ranges_generic(source, columns, first_row, end_row, lo, hi);
}

void modelport_int8_quantize_rows(const void *source, size_t columns, size_t first_row, size_t end_row, const float *scales,
                                  signed char *codes) {
#if defined(__x86_64__)
    if (modelport_has_avx2()) {
        modelport_int8_quantize_rows_avx2(source, columns, first_row, end_row, scales, codes);
        return;
    }
#endif
    modelport_int8_quantize_rows_generic(source, columns, first_row, end_row, scales, codes);
}

/* The first NaN or infinity (all-ones exponent) among little-endian f32 values (Sources/Quantization/NonFiniteValue.swift). */
static size_t modelport_f32_first_nonfinite_generic(const void *source, size_t count) {
    const unsigned char *base = (const unsigned char *)source;
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, base + i * 4, 4);
        if ((bits & 0x7F800000u) == 0x7F800000u) return i;
    }
    return count;
}

#if defined(__x86_64__)
__attribute__((target("avx2")))
static size_t modelport_f32_first_nonfinite_avx2(const void *source, size_t count) {
    const unsigned char *base = (const unsigned char *)source;
    const __m256i exponent = _mm256_set1_epi32(0x7F800000);
    size_t i = 0;
    for (; i + 32 <= count; i += 32) {  /* four vectors a step, then the exact element if one is there */
        __m256i any = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(base + (i + 8 * (size_t)k) * 4));
            any = _mm256_or_si256(any, _mm256_cmpeq_epi32(_mm256_and_si256(v, exponent), exponent));
        }
        if (!_mm256_testz_si256(any, any)) return i + modelport_f32_first_nonfinite_generic(base + i * 4, 32);
    }
    return i + modelport_f32_first_nonfinite_generic(base + i * 4, count - i);
}
#endif

size_t modelport_f32_first_nonfinite(const void *source, size_t count) {
#if defined(__x86_64__)
    if (modelport_has_avx2()) return modelport_f32_first_nonfinite_avx2(source, count);
#endif
    return modelport_f32_first_nonfinite_generic(source, count);
}

/* MLX affine groups (Sources/Quantization/PackedQuants.swift, MLXAffine): each group's scale and bias from its
 * range, then its codes packed into little-endian u32 words. */
static inline void modelport_mlx_parameters(float lo, float hi, float levels, float *scale_out, float *bias_out) {
    const int lower_is_larger = fabsf(lo) > fabsf(hi);
    float scale = (hi - lo) / levels;
    scale = 1e-7f >= scale ? 1e-7f : scale;
    if (!lower_is_larger) scale = -scale;
    const float edge = lower_is_larger ? lo : hi;
    const float q0 = nearbyintf(edge / scale);
    *scale_out = q0 != 0 ? edge / q0 : scale;
    *bias_out = q0 != 0 ? edge : 0;
}

static inline uint32_t modelport_mlx_code(float x, float scale, float bias, float levels) {
    float q = nearbyintf((x - bias) / scale);
    q = 0 >= q ? 0 : q;
    q = q >= levels ? levels : q;
    return (uint32_t)q;
}

/* Codes of one group, `group` finite values, into words of 32 / bits codes (the first in the lowest bits). */
static inline void modelport_mlx_pack_scalar(const unsigned char *group, size_t count, float scale, float bias, int bits,
                                             uint32_t *words) {
    const float levels = (float)((1 << bits) - 1);
    const size_t per_word = 32 / (size_t)bits;
    for (size_t w = 0; w < count / per_word; w++) {
        uint32_t word = 0;
        for (size_t k = 0; k < per_word; k++)
            word |= modelport_mlx_code(modelport_load_f32(group + (w * per_word + k) * 4), scale, bias, levels) << (k * (size_t)bits);
        words[w] = word;
    }
}

static int modelport_mlx_affine_groups_generic(const void *source, size_t group_size, size_t first, size_t end, int bits,
                                               float *scales, float *biases, uint32_t *packed) {
    const unsigned char *base = (const unsigned char *)source;
    const float levels = (float)((1 << bits) - 1);
    int bad = 0;
    for (size_t g = first; g < end; g++) {
        const unsigned char *group = base + g * group_size * 4;
        float lo = INFINITY, hi = -INFINITY;
        for (size_t j = 0; j < group_size; j++) {
            const float v = modelport_load_f32(group + j * 4);
            uint32_t v_bits;
            memcpy(&v_bits, &v, 4);
            bad |= (v_bits & 0x7F800000u) == 0x7F800000u;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        modelport_mlx_parameters(lo, hi, levels, &scales[g], &biases[g]);
        if (packed) modelport_mlx_pack_scalar(group, group_size, scales[g], biases[g], bits, packed + g * group_size * bits / 32);
    }
    return bad;
}

#if defined(__x86_64__)
__attribute__((target("avx2")))
static int modelport_mlx_affine_groups_avx2(const void *source, size_t group_size, size_t first, size_t end, int bits,
                                            float *scales, float *biases, uint32_t *packed) {
    const unsigned char *base = (const unsigned char *)source;
    const float levels = (float)((1 << bits) - 1);
    const __m256 top = _mm256_set1_ps(levels), zero = _mm256_setzero_ps();
    const __m256i nibbles = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    const __m256i bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                           0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    __m256i bad = _mm256_setzero_si256();
    for (size_t g = first; g < end; g++) {
        const unsigned char *group = base + g * group_size * 4;
        __m256 l = _mm256_set1_ps(INFINITY), h = _mm256_set1_ps(-INFINITY);
        modelport_range_lanes_avx2(group, group_size, &l, &h, &bad);  /* group sizes are multiples of 8 */
        float lo = INFINITY, hi = -INFINITY;
        modelport_reduce_lanes_avx2(l, h, &lo, &hi);
        modelport_mlx_parameters(lo, hi, levels, &scales[g], &biases[g]);
        if (!packed) continue;
        const __m256 scale = _mm256_set1_ps(scales[g]), bias = _mm256_set1_ps(biases[g]);
        uint32_t *words = packed + g * group_size * (size_t)bits / 32;
        for (size_t j = 0; j < group_size; j += 8) {
            __m256 q = _mm256_round_ps(_mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps((const float *)(group + j * 4)), bias), scale),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            q = _mm256_min_ps(_mm256_max_ps(q, zero), top);
            const __m256i codes = _mm256_cvtps_epi32(q);  /* 0 … levels, so each fits its byte or nibble */
            if (bits == 8) {
                /* Byte 0 of each code, four per 128-bit lane: codes 0-3 and 4-7 as two little-endian words. */
                const __m256i packed8 = _mm256_shuffle_epi8(codes, bytes);
                words[j / 4] = (uint32_t)_mm256_extract_epi32(packed8, 0);
                words[j / 4 + 1] = (uint32_t)_mm256_extract_epi32(packed8, 4);
            } else {
                /* Code k shifted to nibble k, then the eight lanes ORed into one word. */
                const __m256i shifted = _mm256_sllv_epi32(codes, nibbles);
                __m128i x = _mm_or_si128(_mm256_castsi256_si128(shifted), _mm256_extracti128_si256(shifted, 1));
                x = _mm_or_si128(x, _mm_unpackhi_epi64(x, x));
                x = _mm_or_si128(x, _mm_srli_epi64(x, 32));
                words[j / 8] = (uint32_t)_mm_cvtsi128_si32(x);
            }
        }
    }
    return !_mm256_testz_si256(bad, bad);
}
#endif

/* MLX codes back to f32: scale · q + bias for each code, a product then a sum (never fused into one rounding). */
#pragma clang fp contract(off)
static void modelport_mlx_dequantize_groups_generic(const uint32_t *packed, size_t group_size, size_t first, size_t end,
                                                    int bits, const float *scales, const float *biases, float *values) {
    const size_t per_word = 32 / (size_t)bits;
    const uint32_t mask = (1u << bits) - 1;
    for (size_t g = first; g < end; g++) {
        const float scale = scales[g], bias = biases[g];
        for (size_t i = g * group_size; i < (g + 1) * group_size; i++) {
            uint32_t word;
            memcpy(&word, packed + i / per_word, 4);
            const float q = (float)((word >> ((i % per_word) * (size_t)bits)) & mask);
            const float product = scale * q;
            values[i] = product + bias;
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2")))
static void modelport_mlx_dequantize_groups_avx2(const uint32_t *packed, size_t group_size, size_t first, size_t end,
                                                 int bits, const float *scales, const float *biases, float *values) {
    const __m256i mask = _mm256_set1_epi32((1 << bits) - 1);
    const __m256i shifts = bits == 4 ? _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28) : _mm256_setr_epi32(0, 8, 16, 24, 0, 8, 16, 24);
    for (size_t g = first; g < end; g++) {
        const __m256 scale = _mm256_set1_ps(scales[g]), bias = _mm256_set1_ps(biases[g]);
        for (size_t i = g * group_size; i < (g + 1) * group_size; i += 8) {  /* group sizes are multiples of 8 */
            uint32_t w0, w1;
            memcpy(&w0, packed + i * (size_t)bits / 32, 4);
            memcpy(&w1, packed + i * (size_t)bits / 32 + (bits == 8 ? 1 : 0), 4);
            const __m256i words = _mm256_setr_epi32((int)w0, (int)w0, (int)w0, (int)w0, (int)(bits == 8 ? w1 : w0),
                                                    (int)(bits == 8 ? w1 : w0), (int)(bits == 8 ? w1 : w0), (int)(bits == 8 ? w1 : w0));
            const __m256 q = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(words, shifts), mask));
            _mm256_storeu_ps(values + i, _mm256_add_ps(_mm256_mul_ps(scale, q), bias));
        }
    }
}
#endif

void modelport_mlx_dequantize_groups(const void *packed, size_t group_size, size_t first_group, size_t end_group, int bits,
                                     const float *scales, const float *biases, float *values) {
#if defined(__x86_64__)
    if (modelport_has_avx2()) {
        modelport_mlx_dequantize_groups_avx2((const uint32_t *)packed, group_size, first_group, end_group, bits, scales, biases, values);
        return;
    }
#endif
    modelport_mlx_dequantize_groups_generic((const uint32_t *)packed, group_size, first_group, end_group, bits, scales, biases, values);
}
#pragma clang fp contract(on)

int modelport_mlx_affine_groups(const void *source, size_t group_size, size_t first_group, size_t end_group, int bits,
                                float *scales, float *biases, uint32_t *packed) {
#if defined(__x86_64__)
    if (modelport_has_avx2())
        return modelport_mlx_affine_groups_avx2(source, group_size, first_group, end_group, bits, scales, biases, packed);
#endif
    return modelport_mlx_affine_groups_generic(source, group_size, first_group, end_group, bits, scales, biases, packed);
}

/* Symmetric int8 by the reciprocal of the scale (Sources/ONNXFormat/Int8Weights.swift): code = clamp(round-half-even(x ·
 * inverse), −127, 127), with one inverse per row, or per column (a weight already transposed, its output channels
 * now columns). */
static inline signed char modelport_int8_symmetric_code(float x, float inverse) {
    float v = nearbyintf(x * inverse);
    v = v > 127.0f ? 127.0f : v;
    v = -127.0f > v ? -127.0f : v;
    return (signed char)v;
}

static void modelport_int8_symmetric_generic(const void *source, size_t columns, size_t first_row, size_t end_row,
                                             const float *inverses, int per_column, signed char *codes) {
    const unsigned char *base = (const unsigned char *)source;
    for (size_t r = first_row; r < end_row; r++)
        for (size_t c = 0; c < columns; c++)
            codes[r * columns + c] = modelport_int8_symmetric_code(modelport_load_f32(base + (r * columns + c) * 4),
                                                                   per_column ? inverses[c] : inverses[r]);
}

#if defined(__x86_64__)
__attribute__((target("avx2")))
static void modelport_int8_symmetric_avx2(const void *source, size_t columns, size_t first_row, size_t end_row,
                                          const float *inverses, int per_column, signed char *codes) {
    const unsigned char *base = (const unsigned char *)source;
    const __m256 low = _mm256_set1_ps(-127.0f), high = _mm256_set1_ps(127.0f);
    for (size_t r = first_row; r < end_row; r++) {
        const unsigned char *row = base + r * columns * 4;
        signed char *out = codes + r * columns;
        const __m256 row_inverse = _mm256_set1_ps(per_column ? 0.0f : inverses[r]);
        size_t c = 0;
        for (; c + 8 <= columns; c += 8) {
            const __m256 inverse = per_column ? _mm256_loadu_ps(inverses + c) : row_inverse;
            __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps((const float *)(row + c * 4)), inverse),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            v = _mm256_max_ps(_mm256_min_ps(v, high), low);
            const __m256i q = _mm256_cvtps_epi32(v);
            const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
            _mm_storel_epi64((__m128i *)(out + c), _mm_packs_epi16(q16, q16));
        }
        for (; c < columns; c++)
            out[c] = modelport_int8_symmetric_code(modelport_load_f32(row + c * 4), per_column ? inverses[c] : inverses[r]);
    }
}
#endif

void modelport_int8_symmetric(const void *source, size_t columns, size_t first_row, size_t end_row, const float *inverses,
                              int per_column, signed char *codes) {
#if defined(__x86_64__)
    if (modelport_has_avx2()) {
        modelport_int8_symmetric_avx2(source, columns, first_row, end_row, inverses, per_column, codes);
        return;
    }
#endif
    modelport_int8_symmetric_generic(source, columns, first_row, end_row, inverses, per_column, codes);
}

/* Columns scaled by their own multipliers (SmoothQuant's migration): a plain loop the compiler vectorizes; each element
 * is one IEEE binary32 product, so the results do not depend on how. */
#define MODELPORT_SCALE_COLUMNS_BODY                                                                               \
    const unsigned char *base = (const unsigned char *)source;                                                     \
    unsigned char *to = (unsigned char *)destination;                                                              \
    for (size_t r = first_row; r < end_row; r++) {                                                                 \
        for (size_t c = 0; c < columns; c++) {                                                                     \
            const float v = modelport_load_f32(base + (r * columns + c) * 4) * multipliers[c];                     \
            memcpy(to + (r * columns + c) * 4, &v, 4);                                                             \
        }                                                                                                          \
    }

MODELPORT_AVX2_KERNEL(modelport_f32_scale_columns,
                      (const void *source, size_t columns, size_t first_row, size_t end_row, const float *multipliers,
                       void *destination),
                      (source, columns, first_row, end_row, multipliers, destination), MODELPORT_SCALE_COLUMNS_BODY)

/* The weight statistics of SmoothQuant's planning (Sources/ONNXFormat/ONNXExporter+Smoothing.swift), on row-major
 * little-endian f32 rows [first_row, end_row) of `columns`: the largest magnitude of each column, kept in `largest`
 * where larger; and, when `beta` is not NULL, per row r, centre[r] += Σ_j W_rj·β_j and square[r] += Σ_j (W_rj·γ_j)²,
 * summed in order of j, each product rounded before its sum (contraction off), so the values are those of the plain
 * loop whatever the vector width: eight rows run in the eight lanes. */
#pragma clang fp contract(off)
#define MODELPORT_WEIGHT_STATISTICS_BODY                                                                           \
    const unsigned char *base = (const unsigned char *)source;                                                     \
    for (size_t r = first_row; r < end_row; r++) {                                                                 \
        const unsigned char *row = base + r * columns * 4;                                                         \
        for (size_t c = 0; c < columns; c++) {                                                                     \
            const float a = fabsf(modelport_load_f32(row + c * 4));                                                \
            largest[c] = a > largest[c] ? a : largest[c];                                                          \
        }                                                                                                          \
    }                                                                                                              \
    if (beta == NULL) return;                                                                                      \
    size_t r = first_row;                                                                                          \
    for (; r + 8 <= end_row; r += 8) {                                                                             \
        float c8[8], s8[8];                                                                                        \
        for (int l = 0; l < 8; l++) { c8[l] = centre[r + l]; s8[l] = square[r + l]; }                              \
        for (size_t j = 0; j < columns; j++) {                                                                     \
            const float b = beta[j], g = gamma[j];                                                                 \
            for (int l = 0; l < 8; l++) {                                                                          \
                const float w = modelport_load_f32(base + ((r + (size_t)l) * columns + j) * 4);                    \
                const float wb = w * b, wg = w * g;                                                                \
                const float wg2 = wg * wg;                                                                         \
                c8[l] = c8[l] + wb;                                                                                \
                s8[l] = s8[l] + wg2;                                                                               \
            }                                                                                                      \
        }                                                                                                          \
        for (int l = 0; l < 8; l++) { centre[r + l] = c8[l]; square[r + l] = s8[l]; }                              \
    }                                                                                                              \
    for (; r < end_row; r++) {                                                                                     \
        float c = centre[r], q = square[r];                                                                        \
        for (size_t j = 0; j < columns; j++) {                                                                     \
            const float w = modelport_load_f32(base + (r * columns + j) * 4);                                      \
            const float wb = w * beta[j], wg = w * gamma[j];                                                       \
            const float wg2 = wg * wg;                                                                             \
            c = c + wb;                                                                                            \
            q = q + wg2;                                                                                           \
        }                                                                                                          \
        centre[r] = c;                                                                                             \
        square[r] = q;                                                                                             \
    }

MODELPORT_AVX2_KERNEL(modelport_f32_weight_statistics,
                      (const void *source, size_t columns, size_t first_row, size_t end_row, float *largest,
                       const float *beta, const float *gamma, float *centre, float *square),
                      (source, columns, first_row, end_row, largest, beta, gamma, centre, square),
                      MODELPORT_WEIGHT_STATISTICS_BODY)
#pragma clang fp contract(on)

#define MODELPORT_INT8_DEQUANTIZE_BODY                                                                             \
    for (size_t r = first_row; r < end_row; r++) {                                                                 \
        const float scale = scales[r];                                                                             \
        const signed char *in = codes + r * columns;                                                               \
        float *out = values + r * columns;                                                                         \
        for (size_t c = 0; c < columns; c++) out[c] = (float)in[c] * scale;                                        \
    }

MODELPORT_AVX2_KERNEL(modelport_int8_dequantize_rows,
                      (const signed char *codes, size_t columns, size_t first_row, size_t end_row, const float *scales,
                       float *values),
                      (codes, columns, first_row, end_row, scales, values), MODELPORT_INT8_DEQUANTIZE_BODY)
