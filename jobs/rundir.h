/* rundir.h - a run directory: the one module that names the files of a run, and the job spec's
 * output section that says where runs go and where they are uploaded.
 *
 * A run of job NAME lives in <output.dir>/NAME/. Every command finds its files here, so a new
 * run-directory file is one field below (and one line in hf_rundir_at). */
#ifndef HF_RUNDIR_H
#define HF_RUNDIR_H

#include "common/opts.h"

/* The job spec's output section: this module's options (see common/opts.h). */
typedef struct hf_output_opts {
    char *dir;        /* default "runs" */
    char *upload;     /* s3://bucket/prefix/ or NULL */
    char *sse;        /* NULL, "AES256" or "aws:kms" */
    char *kms_key_id; /* only with aws:kms */
    hf_opt_source src;
} hf_output_opts;

/* The output section's table, for the job-spec binder. */
extern const hf_opt_section hf_output_section;
int hf_output_opts_init(hf_output_opts *o);

/* Run ids and upload prefixes. A session of `run` uploads under <upload>/<name>/<run-id>/, so
 * two jobs sharing output.upload, or two sessions of one job, never overwrite each other's
 * objects. A run id is the UTC time and 8 hex digits: 4 of the spec's identity, 4 random
 * ("20261207T004512Z-3fa9c1d2", 25 characters; HF_RUN_ID_LEN bytes hold it). */
#define HF_RUN_ID_LEN 32
/* Not collective. A new run id into out; spec_sha256: the spec's hex identity (may be NULL). */
int hf_run_id_new(const char *spec_sha256, char out[HF_RUN_ID_LEN]);
/* Not collective. "<upload>/<name>/" (every run of the job: what `iam-policy` grants) or, with a
 * run id, "<upload>/<name>/<run_id>/" (one session's objects); a new string, NULL when out of
 * memory or without output.upload. */
char *hf_output_upload_prefix(const hf_output_opts *o, const char *name, const char *run_id);

/* Every path of a run directory (owned; free with hf_rundir_free). */
typedef struct hf_rundir {
    char *dir;             /* <output.dir>/<name> */
    char *spec;            /* job.yaml: the spec of the run */
    char *shards;          /* shards/: the HDF5 partitions and manifest.json */
    char *journal;         /* journal.jsonl: every finished task */
    char *results;         /* results.json */
    char *trials_csv;      /* trials.csv */
    char *model;           /* model.h5 */
    char *training_rows;   /* training_rows.bin: the model's training rows (coordinator/rowset.h) */
    char *audit;           /* audit.jsonl: every remote access */
    char *rejects;         /* rejects.csv: rows skipped with data.on_bad_rows skip */
    char *describe;        /* describe.json */
    char *profile;         /* profile.json: the training data's profile (coordinator/drift.h) */
    char *submit_script;   /* submit.sbatch */
    char *slurm_log;       /* slurm-%j.log: the batch job's log, a Slurm pattern (%j its id) */
    char *retrain_shards;  /* retrain-shards/: the ingest of retrain's data */
    char *retrain_log;     /* retrain.jsonl: every retrain decision */
    char *retrain_model;   /* model.retrain.h5: a retrained model that was not promoted */
    char *previous_model;  /* model.previous.h5: the model a promotion replaced */
    char *retrain_rows;    /* training_rows.retrain.bin */
    char *previous_rows;   /* training_rows.previous.bin */
    char *retrain_holdout; /* retrain_holdout.csv: the rows retrain compared the models on */
    char *oof;             /* oof.csv: the best trial's out-of-fold predictions */
    char *holdout;         /* holdout.csv: the refit model's predictions of the holdout rows */
    char *report;          /* report.html: the run's report (coordinator/report.h) */
    char *lock;            /* .lock: the writer's lock (hf_rundir_lock) */
} hf_rundir;

/* Not collective. The paths of the run directory `dir` (which need not exist). */
int hf_rundir_at(const char *dir, hf_rundir *out);
/* Not collective. The paths of job `name`'s run under output.dir. */
int hf_rundir_of(const hf_output_opts *o, const char *name, hf_rundir *out);
void hf_rundir_free(hf_rundir *r);

/* Not collective (rank 0 of a command that writes the run directory: run, retrain). Creates the
 * directory and takes an exclusive lock on its .lock file (flock), held until hf_rundir_unlock or
 * the process ends: the kernel drops it when the holder dies, so a killed run leaves no stale
 * lock. The file names the holder ("host pid"), and a second writer is refused with it. Under the
 * lock, the temporary files an earlier killed run left (`*.tmp.<pid>`, shards/.tmp-part-*) are
 * removed. *fd is the lock's descriptor (-1 on failure). */
int hf_rundir_lock(const hf_rundir *r, const char *command, int *fd);
void hf_rundir_unlock(int fd);

#endif
