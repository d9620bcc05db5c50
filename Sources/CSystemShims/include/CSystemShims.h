#ifndef MODELPORT_CSYSTEMSHIMS_H
#define MODELPORT_CSYSTEMSHIMS_H

#include <stddef.h>
#include <stdint.h>

/// copy_file_range(2) on Linux (glibc declares it only under _GNU_SOURCE, which Swift's Glibc module
/// does not set). Returns -1 with errno ENOSYS elsewhere.
long modelport_copy_file_range(int fd_in, int64_t *off_in, int fd_out, size_t len);



/// CRC-32C with the SSE4.2 / ARMv8 CRC instructions when the processor has them. Returns 0 and leaves
/// *crc alone when it does not (the caller then uses its portable table code); 1 on success.
/// `crc` is the running (already inverted) state, as in the table algorithm.
int modelport_crc32c_hardware(uint32_t *crc, const void *data, size_t length);
#endif
