/* journal.h - the durable record of finished tasks in a run directory (journal.jsonl).
 *
 * Line 1 is a header naming the sweep (a SHA-256 of the spec settings that decide the tasks and
 * their scores), the data (manifest fingerprint) and the number
 * of tasks; every further line is one finished task: the JSON of hf_task_result_to_json with
 * "start" added by the scheduler (seconds since the sweep began at which the task started; older
 * lines lack it, and readers ignore members they do not know), or a line of a study that
 * coordinator/run.c appends (a batch's proposals, an asynchronous study's trial or pruning).
 * Each line carries its own checksum. Lines are written with one write() each as tasks finish, or,
 * between hf_journal_hold and hf_journal_flush (the scheduler, around the results of one received
 * message), all of them with one write() at the flush; they are fsync'ed by a background thread at
 * most every 100 ms (so a slow disk never stalls the coordinator) and when the journal is closed,
 * so a crashed process loses nothing it flushed (held lines are results it has not acted on: a
 * resume runs them again) and a crashed machine at most the last 100 ms. A torn last line (a
 * crash inside write) is ignored on resume. */
#ifndef HF_JOURNAL_H
#define HF_JOURNAL_H

#include <stddef.h>

typedef struct hf_journal hf_journal;

typedef struct hf_journal_id {
    const char *spec_sha256; /* the sweep's identity (coordinator/run.c sweep_hash) */
    const char *data_fingerprint;
    size_t n_tasks;
} hf_journal_id;

/* Opens path for appending. If it exists, its header must match `id` (else HF_EINVAL with a clear
 * message) and `on_line` is called for every complete task line already in it. Not collective. */
int hf_journal_open(const char *path, const hf_journal_id *id,
                    int (*on_line)(void *arg, const char *line), void *arg, hf_journal **out);
/* Appends one line (without newline); durable as described above. One thread appends to a journal
 * at a time. */
int hf_journal_append(hf_journal *j, const char *line);
/* From now until hf_journal_flush on this thread, the lines this thread appends (to any journal)
 * are checksummed and kept, not written. A line appended without a hold is written at once, with
 * the journal's kept lines before it (the file keeps the order of the appends). Not collective. */
void hf_journal_hold(void);
/* Ends this thread's hold and writes every journal's kept lines, one write() per journal: call it
 * before acting on the results they record (handing out work that depends on them, writing an
 * output that claims them). hf_journal_close writes a journal's kept lines too. Not collective. */
int hf_journal_flush(void);
/* Syncs and closes; accepts NULL. */
int hf_journal_close(hf_journal *j);

#endif
