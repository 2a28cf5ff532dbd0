/* opts.h - how a module declares the settings it owns.
 *
 * Each module that a job spec configures (ingest, S3, cross-validation, search, metrics, output,
 * parallel groups, Slurm) owns one plain options struct, its defaults, its validation and a table
 * of hf_opt_def entries that name its YAML keys, their types and where they live in the struct
 * (offsetof). The job-spec binder (jobs/bind.c) reads a YAML section into the struct through the
 * table, checks every key and value against it with file:line:col messages, and records where
 * each key was given; the module never sees YAML. What the table marks HF_OPT_HASHED is part of
 * a run's identity (a journal resumes only a sweep of the same identity), derived from the table
 * too, so a new setting is one entry in its module: the table is the single place that says
 * what the setting is called, what it accepts, whether it changes the results and what it means
 * (docs). The way PETSc's objects register their options and Redis's config table work.
 *
 * Checks that need the data (a fold column that has too few folds, ...) run in the module at data
 * time and name the key's position with hf_opt_where(&opts->src, "cv.folds", ...). */
#ifndef HF_OPTS_H
#define HF_OPTS_H

#include <stddef.h>
#include <stdint.h>

typedef enum hf_opt_kind {
    HF_OPT_STRING,      /* char *, owned; non-empty */
    HF_OPT_STRING_LIST, /* char ** with a size_t count at count_offset; owned */
    HF_OPT_INT,         /* int within [min, max] */
    HF_OPT_SEED,        /* uint64_t: an integer >= 0 */
    HF_OPT_NUMBER,      /* double within [min, max] */
    HF_OPT_BOOL,        /* int 0 or 1 */
    HF_OPT_ENUM,        /* int: the index of the value in choices (first_choice added) */
    HF_OPT_SIZE,        /* uint64_t bytes: "2GiB", "512MiB", "1G", a number of bytes */
    HF_OPT_ENUM_MAP,    /* a mapping NAME -> one of choices: char ** names and int * values,
                         * count at count_offset, values at aux_offset; owned */
    HF_OPT_CUSTOM       /* a scalar parsed by `parse` */
} hf_opt_kind;

/* Flags of an hf_opt_def. */
#define HF_OPT_HASHED 1u       /* decides the results: part of the run's identity */
#define HF_OPT_REQUIRED 2u     /* the key must be given */
#define HF_OPT_EMPTY_ITEMS 4u  /* STRING_LIST: items may be empty strings ("" is a NA value) */
#define HF_OPT_NULL_DEFAULT 8u /* an explicit null (`key: ~`) keeps the default, like absence */

typedef struct hf_opt_def {
    const char *key; /* within its section: "folds" */
    hf_opt_kind kind;
    size_t offset;              /* offsetof(the options struct, the field) */
    unsigned flags;             /* HF_OPT_* */
    double min, max;            /* INT and NUMBER: inclusive bounds */
    const char *const *choices; /* ENUM, ENUM_MAP: the accepted names, NULL-terminated;
                                 * STRING, STRING_LIST: if set, the accepted values */
    /* Instead of choices, when the names come from a module's own table (the metrics): returns
     * them, NULL-terminated, static. */
    const char *const *(*choices_fn)(void);
    int first_choice;    /* ENUM: the value stored for choices[0] (e.g. 0) */
    size_t count_offset; /* STRING_LIST, ENUM_MAP: offsetof the size_t count */
    size_t aux_offset;   /* ENUM_MAP: offsetof the int * values */
    /* CUSTOM: parses a scalar's text into the options struct (`offset` names the main field,
     * for the docs and the release); returns 0, or -1 when the text is not accepted (the binder
     * then reports "got TEXT, expected <expected>"), or a negative HF_E* code with a message
     * set. May allocate into the struct (freed by `release`). */
    int (*parse)(const char *text, void *opts);
    /* CUSTOM: frees what parse allocated in the struct (NULL: nothing to free). */
    void (*release)(void *opts);
    const char *expected; /* what a value must be, for messages ("an integer >= 2") */
    const char *help;     /* one line for the documentation */
} hf_opt_def;

/* Where settings came from: the binder answers "job.yaml:7:10" for a key it bound, or the spec
 * file's name for a default. A zeroed source answers "job spec". */
typedef struct hf_opt_source {
    const char *(*where)(const void *arg, const char *key, char *buf, size_t len);
    const void *arg;
} hf_opt_source;

/* A section of the job spec and the module that owns it. */
typedef struct hf_opt_section {
    const char *name;       /* "cv" */
    const hf_opt_def *defs; /* its keys */
    size_t n_defs;
    size_t src_offset; /* offsetof(the options struct, its hf_opt_source) */
    /* Cross-key rules once the section is bound (and on defaults when it is absent), with
     * messages that name the keys through the source. NULL = none. Not collective. */
    int (*check)(void *opts);
} hf_opt_section;

/* Not collective. "FILE:LINE:COL" of `key` ("cv.folds") as recorded by the binder, or the spec
 * file for a default; into buf, which is returned. */
const char *hf_opt_where(const hf_opt_source *src, const char *key, char *buf, size_t len);

/* Not collective. Frees the strings, lists and custom fields the table's entries own in opts
 * (the struct itself is the caller's) and zeroes those fields. */
void hf_opts_release(const hf_opt_section *sec, void *opts);

/* Not collective. Appends the section's HF_OPT_HASHED settings, in table order, as canonical text
 * ("cv.folds=5\n...") to *text (a growing buffer the caller frees); defaults count like given
 * values, so an omitted key and its default spelled out give the same identity. */
int hf_opts_identity(const hf_opt_section *sec, const void *opts, char **text, size_t *len);

/* Not collective. Appends "name=value\n" to *text: the building block of identities that are not
 * a table's (the search space, the model). */
int hf_opts_identity_add(char **text, size_t *len, const char *name, const char *value);

#endif
