/* modelfile.c - writes and reads model.h5. Layout (docs/model-format.md):
 *   /                      attributes: format, format_version, hyperfold_version, model_type, task,
 *                          created, spec_sha256, source_fingerprint, metric, cv_score, cv_std,
 *                          params_json, schema_json, preprocess_json, n_train_rows
 *   /model/<name>          float64 [rows x cols]: the fitted model's arrays (coef, intercept, ...)
 *   /model_blobs/<name>    uint8 [len], attribute format: a library's serialised model
 *                          (xgboost: /model_blobs/booster, format "json")
 *   /preprocess/<name>     float64 [rows x cols]: the fitted preprocessing's arrays
 *   /features              string [n]: input feature columns, in order
 *   /design_features       string [q]: columns of the design matrix the model sees
 *   /classes               string [k]: class labels (classification only), index = class code
 *   /cv/fold_scores        float64 [folds]: the objective on each split
 * and, before the HDF5 file proper, a 512-byte user block holding the SHA-256 of every byte after
 * it (format_version 2 and 3), checked before libhdf5 reads anything. Every string, attribute or
 * dataset, is a fixed-length UTF-8 string in format_version 3 (variable-length in 1 and 2). */
#define _GNU_SOURCE
#include "coordinator/modelfile.h"
#include "common/fsutil.h"
#include "common/hf.h"
#include "shards/schema_json.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FORMAT_NAME "hyperfold-model"
#define FORMAT_VERSION 3
/* The largest string attribute read (schema_json of 10^5 features with their dictionaries is some
 * tens of MiB); a string is never larger than the file either. */
#define MAX_STRING ((hsize_t)1 << 30)
/* The user block: the checksum line, then NUL bytes; the HDF5 superblock starts after it. */
#define USERBLOCK 512
#define STAMP_PREFIX "hyperfold-model sha256 "
#define STAMP_LEN (sizeof STAMP_PREFIX - 1 + 64 + 1) /* the prefix, 64 hex digits, '\n' */

static const unsigned char k_hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

/* ---- the content checksum ------------------------------------------------------------------ */

/* The checksum block of a file image in memory (as hf_modelfile_stamp writes it on disk). */
static int stamp_image(char *image, size_t len)
{
    char hex[65];
    HF_CALL(hf_sha256_hex(image + USERBLOCK, len - USERBLOCK, hex));
    memset(image, 0, USERBLOCK);
    snprintf(image, USERBLOCK, "%s%s\n", STAMP_PREFIX, hex);
    return HF_OK;
}

int hf_modelfile_stamp(const char *path)
{
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return hf_error(HF_EIO, "opening %s: %s", path, hf_strerror(errno));
    char hex[65], block[USERBLOCK] = {0};
    int result = hf_sha256_fd_hex(fd, USERBLOCK, path, hex);
    if (result >= 0) {
        snprintf(block, sizeof block, "%s%s\n", STAMP_PREFIX, hex);
        if (pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block)
            result = hf_error(HF_EIO, "writing %s: %s", path, hf_strerror(errno));
    }
    if (close(fd) != 0 && result >= 0)
        result = hf_error(HF_EIO, "closing %s: %s", path, hf_strerror(errno));
    return result;
}

/* Checks the content checksum before libhdf5 reads the file: *stamped = 1 when the file has one
 * and it matches; 0 for a file without a user block (format_version 1, checked by the caller);
 * HF_EINVAL with the message when the checksum or its block is damaged or the file is not HDF5. */
static int verify_stamp(const char *path, int *stamped)
{
    *stamped = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return hf_error(HF_EIO, "opening %s: %s", path, hf_strerror(errno));
    unsigned char block[USERBLOCK + 8] = {0};
    ssize_t got = pread(fd, block, sizeof block, 0);
    int result = HF_OK;
    if (got >= 8 && memcmp(block, k_hdf5_sig, 8) == 0)
        goto out; /* no user block: format_version 1 */
    if (got < (ssize_t)sizeof block || memcmp(block + USERBLOCK, k_hdf5_sig, 8) != 0) {
        result = hf_error(HF_EINVAL, "%s: not an HDF5 file", path);
        goto out;
    }
    /* Exactly the prefix, 64 lowercase hex digits, a newline, then NUL bytes. */
    const size_t plen = sizeof STAMP_PREFIX - 1;
    int canonical = memcmp(block, STAMP_PREFIX, plen) == 0 && block[STAMP_LEN - 1] == '\n';
    for (size_t i = plen; canonical && i < plen + 64; i++)
        canonical = (block[i] >= '0' && block[i] <= '9') || (block[i] >= 'a' && block[i] <= 'f');
    for (size_t i = STAMP_LEN; canonical && i < USERBLOCK; i++)
        canonical = block[i] == 0;
    if (!canonical) {
        result = hf_error(HF_EINVAL,
                          "%s: damaged model: its checksum block (bytes 0-%d, before the HDF5 "
                          "file) is not \"%s<64 hex digits>\" followed by NUL bytes",
                          path, USERBLOCK - 1, STAMP_PREFIX);
        goto out;
    }
    char hex[65];
    if ((result = hf_sha256_fd_hex(fd, USERBLOCK, path, hex)) < 0)
        goto out;
    if (memcmp(hex, block + plen, 64) != 0) {
        result = hf_error(HF_EINVAL,
                          "%s: damaged model: content checksum %s does not match the stored %.64s",
                          path, hex, (const char *)block + plen);
        goto out;
    }
    *stamped = 1;
out:
    close(fd);
    return result;
}

static int h5fail(const char *what, const char *path)
{
    return hf_error(HF_EIO, "%s: HDF5 error while %s", path, what);
}

/* A fixed-length UTF-8 string type of `size` bytes, padded with NUL bytes (format_version 3:
 * a string's length is its type's size, which the reader bounds before it reads; a
 * variable-length string's length came from the file's global heap). H5I_INVALID_HID on failure.
 * HDF5 has no string type of 0 bytes: an empty string is one NUL byte. */
static hid_t utf8_type(size_t size)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type >= 0 &&
        (H5Tset_size(type, size ? size : 1) < 0 || H5Tset_strpad(type, H5T_STR_NULLPAD) < 0 ||
         H5Tset_cset(type, H5T_CSET_UTF8) < 0)) {
        H5Tclose(type);
        type = H5I_INVALID_HID;
    }
    return type;
}

