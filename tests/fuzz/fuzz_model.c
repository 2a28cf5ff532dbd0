/* fuzz_model.c - hf_modelfile_read, then prediction, as `hyperfold predict` does (see
 * fuzz_model.h).
 *
 * predict.c's format_rows is static: this file includes predict.c (from HF_ROOT, the copy with
 * the pending fixes), so the formatting is the product's own. */
#include "coordinator/predict.c"

#include "fuzz_model.h"
#include "fuzz_util.h"

#include <hdf5.h>
#include <math.h>

#define ROWS 6

/* Two NaN patterns as "never written" markers: a NaN from the file may carry any payload into a
 * prediction, but it carries the same one in both runs, while an unwritten cell keeps its run's
 * marker. */
static const uint64_t k_unwritten[2] = {UINT64_MAX, 0x7ff4deadbeef0001ull};

/* Predicts into out over a fill of marker `which`. */
static int predict_into(const hf_modelfile *m, const hf_dataset *d, double *out, size_t cells,
                        int which)
{
    for (size_t i = 0; i < cells; i++)
        memcpy(&out[i], &k_unwritten[which], sizeof k_unwritten[which]);
    return hf_predict_pipeline(m->prep, m->fitted, NULL, d, NULL, d->n_rows, out);
}

static void predict_rows(const hf_modelfile *m)
{
    const hf_schema *s = m->schema;
    size_t nf = s->n_features, no = m->fitted->n_outputs;
    static const double numbers[ROWS] = {0.0, 1.5, -2.0, 1e6, NAN, 3.0};
    hf_dataset d = {.schema = (hf_schema *)s, .n_rows = ROWS, .id = hf_dataset_new_id()};
    d.X = malloc((nf ? nf : 1) * ROWS * sizeof *d.X);
    d.y = calloc(ROWS, sizeof *d.y);
    d.row = calloc(ROWS, sizeof *d.row);
    double *out = malloc((no ? no : 1) * ROWS * sizeof *out);
    double *again = malloc((no ? no : 1) * ROWS * sizeof *again);
    if (!d.X || !d.y || !d.row || !out || !again)
        abort();
    for (size_t i = 0; i < ROWS; i++) {
        d.row[i] = (int64_t)i;
        for (size_t j = 0; j < nf; j++) {
            const hf_column *c = &s->features[j];
            size_t k = c->n_categories + 1; /* every code, then missing */
            d.X[i * nf + j] = c->type == HF_COL_NUMERIC       ? numbers[(i + j) % ROWS]
                              : (i + j) % k < c->n_categories ? (double)((i + j) % k)
                                                              : NAN;
        }
    }
    int rc = predict_into(m, &d, out, no * ROWS, 0);
    hf_fuzz_check_status(rc, "hf_predict_pipeline");
    if (rc >= 0) {
        rc = predict_into(m, &d, again, no * ROWS, 1);
        hf_fuzz_check(rc == HF_OK, "the second prediction failed: %s", hf_error_message());
        for (size_t i = 0; i < no * ROWS; i++) {
            int unwritten = !memcmp(&out[i], &k_unwritten[0], sizeof out[i]) &&
                            !memcmp(&again[i], &k_unwritten[1], sizeof again[i]);
            hf_fuzz_check(!unwritten,
                          "%s model: prediction row %zu column %zu of %zu was never written",
                          m->model_type, i / (no ? no : 1), i % (no ? no : 1), no);
            hf_fuzz_check(!memcmp(&out[i], &again[i], sizeof out[i]),
                          "%s model: prediction row %zu column %zu differs between two runs "
                          "(%.17g, %.17g)",
                          m->model_type, i / (no ? no : 1), i % (no ? no : 1), out[i], again[i]);
        }
        /* Both output formats of predict, one input object, no kept columns. */
        size_t object[ROWS] = {0};
        hf_predict_rows rows = {.n_rows = ROWS, .object = object, .n_objects = 1};
        out_cols oc;
        rc = out_cols_init(&oc, s, NULL, 0);
        hf_fuzz_check_status(rc, "out_cols_init");
        for (int fmt = FMT_CSV; rc >= 0 && fmt <= FMT_JSONL; fmt++) {
            char *text = NULL;
            size_t len = 0;
            int64_t obj_len[1] = {0};
            rc = format_rows(m, &oc, fmt, out, &rows, &text, &len, obj_len);
            hf_fuzz_check_status(rc, "format_rows");
            hf_fuzz_check(rc < 0 || obj_len[0] == (int64_t)len,
                          "format_rows: the object's length %lld is not the text's %zu",
                          (long long)obj_len[0], len);
            free(text);
        }
        out_cols_free(&oc);
    }
    free(d.X);
    free(d.y);
    free(d.row);
    free(out);
    free(again);
}

/* Every HDF5 object hyperfold opened is closed again (else the file stays open inside libhdf5,
 * and the next open of the same path reads its cached metadata). */
static void check_closed(const char *what)
{
    ssize_t open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    hf_fuzz_check(open == 0, "%s left %zd HDF5 objects open", what, open);
}

void hf_fuzz_model(const char *path)
{
    hf_modelfile *m = NULL;
    int rc = hf_modelfile_read(path, &m);
    hf_fuzz_check_status(rc, "hf_modelfile_read");
    check_closed("hf_modelfile_read");
    if (rc < 0) {
        hf_fuzz_check(m == NULL, "hf_modelfile_read failed but returned a model");
        return;
    }
    hf_fuzz_check(m->model_type && m->schema && m->prep && m->fitted,
                  "hf_modelfile_read returned a model without type, schema, prep or fitted model");
    predict_rows(m);
    hf_modelfile_free(m);
}
