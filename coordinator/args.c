/* args.c - table-driven command-line options of the subcommands (see args.h). */
#include "coordinator/args.h"

#include "common/hf.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const hf_arg_def *find_def(const hf_cmdline *cl, const char *a, size_t len)
{
    for (size_t k = 0; k < cl->n_defs; k++)
        if ((strlen(cl->defs[k].name) == len && !strncmp(cl->defs[k].name, a, len)) ||
            (cl->defs[k].alias && !strcmp(cl->defs[k].alias, a)))
            return &cl->defs[k];
    return NULL;
}

/* The value v of option d into its output. */
static int set_value(const hf_cmdline *cl, const hf_arg_def *d, const char *v)
{
    if (d->kind == HF_ARG_VALUE) {
        if (d->check)
            HF_CALL(d->check(d->name, v));
        *(const char **)d->out = v;
        return HF_OK;
    }
    int max = d->max > 0 ? d->max : INT_MAX;
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < 1 || x > max)
        return max == INT_MAX
                   ? hf_error(HF_EINVAL, "%s: %s: got \"%s\", expected a positive integer", cl->cmd,
                              d->name, v)
                   : hf_error(HF_EINVAL, "%s: %s: got \"%s\", expected an integer from 1 to %d",
                              cl->cmd, d->name, v, max);
    *(int *)d->out = (int)x;
    return HF_OK;
}

int hf_args_parse(const hf_cmdline *cl, int argc, char **argv, const char **operands,
                  size_t *n_operands, int print)
{
    const char *cmd = cl->cmd;
    size_t max_ops = cl->operand ? (cl->max_operands ? cl->max_operands : 1) : 0, n_ops = 0;
    for (size_t k = 0; k < max_ops; k++)
        operands[k] = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (print && cl->usage)
                cl->usage(stdout);
            return 1;
        }
        if (a[0] != '-' || !a[1]) {
            if (n_ops == max_ops)
                return hf_error(HF_EINVAL, "%s: unexpected argument %s (see hyperfold %s --help)",
                                cmd, a, cmd);
            operands[n_ops++] = a;
            continue;
        }
        const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
        const hf_arg_def *d = find_def(cl, a, eq ? (size_t)(eq - a) : strlen(a));
        if (!d)
            return hf_error(HF_EINVAL, "%s: unknown option %s (see hyperfold %s --help)", cmd, a,
                            cmd);
        if (d->kind == HF_ARG_FLAG) {
            if (eq)
                return hf_error(HF_EINVAL, "%s: %s takes no value", cmd, d->name);
            *(int *)d->out = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!v)
            return hf_error(HF_EINVAL, "%s: %s needs a value (see hyperfold %s --help)", cmd,
                            d->name, cmd);
        HF_CALL(set_value(cl, d, v));
    }
    if (n_operands)
        *n_operands = n_ops;
    if (max_ops && n_ops == 0)
        return hf_error(HF_EINVAL, "%s: no %s given (usage: hyperfold %s %s)", cmd, cl->operand,
                        cmd, cl->operand_usage);
    return HF_OK;
}

void hf_s3_flags_apply(const hf_s3_flags *f, int rank, hf_s3_config *s3, hf_source_opts *so)
{
    hf_s3_config_init(s3);
    s3->endpoint = (char *)f->endpoint;
    s3->region = (char *)f->region;
    s3->path_style = f->path_style ? 1 : -1;
    *so = (hf_source_opts){.s3 = s3, .audit_path = f->audit, .rank = rank};
}
