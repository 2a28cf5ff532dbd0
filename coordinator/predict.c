/* predict.c - `hyperfold predict`: batch inference (batch transform) with a model.h5: rows split
 * over the ranks, output in input order; models, inputs and outputs local or on S3 (see
 * docs/batch-transform.md). */
#define _GNU_SOURCE
#include "coordinator/args.h"
#include "coordinator/commands.h"
#include "coordinator/modelfile.h"

#include "common/csvw.h"
#include "common/fsutil.h"
#include "common/hf.h"
#include "shards/audit.h"
#include "shards/ingest.h"
#include "shards/s3.h"
#include "worker/task.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: mpirun -np N hyperfold predict --model MODEL --input IN --output OUT\n"
        "         [--keep-columns COL,...] [--ignore-extra-columns] [--format csv|jsonl]\n"
        "         [--join] [--endpoint URL] [--region R] [--path-style] [--audit FILE]\n"
        "         [--quiet]\n"
        "\n"
        "Applies the model's preprocessing and model to every row of IN (batch transform).\n"
        "The rows are split over the ranks; the output keeps the input order and is the same\n"
        "at any number of ranks. Each output row has the kept columns (first, their text as\n"
        "in the input), a `prediction` column and, for classifiers, one `proba_<class>`\n"
        "column per class.\n"
        "\n"
        "  --model MODEL   model.h5: a path, a directory holding model.h5 (/opt/ml/model),\n"
        "                  s3://bucket/key or s3://bucket/prefix/ (its model.h5), http(s)://\n"
        "  --input IN      a CSV file (.gz, .zip), a directory, s3://bucket/key,\n"
        "                  s3://bucket/prefix/ (every object under it), http(s)://\n"
        "  --output OUT    a file or s3://bucket/key; for a directory or prefix input, a\n"
        "                  directory (DIR/ or an existing one) or s3://bucket/prefix/ that\n"
        "                  gets one <name>.out per input object (<name>: the object's path\n"
        "                  under the input prefix)\n"
        "  --join          a directory or prefix input: one joined output file OUT instead\n"
        "  --keep-columns  input columns passed through to the output unchanged\n"
        "  --ignore-extra-columns  skip input columns the model does not know (default: an\n"
        "                  error); the target, fold, group and order columns are always allowed\n"
        "  --format        csv (default, with a header) or jsonl (one JSON object per row,\n"
        "                  the CSV header's names as keys, numbers as the CSV prints them)\n"
        "  --endpoint, --region, --path-style  the S3 endpoint (default AWS_ENDPOINT_URL,\n"
        "                  AWS_REGION); credentials as `hyperfold s3` finds them\n"
        "  --audit FILE    append one JSON line per S3/HTTP request to FILE (default\n"
        "                  $HYPERFOLD_AUDIT, else ~/.local/state/hyperfold/audit.jsonl;\n"
        "                  off: none; docs/security.md)\n");
}

enum { FMT_CSV = 0, FMT_JSONL = 1 };

/* Splits "a,b,c" into a new array of names (caller frees with hf_strv_free). */
static int split_names(const char *list, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 1;
    for (const char *p = list; *p; p++)
        cap += *p == ',';
    char **v = hf_calloc(cap + 1, sizeof *v);
    if (!v)
        return HF_ENOMEM;
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0) {
            hf_strv_free(v, *n);
            return hf_error(HF_EINVAL,
                            "predict: --keep-columns \"%s\": got an empty column name, expected "
                            "names separated by commas",
                            list);
        }
        if (!(v[*n] = hf_strndup(p, len))) {
            hf_strv_free(v, *n);
            return HF_ENOMEM;
        }
        (*n)++;
        if (!e)
            break;
        p = e + 1;
    }
    *out = v;
    return HF_OK;
}

/* A JSON string literal for s (caller frees). */
static char *json_quote(const char *s)
{
    json_t *j = json_string(s);
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return t;
}

/* A number as the CSV prints it (%.17g); in JSON a non-finite value is null. */
static void put_number(FILE *fp, double v, int fmt)
{
    if (fmt == FMT_JSONL && !isfinite(v))
        fputs("null", fp);
    else
        fprintf(fp, "%.17g", v);
}

