/* csvw.h - writing CSV (RFC 4180) output: results' trials.csv, predictions, rejects. */
#ifndef HF_CSVW_H
#define HF_CSVW_H

#include "common/dataset.h"

#include <stdio.h>

/* Writes one field, quoted (with doubled quotes) when it holds a comma, quote, CR or LF. */
void hf_csvw_put_field(FILE *fp, const char *s);

/* The predicted class of a row of class probabilities p[0..n): the most probable, the lowest index
 * winning ties (numpy's argmax, as worker/metrics.h scores it). */
size_t hf_pred_class(const double *p, size_t n);

/* The prediction columns' names as predict, serve, evaluate and oof.csv write them: "prediction"
 * and, for a classifier, "proba_<class>" for each class (CSV-quoted as needed; no newline). */
void hf_csvw_put_pred_header(FILE *fp, const hf_schema *s);

/* One row's prediction columns: a classifier's predicted class and its n_outputs probabilities, a
 * regressor's value; numbers as %.17g (no newline). */
void hf_csvw_put_pred(FILE *fp, const hf_schema *s, const double *p, size_t n_outputs);

#endif
