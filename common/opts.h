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
    HF_OPT_CUSTOM,      /* a scalar parsed by `parse` into fields that own nothing */
    HF_OPT_STRING_MAP,  /* a mapping NAME -> a non-empty string: char ** names and char ** values,
                         * count at count_offset, values at aux_offset; owned */
    HF_OPT_SUBSECTION   /* a nested mapping bound through its own section `sub` into the
                         * struct embedded at offset (data.etl) */
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
    /* STRING: if set, whether a value is of the accepted form (1) or not (0): an URL scheme, a
     * time limit. The message is "got TEXT, expected <expected>". */
    int (*accept)(const char *text);
    /* Instead of choices, when the names come from a module's own table (the metrics): returns
     * them, NULL-terminated, static. */
    const char *const *(*choices_fn)(void);
    int first_choice;    /* ENUM: the value stored for choices[0] (e.g. 0) */
    size_t count_offset; /* STRING_LIST, ENUM_MAP, STRING_MAP: offsetof the size_t count */
    size_t aux_offset;   /* ENUM_MAP: offsetof the int * values; STRING_MAP: the char ** */
    /* CUSTOM: parses a scalar's text into the options struct (`offset` names the main field,
     * for the docs); returns 0, or -1 when the text is not accepted (the binder then reports
     * "got TEXT, expected <expected>"). Allocates nothing: a setting that owns memory is a
     * STRING (with `accept` for its form). */
    int (*parse)(const char *text, void *opts);
    const char *expected; /* what a value must be, for messages ("an integer >= 2") */
    /* SUBSECTION: the nested mapping's section (its name is the full key path, "data.etl"). */
    const struct hf_opt_section *sub;
    const char *help; /* one line for the documentation */
} hf_opt_def;

/* Table entries. One positional macro a kind, the way Redis's config table declares a setting
 * in one call (createIntConfig(name, alias, flags, field, default, min, max, ...)): KEY the key
 * within the section, T the options struct, F its field, FL the HF_OPT_* flags, HELP the line for
 * the docs. An entry no macro fits is written as {HF_OPT_FIELD(...), .member = ...}. An INT's
 * messages say "an integer >= MIN" (or "in [MIN, MAX]") by themselves. */
#define HF_OPT_FIELD(KEY, KIND, T, F, FL)                                                          \
    .key = (KEY), .kind = (KIND), .offset = offsetof(T, F), .flags = (FL)
#define HF_DEF_STRING(KEY, T, F, FL, EXPECTED, HELP)                                               \
    {                                                                                              \
        HF_OPT_FIELD(KEY, HF_OPT_STRING, T, F, FL), .expected = (EXPECTED), .help = (HELP)         \
    }
#define HF_DEF_STRING_IF(KEY, T, F, FL, ACCEPT, EXPECTED, HELP)                                    \
    {                                                                                              \
        HF_OPT_FIELD(KEY, HF_OPT_STRING, T, F, FL), .accept = (ACCEPT), .expected = (EXPECTED),    \
                                                    .help = (HELP)                                 \
    }
#define HF_DEF_CHOICE(KEY, T, F, FL, CHOICES, HELP)                                                \
    {                                                                                              \
        HF_OPT_FIELD(KEY, HF_OPT_STRING, T, F, FL), .choices = (CHOICES), .help = (HELP)           \
    }
#define HF_DEF_LIST(KEY, T, F, N, FL, HELP)                                                        \
    {                                                                                              \
        HF_OPT_FIELD(KEY, HF_OPT_STRING_LIST, T, F, FL), .count_offset = offsetof(T, N),           \
                                                         .help = (HELP)                            \
    }
#define HF_DEF_INT(KEY, T, F, FL, MIN, MAX, HELP)                                                  \
    {                                                                                              \
        HF_OPT_FIELD(KEY, HF_OPT_INT, T, F, FL), .min = (MIN), .max = (MAX), .help = (HELP)        \
    }
