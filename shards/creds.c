/* creds.c - AWS credential lookup (environment, shared credentials file, config file). */
#define _GNU_SOURCE
#include "shards/creds.h"

#include "common/fsutil.h"
#include "common/hf.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* The three strings share one private mapping so that they can be kept out of core dumps and
 * wiped in one place. The mapping's address and length are kept in front of it. */
typedef struct secret_block {
    size_t map_len;
    char data[];
} secret_block;

typedef struct hf_creds_impl {
    hf_creds pub; /* first: hf_creds * is cast back to this */
    secret_block *block;
} hf_creds_impl;

static int make_creds(const char *ak, size_t ak_len, const char *sk, size_t sk_len, const char *tok,
                      size_t tok_len, const char *source, hf_creds **out)
{
    int result = HF_OK;
    hf_creds_impl *c = hf_calloc(1, sizeof *c);
    if (!c)
        return HF_ENOMEM;
    size_t need = sizeof(secret_block) + ak_len + sk_len + tok_len + 3;
    long page = sysconf(_SC_PAGESIZE);
    size_t pg = page > 0 ? (size_t)page : 4096;
    size_t map_len = (need + pg - 1) / pg * pg;
    void *m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        result = hf_error(HF_ENOMEM, "credentials: cannot map %zu bytes: %s", map_len,
                          hf_strerror(errno));
        goto out;
    }
    /* Best effort: keep the secrets out of core dumps and swap. */
    (void)madvise(m, map_len, MADV_DONTDUMP);
    (void)mlock(m, map_len);
    c->block = m;
    c->block->map_len = map_len;
    char *p = c->block->data;
    memcpy(p, ak, ak_len);
    p[ak_len] = '\0';
    c->pub.access_key = p;
    p += ak_len + 1;
    memcpy(p, sk, sk_len);
    p[sk_len] = '\0';
    c->pub.secret_key = p;
    p += sk_len + 1;
    if (tok && tok_len > 0) {
        memcpy(p, tok, tok_len);
        p[tok_len] = '\0';
        c->pub.session_token = p;
    }
    c->pub.source = hf_strdup(source);
    if (!c->pub.source) {
        result = HF_ENOMEM;
        goto out;
    }
    *out = &c->pub;
    c = NULL;
out:
    if (c) {
        hf_creds *tmp = &c->pub;
        hf_creds_free(tmp);
        tmp = NULL;
    }
    return result;
}

static int hf_creds_new(const char *access_key, const char *secret_key, const char *session_token,
                        const char *source, hf_creds **out)
{
    *out = NULL;
    return make_creds(access_key, strlen(access_key), secret_key, strlen(secret_key), session_token,
                      session_token ? strlen(session_token) : 0, source, out);
}

void hf_creds_free(hf_creds *cp)
{
    if (!cp)
        return;
    hf_creds_impl *c = (hf_creds_impl *)cp;
    if (c->block) {
        size_t len = c->block->map_len;
        OPENSSL_cleanse(c->block, len);
        munlock(c->block, len);
        munmap(c->block, len);
    }
    free(c->pub.source);
    free(c);
}

static const char *nonempty_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Returns a new string with the path of an AWS file: the environment override or ~/.aws/NAME. */
static char *aws_file_path(const char *env_name, const char *name)
{
    const char *v = nonempty_env(env_name);
    if (v) {
        if (v[0] == '~' && v[1] == '/') {
            const char *home = nonempty_env("HOME");
            if (home)
                return hf_asprintf("%s%s", home, v + 1);
        }
        return hf_strdup(v);
    }
    const char *home = nonempty_env("HOME");
    if (!home) {
        struct passwd *pw = getpwuid(geteuid());
        home = pw ? pw->pw_dir : "/";
    }
    return hf_asprintf("%s/.aws/%s", home, name);
}

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Values found in one INI section. Pointers into the file buffer. */
typedef struct ini_found {
    const char *ak, *sk, *tok;
} ini_found;

/* Parses INI text in place and fills `f` from the section named `section`. Returns 1 if the section
 * exists, 0 if not. */
