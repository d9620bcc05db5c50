// The HDF5 C library, loaded at first use: only a Keras .h5 file needs it.
//
// Why not link it at build time: Debian's libhdf5_serial brings about thirty other libraries with it (libcurl,
// OpenSSL, GnuTLS, Kerberos, LDAP, SASL, nghttp2, brotli, libaec…: `ldd` of a linked modelport lists them), and the
// dynamic loader maps and relocates every one of them at the start of every modelport process, whatever it converts.
// Loaded with dlopen, they cost only the runs that read HDF5. The headers still describe the calls (types, enum
// values, the H5L_info_t layout of the version built against), so the library loaded must be that same
// major.minor version (H5get_libversion); another one is refused with a message rather than called with the wrong
// layouts. Its public calls (the HDF5 reference manual's H5A/H5D/H5E/H5F/H5G/H5I/H5L/H5O/H5P/H5PL/H5S/H5T
// modules) are reached through one table of function pointers, filled by dlsym.
#define _GNU_SOURCE
#include "modelport_hdf5.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Every library call made here or from Swift. A name the headers map to a versioned symbol (H5Literate →
// H5Literate2 from HDF5 1.12 on, H5Lget_info → H5Lget_info2) is expanded before use, so the table holds the
// versioned symbol and dlsym asks for it by that name.
#define MODELPORT_H5_CALLS(X) \
    X(H5dont_atexit) X(H5open) X(H5get_libversion) X(H5PLset_loading_state) X(H5Eset_auto2) X(H5Fopen) X(H5Fclose) \
    X(H5Lexists) X(H5Lget_info) X(H5Literate) X(H5Iget_type) X(H5Oopen) X(H5Oclose) X(H5Aexists) \
    X(H5Gopen2) X(H5Gclose) X(H5Dopen2) X(H5Dclose) X(H5Dget_create_plist) X(H5Dget_offset) X(H5Dget_type) \
    X(H5Dget_space) X(H5Dget_storage_size) X(H5Dread) X(H5Pclose) X(H5Pget_layout) X(H5Pget_external_count) \
    X(H5Pget_nfilters) X(H5Pget_filter2) X(H5Pget_chunk) X(H5Sclose) X(H5Sget_simple_extent_type) \
    X(H5Sget_simple_extent_ndims) X(H5Sget_simple_extent_dims) X(H5Sget_simple_extent_npoints) X(H5Tclose) \
    X(H5Tcopy) X(H5Tget_size) X(H5Tget_order) X(H5Tset_order) X(H5Tget_class) X(H5Tget_fields) X(H5Tget_sign)

// Some constants (H5F_ACC_RDONLY, H5P_DEFAULT's neighbours) expand to `H5CHECK H5OPEN value` (H5public.h), calls of
// the linked library. Here the library is opened by modelport_h5_init (H5open) before any of them is used, and its
// version is checked at load (H5check_version would abort the process on a mismatch), so both expand to nothing.
#undef H5CHECK
#define H5CHECK
#undef H5OPEN
#define H5OPEN

#define MODELPORT_H5_FIELD(name) __typeof__(name) *name;
typedef struct {
    MODELPORT_H5_CALLS(MODELPORT_H5_FIELD)
} modelport_h5_table;
static modelport_h5_table h5;
#define H5CALL(name) (*h5.name)

#define MODELPORT_H5_STRING(name) #name
#define MODELPORT_H5_SYMBOL(name) MODELPORT_H5_STRING(name)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static char failure[512];

/// The file names tried, in order: Debian and Ubuntu's serial build (package libhdf5-103-1, which libhdf5-dev
/// depends on), then the names other distributions and Homebrew give the library.
static const char *const library_names[] = {
#if defined(__APPLE__)
    "libhdf5.dylib", "libhdf5.310.dylib", "libhdf5.200.dylib",
#else
    "libhdf5_serial.so.103", "libhdf5.so.103", "libhdf5_serial.so", "libhdf5.so", "libhdf5.so.310", "libhdf5.so.200",
#endif
};

