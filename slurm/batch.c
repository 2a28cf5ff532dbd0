/* batch.c - the Slurm batch script: the slurm section of the job spec, rendering the template
 * slurm/hyperfold.sbatch and handing it to sbatch (docs/slurm.md). The `hyperfold submit` command
 * is coordinator/submit.c. */
#include "slurm/slurm.h"

#include "common/fsutil.h"
#include "common/hf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_SIGNAL_LEAD 120
#define MARK_BEGIN "#HF-BEGIN-SBATCH"
#define MARK_END "#HF-END-SBATCH"
#define MARK_SETTINGS "#HF-SETTINGS"

/* A growable NUL-terminated string. */
typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

static int sb_append_n(strbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = hf_realloc(b->s, cap);
        if (!p)
            return HF_ENOMEM;
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return HF_OK;
}

static int sb_append(strbuf *b, const char *s)
{
    return sb_append_n(b, s, strlen(s));
}

/* Appends `s` in single quotes for the shell ('it'\''s'). */
static int sb_append_shell_quoted(strbuf *b, const char *s)
{
    int result = sb_append(b, "'");
    for (const char *p = s; result == HF_OK && *p; p++)
        result = *p == '\'' ? sb_append(b, "'\\''") : sb_append_n(b, p, 1);
    if (result == HF_OK)
        result = sb_append(b, "'");
    return result;
}

/* Appends `s` with '%' doubled: --output/--error expand %j, %x, ... and "%%" is a literal '%'. */
static int sb_append_pct_escaped(strbuf *b, const char *s)
{
    int result = HF_OK;
    for (const char *p = s; result == HF_OK && *p; p++)
        result = *p == '%' ? sb_append(b, "%%") : sb_append_n(b, p, 1);
    return result;
}

/* 1 if `s` can stand unquoted as the value of an #SBATCH option: sbatch splits those lines at
 * white space and treats quotes and backslashes specially. */
static int sbatch_safe(const char *s)
{
    if (!s || !*s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '\'' || *p == '\\' || *p == '#')
            return 0;
    return 1;
}

int hf_slurm_check_value(const char *what, const char *value)
{
    if (sbatch_safe(value))
        return HF_OK;
    return hf_error(HF_EINVAL,
                    "submit: %s \"%s\" cannot go into an #SBATCH line: expected a non-empty value "
                    "without white space, quotes, backslashes or '#'",
                    what, value ? value : "");
}

static int sb_sbatch_line(strbuf *b, const char *option, const char *value)
{
    int result = sb_append(b, "#SBATCH --");
    if (result == HF_OK)
        result = sb_append(b, option);
    if (result == HF_OK && value) {
        result = sb_append(b, "=");
        if (result == HF_OK)
            result = sb_append(b, value);
    }
    if (result == HF_OK)
        result = sb_append(b, "\n");
    return result;
}

static int sb_sbatch_int(strbuf *b, const char *option, int value)
{
    char num[32];
    snprintf(num, sizeof num, "%d", value);
    return sb_sbatch_line(b, option, num);
}

/* ---- the slurm section ---------------------------------------------------------------------- */

/* Digits, ':' and '-' (Slurm validates the rest when the job is submitted). */
static int parse_time(const char *t, void *opts)
{
    hf_slurm_opts *o = opts;
    if (!*t)
        return -1;
    for (const char *p = t; *p; p++)
        if (!isdigit((unsigned char)*p) && *p != ':' && *p != '-')
            return -1;
    char *v = hf_strdup(t);
    if (!v)
        return HF_ENOMEM;
    free(o->time);
    o->time = v;
    return 0;
}

static void release_time(void *opts)
{
    hf_slurm_opts *o = opts;
    free(o->time);
    o->time = NULL;
}

static const hf_opt_def slurm_defs[] = {
    {.key = "partition",
     .kind = HF_OPT_STRING,
     .offset = offsetof(hf_slurm_opts, partition),
     .expected = "a partition name",
     .help = "--partition"},
    {.key = "account",
     .kind = HF_OPT_STRING,
     .offset = offsetof(hf_slurm_opts, account),
     .expected = "an account name",
     .help = "--account"},
    {.key = "time",
     .kind = HF_OPT_CUSTOM,
     .offset = offsetof(hf_slurm_opts, time),
     .parse = parse_time,
     .release = release_time,
     .expected = "a Slurm time limit such as \"01:00:00\"",
     .help = "--time"},
    {.key = "nodes",
     .kind = HF_OPT_INT,
     .offset = offsetof(hf_slurm_opts, nodes),
     .min = 1,
     .max = INT32_MAX,
     .expected = "an integer >= 1",
     .help = "--nodes"},
    {.key = "ntasks_per_node",
     .kind = HF_OPT_INT,
     .offset = offsetof(hf_slurm_opts, ntasks_per_node),
     .min = 1,
     .max = INT32_MAX,
     .expected = "an integer >= 1",
     .help = "--ntasks-per-node"},
};