/* Closes what a write opened; a failed close fails the write (result < 0). */
static herr_t close_all(herr_t result, hid_t a, herr_t (*close_a)(hid_t), hid_t space, hid_t type)
{
    if (a >= 0 && close_a(a) < 0)
        result = -1;
    if (space >= 0 && H5Sclose(space) < 0)
        result = -1;
    if (type >= 0 && H5Tclose(type) < 0)
        result = -1;
    return result;
}

/* A string of the file's root longer than this is a scalar dataset /strings/NAME instead of an
 * attribute: a fixed-length attribute lives in its object's header, whose messages the file
 * format libhdf5 writes by default caps at 64 KiB (the schema of a few thousand columns is
 * longer). */
#define BIG_STRING 32768
#define BIG_STRINGS_GROUP "strings"

static int attr_str(hid_t obj, const char *name, const char *value, const char *path)
{
    const char *v = value ? value : "";
    size_t len = strlen(v);
    hid_t type = utf8_type(len);
    hid_t space = H5Screate(H5S_SCALAR);
    herr_t result = type >= 0 && space >= 0 ? 0 : -1;
    if (len > BIG_STRING && result >= 0) {
        hid_t g = H5Lexists(obj, BIG_STRINGS_GROUP, H5P_DEFAULT) > 0
                      ? H5Gopen2(obj, BIG_STRINGS_GROUP, H5P_DEFAULT)
                      : H5Gcreate2(obj, BIG_STRINGS_GROUP, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hid_t d = g >= 0 ? H5Dcreate2(g, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                         : H5I_INVALID_HID;
        result = d < 0 ? -1 : H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        if ((d >= 0 && H5Dclose(d) < 0) || (g >= 0 && H5Gclose(g) < 0))
            result = -1;
    } else if (result >= 0) {
        hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        result = a < 0 ? -1 : H5Awrite(a, type, len ? v : "");
        if (a >= 0 && H5Aclose(a) < 0)
            result = -1;
    }
    result = close_all(result, H5I_INVALID_HID, H5Aclose, space, type);
    return result < 0 ? h5fail(name, path) : HF_OK;
}

static int attr_f64(hid_t obj, const char *name, double value, const char *path)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = space >= 0 ? H5Acreate2(obj, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT)
                         : H5I_INVALID_HID;
    herr_t result = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_DOUBLE, &value);
    result = close_all(result, a, H5Aclose, space, H5I_INVALID_HID);
    return result < 0 ? h5fail(name, path) : HF_OK;
}

static int write_matrix(hid_t loc, const char *name, const double *data, size_t rows, size_t cols,
                        const char *path)
{
    hsize_t dims[2] = {rows, cols};
    hid_t space = H5Screate_simple(2, dims, NULL);
    hid_t d = space >= 0 ? H5Dcreate2(loc, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT,
                                      H5P_DEFAULT)
                         : H5I_INVALID_HID;
    herr_t result =
        d < 0
            ? -1
            : (rows * cols > 0 ? H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data)
                               : 0);
    result = close_all(result, d, H5Dclose, space, H5I_INVALID_HID);
    return result < 0 ? h5fail(name, path) : HF_OK;
}

