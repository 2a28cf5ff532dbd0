/* report.h - RUN/report.html: one self-contained page about a finished run (docs/report.md).
 *
 * report.c gathers what the run directory holds (results.json, job.yaml, the shards' manifest,
 * journal.jsonl, model.h5) and writes the page's skeleton, the problem, the data profile and the
 * provenance; report_search.c the search and folds sections; report_timeline.c the timeline;
 * report_eval.c the evaluation plots. The page has no script and no external resource: plots are
 * inline SVG (common/svg.h), and every string from the data is escaped. The same run directory
 * gives the same bytes. Nothing here is collective. */
#ifndef HF_REPORT_H
#define HF_REPORT_H

#include "common/svg.h"
#include "jobs/spec.h"
#include "shards/partition.h"

#include <jansson.h>

/* Not collective (one process, no MPI). Writes the report of run directory `run_dir` to `output`
 * (NULL: RUN/report.html) atomically. HF_EINVAL naming the file when results.json is missing or
 * not a run's results; the optional inputs (job.yaml, shards, journal, model.h5) are described
 * as missing in the page when absent. */
int hf_report_write(const char *run_dir, const char *output);

/* What the sections read: results.json (required) and the spec (NULL when job.yaml is absent or
 * no longer parses). Borrowed by the section writers. */
typedef struct hf_report_ctx {
    const char *run_dir;
    json_t *results;
    const hf_spec *spec;
    const hf_manifest *manifest; /* the shards' manifest (NULL when absent) */
    const char *metric;
    int maximize;
} hf_report_ctx;

/* Section writers (report_search.c, report_timeline.c, report_eval.c): each appends one
 * <section id=...>. */
void hf_report_search(hf_svg_buf *b, const hf_report_ctx *c);
void hf_report_folds(hf_svg_buf *b, const hf_report_ctx *c);
void hf_report_timeline(hf_svg_buf *b, const hf_report_ctx *c);
void hf_report_evaluation(hf_svg_buf *b, const hf_report_ctx *c);

/* Shared helpers (report.c). */
/* A number of a JSON value (NAN if it is not one). */
double hf_report_num(const json_t *v);
/* A table row of a key and a value (both escaped). */
void hf_report_row(hf_svg_buf *b, const char *key, const char *value);
/* A JSON scalar as short text into buf (strings as they are, numbers %.6g, true/false, "-"). */
const char *hf_report_scalar(const json_t *v, char *buf, size_t len);

#endif
