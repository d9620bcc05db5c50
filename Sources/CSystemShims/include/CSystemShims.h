#ifndef MODELPORT_CSYSTEMSHIMS_H
#define MODELPORT_CSYSTEMSHIMS_H

#include <stddef.h>
#include <stdint.h>
#include "modelport_unicode.h"

/// copy_file_range(2) on Linux (glibc declares it only under _GNU_SOURCE, which Swift's Glibc module
/// does not set). Returns -1 with errno ENOSYS elsewhere.
long modelport_copy_file_range(int fd_in, int64_t *off_in, int fd_out, size_t len);


/// Starts writing bytes [offset, offset + length) of `fd` back to disk without waiting for it (Linux
/// sync_file_range with SYNC_FILE_RANGE_WRITE), so that the fsync at the end finds little left to do. A no-op
/// returning 0 elsewhere; -1 with errno on failure (callers ignore it: it is only a hint).
int modelport_start_writeback(int fd, int64_t offset, int64_t length);

/// A thread that starts writeback (as `modelport_start_writeback`) of a file's bytes as they are reported written,
/// so the writer never waits for the block layer to accept a request: on a busy disk sync_file_range blocks until its
/// pages are queued, tens of milliseconds for 16 MB. NULL (the caller then starts writeback itself) when the thread
/// cannot be created or on systems without sync_file_range.
typedef struct modelport_writeback modelport_writeback;
modelport_writeback *modelport_writeback_create(int fd);
/// Asks for writeback of everything before `end` (ranges already requested are not repeated).
void modelport_writeback_request(modelport_writeback *worker, int64_t end);
/// Waits for the request in flight, if any (not for the disk; requests not yet started are dropped: an fsync or the
/// file's removal follows), and frees the worker; the file may be closed after it.
void modelport_writeback_finish(modelport_writeback *worker);

/// Renames `from` to `to` only if `to` does not exist (renameat2 with RENAME_NOREPLACE on Linux, renamex_np
/// with RENAME_EXCL on Darwin). Returns 0 on success, -1 with errno (EEXIST when `to` appeared; EINVAL or
/// ENOSYS when the file system or kernel cannot do it, so the caller falls back).
int modelport_rename_noreplace(const char *from, const char *to);

/// Installs handlers for SIGINT, SIGTERM and SIGHUP that remove the registered temporary paths, then
/// re-raise the signal with its default action. Paths are registered and released by the functions below;
/// the handler only calls async-signal-safe functions (unlink, rmdir of an empty folder is not attempted).
void modelport_install_cleanup_handlers(void);
/// Registers a temporary file path for removal on a fatal signal; returns a slot id (or -1 when full).
int modelport_register_temporary(const char *path);
/// Forgets slot `id` (the file was committed or removed).
void modelport_release_temporary(int id);

/// CRC-32C on x86-64 with SSE4.2: by carry-less multiplication (PCLMULQDQ, or VPCLMULQDQ with AVX-512) over whole
/// 16-byte blocks, the CRC instruction for the rest. Returns 0 and leaves *crc alone when the processor cannot (the
/// caller then uses its portable table code); 1 on success. `crc` is the running (already inverted) state, as in the
/// table algorithm.
int modelport_crc32c_hardware(uint32_t *crc, const void *data, size_t length);

/// Advances the zip/zlib CRC-32 register `*state` (the inverted running value, as zlib keeps it internally) over
/// the longest prefix of `data` that is a whole number of 16-byte blocks, by carry-less multiplication (PCLMULQDQ;
/// VPCLMULQDQ on 512-bit registers where the processor has AVX-512),
/// and returns that prefix's length; 0 (and *state untouched) when the processor lacks the instructions, folding is
/// turned off (`modelport_crc_fold_limit(0)`) or `length` < 64, and the caller checksums the rest its usual way.
size_t modelport_crc32_folded(uint32_t *state, const void *data, size_t length);

/// The widest carry-less folding the two CRCs above may use from now on, in bits: 512 (AVX-512 with VPCLMULQDQ), 128
/// (PCLMULQDQ) or 0 (none: the CRC instruction or the caller's table code), capped at what the processor has; returns
/// the previous width. For tests, which compare the widths; the default is the widest the processor has.
int modelport_crc_fold_limit(int bits);

/// Transposes rows [first_row, end_row) of a row-major matrix of 4-byte elements with `columns` columns, whose rows
/// start `source_stride` elements apart at `source`, into `destination`, whose rows start `destination_stride`
/// elements apart: element (r, c) lands at c * destination_stride + r. A whole `rows` x `columns` matrix is
/// (source_stride = columns, destination_stride = rows); a band of its columns is the same call from a later start
/// with fewer `columns`. The bytes are moved, never interpreted. Works in 8 x 8 blocks held in vector registers,
/// AVX2 when the processor has it.
void modelport_transpose32(const void *source, size_t source_stride, void *destination, size_t destination_stride,
                           size_t columns, size_t first_row, size_t end_row);

