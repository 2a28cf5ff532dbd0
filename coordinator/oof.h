/* oof.h - the out-of-fold predictions of the best trial (RUN/oof.csv), the holdout's predictions
 * of the refit model (RUN/holdout.csv) and their evaluations (results.json "evaluation",
 * "holdout_evaluation"; worker/evaluation.h).
 *
 * The pass refits the best trial's configuration on the training rows of every split and
 * predicts the split's validation rows, as scikit-learn's cross_val_predict does; the splits are
 * spread over the ranks (or the worker groups), each split computed by one of them alone, so
 * oof.csv is the same at any number of ranks. It is not journaled: a resumed run recomputes it. */
#ifndef HF_OOF_H
#define HF_OOF_H

#include "common/comm.h"
#include "coordinator/pipeline.h"
#include "worker/group.h"

#include <jansson.h>

/* Collective over world. Fits the best trial's configuration `cfg` on every split of
 * job->folds and predicts its validation rows; rank 0 gathers them, writes
 * out_path (RUN/oof.csv: row, repeat, fold, target, prediction, proba_<class>...: sorted by repeat,
 * then row) durably and returns in *evaluation (rank 0; the caller's) the evaluation of repeat
 * 0's predictions, and in *seconds (when not NULL) how long the pass took. With worker groups
 * (ranks_per_task > 1, `group` and `group_size` given), each group computes its splits together. A
 * split whose fit fails leaves its rows out, with a warning. */
int hf_oof_run(hf_comm *world, const hf_job *job, const hf_trial_config *cfg, const hf_group *group,
               int group_size, const char *out_path, int quiet, json_t **evaluation,
               double *seconds);

/* Rank 0, not collective. Writes out_path (RUN/holdout.csv: row, target, prediction,
 * proba_<class>...) of the refit model's predictions `pred` of job->folds->holdout and returns
 * their evaluation in *evaluation (the caller's). */
int hf_oof_holdout(const hf_job *job, const double *pred, const char *out_path,
                   json_t **evaluation);

#endif
