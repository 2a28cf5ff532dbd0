/* slurm.h - Slurm-native operation: the batch script of `hyperfold submit` (slurm/batch.c; the
 * command itself is coordinator/submit.c).
 *
 * `hyperfold submit job.yaml [flags]` renders the batch script template slurm/hyperfold.sbatch
 * with #SBATCH lines built from the spec's `slurm:` section and the flags (flags win), writes it to
 * <output.dir>/<name>/submit.sbatch and hands it to `sbatch --parsable`. The batch script runs
 * `srun --mpi=pmix hyperfold run job.yaml`, forwards SIGUSR1/SIGTERM to the job step and requeues
 * the job when hyperfold exits with code 3 (interrupted, work journaled). See docs/slurm.md. */
#ifndef HF_SLURM_H
#define HF_SLURM_H

#include "common/opts.h"

#include <stddef.h>

/* The job spec's slurm section (see common/opts.h): the defaults of `hyperfold submit`'s flags. */
typedef struct hf_slurm_opts {
    char *partition, *account;
    char *time;                 /* a Slurm time limit: "01:00:00", "2-00:00:00" */
    int nodes, ntasks_per_node; /* 0 = not given */
    hf_opt_source src;
} hf_slurm_opts;

/* The slurm section's table, for the job-spec binder. */
extern const hf_opt_section hf_slurm_section;
void hf_slurm_opts_init(hf_slurm_opts *o);

/* What goes into the #SBATCH lines. Strings are borrowed; NULL / 0 means "not given". */
typedef struct hf_slurm_options {
    const char *job_name; /* --job-name (required) */
    const char *run_dir;  /* absolute run directory: --output/--error go there (required) */
    const char *work_dir; /* absolute --chdir (required) */
    const char *partition;
    const char *account;
    const char *time;       /* Slurm time limit, e.g. "01:00:00" or "2-00:00:00" */
    const char *dependency; /* e.g. "afterok:123" */
    const char *begin;      /* e.g. "now+1hour", "2026-01-01T02:00:00" */
    int nodes;
    int ntasks_per_node;
    int ntasks;            /* --ntasks: total ranks (flag only) */
    int signal_lead;       /* seconds before the time limit for SIGUSR1; 0 = 120 */
    int overcommit;        /* 1: --overcommit (more ranks per node than CPUs) */
    const char *spec_path; /* absolute job spec path (required) */
    const char *bin_path;  /* absolute hyperfold binary (required) */
} hf_slurm_options;

/* Not collective. HF_EINVAL, naming `what` and the value, if it cannot go into an #SBATCH line
 * (empty, white space, quotes, backslashes or '#'). */
int hf_slurm_check_value(const char *what, const char *value);

/* Renders `template_text` (the contents of slurm/hyperfold.sbatch) for `opt`: the block between
 * the #HF-BEGIN-SBATCH and #HF-END-SBATCH lines becomes the generated #SBATCH lines and the
 * #HF-SETTINGS line the shell assignments of HF_JOB_SPEC, HF_BIN, HF_RUN_DIR and
 * HF_SUBMIT_SCRIPT. Not collective. On success *out is a new NUL-terminated string the caller
 * frees. HF_EINVAL if the template lacks the markers or a value cannot go into a #SBATCH line. */
int hf_slurm_render(const char *template_text, const hf_slurm_options *opt, char **out);

/* Path of the batch script template: $HF_SBATCH_TEMPLATE, else
 * <dir of the binary>/../share/hyperfold/hyperfold.sbatch, else the source tree's
 * slurm/hyperfold.sbatch. Not collective. *out is a new string the caller frees; HF_EIO if none
 * exists. */
int hf_slurm_template_path(char **out);

/* Runs `sbatch --parsable script` (fork/exec, no shell) and stores the job id in *job_id (a new
 * string the caller frees). Not collective. HF_EIO with sbatch's own error line when sbatch is
 * missing or refuses the job. `sbatch` may be NULL for "sbatch" from PATH. */
int hf_slurm_sbatch(const char *sbatch, const char *script, char **job_id);

#endif