/* A string dataset: fixed-length strings of the longest one's byte length, NUL-padded. */
static int write_strings(hid_t loc, const char *name, const char *const *v, size_t n,
                         const char *path)
{
    size_t width = 1;
    for (size_t i = 0; i < n; i++)
        if (v[i] && strlen(v[i]) > width)
            width = strlen(v[i]);
    if (n && width > SIZE_MAX / n)
        return hf_error(HF_ENOMEM, "%s: %s: %zu strings of %zu bytes", path, name, n, width);
    char *buf = hf_calloc(n ? n * width : 1, 1);
    if (!buf)
        return HF_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (v[i])
            memcpy(buf + i * width, v[i], strlen(v[i]));
    hid_t type = utf8_type(width);
    hsize_t dims[1] = {n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t d = type >= 0 && space >= 0
                  ? H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                  : H5I_INVALID_HID;
    herr_t result = d < 0 ? -1 : (n ? H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0);
    result = close_all(result, d, H5Dclose, space, type);
    free(buf);
    return result < 0 ? h5fail(name, path) : HF_OK;
}

static int write_arrays(hid_t file, const char *group, const hf_array *a, size_t n,
                        const char *path)
{
    hid_t g = H5Gcreate2(file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return h5fail(group, path);
    int result = HF_OK;
    for (size_t i = 0; i < n && result >= 0; i++)
        result = write_matrix(g, a[i].name, a[i].data, a[i].rows, a[i].cols, path);
    if (H5Gclose(g) < 0 && result >= 0)
        result = h5fail(group, path);
    return result;
}

static int write_blobs(hid_t file, const hf_blob *b, size_t n, const char *path)
{
    if (n == 0)
        return HF_OK;
    hid_t g = H5Gcreate2(file, "model_blobs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return h5fail("model_blobs", path);
    int result = HF_OK;
    for (size_t i = 0; i < n && result >= 0; i++) {
        hsize_t dims[1] = {b[i].len};
        hid_t space = H5Screate_simple(1, dims, NULL);
        hid_t d = space >= 0 ? H5Dcreate2(g, b[i].name, H5T_STD_U8LE, space, H5P_DEFAULT,
                                          H5P_DEFAULT, H5P_DEFAULT)
                             : H5I_INVALID_HID;
        herr_t st = d < 0 ? -1
                          : (b[i].len ? H5Dwrite(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                                 b[i].data)
                                      : 0);
        if (st >= 0)
            result = attr_str(d, "format", b[i].format, path);
        st = close_all(st, d, H5Dclose, space, H5I_INVALID_HID);
        if (st < 0 && result >= 0)
            result = h5fail(b[i].name, path);
    }
    if (H5Gclose(g) < 0 && result >= 0)
        result = h5fail("model_blobs", path);
    return result;
}

/* The fitted model's blobs, serialised from its state when the model keeps a library object
 * (into *owned, which the caller frees). */
static int model_blobs(const hf_fitted *fitted, hf_fitted *owned, const hf_blob **b, size_t *n)
{
    *b = fitted->blobs;
    *n = fitted->n_blobs;
    if (fitted->n_blobs || !fitted->state || !fitted->ops->save_state)
        return HF_OK;
    memset(owned, 0, sizeof *owned);
    owned->ops = fitted->ops;
    owned->state = fitted->state; /* borrowed: owned->ops->free_state is not called */
    HF_CALL(fitted->ops->save_state(owned));
    *b = owned->blobs;
    *n = owned->n_blobs;
    return HF_OK;
}

static void iso_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_model(const char *path, const hf_schema *schema, const hf_prep *prep,
                       const hf_fitted *fitted, const hf_modelfile_meta *meta)
{
    int result = HF_OK;
    /* The file is built in memory (HDF5's core driver, no backing store) and written by
     * hf_fs_write_atomic: a full disk is then one failed write() of ours, with its errno, and a
     * temporary file removed. Written by libhdf5 to disk, an ENOSPC inside H5Fclose left the file
     * open in libhdf5, which crashed at exit. The name is only the image's label. */
    char *tmp = hf_strdup(path);
    char *schema_json = NULL, *prep_json = NULL, *image = NULL;
    ssize_t image_len = -1;
    hf_array *prep_arrays = NULL;
    size_t n_prep = 0;
    const char **names = NULL;
    hid_t file = -1, g = -1, fcpl = -1, fapl = -1;
    hf_fitted blobs = {0}; /* blobs serialised here from the model's state */
    const hf_blob *blob = NULL;
    size_t n_blobs = 0;
    if (!tmp)
        return HF_ENOMEM;
    if (!(schema_json = hf_schema_json_to_text(schema))) {
        result = hf_error_code() ? hf_error_code() : HF_ENOMEM;
        goto out;
    }
    if ((result = hf_prep_export(prep, &prep_arrays, &n_prep, &prep_json)) < 0)
        goto out;
    fcpl = H5Pcreate(H5P_FILE_CREATE);
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fcpl >= 0 && fapl >= 0 && H5Pset_userblock(fcpl, USERBLOCK) >= 0 &&
        H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) >= 0)
        file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl);
    if (file < 0) {
        result = h5fail("creating the file", tmp);
        goto out;
    }
    char created[32];
    iso_now(created, sizeof created);
    if ((result = attr_str(file, "format", FORMAT_NAME, path)) < 0 ||
        (result = attr_f64(file, "format_version", FORMAT_VERSION, path)) < 0 ||
        (result = attr_str(file, "hyperfold_version", HF_VERSION, path)) < 0 ||
        (result = attr_str(file, "model_type", fitted->ops->name, path)) < 0 ||
        (result = attr_str(file, "task", hf_task_name(schema->task), path)) < 0 ||
        (result = attr_str(file, "created", created, path)) < 0 ||
        (result = attr_str(file, "spec_sha256", meta->spec_sha256, path)) < 0 ||
        (result = attr_str(file, "source_fingerprint", meta->source_fingerprint, path)) < 0 ||
        (result = attr_str(file, "metric", meta->metric, path)) < 0 ||
        (result = attr_f64(file, "cv_score", meta->cv_score, path)) < 0 ||
        (result = attr_f64(file, "cv_std", meta->cv_std, path)) < 0 ||
        (result = attr_f64(file, "n_train_rows", (double)meta->n_train_rows, path)) < 0 ||
        (result = attr_str(file, "params_json", meta->params_json, path)) < 0 ||
        (result = attr_str(file, "schema_json", schema_json, path)) < 0 ||
        (result = attr_str(file, "preprocess_json", prep_json, path)) < 0)
        goto out;
    if ((result = write_arrays(file, "model", fitted->arrays, fitted->n_arrays, path)) < 0 ||
        (result = model_blobs(fitted, &blobs, &blob, &n_blobs)) < 0 ||
        (result = write_blobs(file, blob, n_blobs, path)) < 0 ||
        (result = write_arrays(file, "preprocess", prep_arrays, n_prep, path)) < 0)
        goto out;
    names = hf_calloc(schema->n_features ? schema->n_features : 1, sizeof *names);
    if (!names) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < schema->n_features; i++)
        names[i] = schema->features[i].name;
    if ((result = write_strings(file, "features", names, schema->n_features, path)) < 0)
        goto out;
    if ((result = write_strings(file, "design_features", hf_prep_output_names(prep),
                                hf_prep_n_outputs(prep), path)) < 0)
        goto out;
    if (schema->task == HF_TASK_CLASSIFICATION &&
        (result = write_strings(file, "classes", (const char *const *)schema->classes,
                                schema->n_classes, path)) < 0)
        goto out;
    g = H5Gcreate2(file, "cv", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0 ||
        (result = write_matrix(g, "fold_scores", meta->fold_scores, meta->n_folds, 1, path)) < 0) {
        if (result >= 0)
            result = h5fail("writing /cv", path);
        goto out;
    }
