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

/// Opens the library and turns off its automatic error printing (errors become ModelPort's own, one line each).
static inline int modelport_h5_init(void) {
    if (H5open() < 0) return -1;
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

/// The number of links in group `loc`, or -1.
static inline int64_t modelport_h5_link_count(hid_t loc) {
    H5G_info_t info;
    if (H5Gget_info(loc, &info) < 0) return -1;
    return (int64_t)info.nlinks;
}

/// Copies the name of link `index` (by name order) of group `loc` into `buffer`; returns its length, or -1.
static inline int64_t modelport_h5_link_name(hid_t loc, uint64_t index, char *buffer, size_t size) {
    return (int64_t)H5Lget_name_by_idx(loc, ".", H5_INDEX_NAME, H5_ITER_INC, (hsize_t)index, buffer, size, H5P_DEFAULT);
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

/// Reads a fixed-length string attribute's raw bytes (n × size) into `buffer`.
static inline int modelport_h5_read_attribute(hid_t attribute, hid_t type, void *buffer) {
    return H5Aread(attribute, type, buffer) < 0 ? -1 : 0;
}

/// A memory type for variable-length C strings (close it with H5Tclose).
static inline hid_t modelport_h5_vlen_string_type(void) {
    hid_t memtype = H5Tcopy(H5T_C_S1);
    if (memtype < 0) return -1;
    if (H5Tset_size(memtype, H5T_VARIABLE) < 0) { H5Tclose(memtype); return -1; }
    return memtype;
}

/// Frees the strings the library allocated while reading a variable-length string attribute into `pointers`.
static inline void modelport_h5_reclaim_strings(hid_t attribute, hid_t memtype, char **pointers) {
    hid_t space = H5Aget_space(attribute);
    if (space < 0) return;
    H5Dvlen_reclaim(memtype, space, H5P_DEFAULT, pointers);
    H5Sclose(space);
}
