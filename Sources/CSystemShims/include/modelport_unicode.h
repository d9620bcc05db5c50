// Unicode normalization without Foundation (unicode.c).
#ifndef MODELPORT_UNICODE_H
#define MODELPORT_UNICODE_H

#include <stdint.h>

/// Unicode normalization of UTF-16 text (form 0 NFC, 1 NFD, 2 NFKC, 3 NFKD: Unicode Standard Annex #15) through
/// ICU's unorm2 API in lib_FoundationICU, the ICU the Swift toolchain ships next to libswiftCore, loaded with dlopen
/// at the first call (unicode.c says why). Returns the length of the result, which is written to `destination` when
/// it fits in `capacity` (call again with a larger buffer when it is larger); -1 when ICU cannot be loaded or fails,
/// and then `modelport_unicode_error` says why.
int32_t modelport_unicode_normalize(int form, const uint16_t *source, int32_t length, uint16_t *destination, int32_t capacity);
const char *modelport_unicode_error(void);

#endif
