/* partition.c - HDF5 shard files and manifest.json (layout documented in partition.h). */
#include "shards/partition.h"
#include "shards/schema_json.h"
#include "common/fsutil.h"
#include "common/hf.h"

#include <hdf5.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define CHUNK_BYTES ((size_t)1 << 20)

void hf_manifest_free(hf_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_sources; i++) {
        free(m->sources ? m->sources[i] : NULL);
        free(m->fingerprints ? m->fingerprints[i] : NULL);
    }
    free(m->sources);
    free(m->fingerprints);
    hf_schema_free(m->schema);
    for (size_t i = 0; m->shards && i < m->n_shards; i++)
        free(m->shards[i].file);
    free(m->shards);
    free(m->fingerprint_text);
    free(m);
}

const hf_schema *hf_manifest_schema(const hf_manifest *m)
{
    return m->schema;
}

int64_t hf_manifest_n_rows(const hf_manifest *m)
{
    return m->n_rows;
}

const char *hf_manifest_fingerprint(const hf_manifest *m)
{
    return m->fingerprint_text ? m->fingerprint_text : "";
}

int64_t hf_manifest_rejected(const hf_manifest *m)
{
    return m->n_rejected;
}

char *hf_manifest_path(const char *dir)
{
    return hf_asprintf("%s/manifest.json", dir);
}

char *hf_shard_name(size_t index)
{
    return hf_asprintf("part-%05zu.h5", index);
}

char *hf_shard_path(const char *dir, size_t index)
{
    return hf_asprintf("%s/part-%05zu.h5", dir, index);
}

char *hf_shard_tmp_path(const char *dir, size_t index)
{
    return hf_asprintf("%s/.tmp-part-%05zu.h5", dir, index);
}

int hf_shard_is_layout_file(const char *name)
{
    return strncmp(name, "part-", 5) == 0 || strcmp(name, "manifest.json") == 0;
}

char *hf_manifest_to_json(const hf_manifest *m)
{
    json_t *root = json_object();
    json_t *src = json_array();
    json_t *shards = json_array();
    json_t *schema = hf_schema_json_encode(m->schema);
    char *text = NULL;
    int fail = !root || !src || !shards || !schema;
    for (size_t i = 0; !fail && i < m->n_sources; i++) {
        json_t *o = json_object();
        fail |= !o || json_array_append_new(src, o) != 0;
        if (!fail) {
            fail |= json_object_set_new(o, "uri", json_string(m->sources[i])) != 0;
            fail |= json_object_set_new(o, "fingerprint", json_string(m->fingerprints[i])) != 0;
        }
    }
    for (size_t i = 0; !fail && i < m->n_shards; i++) {
        json_t *o = json_object();
        fail |= !o || json_array_append_new(shards, o) != 0;
        if (!fail) {
            fail |= json_object_set_new(o, "file", json_string(m->shards[i].file)) != 0;
            fail |= json_object_set_new(o, "rows", json_integer(m->shards[i].rows)) != 0;
            fail |= json_object_set_new(o, "first_row", json_integer(m->shards[i].first_row)) != 0;
            fail |= json_object_set_new(o, "sha256", json_string(m->shards[i].sha256)) != 0;
        }
    }
    if (!fail) {
        fail |= json_object_set_new(root, "format_version", json_integer(m->version)) != 0;
        fail |= json_object_set_new(root, "sources", src) != 0;
        src = NULL;
        fail |= json_object_set_new(root, "spec_hash", json_string(m->spec_hash)) != 0;
        fail |= json_object_set_new(root, "schema", schema) != 0;
        schema = NULL;
        fail |= json_object_set_new(root, "n_rows", json_integer(m->n_rows)) != 0;
        fail |= json_object_set_new(root, "rejected_rows", json_integer(m->n_rejected)) != 0;
        fail |= json_object_set_new(root, "has_fold", json_boolean(m->has_fold)) != 0;
        fail |= json_object_set_new(root, "has_group", json_boolean(m->has_group)) != 0;
        fail |= json_object_set_new(root, "has_order", json_boolean(m->has_order)) != 0;
        fail |= json_object_set_new(root, "shards", shards) != 0;
        shards = NULL;
    }
    if (!fail)
        text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text)
        hf_error(HF_ENOMEM, "out of memory serialising manifest.json");
    json_decref(root);
    json_decref(src);
    json_decref(shards);
    json_decref(schema);
    return text;
}

static int set_fingerprint_text(hf_manifest *m)
{
    size_t n = 1;
    for (size_t i = 0; i < m->n_sources; i++)
        n += strlen(m->fingerprints[i]) + 1;
    free(m->fingerprint_text);
    m->fingerprint_text = hf_malloc(n);
    if (!m->fingerprint_text)
        return HF_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < m->n_sources; i++) {
        if (i)
            m->fingerprint_text[k++] = ';';
        size_t l = strlen(m->fingerprints[i]);
        memcpy(m->fingerprint_text + k, m->fingerprints[i], l);
        k += l;
    }
    m->fingerprint_text[k] = '\0';
    return HF_OK;
}

