/* etl.h - `hyperfold etl` and the job spec's data.etl step: an archive (zip, tar, tar.gz, .gz) or
 * a plain file, from a local path, s3:// or http(s)://, extracted member by member into an s3://
 * prefix or a local directory, with a manifest (see docs/etl.md).
 *
 * The archive is read twice: rank 0 reads it whole first (every member's name and type checked,
 * every member's bytes counted against the limits and hashed) before anything is written at the
 * destination, so a refused archive writes nothing; then the members are dealt over the ranks,
 * each extracted to a temporary file, uploaded (or renamed into place) and verified. Archives are
 * read with libarchive's format and filter detection, over an hf_source (shards/source.h), in
 * extract.c; the step (fetch, deal, upload, verify, manifest) in etl.c. */
#ifndef HF_ETL_H
#define HF_ETL_H

#include "common/comm.h"
#include "common/opts.h"
#include "shards/source.h"

#include <stddef.h>
#include <stdint.h>

/* Server-side encryption of the uploads (data.etl.sse, --sse). */
typedef enum hf_etl_sse { HF_ETL_SSE_S3 = 0, HF_ETL_SSE_KMS = 1, HF_ETL_SSE_NONE = 2 } hf_etl_sse;
/* The names of hf_etl_sse, in order: "AES256", "aws:kms", "none" (NULL-terminated). */
extern const char *const hf_etl_sse_names[];

/* The step's options: the command line of `hyperfold etl` and the job spec's data.etl mapping. */
typedef struct hf_etl_opts {
    char *source;   /* path, file://, s3://, http(s):// */
    char *dest;     /* s3://bucket/prefix/ or a local directory */
    char **include; /* fnmatch globs on the member path (no FNM_PATHNAME); none = every member */
    size_t n_include;
    int sse;            /* hf_etl_sse: AES256 (default), aws:kms or none */
    char *kms_key_id;   /* with aws:kms; NULL = the bucket's default key */
    double max_ratio;   /* extracted bytes / compressed bytes, per member and archive; 200 */
    uint64_t max_bytes; /* extracted bytes, per member and in all; 64 GiB */
    hf_opt_source src;
} hf_etl_opts;

/* The data.etl mapping's table (the data section composes it: data: {etl: {...}}). */
extern const hf_opt_section hf_etl_section;
/* Not collective. The defaults (nothing allocated). */
void hf_etl_opts_init(hf_etl_opts *o);
/* Not collective. Checks the cross-key rules (kms_key_id only with aws:kms, dest s3:// or a
 * path); messages name the keys through o->src. */
int hf_etl_opts_check(const hf_etl_opts *o);

/* One member of an archive, as the first read found it. */
typedef struct hf_etl_member {
    char *path;      /* normalised: no leading "./", no empty or "." segments */
    size_t index;    /* the entry's position in the archive (0-based, every entry counted) */
    uint64_t size;   /* bytes extracted */
    char sha256[65]; /* lowercase hex */
    char md5[33];    /* lowercase hex (for an ETag check) */
} hf_etl_member;

void hf_etl_members_free(hf_etl_member *m, size_t n);

/* Not collective. The member name `name` of an archive entry of libarchive file type `filetype`
 * (AE_IFREG, AE_IFDIR, ...; hardlink: whether the entry is a hard link) judged: HF_OK with
 * *norm the normalised path (caller frees; NULL for a directory, which is skipped), or HF_EDATA
 * with one line naming `archive` and the member: an absolute path, a '..' segment (zip-slip), a
 * symlink, a hard link, a device or fifo, a control character, the reserved _manifest.json. */
int hf_etl_check_member(const char *archive, const char *name, int filetype, int hardlink,
                        char **norm);

/* Not collective. Reads every entry of the archive in `src` (any format libarchive detects among
 * zip, tar, and a single compressed or plain file), checks each member (hf_etl_check_member),
 * keeps the regular files matching o->include, counts and hashes their bytes and enforces
 * o->max_ratio and o->max_bytes on the bytes produced. `display` names the archive in messages;
 * `plain_name` is the member name of a plain or single compressed file. Members in archive order
 * (caller frees with hf_etl_members_free). HF_EDATA with one line on a refused archive. */
int hf_etl_scan(hf_source *src, const char *display, const char *plain_name, const hf_etl_opts *o,
                hf_etl_member **members, size_t *n);

/* What a run did, on every rank. */
typedef struct hf_etl_summary {
    size_t members, uploaded, unchanged;
    uint64_t bytes; /* extracted bytes of the members written this time */
} hf_etl_summary;

/* Collective. Runs the step: fetches o->source once (rank 0, to a staging directory:
 * HF_ETL_STAGING, else TMPDIR, else /tmp), checks and scans it, deals the members over the ranks,
 * each extracts, writes or uploads (SSE per o->sse) and verifies its own, then rank 0 writes the
 * manifest at DEST/_manifest.json and at manifest_path (may be NULL). A member whose size and
 * SHA-256 equal the earlier manifest's, and whose object still has that size and ETag (a HEAD;
 * for a local DEST, the file's size and SHA-256), is skipped. Remote accesses are audited to
 * so->audit_path. verbose: rank 0 prints one line per member. */
int hf_etl_run(hf_comm *comm, const hf_etl_opts *o, const hf_source_opts *so,
               const char *manifest_path, int verbose, hf_etl_summary *sum);

/* Not collective (rank 0 calls it). When the job's data.source `data_source` lies under
 * o->dest (data.etl produces it) and DEST/_manifest.json is not there yet (a local file, or a
 * HEAD for s3://, audited to so->audit_path): HF_EINVAL with one line naming spec_path,
 * data.source and data.etl, suggesting `hyperfold etl SRC DEST` or `hyperfold run`. HF_OK when
 * there is no data.etl, data.source is elsewhere, or the step has run. For the commands that
 * read the data without running the step (validate, describe JOB.yaml). */
int hf_etl_check_extracted(const hf_etl_opts *o, const hf_source_opts *so, const char *spec_path,
                           const char *data_source);

#endif
