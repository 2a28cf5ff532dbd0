/* fuzz_model_h5_struct.c - the model.h5 reader on well-formed HDF5 files with hostile contents.
 *
 * Byte mutations of an HDF5 file mostly exercise libhdf5's own parsing (fuzz_model_h5). This
 * harness instead reads the real models of tests/fuzz/corpus/model_h5 once, as lists of items
 * (root attributes, the arrays of /model, /preprocess and /cv, the string datasets), and treats
 * the fuzz input as a program of edits on one of them: drop, rename, duplicate or move an item;
 * change an attribute into an array, a number into a string, a variable-length string into a
 * fixed-length one; change an array's shape (up to dimensions of 2^40 and more, whose data is
 * then left to the fill value), its type, its values; and edit the JSON attributes (schema_json,
 * preprocess_json, params_json) node by node. The edited model is written with the HDF5 API and
 * read and used for prediction as `hyperfold predict` does (fuzz_model.c): what libhdf5 parses
 * is always valid, what hyperfold gets is anything a file can hold.
 *
 * Input: byte 0 picks the template; then each edit is an opcode byte and its operands (see
 * apply()); the input ends the program. */
#include "coordinator/modelfile.h"
#include "fuzz_model.h"
#include "fuzz_util.h"

#include <dirent.h>
#include <hdf5.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ITEM_ATTR, ITEM_ARRAY, ITEM_STRINGS };
enum { STORE_F64, STORE_I32, STORE_F32, STORE_STR, STORE_FIXED_STR, N_STORES };

#define MAX_ITEMS 96
#define MAX_TEMPLATES 16
#define MAX_DATA ((size_t)1 << 16) /* more elements than this are left to the fill value */

typedef struct item {
    int kind;
    char group[16]; /* "" (root) for attributes; "model", "preprocess", "cv" or "" */
    char name[64];
    int store;       /* how the values are written */
    int rank;        /* 0 = scalar (attributes) */
    hsize_t dims[3]; /* the shape written */
    double *d;       /* numeric values (nd of them), cycled to fill the shape */
    size_t nd;       /* 0 with a shape: no data written (fill value) */
    char **s;        /* string values (ns of them) */
    size_t ns;
} item;

typedef struct model {
    item it[MAX_ITEMS];
    size_t n;
} model;

static model g_templates[MAX_TEMPLATES];
static size_t g_n_templates;

static const char *const k_array_names[] = {"coef",
                                            "intercept",
                                            "dual_coef",
                                            "X_fit",
                                            "kernel_params",
                                            "prep.impute",
                                            "prep.center",
                                            "prep.scale",
                                            "prep.slots",
                                            "prep.pca_components",
                                            "prep.pca_mean",
                                            "prep.pca_explained_variance",
                                            "fold_scores",
                                            "features",
                                            "design_features",
                                            "classes"};
static const char *const k_groups[] = {"model", "preprocess", "cv", ""};
static const char *const k_words[] = {"numeric",
                                      "categorical",
                                      "boolean",
                                      "classification",
                                      "regression",
                                      "mean",
                                      "median",
                                      "most_frequent",
                                      "constant",
                                      "standard",
                                      "minmax",
                                      "none",
                                      "onehot",
                                      "hyperfold.preprocess/1",
                                      "hyperfold-model",
                                      "ridge",
                                      "logistic_regression",
                                      "kernel_ridge",
                                      "rbf",
                                      "polynomial",
                                      "linear",
                                      "false",
                                      "true",
                                      "",
                                      "missing_value"};

/* ---- reading the templates -------------------------------------------------------------- */

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        abort();
    return p;
}

static char *xstrdup(const char *s)
{
    return hf_fuzz_strndup((const uint8_t *)s, strlen(s));
}

static void item_free(item *it)
{
    free(it->d);
    for (size_t i = 0; i < it->ns; i++)
        free(it->s[i]);
    free(it->s);
    memset(it, 0, sizeof *it);
}

static void item_copy(item *dst, const item *src)
{
    *dst = *src;
    dst->d = NULL;
    dst->s = NULL;
    if (src->nd) {
        dst->d = xcalloc(src->nd, sizeof *dst->d);
        memcpy(dst->d, src->d, src->nd * sizeof *dst->d);
    }
    if (src->ns) {
        dst->s = xcalloc(src->ns, sizeof *dst->s);
        for (size_t i = 0; i < src->ns; i++)
            dst->s[i] = xstrdup(src->s[i]);
    }
}

