/* mpitest_ingest.c - the ingest at any number of ranks.
 *
 * Without arguments (ctest runs it at 1, 2 and 4 ranks): ingests a generated CSV with quoted
 * newlines, categorical, boolean and missing values, checks the loaded rows against what was
 * written, the reuse of a matching ingest, the re-ingest after the file changes, a bad row as an
 * error with its FILE:LINE:COL message and as a skipped row in rejects.csv.
 *
 * As a driver for tests/mpi/test_ingest.sh:
 *   mpitest_ingest ingest CSV SHARD_DIR TARGET SHARDS SKIP(0|1) [REJECTS] [TASK(auto|regression|
 *                  classification)] [COLUMN=TYPE ...]
 * prints "reused=R rows=N rejected=K" on rank 0, or the error and exits 2. */
#include "common/fsutil.h"
#include "common/hf.h"
#include "common/comm.h"
#include "shards/ingest.h"
#include "shards/ingest.h"
#include "shards/partition.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *na_default[] = {"", "NA", "NaN", "null", "?"};

/* The ingest's options as the data section would give them (borrowed strings). */
static void init_spec(hf_ingest_opts *s, const char *source, const char *target)
{
    memset(s, 0, sizeof *s);
    s->source = (char *)source;
    s->target = (char *)target;
    s->na_values = na_default;
    s->n_na_values = 5;
}

static int fail(hf_comm *w, const char *what)
{
    if (hf_comm_rank(w) == 0)
        fprintf(stderr, "FAIL: %s (%s)\n", what, hf_error_message());
    return 1;
}

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            bad = fail(w, what);                                                                   \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static int driver(hf_comm *w, int argc, char **argv)
{
    hf_ingest_opts spec;
    char *col_names[16];
    int col_types[16];
    hf_manifest *m = NULL;
    int reused = 0;
    if (argc < 7) {
        fprintf(stderr, "usage: %s ingest CSV DIR TARGET SHARDS SKIP [REJECTS] [TASK] [COL=TYPE]\n",
                argv[0]);
        return 2;
    }
    init_spec(&spec, argv[2], argv[4]);
    spec.shard_count = (int)strtol(argv[5], NULL, 10);
    spec.skip_bad_rows = argv[6][0] == '1';
    const char *rejects = argc > 7 && argv[7][0] ? argv[7] : NULL;
    if (argc > 8)
        spec.task = strcmp(argv[8], "classification") == 0 ? HF_TASK_CLASSIFICATION
                    : strcmp(argv[8], "regression") == 0   ? HF_TASK_REGRESSION
                                                           : HF_TASK_AUTO;
    for (int i = 9; i < argc && spec.n_columns < 16; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            continue;
        *eq = '\0';
        col_names[spec.n_columns] = argv[i];
        col_types[spec.n_columns++] = strcmp(eq + 1, "numeric") == 0       ? HF_COL_NUMERIC
                                      : strcmp(eq + 1, "categorical") == 0 ? HF_COL_CATEGORICAL
                                                                           : HF_COL_BOOLEAN;
    }
    spec.column_names = col_names;
    spec.column_types = col_types;
    hf_source_opts opts = {.rank = hf_comm_rank(w)};
    double t0 = hf_now();
    int rc = hf_ingest(w, &spec, argv[3], &opts, rejects, &m, &reused);
    double dt = hf_now() - t0;
    if (rc < 0) {
        if (hf_comm_rank(w) == 0)
            fprintf(stderr, "error: %s\n", hf_error_message());
        return 2;
    }
    if (hf_comm_rank(w) == 0)
        printf("reused=%d rows=%lld rejected=%lld seconds=%.3f\n", reused,
               (long long)hf_manifest_n_rows(m), (long long)hf_manifest_rejected(m), dt);
    hf_manifest_free(m);
    return 0;
}

/* Writes the fixture: row i has x = i * 0.25, c = "k<i%5>" (quoted with a comma/newline every
 * 7th row), b = true/false, y = i % 3 (missing x every 11th row). */
static int write_fixture(const char *path, int n, int crlf)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    const char *nl = crlf ? "\r\n" : "\n";
    fprintf(f, "\xEF\xBB\xBFx,c,b,y%s", nl);
    for (int i = 0; i < n; i++) {
        if (i % 11 == 0)
            fprintf(f, "NA,");
        else
            fprintf(f, "%.17g,", i * 0.25);
        if (i % 7 == 0)
            fprintf(f, "\"k%d,\n\"\"q\"\"\",", i % 5);
        else
            fprintf(f, "k%d,", i % 5);
        fprintf(f, "%s,%d%s", i % 2 ? "true" : "False", i % 3, nl);
    }
    return fclose(f);
}

