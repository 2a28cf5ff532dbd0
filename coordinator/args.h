/* args.h - the command line of a subcommand, from a table of its options.
 *
 * Each command lists its options once ({"--fresh", NULL, HF_ARG_FLAG, &fresh}); hf_args_parse
 * fills them and the operands, answers --help / -h through the command's usage function, and
 * refuses an unknown option, a missing or unaccepted value, a missing operand or one too many
 * with one line naming the command ("run: unknown option --frsh (see hyperfold run --help)"). */
#ifndef HF_ARGS_H
#define HF_ARGS_H

#include "shards/s3.h"
#include "shards/source.h"

#include <stddef.h>
#include <stdio.h>

typedef enum hf_arg_kind {
    HF_ARG_FLAG,  /* int *: set to 1 */
    HF_ARG_VALUE, /* const char **: the next argument (or --name=value) */
    HF_ARG_INT    /* int *: the next argument, an integer in [1, max] */
} hf_arg_kind;

typedef struct hf_arg_def {
    const char *name;  /* "--fresh" */
    const char *alias; /* "-q", or NULL */
    hf_arg_kind kind;
    void *out;
    int max; /* HF_ARG_INT: the largest value (0: INT_MAX) */
    /* HF_ARG_VALUE: if set, checks the value: HF_OK, or an error naming the option. */
    int (*check)(const char *name, const char *value);
} hf_arg_def;

/* Table entries: a flag (with an alias such as "-q", or NULL), a value (with its check, or NULL),
 * an integer in [1, MAX]. */
#define HF_FLAG_ARG(NAME, ALIAS, OUT)                                                              \
    {                                                                                              \
        (NAME), (ALIAS), HF_ARG_FLAG, (OUT), 0, NULL                                               \
    }
#define HF_VALUE_ARG(NAME, OUT, CHECK)                                                             \
    {                                                                                              \
        (NAME), NULL, HF_ARG_VALUE, (OUT), 0, (CHECK)                                              \
    }
#define HF_INT_ARG(NAME, OUT, MAX)                                                                 \
    {                                                                                              \
        (NAME), NULL, HF_ARG_INT, (OUT), (MAX), NULL                                               \
    }

/* The S3 flags of the commands that read models and data by URI (predict, evaluate): table
 * entries with HF_S3_FLAG_ARGS(&flags), then hf_s3_flags_apply. */
typedef struct hf_s3_flags {
    const char *endpoint, *region, *audit;
    int path_style;
} hf_s3_flags;
#define HF_S3_FLAG_ARGS(F)                                                                         \
    {"--endpoint", "--endpoint-url", HF_ARG_VALUE, &(F)->endpoint, 0, NULL},                       \
        HF_VALUE_ARG("--region", &(F)->region, NULL),                                              \
        HF_FLAG_ARG("--path-style", NULL, &(F)->path_style),                                       \
        HF_VALUE_ARG("--audit", &(F)->audit, NULL)

/* The flags into *s3 (initialised here; its strings borrowed from argv, so it is not released)
 * and the byte sources' options *so of this rank, pointing at *s3. */
void hf_s3_flags_apply(const hf_s3_flags *f, int rank, hf_s3_config *s3, hf_source_opts *so);

/* The defs and n_defs members of an hf_cmdline from an array. */
#define HF_ARGS(defs) (defs), (sizeof(defs) / sizeof((defs)[0]))

/* A subcommand's command line: its name, its options and its operands. */
typedef struct hf_cmdline {
    const char *cmd; /* "run" */
    const hf_arg_def *defs;
    size_t n_defs;
    /* The positional arguments: what the first is and how the usage spells them ("job spec",
     * "JOB.yaml"); at least one is required. NULL: the command takes none. */
    const char *operand, *operand_usage;
    size_t max_operands;   /* 0: one */
    void (*usage)(FILE *); /* prints --help */
} hf_cmdline;

/* Parses argv[1..argc) (argv[0] is the command's name) into the options of cl->defs and the
 * operands (borrowed from argv; `operands` holds max_operands of them, n_operands may be NULL).
 * Returns HF_OK; 1 when --help was given (usage(stdout) has been called when `print` is set:
 * rank 0 prints); or HF_EINVAL with a one-line message ("run: no job spec given (usage:
 * hyperfold run JOB.yaml)"). Not collective. */
int hf_args_parse(const hf_cmdline *cl, int argc, char **argv, const char **operands,
                  size_t *n_operands, int print);

#endif
