// The HDF5 C library (https://support.hdfgroup.org/documentation/hdf5/latest/), loaded with dlopen the first time a
// Keras .h5 file is read (hdf5.c says why it is not linked). Its headers are only needed to build: Debian's
// libhdf5-dev installs them under /usr/include/hdf5/serial, found directly when <hdf5.h> is not on the path.
// Every call Swift makes into the library goes through a modelport_ function below, which calls the loaded
// library; modelport_h5_load must have succeeded first.
#ifndef MODELPORT_HDF5_H
#define MODELPORT_HDF5_H

#if __has_include(<hdf5.h>)
#include <hdf5.h>
#elif __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>
#elif __has_include("/opt/homebrew/include/hdf5.h")
// Homebrew on Apple silicon: not on the default include path, and pkg-config flags are only for system-library
// targets (which would also link the library).
#include "/opt/homebrew/include/hdf5.h"
#else
#error "the HDF5 headers are missing: install libhdf5-dev (Debian/Ubuntu) or hdf5 (Homebrew)"
#endif
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Loads the library once (thread-safe). Returns 0 when it is loaded, -1 when not; then `modelport_h5_load_error`
/// says why in one line (the library names tried, or the version that does not match the headers built against).
int modelport_h5_load(void);
const char *modelport_h5_load_error(void);

/// Loads the library file `name` apart from the one the reader uses, checks it as modelport_h5_load does, and
/// unloads it: 0 when it would do, -1 with the one-line reason (as modelport_h5_load_error gives it) in `message`.
int modelport_h5_check_library(const char *name, char *message, size_t size);

/// Opens the library and turns off its automatic error printing (errors become ModelPort's own, one line each).
int modelport_h5_init(void);

/// Opens `path` read-only with the default (sec2) driver.
hid_t modelport_h5_open(const char *path);

/// 1 when `name` (one component, relative to `loc`) is a hard link, 0 when it is another kind (soft, external,
/// user-defined), -1 when it does not exist or cannot be read.
int modelport_h5_is_hard_link(hid_t loc, const char *name);

/// What `name` under `loc` is: 1 a group, 2 a dataset, 0 something else, -1 an error.
int modelport_h5_object_kind(hid_t loc, const char *name);

/// The dataset's storage: 1 contiguous, 2 chunked, 0 compact, 3 virtual; -1 on error. `external` receives the
/// number of external files its data lives in.
int modelport_h5_layout(hid_t dataset, int *external);

/// The file offset of a contiguous dataset's data, or UINT64_MAX when it has none (never written, or not contiguous).
uint64_t modelport_h5_offset(hid_t dataset);

/// Reads the whole dataset as `type` into `buffer`.
int modelport_h5_read(hid_t dataset, hid_t type, void *buffer);

/// One link of a group: its name (malloc'ed), its type (0 hard, 1 soft, 2 external, 3 user-defined) and, for a
/// hard link, the object's identity in the file (its address), used to refuse cycles.
typedef struct {
    char *name;
    int type;
    uint64_t identity;
} modelport_h5_link;

/// The links H5Literate found, at most `max` (`overflow` is set when there were more).
typedef struct {
    modelport_h5_link *items;
    size_t count, capacity, max;
    int overflow, failed;
} modelport_h5_links;

/// Lists the links of group `group` in name order (one pass of H5Literate over the group's name index), at most
/// `max`. Returns 0, 1 when there were more than `max`, or -1; free `out` with modelport_h5_free_links either way.
int modelport_h5_list_links(hid_t group, size_t max, modelport_h5_links *out);
void modelport_h5_free_links(modelport_h5_links *links);

/// The number of filters in a dataset's pipeline (-1 on error); `ids` receives up to `size` of their ids.
int modelport_h5_filters(hid_t dataset, int *ids, int size);

/// The number of elements in one chunk of a chunked dataset, 0 when it is not chunked, -1 on error or overflow.
int64_t modelport_h5_chunk_elements(hid_t dataset);

/// Runs, in a child process, the library calls the reader makes on `path`, and waits at most `timeout_ms`
/// (hdf5.c, "The isolated pre-run"). Returns 0 when the child finished (whatever the library said), 1 when a signal
/// ended it (`*detail` = the signal), 2 when it ran past the timeout (killed), 3 when it exited with status
/// `*detail`, -1 when no child could be started (`*detail` = errno), -2 when the library is not loaded
/// (modelport_h5_load). Call with no other thread inside libhdf5.
int modelport_h5_probe(const char *path, size_t max_links, int max_depth, int max_rank, int timeout_ms, int *detail);

// The library's own calls that the Swift reader makes, each through the loaded library (same arguments and results).
herr_t modelport_H5Fclose(hid_t file);
hid_t modelport_H5Oopen(hid_t loc, const char *name, hid_t lapl);
herr_t modelport_H5Oclose(hid_t object);
htri_t modelport_H5Aexists(hid_t object, const char *name);
hid_t modelport_H5Gopen2(hid_t loc, const char *name, hid_t gapl);
herr_t modelport_H5Gclose(hid_t group);
hid_t modelport_H5Dopen2(hid_t loc, const char *name, hid_t dapl);
herr_t modelport_H5Dclose(hid_t dataset);
hid_t modelport_H5Dget_type(hid_t dataset);
hid_t modelport_H5Dget_space(hid_t dataset);
hsize_t modelport_H5Dget_storage_size(hid_t dataset);
herr_t modelport_H5Tclose(hid_t type);
hid_t modelport_H5Tcopy(hid_t type);
size_t modelport_H5Tget_size(hid_t type);
H5T_order_t modelport_H5Tget_order(hid_t type);
herr_t modelport_H5Tset_order(hid_t type, H5T_order_t order);
H5T_class_t modelport_H5Tget_class(hid_t type);
herr_t modelport_H5Tget_fields(hid_t type, size_t *spos, size_t *epos, size_t *esize, size_t *mpos, size_t *msize);
H5T_sign_t modelport_H5Tget_sign(hid_t type);
herr_t modelport_H5Sclose(hid_t space);
H5S_class_t modelport_H5Sget_simple_extent_type(hid_t space);
int modelport_H5Sget_simple_extent_ndims(hid_t space);
int modelport_H5Sget_simple_extent_dims(hid_t space, hsize_t dims[], hsize_t maxdims[]);

#ifdef __cplusplus
}
#endif

#endif