const hf_opt_section hf_slurm_section = {"slurm", slurm_defs,
                                         sizeof slurm_defs / sizeof slurm_defs[0],
                                         offsetof(hf_slurm_opts, src), NULL};

void hf_slurm_opts_init(hf_slurm_opts *o)
{
    memset(o, 0, sizeof *o);
}

static int render_sbatch_block(strbuf *b, const hf_slurm_options *opt)
{
    int result = HF_OK;
    char lead[64];
    snprintf(lead, sizeof lead, "B:USR1@%d",
             opt->signal_lead > 0 ? opt->signal_lead : DEFAULT_SIGNAL_LEAD);

    result = sb_append(b, "# Generated by `hyperfold submit`: change the job spec or the flags, "
                          "not these lines.\n");
    if (result == HF_OK)
        result = sb_sbatch_line(b, "job-name", opt->job_name);
    if (result == HF_OK)
        result = sb_sbatch_line(b, "chdir", opt->work_dir);
    /* Standard output and error share one log in the run directory, appended across requeues. */
    for (int i = 0; i < 2 && result == HF_OK; i++) {
        result = sb_append(b, i == 0 ? "#SBATCH --output=" : "#SBATCH --error=");
        if (result == HF_OK)
            result = sb_append_pct_escaped(b, opt->run_dir);
        if (result == HF_OK)
            result = sb_append(b, "/slurm-%j.log\n");
    }
    if (result == HF_OK)
        result = sb_sbatch_line(b, "open-mode", "append");
    if (result == HF_OK)
        result = sb_sbatch_line(b, "requeue", NULL);
    if (result == HF_OK)
        result = sb_sbatch_line(b, "signal", lead);
    if (result == HF_OK && opt->nodes > 0)
        result = sb_sbatch_int(b, "nodes", opt->nodes);
    if (result == HF_OK && opt->ntasks_per_node > 0)
        result = sb_sbatch_int(b, "ntasks-per-node", opt->ntasks_per_node);
    if (result == HF_OK && opt->ntasks > 0)
        result = sb_sbatch_int(b, "ntasks", opt->ntasks);
    if (result == HF_OK && opt->overcommit)
        result = sb_sbatch_line(b, "overcommit", NULL);
    if (result == HF_OK && opt->time)
        result = sb_sbatch_line(b, "time", opt->time);
    if (result == HF_OK && opt->partition)
        result = sb_sbatch_line(b, "partition", opt->partition);
    if (result == HF_OK && opt->account)
        result = sb_sbatch_line(b, "account", opt->account);
    if (result == HF_OK && opt->dependency)
        result = sb_sbatch_line(b, "dependency", opt->dependency);
    if (result == HF_OK && opt->begin)
        result = sb_sbatch_line(b, "begin", opt->begin);
    return result;
}

static int render_settings(strbuf *b, const hf_slurm_options *opt)
{
    static const char *const names[] = {"HF_JOB_SPEC", "HF_BIN", "HF_RUN_DIR", "HF_SUBMIT_SCRIPT"};
    int result = HF_OK;
    char *script = hf_asprintf("%s/submit.sbatch", opt->run_dir);
    const char *values[] = {opt->spec_path, opt->bin_path, opt->run_dir, script};
    if (!script)
        return HF_ENOMEM;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && result == HF_OK; i++) {
        result = sb_append(b, names[i]);
        if (result == HF_OK)
            result = sb_append(b, "=");
        if (result == HF_OK)
            result = sb_append_shell_quoted(b, values[i]);
        if (result == HF_OK)
            result = sb_append(b, "\n");
    }
    free(script);
    return result;
}

