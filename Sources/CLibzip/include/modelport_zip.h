// libzip (https://libzip.org/documentation/), loaded with dlopen the first time a zip archive (a torch.save file) is
// read: zip.c says why it is not linked. Its header is only needed to build (Debian: libzip-dev). Every call goes
// through a modelport_ function below, which calls the loaded library; modelport_zip_load must have succeeded first.
#ifndef MODELPORT_ZIP_H
#define MODELPORT_ZIP_H

#if __has_include(<zip.h>)
#include <zip.h>
#elif __has_include("/opt/homebrew/include/zip.h")
#include "/opt/homebrew/include/zip.h"
#else
#error "the libzip headers are missing: install libzip-dev (Debian/Ubuntu) or libzip (Homebrew)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/// Loads libzip once (thread-safe). Returns 0 when it is loaded, -1 when not; then `modelport_zip_load_error` says
/// why in one line, naming the package to install.
int modelport_zip_load(void);
const char *_Nonnull modelport_zip_load_error(void);

// libzip's own calls (zip.h), with the same arguments and results, through the loaded library.
zip_t *_Nullable modelport_zip_open(const char *_Nonnull path, int flags, int *_Nullable error);
void modelport_zip_discard(zip_t *_Nonnull archive);
const char *_Nonnull modelport_zip_strerror(zip_t *_Nonnull archive);
void modelport_zip_error_init_with_code(zip_error_t *_Nonnull error, int code);
void modelport_zip_error_fini(zip_error_t *_Nonnull error);
const char *_Nonnull modelport_zip_error_strerror(zip_error_t *_Nonnull error);
zip_int64_t modelport_zip_get_num_entries(zip_t *_Nonnull archive, zip_flags_t flags);
void modelport_zip_stat_init(zip_stat_t *_Nonnull stat);
int modelport_zip_stat_index(zip_t *_Nonnull archive, zip_uint64_t index, zip_flags_t flags, zip_stat_t *_Nonnull stat);
zip_file_t *_Nullable modelport_zip_fopen_index(zip_t *_Nonnull archive, zip_uint64_t index, zip_flags_t flags);
int modelport_zip_fclose(zip_file_t *_Nonnull file);
zip_int64_t modelport_zip_fread(zip_file_t *_Nonnull file, void *_Nonnull buffer, zip_uint64_t count);
const char *_Nonnull modelport_zip_file_strerror(zip_file_t *_Nonnull file);

#ifdef __cplusplus
}
#endif

#endif