static int bad_key(const char *what, const char *key, const char *expected)
{
    return hf_error(HF_EINVAL, "%s: key \"%s\": got a missing or wrong value, expected %s", what,
                    key, expected);
}

/* manifest.json's "sources": each source's uri and fingerprint. */
static int decode_sources(json_t *src, const char *what, hf_manifest *m)
{
    if (!json_is_array(src))
        return bad_key(what, "sources", "an array");
    m->n_sources = json_array_size(src);
    m->sources = hf_calloc(m->n_sources ? m->n_sources : 1, sizeof *m->sources);
    m->fingerprints = hf_calloc(m->n_sources ? m->n_sources : 1, sizeof *m->fingerprints);
    if (!m->sources || !m->fingerprints)
        return HF_ENOMEM;
    for (size_t i = 0; i < m->n_sources; i++) {
        json_t *o = json_array_get(src, i);
        json_t *u = json_object_get(o, "uri"), *f = json_object_get(o, "fingerprint");
        if (!json_is_string(u) || !json_is_string(f))
            return bad_key(what, "sources", "objects with uri and fingerprint strings");
        m->sources[i] = hf_strdup(json_string_value(u));
        m->fingerprints[i] = hf_strdup(json_string_value(f));
        if (!m->sources[i] || !m->fingerprints[i])
            return HF_ENOMEM;
    }
    return HF_OK;
}

/* manifest.json's version, spec hash, schema, row counts and column roles. */
static int decode_header(json_t *root, const char *what, hf_manifest *m)
{
    json_t *v = json_object_get(root, "format_version");
    if (!json_is_integer(v))
        return bad_key(what, "format_version", "an integer");
    m->version = (int)json_integer_value(v);
    if (m->version != HF_MANIFEST_VERSION)
        return hf_error(HF_EINVAL, "%s: format_version: got %d, expected %d", what, m->version,
                        HF_MANIFEST_VERSION);
    HF_CALL(decode_sources(json_object_get(root, "sources"), what, m));
    v = json_object_get(root, "spec_hash");
    if (!json_is_string(v) || strlen(json_string_value(v)) != 64)
        return bad_key(what, "spec_hash", "a 64-digit hex string");
    memcpy(m->spec_hash, json_string_value(v), 65);
    int result = hf_schema_json_decode(json_object_get(root, "schema"), &m->schema);
    if (result < 0)
        return hf_error_prefix(result, "%s", what);
    v = json_object_get(root, "n_rows");
    json_t *rj = json_object_get(root, "rejected_rows");
    if (!json_is_integer(v) || !json_is_integer(rj))
        return bad_key(what, "n_rows", "integers n_rows and rejected_rows");
    m->n_rows = json_integer_value(v);
    m->n_rejected = json_integer_value(rj);
    if (m->n_rejected < 0)
        return bad_key(what, "rejected_rows", "a count >= 0");
    m->has_fold = json_is_true(json_object_get(root, "has_fold"));
    m->has_group = json_is_true(json_object_get(root, "has_group"));
    m->has_order = json_is_true(json_object_get(root, "has_order"));
    return HF_OK;
}

/* manifest.json's "shards": consecutive row ranges that add up to n_rows. */
static int decode_shards(json_t *sh, const char *what, hf_manifest *m)
{
    if (!json_is_array(sh))
        return bad_key(what, "shards", "an array");
    m->n_shards = json_array_size(sh);
    m->shards = hf_calloc(m->n_shards ? m->n_shards : 1, sizeof *m->shards);
    if (!m->shards)
        return HF_ENOMEM;
    int64_t expect_first = 0;
    for (size_t i = 0; i < m->n_shards; i++) {
        json_t *o = json_array_get(sh, i);
        json_t *f = json_object_get(o, "file"), *r = json_object_get(o, "rows");
        json_t *fr = json_object_get(o, "first_row"), *h = json_object_get(o, "sha256");
        const char *fn = json_is_string(f) ? json_string_value(f) : NULL;
        /* A file name in the shard directory: not empty, ".", ".." or a path (an empty one named
         * the directory itself: fuzz_manifest). */
        if (!fn || !fn[0] || strchr(fn, '/') || strcmp(fn, ".") == 0 || strcmp(fn, "..") == 0 ||
            !json_is_integer(r) || !json_is_integer(fr) || !json_is_string(h) ||
            strlen(json_string_value(h)) != 64)
            return bad_key(what, "shards",
                           "objects with file (a file name in the shard directory), rows, "
                           "first_row and sha256");
        if (!(m->shards[i].file = hf_strdup(fn)))
            return HF_ENOMEM;
        m->shards[i].rows = json_integer_value(r);
        m->shards[i].first_row = json_integer_value(fr);
        memcpy(m->shards[i].sha256, json_string_value(h), 65);
        if (m->shards[i].first_row != expect_first)
            return hf_error(HF_EINVAL, "%s: shards[%zu]: got first_row %lld, expected %lld", what,
                            i, (long long)m->shards[i].first_row, (long long)expect_first);
        /* The sum of the rows must not overflow (undefined behaviour). */
        if (m->shards[i].rows < 0 || m->shards[i].rows > INT64_MAX - expect_first)
            return hf_error(HF_EINVAL,
                            "%s: shards[%zu]: got rows %lld, expected a count >= 0 that keeps "
                            "the total within int64",
                            what, i, (long long)m->shards[i].rows);
        expect_first += m->shards[i].rows;
    }
    if (expect_first != m->n_rows)
        return hf_error(HF_EINVAL, "%s: shards hold %lld rows, expected n_rows %lld", what,
                        (long long)expect_first, (long long)m->n_rows);
    return HF_OK;
}