/* Reads strings (variable-length, format_version 2 templates; fixed-length, format 3) or numbers
 * of an attribute or dataset. */
static void read_values(hid_t obj, int is_attr, hid_t ftype, hid_t space, item *it)
{
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n < 0)
        n = 0;
    it->rank = H5Sget_simple_extent_ndims(space);
    if (it->rank > 3 || it->rank < 0)
        it->rank = 0;
    H5Sget_simple_extent_dims(space, it->dims, NULL);
    if (H5Tget_class(ftype) == H5T_STRING && H5Tis_variable_str(ftype) <= 0) {
        /* A template is a real model: its sizes are sane. */
        size_t size = H5Tget_size(ftype);
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, size);
        H5Tset_strpad(t, H5T_STR_NULLPAD);
        H5Tset_cset(t, H5Tget_cset(ftype));
        char *v = xcalloc((size_t)n * size + 1, 1);
        herr_t rc =
            is_attr ? H5Aread(obj, t, v) : H5Dread(obj, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        it->store = STORE_FIXED_STR;
        it->s = xcalloc((size_t)n, sizeof *it->s);
        for (hssize_t i = 0; i < n; i++) {
            char *e = xcalloc(size + 1, 1);
            if (rc >= 0)
                memcpy(e, v + (size_t)i * size, size);
            it->s[i] = e;
        }
        it->ns = (size_t)n;
        free(v);
        H5Tclose(t);
        return;
    }
    if (H5Tget_class(ftype) == H5T_STRING) {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
        char **v = xcalloc((size_t)n, sizeof *v);
        herr_t rc =
            is_attr ? H5Aread(obj, t, v) : H5Dread(obj, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        it->store = STORE_STR;
        it->s = xcalloc((size_t)n, sizeof *it->s);
        for (hssize_t i = 0; i < n; i++)
            it->s[i] = xstrdup(rc >= 0 && v[i] ? v[i] : "");
        it->ns = (size_t)n;
        if (rc >= 0)
            H5Dvlen_reclaim(t, space, H5P_DEFAULT, v);
        free(v);
        H5Tclose(t);
        return;
    }
    it->store = STORE_F64;
    it->d = xcalloc((size_t)n, sizeof *it->d);
    it->nd = (size_t)n;
    if (n > 0)
        (void)(is_attr ? H5Aread(obj, H5T_NATIVE_DOUBLE, it->d)
                       : H5Dread(obj, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, it->d));
}

static herr_t read_attr(hid_t loc, const char *name, const H5A_info_t *info, void *arg)
{
    (void)info;
    model *m = arg;
    if (m->n == MAX_ITEMS)
        return 0;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    item *it = &m->it[m->n++];
    memset(it, 0, sizeof *it);
    it->kind = ITEM_ATTR;
    snprintf(it->name, sizeof it->name, "%s", name);
    read_values(a, 1, t, s, it);
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
    return 0;
}

typedef struct group_ctx {
    model *m;
    const char *group;
} group_ctx;

static herr_t read_dataset(hid_t loc, const char *name, const H5L_info_t *info, void *arg)
{
    (void)info;
    group_ctx *g = arg;
    model *m = g->m;
    hid_t d = m->n < MAX_ITEMS ? H5Dopen2(loc, name, H5P_DEFAULT) : H5I_INVALID_HID;
    if (d < 0) /* a group, or no room */
        return 0;
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    item *it = &m->it[m->n++];
    memset(it, 0, sizeof *it);
    snprintf(it->group, sizeof it->group, "%s", g->group);
    snprintf(it->name, sizeof it->name, "%s", name);
    read_values(d, 0, t, s, it);
    it->kind = it->store == STORE_STR || it->store == STORE_FIXED_STR ? ITEM_STRINGS : ITEM_ARRAY;
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
    return 0;
}