typedef struct out_cols {
    size_t n;
    char **names;  /* the CSV header's names */
    char **jkeys;  /* their JSON string literals, with the colon: "\"id\":" */
    char **labels; /* JSONL: the class labels as JSON strings */
    size_t n_labels;
} out_cols;

static void out_cols_free(out_cols *c)
{
    hf_strv_free(c->names, c->n);
    hf_strv_free(c->jkeys, c->n);
    hf_strv_free(c->labels, c->n_labels);
    memset(c, 0, sizeof *c);
}

static int out_cols_init(out_cols *c, const hf_schema *s, char *const *keep, size_t n_keep)
{
    memset(c, 0, sizeof *c);
    size_t nc = s->task == HF_TASK_CLASSIFICATION ? s->n_classes : 0;
    c->n = n_keep + 1 + nc;
    c->names = hf_calloc(c->n + 1, sizeof *c->names);
    c->jkeys = hf_calloc(c->n + 1, sizeof *c->jkeys);
    c->labels = hf_calloc(nc + 1, sizeof *c->labels);
    if (!c->names || !c->jkeys || !c->labels)
        return HF_ENOMEM;
    c->n_labels = nc;
    for (size_t k = 0; k < c->n; k++) {
        c->names[k] = k < n_keep    ? hf_strdup(keep[k])
                      : k == n_keep ? hf_strdup("prediction")
                                    : hf_asprintf("proba_%s", s->classes[k - n_keep - 1]);
        char *q = c->names[k] ? json_quote(c->names[k]) : NULL;
        c->jkeys[k] = q ? hf_asprintf("%s:", q) : NULL;
        free(q);
        if (!c->jkeys[k])
            return HF_ENOMEM;
    }
    for (size_t k = 0; k < nc; k++)
        if (!(c->labels[k] = json_quote(s->classes[k])))
            return HF_ENOMEM;
    return HF_OK;
}

