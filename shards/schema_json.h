/* schema_json.h - the dataset schema as JSON: stored in manifest.json and in model.h5.
 *
 * Format (keys in this order):
 *   {"features": [{"name": "x", "type": "numeric"},
 *                 {"name": "c", "type": "categorical", "categories": ["a", "b"]},
 *                 {"name": "flag", "type": "boolean", "categories": ["false", "true"]},
 *                 {"name": "when.year", "type": "numeric", "source": "when", "part": "year",
 *                  "format": null}],
 *    "target": "y", "task": "regression" | "classification", "classes": ["0", "1"],
 *    "fold_column": null, "group_column": null, "order_column": null}
 * "classes" is present only for classification. "source", "part" and "format" only for a feature
 * derived from a datetime column (hf_column; format null: ISO 8601, else the strptime format);
 * a reader that predates them sees a numeric feature "when.year" that an input lacks, and says so,
 * rather than misreading it. */
#ifndef HF_SCHEMA_JSON_H
#define HF_SCHEMA_JSON_H

#include "common/dataset.h"

#include <jansson.h>

/* The schema as compact JSON text. Returns a new string (caller frees) or NULL (error recorded). */
char *hf_schema_json_to_text(const hf_schema *s);
/* Parses schema JSON text. On success *out is a new schema (free with hf_schema_free). Errors:
 * HF_EINVAL with a message naming the key and what was expected. */
int hf_schema_json_from_text(const char *text, hf_schema **out);
/* The same as a jansson value (new reference, NULL on failure with the error recorded). */
json_t *hf_schema_json_encode(const hf_schema *s);
/* From a jansson value (borrowed). */
int hf_schema_json_decode(const json_t *j, hf_schema **out);

#endif
