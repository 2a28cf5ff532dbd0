/* etl.c - `hyperfold etl SOURCE DEST`: an archive or file into an S3 prefix or a directory
 * (shards/etl.h, docs/etl.md). */
#include "coordinator/args.h"
#include "coordinator/commands.h"

#include "common/hf.h"
#include "jobs/bind.h"
#include "shards/audit.h"
#include "shards/etl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: [mpirun -np N] hyperfold etl SOURCE DEST [--include GLOB]...\n"
            "                      [--sse AES256|aws:kms|none] [--kms-key-id ID]\n"
            "                      [--manifest FILE] [--max-ratio R] [--max-bytes N]\n"
            "                      [--endpoint URL] [--region R] [--path-style] [--audit FILE]\n"
            "                      [--quiet]\n"
            "\n"
            "Extracts SOURCE (a path, s3:// or http(s):// URL; a .zip, .tar, .tar.gz/.tgz or .gz\n"
            "archive, detected by content, or a plain file) into DEST (an s3:// prefix or a\n"
            "local directory), every member or those matching an --include glob (fnmatch on\n"
            "the member path; repeatable). Uploads use SSE-S3 (AES256) unless --sse says\n"
            "otherwise; each upload is verified. Writes DEST/_manifest.json (and --manifest\n"
            "FILE): per member its path, size, SHA-256, ETag and URI. Members with an absolute\n"
            "path or a '..' segment, links, devices, and archives that extract to more than\n"
            "--max-ratio (default 200) times their compressed size or --max-bytes (default\n"
            "64GiB) are refused (exit 2) before anything is written. A rerun skips members\n"
            "already at DEST unchanged. Remote accesses are audited to --audit FILE, else\n"
            "$HYPERFOLD_AUDIT, else ~/.local/state/hyperfold/audit.jsonl. Under mpirun the members "
            "are dealt\n"
            "over the ranks. See docs/etl.md.\n");
}

/* --include may be given several times: each value is collected here by the option's check. */
static char *g_include[256];
static size_t g_n_include;

static int collect_include(const char *name, const char *value)
{
    if (g_n_include == sizeof g_include / sizeof g_include[0])
        return hf_error(HF_EINVAL, "etl: %s: more than %zu given", name,
                        sizeof g_include / sizeof g_include[0]);
    g_include[g_n_include++] = (char *)value;
    return HF_OK;
}

static int check_sse(const char *name, const char *value)
{
    if (strcmp(value, "AES256") && strcmp(value, "aws:kms") && strcmp(value, "none"))
        return hf_error(HF_EINVAL, "etl: %s: got \"%s\", expected AES256, aws:kms or none", name,
                        value);
    return HF_OK;
}

static int check_ratio(const char *name, const char *value)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(value, &end);
    if (errno || end == value || *end || !isfinite(x) || x < 1)
        return hf_error(HF_EINVAL, "etl: %s: got \"%s\", expected a number >= 1", name, value);
    return HF_OK;
}

static int check_size(const char *name, const char *value)
{
    uint64_t v = 0;
    if (hf_bind_parse_size(value, &v))
        return hf_error(HF_EINVAL,
                        "etl: %s: got \"%s\", expected a size such as 64GiB, 1.5GB or 1000", name,
                        value);
    return HF_OK;
}

int hf_cmd_etl(hf_comm *world, int argc, char **argv)
{
    const char *sse = NULL, *kms = NULL, *manifest = NULL, *ratio = NULL, *max_bytes = NULL;
    const char *ops[2] = {NULL, NULL}, *last_include = NULL;
    size_t n_ops = 0;
    hf_s3_flags s3f = {0};
    int quiet = 0, rank = hf_comm_rank(world);
    g_n_include = 0;
    const hf_arg_def defs[] = {HF_VALUE_ARG("--include", &last_include, collect_include),
                               HF_VALUE_ARG("--sse", &sse, check_sse),
                               HF_VALUE_ARG("--kms-key-id", &kms, NULL),
                               HF_VALUE_ARG("--manifest", &manifest, NULL),
                               HF_VALUE_ARG("--max-ratio", &ratio, check_ratio),
                               HF_VALUE_ARG("--max-bytes", &max_bytes, check_size),
                               HF_S3_FLAG_ARGS(&s3f),
                               HF_FLAG_ARG("--quiet", "-q", &quiet)};
    const hf_cmdline cl = {"etl", HF_ARGS(defs), "source and destination", "SOURCE DEST", 2, usage};
    int result = hf_args_parse(&cl, argc, argv, ops, &n_ops, rank == 0);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;
    if (n_ops != 2)
        return hf_error(HF_EINVAL, "etl: no destination given (usage: hyperfold etl SOURCE DEST)");
    if (!strncmp(ops[1], "http://", 7) || !strncmp(ops[1], "https://", 8))
        return hf_error(HF_EINVAL,
                        "etl: DEST: got \"%s\", expected an s3:// prefix or a local "
                        "directory",
                        ops[1]);
    if (kms && (!sse || strcmp(sse, "aws:kms")))
        return hf_error(HF_EINVAL, "etl: --kms-key-id: given with --sse %s, expected --sse aws:kms",
                        sse ? sse : "AES256");
    int local_dest = strncmp(ops[1], "s3://", 5) != 0;
    if (local_dest && (sse || kms))
        return hf_error(HF_EINVAL,
                        "etl: %s: given with the local DEST \"%s\", expected an s3:// DEST "
                        "(server-side encryption applies to uploads only)",
                        sse ? "--sse" : "--kms-key-id", ops[1]);
    if (quiet)
        hf_log_set_level(HF_LOG_QUIET);

    hf_etl_opts o;
    hf_etl_opts_init(&o);
    o.source = (char *)ops[0];
    o.dest = (char *)ops[1];
    o.include = g_include;
    o.n_include = g_n_include;
    for (int i = 0; sse && hf_etl_sse_names[i]; i++)
        if (!strcmp(sse, hf_etl_sse_names[i]))
            o.sse = i;
    o.kms_key_id = (char *)kms;
    if (ratio)
        o.max_ratio = strtod(ratio, NULL);
    if (max_bytes)
        hf_bind_parse_size(max_bytes, &o.max_bytes);
    if ((result = hf_etl_opts_check(&o)) < 0)
        return result;

    /* Every remote access is audited: --audit, else $HYPERFOLD_AUDIT, else the per-user log
     * (hf_audit_resolve, as predict, serve and s3). */
    char *audit = NULL;
    /* Collective: a failure on one rank (an unwritable log directory) stops every rank. */
    if ((result = hf_comm_check(world, hf_audit_resolve(s3f.audit, &audit))) < 0) {
        free(audit);
        return result;
    }
    s3f.audit = audit;
    hf_s3_config s3;
    hf_source_opts so;
    hf_s3_flags_apply(&s3f, rank, &s3, &so);
    hf_etl_summary sum;
    double t0 = hf_now();
    result = hf_etl_run(world, &o, &so, manifest, !quiet, &sum);
    if (result >= 0 && rank == 0 && !quiet) {
        char *shown = hf_source_display(o.source);
        hf_info("etl: %zu members of %s: %zu written (%llu bytes), %zu unchanged (%.2fs)",
                sum.members, shown ? shown : "the source", sum.uploaded,
                (unsigned long long)sum.bytes, sum.unchanged, hf_now() - t0);
        free(shown);
    }
    free(audit);
    return result;
}