/// Opens the first of `names` that loads, fills `table` and checks the version. Returns the handle, or NULL with
/// the reason in `message`.
static void *open_library(const char *const *names, size_t count, modelport_h5_table *table, char *message, size_t size) {
    void *handle = NULL;
    for (size_t i = 0; i < count && !handle; i++) handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(message, size,
                 "reading a Keras .h5 file needs the HDF5 library %d.%d (%s), which is not installed: install the "
                 "Debian/Ubuntu package libhdf5-103-1 (or libhdf5-dev)",
                 H5_VERS_MAJOR, H5_VERS_MINOR, count ? names[0] : "libhdf5");
        return NULL;
    }
#define MODELPORT_H5_RESOLVE(name) \
    table->name = (__typeof__(name) *)dlsym(handle, MODELPORT_H5_SYMBOL(name)); \
    if (!table->name) { \
        snprintf(message, size, "the HDF5 library found has no %s: install the Debian/Ubuntu package libhdf5-103-1 (HDF5 %d.%d)", \
                 MODELPORT_H5_SYMBOL(name), H5_VERS_MAJOR, H5_VERS_MINOR); \
        dlclose(handle); \
        return NULL; \
    }
    MODELPORT_H5_CALLS(MODELPORT_H5_RESOLVE)
#undef MODELPORT_H5_RESOLVE
    // Before any other call (H5public.h): no atexit clean-up. The process's exit frees everything anyway, a
    // library closed again below must leave no handler behind, and the clean-up of a library a test or a failed
    // read left with open objects ends in "HDF5: infinite loop closing library" on stderr.
    table->H5dont_atexit();
    unsigned major = 0, minor = 0, release = 0;
    if (table->H5get_libversion(&major, &minor, &release) < 0 || major != H5_VERS_MAJOR || minor != H5_VERS_MINOR) {
        snprintf(message, size,
                 "the HDF5 library found is version %u.%u.%u, but modelport was built for %d.%d: install the matching "
                 "library (Debian/Ubuntu: libhdf5-103-1) or rebuild modelport against this one",
                 major, minor, release, H5_VERS_MAJOR, H5_VERS_MINOR);
        dlclose(handle);
        return NULL;
    }
    return handle;
}

static void load(void) {
    loaded = open_library(library_names, sizeof(library_names) / sizeof(library_names[0]), &h5, failure, sizeof(failure)) != NULL;
}

int modelport_h5_load(void) {
    pthread_once(&once, load);
    return loaded ? 0 : -1;
}

const char *modelport_h5_load_error(void) {
    pthread_once(&once, load);
    return loaded ? "" : failure;
}

int modelport_h5_check_library(const char *name, char *message, size_t size) {
    modelport_h5_table table;
    void *handle = open_library(&name, 1, &table, message, size);
    if (!handle) return -1;
    dlclose(handle);
    return 0;
}

// MARK: - The calls Swift makes (the header's modelport_H5… declarations)

herr_t modelport_H5Fclose(hid_t file) { return H5CALL(H5Fclose)(file); }
hid_t modelport_H5Oopen(hid_t loc, const char *name, hid_t lapl) { return H5CALL(H5Oopen)(loc, name, lapl); }
herr_t modelport_H5Oclose(hid_t object) { return H5CALL(H5Oclose)(object); }
htri_t modelport_H5Aexists(hid_t object, const char *name) { return H5CALL(H5Aexists)(object, name); }
hid_t modelport_H5Gopen2(hid_t loc, const char *name, hid_t gapl) { return H5CALL(H5Gopen2)(loc, name, gapl); }
herr_t modelport_H5Gclose(hid_t group) { return H5CALL(H5Gclose)(group); }
hid_t modelport_H5Dopen2(hid_t loc, const char *name, hid_t dapl) { return H5CALL(H5Dopen2)(loc, name, dapl); }
herr_t modelport_H5Dclose(hid_t dataset) { return H5CALL(H5Dclose)(dataset); }
hid_t modelport_H5Dget_type(hid_t dataset) { return H5CALL(H5Dget_type)(dataset); }
hid_t modelport_H5Dget_space(hid_t dataset) { return H5CALL(H5Dget_space)(dataset); }
hsize_t modelport_H5Dget_storage_size(hid_t dataset) { return H5CALL(H5Dget_storage_size)(dataset); }
herr_t modelport_H5Tclose(hid_t type) { return H5CALL(H5Tclose)(type); }
hid_t modelport_H5Tcopy(hid_t type) { return H5CALL(H5Tcopy)(type); }
size_t modelport_H5Tget_size(hid_t type) { return H5CALL(H5Tget_size)(type); }
H5T_order_t modelport_H5Tget_order(hid_t type) { return H5CALL(H5Tget_order)(type); }
herr_t modelport_H5Tset_order(hid_t type, H5T_order_t order) { return H5CALL(H5Tset_order)(type, order); }
H5T_class_t modelport_H5Tget_class(hid_t type) { return H5CALL(H5Tget_class)(type); }
herr_t modelport_H5Tget_fields(hid_t type, size_t *spos, size_t *epos, size_t *esize, size_t *mpos, size_t *msize) {
    return H5CALL(H5Tget_fields)(type, spos, epos, esize, mpos, msize);
}
H5T_sign_t modelport_H5Tget_sign(hid_t type) { return H5CALL(H5Tget_sign)(type); }
herr_t modelport_H5Sclose(hid_t space) { return H5CALL(H5Sclose)(space); }
H5S_class_t modelport_H5Sget_simple_extent_type(hid_t space) { return H5CALL(H5Sget_simple_extent_type)(space); }
int modelport_H5Sget_simple_extent_ndims(hid_t space) { return H5CALL(H5Sget_simple_extent_ndims)(space); }
int modelport_H5Sget_simple_extent_dims(hid_t space, hsize_t dims[], hsize_t maxdims[]) {
    return H5CALL(H5Sget_simple_extent_dims)(space, dims, maxdims);
}

