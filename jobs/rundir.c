/* rundir.c - the paths of a run directory and the output section (see rundir.h). */
#include "jobs/rundir.h"

#include "common/hf.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_sse_names[] = {"AES256", "aws:kms", NULL};

/* An s3://bucket/prefix/ URL. */
static int parse_upload(const char *t, void *opts)
{
    hf_output_opts *o = opts;
    if (strncmp(t, "s3://", 5) != 0 || strlen(t) <= 5)
        return -1;
    char *v = hf_strdup(t);
    if (!v)
        return HF_ENOMEM;
    free(o->upload);
    o->upload = v;
    return 0;
}

static void release_upload(void *opts)
{
    hf_output_opts *o = opts;
    free(o->upload);
    o->upload = NULL;
}

static const hf_opt_def output_defs[] = {
    {.key = "dir",
     .kind = HF_OPT_STRING,
     .offset = offsetof(hf_output_opts, dir),
     .expected = "a directory",
     .help = "directory under which the run directory is created"},
    {.key = "upload",
     .kind = HF_OPT_CUSTOM,
     .offset = offsetof(hf_output_opts, upload),
     .parse = parse_upload,
     .release = release_upload,
     .expected = "an s3://bucket/prefix/ URL",
     .help = "upload the finished run there"},
    {.key = "sse",
     .kind = HF_OPT_STRING,
     .offset = offsetof(hf_output_opts, sse),
     .choices = k_sse_names,
     .help = "server-side encryption of uploads: AES256 or aws:kms"},
    {.key = "kms_key_id",
     .kind = HF_OPT_STRING,
     .offset = offsetof(hf_output_opts, kms_key_id),
     .expected = "a KMS key id or ARN",
     .help = "KMS key id, ARN or alias (with sse aws:kms)"},
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

const hf_opt_section hf_output_section = {"output", output_defs,
                                          sizeof output_defs / sizeof output_defs[0],
                                          offsetof(hf_output_opts, src), output_check};

int hf_output_opts_init(hf_output_opts *o)
{
    memset(o, 0, sizeof *o);
    o->dir = hf_strdup("runs");
    return o->dir ? HF_OK : HF_ENOMEM;
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
        {offsetof(hf_rundir, submit_script), "submit.sbatch"},
        {offsetof(hf_rundir, retrain_shards), "retrain-shards"},
        {offsetof(hf_rundir, retrain_log), "retrain.jsonl"},
        {offsetof(hf_rundir, retrain_model), "model.retrain.h5"},
        {offsetof(hf_rundir, previous_model), "model.previous.h5"},
        {offsetof(hf_rundir, retrain_rows), "training_rows.retrain.bin"},
        {offsetof(hf_rundir, previous_rows), "training_rows.previous.bin"},
        {offsetof(hf_rundir, retrain_holdout), "retrain_holdout.csv"},
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
