/* drift.h - the training data's profile (RUN/profile.json) and the drift of new data from it.
 *
 * `run` stores a profile of the data it trained on (hf_profile_write): per numeric column the
 * decile edges of its values and the count of values in each of the 10 bins they make, per
 * categorical (or boolean) column the count of every level, the missing count of each, the row
 * count, and the same of the target. `describe NEW --against RUN_DIR` and `retrain` compare new
 * data with it (hf_drift_compute) without reading the old data: per column the population
 * stability index over the stored bins, the change in missing share, the categories never seen
 * before, and the target's. docs/describe.md gives the formulas and the file's schema. */
#ifndef HF_DRIFT_H
#define HF_DRIFT_H

#include "common/comm.h"
#include "common/dataset.h"

#include <jansson.h>
#include <stdio.h>

/* Deciles: 9 interior edges, 10 bins. A value v goes to the bin numbered by how many edges are
 * below it (numpy.searchsorted(edges, v, side="left")). */
#define HF_PROFILE_EDGES 9
#define HF_PROFILE_BINS (HF_PROFILE_EDGES + 1)
/* A bin's share below this (an empty bin) counts as this in the PSI (its log would be infinite). */
#define HF_PSI_EPS 1e-4
/* PSI thresholds: above 0.1 "moderate", above 0.25 "major" (the usual rule). */
#define HF_PSI_MODERATE 0.1
#define HF_PSI_MAJOR 0.25

typedef struct hf_profile_col {
    char *name;
    int numeric;                    /* 1: edges and counts; 0: levels */
    double missing, count;          /* missing and non-missing values */
    double edges[HF_PROFILE_EDGES]; /* numeric: ascending */
    double bins[HF_PROFILE_BINS];   /* numeric: counts */
    char **levels;                  /* categorical: names and counts */
    double *level_counts;
    size_t n_levels;
} hf_profile_col;

typedef struct hf_profile {
    double rows;
    hf_task_kind task;
    hf_profile_col *cols; /* the features, then the target (the last) */
    size_t n_cols;
} hf_profile;

/* Not collective. The profile of every row of d as profile.json's object (*out: the caller's). */
int hf_profile_build(const hf_dataset *d, json_t **out);
/* Not collective. hf_profile_build written to path (a temporary name, then renamed). */
int hf_profile_write(const hf_dataset *d, const char *path);
/* Collective over c (parallel.data_parallel: a worker group whose ranks each hold a block of the
 * table's rows, rows [first, first + count) of d on this rank, the blocks in rank order):
 * hf_profile_build of the union of the ranks' blocks, into *out on c's rank 0 (NULL elsewhere). The
 * same object as hf_profile_build of the whole table: a numeric column's present values are
 * gathered to rank 0 in rank order, one column at a time (n doubles there), and sorted as the
 * single copy sorts them; level counts are added (exact). */
int hf_profile_build_shards(hf_comm *c, const hf_dataset *d, size_t first, size_t count,
                            json_t **out);
/* Not collective. A profile object (hf_profile_build_shards) written to path, as
 * hf_profile_write writes it. */
int hf_profile_write_json(json_t *root, const char *path);
/* Not collective. Parses profile.json's text (`what` names it in messages: one line naming the
 * key, the value and what was expected, HF_EINVAL). *out: hf_profile_free. */
int hf_profile_parse(const char *text, size_t len, const char *what, hf_profile **out);
int hf_profile_read(const char *path, hf_profile **out);
void hf_profile_free(hf_profile *p);
/* Collective. Rank 0 reads `path`, every rank parses the same bytes. *out stays NULL (HF_OK)
 * when the file does not exist and `optional` is set (a run of an earlier version). */
int hf_profile_load(hf_comm *world, const char *path, int optional, hf_profile **out);
/* One line naming the columns that moved most (PSI above HF_PSI_MODERATE, at most 5), into buf;
 * "" if none did. */
void hf_drift_summary(json_t *drift, char *buf, size_t len);

/* Collective. The drift of the rows [first, first + count) of d on this rank (together: the new
 * data) from the profile: rank 0 gets *out (the "drift" object: rows, columns sorted by PSI,
 * target), others NULL. Columns are matched by name. */
int hf_drift_compute(hf_comm *world, const hf_profile *old, const hf_dataset *d, size_t first,
                     size_t count, json_t **out);
/* The drift object as a table (at most 100 characters wide), the columns that moved most first. */
void hf_drift_print(FILE *fp, json_t *drift);

#endif
