/* etl_int.h - what shards/etl.c (the step) and shards/extract.c (archive reading) share; internal
 * to the etl module (hf__etl_ prefix). */
#ifndef HF_ETL_INT_H
#define HF_ETL_INT_H

#include "shards/etl.h"

#include <archive.h>
#include <locale.h>
#include <stdio.h>

#define HF__ETL_BLOCK (64u * 1024u)       /* read size from the source, and the ratio's floor */
#define HF__ETL_MANIFEST "_manifest.json" /* next to the members */

/* An archive being read, entry by entry, over a source. */
typedef struct hf__etl_reader {
    hf_source *src;
    uint64_t off; /* bytes read from the source so far */
    struct archive *a;
    char *buf;
    const char *display;
    locale_t utf8, saved; /* this thread's locale while reading (0: unchanged) */
} hf__etl_reader;

/* The limits on the bytes produced, checked as they come (per reader). */
typedef struct hf__etl_limits {
    const hf_etl_opts *o;
    uint64_t total;      /* every member so far */
    uint64_t archive_sz; /* the compressed archive */
} hf__etl_limits;

/* Not collective. Opens a reader over src (zip, tar, raw single file, any filter); display names
 * it in messages. On failure nothing is left to close. */
int hf__etl_open(hf__etl_reader *r, hf_source *src, const char *display);
/* The next entry: 1 with *e set, 0 at the end, or an error. */
int hf__etl_next(hf__etl_reader *r, struct archive_entry **e);
/* Streams the current entry's data through SHA-256 and MD5 into fp (NULL: nowhere), under the
 * limits; fp_path names fp in messages. */
int hf__etl_data(hf__etl_reader *r, hf__etl_limits *l, const char *member, FILE *fp,
                 const char *fp_path, uint64_t *size, char sha[65], char md5[33]);
void hf__etl_close(hf__etl_reader *r);

#endif
