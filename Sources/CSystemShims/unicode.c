#define _GNU_SOURCE
#include "CSystemShims.h"

// Unicode normalization from the toolchain's ICU, loaded at first use.
//
// Full Foundation (libFoundation, libFoundationInternationalization and lib_FoundationICU, whose ICU data alone is
// some 30 MB) would be loaded and relocated at the start of every modelport process, for the one thing only it
// offers here: the four Unicode normalization forms the tokenizers' normalizers ask for. ICU's C API
// (unicode/unorm2.h: unorm2_getNFCInstance … unorm2_normalize) gives the same forms; the toolchain's copy exports it
// with a `swift_` prefix. It is loaded the first time a tokenizer normalizes, from the process's library path or
// else from the folder libswiftCore.so was loaded from.
#if defined(__linux__)
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef const void *(*modelport_icu_instance_fn)(int32_t *status);
typedef int32_t (*modelport_icu_normalize_fn)(const void *normalizer, const uint16_t *source, int32_t length,
                                              uint16_t *destination, int32_t capacity, int32_t *status);

static pthread_once_t icu_once = PTHREAD_ONCE_INIT;
static const void *icu_normalizers[4];
static modelport_icu_normalize_fn icu_normalize;
static char icu_failure[512];

static void *modelport_icu_open(void) {
    void *handle = dlopen("lib_FoundationICU.so", RTLD_NOW | RTLD_LOCAL);
    if (handle) return handle;
    Dl_info info;
    void *runtime = dlsym(RTLD_DEFAULT, "swift_retain");
    if (!runtime || !dladdr(runtime, &info) || !info.dli_fname) return NULL;
    const char *slash = strrchr(info.dli_fname, '/');
    if (!slash) return NULL;
    char path[4096];
    int written = snprintf(path, sizeof(path), "%.*s/lib_FoundationICU.so", (int)(slash - info.dli_fname), info.dli_fname);
    if (written < 0 || (size_t)written >= sizeof(path)) return NULL;
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

static void modelport_icu_load(void) {
    void *handle = modelport_icu_open();
    if (!handle) {
        snprintf(icu_failure, sizeof(icu_failure), "cannot load lib_FoundationICU.so (the Swift runtime's ICU) for Unicode normalization");
        return;
    }
    static const char *const getters[4] = {
        "swift_unorm2_getNFCInstance", "swift_unorm2_getNFDInstance", "swift_unorm2_getNFKCInstance", "swift_unorm2_getNFKDInstance",
    };
    for (int form = 0; form < 4; form++) {
        modelport_icu_instance_fn getter = (modelport_icu_instance_fn)dlsym(handle, getters[form]);
        int32_t status = 0;
        icu_normalizers[form] = getter ? getter(&status) : NULL;
        if (!icu_normalizers[form] || status > 0) {
            icu_normalizers[form] = NULL;
            snprintf(icu_failure, sizeof(icu_failure), "lib_FoundationICU.so has no usable %s", getters[form]);
            return;
        }
    }
    icu_normalize = (modelport_icu_normalize_fn)dlsym(handle, "swift_unorm2_normalize");
    if (!icu_normalize) snprintf(icu_failure, sizeof(icu_failure), "lib_FoundationICU.so has no swift_unorm2_normalize");
}

int32_t modelport_unicode_normalize(int form, const uint16_t *source, int32_t length, uint16_t *destination, int32_t capacity) {
    pthread_once(&icu_once, modelport_icu_load);
    if (form < 0 || form > 3 || !icu_normalize || !icu_normalizers[form]) return -1;
    int32_t status = 0;
    int32_t written = icu_normalize(icu_normalizers[form], source, length, destination, capacity, &status);
    // U_BUFFER_OVERFLOW_ERROR (15) only says the result is longer than `capacity`: its length is returned.
    if (status > 0 && status != 15) {
        snprintf(icu_failure, sizeof(icu_failure), "ICU normalization failed (UErrorCode %d)", (int)status);
        return -1;
    }
    return written;
}

const char *modelport_unicode_error(void) {
    pthread_once(&icu_once, modelport_icu_load);
    return icu_failure;
}
#else
int32_t modelport_unicode_normalize(int form, const uint16_t *source, int32_t length, uint16_t *destination, int32_t capacity) {
    (void)form; (void)source; (void)length; (void)destination; (void)capacity;
    return -1;
}

const char *modelport_unicode_error(void) { return "Unicode normalization through ICU is Linux-only (Foundation does it elsewhere)"; }
#endif
