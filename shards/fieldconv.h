/* fieldconv.h - one text field of a feature column into the double a model sees: the conversion
 * `hyperfold predict` (shards/ingest_records.c) and `hyperfold serve` (coordinator/serve.c) share,
 * so that both give the same value for the same text, bit for bit.
 *
 * Not collective; no context, no allocation, thread-safe. */
#ifndef HF_FIELDCONV_H
#define HF_FIELDCONV_H

#include "common/dataset.h"

#include <stddef.h>

/* The default NA texts of a prediction input ("", NA, NaN, null, ?): what predict accepts as a
 * missing value. */
char *const *hf_fieldconv_default_na(size_t *n_na);

/* Converts the text p[0..len) of the feature column `col` (its name `name` for messages) into
 * *out: an NA text (one of na[0..n_na)) is NAN; a numeric column takes a finite decimal number
 * (hf_csv_parse_double); a boolean column true/false in any of its spellings (0/1 codes); a
 * categorical column its category's code, or -1 for a category the model never saw (the
 * preprocessing treats it as unseen). Returns 0, or 1 when the text is not a value of the column:
 * then `what` holds one line "column \"NAME\": got \"TEXT\", expected ..." (the words predict's
 * errors use) and *bad_off the offset in the text of the byte at fault (0 unless the text is not
 * UTF-8). */
int hf_fieldconv(const hf_column *col, const char *name, const char *p, size_t len, char *const *na,
                 size_t n_na, double *out, size_t *bad_off, char *what, size_t what_cap);

/* The one line that says the text p[0..len) of the datetime column `name` is not a date and time
 * of the format `fmt` (NULL: ISO 8601), into what[0..what_cap): "column \"NAME\": got \"TEXT\",
 * expected ..." (the text and the format shown escaped). ingest (pass 1), predict and serve all
 * build their message with it; each caller adds its own file:row:column prefix. */
void hf_fieldconv_dt_message(const char *name, const char *p, size_t len, const char *fmt,
                             char *what, size_t what_cap);

/* The text of the input column whose first feature is s->features[k] (hf_schema_input_span
 * features from k) into out[0..span): a plain feature as hf_fieldconv; the raw text of a
 * datetime column (hf_column.source) parsed with the column's format (ISO 8601 when none) into
 * its derived features (shards/datetime.h), an NA text making each NAN; a text that does not
 * parse is 1 with "column \"NAME\": got \"TEXT\", expected <the format>" in `what`. */
int hf_fieldconv_input(const hf_schema *s, size_t k, const char *name, const char *p, size_t len,
                       char *const *na, size_t n_na, double *out, size_t *bad_off, char *what,
                       size_t what_cap);

#endif