static int check_options(const hf_slurm_options *opt)
{
    int result = HF_OK;
    if (!opt->spec_path || !opt->bin_path || !opt->run_dir || !opt->work_dir)
        return hf_error(HF_EINVAL, "submit: internal: spec, binary, run and work directories "
                                   "must all be given to render the batch script");
    if ((result = hf_slurm_check_value("job name", opt->job_name)) < 0 ||
        (result = hf_slurm_check_value("run directory", opt->run_dir)) < 0 ||
        (result = hf_slurm_check_value("working directory", opt->work_dir)) < 0)
        return result;
    if (opt->partition && (result = hf_slurm_check_value("partition", opt->partition)) < 0)
        return result;
    if (opt->account && (result = hf_slurm_check_value("account", opt->account)) < 0)
        return result;
    if (opt->time && (result = hf_slurm_check_value("time limit", opt->time)) < 0)
        return result;
    if (opt->dependency && (result = hf_slurm_check_value("dependency", opt->dependency)) < 0)
        return result;
    if (opt->begin && (result = hf_slurm_check_value("begin time", opt->begin)) < 0)
        return result;
    if (strchr(opt->spec_path, '\n') || strchr(opt->bin_path, '\n'))
        return hf_error(HF_EINVAL, "submit: the job spec or binary path contains a newline");
    return HF_OK;
}

/* Renders the template: see slurm.h. */
int hf_slurm_render(const char *template_text, const hf_slurm_options *opt, char **out)
{
    int result = HF_OK;
    strbuf b = {0};
    int n_begin = 0, n_end = 0, n_settings = 0, in_block = 0;
    const char *p = template_text;

    *out = NULL;
    if ((result = check_options(opt)) < 0)
        goto out;
    while (*p && result == HF_OK) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        size_t cmp = n > 0 && p[n - 1] == '\r' ? n - 1 : n;
        if (cmp == strlen(MARK_BEGIN) && memcmp(p, MARK_BEGIN, cmp) == 0) {
            n_begin++;
            in_block = 1;
            result = render_sbatch_block(&b, opt);
        } else if (cmp == strlen(MARK_END) && memcmp(p, MARK_END, cmp) == 0) {
            n_end++;
            in_block = 0;
        } else if (cmp == strlen(MARK_SETTINGS) && memcmp(p, MARK_SETTINGS, cmp) == 0) {
            n_settings++;
            result = render_settings(&b, opt);
        } else if (!in_block) {
            result = sb_append_n(&b, p, n);
            if (result == HF_OK && nl)
                result = sb_append(&b, "\n");
        }
        p = nl ? nl + 1 : p + n;
    }
    if (result < 0)
        goto out;
    if (n_begin != 1 || n_end != 1 || n_settings != 1) {
        result = hf_error(HF_EINVAL,
                          "submit: the batch script template must contain the lines " MARK_BEGIN
                          ", " MARK_END " and " MARK_SETTINGS " once each (found %d, %d, %d)",
                          n_begin, n_end, n_settings);
        goto out;
    }
    *out = b.s;
    b.s = NULL;
out:
    free(b.s);
    return result;
}

/* The directory of the running binary (new string) or NULL. */
static char *self_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    return hf_strdup(buf);
}

/* Finds the template: see slurm.h. */
int hf_slurm_template_path(char **out)
{
    int result = HF_OK;
    const char *env = getenv("HF_SBATCH_TEMPLATE");
    char *dir = NULL, *installed = NULL, *source = NULL;

    *out = NULL;
    if (env && *env) {
        if (!hf_file_exists(env)) {
            result = hf_error(HF_EIO, "submit: HF_SBATCH_TEMPLATE=%s: no such file", env);
            goto out;
        }
        *out = hf_strdup(env);
        result = *out ? HF_OK : HF_ENOMEM;
        goto out;
    }
    dir = self_dir();
    installed = dir ? hf_asprintf("%s/../share/hyperfold/hyperfold.sbatch", dir) : NULL;
    source = hf_asprintf("%s/slurm/hyperfold.sbatch", HF_SOURCE_DIR);
    if (!source) {
        result = HF_ENOMEM;
        goto out;
    }
    if (installed && hf_file_exists(installed)) {
        *out = installed;
        installed = NULL;
    } else if (hf_file_exists(source)) {
        *out = source;
        source = NULL;
    } else {
        result = hf_error(
            HF_EIO,
            "submit: batch script template not found (looked for %s and %s; set "
            "HF_SBATCH_TEMPLATE to slurm/hyperfold.sbatch)",
            installed ? installed : "<binary dir>/../share/hyperfold/hyperfold.sbatch", source);
    }
out:
    free(dir);
    free(installed);
    free(source);
    return result;
}