out:
    if (g >= 0 && H5Gclose(g) < 0 && result >= 0)
        result = h5fail("closing /cv", tmp);
    if (file >= 0 && result >= 0 && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        result = h5fail("flushing the file", tmp);
    if (file >= 0 && result >= 0 && (image_len = H5Fget_file_image(file, NULL, 0)) <= 0)
        result = h5fail("sizing the file image", tmp);
    /* The core driver's image starts at the superblock: the user block (the checksum) goes
     * before it. */
    if (result >= 0 && !(image = hf_calloc((size_t)image_len + USERBLOCK, 1)))
        result = HF_ENOMEM;
    if (result >= 0 && H5Fget_file_image(file, image + USERBLOCK, (size_t)image_len) != image_len)
        result = h5fail("copying the file image", tmp);
    image_len += USERBLOCK;
    if (file >= 0 && H5Fclose(file) < 0 && result >= 0)
        result = h5fail("closing the file", tmp);
    if (fcpl >= 0)
        H5Pclose(fcpl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (result >= 0)
        result = stamp_image(image, (size_t)image_len);
    if (result >= 0)
        result = hf_fs_write_atomic(path, image, (size_t)image_len);
    free(image);
    free(tmp);
    free(names);
    free(schema_json);
    free(prep_json);
    hf_prep_export_free(prep_arrays, n_prep, NULL);
    blobs.state = NULL;
    for (size_t i = 0; i < blobs.n_blobs; i++) {
        free(blobs.blobs[i].name);
        free(blobs.blobs[i].format);
        free(blobs.blobs[i].data);
    }
    free(blobs.blobs);
    return result;
}

/* libhdf5 prints its error stack (20 to 60 lines) on stderr by default; a model's read or write
 * reports one line of its own instead. */
typedef struct h5_quiet {
    H5E_auto2_t func;
    void *data;
} h5_quiet;

static h5_quiet h5_quiet_begin(void)
{
    h5_quiet q = {NULL, NULL};
    H5Eget_auto2(H5E_DEFAULT, &q.func, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}

static void h5_quiet_end(h5_quiet q)
{
    H5Eset_auto2(H5E_DEFAULT, q.func, q.data);
}

int hf_modelfile_write(const char *path, const hf_schema *schema, const hf_prep *prep,
                       const hf_fitted *fitted, const hf_modelfile_meta *meta)
{
    h5_quiet q = h5_quiet_begin();
    int result = write_model(path, schema, prep, fitted, meta);
    h5_quiet_end(q);
    return result;
}

/* ---- reading ------------------------------------------------------------------------------ */

/* How the strings of the file being read are stored: fixed-length strings, bounded before they
 * are read, in every format; variable-length ones (the global heap) only in format_version 1 and
 * 2, whose heap check_global_heaps walked before libhdf5 opened the file. */
typedef struct reader {
    const char *path;
    int version; /* the file's format_version; 0 while unknown */
    hsize_t file_size;
} reader;

/* 1 if the attribute holds exactly one value (a scalar, or an array of one) of the class. H5Aread
 * writes every element of the attribute: one of several values read into a single variable
 * overflowed it. */
static int one_value(hid_t a, H5T_class_t cls)
{
    hid_t space = H5Aget_space(a), type = H5Aget_type(a);
    H5T_class_t c = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    int ok = space >= 0 && H5Sget_simple_extent_npoints(space) == 1 &&
             (c == cls || (cls == H5T_FLOAT && c == H5T_INTEGER));
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return ok;
}

/* A variable-length string attribute (format_version 1 and 2 only); NULL if it cannot be read. */
static char *read_vlen_str(hid_t a)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    char *v = NULL, *copy = NULL;
    if (H5Aread(a, type, &v) >= 0 && v) {
        copy = hf_strdup(v);
        H5free_memory(v);
    }
    H5Tclose(type);
    return copy;
}

/* A fixed-length string attribute, its size bounded before anything is allocated or read: at most
 * MAX_STRING and the file's size, and exactly the bytes libhdf5 holds for it. NUL padding is
 * removed; a NUL byte followed by anything else is damage. HF_EINVAL with the message. */
static int read_fixed_str(hid_t a, int dataset, hid_t ftype, const char *what, const reader *rd,
                          char **out)
{
    size_t size = H5Tget_size(ftype);
    H5T_cset_t cset = H5Tget_cset(ftype);
    hsize_t stored = dataset ? H5Dget_storage_size(a) : H5Aget_storage_size(a);
    if (size == 0 || size > MAX_STRING || size > rd->file_size || stored != size)
        return hf_error(HF_EINVAL,
                        "%s: damaged model: attribute %s declares a string of %zu bytes with %llu "
                        "stored (a file of %llu bytes), expected at most %llu bytes, all stored",
                        rd->path, what, size, (unsigned long long)stored,
                        (unsigned long long)rd->file_size, (unsigned long long)MAX_STRING);
    if (cset != H5T_CSET_UTF8 && cset != H5T_CSET_ASCII)
        return hf_error(HF_EINVAL,
                        "%s: damaged model: attribute %s has character set %d, expected UTF-8",
                        rd->path, what, (int)cset);
    char *buf = hf_malloc(size + 1);
    hid_t mtype = buf ? H5Tcopy(H5T_C_S1) : H5I_INVALID_HID;
    int result = buf ? HF_OK : HF_ENOMEM;
    if (result >= 0 && (mtype < 0 || H5Tset_size(mtype, size) < 0 ||
                        H5Tset_strpad(mtype, H5T_STR_NULLPAD) < 0 || H5Tset_cset(mtype, cset) < 0 ||
                        (dataset ? H5Dread(a, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf)
                                 : H5Aread(a, mtype, buf)) < 0))
        result =
            hf_error(HF_EINVAL, "%s: damaged model: attribute %s cannot be read", rd->path, what);
    if (mtype >= 0)
        H5Tclose(mtype);
    if (result >= 0) {
        buf[size] = 0;
        size_t len = strlen(buf);
        for (size_t i = len; i < size; i++)
            if (buf[i] != 0) {
                result = hf_error(HF_EINVAL,
                                  "%s: damaged model: attribute %s has a NUL byte at byte %zu of "
                                  "its %zu, expected NUL bytes only as padding at its end",
                                  rd->path, what, len, size);
                break;
            }
    }
    if (result < 0) {
        free(buf);
        return result;
    }
    *out = buf;
    return HF_OK;
}

/* A format 3 string longer than BIG_STRING: the scalar dataset strings/NAME of obj, read with the
 * bounds of read_fixed_str; *out stays NULL when there is none. */
static int read_big_str(hid_t obj, const char *name, const char *what, const reader *rd, char **out)
{
    if (H5Lexists(obj, BIG_STRINGS_GROUP, H5P_DEFAULT) <= 0)
        return HF_OK;
    hid_t g = H5Gopen2(obj, BIG_STRINGS_GROUP, H5P_DEFAULT);
    htri_t exists = g >= 0 ? H5Lexists(g, name, H5P_DEFAULT) : -1;
    hid_t d = exists > 0 ? H5Dopen2(g, name, H5P_DEFAULT) : H5I_INVALID_HID;
    hid_t space = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
    hid_t ftype = d >= 0 ? H5Dget_type(d) : H5I_INVALID_HID;
    int result = HF_OK;
    if (exists != 0 && (space < 0 || ftype < 0 || H5Sget_simple_extent_npoints(space) != 1 ||
                        H5Tget_class(ftype) != H5T_STRING || H5Tis_variable_str(ftype) != 0))
        result = hf_error(HF_EINVAL, "%s: damaged model: %s/%s is not one fixed-length string",
                          rd->path, BIG_STRINGS_GROUP, what);
    else if (exists > 0)
        result = read_fixed_str(d, 1, ftype, what, rd, out);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (space >= 0)
        H5Sclose(space);
    if (d >= 0)
        H5Dclose(d);
    if (g >= 0)
        H5Gclose(g);
    return result;
}

/* The string attribute `name` of obj (`what` names it in messages) into *out, NULL if the object
 * has no such attribute. An attribute that is not one string is absent for format_version 1 and 2
 * (as before format 3); in format 3 it is damage, and so is a variable-length string there. */
static int read_attr_str(hid_t obj, const char *name, const char *what, const reader *rd,
                         char **out)
{
    *out = NULL;
    htri_t exists = H5Aexists(obj, name);
    if (exists == 0)
        return rd->version >= 3 ? read_big_str(obj, name, what, rd, out) : HF_OK;
    if (exists < 0) /* libhdf5 refused an attribute message of the object: one, or this one */
        return hf_error(
            HF_EINVAL,
            "%s: damaged model: attribute %s cannot be read (an attribute of its object "
            "does not decode)",
            rd->path, what);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return rd->version >= 3
                   ? hf_error(HF_EINVAL, "%s: damaged model: attribute %s cannot be opened",
                              rd->path, what)
                   : HF_OK;
    hid_t ftype = H5Aget_type(a);
    int result = HF_OK;
    if (!one_value(a, H5T_STRING) || ftype < 0) {
        if (rd->version >= 3)
            result = hf_error(HF_EINVAL, "%s: damaged model: attribute %s is not one string",
                              rd->path, what);
    } else if (H5Tis_variable_str(ftype) > 0) {
        if (rd->version == 1 || rd->version == 2)
            *out = read_vlen_str(a);
        else
            result = hf_error(HF_EINVAL,
                              "%s: damaged model: attribute %s is a variable-length string, "
                              "expected a fixed-length one (format_version %d)",
                              rd->path, what, rd->version ? rd->version : FORMAT_VERSION);
    } else {
        result = read_fixed_str(a, 0, ftype, what, rd, out);
    }
    if (ftype >= 0)
        H5Tclose(ftype);
    H5Aclose(a);
    return result;
}

static double read_attr_f64(hid_t obj, const char *name)
{
    double v = 0;
    if (H5Aexists(obj, name) <= 0)
        return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a >= 0) {
        /* An attribute that cannot be read as one number counts as absent. */
        if (!one_value(a, H5T_FLOAT) || H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0)
            v = NAN;
        H5Aclose(a);
    }
    return v;
}