int hf_manifest_from_json(const char *text, const char *what, hf_manifest **out)
{
    json_error_t err;
    json_t *root = json_loads(text, 0, &err);
    *out = NULL;
    if (!root)
        return hf_error(HF_EINVAL, "%s:%d:%d: %s", what, err.line, err.column, err.text);
    hf_manifest *m = hf_calloc(1, sizeof *m);
    int result = m ? decode_header(root, what, m) : HF_ENOMEM;
    if (result >= 0)
        result = decode_shards(json_object_get(root, "shards"), what, m);
    if (result >= 0)
        result = set_fingerprint_text(m);
    if (result >= 0) {
        *out = m;
        m = NULL;
    }
    json_decref(root);
    hf_manifest_free(m);
    return result;
}

/* manifest.json ends in a "checksum" member: the SHA-256 of the file as it would be without it
 * (the text up to the member, then "\n}"). A flipped digit in a row count dropped rows silently;
 * now a manifest that does not match is not reused (the data is ingested again). */
#define CHECKSUM_KEY ",\n  \"checksum\": \""

int hf_manifest_stamp(const char *text, size_t n, char **out, size_t *len)
{
    char hex[65];
    *out = NULL;
    *len = 0;
    if (n < 2 || memcmp(text + n - 2, "\n}", 2) != 0)
        return hf_error(HF_EINTERNAL, "manifest text does not end in \"\\n}\"");
    HF_CALL(hf_sha256_hex(text, n, hex));
    char *sum = hf_malloc(n + strlen(CHECKSUM_KEY) + 64 + 8);
    if (!sum)
        return HF_ENOMEM;
    *len = (size_t)sprintf(sum, "%.*s%s%s\"\n}\n", (int)(n - 2), text, CHECKSUM_KEY, hex);
    *out = sum;
    return HF_OK;
}

int hf_manifest_read(const char *dir, hf_manifest **out)
{
    char *path = hf_manifest_path(dir);
    char *text = NULL;
    size_t len = 0;
    int result;
    *out = NULL;
    if (!path)
        return HF_ENOMEM;
    result = hf_fs_read_file(path, &text, &len);
    char *at = NULL;
    for (char *p = text; result >= 0 && (p = strstr(p, CHECKSUM_KEY)); p++)
        at = p;
    const size_t k = strlen(CHECKSUM_KEY);
    char hex[65];
    if (result >= 0 &&
        (!at || (size_t)(text + len - at) < k + 64 + 3 || strncmp(at + k + 64, "\"\n}", 3) != 0 ||
         strspn(at + k + 64 + 3, "\n") != strlen(at + k + 64 + 3))) {
        result = hf_error(HF_EDATA,
                          "%s: no checksum at its end (damaged, or written by an older "
                          "hyperfold)",
                          path);
    } else if (result >= 0) {
        char sum[65];
        memcpy(sum, at + k, 64);
        sum[64] = '\0';
        memcpy(at, "\n}", 3); /* the text as it was summed */
        at[3] = '\0';
        result = hf_sha256_hex(text, (size_t)(at + 2 - text), hex);
        if (result >= 0 && strcmp(hex, sum) != 0)
            result =
                hf_error(HF_EDATA, "%s: damaged: its checksum does not match its content", path);
    }
    if (result >= 0)
        result = hf_manifest_from_json(text, path, out);
    free(text);
    free(path);
    return result;
}

int hf_manifest_write(const char *dir, const hf_manifest *m)
{
    char *path = hf_manifest_path(dir);
    char *text = hf_manifest_to_json(m);
    int result = HF_ENOMEM;
    if (path && text) {
        char *sum = NULL;
        size_t len = 0;
        result = hf_manifest_stamp(text, strlen(text), &sum, &len);
        if (result >= 0)
            result = hf_fs_write_atomic(path, sum, len);
        free(sum);
    }
    free(path);
    free(text);
    return result;
}

/* ---- HDF5 --------------------------------------------------------------------------------- */

static int h5_fail(const char *path, const char *what)
{
    return hf_error(HF_EIO, "%s: HDF5 %s failed", path, what);
}

