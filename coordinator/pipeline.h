/* pipeline.h - what every command does before its own work: the spec, the ingest, the table,
 * the task, the checks, the splits and the trials, in one place.
 *
 * run, validate, retrain and describe each take the steps they need:
 *   hf_pipeline_spec      collective: rank 0 reads the spec, every rank parses the same bytes;
 *   hf_pipeline_ingest    collective: the data into shards (or reused), with the options the
 *                         data section and the other sections (cv's role columns, the task's
 *                         hint) give;
 *   hf_pipeline_prepare   every rank: the table loaded, the task resolved and checked, the splits,
 *                         the trials decoded for the worker, the metrics, the model. */
#ifndef HF_PIPELINE_H
#define HF_PIPELINE_H

#include "common/comm.h"
#include "jobs/spec.h"
#include "shards/partition.h"
#include "worker/folds.h"
#include "worker/task.h"

/* A job made ready for its sweep (or its refit). Owns everything but the spec. */
typedef struct hf_job {
    hf_spec *spec; /* borrowed */
    hf_dataset *data;
    hf_folds *folds;
    hf_trial *trials;
    size_t n_trials;
    hf_trial_config *configs; /* the trials decoded for the worker */
    /* Trials by index instead (hf_pipeline_prepare_group's by_index on a grid or random search):
     * trials and configs stay NULL, n_trials is their number, and hf_job_trials_at makes the
     * few a rank runs. NULL otherwise (also for a study prepared by_index, whose trials and
     * configs are NULL too: coordinator/run.c sends them with the tasks). */
    hf_space_maker *maker;
    const hf_model_ops *model;
    const char **metrics; /* objective first, then the report metrics */
    size_t n_metrics;
} hf_job;

/* Collective. A scratch directory every rank sees, for data a command reads once and removes
 * (describe DATA, validate): rank 0 creates BASE/hyperfold-WHAT.XXXXXX, BASE being `base` when
 * not NULL (--scratch DIR), else $TMPDIR, else the current directory (several hosts share it
 * more often than /tmp); every other rank stats it, and a rank that cannot see it fails the
 * command with one line naming the directory and suggesting --scratch DIR or TMPDIR. *out: the
 * absolute path, the caller's (free it after hf_pipeline_scratch_remove); NULL on failure. */
int hf_pipeline_scratch(hf_comm *world, const char *base, const char *what, char **out);
/* Collective. Waits until every rank is done with dir, then rank 0 removes it and what it holds;
 * dir NULL: nothing. */
void hf_pipeline_scratch_remove(hf_comm *world, const char *dir);

/* Collective: rank 0 reads the spec file, every rank parses the same bytes. */
int hf_pipeline_spec(hf_comm *world, const char *path, hf_spec **out);

/* Collective. Ingests the spec's data (or `source` instead, when not NULL: retrain's new data)
 * into shard_dir, or reuses an ingest of the same settings (*reused = 1). audit_path: the S3
 * audit log; rejects_path: where skipped rows go with data.on_bad_rows skip. With
 * shards.local_dir, also brings each node's copy of the shards up to date (shards/local_copy.h). */
int hf_pipeline_ingest(hf_comm *world, const hf_spec *spec, const char *source,
                       const char *shard_dir, const char *audit_path, const char *rejects_path,
                       hf_manifest **manifest, int *reused);

/* Collective. The data.etl step, when the spec has one (else nothing): its archive extracted into
 * its dest, skipping what is there unchanged (shards/etl.h); remote accesses audited to
 * audit_path. run and retrain call it before hf_pipeline_ingest. */
int hf_pipeline_etl(hf_comm *world, const hf_spec *spec, const char *audit_path, int quiet);

/* Not collective (every rank does the same). Loads every row of the shards (from the node's copy
 * with shards.local_dir, as hf_pipeline_ingest left it), resolves the task
 * on spec, checks the spec against the data, makes the splits (unless `no_folds`), expands and
 * decodes the trials and lists the metrics. *job is the caller's (hf_job_free). */
