/* args.h - the command line of a subcommand, from a table of its options.
 *
 * Each command lists its options once ({"--fresh", NULL, HF_ARG_FLAG, &fresh}); hf_args_parse
 * fills them and the positional arguments, answers --help / -h through the command's usage
 * function, and refuses an unknown option, a missing value or too many positional arguments
 * with one line naming the command ("run: unknown option --frsh (see hyperfold run --help)"). */
#ifndef HF_ARGS_H
#define HF_ARGS_H

#include <stddef.h>
#include <stdio.h>

typedef enum hf_arg_kind {
    HF_ARG_FLAG,  /* int *: set to 1 */
    HF_ARG_VALUE, /* const char **: the next argument (or --name=value) */
    HF_ARG_INT    /* int *: the next argument, a positive integer */
} hf_arg_kind;

typedef struct hf_arg_def {
    const char *name;  /* "--fresh" */
    const char *alias; /* "-q", or NULL */
    hf_arg_kind kind;
    void *out;
} hf_arg_def;

/* Parses argv[1..argc) (argv[0] is the command's name) into the options of `defs` and up to
 * max_pos positional arguments (*n_pos of them, borrowed from argv). Returns HF_OK; 1 when
 * --help was given (usage(stdout) has been called when `print` is set: rank 0 prints); or
 * HF_EINVAL with a one-line message. Not collective. */
int hf_args_parse(const char *cmd, int argc, char **argv, const hf_arg_def *defs, size_t n_defs,
                  const char **pos, size_t max_pos, size_t *n_pos, void (*usage)(FILE *),
                  int print);

#endif
