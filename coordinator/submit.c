/* submit.c - `hyperfold submit`: the flags and the job spec into a batch script (slurm/batch.c),
 * handed to sbatch (docs/slurm.md). */
#include "coordinator/commands.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "coordinator/args.h"
#include "jobs/rundir.h"
#include "jobs/spec.h"
#include "slurm/slurm.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 1 if `s` is all digits (and not empty). */
static int all_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Slurm time limits: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, or UNLIMITED / INFINITE. */
static int check_time(const char *flag, const char *t)
{
    const char *p = t, *dash;
    int groups = 0;
    if (t && (strcmp(t, "UNLIMITED") == 0 || strcmp(t, "INFINITE") == 0))
        return HF_OK;
    if (!t || !*t)
        goto bad;
    dash = strchr(t, '-');
    if (dash) {
        if (!all_digits(t, (size_t)(dash - t)))
            goto bad;
        p = dash + 1;
    }
    for (;;) {
        size_t n = strcspn(p, ":");
        if (!all_digits(p, n) || n > 9)
            goto bad;
        groups++;
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    if (groups > 3)
        goto bad;
    return HF_OK;
bad:
    return hf_error(HF_EINVAL,
                    "submit: %s \"%s\": expected a Slurm time limit such as 01:30:00, 90 or "
                    "2-00:00:00",
                    flag, t ? t : "");
}

/* --after: a job id ("123", "123_4") or a Slurm dependency type and ids ("afterany:123:124"). */
static int make_dependency(const char *value, char **out)
{
    static const char *const types[] = {"after",     "afterany",         "afterok", "afternotok",
                                        "aftercorr", "afterburstbuffer", NULL};
    const char *colon = value ? strchr(value, ':') : NULL;
    *out = NULL;
    if (value && !colon && strspn(value, "0123456789_") == strlen(value) && *value) {
        *out = hf_asprintf("afterok:%s", value);
        return *out ? HF_OK : HF_ENOMEM;
    }
    if (colon) {
        for (int i = 0; types[i]; i++)
            if (strlen(types[i]) == (size_t)(colon - value) &&
                strncmp(value, types[i], (size_t)(colon - value)) == 0 && colon[1] &&
                strspn(colon + 1, "0123456789_:+") == strlen(colon + 1)) {
                *out = hf_strdup(value);
                return *out ? HF_OK : HF_ENOMEM;
            }
    }
    return hf_error(HF_EINVAL,
                    "submit: --after \"%s\": expected a job id (123) or a Slurm dependency such "
                    "as afterany:123",
                    value ? value : "");
}

/* --begin: a Slurm time specification (now+1hour, 2026-01-01T02:00:00, midnight, 16:00). */
static int check_begin(const char *flag, const char *value)
{
    (void)flag;
    int ok = value && *value;
    for (const char *p = value; ok && *p; p++)
        ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
             strchr(":+-_./", *p) != NULL;
    if (ok)
        return HF_OK;
    return hf_error(HF_EINVAL,
                    "submit: --begin \"%s\": expected a Slurm time such as now+1hour, "
                    "2026-01-01T02:00:00 or midnight",
                    value ? value : "");
}

/* Absolute form of `path` relative to `cwd` (new string). */
static char *absolute(const char *cwd, const char *path)
{
    if (path[0] == '/')
        return hf_strdup(path);
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    if (strcmp(path, ".") == 0)
        return hf_strdup(cwd);
    return hf_asprintf("%s/%s", cwd, path);
}

static void usage_submit(FILE *fp)
{
    fprintf(
        fp,
        "usage: hyperfold submit JOB.yaml [--nodes N] [--ntasks-per-node M] [--ntasks N]\n"
        "         [--time T]"
        " [--partition P] [--account A] [--after JOBID] [--begin TIME]\n"
        "         [--signal-time SECONDS] [--overcommit] [--dry-run]\n"
        "\n"
        "Submits `hyperfold run JOB.yaml` as a Slurm batch job. The #SBATCH lines come from\n"
        "the spec's slurm: section; the flags override it. The script is written to\n"
        "<output.dir>/<name>/submit.sbatch and the job's log to <output.dir>/<name>/"
        "slurm-<jobid>.log.\n"
        "\n"
        "  --nodes N             number of nodes (slurm.nodes)\n"
        "  --ntasks-per-node M   MPI ranks per node (slurm.ntasks_per_node)\n"
        "  --ntasks N            MPI ranks in all (instead of or with the two above)\n"
        "  --time T              time limit, e.g. 01:00:00 (slurm.time)\n"
        "  --partition P         partition (slurm.partition)\n"
        "  --account A           account to charge (slurm.account)\n"
        "  --after JOBID         start after job JOBID succeeded (or afterany:JOBID, ...)\n"
        "  --begin TIME          do not start before TIME (now+1hour, 2026-01-01T02:00)\n"
        "  --signal-time S       SIGUSR1 S seconds before the time limit (default 120): the\n"
        "                        run stops, journals its work and the job requeues itself\n"
        "                        (scancel --batch --signal=TERM JOBID does the same at once)\n"
        "  --overcommit          allow more ranks per node than CPUs (ranks then yield when\n"
        "                        idle)\n"
        "  --dry-run             print the batch script instead of submitting it\n"
        "\n"
        "HYPERFOLD_BIN sets the hyperfold binary the job runs (default: this one), HF_LAUNCHER\n"
        "=mpirun launches with mpirun instead of srun --mpi=pmix (see docs/slurm.md).\n");
}

/* --after: checked by make_dependency once the flags are read. */
static int check_after(const char *flag, const char *value)
{
    (void)flag;
    char *dependency = NULL;
    int result = make_dependency(value, &dependency);
    free(dependency);
    return result;
}

/* The hyperfold binary the job runs: $HYPERFOLD_BIN, else this one (new string in *out). */
static int hyperfold_binary(const char *cwd, char **out)
{
    const char *bin_env = getenv("HYPERFOLD_BIN");
    if (bin_env && *bin_env) {
        *out = strchr(bin_env, '/') ? absolute(cwd, bin_env) : hf_strdup(bin_env);
    } else {
        char buf[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
        if (n <= 0)
            return hf_error(HF_EIO,
                            "submit: cannot read /proc/self/exe (%s): set HYPERFOLD_BIN to the "
                            "hyperfold binary",
                            hf_strerror(errno));
        buf[n] = '\0';
        *out = hf_strdup(buf);
    }
    return *out ? HF_OK : HF_ENOMEM;
}

/* The flags of `hyperfold submit`; zero or NULL: the spec's slurm section decides. */
typedef struct submit_flags {
    const char *partition, *account, *time, *after, *begin;
    int nodes, ntasks_per_node, ntasks, lead, dry_run, overcommit;
} submit_flags;

/* The batch script for spec (at spec_path) with the flags, rendered from the template. */
static int render_script(const hf_spec *spec, const submit_flags *f, const char *cwd,
                         const char *spec_path, const hf_rundir *dir, char **script)
{
    char *bin = NULL, *dependency = NULL, *template_path = NULL, *template_text = NULL;
    size_t template_len = 0;
    int result = hyperfold_binary(cwd, &bin);
    if (result >= 0 && f->after)
        result = make_dependency(f->after, &dependency);
    if (result < 0)
        goto out;
    hf_slurm_options opt = {
        .job_name = spec->name,
        .run_dir = dir->dir,
        .script_path = dir->submit_script,
        .log_name = strrchr(dir->slurm_log, '/') + 1,
        .work_dir = cwd,
        .partition = f->partition ? f->partition : spec->slurm.partition,
        .account = f->account ? f->account : spec->slurm.account,
        .time = f->time ? f->time : spec->slurm.time,
        .dependency = dependency,
        .begin = f->begin,
        .nodes = f->nodes ? f->nodes : spec->slurm.nodes,
        .ntasks_per_node = f->ntasks_per_node ? f->ntasks_per_node : spec->slurm.ntasks_per_node,
        .ntasks = f->ntasks,
        .signal_lead = f->lead,
        .overcommit = f->overcommit,
        .spec_path = spec_path,
        .bin_path = bin,
    };
    if ((result = hf_slurm_template_path(&template_path)) < 0)
        goto out;
    if ((result = hf_fs_read_file(template_path, &template_text, &template_len)) < 0) {
        result =
            hf_error_prefix(result, "submit: reading the batch script template %s", template_path);
        goto out;
    }
    if ((result = hf_slurm_render(template_text, &opt, script)) < 0)
        result = hf_error_prefix(result, "%s", template_path);
out:
    free(bin);
    free(dependency);
    free(template_path);
    free(template_text);
    return result;
}

/* `hyperfold submit`: see slurm.h. */
int hf_cmd_submit(int argc, char **argv)
{
    submit_flags f = {0};
    const char *spec_arg = NULL;
    const hf_arg_def defs[] = {
        HF_INT_ARG("--nodes", &f.nodes, 1000000),
        HF_INT_ARG("--ntasks-per-node", &f.ntasks_per_node, 1000000),
        HF_INT_ARG("--ntasks", &f.ntasks, 1000000),
        HF_INT_ARG("--signal-time", &f.lead, 65535),
        HF_VALUE_ARG("--time", &f.time, check_time),
        HF_VALUE_ARG("--partition", &f.partition, hf_slurm_check_value),
        HF_VALUE_ARG("--account", &f.account, hf_slurm_check_value),
        HF_VALUE_ARG("--after", &f.after, check_after),
        HF_VALUE_ARG("--begin", &f.begin, check_begin),
        HF_FLAG_ARG("--dry-run", NULL, &f.dry_run),
        HF_FLAG_ARG("--overcommit", NULL, &f.overcommit),
    };
    const hf_cmdline cl = {"submit", HF_ARGS(defs), "job spec", "JOB.yaml [flags]",
                           0,        usage_submit};
    int result = hf_args_parse(&cl, argc, argv, &spec_arg, NULL, 1);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;

    hf_spec *spec = NULL;
    hf_rundir dir = {0};
    char cwd[PATH_MAX];
    char *spec_path = NULL, *out_dir = NULL, *script = NULL, *job_id = NULL;
    if (!getcwd(cwd, sizeof cwd)) {
        result = hf_error(HF_EIO, "submit: getcwd: %s", hf_strerror(errno));
        goto out;
    }
    if ((result = hf_spec_load(spec_arg, &spec)) < 0)
        goto out;
    if (spec->slurm.time && (result = check_time("slurm.time", spec->slurm.time)) < 0)
        goto out;
    spec_path = absolute(cwd, spec_arg);
    out_dir = spec_path ? absolute(cwd, spec->output.dir) : NULL;
    char *run_dir = out_dir ? hf_asprintf("%s/%s", out_dir, spec->name) : NULL;
    result = run_dir ? hf_rundir_at(run_dir, &dir) : HF_ENOMEM;
    free(run_dir);
    if (result < 0 || (result = render_script(spec, &f, cwd, spec_path, &dir, &script)) < 0)
        goto out;
    if (f.dry_run) {
        fputs(script, stdout);
        fflush(stdout);
        goto out;
    }
    if ((result = hf_fs_mkdirs(dir.dir)) < 0 ||
        (result = hf_fs_write_atomic(dir.submit_script, script, strlen(script))) < 0)
        goto out;
    if ((result = hf_slurm_sbatch(getenv("HF_SBATCH"), dir.submit_script, &job_id)) < 0)
        goto out;
    const char *j = strstr(dir.slurm_log, "%j");
    printf("submitted job %s\n", job_id);
    printf("run directory: %s\n", dir.dir);
    printf("log: %.*s%s%s\n", j ? (int)(j - dir.slurm_log) : (int)strlen(dir.slurm_log),
           dir.slurm_log, j ? job_id : "", j ? j + 2 : "");
    fflush(stdout);
out:
    hf_spec_free(spec);
    hf_rundir_free(&dir);
    free(spec_path);
    free(out_dir);
    free(script);
    free(job_id);
    return result;
}
