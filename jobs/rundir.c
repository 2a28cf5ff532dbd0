/* rundir.c - the paths of a run directory and the output section (see rundir.h). */
#define _GNU_SOURCE
#include "jobs/rundir.h"

#include "common/fsutil.h"
#include "common/hf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static const char *const k_sse_names[] = {"AES256", "aws:kms", NULL};

/* An s3://bucket/prefix/ URL. */
static int is_s3_url(const char *t)
{
    return strncmp(t, "s3://", 5) == 0 && strlen(t) > 5;
}

static const hf_opt_def output_defs[] = {
    HF_DEF_STRING("dir", hf_output_opts, dir, 0, "a directory",
                  "directory under which the run directory is created"),
    HF_DEF_STRING_IF("upload", hf_output_opts, upload, 0, is_s3_url, "an s3://bucket/prefix/ URL",
                     "upload the finished run there"),
    HF_DEF_CHOICE("sse", hf_output_opts, sse, 0, k_sse_names,
                  "server-side encryption of uploads: AES256 or aws:kms"),
    HF_DEF_STRING("kms_key_id", hf_output_opts, kms_key_id, 0, "a KMS key id or ARN",
                  "KMS key id, ARN or alias (with sse aws:kms)"),
};

static int output_check(void *opts)
{
    const hf_output_opts *o = opts;
    char at[512];
    if (o->kms_key_id && (!o->sse || strcmp(o->sse, "aws:kms") != 0))
        return hf_error(HF_EINVAL,
                        "%s: output.kms_key_id: got a key id, expected it only with output.sse "
                        "aws:kms",
                        hf_opt_where(&o->src, "output.kms_key_id", at, sizeof at));
    if ((o->sse || o->kms_key_id) && !o->upload)
        return hf_error(HF_EINVAL,
                        "%s: output.sse: got server-side encryption without output.upload, "
                        "expected output.upload: s3://bucket/prefix/",
                        hf_opt_where(&o->src, "output", at, sizeof at));
    return HF_OK;
}

const hf_opt_section hf_output_section =
    HF_OPT_SECTION("output", output_defs, hf_output_opts, output_check);

int hf_output_opts_init(hf_output_opts *o)
{
    memset(o, 0, sizeof *o);
    o->dir = hf_strdup("runs");
    return o->dir ? HF_OK : HF_ENOMEM;
}

int hf_run_id_new(const char *spec_sha256, char out[HF_RUN_ID_LEN])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[17];
    strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
    /* 16 random bits: getrandom, else the clock's nanoseconds and the pid. */
    unsigned short rnd = 0;
    if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
        rnd = (unsigned short)((unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 3));
    char ident[5] = "0000";
    if (spec_sha256 && strlen(spec_sha256) >= 4)
        memcpy(ident, spec_sha256, 4);
    snprintf(out, HF_RUN_ID_LEN, "%s-%.4s%04x", when, ident, (unsigned)rnd);
    return HF_OK;
}

char *hf_output_upload_prefix(const hf_output_opts *o, const char *name, const char *run_id)
{
    if (!o->upload)
        return NULL;
    size_t n = strlen(o->upload);
    const char *sep = n && o->upload[n - 1] == '/' ? "" : "/";
    if (run_id)
        return hf_asprintf("%s%s%s/%s/", o->upload, sep, name, run_id);
    return hf_asprintf("%s%s%s/", o->upload, sep, name);
}

