/* mpitest_predict_input.c - hf_ingest_predict_input_ex at any number of ranks (ctest: 1, 2, 4):
 * the target read for evaluation (class labels, numeric labels in another form, regression
 * numbers), its errors (unknown label, non-number, missing column), the target ignored when the
 * option is off, kept columns, unknown columns with and without --ignore-extra-columns, and the
 * input object of each row of a directory input. */
#include "common/comm.h"
#include "common/dataset.h"
#include "common/fsutil.h"
#include "common/hf.h"
#include "shards/ingest.h"
#include "tests/mpi/mpitest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A schema with one numeric feature x and the target "t". */
static hf_schema *make_schema(hf_task_kind task, const char *const *classes, size_t n_classes)
{
    hf_schema *s = hf_calloc(1, sizeof *s);
    s->n_features = 1;
    s->features = hf_calloc(1, sizeof *s->features);
    s->features[0].name = hf_strdup("x");
    s->features[0].type = HF_COL_NUMERIC;
    s->target = hf_strdup("t");
    s->task = task;
    if (n_classes) {
        s->classes = hf_calloc(n_classes, sizeof *s->classes);
        for (size_t k = 0; k < n_classes; k++)
            s->classes[k] = hf_strdup(classes[k]);
        s->n_classes = n_classes;
    }
    return s;
}

static void write_file(hf_comm *w, const char *path, const char *text)
{
    if (world_rank == 0) {
        FILE *f = fopen(path, "wb");
        if (f) {
            fputs(text, f);
            fclose(f);
        }
    }
    hf_comm_barrier(w);
}

/* Reads path with pio; returns the status, the rows summed over the ranks in *total. */
static int read_input(hf_comm *w, const char *path, const hf_schema *s,
                      const hf_predict_input_opts *pio, hf_dataset **d, hf_predict_rows **rows)
{
    hf_source_opts so = {.rank = world_rank};
    hf_error_clear();
    return hf_ingest_predict_input_ex(w, path, s, &so, pio, d, rows);
}