static int ini_lookup(char *text, const char *section, ini_found *f)
{
    int in_section = 0, seen = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *l = trim(line);
        if (*l == '#' || *l == ';' || *l == '\0')
            continue;
        if (*l == '[') {
            char *end = strchr(l, ']');
            if (!end)
                continue;
            *end = '\0';
            in_section = strcmp(trim(l + 1), section) == 0;
            seen |= in_section;
            continue;
        }
        if (!in_section)
            continue;
        char *eq = strchr(l, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *k = trim(l), *v = trim(eq + 1);
        if (strcmp(k, "aws_access_key_id") == 0)
            f->ak = v;
        else if (strcmp(k, "aws_secret_access_key") == 0)
            f->sk = v;
        else if (strcmp(k, "aws_session_token") == 0)
            f->tok = v;
    }
    return seen;
}

/* Looks for the profile in one file. Returns 1 and sets *out when complete credentials were
 * found, 0 when not there, negative on an incomplete entry or error. */
static int from_file(const char *path, const char *section, const char *kind, const char *profile,
                     hf_creds **out)
{
    char *text = NULL;
    size_t len = 0;
    int result = 0;
    if (!hf_fs_exists(path))
        return 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    size_t cap = 4096;
    text = hf_malloc(cap);
    if (!text) {
        fclose(fp);
        return HF_ENOMEM;
    }
    size_t n;
    while ((n = fread(text + len, 1, cap - len - 1, fp)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *t = hf_realloc(text, cap * 2);
            if (!t) {
                result = HF_ENOMEM;
                goto out;
            }
            text = t;
            cap *= 2;
        }
    }
    text[len] = '\0';
    ini_found f = {0};
    if (!ini_lookup(text, section, &f))
        goto out;
    if (!f.ak && !f.sk)
        goto out;
    if (!f.ak || !f.sk || !*f.ak || !*f.sk) {
        result = hf_error(HF_EAUTH,
                          "%s %s profile %s: incomplete credentials (need both aws_access_key_id "
                          "and aws_secret_access_key)",
                          kind, path, profile);
        goto out;
    }
    char *source = hf_asprintf("%s %s profile %s", kind, path, profile);
    if (!source) {
        result = HF_ENOMEM;
        goto out;
    }
    result = make_creds(f.ak, strlen(f.ak), f.sk, strlen(f.sk), f.tok, f.tok ? strlen(f.tok) : 0,
                        source, out);
    free(source);
    if (result == 0)
        result = 1;
out:
    fclose(fp);
    if (text) {
        OPENSSL_cleanse(text, cap);
        free(text);
    }
    return result;
}

int hf_creds_load(hf_creds **out)
{
    int result = HF_OK;
    char *cred_path = NULL, *conf_path = NULL, *conf_section = NULL;
    *out = NULL;

    const char *ak = nonempty_env("AWS_ACCESS_KEY_ID");
    const char *sk = nonempty_env("AWS_SECRET_ACCESS_KEY");
    if (ak || sk) {
        if (!ak || !sk) {
            result = hf_error(HF_EAUTH, "environment: %s is set but %s is not",
                              ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                              ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
            goto out;
        }
        result = hf_creds_new(ak, sk, nonempty_env("AWS_SESSION_TOKEN"), "environment", out);
        goto out;
    }

    const char *profile = nonempty_env("AWS_PROFILE");
    if (!profile)
        profile = "default";
    cred_path = aws_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    conf_path = aws_file_path("AWS_CONFIG_FILE", "config");
    if (!cred_path || !conf_path) {
        result = HF_ENOMEM;
        goto out;
    }
    int r = from_file(cred_path, profile, "shared credentials file", profile, out);
    if (r != 0) {
        result = r < 0 ? r : HF_OK;
        goto out;
    }
    conf_section =
        strcmp(profile, "default") == 0 ? hf_strdup("default") : hf_asprintf("profile %s", profile);
    if (!conf_section) {
        result = HF_ENOMEM;
        goto out;
    }
    r = from_file(conf_path, conf_section, "config file", profile, out);
    if (r != 0) {
        result = r < 0 ? r : HF_OK;
        goto out;
    }
    result = hf_error(HF_EAUTH,
                      "no AWS credentials found (looked in the environment AWS_ACCESS_KEY_ID, "
                      "shared credentials file %s and config file %s for profile %s)",
                      cred_path, conf_path, profile);
out:
    free(cred_path);
    free(conf_path);
    free(conf_section);
    return result;
}
