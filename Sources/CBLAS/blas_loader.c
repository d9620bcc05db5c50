// Loads the BLAS for the verifier's matrix products at first use, after choosing OpenBLAS's kernel from cpuid.
//
// Why not link OpenBLAS at build time: a DYNAMIC_ARCH OpenBLAS (Debian's 0.3.21, for one) picks its kernel once, in
// its load-time constructor (driver/others/dynamic.c), from a table of CPU models it knew when it was built. On a
// newer CPU it does not recognise it falls back to the generic SSE3 "Prescott" kernel, several times slower than its
// AVX-512 one, and the only way to choose is the OPENBLAS_CORETYPE environment variable, read by that constructor,
// before any of our code runs when the library is linked. Loading it with dlopen lets us read the CPU's features
// first (Intel SDM vol. 2A, CPUID leaves 1 and 7; XGETBV for the register state the OS saves) and set
// OPENBLAS_CORETYPE to the kernel family those features call for, unless the user set it (their value always wins).
#define _GNU_SOURCE
#include "modelport_blas.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long read_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}
#endif

const char *modelport_blas_detect_core(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return "";
    const unsigned int max_leaf = eax;
    char vendor[13];
    memcpy(vendor, &ebx, 4); memcpy(vendor + 4, &edx, 4); memcpy(vendor + 8, &ecx, 4);
    vendor[12] = 0;
    const int amd = strcmp(vendor, "AuthenticAMD") == 0 || strcmp(vendor, "HygonGenuine") == 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return "";
    const int osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, fma = (ecx >> 12) & 1;
    if (!osxsave || !avx) return "";
    const unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) return "";  // the OS does not save the YMM state: no AVX at all
    unsigned int ebx7 = 0;
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, eax, ebx7, ecx, edx);
    }
    const int avx2 = (ebx7 >> 5) & 1;
    // SkylakeX's kernels use AVX-512 F, DQ, CD, BW and VL; the OS must save opmask and ZMM state (XCR0 bits 5–7).
    const unsigned int avx512 = (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);
    if ((ebx7 & avx512) == avx512 && (xcr0 & 0xe0) == 0xe0) return "SkylakeX";
    if (avx2 && fma) return amd ? "Zen" : "Haswell";
    return "Sandybridge";
#else
    return "";  // arm64 and others: OpenBLAS's own detection (it reads the CPU's ID registers) is left to choose
#endif
}

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef char *(*string_fn)(void);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static modelport_blas_info info;
static sgemm_fn sgemm;
static get_threads_fn get_threads;
static char library_path[PATH_MAX];
static char failure[1024];

static void load(void) {
    info.detected_core = modelport_blas_detect_core();
    info.core = "";
    info.config = "";
    const char *user = getenv("OPENBLAS_CORETYPE");
    int set_here = 0;
    if (user && *user) {
        info.core_choice = "user";
    } else if (*info.detected_core) {
        set_here = setenv("OPENBLAS_CORETYPE", info.detected_core, 1) == 0;
        info.core_choice = set_here ? "cpuid" : "openblas";
    } else {
        info.core_choice = "openblas";
    }
    // MODELPORT_BLAS names a library of the user's choice, and then it is the only one tried; otherwise OpenBLAS under
    // the names distributions give it (Debian's alternatives, Fedora's pthread and OpenMP builds), then any
    // CBLAS-carrying libblas.
    const char *chosen = getenv("MODELPORT_BLAS");
    const char *candidates[] = {chosen, "libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0", "libopenblaso.so.0",
                                "libblas.so.3"};
    const size_t count = chosen && *chosen ? 1 : sizeof candidates / sizeof *candidates;
    void *handle = NULL;
    size_t used = 0;
    failure[0] = 0;
    for (size_t i = 0; i < count && !sgemm; i++) {
        if (!candidates[i] || !*candidates[i]) continue;
        // Lazy binding: OpenBLAS exports thousands of LAPACK and BLAS symbols, and resolving them all now took 8 ms
        // (measured with RTLD_NOW against RTLD_LAZY, dlopen alone) of a forward pass that uses one.
        handle = dlopen(candidates[i], RTLD_LAZY | RTLD_LOCAL);
        if (handle) sgemm = (sgemm_fn)dlsym(handle, "cblas_sgemm");
        if (!sgemm) {
            if (used < sizeof failure) {
                const char *why = handle ? "has no cblas_sgemm" : "not found";
                used += (size_t)snprintf(failure + used, sizeof failure - used, "%s%s %s", used ? "; " : "", candidates[i], why);
            }
            if (handle) dlclose(handle);
            handle = NULL;
        }
    }
    if (set_here) unsetenv("OPENBLAS_CORETYPE");  // read once by OpenBLAS's constructor; leave the environment as found
    if (!sgemm) {
        info.library = failure;
        return;
    }
    Dl_info where;
    if (dladdr((void *)sgemm, &where) && where.dli_fname) {
        if (!realpath(where.dli_fname, library_path)) snprintf(library_path, sizeof library_path, "%s", where.dli_fname);
    }
    info.library = library_path;
    string_fn corename = (string_fn)dlsym(handle, "openblas_get_corename");
    string_fn config = (string_fn)dlsym(handle, "openblas_get_config");
    if (corename && corename()) info.core = corename();
    if (config && config()) info.config = config();
    // The forward passes split every product by rows over the cores themselves (OpenBLAS's own pool busy-waits
    // between calls and would take the cores from the element-wise work that follows each product): one thread here.
    set_threads_fn set_threads = (set_threads_fn)dlsym(handle, "openblas_set_num_threads");
    get_threads = (get_threads_fn)dlsym(handle, "openblas_get_num_threads");
    if (set_threads) set_threads(1);
    info.loaded = 1;
}

const modelport_blas_info *modelport_blas_load(void) {
    pthread_once(&once, load);
    return &info;
}

void modelport_blas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                          const float *b, int ldb, float beta, float *c, int ldc) {
    pthread_once(&once, load);  // waits for a load in progress on another thread (a no-op once loaded)
    sgemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

int modelport_blas_threads(void) { return get_threads ? get_threads() : 1; }
