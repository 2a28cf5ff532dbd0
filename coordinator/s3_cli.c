/* s3_cli.c - `hyperfold s3 ls|cp|head`: a small S3 client built on the data plane, for users and
 * tests. It needs no MPI. */
#define _GNU_SOURCE
#include "shards/s3.h"
#include "shards/audit.h"

#include "common/hf.h"
#include "coordinator/args.h"
#include "coordinator/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hyperfold s3 ls s3://bucket/prefix/\n"
            "       hyperfold s3 cp SRC DST [--sse AES256|aws:kms] [--kms-key-id ID]\n"
            "       hyperfold s3 head s3://bucket/key\n"
            "options: --endpoint URL  --region NAME  --path-style  --virtual-hosted\n"
            "         --audit FILE (append one JSON line per request; default\n"
            "         $HYPERFOLD_AUDIT, else ~/.local/state/hyperfold/audit.jsonl; off: none)\n"
            "SRC/DST: s3://bucket/key, http(s)://... (download only) or a local path.\n"
            "Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or ~/.aws/credentials with\n"
            "AWS_PROFILE. Retries: HF_S3_MAX_RETRIES, HF_S3_RETRY_BUDGET_S.\n");
}

static int is_remote(const char *s)
{
    return strncmp(s, "s3://", 5) == 0 || strncmp(s, "http://", 7) == 0 ||
           strncmp(s, "https://", 8) == 0;
}

/* The local destination of a download: DST itself, or DST/<basename of the key> for a directory. */
static char *local_dest(const char *src, const char *dst)
{
    struct stat st;
    size_t n = strlen(dst);
    int dir = (n > 0 && dst[n - 1] == '/') || (stat(dst, &st) == 0 && S_ISDIR(st.st_mode));
    if (!dir)
        return hf_strdup(dst);
    size_t q = strcspn(src, "?#");
    char *clean = hf_strndup(src, q);
    if (!clean)
        return NULL;
    const char *base = strrchr(clean, '/');
    base = base && base[1] ? base + 1 : "download";
    char *out = hf_asprintf("%s%s%s", dst, dst[n - 1] == '/' ? "" : "/", base);
    free(clean);
    return out;
}

int hf_cmd_s3(int argc, char **argv)
{
    const char *pos[3] = {NULL, NULL, NULL};
    size_t npos = 0;
    const char *sse = NULL, *kms = NULL, *endpoint = NULL, *region = NULL, *audit = NULL;
    int path_style = 0, virtual_hosted = 0;
    const hf_arg_def defs[] = {
        {"--endpoint", "--endpoint-url", HF_ARG_VALUE, &endpoint, 0, NULL},
        HF_VALUE_ARG("--region", &region, NULL),
        HF_VALUE_ARG("--sse", &sse, NULL),
        HF_VALUE_ARG("--kms-key-id", &kms, NULL),
        HF_VALUE_ARG("--audit", &audit, NULL),
        HF_FLAG_ARG("--path-style", NULL, &path_style),
        HF_FLAG_ARG("--virtual-hosted", NULL, &virtual_hosted),
    };
    const hf_cmdline cl = {"s3", HF_ARGS(defs), "subcommand", "ls|cp|head ARGS", 3, usage};
    int result = hf_args_parse(&cl, argc, argv, pos, &npos, 1);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;
    if (path_style && virtual_hosted)
        return hf_error(HF_EINVAL, "s3: --path-style and --virtual-hosted: expected one of them");
    char *dest = NULL, *audit_path = NULL;
    hf_s3_object *objs = NULL;
    size_t nobjs = 0;
    hf_s3_config s3;
    hf_s3_config_init(&s3);
    s3.endpoint = (char *)endpoint; /* borrowed from argv: s3 is not released */
    s3.region = (char *)region;
    s3.path_style = path_style ? 1 : virtual_hosted ? 0 : -1;
    hf_source_opts opts = {.s3 = &s3, .audit_path = NULL, .rank = 0};
    if ((result = hf_audit_resolve(audit, &audit_path)) < 0)
        goto out;
    opts.audit_path = audit_path;

    const char *cmd = pos[0];
    if (strcmp(cmd, "ls") == 0) {
        if (npos != 2) {
            result = hf_error(HF_EINVAL, "s3 ls: expected one s3://bucket/prefix/");
            goto out;
        }
        result = hf_s3_list_objects(pos[1], &opts, &objs, &nobjs);
        if (result < 0)
            goto out;
        for (size_t k = 0; k < nobjs; k++)
            printf("%12llu %s\n", (unsigned long long)objs[k].size, objs[k].uri);
    } else if (strcmp(cmd, "head") == 0) {
        if (npos != 2) {
            result = hf_error(HF_EINVAL, "s3 head: expected one s3://bucket/key");
            goto out;
        }
        hf_s3_head_info info;
        result = hf_s3_head(pos[1], &opts, &info);
        if (result < 0)
            goto out;
        printf("uri: %s\nsize: %llu\netag: %s\n", pos[1], (unsigned long long)info.size, info.etag);
        if (info.checksum_sha256[0])
            printf("checksum_sha256: %s\n", info.checksum_sha256);
        if (info.sse[0])
            printf("server_side_encryption: %s\n", info.sse);
        if (info.last_modified[0])
            printf("last_modified: %s\n", info.last_modified);
        if (info.content_type[0])
            printf("content_type: %s\n", info.content_type);
    } else if (strcmp(cmd, "cp") == 0) {
        if (npos != 3) {
            result = hf_error(HF_EINVAL, "s3 cp: expected SRC and DST");
            goto out;
        }
        const char *src = pos[1], *dst = pos[2];
        if (is_remote(src) && !is_remote(dst)) {
            if (sse || kms) {
                result = hf_error(HF_EINVAL, "s3 cp: --sse/--kms-key-id apply to "
                                             "uploads only");
                goto out;
            }
            if (!(dest = local_dest(src, dst))) {
                result = HF_ENOMEM;
                goto out;
            }
            result = hf_s3_download_file(src, dest, &opts);
        } else if (!is_remote(src) && strncmp(dst, "s3://", 5) == 0) {
            result = hf_s3_upload_file(src, dst, &opts, sse, kms);
        } else {
            result = hf_error(HF_EINVAL,
                              "s3 cp %s %s: expected remote->local or "
                              "local->s3://",
                              src, dst);
        }
    } else {
        result = hf_error(HF_EINVAL,
                          "s3: unknown subcommand %s (expected ls, cp or "
                          "head)",
                          cmd);
    }
out:
    hf_s3_objects_free(objs, nobjs);
    free(dest);
    free(audit_path);
    return result;
}