typedef struct array_list {
    hf_array *a;
    size_t n, cap;
    const char *path;
    const char *group;
    int failed; /* 1 out of memory, 2 an HDF5 read failed, 3 an array unlike those written */
} array_list;

static herr_t collect_array(hid_t g, const char *name, const H5L_info_t *info, void *arg)
{
    (void)info;
    array_list *l = arg;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0)
        return 0;
    hid_t space = H5Dget_space(d);
    hsize_t dims[2] = {0, 1};
    int nd = H5Sget_simple_extent_ndims(space);
    if (nd < 1 || nd > 2) {
        H5Sclose(space);
        H5Dclose(d);
        return 0;
    }
    H5Sget_simple_extent_dims(space, dims, NULL);
    if (nd == 1)
        dims[1] = 1;
    /* Only numbers, and only as many as the file holds: the shape comes from the file, and a
     * dataset that was never written reads as fill values, so a shape of 2^40 rows asked for
     * 8 TiB (and one whose byte count overflows size_t, a buffer too small for H5Dread). */
    hid_t ftype = H5Dget_type(d);
    H5T_class_t cls = ftype >= 0 ? H5Tget_class(ftype) : H5T_NO_CLASS;
    size_t esize = ftype >= 0 ? H5Tget_size(ftype) : 0;
    if (ftype >= 0)
        H5Tclose(ftype);
    int numbers = (cls == H5T_FLOAT || cls == H5T_INTEGER) && esize > 0;
    int too_big = dims[1] > 0 && dims[0] > SIZE_MAX / sizeof(double) / dims[1];
    hsize_t stored = H5Dget_storage_size(d);
    if (!numbers || too_big || (dims[0] * dims[1] > 0 && stored / esize < dims[0] * dims[1])) {
        if (!numbers)
            hf_error(HF_EINVAL, "%s: /%s/%s: got a dataset of non-numbers, expected float64",
                     l->path, l->group, name);
        else
            hf_error(HF_EINVAL,
                     "%s: /%s/%s: got a %llu x %llu array with %llu bytes stored, expected "
                     "every value stored",
                     l->path, l->group, name, (unsigned long long)dims[0],
                     (unsigned long long)dims[1], (unsigned long long)stored);
        l->failed = 3;
        H5Sclose(space);
        H5Dclose(d);
        return -1;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        hf_array *na = hf_realloc(l->a, cap * sizeof *na);
        if (!na) {
            l->failed = 1;
            H5Sclose(space);
            H5Dclose(d);
            return -1;
        }
        l->a = na;
        l->cap = cap;
    }
    hf_array *a = &l->a[l->n];
    a->name = hf_strdup(name);
    a->rows = dims[0];
    a->cols = dims[1];
    a->data = hf_malloc((a->rows * a->cols > 0 ? a->rows * a->cols : 1) * sizeof(double));
    if (!a->name || !a->data) {
        free(a->name);
        free(a->data);
        l->failed = 1;
        H5Sclose(space);
        H5Dclose(d);
        return -1;
    }
    if (a->rows * a->cols > 0 &&
        H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->data) < 0) {
        free(a->name);
        free(a->data);
        l->failed = 2;
        H5Sclose(space);
        H5Dclose(d);
        return -1;
    }
    l->n++;
    H5Sclose(space);
    H5Dclose(d);
    return 0;
}

/* The largest blob read: a booster of 10^5 trees of depth 10 in JSON is about 4 GiB; larger is
 * not a file hyperfold wrote. */
#define MAX_BLOB ((hsize_t)8 << 30)

typedef struct blob_list {
    hf_fitted *m;
    const char *path;
    const reader *rd;
    int failed; /* as array_list's */
} blob_list;