// MARK: - The reader's helpers (calls Swift cannot make directly: macros, and a signature that changed in 1.12)

/// Opens the library and turns off its automatic error printing (errors become ModelPort's own, one line each).
int modelport_h5_init(void) {
    if (modelport_h5_load() != 0) return -1;
    if (H5CALL(H5open)() < 0) return -1;
    // No filter plugins: a file naming an unknown filter must not make the library load code from
    // HDF5_PLUGIN_PATH (H5PLpublic.h).
    if (H5CALL(H5PLset_loading_state)(0) < 0) return -1;
    return H5CALL(H5Eset_auto2)(H5E_DEFAULT, NULL, NULL) < 0 ? -1 : 0;
}

/// Opens `path` read-only with the default (sec2) driver.
hid_t modelport_h5_open(const char *path) {
    H5CALL(H5Eset_auto2)(H5E_DEFAULT, NULL, NULL);
    return H5CALL(H5Fopen)(path, H5F_ACC_RDONLY, H5P_DEFAULT);
}

/// 1 when `name` (one component, relative to `loc`) is a hard link, 0 when it is another kind (soft, external,
/// user-defined), -1 when it does not exist or cannot be read.
int modelport_h5_is_hard_link(hid_t loc, const char *name) {
    htri_t exists = H5CALL(H5Lexists)(loc, name, H5P_DEFAULT);
    if (exists <= 0) return -1;
    H5L_info_t info;
    if (H5CALL(H5Lget_info)(loc, name, &info, H5P_DEFAULT) < 0) return -1;
    return info.type == H5L_TYPE_HARD ? 1 : 0;
}

/// What `name` under `loc` is: 1 a group, 2 a dataset, 0 something else, -1 an error.
int modelport_h5_object_kind(hid_t loc, const char *name) {
    hid_t object = H5CALL(H5Oopen)(loc, name, H5P_DEFAULT);
    if (object < 0) return -1;
    H5I_type_t type = H5CALL(H5Iget_type)(object);
    H5CALL(H5Oclose)(object);
    return type == H5I_GROUP ? 1 : type == H5I_DATASET ? 2 : 0;
}

/// The dataset's storage: 1 contiguous, 2 chunked, 0 compact, 3 virtual; -1 on error. `external` receives the
/// number of external files its data lives in.
int modelport_h5_layout(hid_t dataset, int *external) {
    hid_t plist = H5CALL(H5Dget_create_plist)(dataset);
    if (plist < 0) return -1;
    H5D_layout_t layout = H5CALL(H5Pget_layout)(plist);
    int count = H5CALL(H5Pget_external_count)(plist);
    H5CALL(H5Pclose)(plist);
    *external = count;
    if (layout == H5D_CONTIGUOUS) return 1;
    if (layout == H5D_CHUNKED) return 2;
    if (layout == H5D_COMPACT) return 0;
    if (layout == H5D_VIRTUAL) return 3;
    return -1;
}