int hf_pipeline_prepare(hf_spec *spec, const char *shard_dir, const hf_manifest *manifest,
                        int no_folds, hf_job *job);
void hf_job_free(hf_job *job);

/* Not collective (the same answer on every rank). HF_EINVAL when parallel.ranks_per_task does
 * not divide the number of ranks. */
int hf_pipeline_check_world(hf_comm *world, const hf_parallel_opts *par);
/* hf_pipeline_prepare on a worker group: with the group's data_parallel flag set
 * (hf_pipeline_plan_data_parallel), each group rank reads only its block of the table's rows
 * (collective over the group then); otherwise as hf_pipeline_prepare. With `by_index` and a grid
 * or random search, the trials are neither expanded nor decoded (hf_job.maker): a rank that runs
 * only some of them (run's ranks other than 0) makes those with hf_job_trials_at. With `by_index`
 * and a study (TPE, Hyperband, BOHB, ASHA; batch-synchronous or asynchronous) only their number is
 * set (trials, configs and maker NULL): rank 0 proposes them and sends each task's values. */
int hf_pipeline_prepare_group(hf_spec *spec, const char *shard_dir, const hf_manifest *manifest,
                              int no_folds, const hf_group *group, int by_index, hf_job *job);
/* Not collective. Trials ids[0..n) of the job, made and decoded: *trials (hf_trials_free(*trials,
 * n, space.n_params)) and *configs (hf_trial_configs_free(*configs, n); they borrow the trials'
 * values), exactly as hf_pipeline_prepare_group would have made trials[ids[i]] and
 * configs[ids[i]]. For a job prepared by index (hf_job.maker); else copies of its own. With
 * `values` (hf_space_trials_pack's bytes of those n trials: a study's rank other than 0, which
 * holds none of its trials), the trials are unpacked from them instead. */
int hf_job_trials_at(const hf_job *job, const int *ids, size_t n, const unsigned char *values,
                     hf_trial **trials, hf_trial_config **configs);
/* Not collective: sets the group's data_parallel flag from parallel.data_parallel and, for auto,
 * the manifest's table size against memory_per_rank; returns it (0 without a group). */
int hf_pipeline_plan_data_parallel(const hf_spec *spec, const hf_manifest *m, hf_group *group);
/* Collective over g when its data_parallel flag is set: hf_rowset_hash of rows[0..n) of d, each
 * group rank hashing the rows of its block and the hashes combined over the group (each row has
 * one owner: an exact integer sum); otherwise hf_rowset_hash on this rank. out (n) on every rank.
 */
int hf_pipeline_rowset_hash(const hf_group *g, const hf_dataset *d, const int64_t *rows, size_t n,
                            uint64_t *out);
/* Not collective (the same answer on every rank). parallel.data_parallel for the prepared job:
 * decides it (auto: on when one copy of the table, rows x features x 8 bytes, exceeds
 * parallel.memory_per_rank and groups have several ranks), refuses in one line a model without
 * the capability (hf_model_ops.data_parallel) or a trial whose preprocessing cannot be fitted on
 * row shards, and, with data_parallel off and memory_per_rank set for a model that could split the
 * rows, a table that does not fit in memory_per_rank. Sets the group's flag (group may be NULL:
 * validate, one rank) and *on. */
int hf_pipeline_data_parallel(const hf_job *job, hf_group *group, int *on);
/* Collective. With parallel.ranks_per_task > 1, splits the world into groups of that many
 * consecutive ranks (*group_comm) and forms each group's BLACS grid once (*group), for every task
 * it will run; otherwise both stay NULL. Free with hf_group_free and hf_comm_free. */
int hf_pipeline_groups(hf_comm *world, const hf_parallel_opts *par, hf_comm **group_comm,
                       hf_group **group);

/* The failure tests' hooks from the environment (HF_TEST_FAIL_TRIALS=3,7, HF_TEST_TASK_DELAY_MS=N;
 * docs/architecture.md, "Test hooks"). *fail_trials is the caller's. */
int hf_pipeline_test_hooks(hf_task_hooks *hooks, int **fail_trials);

#endif