/// Expands `blocks` GGUF Q8_0 blocks at `source` (34 bytes each: an IEEE half scale d, little-endian, then 32 int8
/// codes q) into 32 floats each at `destination`: d · q, with d converted exactly from half (its NaN payload kept).
/// Vectorised with AVX2 when the processor has it; the values are the same either way.
void modelport_q8_0_dequantize(const void *source, size_t blocks, float *destination);

/// For rows [first_row, end_row) of a row-major matrix of little-endian f32 with `columns` columns at `source`
/// (any alignment): lo[r] = min(0, row r), hi[r] = max(0, row r). Returns 1 when one of those rows holds a NaN or an
/// infinity (lo and hi are then meaningless), else 0. AVX2 when the processor has it.
int modelport_f32_row_ranges(const void *source, size_t columns, size_t first_row, size_t end_row, float *lo, float *hi);

/// int8 codes of rows [first_row, end_row) (finite f32 values, `columns` a row): code = round-half-even(clamp(x /
/// scales[r], −128, 127)), the division rounded as IEEE binary32. AVX2 when the processor has it; the codes are the
/// same either way.
void modelport_int8_quantize_rows(const void *source, size_t columns, size_t first_row, size_t end_row, const float *scales,
                                  signed char *codes);

/// The index of the first NaN or infinity among `count` little-endian f32 values at `source` (any alignment), or
/// `count` when they are all finite. AVX2 when the processor has it.
size_t modelport_f32_first_nonfinite(const void *source, size_t count);

/// MLX's affine quantization (mlx.core.quantize, mode "affine") of groups [first_group, end_group) of `group_size`
/// little-endian f32 values at `source` (`group_size` a multiple of 8): each group's scale and bias into scales[g]
/// and biases[g] and, when `packed` is not NULL, its `bits`-bit codes (4 or 8) into packed words (group_size * bits /
/// 32 a group, the first code in the lowest bits). Returns 1 when a value is a NaN or an infinity (the results are
/// then meaningless), else 0. AVX2 when the processor has it; the same values either way (IEEE binary32 operations
/// in the same order, round-half-even).
int modelport_mlx_affine_groups(const void *source, size_t group_size, size_t first_group, size_t end_group, int bits,
                                float *scales, float *biases, uint32_t *packed);

/// Symmetric int8 codes of rows [first_row, end_row) (finite f32 values, `columns` a row): code =
/// clamp(round-half-even(x · inverse), −127, 127), the product rounded as IEEE binary32, with inverse = inverses[r],
/// or inverses[c] when `per_column` is not 0. AVX2 when the processor has it; the codes are the same either way.
void modelport_int8_symmetric(const void *source, size_t columns, size_t first_row, size_t end_row, const float *inverses,
                              int per_column, signed char *codes);

/// destination[r][c] = source[r][c] · multipliers[c] (little-endian f32, any alignment) for rows [first_row, end_row).
void modelport_f32_scale_columns(const void *source, size_t columns, size_t first_row, size_t end_row,
                                 const float *multipliers, void *destination);

/// SmoothQuant's weight statistics of rows [first_row, end_row) of a row-major little-endian f32 matrix of `columns`
/// (any alignment): each column's largest magnitude, kept in `largest` where larger; with `beta` (and `gamma`, `centre`,
/// `square`) not NULL also, per row r, centre[r] += Σ_j W_rj·beta[j] and square[r] += Σ_j (W_rj·gamma[j])², summed in
/// order of j with every product rounded on its own (the values of the plain loop).
void modelport_f32_weight_statistics(const void *source, size_t columns, size_t first_row, size_t end_row, float *largest,
                                     const float *beta, const float *gamma, float *centre, float *square);

/// f32 values scales[g] · q + biases[g] (a product, then a sum) of the `bits`-bit codes (4 or 8) of groups
/// [first_group, end_group) of `group_size` values (a multiple of 8) packed as modelport_mlx_affine_groups packs them,
/// into `values` (native floats). AVX2 when the processor has it; the same values either way.
void modelport_mlx_dequantize_groups(const void *packed, size_t group_size, size_t first_group, size_t end_group, int bits,
                                     const float *scales, const float *biases, float *values);

/// f32 values code · scales[r] of rows [first_row, end_row) of int8 codes (`columns` a row) into `values` (same
/// layout). AVX2 when the processor has it; the values are the same either way (one exact product each).
void modelport_int8_dequantize_rows(const signed char *codes, size_t columns, size_t first_row, size_t end_row,
                                    const float *scales, float *values);
#endif