/// The file offset of a contiguous dataset's data, or UINT64_MAX when it has none (never written, or not contiguous).
uint64_t modelport_h5_offset(hid_t dataset) {
    haddr_t offset = H5CALL(H5Dget_offset)(dataset);
    return offset == HADDR_UNDEF ? UINT64_MAX : (uint64_t)offset;
}

/// Reads the whole dataset as `type` into `buffer`.
int modelport_h5_read(hid_t dataset, hid_t type, void *buffer) {
    return H5CALL(H5Dread)(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer) < 0 ? -1 : 0;
}



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
int modelport_h5_list_links(hid_t group, size_t max, modelport_h5_links *out) {
    memset(out, 0, sizeof(*out));
    out->max = max;
    herr_t status = H5CALL(H5Literate)(group, H5_INDEX_NAME, H5_ITER_INC, NULL, modelport_h5_collect_link, out);
    if (out->overflow) return 1;
    return status < 0 || out->failed ? -1 : 0;
}

void modelport_h5_free_links(modelport_h5_links *links) {
    for (size_t i = 0; i < links->count; i++) free(links->items[i].name);
    free(links->items);
    memset(links, 0, sizeof(*links));
}

/// The number of filters in a dataset's pipeline (-1 on error); `ids` receives up to `size` of their ids.
int modelport_h5_filters(hid_t dataset, int *ids, int size) {
    hid_t plist = H5CALL(H5Dget_create_plist)(dataset);
    if (plist < 0) return -1;
    int count = H5CALL(H5Pget_nfilters)(plist);
    for (int i = 0; i < count && i < size; i++) {
        unsigned flags = 0;
        size_t elements = 0;
        unsigned config = 0;
        ids[i] = (int)H5CALL(H5Pget_filter2)(plist, (unsigned)i, &flags, &elements, NULL, 0, NULL, &config);
    }
    H5CALL(H5Pclose)(plist);
    return count;
}

/// The number of elements in one chunk of a chunked dataset, 0 when it is not chunked, -1 on error or overflow.
int64_t modelport_h5_chunk_elements(hid_t dataset) {
    hid_t plist = H5CALL(H5Dget_create_plist)(dataset);
    if (plist < 0) return -1;
    if (H5CALL(H5Pget_layout)(plist) != H5D_CHUNKED) { H5CALL(H5Pclose)(plist); return 0; }
    hsize_t dims[H5S_MAX_RANK];
    int rank = H5CALL(H5Pget_chunk)(plist, H5S_MAX_RANK, dims);
    H5CALL(H5Pclose)(plist);
    if (rank < 0 || rank > H5S_MAX_RANK) return -1;
    uint64_t total = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] != 0 && total > UINT64_MAX / 2 / dims[i]) return -1;
        total *= dims[i];
    }
    return total > (uint64_t)INT64_MAX ? -1 : (int64_t)total;
}

// MARK: - The isolated pre-run (a crash inside libhdf5 kills a child process, not ModelPort)
//
// libhdf5 1.10.8 crashes on some damaged files (Samples/broken/fuzz/keras/libhdf5/README.md: a SEGV in
// H5Literate → H5G__stab_iterate). Before the reader touches a file in its own process, modelport_h5_probe fork()s a
// child that makes the same libhdf5 calls in the same order as HDF5File / KerasWeights (open, the layer_names
// lookups, the hard-link walk, each dataset's description, and H5Dread of every dataset that is not read from the
// mapping) and _exit()s. Only C and libhdf5 run in the child (no Swift runtime after fork). A library *error* is
// harmless there: the child stops, exits 0, and the reader reports that error itself. A signal, a hang past the
// timeout (the child is SIGKILLed) or another exit status is returned to the caller, which refuses the file.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/// HDF5File.swift's `naturalOrder` as a comparison: runs of digits compare by value, the rest by byte, ties by
/// the whole names' bytes.
static int modelport_natural_compare(const char *a, const char *b) {
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    size_t nx = strlen(a), ny = strlen(b), i = 0, j = 0;
    while (i < nx && j < ny) {
        if (x[i] >= '0' && x[i] <= '9' && y[j] >= '0' && y[j] <= '9') {
            size_t ie = i, je = j;
            while (ie < nx && x[ie] >= '0' && x[ie] <= '9') ie++;
            while (je < ny && y[je] >= '0' && y[je] <= '9') je++;
            size_t p = i, q = j;
            while (p < ie - 1 && x[p] == '0') p++;
            while (q < je - 1 && y[q] == '0') q++;
            if (ie - p != je - q) return ie - p < je - q ? -1 : 1;
            int c = memcmp(x + p, y + q, ie - p);
            if (c) return c < 0 ? -1 : 1;
            i = ie;
            j = je;
        } else {
            if (x[i] != y[j]) return x[i] < y[j] ? -1 : 1;
            i++;
            j++;
        }
    }
    if (i < nx || j < ny) return i < nx ? 1 : -1;
    return strcmp(a, b);
}