static herr_t collect_blob(hid_t g, const char *name, const H5L_info_t *info, void *arg)
{
    (void)info;
    blob_list *l = arg;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0)
        return 0;
    hid_t space = H5Dget_space(d), ftype = H5Dget_type(d);
    hsize_t len = 0;
    int ok = space >= 0 && ftype >= 0 && H5Sget_simple_extent_ndims(space) == 1 &&
             H5Sget_simple_extent_dims(space, &len, NULL) == 1 &&
             H5Tget_class(ftype) == H5T_INTEGER && H5Tget_size(ftype) == 1 && len <= MAX_BLOB &&
             H5Dget_storage_size(d) >= len;
    char *format = NULL, what[300];
    snprintf(what, sizeof what, "format of /model_blobs/%.200s", name);
    int st = ok ? read_attr_str(d, "format", what, l->rd, &format) : HF_OK;
    unsigned char *data = ok && format ? hf_malloc(len ? (size_t)len : 1) : NULL;
    if (st < 0) {
        l->failed = 3;
    } else if (!ok || !format) {
        hf_error(HF_EINVAL,
                 "%s: /model_blobs/%s: got a dataset that is not bytes with a format, expected a "
                 "serialised model",
                 l->path, name);
        l->failed = 3;
    } else if (!data) {
        l->failed = 1;
    } else if (len && H5Dread(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        l->failed = 2;
    } else if (hf_fitted_add_blob(l->m, name, format, data, (size_t)len) < 0) {
        l->failed = 1;
    }
    free(format);
    free(data);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(d);
    return l->failed ? -1 : 0;
}

/* /model_blobs into m's blobs, then m's state rebuilt from them (ops->load_state). */
static int read_blobs(hid_t file, const reader *rd, hf_fitted *m)
{
    const char *path = rd->path;
    if (H5Lexists(file, "model_blobs", H5P_DEFAULT) > 0) {
        blob_list l = {.m = m, .path = path, .rd = rd};
        hid_t g = H5Gopen2(file, "model_blobs", H5P_DEFAULT);
        if (g < 0)
            return h5fail("model_blobs", path);
        herr_t st = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_blob, &l);
        H5Gclose(g);
        if (st < 0 || l.failed)
            return l.failed == 1   ? HF_ENOMEM
                   : l.failed == 3 ? HF_EINVAL
                                   : h5fail("model_blobs", path);
    }
    if (m->ops->load_state) {
        int result = m->ops->load_state(m);
        return result < 0 ? hf_error_prefix(result, "%s", path) : HF_OK;
    }
    return HF_OK;
}

static int read_arrays(hid_t file, const char *group, const char *path, hf_array **out, size_t *n)
{
    array_list l = {.path = path, .group = group};
    *out = NULL;
    *n = 0;
    if (H5Lexists(file, group, H5P_DEFAULT) <= 0)
        return HF_OK;
    hid_t g = H5Gopen2(file, group, H5P_DEFAULT);
    if (g < 0)
        return h5fail(group, path);
    herr_t result = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_array, &l);
    H5Gclose(g);
    if (result < 0 || l.failed) {
        for (size_t i = 0; i < l.n; i++) {
            free(l.a[i].name);
            free(l.a[i].data);
        }
        free(l.a);
        return l.failed == 1 ? HF_ENOMEM : l.failed == 3 ? HF_EINVAL : h5fail(group, path);
    }
    *out = l.a;
    *n = l.n;
    return HF_OK;
}

void hf_modelfile_free(hf_modelfile *m)
{
    if (!m)
        return;
    free(m->model_type);
    hf_schema_free(m->schema);
    hf_prep_free(m->prep);
    hf_fitted_free(m->fitted);
    free(m->params_json);
    free(m->spec_sha256);
    free(m->source_fingerprint);
    free(m->metric);
    free(m);
}

/* Little-endian unsigned integer of n bytes. */
static uint64_t le(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* The global heap collections of a file, checked before libhdf5 reads it.
 *
 * The variable-length string attributes of model.h5 live in global heap collections, and libhdf5
 * 1.10 (Debian 12) trusts the sizes in them: in a damaged file it copied an object of 2^62 bytes,
 * allocated a collection of exabytes, or looped forever on an object of size 0 (found by
 * tests/fuzz fuzz_model_h5; every such crash and hang of that harness was there). So every
 * collection in the file (signature "GCOL", version 1: HDF5 file format, "Global Heap") is walked
 * as libhdf5 walks it (H5HG__cache_heap_deserialize), and a file whose collection does not hold
 * its objects exactly is refused. Returns HF_OK, or HF_EINVAL with the message. */
static int check_global_heaps(const char *path)
{
    int result = HF_OK;
    struct stat st;
    int fd = open(path, O_RDONLY);
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 16) {
        if (fd >= 0)
            close(fd);
        return HF_OK; /* H5Fopen reports it */
    }
    size_t size = (size_t)st.st_size;
    const unsigned char *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return HF_OK;
    /* The size of lengths from the superblock (at 0, 512, 1024, ...: after a user block). */
    size_t L = 0;
    for (size_t at = 0; at + 16 <= size && !L; at = at ? 2 * at : 512)
        if (memcmp(m + at, k_hdf5_sig, 8) == 0)
            L = m[at + 8] < 2 ? m[at + 14] : m[at + 10];
    if (L != 2 && L != 4 && L != 8)
        goto out;             /* not HDF5, or lengths libhdf5 will refuse itself */
    const size_t hdr = 8 + L; /* the collection's header, and each object's */
    const unsigned char *end = m + size;
    for (const unsigned char *p = memmem(m, size, "GCOL", 4); p && result == HF_OK;
         p = memmem(p + 1, (size_t)(end - p - 1), "GCOL", 4)) {
        if ((size_t)(end - p) < hdr || p[4] != 1)
            continue; /* not a collection libhdf5 accepts as one */
        uint64_t csize = le(p + 8, L), q = hdr;
        if (csize < hdr || csize > (uint64_t)(end - p)) {
            result = hf_error(HF_EINVAL,
                              "%s: damaged file: a global heap collection at byte %zu claims "
                              "%llu bytes, the file has %zu after it",
                              path, (size_t)(p - m), (unsigned long long)csize, (size_t)(end - p));
            break;
        }
        while (q + hdr <= csize) {
            uint64_t idx = le(p + q, 2), osize = le(p + q + 8, L);
            uint64_t need = idx > 0 && osize <= csize ? hdr + (osize + 7) / 8 * 8 : osize;
            if (need == 0 || need > csize - q || (idx > 0 && osize > csize)) {
                result = hf_error(HF_EINVAL,
                                  "%s: damaged file: global heap object %llu at byte %zu claims "
                                  "%llu bytes, its collection has %llu left",
                                  path, (unsigned long long)idx, (size_t)(p - m + q),
                                  (unsigned long long)osize, (unsigned long long)(csize - q));
                break;
            }
            q += need;
        }
    }
out:
    munmap((void *)m, size);
    return result;
}

