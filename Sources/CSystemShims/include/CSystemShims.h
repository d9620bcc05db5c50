#ifndef MODELPORT_CSYSTEMSHIMS_H
#define MODELPORT_CSYSTEMSHIMS_H

#include <stddef.h>
#include <stdint.h>

/// copy_file_range(2) on Linux (glibc declares it only under _GNU_SOURCE, which Swift's Glibc module
/// does not set). Returns -1 with errno ENOSYS elsewhere.
long modelport_copy_file_range(int fd_in, int64_t *off_in, int fd_out, size_t len);

#endif
