#define _GNU_SOURCE
#include "CSystemShims.h"
#include <errno.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/types.h>
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

#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n > 0) {
        c32 = _mm_crc32_u8(c32, *p++);
        n--;
    }
    return c32;
}

int modelport_crc32c_hardware(uint32_t *crc, const void *data, size_t length) {
    static int supported = -1;
    if (supported < 0) {
        __builtin_cpu_init();
        supported = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    }
    if (!supported) return 0;
    *crc = crc32c_sse42(*crc, (const unsigned char *)data, length);
    return 1;
}
#else
int modelport_crc32c_hardware(uint32_t *crc, const void *data, size_t length) {
    (void)crc; (void)data; (void)length;
    return 0;
}
#endif
