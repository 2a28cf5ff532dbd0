/* bind.h - the job-spec binder: YAML nodes into module options through their tables (internal to
 * jobs/; spec.c composes the sections).
 *
 * Every function records its first error as one line "FILE:LINE:COL: KEY: got VALUE, expected
 * WHAT" (hf_error, HF_EINVAL) and returns the code. Positions of every key bound are recorded in
 * the spec (hf_spec.keys), so that the modules can name them later (hf_opt_where). */
#ifndef HF_BIND_H
#define HF_BIND_H

#include "jobs/spec.h"

#include <stdint.h>
#include <yaml.h>

#define HF_BIND_PATH_LEN 512

typedef struct hf_bind {
    const char *path; /* the spec file, for messages */
    yaml_document_t *doc;
    hf_spec *spec; /* where keys are recorded */
} hf_bind;

yaml_node_t *hf_bind_node(hf_bind *b, int idx);
const char *hf_bind_text(const yaml_node_t *n);

/* Records "FILE:LINE:COL: KEY: <message>" (or "FILE: KEY: <message>" without a node). */
int hf_bind_fail(hf_bind *b, const yaml_node_t *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "got VALUE, expected WHAT" about node n. */
int hf_bind_fail_got(hf_bind *b, const yaml_node_t *n, const char *key, const char *expected);

/* Checks that n is a mapping whose keys are names from `allowed` (NULL: any name), each once. */
int hf_bind_check_mapping(hf_bind *b, const yaml_node_t *n, const char *key,
                          const char *const *allowed);
/* The value of `key` in the mapping, NULL if absent or null. */
yaml_node_t *hf_bind_lookup(hf_bind *b, const yaml_node_t *map, const char *key);
/* A non-empty string scalar into *out (replacing it). */
int hf_bind_string(hf_bind *b, const yaml_node_t *n, const char *key, const char *what, char **out);
/* Records where `key` was given (the node's position). */
int hf_bind_record(hf_bind *b, const char *key, const yaml_node_t *n);

/* Binds the mapping `map` (NULL: the section is absent, its defaults stay) into opts through the
 * section's table: every key checked, every value typed, positions recorded, the source set and
 * the section's check run. */
/* What a value of the setting must be, as the binder's messages say it ("an integer >= 2",
 * "kfold, stratified, ... or timeseries"): for `hyperfold keys`. */
void hf_bind_describe_opt(const hf_opt_def *d, char *buf, size_t len);
void hf_bind_describe_param(const hf_param_def *def, char *buf, size_t len);

int hf_bind_section(hf_bind *b, const yaml_node_t *map, const hf_opt_section *sec, void *opts,
                    hf_opt_source src);

/* One searchable parameter of definition `def` at `key` (a scalar: fixed; a list: choices; a
 * mapping: a distribution), named `name` in the space, appended to the space. */
int hf_bind_param(hf_bind *b, const yaml_node_t *n, const char *key, const hf_param_def *def,
                  const char *name, hf_space *space);

/* The settings of a table of parameter definitions given as (nested) mappings under `key`:
 * definition names are dotted paths ("impute.numeric" is `impute: {numeric: ...}`). Each
 * setting given becomes a parameter "<key>.<name>" of the space, in spec order. */
int hf_bind_param_table(hf_bind *b, const yaml_node_t *map, const char *key,
                        const hf_param_def *(*def_at)(size_t i), size_t n_defs, hf_space *space);

/* Not collective. A size in bytes: "2GiB", "512MiB", "1.5G", "64gib", "1GB", "1000000" (case does
 * not matter; K/M/G/T and KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB powers of 1000, an
 * optional B). 0 with *out set, or -1 (no message) for anything else, 0 bytes, a fraction of a
 * byte or a size past 2^64. The one size parser of the job spec and of the command lines. */
int hf_bind_parse_size(const char *text, uint64_t *out);

#endif