static void load_template(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0 || g_n_templates == MAX_TEMPLATES)
        return;
    model *m = &g_templates[g_n_templates++];
    hsize_t idx = 0;
    H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &idx, read_attr, m);
    for (size_t g = 0; g < 4; g++) {
        group_ctx c = {m, k_groups[g]};
        const char *gname = g < 3 ? k_groups[g] : "/";
        if (g < 3 && H5Lexists(f, gname, H5P_DEFAULT) <= 0)
            continue;
        hid_t grp = H5Gopen2(f, gname, H5P_DEFAULT);
        idx = 0;
        H5Literate(grp, H5_INDEX_NAME, H5_ITER_INC, &idx, read_dataset, &c);
        H5Gclose(grp);
    }
    H5Fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    const char *dir = HF_FUZZ_DIR "/corpus/model_h5";
    DIR *dp = opendir(dir);
    if (!dp)
        abort();
    char *names[MAX_TEMPLATES];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) && n < MAX_TEMPLATES) {
        size_t l = strlen(e->d_name);
        /* The real models only (finding reproducers there are not templates, nor the stamped-*
         * seeds of fuzz_model_h5: this harness stamps every file it writes, and a new template
         * would change which template the reproducers' first byte picks). */
        if (l > 3 && !strcmp(e->d_name + l - 3, ".h5") && strncmp(e->d_name, "finding", 7) &&
            strncmp(e->d_name, "stamped-", 8))
            names[n++] = xstrdup(e->d_name);
    }
    closedir(dp);
    for (size_t i = 1; i < n; i++) /* sorted, so template k is the same model everywhere */
        for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
            char *t = names[k];
            names[k] = names[k - 1];
            names[k - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        load_template(path);
        free(names[i]);
    }
    if (g_n_templates == 0) {
        fprintf(stderr, "fuzz_model_h5_struct: no model templates in %s\n", dir);
        abort();
    }
    return 0;
}

/* ---- edits -------------------------------------------------------------------------------- */

static double special(hf_fuzz_input *in)
{
    static const double v[] = {0.0,      1.0,          -1.0,   2.0,     0.5,   3.0,
                               1e9,      4294967296.0, 9.3e18, -9.3e18, 1e308, -1e308,
                               INFINITY, -INFINITY,    NAN,    1e-310};
    uint8_t k = hf_fuzz_u8(in);
    if (k < 200)
        return v[k % (sizeof v / sizeof v[0])];
    uint64_t bits = hf_fuzz_u64(in);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static hsize_t dim(hf_fuzz_input *in)
{
    static const hsize_t v[] = {0,
                                1,
                                2,
                                3,
                                4,
                                5,
                                10,
                                11,
                                13,
                                30,
                                64,
                                1000,
                                (hsize_t)1 << 20,
                                (hsize_t)1 << 32,
                                (hsize_t)1 << 40,
                                (hsize_t)1 << 61};
    uint8_t k = hf_fuzz_u8(in);
    return k < 240 ? v[k % (sizeof v / sizeof v[0])] : (hsize_t)hf_fuzz_u32(in);
}

/* Edits the text of a string at a position chosen by the input. */
static void edit_text(char **sp, hf_fuzz_input *in)
{
    char *s = *sp;
    size_t len = strlen(s), pos = (size_t)hf_fuzz_below(in, len + 1);
    uint8_t how = hf_fuzz_u8(in) % 4;
    char *t = NULL;
    if (how == 0 && pos < len) {             /* overwrite a byte */
        s[pos] = (char)(hf_fuzz_u8(in) | 1); /* never a NUL */
        return;
    }
    if (how == 1) { /* insert a string */
        char *ins = hf_fuzz_str(in, 16);
        t = xcalloc(len + strlen(ins) + 1, 1);
        memcpy(t, s, pos);
        strcpy(t + pos, ins);
        strcat(t, s + pos);
        free(ins);
    } else if (how == 2) { /* delete bytes */
        size_t k = (size_t)hf_fuzz_below(in, len - pos + 1);
        memmove(s + pos, s + pos + k, len - pos - k + 1);
        return;
    } else { /* replace by a known word or fuzz bytes */
        uint8_t w = hf_fuzz_u8(in);
        t = w < 200 ? xstrdup(k_words[w % (sizeof k_words / sizeof k_words[0])])
                    : hf_fuzz_str(in, 64);
    }
    free(s);
    *sp = t;
}

/* The nodes of a JSON document in depth-first order, with their parents. */
typedef struct jnode {
    json_t *v, *parent;
    const char *key; /* in an object parent */
    size_t index;    /* in an array parent */
} jnode;

static void collect(json_t *v, json_t *parent, const char *key, size_t index, jnode *out, size_t *n,
                    size_t cap)
{
    if (*n == cap)
        return;
    out[(*n)++] = (jnode){v, parent, key, index};
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) collect(c, v, k, 0, out, n, cap);
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            collect(json_array_get(v, i), v, NULL, i, out, n, cap);
    }
}