static int modelport_h5_link_order(const void *a, const void *b) {
    return modelport_natural_compare(((const modelport_h5_link *)a)->name, ((const modelport_h5_link *)b)->name);
}

/// A dataset the walk found: its path from the root, its object header address and its top-level group's.
typedef struct {
    char *path;
    uint64_t identity, top;
} modelport_h5_found;

/// HDF5File.datasets(under:)'s order: top-level group, then object header address, then natural order of the path.
static int modelport_h5_found_order(const void *a, const void *b) {
    const modelport_h5_found *x = (const modelport_h5_found *)a, *y = (const modelport_h5_found *)b;
    if (x->top != y->top) return x->top < y->top ? -1 : 1;
    if (x->identity != y->identity) return x->identity < y->identity ? -1 : 1;
    return modelport_natural_compare(x->path, y->path);
}

typedef struct {
    hid_t file;
    size_t links_left;
    int max_depth, max_rank;
    uint64_t *groups;  // open-addressing set of group addresses (0 = empty slot; address 0 is the superblock)
    size_t group_slots, group_count;
    modelport_h5_found *datasets;  // the datasets found, in walk order
    size_t dataset_count, dataset_capacity;
    int stop;  // set at the first library error or refusal: the reader stops there too
} modelport_h5_probe_state;

static int modelport_h5_probe_insert_group(modelport_h5_probe_state *s, uint64_t address) {
    uint64_t key = address + 1;  // never 0
    if ((s->group_count + 1) * 2 > s->group_slots) {
        size_t slots = s->group_slots ? s->group_slots * 2 : 64;
        uint64_t *table = (uint64_t *)calloc(slots, sizeof(uint64_t));
        if (!table) return -1;
        for (size_t i = 0; i < s->group_slots; i++) {
            if (!s->groups[i]) continue;
            size_t j = (size_t)(s->groups[i] * 0x9E3779B97F4A7C15ull) & (slots - 1);
            while (table[j]) j = (j + 1) & (slots - 1);
            table[j] = s->groups[i];
        }
        free(s->groups);
        s->groups = table;
        s->group_slots = slots;
    }
    size_t j = (size_t)(key * 0x9E3779B97F4A7C15ull) & (s->group_slots - 1);
    while (s->groups[j]) {
        if (s->groups[j] == key) return 0;
        j = (j + 1) & (s->group_slots - 1);
    }
    s->groups[j] = key;
    s->group_count++;
    return 1;
}

static char *modelport_h5_probe_join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *out = (char *)malloc(la + lb + 2);
    if (!out) return NULL;
    memcpy(out, a, la);
    size_t at = la;
    if (la) out[at++] = '/';
    memcpy(out + at, b, lb + 1);
    return out;
}