/* Creates a dataset of rank 1 or 2 with rows x cols of `type`, chunked unless empty. */
static hid_t create_dataset(hid_t file, const char *name, hid_t type, int64_t rows, size_t cols,
                            int rank2)
{
    hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
    hid_t space = H5Screate_simple(rank2 ? 2 : 1, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = H5I_INVALID_HID;
    if (space < 0 || dcpl < 0)
        goto out;
    H5Pset_obj_track_times(dcpl, 0);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    size_t width = rank2 ? cols : 1;
    if (rows > 0 && width > 0) {
        hsize_t per = CHUNK_BYTES / 8 / width;
        if (per < 1)
            per = 1;
        if (per > (hsize_t)rows)
            per = (hsize_t)rows;
        hsize_t chunk[2] = {per, (hsize_t)cols};
        if (H5Pset_chunk(dcpl, rank2 ? 2 : 1, chunk) < 0)
            goto out;
    }
    d = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
out:
    if (space >= 0)
        H5Sclose(space);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    return d;
}

/* Collective write of this rank's slab [offset, offset + count) of a dataset. */
static int write_slab(const char *path, hid_t file, hid_t dxpl, const char *name, hid_t type,
                      const hf_shard_slab *s, size_t cols, int rank2, const void *data)
{
    int result = HF_OK;
    hid_t d = create_dataset(file, name, type, s->shard_rows, cols, rank2);
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    if (d < 0) {
        result = h5_fail(path, "dataset create");
        goto out;
    }
    fspace = H5Dget_space(d);
    hsize_t start[2] = {(hsize_t)s->offset, 0};
    hsize_t count[2] = {(hsize_t)s->count, (hsize_t)cols};
    hsize_t one = 1;
    int empty = s->count == 0 || (rank2 && cols == 0);
    herr_t sel;
    if (empty) {
        mspace = H5Screate_simple(1, &one, NULL);
        sel = mspace < 0 || fspace < 0 || H5Sselect_none(mspace) < 0 || H5Sselect_none(fspace) < 0
                  ? -1
                  : 0;
    } else {
        mspace = H5Screate_simple(rank2 ? 2 : 1, count, NULL);
        sel = mspace < 0 || fspace < 0 ||
                      H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0
                  ? -1
                  : 0;
    }
    /* Every rank makes the collective write even when its selection failed (a rank that left
     * would hang the others); the failure is reported after it. */
    static const double dummy = 0;
    if (sel < 0)
        result = h5_fail(path, "dataspace selection");
    if (H5Dwrite(d, type, mspace, fspace, dxpl, empty || sel < 0 ? (const void *)&dummy : data) <
            0 &&
        result == HF_OK)
        result = h5_fail(path, "write");
out:
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    if (d >= 0 && H5Dclose(d) < 0 && result == HF_OK)
        result = h5_fail(path, "dataset close");
    return result;
}

int hf_shard_write(hf_comm *comm, const char *path, const hf_shard_slab *s)
{
    int result = HF_OK;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    hid_t file = H5I_INVALID_HID;
    if (fapl < 0 || dxpl < 0) {
        result = h5_fail(path, "property list create");
        goto out;
    }
    if (H5Pset_fapl_mpio(fapl, hf_comm_mpi(comm), MPI_INFO_NULL) < 0 ||
        H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
        result = h5_fail(path, "MPI-IO setup");
        goto out;
    }
    file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (file < 0) {
        result = h5_fail(path, "file create");
        goto out;
    }
    /* Every rank makes the same sequence of collective calls, whatever it holds. */
    result = write_slab(path, file, dxpl, "X", H5T_NATIVE_DOUBLE, s, s->n_features, 1, s->X);
    if (result >= 0)
        result = write_slab(path, file, dxpl, "y", H5T_NATIVE_DOUBLE, s, 1, 0, s->y);
    if (result >= 0)
        result = write_slab(path, file, dxpl, "row", H5T_NATIVE_INT64, s, 1, 0, s->row);
    if (result >= 0 && s->has_fold)
        result = write_slab(path, file, dxpl, "fold", H5T_NATIVE_INT64, s, 1, 0, s->fold);
    if (result >= 0 && s->has_group)
        result = write_slab(path, file, dxpl, "group", H5T_NATIVE_INT64, s, 1, 0, s->group);
    if (result >= 0 && s->has_order)
        result = write_slab(path, file, dxpl, "order", H5T_NATIVE_DOUBLE, s, 1, 0, s->order);
out:
    if (file >= 0 && H5Fclose(file) < 0 && result == HF_OK)
        result = h5_fail(path, "file close");
    if (fapl >= 0)
        H5Pclose(fapl);
    if (dxpl >= 0)
        H5Pclose(dxpl);
    return result;
}

/* The datasets of one shard file, in the order they are created. */
#define SHARD_DSETS 6

/* Independent write of this rank's rows of one dataset (nothing when it has none). */
static int write_rows(const char *path, hid_t d, hid_t dxpl, hid_t type, const hf_shard_slab *s,
                      size_t cols, int rank2, const void *data)
{
    int result = HF_OK;
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    if (s->count == 0 || (rank2 && cols == 0) || !data)
        return HF_OK;
    hsize_t start[2] = {(hsize_t)s->offset, 0};
    hsize_t count[2] = {(hsize_t)s->count, (hsize_t)cols};
    fspace = H5Dget_space(d);
    mspace = H5Screate_simple(rank2 ? 2 : 1, count, NULL);
    if (fspace < 0 || mspace < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        H5Dwrite(d, type, mspace, fspace, dxpl, data) < 0)
        result = h5_fail(path, "write");
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    return result;
}

/* Rank 0, after the files' metadata is created: reserves the disk space of every file (its end of
 * allocation: parallel HDF5 allocates the datasets at creation) with posix_fallocate, so that
 * neither the raw writes nor the metadata flush of the collective close can meet a full file
 * system. A write that failed on one rank only sent the ranks down different paths inside
 * H5Fclose (a barrier on one, a broadcast on the other) and hung the job. Where the file system
 * cannot reserve, the free space is checked instead. */
static int reserve_space(hid_t *files, char *const *paths, size_t n)
{
    unsigned long long total = 0;
    hsize_t *size = hf_malloc((n ? n : 1) * sizeof *size);
    off_t *was = hf_calloc(n ? n : 1, sizeof *was); /* each file's size before its reservation */
    size_t reserved = 0;
    int result = size && was ? HF_OK : HF_ENOMEM;
    for (size_t i = 0; result >= 0 && i < n; i++) {
        /* (the larger of the end of allocation and the end of file) */
        if (H5Fget_filesize(files[i], &size[i]) < 0)
            result = h5_fail(paths[i], "file size query");
        total += (unsigned long long)size[i];
    }
    struct statvfs sv; /* the free space before any reservation, for the message */
    unsigned long long avail =
        n && statvfs(paths[0], &sv) == 0 ? (unsigned long long)sv.f_bavail * sv.f_frsize : ~0ULL;
    for (size_t i = 0; result >= 0 && i < n; i++) {
        int fd = open(paths[i], O_WRONLY | O_CLOEXEC);
        struct stat st;
        was[i] = fd >= 0 && fstat(fd, &st) == 0 ? st.st_size : 0;
        int e = fd < 0 ? errno : posix_fallocate(fd, 0, (off_t)size[i]);
        reserved = i + 1;
        if (fd >= 0)
            close(fd);
        if (e == EOPNOTSUPP || e == EINVAL) /* no fallocate here: at least the space is free */
            e = avail < total ? ENOSPC : 0;
        if (e == ENOSPC || e == EDQUOT)
            result =
                hf_error(HF_EIO,
                         "%s: cannot write the shards: %s: they need %llu bytes, the file system "
                         "has %llu free",
                         paths[i], hf_strerror(e), total, avail);
        else if (e != 0)
            result = hf_error(HF_EIO, "%s: reserving %llu bytes: %s", paths[i],
                              (unsigned long long)size[i], hf_strerror(e));
    }
    /* A reservation that failed gives back what it took, and every earlier one: the collective
     * close still writes each file's metadata, and it must find room for it. */
    for (size_t i = 0; result < 0 && i < reserved; i++)
        if (truncate(paths[i], was[i]) != 0)
            hf_debug("%s: giving back the reserved space: %s", paths[i], hf_strerror(errno));
    free(size);
    free(was);
    return result;
}

/* Collective: creates the files paths[0..n) and their datasets, then every rank writes its rows
 * of every file with independent transfers (so ranks write different files at the same time),
 * then the files are closed. The bytes are those hf_shard_write gives (early allocation: the
 * layout is fixed at creation). */
static int write_batch(hf_comm *comm, char *const *paths, const hf_shard_slab *slabs, size_t n)
{
    int result = HF_OK;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    hid_t *files = hf_malloc((n ? n : 1) * sizeof *files);
    hid_t *dsets = hf_malloc((n ? n : 1) * SHARD_DSETS * sizeof *dsets);
    size_t n_open = 0;
    /* Each stage ends in an agreement (hf_comm_check), so that every rank makes the same
     * collective calls whichever rank failed: a failure on one rank only sent the ranks down
     * different paths inside the collective H5Fclose and hung the job. */
    if (!files || !dsets)
        result = HF_ENOMEM;
    for (size_t i = 0; result >= 0 && i < n * SHARD_DSETS; i++)
        dsets[i] = H5I_INVALID_HID;
    if (result >= 0 && (fapl < 0 || dxpl < 0))
        result = h5_fail(paths[0], "property list create");
    if (result >= 0 && (H5Pset_fapl_mpio(fapl, hf_comm_mpi(comm), MPI_INFO_NULL) < 0 ||
                        H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_INDEPENDENT) < 0))
        result = h5_fail(paths[0], "MPI-IO setup");
    result = hf_comm_check(comm, result);
    /* Metadata: every rank makes the same sequence of collective calls. */
    for (size_t i = 0; result >= 0 && i < n; i++) {
        const hf_shard_slab *s = &slabs[i];
        files[i] = H5Fcreate(paths[i], H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        if (files[i] < 0) {
            result = h5_fail(paths[i], "file create");
            break;
        }
        n_open++;
        hid_t *d = dsets + i * SHARD_DSETS;
        d[0] = create_dataset(files[i], "X", H5T_NATIVE_DOUBLE, s->shard_rows, s->n_features, 1);
        d[1] = create_dataset(files[i], "y", H5T_NATIVE_DOUBLE, s->shard_rows, 1, 0);
        d[2] = create_dataset(files[i], "row", H5T_NATIVE_INT64, s->shard_rows, 1, 0);
        if (s->has_fold)
            d[3] = create_dataset(files[i], "fold", H5T_NATIVE_INT64, s->shard_rows, 1, 0);
        if (s->has_group)
            d[4] = create_dataset(files[i], "group", H5T_NATIVE_INT64, s->shard_rows, 1, 0);
        if (s->has_order)
            d[5] = create_dataset(files[i], "order", H5T_NATIVE_DOUBLE, s->shard_rows, 1, 0);
        if (d[0] < 0 || d[1] < 0 || d[2] < 0 || (s->has_fold && d[3] < 0) ||
            (s->has_group && d[4] < 0) || (s->has_order && d[5] < 0))
            result = h5_fail(paths[i], "dataset create");
    }
    result = hf_comm_check(comm, result);
    /* The space, reserved by rank 0 before a byte of data is written; every rank learns the
     * outcome, so all skip the writes together. */
    if (result >= 0 && hf_comm_rank(comm) == 0)
        result = reserve_space(files, paths, n);
    result = hf_comm_check(comm, result);
    /* Raw data: independent, so no rank waits for another between files. */
    for (size_t i = 0; result >= 0 && i < n; i++) {
        const hf_shard_slab *s = &slabs[i];
        hid_t *d = dsets + i * SHARD_DSETS;
        result = write_rows(paths[i], d[0], dxpl, H5T_NATIVE_DOUBLE, s, s->n_features, 1, s->X);
        if (result >= 0)
            result = write_rows(paths[i], d[1], dxpl, H5T_NATIVE_DOUBLE, s, 1, 0, s->y);
        if (result >= 0)
            result = write_rows(paths[i], d[2], dxpl, H5T_NATIVE_INT64, s, 1, 0, s->row);
        if (result >= 0 && s->has_fold)
            result = write_rows(paths[i], d[3], dxpl, H5T_NATIVE_INT64, s, 1, 0, s->fold);
        if (result >= 0 && s->has_group)
            result = write_rows(paths[i], d[4], dxpl, H5T_NATIVE_INT64, s, 1, 0, s->group);
        if (result >= 0 && s->has_order)
            result = write_rows(paths[i], d[5], dxpl, H5T_NATIVE_DOUBLE, s, 1, 0, s->order);
    }
    /* Every rank knows whether any write failed before the collective close. */
    result = hf_comm_check(comm, result);
    /* Closing is collective: every rank closes every file it created, whatever happened. */
    for (size_t i = 0; i < n_open; i++) {
        for (size_t k = 0; k < SHARD_DSETS; k++)
            if (dsets[i * SHARD_DSETS + k] >= 0 && H5Dclose(dsets[i * SHARD_DSETS + k]) < 0 &&
                result == HF_OK)
                result = h5_fail(paths[i], "dataset close");
        if (H5Fclose(files[i]) < 0 && result == HF_OK)
            result = h5_fail(paths[i], "file close");
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    if (dxpl >= 0)
        H5Pclose(dxpl);
    free(files);
    free(dsets);
    return result;
}

/* Collective. Writes the shard files paths[0..n) (slabs[i]: this rank's rows of file i) in
 * batches of at most 64 open files; see write_batch. Declared in ingest.c until partition.h gains
 * it. */
int hf_shard_write_all(hf_comm *comm, char *const *paths, const hf_shard_slab *slabs, size_t n);

int hf_shard_write_all(hf_comm *comm, char *const *paths, const hf_shard_slab *slabs, size_t n)
{
    int result = HF_OK;
    for (size_t at = 0; at < n; at += 64) {
        size_t k = n - at < 64 ? n - at : 64;
        int batch_status = write_batch(comm, paths + at, slabs + at, k);
        if (batch_status < 0 && result == HF_OK)
            result = batch_status;
        /* Every rank must take part in every batch's collective calls: share the outcome. */
        result = hf_comm_check(comm, result);
        if (result < 0)
            break;
    }
    return result;
}

/* Reads rows [first, first + count) of dataset `name` (rank 1 or 2) into dst. */
static int read_rows(const char *path, hid_t file, const char *name, hid_t type, int64_t first,
                     int64_t count, size_t cols, int rank2, void *dst)
{
    int result = HF_OK;
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    if (d < 0) {
        result = hf_error(HF_EIO, "%s: HDF5 dataset %s missing", path, name);
        goto out;
    }
    if (count == 0 || (rank2 && cols == 0))
        goto out;
    fspace = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    if (H5Sget_simple_extent_ndims(fspace) != (rank2 ? 2 : 1) ||
        H5Sget_simple_extent_dims(fspace, dims, NULL) < 0 || dims[0] < (hsize_t)(first + count) ||
        (rank2 && dims[1] != cols)) {
        result = hf_error(HF_EIO, "%s: dataset %s: got a shape that does not match the manifest",
                          path, name);
        goto out;
    }
    hsize_t start[2] = {(hsize_t)first, 0};
    hsize_t cnt[2] = {(hsize_t)count, (hsize_t)cols};
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL);
    mspace = H5Screate_simple(rank2 ? 2 : 1, cnt, NULL);
    if (H5Dread(d, type, mspace, fspace, H5P_DEFAULT, dst) < 0)
        result = hf_error(HF_EIO, "%s: HDF5 read of %s failed", path, name);
out:
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    if (d >= 0)
        H5Dclose(d);
    return result;
}

/* Checks that each shard holding rows of [first, first + count) is large enough on disk for the
 * rows the manifest gives it (every dataset uncompressed, 8 bytes a value), before the table is
 * allocated: a damaged manifest.json (n_rows 2^40, the last shard's rows to match) made every
 * rank allocate the 8.8 TB it claims before any shard was opened. */
static int check_shard_sizes(const char *dir, const hf_manifest *m, int64_t first, int64_t count)
{
    uint64_t per_row = (uint64_t)m->schema->n_features + 2 + (m->has_fold != 0) +
                       (m->has_group != 0) + (m->has_order != 0);
    for (size_t i = 0; i < m->n_shards; i++) {
        const hf_shard_info *sh = &m->shards[i];
        if (sh->rows == 0 || sh->first_row >= first + count || sh->first_row + sh->rows <= first)
            continue;
        char *path = hf_asprintf("%s/%s", dir, sh->file);
        if (!path)
            return HF_ENOMEM;
        struct stat st;
        int result = HF_OK;
        if (stat(path, &st) != 0)
            result = hf_error(HF_EIO, "%s: cannot open the HDF5 shard", path);
        else if ((uint64_t)st.st_size / 8 / per_row < (uint64_t)sh->rows)
            result = hf_error(HF_EIO,
                              "%s: got %lld bytes, too few for the %lld rows of %llu values the "
                              "manifest gives it",
                              path, (long long)st.st_size, (long long)sh->rows,
                              (unsigned long long)per_row);
        free(path);
        if (result < 0)
            return result;
    }
    return HF_OK;
}

/* Clips [*first, *first + *count) to the table's rows. */
static void clip_range(const hf_manifest *m, int64_t *first, int64_t *count)
{
    if (*first < 0)
        *first = 0;
    if (*first > m->n_rows)
        *first = m->n_rows;
    if (*count < 0 || *count > m->n_rows - *first)
        *count = m->n_rows - *first;
}

/* Reads the rows [first, first + count) of every shard holding some into d's arrays. */
static int read_table(const char *dir, const hf_manifest *m, int64_t first, int64_t count,
                      hf_dataset *d)
{
    size_t nf = m->schema->n_features;
    for (size_t i = 0; i < m->n_shards && count > 0; i++) {
        const hf_shard_info *sh = &m->shards[i];
        int64_t lo = first > sh->first_row ? first : sh->first_row;
        int64_t hi =
            first + count < sh->first_row + sh->rows ? first + count : sh->first_row + sh->rows;
        if (hi <= lo)
            continue;
        char *path = hf_asprintf("%s/%s", dir, sh->file);
        if (!path)
            return HF_ENOMEM;
        hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (file < 0) {
            int result = hf_error(HF_EIO, "%s: cannot open the HDF5 shard", path);
            free(path);
            return result;
        }
        int64_t off = lo - sh->first_row, k = hi - lo;
        size_t at = (size_t)(lo - first);
        int result = read_rows(path, file, "X", H5T_NATIVE_DOUBLE, off, k, nf, 1, d->X + at * nf);
        if (result >= 0)
            result = read_rows(path, file, "y", H5T_NATIVE_DOUBLE, off, k, 1, 0, d->y + at);
        if (result >= 0)
            result = read_rows(path, file, "row", H5T_NATIVE_INT64, off, k, 1, 0, d->row + at);
        if (result >= 0 && d->fold)
            result = read_rows(path, file, "fold", H5T_NATIVE_INT64, off, k, 1, 0, d->fold + at);
        if (result >= 0 && d->group)
            result = read_rows(path, file, "group", H5T_NATIVE_INT64, off, k, 1, 0, d->group + at);
        if (result >= 0 && d->order)
            result = read_rows(path, file, "order", H5T_NATIVE_DOUBLE, off, k, 1, 0, d->order + at);
        H5Fclose(file);
        free(path);
        if (result < 0)
            return result;
    }
    return HF_OK;
}

int hf_shards_load_range(const char *dir, const hf_manifest *m, int64_t first, int64_t count,
                         hf_dataset **out)
{
    int result = HF_OK;
    hf_dataset *d = hf_calloc(1, sizeof *d);
    size_t nf = m->schema->n_features;
    *out = NULL;
    if (!d)
        return HF_ENOMEM;
    d->id = hf_dataset_new_id();
    clip_range(m, &first, &count);
    size_t n = (size_t)count;
    if ((result = check_shard_sizes(dir, m, first, count)) < 0)
        goto out;
    d->schema = hf_schema_clone(m->schema);
    d->n_rows = n;
    d->X = hf_malloc_large((n ? n : 1) * (nf ? nf : 1) * sizeof *d->X);
    d->y = hf_malloc((n ? n : 1) * sizeof *d->y);
    d->row = hf_malloc((n ? n : 1) * sizeof *d->row);
    if (m->has_fold)
        d->fold = hf_malloc((n ? n : 1) * sizeof *d->fold);
    if (m->has_group)
        d->group = hf_malloc((n ? n : 1) * sizeof *d->group);
    if (m->has_order)
        d->order = hf_malloc((n ? n : 1) * sizeof *d->order);
    if (!d->schema || !d->X || !d->y || !d->row || (m->has_fold && !d->fold) ||
        (m->has_group && !d->group) || (m->has_order && !d->order)) {
        result = HF_ENOMEM;
        goto out;
    }
    if ((result = read_table(dir, m, first, count, d)) < 0)
        goto out;
    *out = d;
    d = NULL;
out:
    hf_dataset_free(d);
    return result;
}

/* The layout of a table in one buffer (hf_shards_load_into): X, y, row, then fold, group and order
 * where the shards have them, each at least one element and starting on a 64-byte boundary.
 * offs[6]: each array's offset (SIZE_MAX: absent); returns the total, 0 when it would overflow. */
static size_t table_layout(const hf_manifest *m, size_t n, size_t offs[6])
{
    size_t nf = m->schema->n_features, rows = n ? n : 1;
    size_t cols = nf ? nf : 1;
    if (rows > SIZE_MAX / 64 / cols)
        return 0;
    size_t sizes[6] = {rows * cols * 8,
                       rows * 8,
                       rows * 8,
                       m->has_fold ? rows * 8 : 0,
                       m->has_group ? rows * 8 : 0,
                       m->has_order ? rows * 8 : 0};
    size_t at = 0;
    for (int k = 0; k < 6; k++) {
        offs[k] = sizes[k] ? at : SIZE_MAX;
        at += (sizes[k] + 63) / 64 * 64;
    }
    return at;
}

int hf_shards_table_bytes(const char *dir, const hf_manifest *m, int64_t first, int64_t count,
                          size_t *bytes)
{
    size_t offs[6];
    *bytes = 0;
    clip_range(m, &first, &count);
    HF_CALL(check_shard_sizes(dir, m, first, count));
    *bytes = table_layout(m, (size_t)count, offs);
    if (*bytes == 0)
        return hf_error(HF_EIO, "%s: the manifest's %lld rows of %zu features are too many", dir,
                        (long long)count, m->schema->n_features);
    return HF_OK;
}

static void release_nothing(void *ctx)
{
    (void)ctx;
}

int hf_shards_load_into(const char *dir, const hf_manifest *m, int64_t first, int64_t count,
                        void *buf, size_t len, int read, void (*release)(void *), void *ctx,
                        hf_dataset **out)
{
    size_t offs[6];
    *out = NULL;
    clip_range(m, &first, &count);
    size_t need = table_layout(m, (size_t)count, offs);
    if (need == 0 || len < need || !buf)
        return hf_error(HF_EINTERNAL, "the table's buffer holds %zu bytes, expected %zu", len,
                        need);
    hf_dataset *d = hf_calloc(1, sizeof *d);
    if (!d)
        return HF_ENOMEM;
    char *b = buf;
    d->id = hf_dataset_new_id();
    d->n_rows = (size_t)count;
    d->X = (double *)(void *)(b + offs[0]);
    d->y = (double *)(void *)(b + offs[1]);
    d->row = (int64_t *)(void *)(b + offs[2]);
    d->fold = offs[3] == SIZE_MAX ? NULL : (int64_t *)(void *)(b + offs[3]);
    d->group = offs[4] == SIZE_MAX ? NULL : (int64_t *)(void *)(b + offs[4]);
    d->order = offs[5] == SIZE_MAX ? NULL : (double *)(void *)(b + offs[5]);
    /* Never free() the caller's buffer, even on failure here. */
    d->release = release_nothing;
    int result = (d->schema = hf_schema_clone(m->schema)) ? HF_OK : HF_ENOMEM;
    if (result >= 0 && read)
        result = read_table(dir, m, first, count, d);
    if (result < 0) {
        hf_dataset_free(d);
        return result;
    }
    d->release = release ? release : release_nothing;
    d->release_ctx = ctx;
    *out = d;
    return HF_OK;
}

int hf_shards_load(const char *dir, const hf_manifest *m, hf_dataset **out)
{
    return hf_shards_load_range(dir, m, 0, m->n_rows, out);
}

int hf_shards_verify(const char *dir, const hf_manifest *m, size_t start, size_t stride)
{
    const int pending = hf_error_code() != HF_OK; /* an earlier error is not ours to clear */
    if (stride == 0)
        stride = 1;
    for (size_t i = start; i < m->n_shards; i += stride) {
        char *path = hf_asprintf("%s/%s", dir, m->shards[i].file);
        char hex[65];
        if (!path)
            return HF_ENOMEM;
        int ok = hf_fs_exists(path) && hf_sha256_file_hex(path, hex) == HF_OK &&
                 strcmp(hex, m->shards[i].sha256) == 0;
        if (!ok && !pending && hf_error_code() != HF_OK) {
            /* Unreadable is "not reusable" (the ingest is redone), not an error left pending. */
            hf_debug("shard %s cannot be reused: %s", path, hf_error_message());
            hf_error_clear();
        }
        free(path);
        if (!ok)
            return 0;
    }
    return 1;
}
