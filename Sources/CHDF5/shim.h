// The HDF5 C library (https://support.hdfgroup.org/documentation/hdf5/latest/), as Debian's libhdf5-dev installs it
// (headers under /usr/include/hdf5/serial, found through pkg-config `hdf5`, or directly when pkg-config is missing).
// Macros Swift cannot import and calls whose signature changed between HDF5 1.10 and 1.14 (H5Lget_info) are wrapped
// below as small inline functions, so one Swift reader builds against either.
#if __has_include(<hdf5.h>)
#include <hdf5.h>
#else
#include <hdf5/serial/hdf5.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/// Opens the library and turns off its automatic error printing (errors become ModelPort's own, one line each).
static inline int modelport_h5_init(void) {
    if (H5open() < 0) return -1;
    // No filter plugins: a file naming an unknown filter must not make the library load code from
    // HDF5_PLUGIN_PATH (H5PLpublic.h).
    if (H5PLset_loading_state(0) < 0) return -1;
    return H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0 ? -1 : 0;
}

/// Opens `path` read-only with the default (sec2) driver.
static inline hid_t modelport_h5_open(const char *path) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
}

/// 1 when `name` (one component, relative to `loc`) is a hard link, 0 when it is another kind (soft, external,
/// user-defined), -1 when it does not exist or cannot be read.
static inline int modelport_h5_is_hard_link(hid_t loc, const char *name) {
    htri_t exists = H5Lexists(loc, name, H5P_DEFAULT);
    if (exists <= 0) return -1;
    H5L_info_t info;
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) return -1;
    return info.type == H5L_TYPE_HARD ? 1 : 0;
}

/// What `name` under `loc` is: 1 a group, 2 a dataset, 0 something else, -1 an error.
static inline int modelport_h5_object_kind(hid_t loc, const char *name) {
    hid_t object = H5Oopen(loc, name, H5P_DEFAULT);
    if (object < 0) return -1;
    H5I_type_t type = H5Iget_type(object);
    H5Oclose(object);
    return type == H5I_GROUP ? 1 : type == H5I_DATASET ? 2 : 0;
}

/// The dataset's storage: 1 contiguous, 2 chunked, 0 compact, 3 virtual; -1 on error. `external` receives the
/// number of external files its data lives in.
static inline int modelport_h5_layout(hid_t dataset, int *external) {
    hid_t plist = H5Dget_create_plist(dataset);
    if (plist < 0) return -1;
    H5D_layout_t layout = H5Pget_layout(plist);
    int count = H5Pget_external_count(plist);
    H5Pclose(plist);
    *external = count;
    if (layout == H5D_CONTIGUOUS) return 1;
    if (layout == H5D_CHUNKED) return 2;
    if (layout == H5D_COMPACT) return 0;
    if (layout == H5D_VIRTUAL) return 3;
    return -1;
}

/// The file offset of a contiguous dataset's data, or UINT64_MAX when it has none (never written, or not contiguous).
static inline uint64_t modelport_h5_offset(hid_t dataset) {
    haddr_t offset = H5Dget_offset(dataset);
    return offset == HADDR_UNDEF ? UINT64_MAX : (uint64_t)offset;
}

/// Reads the whole dataset as `type` into `buffer`.
static inline int modelport_h5_read(hid_t dataset, hid_t type, void *buffer) {
    return H5Dread(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer) < 0 ? -1 : 0;
}

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

static herr_t modelport_h5_collect_link(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    (void)group;
    modelport_h5_links *links = (modelport_h5_links *)data;
    if (links->count >= links->max) { links->overflow = 1; return 1; }
    if (links->count == links->capacity) {
        size_t capacity = links->capacity ? links->capacity * 2 : 16;
        modelport_h5_link *items = (modelport_h5_link *)realloc(links->items, capacity * sizeof(modelport_h5_link));
        if (!items) { links->failed = 1; return -1; }
        links->items = items;
        links->capacity = capacity;
    }
    size_t length = strnlen(name, 65536);
    if (length == 65536) { links->failed = 1; return -1; }
    char *copy = (char *)malloc(length + 1);
    if (!copy) { links->failed = 1; return -1; }
    memcpy(copy, name, length + 1);
    modelport_h5_link *link = &links->items[links->count++];
    link->name = copy;
    link->type = info->type == H5L_TYPE_HARD ? 0 : info->type == H5L_TYPE_SOFT ? 1 : info->type == H5L_TYPE_EXTERNAL ? 2 : 3;
    link->identity = 0;
    if (info->type == H5L_TYPE_HARD) {
#if H5_VERSION_GE(1, 12, 0)
        memcpy(&link->identity, &info->u.token, sizeof(link->identity) < sizeof(info->u.token) ? sizeof(link->identity) : sizeof(info->u.token));
#else
        link->identity = (uint64_t)info->u.address;
#endif
    }
    return 0;
}

/// Lists the links of group `group` in name order (one pass of H5Literate over the group's name index), at most
/// `max`. Returns 0, 1 when there were more than `max`, or -1; free `out` with modelport_h5_free_links either way.
static inline int modelport_h5_list_links(hid_t group, size_t max, modelport_h5_links *out) {
    memset(out, 0, sizeof(*out));
    out->max = max;
    herr_t status = H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, NULL, modelport_h5_collect_link, out);
    if (out->overflow) return 1;
    return status < 0 || out->failed ? -1 : 0;
}

static inline void modelport_h5_free_links(modelport_h5_links *links) {
    for (size_t i = 0; i < links->count; i++) free(links->items[i].name);
    free(links->items);
    memset(links, 0, sizeof(*links));
}

/// The number of filters in a dataset's pipeline (-1 on error); `ids` receives up to `size` of their ids.
static inline int modelport_h5_filters(hid_t dataset, int *ids, int size) {
    hid_t plist = H5Dget_create_plist(dataset);
    if (plist < 0) return -1;
    int count = H5Pget_nfilters(plist);
    for (int i = 0; i < count && i < size; i++) {
        unsigned flags = 0;
        size_t elements = 0;
        unsigned config = 0;
        ids[i] = (int)H5Pget_filter2(plist, (unsigned)i, &flags, &elements, NULL, 0, NULL, &config);
    }
    H5Pclose(plist);
    return count;
}

/// The number of elements in one chunk of a chunked dataset, 0 when it is not chunked, -1 on error or overflow.
static inline int64_t modelport_h5_chunk_elements(hid_t dataset) {
    hid_t plist = H5Dget_create_plist(dataset);
    if (plist < 0) return -1;
    if (H5Pget_layout(plist) != H5D_CHUNKED) { H5Pclose(plist); return 0; }
    hsize_t dims[H5S_MAX_RANK];
    int rank = H5Pget_chunk(plist, H5S_MAX_RANK, dims);
    H5Pclose(plist);
    if (rank < 0 || rank > H5S_MAX_RANK) return -1;
    uint64_t total = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] != 0 && total > UINT64_MAX / 2 / dims[i]) return -1;
        total *= dims[i];
    }
    return total > (uint64_t)INT64_MAX ? -1 : (int64_t)total;
}