/* The format_version attribute: 1 (no checksum), 2 (the checksum block) or 3 (and fixed-length
 * strings), else HF_EINVAL. */
static int check_version(double v, const char *path, int stamped)
{
    if (!(v >= 1 && v <= (double)INT32_MAX && v == floor(v)))
        return hf_error(
            HF_EINVAL,
            "%s: damaged model: format_version is %.17g, expected a whole number from 1 "
            "to %d",
            path, v, FORMAT_VERSION);
    if (v > FORMAT_VERSION)
        return hf_error(HF_EINVAL,
                        "%s: model format version %d is newer than this hyperfold reads (%d)", path,
                        (int)v, FORMAT_VERSION);
    if (v >= 2 && !stamped)
        return hf_error(HF_EINVAL,
                        "%s: damaged model: format_version %d files begin with a content checksum, "
                        "this file has none",
                        path, (int)v);
    return HF_OK;
}

static int read_model(const char *path, hf_modelfile **out)
{
    int result = HF_OK, stamped = 0;
    hf_modelfile *m = hf_calloc(1, sizeof *m);
    hf_array *prep_arrays = NULL, *model_arrays = NULL;
    size_t n_prep = 0, n_model = 0;
    char *format = NULL, *schema_json = NULL, *prep_json = NULL;
    hid_t file = -1;
    *out = NULL;
    if (!m)
        return HF_ENOMEM;
    if (!hf_fs_exists(path)) {
        result = hf_error(HF_EINVAL, "--model %s: no such file", path);
        goto out;
    }
    if ((result = verify_stamp(path, &stamped)) < 0 || (result = check_global_heaps(path)) < 0)
        goto out;
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        result = hf_error(HF_EINVAL, "%s: not an HDF5 file", path);
        goto out;
    }
    /* The version decides how strings are read, the format attribute (a string) included: a
     * variable-length string only where format_version is 1 or 2. */
    double version = read_attr_f64(file, "format_version");
    reader rd = {.path = path, .version = version == 1 || version == 2 ? (int)version : 0};
    struct stat st;
    rd.file_size = stat(path, &st) == 0 ? (hsize_t)st.st_size : 0;
    int numbered = version >= 1 && version <= (double)INT32_MAX && version == floor(version);
    if ((result = read_attr_str(file, "format", "format", &rd, &format)) < 0 && !numbered &&
        H5Aexists(file, "format") >= 0) {
        hf_error_clear(); /* an HDF5 file of another program, as likely as a damaged model */
        result = hf_error(HF_EINVAL,
                          "%s: not a hyperfold model (attribute format is not a string of at most "
                          "%llu bytes)",
                          path, (unsigned long long)MAX_STRING);
    }
    if (result < 0)
        goto out;
    if (!format || strcmp(format, FORMAT_NAME) != 0) {
        result = hf_error(HF_EINVAL, "%s: not a hyperfold model (attribute format is \"%s\")", path,
                          format ? format : "");
        goto out;
    }
    if ((result = check_version(version, path, stamped)) < 0)
        goto out;
    rd.version = (int)version;
    if ((result = read_attr_str(file, "model_type", "model_type", &rd, &m->model_type)) < 0 ||
        (result = read_attr_str(file, "params_json", "params_json", &rd, &m->params_json)) < 0 ||
        (result = read_attr_str(file, "spec_sha256", "spec_sha256", &rd, &m->spec_sha256)) < 0 ||
        (result = read_attr_str(file, "source_fingerprint", "source_fingerprint", &rd,
                                &m->source_fingerprint)) < 0 ||
        (result = read_attr_str(file, "metric", "metric", &rd, &m->metric)) < 0 ||
        (result = read_attr_str(file, "schema_json", "schema_json", &rd, &schema_json)) < 0 ||
        (result = read_attr_str(file, "preprocess_json", "preprocess_json", &rd, &prep_json)) < 0)
        goto out;
    m->cv_score = read_attr_f64(file, "cv_score");
    m->n_train_rows = read_attr_f64(file, "n_train_rows");
    const hf_model_ops *ops = m->model_type ? hf_model_find(m->model_type) : NULL;
    if (!ops) {
        result = hf_error(HF_EINVAL, "%s: unknown model type \"%s\"", path,
                          m->model_type ? m->model_type : "");
        goto out;
    }
    if (!schema_json || (result = hf_schema_json_from_text(schema_json, &m->schema)) < 0) {
        result = result < 0 ? hf_error_prefix(result, "%s: schema_json", path)
                            : hf_error(HF_EINVAL, "%s: no schema_json attribute", path);
        goto out;
    }
    if ((result = read_arrays(file, "preprocess", path, &prep_arrays, &n_prep)) < 0)
        goto out;
    if ((result = hf_prep_import(m->schema, prep_arrays, n_prep, prep_json ? prep_json : "{}",
                                 &m->prep)) < 0) {
        result = hf_error_prefix(result, "%s", path);
        goto out;
    }
    if ((result = read_arrays(file, "model", path, &model_arrays, &n_model)) < 0)
        goto out;
    if ((m->schema->task != HF_TASK_REGRESSION && m->schema->task != HF_TASK_CLASSIFICATION) ||
        !(ops->tasks & (1u << m->schema->task))) {
        result = hf_error(HF_EDATA, "%s: model %s does not support the task of its schema (%s)",
                          path, ops->name, hf_task_name(m->schema->task));
        goto out;
    }
    size_t n_outputs = m->schema->task == HF_TASK_CLASSIFICATION ? m->schema->n_classes : (size_t)1;
    m->fitted = hf_fitted_new(ops, hf_prep_n_outputs(m->prep), n_outputs, 0);
    if (!m->fitted) {
        result = HF_ENOMEM;
        goto out;
    }
    m->fitted->arrays = model_arrays;
    m->fitted->n_arrays = n_model;
    model_arrays = NULL;
    if ((result = read_blobs(file, &rd, m->fitted)) < 0)
        goto out;
    *out = m;
    m = NULL;