static void replace(jnode *n, json_t *with)
{
    if (!with)
        return;
    if (json_is_object(n->parent))
        json_object_set_new(n->parent, n->key, with);
    else if (json_is_array(n->parent))
        json_array_set_new(n->parent, n->index, with);
    else
        json_decref(with);
}

/* One structural edit of a JSON attribute; the text stays as it was if it is not JSON. */
static void edit_json(char **sp, hf_fuzz_input *in)
{
    json_error_t err;
    json_t *root = json_loads(*sp, 0, &err);
    if (!root) {
        edit_text(sp, in);
        return;
    }
    static jnode nodes[4096];
    size_t n = 0;
    collect(root, NULL, NULL, 0, nodes, &n, 4096);
    jnode *x = &nodes[hf_fuzz_below(in, n)];
    uint8_t how = hf_fuzz_u8(in) % 8;
    switch (how) {
    case 0: { /* a number */
        double d = special(in);
        replace(x, isfinite(d) && d == floor(d) && fabs(d) < 9.2e18 ? json_integer((json_int_t)d)
                                                                    : json_real(d));
        break;
    }
    case 1: { /* a string */
        uint8_t w = hf_fuzz_u8(in);
        char *s = w < 200 ? xstrdup(k_words[w % (sizeof k_words / sizeof k_words[0])])
                          : hf_fuzz_str(in, 32);
        replace(x, json_string(s));
        free(s);
        break;
    }
    case 2: /* delete it */
        if (json_is_object(x->parent))
            json_object_del(x->parent, x->key);
        else if (json_is_array(x->parent))
            json_array_remove(x->parent, x->index);
        break;
    case 3: /* duplicate it in its array */
        if (json_is_array(x->parent))
            json_array_insert_new(x->parent, x->index, json_deep_copy(x->v));
        break;
    case 4: /* another type */
        replace(x, hf_fuzz_u8(in) & 1 ? json_null() : json_boolean(hf_fuzz_u8(in) & 1));
        break;
    case 5: /* an empty container */
        replace(x, hf_fuzz_u8(in) & 1 ? json_array() : json_object());
        break;
    case 6: /* swap with a sibling */
        if (json_is_array(x->parent) && json_array_size(x->parent) > 1) {
            size_t j = (size_t)hf_fuzz_below(in, json_array_size(x->parent));
            json_t *a = json_incref(json_array_get(x->parent, x->index));
            json_t *b = json_incref(json_array_get(x->parent, j));
            json_array_set_new(x->parent, x->index, b);
            json_array_set_new(x->parent, j, a);
        }
        break;
    default: /* an integer from the input */
        replace(x, json_integer((json_int_t)(int32_t)hf_fuzz_u32(in)));
        break;
    }
    char *t = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (t) {
        free(*sp);
        *sp = xstrdup(t);
        free(t);
    }
}

static void set_name(item *it, hf_fuzz_input *in)
{
    uint8_t w = hf_fuzz_u8(in);
    if (w < 220) {
        snprintf(it->name, sizeof it->name, "%s",
                 k_array_names[w % (sizeof k_array_names / sizeof k_array_names[0])]);
    } else {
        char *s = hf_fuzz_str(in, 32);
        for (char *p = s; *p; p++)
            if (*p == '/' || *p == '.')
                *p = '_';
        snprintf(it->name, sizeof it->name, "%s", *s ? s : "x");
        free(s);
    }
}

static size_t total(const item *it)
{
    size_t t = 1;
    for (int r = 0; r < it->rank; r++) {
        if (it->dims[r] && t > SIZE_MAX / it->dims[r])
            return SIZE_MAX;
        t *= (size_t)it->dims[r];
    }
    return t;
}