#define HF_DEF_NUMBER(KEY, T, F, FL, MIN, MAX, EXPECTED, HELP)                                     \
    {                                                                                              \
        HF_OPT_FIELD(KEY, HF_OPT_NUMBER, T, F, FL), .min = (MIN), .max = (MAX),                    \
                                                    .expected = (EXPECTED), .help = (HELP)         \
    }
#define HF_DEF_SEED(KEY, T, F, FL, HELP)                                                           \
    {                                                                                              \
        HF_OPT_FIELD(KEY, HF_OPT_SEED, T, F, FL), .help = (HELP)                                   \
    }
#define HF_DEF_BOOL(KEY, T, F, FL, HELP)                                                           \
    {                                                                                              \
        HF_OPT_FIELD(KEY, HF_OPT_BOOL, T, F, FL), .help = (HELP)                                   \
    }
#define HF_DEF_ENUM(KEY, T, F, FL, CHOICES, FIRST, HELP)                                           \
    {                                                                                              \
        HF_OPT_FIELD(KEY, HF_OPT_ENUM, T, F, FL), .choices = (CHOICES), .first_choice = (FIRST),   \
                                                  .help = (HELP)                                   \
    }
#define HF_DEF_SIZE(KEY, T, F, FL, EXPECTED, HELP)                                                 \
    {                                                                                              \
        HF_OPT_FIELD(KEY, HF_OPT_SIZE, T, F, FL), .expected = (EXPECTED), .help = (HELP)           \
    }
/* A mapping KEY -> one of CHOICES: names in F, values in V, their count in N. */
#define HF_DEF_MAP(KEY, T, F, V, N, FL, CHOICES, HELP)                                             \
    {                                                                                              \
        HF_OPT_FIELD(KEY, HF_OPT_ENUM_MAP, T, F, FL),                                              \
            .count_offset = offsetof(T, N), .aux_offset = offsetof(T, V), .choices = (CHOICES),    \
            .help = (HELP)                                                                         \
    }
/* A mapping KEY -> a string: names in F, strings in V, their count in N. */
#define HF_DEF_STRING_MAP(KEY, T, F, V, N, FL, EXPECTED, HELP)                                     \
    {                                                                                              \
        HF_OPT_FIELD(KEY, HF_OPT_STRING_MAP, T, F, FL),                                            \
            .count_offset = offsetof(T, N), .aux_offset = offsetof(T, V), .expected = (EXPECTED),  \
            .help = (HELP)                                                                         \
    }
#define HF_DEF_CUSTOM(KEY, T, F, FL, PARSE, EXPECTED, HELP)                                        \
    {                                                                                              \
        HF_OPT_FIELD(KEY, HF_OPT_CUSTOM, T, F, FL), .parse = (PARSE), .expected = (EXPECTED),      \
                                                    .help = (HELP)                                 \
    }

/* A nested mapping KEY bound through the section SUB into the struct field F of T. */
#define HF_DEF_SUBSECTION(KEY, T, F, FL, SUB, HELP)                                                \
    {                                                                                              \
        HF_OPT_FIELD(KEY, HF_OPT_SUBSECTION, T, F, FL), .sub = (SUB), .expected = "a mapping",     \
                                                        .help = (HELP)                             \
    }

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

/* The section NAME of options struct T (its hf_opt_source named src), keys in the array DEFS. */
#define HF_OPT_SECTION(NAME, DEFS, T, CHECK)                                                       \
    {                                                                                              \
        (NAME), (DEFS), sizeof(DEFS) / sizeof((DEFS)[0]), offsetof(T, src), (CHECK)                \
    }

/* Not collective. "FILE:LINE:COL" of `key` ("cv.folds") as recorded by the binder, or the spec
 * file for a default; into buf, which is returned. */
const char *hf_opt_where(const hf_opt_source *src, const char *key, char *buf, size_t len);

/* Not collective. Frees the strings and lists the table's entries own in opts
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