/// Mirrors HDF5File.Walk.visit: list the links, then for each hard link its kind, groups recursively.
static void modelport_h5_probe_visit(modelport_h5_probe_state *s, hid_t group, const char *path, int depth, uint64_t top) {
    if (s->stop || depth >= s->max_depth) { s->stop = 1; return; }
    modelport_h5_links list;
    if (modelport_h5_list_links(group, s->links_left, &list) != 0) { modelport_h5_free_links(&list); s->stop = 1; return; }
    s->links_left -= list.count;
    if (list.count > 1) qsort(list.items, list.count, sizeof(modelport_h5_link), modelport_h5_link_order);
    for (size_t i = 0; i < list.count && !s->stop; i++) {
        modelport_h5_link *link = &list.items[i];
        if (!link->name[0] || strchr(link->name, '/') || strcmp(link->name, ".") == 0 || link->type != 0) { s->stop = 1; break; }
        char *child_path = modelport_h5_probe_join(path, link->name);
        if (!child_path) { s->stop = 1; break; }
        int kind = modelport_h5_object_kind(group, link->name);
        if (kind == 1) {
            int inserted = modelport_h5_probe_insert_group(s, link->identity);
            hid_t child = inserted == 1 ? H5CALL(H5Gopen2)(group, link->name, H5P_DEFAULT) : -1;
            if (child < 0) { s->stop = 1; free(child_path); break; }
            modelport_h5_probe_visit(s, child, child_path, depth + 1, depth == 0 ? link->identity : top);
            H5CALL(H5Gclose)(child);
            free(child_path);
        } else if (kind == 2) {
            if (s->dataset_count == s->dataset_capacity) {
                size_t capacity = s->dataset_capacity ? s->dataset_capacity * 2 : 64;
                modelport_h5_found *items = (modelport_h5_found *)realloc(s->datasets, capacity * sizeof(modelport_h5_found));
                if (!items) { s->stop = 1; free(child_path); break; }
                s->datasets = items;
                s->dataset_capacity = capacity;
            }
            modelport_h5_found found = {child_path, link->identity, depth == 0 ? link->identity : top};
            s->datasets[s->dataset_count++] = found;
        } else {
            free(child_path);
            if (kind != 0) s->stop = 1;
        }
    }
    modelport_h5_free_links(&list);
}

/// Mirrors HDF5File.checkHardLinks: every prefix of `path` must be a hard link.
static int modelport_h5_probe_hard_links(hid_t file, const char *path) {
    char prefix[4096];
    size_t length = strlen(path);
    if (length >= sizeof(prefix)) return -1;
    for (size_t i = 0; i <= length; i++) {
        if (i == length || path[i] == '/') {
            if (i == 0) continue;
            memcpy(prefix, path, i);
            prefix[i] = 0;
            if (modelport_h5_is_hard_link(file, prefix) != 1) return -1;
        }
    }
    return 0;
}

/// Mirrors HDF5File.describe (the calls, and the refusals that stop before a later call); returns 1 when the
/// reader would read the data through the library (not contiguous little-endian data of the declared size), 0 when
/// it maps it, -1 when it stops.
static int modelport_h5_probe_describe(modelport_h5_probe_state *s, hid_t dataset) {
    int external = 0;
    int layout = modelport_h5_layout(dataset, &external);
    if (external != 0 || layout == 3 || layout < 0) return -1;
    int filters[8];
    int filter_count = modelport_h5_filters(dataset, filters, 8);
    if (filter_count < 0 || filter_count > 8) return -1;
    for (int i = 0; i < filter_count; i++) if (filters[i] < 1 || filters[i] > 3) return -1;
    hid_t type = H5CALL(H5Dget_type)(dataset);
    if (type < 0) return -1;
    size_t size = H5CALL(H5Tget_size)(type);
    int big_endian = H5CALL(H5Tget_order)(type) == H5T_ORDER_BE;
    H5T_class_t class = H5CALL(H5Tget_class)(type);
    int ok = 0;
    if (class == H5T_FLOAT) {
        size_t spos, epos, esize, mpos, msize;
        ok = H5CALL(H5Tget_fields)(type, &spos, &epos, &esize, &mpos, &msize) >= 0 && (size == 2 || size == 4 || size == 8);
    } else if (class == H5T_INTEGER) {
        (void)H5CALL(H5Tget_sign)(type);
        ok = size == 1 || size == 2 || size == 4 || size == 8;
    }
    H5CALL(H5Tclose)(type);
    if (!ok) return -1;
    hid_t space = H5CALL(H5Dget_space)(dataset);
    if (space < 0) return -1;
    H5S_class_t extent = H5CALL(H5Sget_simple_extent_type)(space);
    int rank = (extent == H5S_SIMPLE || extent == H5S_SCALAR) ? H5CALL(H5Sget_simple_extent_ndims)(space) : -1;
    hsize_t dims[H5S_MAX_RANK];
    uint64_t elements = 1;
    int shape_ok = rank >= 0 && rank <= s->max_rank && rank <= H5S_MAX_RANK && H5CALL(H5Sget_simple_extent_dims)(space, dims, NULL) == rank;
    for (int i = 0; shape_ok && i < rank; i++) {
        if (dims[i] != 0 && elements > (uint64_t)INT64_MAX / 8 / dims[i]) shape_ok = 0;
        else elements *= dims[i];
    }
    H5CALL(H5Sclose)(space);
    if (!shape_ok) return -1;
    uint64_t byte_count = elements * size;
    int64_t chunk = modelport_h5_chunk_elements(dataset);
    if (chunk < 0 || (uint64_t)chunk > (elements > (1u << 20) ? elements : (1u << 20))) return -1;
    hsize_t storage = H5CALL(H5Dget_storage_size)(dataset);
    if (layout == 1 && !big_endian && storage == byte_count) {
        (void)modelport_h5_offset(dataset);
        return 0;
    }
    if (byte_count > (64u << 20) && (storage > UINT64_MAX / 1032 || byte_count > storage * 1032)) return -1;
    return 1;
}

