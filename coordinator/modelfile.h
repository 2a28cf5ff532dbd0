/* modelfile.h - model.h5: the one module that knows the model file layout (docs/model-format.md).
 */
#ifndef HF_MODELFILE_H
#define HF_MODELFILE_H

#include "common/comm.h"
#include "common/dataset.h"
#include "shards/source.h"
#include "worker/model.h"
#include "worker/preprocess.h"

typedef struct hf_modelfile_meta {
    const char *spec_sha256;
    const char *source_fingerprint;
    const char *params_json; /* the selected trial's parameters */
    const char *metric;
    double cv_score, cv_std;
    const double *fold_scores;
    size_t n_folds;
    size_t n_train_rows;
} hf_modelfile_meta;

/* Not collective (rank 0). Writes path durably (temporary name, content checksum, fsync, rename);
 * HDF5's own error stack is not printed, a failure is one message. */
int hf_modelfile_write(const char *path, const hf_schema *schema, const hf_prep *prep,
                       const hf_fitted *fitted, const hf_modelfile_meta *meta);

typedef struct hf_modelfile {
    char *model_type;
    hf_schema *schema;
    hf_prep *prep;
    hf_fitted *fitted;
    char *params_json;
    char *spec_sha256;
    char *source_fingerprint;
    char *metric;
    double cv_score;
    double n_train_rows; /* rows the model was trained on (0 if the file does not say) */
} hf_modelfile;

/* Not collective. Reads a model written by hf_modelfile_write: the content checksum is checked
 * before libhdf5 reads the file (a file of format_version 1, which has none, is still read); every
 * string attribute's size is bounded before it is read (fixed-length strings; variable-length
 * ones only in format_version 1 and 2 files, after the global heap pre-scan); a
 * damaged or foreign file is one message (HF_EINVAL), HDF5's error stack is not printed. */
int hf_modelfile_read(const char *path, hf_modelfile **out);
void hf_modelfile_free(hf_modelfile *m);

/* Collective. hf_modelfile_read on every rank of a model given by URI: a local path, a local
 * directory holding model.h5 (as SageMaker mounts /opt/ml/model), "s3://bucket/key" or
 * "s3://bucket/prefix/" (its model.h5), or an http(s):// URL. A remote model is read once, by
 * rank 0, through the byte sources (credentials from shards/creds.h, every request in
 * opts->audit_path's log), and its bytes broadcast; each rank writes them to a private temporary
 * file, checks the content checksum and reads it like a local file (the file is removed
 * after). Messages name the URI, never the temporary file. Every rank returns the same status;
 * on success each has its own *out. comm NULL: not collective, this process alone (no MPI). */
int hf_modelfile_read_uri(hf_comm *comm, const char *uri, const hf_source_opts *opts,
                          hf_modelfile **out);

/* Not collective. Writes the SHA-256 of path's bytes after its 512-byte user block into that
 * block (docs/model-format.md). hf_modelfile_write calls it; a test or a tool that edits a model
 * calls it to make the edited file a valid one again. */
int hf_modelfile_stamp(const char *path);

#endif
