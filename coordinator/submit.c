/* submit.c - `hyperfold submit`: the flags and the job spec into a batch script (slurm/batch.c),
 * handed to sbatch (docs/slurm.md). */
#include "coordinator/commands.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "jobs/spec.h"
#include "slurm/slurm.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_positive(const char *flag, const char *value, int *out)
{
    char *end = NULL;
    long v;
    errno = 0;
    v = value && *value ? strtol(value, &end, 10) : 0;
    if (!value || !*value || errno != 0 || *end != '\0' || v < 1 || v > 1000000)
        return hf_error(HF_EINVAL, "submit: %s \"%s\": expected a whole number from 1 to 1000000",
                        flag, value ? value : "");
    *out = (int)v;
    return HF_OK;
}

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
static int check_begin(const char *value)
{
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
        "  --overcommit          allow more ranks per node than CPUs (ranks then yield when\n"
        "                        idle)\n"
        "  --dry-run             print the batch script instead of submitting it\n"
        "\n"
        "HYPERFOLD_BIN sets the hyperfold binary the job runs (default: this one), HF_LAUNCHER\n"
        "=mpirun launches with mpirun instead of srun --mpi=pmix (see docs/slurm.md).\n");
}

/* Value of option argv[*i]: "--flag=value" or "--flag value". NULL if it is not `flag`. */
static const char *flag_value(int argc, char **argv, int *i, const char *flag, int *missing)
{
    size_t n = strlen(flag);
    const char *a = argv[*i];
    if (strncmp(a, flag, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    (*i)++;
    return argv[*i];
}

/* `hyperfold submit`: see slurm.h. */
int hf_cmd_submit(int argc, char **argv)
{
    int result = HF_OK;
    const char *spec_arg = NULL;
    const char *partition = NULL, *account = NULL, *time_limit = NULL, *after = NULL;
    const char *begin = NULL;
    int nodes = 0, ntasks = 0, total_tasks = 0, lead = 0, dry_run = 0, overcommit = 0;
    hf_spec *spec = NULL;
    char cwd[PATH_MAX];
    char *spec_path = NULL, *out_dir = NULL, *run_dir = NULL, *bin = NULL, *dependency = NULL;
    char *template_path = NULL, *template_text = NULL, *script = NULL, *script_path = NULL;
    char *job_id = NULL;
    const char *bin_env = getenv("HYPERFOLD_BIN");
    size_t template_len = 0;
    hf_slurm_options opt = {0};

    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int missing = 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage_submit(stdout);
            goto out;
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            dry_run = 1;
        } else if (strcmp(argv[i], "--overcommit") == 0) {
            overcommit = 1;
        } else if ((v = flag_value(argc, argv, &i, "--nodes", &missing))) {
            if ((result = parse_positive("--nodes", v, &nodes)) < 0)
                goto out;
        } else if (!missing && (v = flag_value(argc, argv, &i, "--ntasks-per-node", &missing))) {
            if ((result = parse_positive("--ntasks-per-node", v, &ntasks)) < 0)
                goto out;
        } else if (!missing && (v = flag_value(argc, argv, &i, "--ntasks", &missing))) {
            if ((result = parse_positive("--ntasks", v, &total_tasks)) < 0)
                goto out;
        } else if (!missing && (v = flag_value(argc, argv, &i, "--signal-time", &missing))) {
            if ((result = parse_positive("--signal-time", v, &lead)) < 0)
                goto out;
            if (lead > 65535) {
                result = hf_error(
                    HF_EINVAL, "submit: --signal-time \"%s\": expected at most 65535 seconds", v);
                goto out;
            }
        } else if (!missing && (v = flag_value(argc, argv, &i, "--time", &missing))) {
            if ((result = check_time("--time", v)) < 0)
                goto out;
            time_limit = v;
        } else if (!missing && (v = flag_value(argc, argv, &i, "--partition", &missing))) {
            if ((result = hf_slurm_check_value("--partition", v)) < 0)
                goto out;
            partition = v;
        } else if (!missing && (v = flag_value(argc, argv, &i, "--account", &missing))) {
            if ((result = hf_slurm_check_value("--account", v)) < 0)
                goto out;
            account = v;
        } else if (!missing && (v = flag_value(argc, argv, &i, "--after", &missing))) {
            after = v;
        } else if (!missing && (v = flag_value(argc, argv, &i, "--begin", &missing))) {
            if ((result = check_begin(v)) < 0)
                goto out;
            begin = v;
        } else if (missing) {
            result = hf_error(HF_EINVAL, "submit: %s needs a value (see hyperfold submit --help)",
                              argv[i]);
            goto out;
        } else if (argv[i][0] == '-') {
            result = hf_error(HF_EINVAL, "submit: unknown option %s (see hyperfold submit --help)",
                              argv[i]);
            goto out;
        } else if (!spec_arg) {
            spec_arg = argv[i];
        } else {
            result = hf_error(HF_EINVAL, "submit: more than one job spec given (%s, %s)", spec_arg,
                              argv[i]);
            goto out;
        }
    }
    if (!spec_arg) {
        result = hf_error(HF_EINVAL, "submit: no job spec given (usage: hyperfold submit JOB.yaml "
                                     "[flags]; see --help)");
        goto out;
    }
    if (after && (result = make_dependency(after, &dependency)) < 0)
        goto out;
    if (!getcwd(cwd, sizeof cwd)) {
        result = hf_error(HF_EIO, "submit: getcwd: %s", strerror(errno));
        goto out;
    }
    if ((result = hf_spec_load(spec_arg, &spec)) < 0)
        goto out;
    if (spec->slurm.time && (result = check_time("slurm.time", spec->slurm.time)) < 0)
        goto out;

    spec_path = absolute(cwd, spec_arg);
    out_dir = spec_path ? absolute(cwd, spec->output.dir) : NULL;
    run_dir = out_dir ? hf_asprintf("%s/%s", out_dir, spec->name) : NULL;
    if (!run_dir) {
        result = HF_ENOMEM;
        goto out;
    }
    if (bin_env && *bin_env) {
        bin = strchr(bin_env, '/') ? absolute(cwd, bin_env) : hf_strdup(bin_env);
    } else {
        char buf[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
        if (n <= 0) {
            result = hf_error(HF_EIO,
                              "submit: cannot read /proc/self/exe (%s): set HYPERFOLD_BIN to the "
                              "hyperfold binary",
                              strerror(errno));
            goto out;
        }
        buf[n] = '\0';
        bin = hf_strdup(buf);
    }
    if (!bin) {
        result = HF_ENOMEM;
        goto out;
    }

    opt.job_name = spec->name;
    opt.run_dir = run_dir;
    opt.work_dir = cwd;
    opt.partition = partition ? partition : spec->slurm.partition;
    opt.account = account ? account : spec->slurm.account;
    opt.time = time_limit ? time_limit : spec->slurm.time;
    opt.nodes = nodes ? nodes : spec->slurm.nodes;
    opt.ntasks_per_node = ntasks ? ntasks : spec->slurm.ntasks_per_node;
    opt.dependency = dependency;
    opt.begin = begin;
    opt.signal_lead = lead;
    opt.overcommit = overcommit;
    opt.ntasks = total_tasks;
    opt.spec_path = spec_path;
    opt.bin_path = bin;

    if ((result = hf_slurm_template_path(&template_path)) < 0)
        goto out;
    if ((result = hf_read_file(template_path, &template_text, &template_len)) < 0) {
        result =
            hf_error_prefix(result, "submit: reading the batch script template %s", template_path);
        goto out;
    }
    if ((result = hf_slurm_render(template_text, &opt, &script)) < 0) {
        result = hf_error_prefix(result, "%s", template_path);
        goto out;
    }
    if (dry_run) {
        fputs(script, stdout);
        fflush(stdout);
        goto out;
    }

    script_path = hf_asprintf("%s/submit.sbatch", run_dir);
    if (!script_path) {
        result = HF_ENOMEM;
        goto out;
    }
    if ((result = hf_mkdirs(run_dir)) < 0 ||
        (result = hf_write_file_atomic(script_path, script, strlen(script))) < 0)
        goto out;
    if ((result = hf_slurm_sbatch(getenv("HF_SBATCH"), script_path, &job_id)) < 0)
        goto out;
    printf("submitted job %s\n", job_id);
    printf("run directory: %s\n", run_dir);
    printf("log: %s/slurm-%s.log\n", run_dir, job_id);
    fflush(stdout);
out:
    hf_spec_free(spec);
    free(spec_path);
    free(out_dir);
    free(run_dir);
    free(bin);
    free(dependency);
    free(template_path);
    free(template_text);
    free(script);
    free(script_path);
    free(job_id);
    return result;
}