static void apply(model *m, hf_fuzz_input *in)
{
    uint8_t op = hf_fuzz_u8(in) % 12;
    if (m->n == 0)
        return;
    item *it = &m->it[hf_fuzz_below(in, m->n)];
    switch (op) {
    case 0: /* drop */
        item_free(it);
        *it = m->it[--m->n];
        memset(&m->it[m->n], 0, sizeof m->it[m->n]);
        break;
    case 1: /* an attribute or dataset of several values */
        it->rank = 1;
        it->dims[0] = 1 + hf_fuzz_below(in, 4);
        break;
    case 2: /* how it is stored */
        it->store = (int)hf_fuzz_below(in, N_STORES);
        if ((it->store == STORE_STR || it->store == STORE_FIXED_STR) && it->ns == 0) {
            free(it->s);
            it->s = xcalloc(1, sizeof *it->s);
            char buf[32];
            snprintf(buf, sizeof buf, "%.17g", it->nd ? it->d[0] : 0.0);
            it->s[0] = xstrdup(buf);
            it->ns = 1;
        }
        if (it->store < STORE_STR && it->nd == 0 && it->ns > 0) {
            free(it->d);
            it->d = xcalloc(1, sizeof *it->d);
            it->d[0] = strtod(it->s[0], NULL);
            it->nd = 1;
        }
        break;
    case 3: /* text */
        if (it->ns) {
            size_t k = (size_t)hf_fuzz_below(in, it->ns);
            if (strstr(it->name, "json"))
                edit_json(&it->s[k], in);
            else
                edit_text(&it->s[k], in);
        }
        break;
    case 4: /* a value */
        if (it->nd)
            it->d[hf_fuzz_below(in, it->nd)] = special(in);
        break;
    case 5: { /* the shape */
        it->rank = 1 + (int)hf_fuzz_below(in, 3);
        for (int r = 0; r < it->rank; r++)
            it->dims[r] = dim(in);
        size_t t = total(it);
        if (t > MAX_DATA) { /* no data: libhdf5 gives the fill value */
            free(it->d);
            it->d = NULL;
            it->nd = 0;
        }
        break;
    }
    case 6: /* rename */
        set_name(it, in);
        break;
    case 7: /* move to another group */
        if (it->kind != ITEM_ATTR)
            snprintf(it->group, sizeof it->group, "%s", k_groups[hf_fuzz_below(in, 4)]);
        break;
    case 8: /* a copy under another name */
        if (m->n < MAX_ITEMS) {
            item_copy(&m->it[m->n], it);
            set_name(&m->it[m->n], in);
            m->n++;
        }
        break;
    case 9: /* more or fewer strings */
        if (it->ns) {
            size_t n = (size_t)hf_fuzz_below(in, it->ns + 3);
            if (n < it->ns) {
                for (size_t i = n; i < it->ns; i++)
                    free(it->s[i]);
            } else {
                it->s = realloc(it->s, (n ? n : 1) * sizeof *it->s);
                if (!it->s)
                    abort();
                for (size_t i = it->ns; i < n; i++)
                    it->s[i] = xstrdup(it->s[i % it->ns]);
            }
            it->ns = n;
            it->rank = 1;
            it->dims[0] = n;
        }
        break;
    case 10: /* an attribute becomes a dataset or back */
        it->kind = it->kind == ITEM_ATTR ? (it->ns ? ITEM_STRINGS : ITEM_ARRAY) : ITEM_ATTR;
        if (it->kind != ITEM_ATTR && !it->group[0])
            snprintf(it->group, sizeof it->group, "model");
        break;
    default: { /* a value of every element */
        double d = special(in);
        for (size_t i = 0; i < it->nd; i++)
            it->d[i] = d;
        break;
    }
    }
}

/* ---- writing ------------------------------------------------------------------------------- */

static hid_t mem_type(int store, size_t fixed_len)
{
    hid_t t;
    switch (store) {
    case STORE_I32:
        return H5Tcopy(H5T_NATIVE_INT32);
    case STORE_F32:
        return H5Tcopy(H5T_NATIVE_FLOAT);
    case STORE_STR:
    case STORE_FIXED_STR:
        t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, store == STORE_STR ? H5T_VARIABLE : (fixed_len ? fixed_len : 1));
        H5Tset_cset(t, H5T_CSET_UTF8);
        return t;
    default:
        return H5Tcopy(H5T_NATIVE_DOUBLE);
    }
}