static int self_test(hf_comm *w)
{
    int bad = 0, rank = hf_comm_rank(w), reused = -1, rc;
    char dir[256], csv[300], shards[300], rejects[300];
    hf_ingest_opts spec;
    hf_manifest *m = NULL;
    hf_dataset *d = NULL;
    const int n = 503;
    snprintf(dir, sizeof dir, "mpitest_ingest_np%d", hf_comm_size(w));
    snprintf(csv, sizeof csv, "%s/data.csv", dir);
    snprintf(shards, sizeof shards, "%s/shards", dir);
    snprintf(rejects, sizeof rejects, "%s/rejects.csv", dir);
    rc = 0;
    if (rank == 0) {
        rc = hf_fs_mkdirs(dir);
        if (rc >= 0 && write_fixture(csv, n, 1) != 0)
            rc = -1;
    }
    hf_comm_barrier(w);
    CHECK(hf_comm_check(w, rc) == 0, "writing the fixture");
    init_spec(&spec, csv, "y");
    spec.shard_count = 3;
    spec.task = HF_TASK_CLASSIFICATION;
    hf_source_opts opts = {.rank = rank};

    CHECK(hf_ingest(w, &spec, shards, &opts, NULL, &m, &reused) == 0, "first ingest");
    CHECK(reused == 0, "first ingest is not a reuse");
    CHECK(hf_manifest_n_rows(m) == n, "row count");
    const hf_schema *s = hf_manifest_schema(m);
    CHECK(s->n_features == 3, "three features");
    CHECK(s->features[0].type == HF_COL_NUMERIC, "x numeric");
    CHECK(s->features[1].type == HF_COL_CATEGORICAL, "c categorical");
    CHECK(s->features[2].type == HF_COL_BOOLEAN, "b boolean");
    CHECK(s->features[1].n_categories == 10, "10 categories of c");
    CHECK(strcmp(s->features[1].categories[0], "k0") == 0, "categories sorted bytewise");
    CHECK(strcmp(s->features[1].categories[1], "k0,\n\"q\"") == 0, "quoted category kept");
    CHECK(s->task == HF_TASK_CLASSIFICATION && s->n_classes == 3, "three classes");
    CHECK(strcmp(s->classes[2], "2") == 0, "class labels as text");
    CHECK(m->n_shards == 3, "three shards");
    CHECK(hf_shards_load(shards, m, &d) == 0, "load");
    hf_dataset *pd = NULL;
    {
        /* Prediction input: columns in another order, the target absent, an unknown category. */
        char pcsv[300];
        snprintf(pcsv, sizeof pcsv, "%s/predict.csv", dir);
        rc = 0;
        if (rank == 0) {
            FILE *f = fopen(pcsv, "wb");
            rc = f ? 0 : -1;
            if (f) {
                fputs("b,c,x\n", f);
                for (int i = 0; i < 41; i++)
                    fprintf(f, "%s,%s,%d\n", i % 2 ? "TRUE" : "false", i == 5 ? "new" : "k3", i);
                fclose(f);
            }
        }
        hf_comm_barrier(w);
        CHECK(hf_comm_check(w, rc) == 0, "writing predict.csv");
        CHECK(hf_ingest_predict_input(w, pcsv, s, &opts, &pd) == 0, "read_for_schema");
        int64_t got = (int64_t)pd->n_rows;
        hf_comm_allreduce_sum_i64(w, &got, 1);
        CHECK(got == 41, "predict rows over all ranks");
        for (size_t i = 0; i < pd->n_rows; i++) {
            int64_t r = pd->row[i];
            const double *x = pd->X + i * 3;
            CHECK(x[0] == (double)r, "predict x by name");
            CHECK(x[1] == (r == 5 ? -1.0 : 6.0), "predict category code, -1 for unknown");
            CHECK(x[2] == (double)(r % 2), "predict boolean");
        }
        hf_dataset_free(pd);
        pd = NULL;
        if (rank == 0) {
            FILE *f = fopen(pcsv, "wb");
            if (f) {
                fputs("x,extra,b\n1,2,true\n", f);
                fclose(f);
            }
        }
        hf_comm_barrier(w);
        hf_error_clear();
        CHECK(hf_ingest_predict_input(w, pcsv, s, &opts, &pd) == HF_EDATA, "missing column");
        CHECK(strstr(hf_error_message(), "missing feature columns \"c\""), "names the column");
        hf_error_clear();
    }
    for (int i = 0; i < n; i++) {
        const double *x = d->X + (size_t)i * 3;
        int quoted = i % 7 == 0;
        double want_c = 2 * (i % 5) + quoted; /* "k0" < "k0,\n..." < "k1" bytewise */
        CHECK(d->row[i] == i, "row positions");
        CHECK(i % 11 == 0 ? isnan(x[0]) : x[0] == i * 0.25, "x values");
        CHECK(x[1] == want_c, "category codes");
        CHECK(x[2] == (i % 2 ? 1.0 : 0.0), "boolean codes");
        CHECK(d->y[i] == i % 3, "class index");
    }
    hf_dataset_free(d);
    d = NULL;
    hf_manifest_free(m);
    m = NULL;

    CHECK(hf_ingest(w, &spec, shards, &opts, NULL, &m, &reused) == 0, "second ingest");
    CHECK(reused == 1, "second ingest reuses the shards");
    hf_manifest_free(m);
    m = NULL;

    /* A changed file is ingested again. */
    rc = 0;
    if (rank == 0 && write_fixture(csv, n + 1, 0) != 0)
        rc = -1;
    hf_comm_barrier(w);
    CHECK(hf_ingest(w, &spec, shards, &opts, NULL, &m, &reused) == 0, "third ingest");
    CHECK(reused == 0 && hf_manifest_n_rows(m) == n + 1, "a changed file is re-ingested");
    hf_manifest_free(m);
    m = NULL;

    /* A bad row: an error naming file, line and column, or a skipped row with on_bad_rows: skip. */
    if (rank == 0) {
        FILE *f = fopen(csv, "ab");
        if (f) {
            fputs("1.5,k1,true,\n2.5,\"k2\",maybe,1\n", f);
            fclose(f);
        }
    }
    hf_comm_barrier(w);
    char *b_name[] = {"b"};
    int b_type[] = {HF_COL_BOOLEAN};
    spec.column_names = b_name;
    spec.column_types = b_type;
    spec.n_columns = 1;
    hf_error_clear();
    CHECK(hf_ingest(w, &spec, shards, &opts, NULL, &m, &reused) == HF_EDATA, "bad row fails");
    char want[400];
    /* header line 1, n + 1 data lines; rows with i % 7 == 0 span two lines. */
    int lines = 1 + (n + 1) + (n + 1 + 6) / 7;
    snprintf(want, sizeof want,
             "%s:%d:13: column \"y\": got a missing value, expected a target "
             "value",
             csv, lines + 1);
    if (strcmp(hf_error_message(), want) != 0 && rank == 0)
        fprintf(stderr, "got:  %s\nwant: %s\n", hf_error_message(), want);
    CHECK(strcmp(hf_error_message(), want) == 0, "bad row message");
    {
        char *mp = hf_manifest_path(shards);
        int exists = hf_fs_exists(mp);
        free(mp);
        CHECK(!exists, "a failed ingest leaves no manifest");
    }
    hf_error_clear();
    spec.skip_bad_rows = 1;
    CHECK(hf_ingest(w, &spec, shards, &opts, rejects, &m, &reused) == 0, "skip bad rows");
    CHECK(hf_manifest_n_rows(m) == n + 1 && hf_manifest_rejected(m) == 2, "two rows rejected");
    if (rank == 0) {
        char *text = NULL;
        size_t len = 0;
        CHECK(hf_fs_read_file(rejects, &text, &len) == 0, "read rejects.csv");
        int ok = strstr(text, "expected a target value") && strstr(text, "\"maybe\"") &&
                 strstr(text, "expected true or false");
        free(text);
        CHECK(ok, "rejects.csv names both rows and reasons");
    }
out:
    hf_dataset_free(d);
    hf_manifest_free(m);
    return bad;
}

int main(int argc, char **argv)
{
    hf_comm *w = NULL;
    if (hf_comm_init(&argc, &argv, &w) != 0) {
        fprintf(stderr, "MPI init failed: %s\n", hf_error_message());
        return 1;
    }
    hf_log_set_rank(hf_comm_rank(w));
    if (getenv("HF_DEBUG"))
        hf_log_set_level(HF_LOG_DEBUG);
    int rc = argc > 1 && strcmp(argv[1], "ingest") == 0 ? driver(w, argc, argv) : self_test(w);
    hf_comm_finalize(w);
    return rc;
}