/// Mirrors HDF5File.read: the dataset described again, then read whole as little-endian.
static void modelport_h5_probe_read(modelport_h5_probe_state *s, const char *path) {
    if (modelport_h5_probe_hard_links(s->file, path) != 0) return;
    hid_t dataset = H5CALL(H5Dopen2)(s->file, path, H5P_DEFAULT);
    if (dataset < 0) return;
    if (modelport_h5_probe_describe(s, dataset) >= 0) {
        hid_t file_type = H5CALL(H5Dget_type)(dataset);
        hid_t space = H5CALL(H5Dget_space)(dataset);
        hssize_t elements = space >= 0 ? H5CALL(H5Sget_simple_extent_npoints)(space) : -1;
        if (space >= 0) H5CALL(H5Sclose)(space);
        if (file_type >= 0) {
            hid_t memtype = H5CALL(H5Tcopy)(file_type);
            size_t size = H5CALL(H5Tget_size)(file_type);
            if (memtype >= 0 && H5CALL(H5Tset_order)(memtype, H5T_ORDER_LE) >= 0 && elements > 0 && size > 0 &&
                (uint64_t)elements <= SIZE_MAX / size) {
                void *buffer = malloc((size_t)elements * size);
                if (buffer) { (void)modelport_h5_read(dataset, memtype, buffer); free(buffer); }
            }
            if (memtype >= 0) H5CALL(H5Tclose)(memtype);
            H5CALL(H5Tclose)(file_type);
        }
    }
    H5CALL(H5Dclose)(dataset);
}

static int modelport_h5_probe_has_attribute(hid_t file, const char *path, const char *name, const char *name0) {
    hid_t object = file;
    if (path[0]) {
        if (modelport_h5_probe_hard_links(file, path) != 0) return -1;
        object = H5CALL(H5Oopen)(file, path, H5P_DEFAULT);
        if (object < 0) return -1;
    }
    int found = H5CALL(H5Aexists)(object, name) > 0 || H5CALL(H5Aexists)(object, name0) > 0;
    if (path[0]) H5CALL(H5Oclose)(object);
    return found;
}

