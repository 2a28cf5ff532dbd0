/* test_partition.c - schema and manifest JSON round trips, shard write/load on one rank, the
 * verification of shard hashes, and rejection of malformed manifests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/fsutil.h"
#include "common/hf.h"
#include "common/comm.h"
#include "shards/partition.h"
#include "shards/schema_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static hf_comm *g_world;

static hf_schema *make_schema(void)
{
    hf_schema *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->n_features = 3;
    s->features = calloc(3, sizeof *s->features);
    s->features[0] = (hf_column){.name = strdup("x"), .type = HF_COL_NUMERIC};
    s->features[1].name = strdup("color \"quoted\"");
    s->features[1].type = HF_COL_CATEGORICAL;
    s->features[1].n_categories = 2;
    s->features[1].categories = calloc(2, sizeof(char *));
    s->features[1].categories[0] = strdup("blue, dark");
    s->features[1].categories[1] = strdup("r\xC3\xA9"
                                          "d");
    s->features[2].name = strdup("flag");
    s->features[2].type = HF_COL_BOOLEAN;
    s->features[2].n_categories = 2;
    s->features[2].categories = calloc(2, sizeof(char *));
    s->features[2].categories[0] = strdup("false");
    s->features[2].categories[1] = strdup("true");
    s->target = strdup("y");
    s->task = HF_TASK_CLASSIFICATION;
    s->n_classes = 2;
    s->classes = calloc(2, sizeof(char *));
    s->classes[0] = strdup("0");
    s->classes[1] = strdup("1");
    s->group_column = strdup("g");
    return s;
}

static void test_schema_round_trip(void **state)
{
    (void)state;
    hf_schema *s = make_schema();
    char *text = hf_schema_json_to_text(s);
    assert_non_null(text);
    hf_schema *back = NULL;
    assert_int_equal(hf_schema_json_from_text(text, &back), 0);
    assert_int_equal(back->n_features, 3);
    assert_string_equal(back->features[1].name, "color \"quoted\"");
    assert_int_equal(back->features[1].type, HF_COL_CATEGORICAL);
    assert_string_equal(back->features[1].categories[1], "r\xC3\xA9"
                                                         "d");
    assert_int_equal(back->features[2].type, HF_COL_BOOLEAN);
    assert_int_equal(back->task, HF_TASK_CLASSIFICATION);
    assert_string_equal(back->classes[1], "1");
    assert_string_equal(back->group_column, "g");
    assert_null(back->fold_column);
    char *again = hf_schema_json_to_text(back);
    assert_string_equal(text, again);
    free(again);
    free(text);
    hf_schema_free(back);
    hf_schema_free(s);

    hf_error_clear();
    assert_int_equal(
        hf_schema_json_from_text("{\"features\": [{\"name\": \"a\", \"type\": \"text\"}], "
                                 "\"task\": \"regression\"}",
                                 &back),
        HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "features[0].type: got \"text\""));
    hf_error_clear();
    assert_int_equal(hf_schema_json_from_text("{\"features\": []", &back), HF_EINVAL);
    hf_error_clear();
}

static void test_write_load_verify(void **state)
{
    (void)state;
    char dir[] = "/tmp/hf_partition_XXXXXX";
    assert_non_null(mkdtemp(dir));
    const size_t n = 1000, nf = 3;
    double *X = malloc(n * nf * sizeof *X), *y = malloc(n * sizeof *y);
    int64_t *row = malloc(n * sizeof *row), *group = malloc(n * sizeof *group);
    for (size_t i = 0; i < n; i++) {
        X[i * nf] = i % 9 == 0 ? NAN : (double)i / 7.0;
        X[i * nf + 1] = (double)(i % 2);
        X[i * nf + 2] = (double)(i % 3 == 0);
        y[i] = (double)(i % 2);
        row[i] = (int64_t)i * 2;
        group[i] = (int64_t)(i / 10);
    }
    hf_manifest *m = calloc(1, sizeof *m);
    m->version = HF_MANIFEST_VERSION;
    m->n_sources = 1;
    m->sources = calloc(1, sizeof(char *));
    m->fingerprints = calloc(1, sizeof(char *));
    m->sources[0] = strdup("data.csv");
    m->fingerprints[0] = strdup("file:1:2:abc");
    memset(m->spec_hash, 'a', 64);
    m->schema = make_schema();
    m->n_rows = (int64_t)n;
    m->has_group = 1;
    m->n_shards = 3;
    m->shards = calloc(3, sizeof *m->shards);
    for (size_t i = 0; i < 3; i++) {
        int64_t lo = (int64_t)(n * i / 3), hi = (int64_t)(n * (i + 1) / 3);
        m->shards[i].file = hf_shard_name(i);
        m->shards[i].first_row = lo;
        m->shards[i].rows = hi - lo;
        char *path = hf_shard_path(dir, i);
        hf_shard_slab slab = {.shard_rows = hi - lo,
                              .offset = 0,
                              .count = hi - lo,
                              .n_features = nf,
                              .X = X + lo * (int64_t)nf,
                              .y = y + lo,
                              .row = row + lo,
                              .group = group + lo,
                              .has_group = 1};
        assert_int_equal(hf_shard_write(g_world, path, &slab), 0);
        assert_int_equal(hf_sha256_file_hex(path, m->shards[i].sha256), 0);
        free(path);
    }
    assert_int_equal(hf_manifest_write(dir, m), 0);
    hf_manifest *back = NULL;
    assert_int_equal(hf_manifest_read(dir, &back), 0);
    char *t1 = hf_manifest_to_json(m), *t2 = hf_manifest_to_json(back);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    assert_string_equal(hf_manifest_fingerprint(back), "file:1:2:abc");
    assert_int_equal(hf_manifest_n_rows(back), (int64_t)n);

    hf_dataset *d = NULL;
    assert_int_equal(hf_shards_load(dir, back, &d), 0);
    assert_int_equal(d->n_rows, n);
    assert_non_null(d->group);
    assert_null(d->fold);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < nf; k++) {
            double a = d->X[i * nf + k], b = X[i * nf + k];
            assert_true((isnan(a) && isnan(b)) || a == b);
        }
        assert_true(d->y[i] == y[i]);
        assert_int_equal(d->row[i], row[i]);
        assert_int_equal(d->group[i], group[i]);
    }
    hf_dataset_free(d);
    /* A range across a shard boundary. */
    assert_int_equal(hf_shards_load_range(dir, back, 330, 10, &d), 0);
    assert_int_equal(d->n_rows, 10);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(d->row[i], row[330 + i]);
    hf_dataset_free(d);

    assert_int_equal(hf_shards_verify(dir, back, 0, 1), 1);
    char *p1 = hf_shard_path(dir, 1);
    FILE *f = fopen(p1, "ab");
    fputc('x', f);
    fclose(f);
    assert_int_equal(hf_shards_verify(dir, back, 0, 1), 0);
    assert_int_equal(hf_shards_verify(dir, back, 0, 2), 1); /* shard 1 is not in this share */
    unlink(p1);
    assert_int_equal(hf_shards_verify(dir, back, 1, 2), 0);
    free(p1);

    /* A manifest whose rows do not add up is refused. */
    char *text = hf_manifest_to_json(m);
    char *at = strstr(text, "\"n_rows\": 1000");
    assert_non_null(at);
    memcpy(at, "\"n_rows\": 1001", 14);
    hf_manifest *badm = NULL;
    hf_error_clear();
    assert_int_equal(hf_manifest_from_json(text, "m.json", &badm), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "shards hold 1000 rows, expected n_rows 1001"));
    hf_error_clear();
    free(text);
    /* A shard file name that is not a file of the shard directory is refused: empty (it named
     * the directory itself: fuzz_manifest), ".", "..", a path. */
    const char *names[] = {"", ".", "..", "../x.h5", "a/b.h5"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char *good = hf_manifest_to_json(m);
        char *name = strstr(good, "part-00000.h5");
        assert_non_null(name);
        char *bad = hf_asprintf("%.*s%s%s", (int)(name - good), good, names[k],
                                name + strlen("part-00000.h5"));
        assert_non_null(bad);
        assert_int_equal(hf_manifest_from_json(bad, "m.json", &badm), HF_EINVAL);
        assert_non_null(strstr(hf_error_message(), "a file name in the shard directory"));
        hf_error_clear();
        free(bad);
        free(good);
    }

    for (size_t i = 0; i < 3; i++) {
        char *p = hf_shard_path(dir, i);
        unlink(p);
        free(p);
    }
    char *mp = hf_manifest_path(dir);
    unlink(mp);
    free(mp);
    rmdir(dir);
    hf_manifest_free(back);
    hf_manifest_free(m);
    free(X);
    free(y);
    free(row);
    free(group);
}

int main(int argc, char **argv)
{
    if (hf_comm_init(&argc, &argv, &g_world) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_round_trip),
        cmocka_unit_test(test_write_load_verify),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    hf_comm_finalize(g_world);
    return rc;
}
