/* serve.h - `hyperfold serve`'s request bodies: rows in (CSV, JSON, JSON lines) into the model's
 * feature matrix through the conversion predict uses (shards/fieldconv.h), and predictions out in
 * the formats predict and SageMaker clients read (docs/serving.md). Not collective; thread-safe. */
#ifndef HF_SERVE_H
#define HF_SERVE_H

#include "common/dataset.h"

#include <stddef.h>

typedef enum hf_serve_fmt {
    HF_SERVE_CSV = 1,   /* text/csv */
    HF_SERVE_JSON = 2,  /* application/json */
    HF_SERVE_JSONL = 3, /* application/jsonlines */
} hf_serve_fmt;

/* The body of a request in format `fmt` (CSV: `header` 1 when its first record names the
 * columns) into *X (n x schema->n_features, row-major, malloc'ed; NULL when n is 0) and *n.
 * Returns 0; 1 on bad input, with one line in err naming the row (1-based, data rows), the column
 * and what was expected; < 0 (HF_ENOMEM) when out of memory. */
int hf_serve_parse(const hf_schema *s, hf_serve_fmt fmt, int header, const char *body, size_t len,
                   double **X, size_t *n, char *err, size_t err_cap);

/* The predictions pred (n x n_outputs) in format `fmt` into a new malloc'ed buffer *out of *len
 * bytes: CSV exactly as predict writes its output file (header `prediction[,proba_<class>...]`,
 * numbers %.17g); JSON {"predictions":[{"prediction":...,"proba_<class>":...},...]}; JSON lines
 * one such object per row. Returns 0 or HF_ENOMEM. */
int hf_serve_format(const hf_schema *s, size_t n_outputs, const double *pred, size_t n,
                    hf_serve_fmt fmt, char **out, size_t *len);

#endif