int hf_rundir_at(const char *dir, hf_rundir *r)
{
    memset(r, 0, sizeof *r);
    static const struct {
        size_t off;
        const char *name;
    } files[] = {
        {offsetof(hf_rundir, spec), "job.yaml"},
        {offsetof(hf_rundir, shards), "shards"},
        {offsetof(hf_rundir, journal), "journal.jsonl"},
        {offsetof(hf_rundir, results), "results.json"},
        {offsetof(hf_rundir, trials_csv), "trials.csv"},
        {offsetof(hf_rundir, model), "model.h5"},
        {offsetof(hf_rundir, training_rows), "training_rows.bin"},
        {offsetof(hf_rundir, audit), "audit.jsonl"},
        {offsetof(hf_rundir, rejects), "rejects.csv"},
        {offsetof(hf_rundir, describe), "describe.json"},
        {offsetof(hf_rundir, profile), "profile.json"},
        {offsetof(hf_rundir, submit_script), "submit.sbatch"},
        {offsetof(hf_rundir, slurm_log), "slurm-%j.log"},
        {offsetof(hf_rundir, retrain_shards), "retrain-shards"},
        {offsetof(hf_rundir, retrain_log), "retrain.jsonl"},
        {offsetof(hf_rundir, retrain_model), "model.retrain.h5"},
        {offsetof(hf_rundir, previous_model), "model.previous.h5"},
        {offsetof(hf_rundir, retrain_rows), "training_rows.retrain.bin"},
        {offsetof(hf_rundir, previous_rows), "training_rows.previous.bin"},
        {offsetof(hf_rundir, retrain_holdout), "retrain_holdout.csv"},
        {offsetof(hf_rundir, oof), "oof.csv"},
        {offsetof(hf_rundir, holdout), "holdout.csv"},
        {offsetof(hf_rundir, report), "report.html"},
        {offsetof(hf_rundir, lock), ".lock"},
    };
    _Static_assert(sizeof files / sizeof files[0] == sizeof(hf_rundir) / sizeof(char *) - 1,
                   "every path of hf_rundir has its file name");
    r->dir = hf_strdup(dir);
    if (!r->dir)
        return HF_ENOMEM;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *p = hf_asprintf("%s/%s", dir, files[i].name);
        if (!p) {
            hf_rundir_free(r);
            return HF_ENOMEM;
        }
        *(char **)((char *)r + files[i].off) = p;
    }
    return HF_OK;
}

int hf_rundir_of(const hf_output_opts *o, const char *name, hf_rundir *out)
{
    char *dir = hf_asprintf("%s/%s", o->dir, name);
    if (!dir)
        return HF_ENOMEM;
    int result = hf_rundir_at(dir, out);
    free(dir);
    return result;
}

void hf_rundir_free(hf_rundir *r)
{
    char **p = (char **)r;
    for (size_t i = 0; i < sizeof(hf_rundir) / sizeof(char *); i++)
        free(p[i]);
    memset(r, 0, sizeof *r);
}

/* Removes dir's temporary files: `NAME.tmp.PID` (hf_fs_open_tmp) and `.tmp-part-*` (shards). */
static void remove_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        const char *t = strstr(e->d_name, ".tmp.");
        int ours = strncmp(e->d_name, ".tmp-part-", 10) == 0 ||
                   (t && t[5] && strspn(t + 5, "0123456789") == strlen(t + 5));
        if (!ours)
            continue;
        char *p = hf_asprintf("%s/%s", dir, e->d_name);
        if (p && unlink(p) == 0)
            hf_debug("removed %s, left by an earlier run that did not finish", p);
        free(p);
    }
    closedir(d);
}

int hf_rundir_lock(const hf_rundir *r, const char *command, int *fd)
{
    *fd = -1;
    HF_CALL(hf_fs_mkdirs(r->dir));
    int f = open(r->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0)
        return hf_error(HF_EIO, "%s: cannot open the run directory's lock: %s", r->lock,
                        hf_strerror(errno));
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char holder[256] = "";
        ssize_t n = pread(f, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        if (e == ENOSYS || e == ENOLCK || e == EOPNOTSUPP) {
            /* (Lustre without -o flock, some NFS setups) A run must still be possible. */
            hf_warn("%s: the file system cannot lock (%s): running without the run directory's "
                    "lock; do not start a second run of this directory",
                    r->lock, hf_strerror(e));
            *fd = f;
            return HF_OK;
        }
        close(f);
        if (e != EWOULDBLOCK)
            return hf_error(HF_EIO, "%s: cannot lock the run directory: %s", r->lock,
                            hf_strerror(e));
        return hf_error(HF_EIO,
                        "%s: another command is writing this run directory (%s); wait for it to "
                        "end or stop it, or use another output.dir or name",
                        r->dir, holder[0] ? holder : "holder unknown");
    }
    char host[128] = "?", line[256];
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    int len =
        snprintf(line, sizeof line, "%s on host %s, pid %ld\n", command, host, (long)getpid());
    if (ftruncate(f, 0) != 0 || pwrite(f, line, (size_t)len, 0) != len) {
        int result = hf_error(HF_EIO, "%s: writing the lock: %s", r->lock, hf_strerror(errno));
        close(f);
        return result;
    }
    remove_temporaries(r->dir);
    remove_temporaries(r->shards);
    remove_temporaries(r->retrain_shards);
    *fd = f;
    return HF_OK;
}

void hf_rundir_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* (closing the descriptor releases the flock) */
}
