/* args.c - table-driven command-line options of the subcommands (see args.h). */
#include "coordinator/args.h"

#include "common/hf.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int hf_args_parse(const char *cmd, int argc, char **argv, const hf_arg_def *defs, size_t n_defs,
                  const char **pos, size_t max_pos, size_t *n_pos, void (*usage)(FILE *), int print)
{
    *n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (print && usage)
                usage(stdout);
            return 1;
        }
        if (a[0] != '-' || !a[1]) {
            if (*n_pos == max_pos)
                return hf_error(HF_EINVAL, "%s: unexpected argument %s (see hyperfold %s --help)",
                                cmd, a, cmd);
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
        const hf_arg_def *d = NULL;
        for (size_t k = 0; k < n_defs && !d; k++)
            if ((strlen(defs[k].name) == len && !strncmp(defs[k].name, a, len)) ||
                (defs[k].alias && !strcmp(defs[k].alias, a)))
                d = &defs[k];
        if (!d)
            return hf_error(HF_EINVAL, "%s: unknown option %s (see hyperfold %s --help)", cmd, a,
                            cmd);
        if (d->kind == HF_ARG_FLAG) {
            if (eq && a[1] == '-')
                return hf_error(HF_EINVAL, "%s: %s takes no value", cmd, d->name);
            *(int *)d->out = 1;
            continue;
        }
        const char *v = eq && a[1] == '-' ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!v)
            return hf_error(HF_EINVAL, "%s: %s needs a value (see hyperfold %s --help)", cmd,
                            d->name, cmd);
        if (d->kind == HF_ARG_VALUE) {
            *(const char **)d->out = v;
            continue;
        }
        char *end = NULL;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end || x < 1 || x > INT_MAX)
            return hf_error(HF_EINVAL, "%s: %s: got \"%s\", expected a positive integer", cmd,
                            d->name, v);
        *(int *)d->out = (int)x;
    }
    return HF_OK;
}
