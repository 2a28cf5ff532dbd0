/* fuzz_manifest.c - the shard manifest reader (shards/partition.c hf_manifest_read, which parses
 * with hf_manifest_from_json and the schema reader) and what a run does with a manifest it reuses:
 * hf_shards_verify and hf_shards_load_range against the real shard files of the diabetes run
 * (tests/fuzz/data/diabetes-shards, made by make_corpus.sh), which sit next to the fuzzed
 * manifest.json in the scratch directory.
 *
 * Input: the bytes of manifest.json. Checks, besides memory safety and UB:
 *  - the hf.h error convention;
 *  - round trip: hf_manifest_to_json of what was accepted reads back to an equal manifest;
 *  - the rows loaded through a manifest that names the real shards with their real sizes are the
 *    rows loaded through the real manifest (a differential check of the range arithmetic); a
 *    manifest that does not fit the files is refused, not read past (ASan) nor allowed to make
 *    allocations the files cannot fill (libFuzzer's malloc limit). */
#include "fuzz_util.h"

#include "common/dataset.h"
#include "common/fsutil.h"
#include "common/hf.h"
#include "shards/partition.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char g_dir[512];
static hf_manifest *g_ref;
static hf_dataset *g_ref_data;

static void setup_failed(const char *what)
{
    fprintf(stderr, "fuzz_manifest: %s: %s\n", what, hf_error_message());
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    snprintf(g_dir, sizeof g_dir, "%s/shards", hf_fuzz_scratch_dir());
    mkdir(g_dir, 0700);
    for (int i = 0; i < 4; i++) {
        char from[1024], to[1024];
        snprintf(from, sizeof from, "%s/data/diabetes-shards/part-%05d.h5", HF_FUZZ_DIR, i);
        snprintf(to, sizeof to, "%s/part-%05d.h5", g_dir, i);
        char *bytes = NULL;
        size_t len = 0;
        if (hf_fs_read_file(from, &bytes, &len) < 0 || hf_fs_write_atomic(to, bytes, len) < 0)
            setup_failed(from);
        free(bytes);
    }
    char *text = NULL;
    size_t len = 0;
    if (hf_fs_read_file(HF_FUZZ_DIR "/corpus/manifest/diabetes-ridge.json", &text, &len) < 0 ||
        hf_manifest_from_json(text, "reference manifest", &g_ref) < 0 ||
        hf_shards_load(g_dir, g_ref, &g_ref_data) < 0)
        setup_failed("loading the reference shards");
    free(text);
    return 0;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void same_manifest(const hf_manifest *a, const hf_manifest *b)
{
    hf_fuzz_check(a->version == b->version && a->n_sources == b->n_sources &&
                      a->n_rows == b->n_rows && a->n_rejected == b->n_rejected &&
                      a->n_shards == b->n_shards && a->has_fold == b->has_fold &&
                      a->has_group == b->has_group && a->has_order == b->has_order &&
                      !strcmp(a->spec_hash, b->spec_hash) &&
                      same_str(a->fingerprint_text, b->fingerprint_text),
                  "round trip: the manifests differ");
    for (size_t i = 0; i < a->n_sources; i++)
        hf_fuzz_check(same_str(a->sources[i], b->sources[i]) &&
                          same_str(a->fingerprints[i], b->fingerprints[i]),
                      "round trip: source %zu differs", i);
    for (size_t i = 0; i < a->n_shards; i++)
        hf_fuzz_check(same_str(a->shards[i].file, b->shards[i].file) &&
                          a->shards[i].rows == b->shards[i].rows &&
                          a->shards[i].first_row == b->shards[i].first_row &&
                          !strcmp(a->shards[i].sha256, b->shards[i].sha256),
                      "round trip: shard %zu differs", i);
    hf_fuzz_check(a->schema->n_features == b->schema->n_features &&
                      a->schema->task == b->schema->task,
                  "round trip: the schemas differ");
}

/* 1 if m describes the real files as the reference manifest does (shards, sizes, features,
 * optional columns), so its rows must be the reference rows. */
static int describes_reference(const hf_manifest *m)
{
    if (m->n_shards != g_ref->n_shards || m->n_rows != g_ref->n_rows ||
        m->schema->n_features != g_ref->schema->n_features || m->has_fold != g_ref->has_fold ||
        m->has_group != g_ref->has_group || m->has_order != g_ref->has_order)
        return 0;
    for (size_t i = 0; i < m->n_shards; i++)
        if (strcmp(m->shards[i].file, g_ref->shards[i].file) != 0 ||
            m->shards[i].rows != g_ref->shards[i].rows)
            return 0;
    return 1;
}

static int same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static void load(const hf_manifest *m, int64_t first, int64_t count)
{
    hf_dataset *d = NULL;
    int rc = hf_shards_load_range(g_dir, m, first, count, &d);
    hf_fuzz_check_status(rc, "hf_shards_load_range");
    if (rc < 0) {
        hf_fuzz_check(d == NULL, "hf_shards_load_range failed but returned a dataset");
        return;
    }
    /* The range as the loader clips it. */
    int64_t f = first < 0 ? 0 : first > m->n_rows ? m->n_rows : first;
    int64_t n = count < 0 || count > m->n_rows - f ? m->n_rows - f : count;
    hf_fuzz_check(d->n_rows == (size_t)n, "loaded %zu rows of [%lld, +%lld), expected %lld",
                  d->n_rows, (long long)first, (long long)count, (long long)n);
    if (describes_reference(m)) {
        size_t nf = m->schema->n_features;
        for (size_t i = 0; i < d->n_rows; i++) {
            size_t r = (size_t)f + i;
            hf_fuzz_check(d->row[i] == g_ref_data->row[r] && same_double(d->y[i], g_ref_data->y[r]),
                          "row %zu of the range [%lld, +%lld) is not reference row %zu", i,
                          (long long)first, (long long)count, r);
            for (size_t j = 0; j < nf; j++)
                hf_fuzz_check(same_double(d->X[i * nf + j], g_ref_data->X[r * nf + j]),
                              "row %zu column %zu differs from the reference", i, j);
        }
    }
    hf_dataset_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    snprintf(path, sizeof path, "%s/manifest.json", g_dir);
    /* An input that ends as a manifest's text does ("\n}", then newlines) is stamped with its
     * checksum as hf_manifest_write stamps it, so that mutations reach the parser; others are
     * written as they are (and must be refused by the checksum). */
    size_t n = size;
    while (n > 0 && data[n - 1] == '\n')
        n--;
    char *stamped = NULL;
    size_t len = 0;
    if (n >= 2 && data[n - 2] == '\n' && data[n - 1] == '}' &&
        hf_manifest_stamp((const char *)data, n, &stamped, &len) < 0)
        abort();
    FILE *fp = fopen(path, "wb");
    if (!fp || (stamped && fwrite(stamped, 1, len, fp) != len) ||
        (!stamped && size && fwrite(data, 1, size, fp) != size) || fclose(fp) != 0)
        abort();
    free(stamped);
    hf_manifest *m = NULL;
    int rc = hf_manifest_read(g_dir, &m);
    hf_fuzz_check_status(rc, "hf_manifest_read");
    if (rc < 0) {
        hf_fuzz_check(m == NULL, "hf_manifest_read failed but returned a manifest");
        return 0;
    }
    char *json = hf_manifest_to_json(m);
    hf_fuzz_check_status(json ? HF_OK : HF_ENOMEM, "hf_manifest_to_json");
    hf_manifest *m2 = NULL;
    rc = hf_manifest_from_json(json, "round trip", &m2);
    hf_fuzz_check(rc == HF_OK, "reading back the manifest failed: %s", hf_error_message());
    same_manifest(m, m2);
    hf_manifest_free(m2);
    free(json);

    rc = hf_shards_verify(g_dir, m, 0, 1);
    hf_fuzz_check(rc == 0 || rc == 1, "hf_shards_verify returned %d", rc);
    hf_fuzz_check_status(HF_OK, "hf_shards_verify"); /* a mismatch is no error: none pending */
    /* The whole table, and a range chosen by the input. */
    load(m, 0, m->n_rows);
    int64_t first = (int64_t)(size % 97) * 5 - 10, count = (int64_t)(size % 13) * 17 - 3;
    load(m, first, count);
    hf_manifest_free(m);
    return 0;
}