int main(int argc, char **argv)
{
    hf_comm *w = NULL;
    if (hf_comm_init(&argc, &argv, &w) != 0)
        return 1;
    world_rank = hf_comm_rank(w);
    char dir[] = "/tmp/hf_predict_input_XXXXXX";
    int rc = 0;
    if (world_rank == 0 && !mkdtemp(dir))
        rc = -1;
    hf_comm_bcast(w, dir, sizeof dir, 0);
    CHECK(hf_comm_check(w, rc) == 0, "mkdtemp");
    char csv[300], sub[300], p1[320], p2[320];
    snprintf(csv, sizeof csv, "%s/in.csv", dir);
    hf_dataset *d = NULL;
    hf_predict_rows *rows = NULL;
    hf_predict_input_opts on = {.read_target = 1};

    /* Classification with text labels: y is the index into the classes. */
    static const char *const abc[] = {"a", "b", "c"};
    hf_schema *s = make_schema(HF_TASK_CLASSIFICATION, abc, 3);
    write_file(w, csv, "x,t\n0,a\n1,c\n2,b\n3,\"c\"\n4,a\n5,b\n6,c\n");
    CHECK(read_input(w, csv, s, &on, &d, NULL) == 0, "classes: %s", hf_error_message());
    for (size_t i = 0; d && i < d->n_rows; i++) {
        static const double want[] = {0, 2, 1, 2, 0, 1, 2};
        CHECK(d->y[i] == want[d->row[i]], "class index of row %lld: %g", (long long)d->row[i],
              d->y[i]);
        CHECK(d->X[i] == (double)d->row[i], "x of row %lld", (long long)d->row[i]);
    }
    hf_dataset_free(d);
    d = NULL;
    /* The option off: the target is ignored, y is NaN. */
    CHECK(read_input(w, csv, s, NULL, &d, NULL) == 0, "option off: %s", hf_error_message());
    for (size_t i = 0; d && i < d->n_rows; i++)
        CHECK(isnan(d->y[i]), "option off: y NaN");
    hf_dataset_free(d);
    d = NULL;
    /* An unknown label: one line with the file, line, column, value and the known classes. */
    write_file(w, csv, "x,t\n0,a\n1,b\n2,zebra\n3,c\n");
    CHECK(read_input(w, csv, s, &on, &d, NULL) == HF_EDATA, "unknown label refused");
    CHECK(strstr(hf_error_message(), "in.csv:4:3: column \"t\": got the label \"zebra\", "
                                     "expected one of the model's 3 classes \"a\", \"b\", \"c\"") &&
              !strchr(hf_error_message(), '\n'),
          "unknown label message: %s", hf_error_message());
    /* The option off: the same file reads (the label is not looked at). */
    CHECK(read_input(w, csv, s, NULL, &d, NULL) == 0, "option off, unknown label ignored");
    hf_dataset_free(d);
    d = NULL;
    /* A missing target value. */
    write_file(w, csv, "x,t\n0,a\n1,\n");
    CHECK(read_input(w, csv, s, &on, &d, NULL) == HF_EDATA, "missing target value refused");
    CHECK(strstr(hf_error_message(), "in.csv:3:3: column \"t\": got a missing value"),
          "missing value message: %s", hf_error_message());
    /* The target column absent. */
    write_file(w, csv, "x\n0\n1\n");
    CHECK(read_input(w, csv, s, &on, &d, NULL) == HF_EDATA, "absent target refused");
    CHECK(strstr(hf_error_message(), "the target column \"t\" is missing"),
          "absent target message: %s", hf_error_message());
    CHECK(read_input(w, csv, s, NULL, &d, NULL) == 0, "option off: no target needed");
    hf_dataset_free(d);
    d = NULL;
    hf_schema_free(s);

    /* Numeric labels: "1.0" and "1" are the class "1". */
    static const char *const num[] = {"0", "1", "10"};
    s = make_schema(HF_TASK_CLASSIFICATION, num, 3);
    write_file(w, csv, "t,x\n1.0,0\n10,1\n0,2\n1e1,3\n1,4\n");
    CHECK(read_input(w, csv, s, &on, &d, NULL) == 0, "numeric labels: %s", hf_error_message());
    for (size_t i = 0; d && i < d->n_rows; i++) {
        static const double want[] = {1, 2, 0, 2, 1};
        CHECK(d->y[i] == want[d->row[i]], "numeric label of row %lld: %g", (long long)d->row[i],
              d->y[i]);
    }
    hf_dataset_free(d);
    d = NULL;
    write_file(w, csv, "t,x\n1,0\n2,1\n");
    CHECK(read_input(w, csv, s, &on, &d, NULL) == HF_EDATA, "numeric unknown label");
    CHECK(strstr(hf_error_message(), "got the label \"2\", expected one of the model's 3 classes "
                                     "\"0\", \"1\", \"10\""),
          "numeric unknown label message: %s", hf_error_message());
    hf_schema_free(s);

    /* Regression: the number; a text is an error like the features'. */
    s = make_schema(HF_TASK_REGRESSION, NULL, 0);
    write_file(w, csv, "x,t\n0,0.5\n1,-2.25\n2,1e3\n3,7\n");
    CHECK(read_input(w, csv, s, &on, &d, NULL) == 0, "regression: %s", hf_error_message());
    for (size_t i = 0; d && i < d->n_rows; i++) {
        static const double want[] = {0.5, -2.25, 1000, 7};
        CHECK(d->y[i] == want[d->row[i]], "regression target of row %lld: %g", (long long)d->row[i],
              d->y[i]);
    }
    hf_dataset_free(d);
    d = NULL;
    write_file(w, csv, "x,t\n0,0.5\n1,abc\n");
    CHECK(read_input(w, csv, s, &on, &d, NULL) == HF_EDATA, "regression text refused");
    CHECK(strstr(hf_error_message(), "in.csv:3:3: column \"t\": got \"abc\", expected a number"),
          "regression text message: %s", hf_error_message());

    /* Kept and unknown columns. */
    write_file(w, csv, "id,x,note,t\n\"a,1\",0,n0,1\nb2,1,,2\n");
    CHECK(read_input(w, csv, s, NULL, &d, NULL) == HF_EDATA, "unknown columns refused");
    CHECK(strstr(hf_error_message(), "unknown columns \"id\", \"note\"") &&
              strstr(hf_error_message(), "--keep-columns") &&
              strstr(hf_error_message(), "--ignore-extra-columns"),
          "unknown columns message: %s", hf_error_message());
    char *keep_id[] = {"id"}, *keep_both[] = {"note", "id"}, *keep_bad[] = {"id", "nope"};
    hf_predict_input_opts ko = {.keep = keep_id, .n_keep = 1};
    CHECK(read_input(w, csv, s, &ko, &d, &rows) == HF_EDATA, "one unknown column left");
    CHECK(strstr(hf_error_message(), "unknown columns \"note\""), "note unknown: %s",
          hf_error_message());
    ko.ignore_extra_columns = 1;
    CHECK(read_input(w, csv, s, &ko, &d, &rows) == 0, "keep id, ignore note: %s",
          hf_error_message());
    hf_dataset_free(d);
    d = NULL;
    hf_predict_rows_free(rows);
    rows = NULL;
    ko = (hf_predict_input_opts){.keep = keep_both, .n_keep = 2, .read_target = 1};
    CHECK(read_input(w, csv, s, &ko, &d, &rows) == 0, "keep both: %s", hf_error_message());
    for (size_t i = 0; d && rows && i < d->n_rows; i++) {
        int64_t r = d->row[i];
        CHECK(strcmp(rows->kept[i * 2], r == 0 ? "n0" : "") == 0, "kept note");
        CHECK(strcmp(rows->kept[i * 2 + 1], r == 0 ? "a,1" : "b2") == 0, "kept id");
        CHECK(d->y[i] == (double)(r + 1), "target with kept columns");
    }
    hf_dataset_free(d);
    d = NULL;
    hf_predict_rows_free(rows);
    rows = NULL;
    ko = (hf_predict_input_opts){.keep = keep_bad, .n_keep = 2, .ignore_extra_columns = 1};
    CHECK(read_input(w, csv, s, &ko, &d, &rows) == HF_EDATA, "absent keep column refused");
    CHECK(strstr(hf_error_message(), "columns to keep \"nope\" are not in the header"),
          "absent keep message: %s", hf_error_message());

    /* A directory of two objects: each row's object, and the rows of each object. */
    snprintf(sub, sizeof sub, "%s/in", dir);
    snprintf(p1, sizeof p1, "%s/part-1.csv", sub);
    snprintf(p2, sizeof p2, "%s/part-2.csv", sub);
    if (world_rank == 0)
        mkdir(sub, 0700);
    write_file(w, p1, "id,x\nr0,0\nr1,1\nr2,2\n");
    write_file(w, p2, "id,x\nr3,3\nr4,4\nr5,5\nr6,6\nr7,7\n");
    ko = (hf_predict_input_opts){.keep = keep_id, .n_keep = 1};
    CHECK(read_input(w, sub, s, &ko, &d, &rows) == 0, "directory: %s", hf_error_message());
    CHECK(rows && rows->n_objects == 2, "two objects");
    CHECK(rows && rows->object_rows[0] == 3 && rows->object_rows[1] == 5, "rows per object");
    CHECK(rows && strstr(rows->objects[1], "part-2.csv"), "object names");
    for (size_t i = 0; d && rows && i < d->n_rows; i++) {
        char want[8];
        snprintf(want, sizeof want, "r%lld", (long long)d->row[i]);
        CHECK(strcmp(rows->kept[i], want) == 0, "kept id in a directory: %s", rows->kept[i]);
        CHECK(rows->object[i] == (d->row[i] < 3 ? 0u : 1u), "object of row %lld",
              (long long)d->row[i]);
    }
    hf_dataset_free(d);
    hf_predict_rows_free(rows);
    hf_schema_free(s);

    hf_comm_barrier(w);
    if (world_rank == 0) {
        unlink(p1);
        unlink(p2);
        rmdir(sub);
        unlink(csv);
        rmdir(dir);
    }
    int64_t f = failures;
    hf_comm_allreduce_sum_i64(w, &f, 1);
    if (world_rank == 0)
        printf("%s (%lld failures)\n", f ? "FAIL" : "OK", (long long)f);
    hf_comm_finalize(w);
    return f ? 1 : 0;
}