out:
    if (file >= 0)
        H5Fclose(file);
    if (prep_arrays) {
        for (size_t i = 0; i < n_prep; i++) {
            free(prep_arrays[i].name);
            free(prep_arrays[i].data);
        }
        free(prep_arrays);
    }
    if (model_arrays) {
        for (size_t i = 0; i < n_model; i++) {
            free(model_arrays[i].name);
            free(model_arrays[i].data);
        }
        free(model_arrays);
    }
    free(format);
    free(schema_json);
    free(prep_json);
    hf_modelfile_free(m);
    return result;
}

int hf_modelfile_read(const char *path, hf_modelfile **out)
{
    h5_quiet q = h5_quiet_begin();
    int result = read_model(path, out);
    h5_quiet_end(q);
    return result;
}

/* ---- models by URI ------------------------------------------------------------------------ */

static int is_remote(const char *uri)
{
    return strncmp(uri, "s3://", 5) == 0 || strncmp(uri, "http://", 7) == 0 ||
           strncmp(uri, "https://", 8) == 0;
}

/* Reads a whole remote object into memory (rank 0 only). */
static int fetch_bytes(const char *uri, const hf_source_opts *opts, char **data, size_t *len)
{
    hf_source *src = NULL;
    *data = NULL;
    *len = 0;
    int result = hf_source_open(uri, opts, &src);
    if (result < 0)
        return result;
    size_t n = (size_t)src->size;
    char *buf = hf_malloc(n ? n : 1);
    result = buf ? HF_OK : HF_ENOMEM;
    for (size_t off = 0; result >= 0 && off < n;) {
        size_t got = 0;
        result = hf_source_read_at(src, off, buf + off, n - off, &got);
        if (result >= 0 && got == 0)
            result = hf_error(HF_ENET, "%s: no data at byte %zu of %zu (the object changed?)", uri,
                              off, n);
        off += got;
    }
    hf_source_close(src);
    if (result < 0) {
        free(buf);
        return result;
    }
    *data = buf;
    *len = n;
    return HF_OK;
}

/* The pending message of a failure with `status`, with every `from` in it replaced by `to` (a
 * temporary path by the URI; a URI by its redacted form, hf_source_display). */
static void message_rename(int status, const char *from, const char *to)
{
    const char *msg = hf_error_message();
    if (!from || !to || !*from || strcmp(from, to) == 0 || !strstr(msg, from))
        return;
    char *fixed = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&fixed, &len);
    if (!fp)
        return;
    for (const char *at; (at = strstr(msg, from)) != NULL; msg = at + strlen(from)) {
        fwrite(msg, 1, (size_t)(at - msg), fp);
        fputs(to, fp);
    }
    fputs(msg, fp);
    if (fclose(fp) == 0 && fixed) {
        hf_error_clear();
        hf_error(status, "%s", fixed);
    }
    free(fixed);
}

/* hf_modelfile_read of bytes through a private temporary file; messages name `uri`. */
static int read_bytes(const char *uri, const char *data, size_t len, hf_modelfile **out)
{
    const char *tmpdir = getenv("TMPDIR");
    char *dir = hf_asprintf("%s/hf_model_XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    char *path = NULL;
    int result = dir ? HF_OK : HF_ENOMEM;
    if (result >= 0 && !mkdtemp(dir))
        result =
            hf_error(HF_EIO, "creating a temporary directory for %s: %s", uri, hf_strerror(errno));
    else if (result >= 0) {
        path = hf_asprintf("%s/model.h5", dir);
        result = path ? hf_fs_write_private(path, data, len) : HF_ENOMEM;
        if (result >= 0)
            result = hf_modelfile_read(path, out);
        if (result < 0 && path)
            message_rename(result, path, uri); /* name the URI, not the temporary file */
        if (path)
            unlink(path);
        rmdir(dir);
    }
    free(path);
    free(dir);
    return result;
}

/* hf_comm_check, or the status itself for a process alone (comm NULL: serve, without MPI). */
static int agree(hf_comm *comm, int status)
{
    return comm ? hf_comm_check(comm, status) : status;
}

int hf_modelfile_read_uri(hf_comm *comm, const char *uri, const hf_source_opts *opts,
                          hf_modelfile **out)
{
    *out = NULL;
    int remote = is_remote(uri);
    size_t n = strlen(uri);
    char *target = NULL;
    if (remote)
        target = n && uri[n - 1] == '/' ? hf_asprintf("%smodel.h5", uri) : hf_strdup(uri);
    else
        target = hf_source_is_prefix(uri)
                     ? hf_asprintf("%s%smodel.h5", uri, n && uri[n - 1] == '/' ? "" : "/")
                     : hf_strdup(uri);
    if (!target)
        return agree(comm, HF_ENOMEM);
    int result;
    if (!remote) {
        result = agree(comm, hf_modelfile_read(target, out));
        goto out;
    }
    /* One GET by rank 0, its bytes broadcast: one request (and audit line) per model whatever
     * the number of ranks, and every rank reads the same bytes even if the object changes.
     * Messages name the URI as it may be printed (no user-info or signed query). */
    char *data = NULL, *shown = hf_source_display(target);
    size_t len = 0;
    result = shown ? HF_OK : HF_ENOMEM;
    if (result >= 0 && (!comm || hf_comm_rank(comm) == 0)) {
        result = fetch_bytes(target, opts, &data, &len);
        if (result < 0)
            message_rename(result, target, shown);
    }
    result = agree(comm, result);
    if (result >= 0 && comm)
        result = hf_comm_bcast_blob(comm, &data, &len, 0);
    if (result >= 0)
        result = agree(comm, read_bytes(shown, data, len, out));
    free(data);
    free(shown);
out:
    if (result < 0) {
        hf_modelfile_free(*out);
        *out = NULL;
    }
    free(target);
    return result;
}