/* The header line (CSV) or nothing (JSONL), as a new string. */
static char *header_text(const out_cols *c, int fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp)
        return NULL;
    for (size_t k = 0; fmt == FMT_CSV && k < c->n; k++) {
        if (k)
            fputc(',', fp);
        hf_csvw_put_field(fp, c->names[k]);
    }
    if (fmt == FMT_CSV)
        fputc('\n', fp);
    if (fclose(fp) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Formats this rank's rows into a memory buffer, grouped by input object in order; obj_len[o]:
 * the bytes of object o's rows. */
static int format_rows(const hf_modelfile *m, const out_cols *oc, int fmt, const double *pred,
                       const hf_predict_rows *rows, char **out, size_t *len, int64_t *obj_len)
{
    FILE *fp = open_memstream(out, len);
    if (!fp)
        return hf_error(HF_ENOMEM, "out of memory formatting predictions");
    const hf_schema *s = m->schema;
    size_t no = m->fitted->n_outputs, nk = rows->n_keep;
    long start = 0;
    size_t cur = 0;
    for (size_t i = 0; i < rows->n_rows; i++) {
        if (rows->object[i] != cur || i == 0) {
            fflush(fp);
            if (i > 0)
                obj_len[cur] += (int64_t)*len - start;
            start = (long)*len;
            cur = rows->object[i];
        }
        const double *p = pred + i * no;
        if (fmt == FMT_JSONL)
            fputc('{', fp);
        for (size_t k = 0; k < nk; k++) {
            const char *v = rows->kept[i * nk + k];
            if (fmt == FMT_CSV) {
                hf_csvw_put_field(fp, v);
                fputc(',', fp);
            } else {
                char *q = json_quote(v);
                if (!q) {
                    fclose(fp);
                    return hf_error(HF_ENOMEM, "out of memory formatting predictions");
                }
                fprintf(fp, "%s%s,", oc->jkeys[k], q);
                free(q);
            }
        }
        if (fmt == FMT_JSONL)
            fputs(oc->jkeys[nk], fp);
        if (s->task == HF_TASK_CLASSIFICATION) {
            size_t best = hf_pred_class(p, no);
            if (fmt == FMT_CSV)
                hf_csvw_put_field(fp, s->classes[best]);
            else
                fputs(oc->labels[best], fp);
            for (size_t k = 0; k < no; k++) {
                fputc(',', fp);
                if (fmt == FMT_JSONL)
                    fputs(oc->jkeys[nk + 1 + k], fp);
                put_number(fp, p[k], fmt);
            }
        } else {
            put_number(fp, p[0], fmt);
        }
        if (fmt == FMT_JSONL)
            fputc('}', fp);
        fputc('\n', fp);
    }
    if (fclose(fp) != 0)
        return hf_error(HF_ENOMEM, "out of memory formatting predictions");
    if (rows->n_rows)
        obj_len[cur] += (int64_t)*len - start;
    return HF_OK;
}

/* Writes header + the pieces to a local path (temporary name, then rename). */
static int write_local(const char *path, const char *header, const char *const *piece,
                       const size_t *piece_len, size_t n_pieces)
{
    FILE *fp;
    char *tmp;
    int result = hf_fs_open_tmp(path, &fp, &tmp);
    if (result < 0)
        return result;
    int bad = fputs(header, fp) < 0;
    for (size_t k = 0; !bad && k < n_pieces; k++)
        bad = piece_len[k] && fwrite(piece[k], 1, piece_len[k], fp) != piece_len[k];
    if (bad) {
        result = hf_error(HF_EIO, "writing %s: %s", tmp, hf_strerror(errno));
        hf_fs_abort_tmp(fp, tmp);
        return result;
    }
    return hf_fs_commit_tmp(fp, tmp, path);
}

/* One output: a local path (its directory created) or an s3:// key (through a private
 * temporary file, uploaded with the project's client: one PUT or a multipart upload). */
static int write_output(const char *dest, const char *header, const char *const *piece,
                        const size_t *piece_len, size_t n_pieces, const hf_source_opts *so)
{
    if (strncmp(dest, "s3://", 5) != 0) {
        char *dir = hf_strdup(dest);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        int result = dir ? HF_OK : HF_ENOMEM;
        if (slash && slash != dir) {
            *slash = '\0';
            result = hf_fs_mkdirs(dir);
        }
        free(dir);
        return result < 0 ? result : write_local(dest, header, piece, piece_len, n_pieces);
    }
    const char *tmpdir = getenv("TMPDIR");
    char *d = hf_asprintf("%s/hf_predict_XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    char *path = NULL;
    int result = d ? HF_OK : HF_ENOMEM;
    if (result >= 0 && !mkdtemp(d)) {
        result =
            hf_error(HF_EIO, "creating a temporary directory for %s: %s", dest, hf_strerror(errno));
    } else if (result >= 0) {
        path = hf_asprintf("%s/out", d);
        result = path ? write_local(path, header, piece, piece_len, n_pieces) : HF_ENOMEM;
        if (result >= 0)
            result = hf_s3_upload_file(path, dest, so, NULL, NULL);
        if (path)
            unlink(path);
        rmdir(d);
    }
    free(path);
    free(d);
    return result;
}

/* The output name of input object `obj` under the output prefix: its path under the input
 * prefix (its base name if it is not under it) + ".out". NULL with the error set when the name
 * would leave the output directory (an object key with a ".." segment) or out of memory. */
static char *object_output(const char *input, const char *obj, const char *out_prefix)
{
    size_t n = strlen(input);
    const char *rel = NULL;
    if (strncmp(obj, input, n) == 0) {
        rel = obj + n;
        while (*rel == '/')
            rel++;
    }
    if (!rel || !*rel) {
        const char *b = strrchr(obj, '/');
        rel = b ? b + 1 : obj;
    }
    /* An S3 key is any text: "in/../../home/u/.bashrc" must not write outside the output. */
    for (const char *seg = rel; seg;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            hf_error(HF_EDATA,
                     "predict: input object %s: its name has a \"..\" segment, expected a name "
                     "that stays under the output %s",
                     obj, out_prefix);
            return NULL;
        }
        seg = slash ? slash + 1 : NULL;
    }
    size_t m = strlen(out_prefix);
    char *dest =
        hf_asprintf("%s%s%s.out", out_prefix, m && out_prefix[m - 1] == '/' ? "" : "/", rel);
    if (!dest)
        hf_error(HF_ENOMEM, "out of memory");
    return dest;
}

static int is_dir(const char *path)
{
    struct stat st;
    return strncmp(path, "s3://", 5) != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The output against the input: a joined output is a file, per-object outputs a directory or a
 * prefix. Not collective; the caller agrees on it over the ranks. */
static int check_output(const char *input, const char *output, int join, int per_object)
{
    size_t olen = strlen(output);
    if (join && olen && (output[olen - 1] == '/' || is_dir(output)))
        return hf_error(HF_EINVAL,
                        "predict: --join --output %s: got a directory, expected the file (or "
                        "s3://bucket/key) of the joined output",
                        output);
    if (per_object && olen && output[olen - 1] != '/' && !is_dir(output))
        return hf_error(HF_EINVAL,
                        "predict: --output %s: for the directory or prefix input %s, expected a "
                        "directory or prefix ending in / (one <name>.out per input object), or "
                        "--join for one file",
                        output, input);
    if (!per_object && olen && output[olen - 1] == '/')
        return hf_error(HF_EINVAL,
                        "predict: --output %s: got a directory, expected a file (or "
                        "s3://bucket/key) for the input %s",
                        output, input);
    return HF_OK;
}

int hf_cmd_predict(hf_comm *world, int argc, char **argv)
{
    const char *model_path = NULL, *input = NULL, *output = NULL, *keep_list = NULL;
    const char *format = "csv";
    hf_s3_flags s3f = {0};
    int quiet = 0, join = 0, ignore_extra = 0, rank = hf_comm_rank(world);
    const hf_arg_def defs[] = {HF_VALUE_ARG("--model", &model_path, NULL),
                               HF_VALUE_ARG("--input", &input, NULL),
                               HF_VALUE_ARG("--output", &output, NULL),
                               HF_VALUE_ARG("--keep-columns", &keep_list, NULL),
                               HF_FLAG_ARG("--ignore-extra-columns", NULL, &ignore_extra),
                               HF_VALUE_ARG("--format", &format, NULL),
                               HF_FLAG_ARG("--join", NULL, &join),
                               HF_S3_FLAG_ARGS(&s3f),
                               HF_FLAG_ARG("--quiet", "-q", &quiet)};
    const hf_cmdline cl = {"predict", HF_ARGS(defs), NULL, NULL, 0, usage};
    int result = hf_args_parse(&cl, argc, argv, NULL, NULL, rank == 0);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;
    if (!model_path || !input || !output)
        return hf_error(HF_EINVAL, "predict: --model, --input and --output are required");
    int fmt = strcmp(format, "csv") == 0 ? FMT_CSV : strcmp(format, "jsonl") == 0 ? FMT_JSONL : -1;
    if (fmt < 0)
        return hf_error(HF_EINVAL, "predict: --format \"%s\": expected csv or jsonl", format);
    if (quiet)
        hf_log_set_level(HF_LOG_QUIET);

    double t0 = hf_now();
    hf_modelfile *m = NULL;
    hf_dataset *local = NULL;
    hf_predict_rows *rows = NULL;
    double *pred = NULL;
    char *text = NULL, *all = NULL, *lens_all = NULL, *header = NULL;
    char **keep = NULL;
    size_t n_keep = 0, text_len = 0, *lens = NULL, *lens_lens = NULL;
    int64_t *obj_len = NULL;
    out_cols oc = {0};
    char *audit = NULL;
    hf_s3_config s3;
    hf_source_opts sopts;
    hf_s3_flags_apply(&s3f, rank, &s3, &sopts);
    /* A directory or prefix input gets one output per object unless --join. The ranks agree on
     * the checks below: a directory may exist on one node's file system and not another's. */
    int per_object = hf_source_is_prefix(input) && !join;
    if ((result = hf_comm_check(world, check_output(input, output, join, per_object))) < 0)
        return result;
    if (keep_list && (result = split_names(keep_list, &keep, &n_keep)) < 0)
        return result;
    /* Every S3 / HTTP access is audited (shards/audit.h: --audit, HYPERFOLD_AUDIT, default). */
    if ((result = hf_comm_check(world, hf_audit_resolve(s3f.audit, &audit))) < 0)
        goto out;
    sopts.audit_path = audit;

    result = hf_modelfile_read_uri(world, model_path, &sopts, &m);
    if (result < 0)
        goto out;
    hf_predict_input_opts pio = {
        .ignore_extra_columns = ignore_extra, .keep = keep, .n_keep = n_keep};
    result = hf_ingest_predict_input_ex(world, input, m->schema, &sopts, &pio, &local, &rows);
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    size_t no = m->fitted->n_outputs, nobj = rows->n_objects;
    pred = hf_malloc((local->n_rows ? local->n_rows : 1) * no * sizeof *pred);
    obj_len = hf_calloc(nobj + 1, sizeof *obj_len);
    result = pred && obj_len
                 ? hf_predict_pipeline(m->prep, m->fitted, NULL, local, NULL, local->n_rows, pred)
                 : HF_ENOMEM;
    if (result >= 0)
        result = out_cols_init(&oc, m->schema, keep, n_keep);
    if (result >= 0 && !(header = header_text(&oc, fmt)))
        result = HF_ENOMEM;
    if (result >= 0)
        result = format_rows(m, &oc, fmt, pred, rows, &text, &text_len, obj_len);
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    int64_t total = (int64_t)local->n_rows;
    if ((result = hf_comm_allreduce_sum_i64(world, &total, 1)) < 0)
        goto out;
    /* Ranks hold consecutive row ranges in rank order, each grouped by object in object order:
     * object o's output is its piece of every rank, in rank order. */
    if ((result = hf_comm_gather_blob(world, text, text_len, 0, &all, &lens)) < 0)
        goto out;
    if ((result = hf_comm_gather_blob(world, obj_len, nobj * sizeof *obj_len, 0, &lens_all,
                                      &lens_lens)) < 0)
        goto out;
    if (rank == 0) {
        int nr = hf_comm_size(world);
        const char **piece = hf_calloc((size_t)nr * (nobj + 1), sizeof *piece);
        size_t *plen = hf_calloc((size_t)nr * (nobj + 1), sizeof *plen);
        result = piece && plen ? HF_OK : HF_ENOMEM;
        /* piece[o * nr + r]: rank r's rows of object o. */
        size_t base = 0;
        for (int r = 0; result >= 0 && r < nr; r++) {
            int64_t ol[1];
            size_t off = base;
            for (size_t o = 0; o < nobj; o++) {
                memcpy(ol, lens_all + ((size_t)r * nobj + o) * sizeof *ol, sizeof *ol);
                piece[o * nr + r] = all + off;
                plen[o * nr + r] = (size_t)ol[0];
                off += (size_t)ol[0];
            }
            base += lens[r];
        }
        if (result >= 0 && !per_object) {
            result = write_output(output, header, piece, plen, (size_t)nr * nobj, &sopts);
        } else {
            for (size_t o = 0; result >= 0 && o < nobj; o++) {
                char *dest = object_output(input, rows->objects[o], output);
                result = dest ? write_output(dest, header, piece + o * nr, plen + o * nr,
                                             (size_t)nr, &sopts)
                              : hf_error_code();
                if (result >= 0 && !quiet)
                    hf_info("wrote %lld predictions to %s", (long long)rows->object_rows[o], dest);
                free(dest);
            }
        }
        free(piece);
        free(plen);
        if (result >= 0 && !quiet)
            hf_info("wrote %lld predictions of %zu input object%s to %s (%.2fs)", (long long)total,
                    nobj, nobj == 1 ? "" : "s", output, hf_now() - t0);
    }
    result = hf_comm_check(world, result);
out:
    hf_modelfile_free(m);
    hf_dataset_free(local);
    hf_predict_rows_free(rows);
    out_cols_free(&oc);
    hf_strv_free(keep, n_keep);
    free(pred);
    free(text);
    free(all);
    free(lens);
    free(lens_all);
    free(lens_lens);
    free(obj_len);
    free(header);
    free(audit);
    return result;
}