/* The values of an item in its stored type for `count` elements (cycled); NULL when none. */
static void *values(const item *it, size_t count, size_t *fixed_len)
{
    *fixed_len = 0;
    if (count == 0 || count > MAX_DATA)
        return NULL;
    if (it->store == STORE_STR || it->store == STORE_FIXED_STR) {
        if (it->ns == 0)
            return NULL;
        for (size_t i = 0; i < it->ns; i++)
            if (strlen(it->s[i]) + 1 > *fixed_len)
                *fixed_len = strlen(it->s[i]) + 1;
        if (it->store == STORE_STR) {
            const char **v = xcalloc(count, sizeof *v);
            for (size_t i = 0; i < count; i++)
                v[i] = it->s[i % it->ns];
            return v;
        }
        char *v = xcalloc(count, *fixed_len);
        for (size_t i = 0; i < count; i++)
            memcpy(v + i * *fixed_len, it->s[i % it->ns], strlen(it->s[i % it->ns]));
        return v;
    }
    if (it->nd == 0)
        return NULL;
    if (it->store == STORE_I32) {
        int32_t *v = xcalloc(count, sizeof *v);
        for (size_t i = 0; i < count; i++) {
            double d = it->d[i % it->nd];
            v[i] = d >= -2147483648.0 && d <= 2147483647.0 ? (int32_t)d : 0;
        }
        return v;
    }
    if (it->store == STORE_F32) {
        float *v = xcalloc(count, sizeof *v);
        for (size_t i = 0; i < count; i++) {
            double d = it->d[i % it->nd];
            v[i] = isfinite(d) && fabs(d) > 3.4e38 ? (float)(d > 0 ? 3.4e38 : -3.4e38) : (float)d;
        }
        return v;
    }
    double *v = xcalloc(count, sizeof *v);
    for (size_t i = 0; i < count; i++)
        v[i] = it->d[i % it->nd];
    return v;
}

static void write_item(hid_t file, const item *it)
{
    hid_t space =
        it->rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(it->rank, it->dims, NULL);
    if (space < 0)
        return;
    size_t count = it->rank == 0 ? 1 : total(it), fixed_len = 0;
    void *v = values(it, count, &fixed_len);
    hid_t type = mem_type(it->store, fixed_len);
    if (it->kind == ITEM_ATTR) {
        hid_t a = H5Acreate2(file, it->name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0 && v)
            H5Awrite(a, type, v);
        if (a >= 0)
            H5Aclose(a);
    } else {
        hid_t loc = file;
        if (it->group[0]) {
            loc = H5Lexists(file, it->group, H5P_DEFAULT) > 0
                      ? H5Gopen2(file, it->group, H5P_DEFAULT)
                      : H5Gcreate2(file, it->group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        }
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        if (count > MAX_DATA) { /* a huge shape: chunked, never written */
            hsize_t chunk[3] = {1, 1, 1};
            H5Pset_chunk(dcpl, it->rank, chunk);
        }
        hid_t d = loc >= 0 ? H5Dcreate2(loc, it->name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)
                           : H5I_INVALID_HID;
        if (d >= 0 && v)
            H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        if (d >= 0)
            H5Dclose(d);
        H5Pclose(dcpl);
        if (loc >= 0 && loc != file)
            H5Gclose(loc);
    }
    free(v);
    H5Tclose(type);
    H5Sclose(space);
}

/* Written as hf_modelfile_write writes a model: a 512-byte user block, then the content checksum
 * stamped into it, so that the edited contents reach the reader (format_version 2 files must
 * have the checksum; a format_version 1 file with one is read too). */
static void write_model(const model *m, const char *path)
{
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fcpl < 0 || H5Pset_userblock(fcpl, 512) < 0)
        abort();
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    if (file < 0)
        abort();
    for (size_t i = 0; i < m->n; i++)
        write_item(file, &m->it[i]);
    if (H5Fclose(file) < 0 || H5Pclose(fcpl) < 0)
        abort();
    if (hf_modelfile_stamp(path) < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hf_fuzz_input in = {data, size};
    static model m;
    const model *t = &g_templates[hf_fuzz_u8(&in) % g_n_templates];
    m.n = t->n;
    for (size_t i = 0; i < t->n; i++)
        item_copy(&m.it[i], &t->it[i]);
    for (int k = 0; k < 64 && in.left > 0; k++)
        apply(&m, &in);
    char path[600];
    snprintf(path, sizeof path, "%s/model.h5", hf_fuzz_scratch_dir());
    write_model(&m, path);
    for (size_t i = 0; i < m.n; i++)
        item_free(&m.it[i]);
    m.n = 0;
    hf_fuzz_model(path);
    return 0;
}