/// The child's work: KerasWeights.readTensors's library calls, in its order. Never returns.
static void modelport_h5_probe_child(const char *path, size_t max_links, int max_depth, int max_rank) {
    modelport_h5_probe_state s;
    memset(&s, 0, sizeof(s));
    s.links_left = max_links;
    s.max_depth = max_depth;
    s.max_rank = max_rank;
    if (modelport_h5_init() != 0) _exit(0);
    s.file = modelport_h5_open(path);
    if (s.file < 0) _exit(0);
    const char *base = "";
    int keras = modelport_h5_probe_has_attribute(s.file, "", "layer_names", "layer_names0");
    if (keras < 0) _exit(0);
    if (!keras) {
        modelport_h5_links top;
        int listed = modelport_h5_list_links(s.file, max_links, &top);
        int has_model_weights = 0;
        for (size_t i = 0; listed == 0 && i < top.count; i++) has_model_weights |= strcmp(top.items[i].name, "model_weights") == 0;
        modelport_h5_free_links(&top);
        if (listed != 0) _exit(0);
        int found = has_model_weights && modelport_h5_probe_hard_links(s.file, "model_weights") == 0 &&
                    modelport_h5_object_kind(s.file, "model_weights") == 1 &&
                    modelport_h5_probe_has_attribute(s.file, "model_weights", "layer_names", "layer_names0") == 1;
        if (!found) {
            // Not Keras: the reader lists the root again to name the layout in its error.
            if (modelport_h5_list_links(s.file, max_links, &top) == 0) {}
            modelport_h5_free_links(&top);
            _exit(0);
        }
        base = "model_weights";
    }
    hid_t root = s.file;
    if (base[0]) {
        if (modelport_h5_probe_hard_links(s.file, base) != 0) _exit(0);
        root = H5CALL(H5Oopen)(s.file, base, H5P_DEFAULT);
        if (root < 0) _exit(0);
    }
    modelport_h5_probe_visit(&s, root, base, 0, 0);
    if (base[0]) H5CALL(H5Oclose)(root);
    if (s.stop) _exit(0);
    if (s.dataset_count > 1) qsort(s.datasets, s.dataset_count, sizeof(modelport_h5_found), modelport_h5_found_order);
    // Each dataset described (KerasWeights asks HDF5File.dataset for each), then those the mapping cannot lend read.
    char *needs_read = (char *)calloc(s.dataset_count + 1, 1);
    if (!needs_read) _exit(0);
    for (size_t i = 0; i < s.dataset_count; i++) {
        if (modelport_h5_probe_hard_links(s.file, s.datasets[i].path) != 0) _exit(0);
        hid_t dataset = H5CALL(H5Dopen2)(s.file, s.datasets[i].path, H5P_DEFAULT);
        if (dataset < 0) _exit(0);
        int described = modelport_h5_probe_describe(&s, dataset);
        H5CALL(H5Dclose)(dataset);
        if (described < 0) _exit(0);
        needs_read[i] = (char)described;
    }
    for (size_t i = 0; i < s.dataset_count; i++) if (needs_read[i]) modelport_h5_probe_read(&s, s.datasets[i].path);
    _exit(0);
}

/// Runs modelport_h5_probe_child in a child process and waits at most `timeout_ms`. Returns 0 when the child
/// finished (whatever the library said), 1 when a signal ended it (`*detail` = the signal), 2 when it ran past the
/// timeout (killed), 3 when it exited with status `*detail`, -1 when no child could be started (`*detail` = errno).
/// Call with no other thread inside libhdf5 (the fork copies the library's state).
int modelport_h5_probe(const char *path, size_t max_links, int max_depth, int max_rank, int timeout_ms, int *detail) {
    *detail = 0;
    // The child calls through the table: it must be filled here, before the fork (dlopen in a forked child of a
    // threaded process could wait forever on a lock another thread held).
    if (modelport_h5_load() != 0) return -2;
    // The child holds the write end of a pipe and never writes: its end closes when the child ends (however it
    // ends), which wakes poll() in the parent without polling waitpid. O_CLOEXEC keeps it out of programs other
    // threads may spawn; another probe cannot fork meanwhile (the caller holds hdf5Lock).
    int ends[2];
    if (pipe2(ends, O_CLOEXEC) != 0) { *detail = errno; return -1; }
    pid_t child = fork();
    if (child < 0) { *detail = errno; close(ends[0]); close(ends[1]); return -1; }
    if (child == 0) {
        close(ends[0]);
        // The parent's crash handlers (the Swift runtime's backtracer) must not run here, nor a core be dumped.
        int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
        for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) signal(signals[i], SIG_DFL);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        modelport_h5_probe_child(path, max_links, max_depth, max_rank);
        _exit(0);
    }
    close(ends[1]);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int timed_out = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (long)(now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed >= timeout_ms) { timed_out = 1; break; }
        struct pollfd end = {ends[0], POLLIN, 0};
        int ready = poll(&end, 1, (int)(timeout_ms - elapsed));
        if (ready > 0) break;  // POLLHUP: the child has ended
        if (ready < 0 && errno != EINTR) break;  // waitpid below still reaps it
    }
    close(ends[0]);
    if (timed_out) kill(child, SIGKILL);
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) { *detail = errno; return -1; }
    }
    if (timed_out) return 2;
    if (WIFSIGNALED(status)) { *detail = WTERMSIG(status); return 1; }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    *detail = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return 3;
}
