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