/* The last line of `text` that contains "error", else its last non-empty line, copied into buf. */
static void pick_error_line(const char *text, char *buf, size_t size)
{
    const char *best = NULL, *last = NULL;
    size_t best_n = 0, last_n = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n > 0) {
            last = p;
            last_n = n;
            for (size_t i = 0; i + 5 <= n; i++)
                if (strncmp(p + i, "error", 5) == 0) {
                    best = p;
                    best_n = n;
                    break;
                }
        }
        p = nl ? nl + 1 : p + n;
    }
    if (!best) {
        best = last;
        best_n = last_n;
    }
    if (!best) {
        snprintf(buf, size, "(no message)");
        return;
    }
    snprintf(buf, size, "%.*s", (int)(best_n < size ? best_n : size - 1), best);
}

/* Reads the child's stdout and stderr until both are closed. */
static int drain_pipes(int out_fd, int err_fd, strbuf *out, strbuf *err)
{
    struct pollfd fds[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
    strbuf *bufs[2] = {out, err};
    int open_fds = 2;
    char chunk[4096];
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return hf_error(HF_EIO, "submit: poll on sbatch's output: %s", strerror(errno));
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            if (sb_append_n(bufs[i], chunk, (size_t)n) < 0)
                return HF_ENOMEM;
        }
    }
    return HF_OK;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Runs sbatch: see slurm.h. */
int hf_slurm_sbatch(const char *sbatch, const char *script, char **job_id)
{
    int result = HF_OK;
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, exec_pipe[2] = {-1, -1};
    strbuf out = {0}, err = {0};
    pid_t pid = -1;
    int exec_errno = 0, status = 0;
    const char *prog = sbatch && *sbatch ? sbatch : "sbatch";
    char *const argv[] = {(char *)prog, "--parsable", (char *)script, NULL};

    *job_id = NULL;
    if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0 || pipe(exec_pipe) != 0 ||
        fcntl(exec_pipe[1], F_SETFD, FD_CLOEXEC) != 0) {
        result = hf_error(HF_EIO, "submit: pipe: %s", strerror(errno));
        goto out;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        result = hf_error(HF_EIO, "submit: fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        int e;
        if (dup2(out_pipe[1], STDOUT_FILENO) >= 0 && dup2(err_pipe[1], STDERR_FILENO) >= 0) {
            close(out_pipe[0]);
            close(err_pipe[0]);
            close(exec_pipe[0]);
            close(out_pipe[1]);
            close(err_pipe[1]);
            execvp(prog, argv);
        }
        e = errno;
        if (write(exec_pipe[1], &e, sizeof e) < 0)
            _exit(127);
        _exit(127);
    }
    close_fd(&out_pipe[1]);
    close_fd(&err_pipe[1]);
    close_fd(&exec_pipe[1]);
    for (;;) {
        ssize_t n = read(exec_pipe[0], &exec_errno, sizeof exec_errno);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof exec_errno)
            exec_errno = 0;
        break;
    }
    result = drain_pipes(out_pipe[0], err_pipe[0], &out, &err);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            if (result == HF_OK)
                result = hf_error(HF_EIO, "submit: waitpid(%s): %s", prog, strerror(errno));
            goto out;
        }
    }
    if (result < 0)
        goto out;
    if (exec_errno != 0) {
        result = hf_error(HF_EIO, "submit: cannot run %s: %s (is Slurm installed and on PATH?)",
                          prog, strerror(exec_errno));
        goto out;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char line[512];
        pick_error_line(err.s ? err.s : "", line, sizeof line);
        if (WIFEXITED(status))
            result = hf_error(HF_EIO, "submit: %s refused %s (exit %d): %s", prog, script,
                              WEXITSTATUS(status), line);
        else
            result = hf_error(HF_EIO, "submit: %s %s was killed by signal %d", prog, script,
                              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        goto out;
    }
    /* --parsable prints "jobid" or "jobid;cluster". */
    {
        const char *s = out.s ? out.s : "";
        size_t n = strspn(s, "0123456789");
        if (n == 0 || (s[n] != '\0' && s[n] != ';' && s[n] != '\n' && s[n] != '\r')) {
            char line[512];
            pick_error_line(s, line, sizeof line);
            result = hf_error(HF_EIO, "submit: %s printed no job id (got \"%s\")", prog, line);
            goto out;
        }
        *job_id = hf_strndup(s, n);
        if (!*job_id)
            result = HF_ENOMEM;
    }
    if (result == HF_OK && err.s && *err.s)
        fputs(err.s, stderr); /* sbatch's warnings, if any */
out:
    close_fd(&out_pipe[0]);
    close_fd(&out_pipe[1]);
    close_fd(&err_pipe[0]);
    close_fd(&err_pipe[1]);
    close_fd(&exec_pipe[0]);
    close_fd(&exec_pipe[1]);
    free(out.s);
    free(err.s);
    return result;
}

/* Parses a positive int flag value. */
