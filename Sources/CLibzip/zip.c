// libzip, loaded at first use: only torch.save zip archives need it.
//
// Why not link it at build time: Debian's libzip brings OpenSSL's libcrypto (for zip encryption, which ModelPort
// never uses), libbz2 and zlib, and the dynamic loader maps and relocates them at the start of every modelport
// process (about 1.2 ms of CPU for an empty C program linked with -lzip against 0.4 ms without). Loaded with dlopen,
// they cost only the runs that read a zip archive. libzip keeps its ABI within a major version (the .so.4 name,
// zip.h's declarations), so the calls below match any libzip.so.4.
#define _GNU_SOURCE
#include "modelport_zip.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define MODELPORT_ZIP_CALLS(X) \
    X(zip_open) X(zip_discard) X(zip_strerror) X(zip_error_init_with_code) X(zip_error_fini) X(zip_error_strerror) \
    X(zip_get_num_entries) X(zip_stat_init) X(zip_stat_index) X(zip_fopen_index) X(zip_fclose) X(zip_fread) \
    X(zip_file_strerror)

#define MODELPORT_ZIP_FIELD(name) __typeof__(name) *name;
static struct {
    MODELPORT_ZIP_CALLS(MODELPORT_ZIP_FIELD)
} zip;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static char failure[512];

/// Debian and Ubuntu's libzip4 first, then the unversioned names of a development install and of macOS.
static const char *const library_names[] = {
#if defined(__APPLE__)
    "libzip.5.dylib", "libzip.dylib",
#else
    "libzip.so.4", "libzip.so.5", "libzip.so",
#endif
};

static void load(void) {
    void *handle = NULL;
    for (size_t i = 0; i < sizeof(library_names) / sizeof(library_names[0]) && !handle; i++) {
        handle = dlopen(library_names[i], RTLD_NOW | RTLD_LOCAL);
    }
    if (!handle) {
        snprintf(failure, sizeof(failure),
                 "reading a zip archive (torch.save) needs libzip (%s), which is not installed: install the "
                 "Debian/Ubuntu package libzip4 (or libzip-dev)", library_names[0]);
        return;
    }
#define MODELPORT_ZIP_RESOLVE(name) \
    zip.name = (__typeof__(name) *)dlsym(handle, #name); \
    if (!zip.name) { \
        snprintf(failure, sizeof(failure), "the libzip found has no %s: install the Debian/Ubuntu package libzip4", #name); \
        dlclose(handle); \
        return; \
    }
    MODELPORT_ZIP_CALLS(MODELPORT_ZIP_RESOLVE)
    loaded = 1;
}

int modelport_zip_load(void) {
    pthread_once(&once, load);
    return loaded ? 0 : -1;
}

const char *modelport_zip_load_error(void) {
    pthread_once(&once, load);
    return loaded ? "" : failure;
}

zip_t *modelport_zip_open(const char *path, int flags, int *error) { return zip.zip_open(path, flags, error); }
void modelport_zip_discard(zip_t *archive) { zip.zip_discard(archive); }
const char *modelport_zip_strerror(zip_t *archive) { return zip.zip_strerror(archive); }
void modelport_zip_error_init_with_code(zip_error_t *error, int code) { zip.zip_error_init_with_code(error, code); }
void modelport_zip_error_fini(zip_error_t *error) { zip.zip_error_fini(error); }
const char *modelport_zip_error_strerror(zip_error_t *error) { return zip.zip_error_strerror(error); }
zip_int64_t modelport_zip_get_num_entries(zip_t *archive, zip_flags_t flags) { return zip.zip_get_num_entries(archive, flags); }
void modelport_zip_stat_init(zip_stat_t *stat) { zip.zip_stat_init(stat); }
int modelport_zip_stat_index(zip_t *archive, zip_uint64_t index, zip_flags_t flags, zip_stat_t *stat) {
    return zip.zip_stat_index(archive, index, flags, stat);
}
zip_file_t *modelport_zip_fopen_index(zip_t *archive, zip_uint64_t index, zip_flags_t flags) {
    return zip.zip_fopen_index(archive, index, flags);
}
int modelport_zip_fclose(zip_file_t *file) { return zip.zip_fclose(file); }
zip_int64_t modelport_zip_fread(zip_file_t *file, void *buffer, zip_uint64_t count) { return zip.zip_fread(file, buffer, count); }
const char *modelport_zip_file_strerror(zip_file_t *file) { return zip.zip_file_strerror(file); }
