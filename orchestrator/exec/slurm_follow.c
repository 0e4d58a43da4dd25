/*
 * slurm_follow.c — following a sweep's Slurm array tasks from the driver's
 * machine: `xover run --backend slurm` (after submitting), `xover collect`
 * and `xover cancel`.
 *
 * The run directories are the source of truth (the workers write them on
 * the shared filesystem); the scheduler tells what the files cannot: that a
 * task was killed before it could write its final status, timed out,
 * was preempted or cancelled, or is queued again after a requeue. Every
 * half second each unfinished run is looked at in this order:
 *
 *   attempt.json  a new start time is a new attempt (the first, or a
 *                 requeue): the run becomes running (attempts + 1, node,
 *                 pid) and its metrics are read again from the start, since
 *                 a resumed trainer cuts metrics.jsonl back to its checkpoint;
 *   metrics       ingested as they grow (idempotent: keyed by run, name,
 *                 step), so `xover collect` can repeat at will;
 *   status        done / failed end the run; interrupted ends it once the
 *                 scheduler says the task has ended (not when it is requeued);
 *                 with no final word, a task the scheduler says has ended
 *                 ends the run with the scheduler's state and reason:
 *                 TIMEOUT, PREEMPTED, CANCELLED -> interrupted (the next
 *                 `xover run` resumes it), others -> failed; a task cancelled
 *                 before it started puts its run back to pending.
 *
 * squeue is asked every 5 s (a cluster's controller is shared: no tight
 * polling), and every second while some run waits for the scheduler's word
 * (an interrupted task that may be requeued, a task that ended without a
 * final status). Without squeue (not installed, not answering),
 * the status files alone decide. Ctrl-C stops following, never the jobs.
 */
#include "orchestrator/exec/internal_slurm.h"

#include "orchestrator/cli/cli.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- one run ---------------------------------------------------------------- */

int sl_run_load(sl_run *r, char *err, size_t errlen)
{
    run_path path = rundir_path(r->dir, RUN_WORKER);
    json_error_t je;
    json_t *w = json_load_file(path.s, 0, &je);
    if (!w) {
        snprintf(err, errlen, "%s: %s", path.s, je.text);
        return -1;
    }
    const char *m = json_string_value(json_object_get(w, "metrics"));
    const char *rx = json_string_value(json_object_get(w, "regex"));
    if (!m) {
        snprintf(err, errlen, "%s: no \"metrics\" path", path.s);
        json_decref(w);
        return -1;
    }
    r->metrics = strdup(m);
    if (rx) {
        int ec;
        PCRE2_SIZE eo;
        r->re = pcre2_compile((PCRE2_SPTR)rx, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
        if (!r->re) {
            snprintf(err, errlen, "%s: the metrics regex does not compile", path.s);
            json_decref(w);
            return -1;
        }
    }
    json_decref(w);
    r->ing = r->metrics ? ingest_new(r->metrics, r->re) : NULL;
    if (!r->ing) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void sl_run_free(sl_run *r)
{
    free(r->dir);
    free(r->metrics);
    ingest_free(r->ing);
    if (r->re) pcre2_code_free(r->re);
    memset(r, 0, sizeof *r);
}

/* ---- the follower ----------------------------------------------------------- */

typedef struct {
    db *d;
    sl_run *runs;
    size_t n;
    const sl_follow_opts *o;
    sl_table tab;
    size_t ndone, nfailed, ninterrupted, npending;
    double done_flops, total_flops;
    progress pg;
    int want_sched;     /* a run waits for the scheduler's word */
    char db_broken[600]; /* why the database refused a write ("" while it takes them) */
} follower;

static volatile sig_atomic_t g_stop;
static void on_int(int sig)
{
    (void)sig;
    g_stop = 1;
}

static size_t count_running(const follower *f)
{
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++) k += f->runs[i].running && !f->runs[i].finished;
    return k;
}

/* The local driver's progress line, with queued tasks as pending. */
static void sweep_line(void *ctx, char *buf, size_t n)
{
    follower *f = ctx;
    progress_tally t = {f->ndone + f->o->skipped_done, 0, f->nfailed, 0, 0, -1, f->done_flops, f->total_flops};
    for (size_t k = 0; k < f->n; k++) {
        sl_run *r = &f->runs[k];
        if (r->finished) continue;
        if (!r->running) {
            t.pending++;
            continue;
        }
        t.running++;
        t.tok_s += r->tok_s;
        t.done_flops += progress_run_flops(&r->est, ingest_get(r->ing));
    }
    progress_sweep_line(&f->pg, &t, f->o->sweep, buf, n);
}

static void run_rows(void *ctx)
{
    follower *f = ctx;
    for (size_t k = 0; k < f->n; k++) {
        sl_run *r = &f->runs[k];
        if (r->finished || !r->running) continue;
        progress_run pr = {ingest_get(r->ing), 0, r->tok_s, -1, r->job};
        progress_row(&f->pg, r->key, r->who, &pr);
    }
}

/* A run has ended with `status` ("pending": it never started). `from_sched`:
 * the worker left no final word, so the status file gets it too. */
static void finish(follower *f, sl_run *r, const char *status, const char *reason, const sl_task *tk, int from_sched)
{
    char err[512] = "";
    int ing = ingest_poll(r->ing, f->d, r->id, 1, err, sizeof err);
    if (ing) progress_event(&f->pg, "warning: %s", err);
    if (ing == INGEST_EDB && !f->db_broken[0]) snprintf(f->db_broken, sizeof f->db_broken, "%s", err);
    const ingest_state *st = ingest_get(r->ing);
    char why[1024];
    snprintf(why, sizeof why, "%s", reason ? reason : "");
    if (ing == INGEST_EDB && !strcmp(status, "done")) {
        /* Never done without all its metrics: the next `xover run` resumes
         * it from its last checkpoint and stores what metrics.jsonl holds. */
        status = "interrupted";
        snprintf(why, sizeof why, "trained, but its metrics are not all in the database: %s", err);
    } else if (st->overlong && strcmp(status, "pending")) {
        status = "failed"; /* its metrics cannot be read whole */
        snprintf(why, sizeof why, "%s", st->overlong_what);
    } else if (!strcmp(status, "done") && st->nonfinite) {
        status = "failed";
        snprintf(why, sizeof why, "%s", st->nonfinite_what);
    }
    snprintf(r->final, sizeof r->final, "%s", status);
    r->finished = 1;
    if (!strcmp(status, "pending")) {
        db_run_update u = {.set = DB_SET_STATUS | DB_SET_ERROR, .status = "pending", .error = why};
        if (db_run_set(f->d, r->id, &u)) progress_event(&f->pg, "warning: cannot record run %.12s: %s", r->key, db_errmsg(f->d));
        rundir_set_status(r->dir, "pending", why);
        f->npending++;
        progress_event(&f->pg, "not started %.12s %s: %s", r->key, r->who, why);
        return;
    }
    if (r->stamp <= 0) /* it ended before we saw it start: still an attempt */
        db_run_started(f->d, r->id, tk && *tk->node ? tk->node : NULL, -1, xo_now());
    char *tail = strcmp(status, "failed") ? NULL : rundir_tail(rundir_path(r->dir, RUN_LOG).s, 20);
    if (db_run_finished(f->d, r->id, status, *why ? why : NULL, tail, xo_now()))
        progress_event(&f->pg, "warning: cannot record run %.12s: %s", r->key, db_errmsg(f->d));
    free(tail);
    exec_record_fork(f->d, r->id, r->dir, NULL); /* a branch's fork step */
    if (from_sched) rundir_set_status(r->dir, status, why);
    if (!strcmp(status, "done")) {
        f->ndone++;
        f->done_flops += r->est.flops;
        progress_event(&f->pg, "done    %.12s %s (%lld steps) [%s]", r->key, r->who, st->step, r->job);
    } else if (!strcmp(status, "failed")) {
        f->nfailed++;
        progress_event(&f->pg, "FAILED  %.12s %s [%s]: %s", r->key, r->who, r->job, why);
    } else {
        f->ninterrupted++;
        progress_event(&f->pg, "interrupted %.12s %s at step %lld [%s]: %s", r->key, r->who, st->step < 0 ? 0 : st->step, r->job,
              why);
    }
}

/* The scheduler's word on a task, for a reason: "slurm: TIMEOUT (reason)". */
/* A reason squeue gives a task still waiting for its start: stale once it
 * has ended (a task cancelled while queued keeps "Resources"). */
static int pending_reason(const char *r)
{
    static const char *const list[] = {"Resources", "Priority", "JobArrayTaskLimit", "Dependency", "BeginTime",
                                       "JobHeldUser", "JobHeldAdmin", "ReqNodeNotAvail", "None", NULL};
    for (const char *const *p = list; *p; p++)
        if (!strncmp(r, *p, strlen(*p))) return 1;
    return !*r;
}

static void sched_words(const sl_task *tk, const char *job, char *buf, size_t n)
{
    if (!tk) snprintf(buf, n, "slurm no longer knows task %s", job);
    else if (pending_reason(tk->reason) || !strncmp(tk->state, "CANCELLED", 9)) snprintf(buf, n, "slurm: %s", tk->state);
    else snprintf(buf, n, "slurm: %s (%s)", tk->state, tk->reason);
}

static void tend(follower *f, sl_run *r)
{
    double now = xo_now();
    char err[512];

    /* 1. A new attempt? (before the metrics: a resumed trainer rewrites them) */
    json_t *a = json_load_file(rundir_path(r->dir, RUN_ATTEMPT).s, 0, NULL);
    double started = a ? json_number_value(json_object_get(a, "started")) : 0;
    if (a && started > r->stamp) {
        const char *host = json_string_value(json_object_get(a, "host"));
        json_t *pid = json_object_get(a, "pid");
        double prev = r->stamp;
        r->stamp = started;
        ingest_free(r->ing);
        r->ing = ingest_new(r->metrics, r->re);
        r->running = 1;
        r->tok_t = now;
        r->tok_last = 0;
        r->tok_s = 0;
        /* Earlier starts of this worker no follower saw (its retries while
         * nobody watched): each an attempt too. */
        json_t *starts = json_object_get(a, "starts");
        for (size_t k = 0; k + 1 < json_array_size(starts); k++) {
            double t = json_number_value(json_array_get(starts, k));
            if (t > prev && t < started) db_run_started(f->d, r->id, host, -1, t);
        }
        if (db_run_started(f->d, r->id, host, json_is_integer(pid) ? json_integer_value(pid) : -1, started))
            progress_event(&f->pg, "warning: cannot record run %.12s: %s", r->key, db_errmsg(f->d));
        /* A retry by the worker, or a requeue by Slurm, is said in any case:
         * it is why the run's attempts grow. */
        const char *why = json_string_value(json_object_get(a, "retry_why"));
        long long restarts = json_integer_value(json_object_get(a, "restarts"));
        const char *rq = json_string_value(json_object_get(a, "requeue_why"));
        if (why) progress_event(&f->pg, "retrying %.12s %s: %s [%s]", r->key, r->who, why, r->job);
        else if (restarts > 0)
            progress_event(&f->pg, "requeued %.12s %s: restart %lld by Slurm%s%s%s, resuming from its checkpoint on %s [%s]",
                           r->key, r->who, restarts, rq ? " (" : "", rq ? rq : "", rq ? ")" : "", host ? host : "?",
                           r->job);
        else if (!f->pg.tty)
            progress_event(&f->pg, "started %.12s %s on %s [%s]", r->key, r->who, host ? host : "?", r->job);
    }
    json_decref(a);
    if (!r->ing) return; /* out of memory: try again next time */

    /* 2. Metrics. */
    if (ingest_poll(r->ing, f->d, r->id, 0, err, sizeof err)) progress_event(&f->pg, "warning: %s", err);
    const ingest_state *st = ingest_get(r->ing);
    if (st->tokens > r->tok_last && now > r->tok_t + 0.5) {
        if (r->tok_last > 0) r->tok_s = (double)(st->tokens - r->tok_last) / (now - r->tok_t);
        r->tok_last = st->tokens;
        r->tok_t = now;
    }

    /* 3. The final word. */
    char word[32], reason[600], sched[300];
    rundir_status(r->dir, word, sizeof word, reason, sizeof reason);
    const sl_task *tk = f->tab.answered ? sl_find(&f->tab, r->job) : NULL;
    /* The scheduler says the task is over (or has forgotten it). */
    int ended = f->tab.answered && (!tk || sl_state_ended(tk->state));
    sched_words(tk, r->job, sched, sizeof sched);
    char why[1024];
    if (!strcmp(word, "done")) {
        finish(f, r, "done", *reason ? reason : NULL, tk, 0); /* a reason: a branch not needed */
    } else if (!strcmp(word, "failed")) {
        if (tk && ended && strcmp(tk->state, "COMPLETED") && strcmp(tk->state, "FAILED"))
            snprintf(why, sizeof why, "%s; %s", reason, sched);
        else snprintf(why, sizeof why, "%s", reason);
        finish(f, r, "failed", why, tk, 0);
    } else if (!strcmp(word, "interrupted")) {
        /* Still exiting, or requeued: it will run again and resume. */
        if (f->tab.answered && !ended) {
            f->want_sched = 1;
            return;
        }
        if (tk) snprintf(why, sizeof why, "%s; %s", reason, sched);
        else snprintf(why, sizeof why, "%s", reason);
        finish(f, r, "interrupted", why, tk, 0);
    } else if (ended) {
        /* No final word: the task died hard, or never started. Give the
         * shared filesystem a moment to show a status written at the end. */
        if (!r->ended_at) r->ended_at = now;
        if (f->o->wait && now - r->ended_at < 3) {
            f->want_sched = 1;
            return;
        }
        const char *state = tk ? tk->state : "UNKNOWN";
        int never = r->stamp <= 0 && strcmp(word, "running");
        if (never && !strncmp(state, "CANCELLED", 9)) {
            snprintf(why, sizeof why, "task %s was cancelled before it started", r->job);
            finish(f, r, "pending", why, tk, 1);
        } else if (tk && sl_state_interrupts(state)) {
            snprintf(why, sizeof why, "%s", sched);
            finish(f, r, "interrupted", why, tk, 1);
        } else {
            snprintf(why, sizeof why, "%s%s", sched,
                     never ? "; the worker never started (see the task's output under slurm/)"
                           : "; the worker ended without a final status");
            finish(f, r, "failed", why, tk, 1);
        }
    } else {
        r->ended_at = 0;
    }
}

int sl_follow(db *d, sl_run *runs, size_t n, const sl_follow_opts *o)
{
    follower f = {.d = d, .runs = runs, .n = n, .o = o};
    f.pg.tty = o->wait && cli_stderr_is_tty();
    f.pg.t0 = xo_now();
    char (*ids)[64] = calloc(n ? n : 1, sizeof *ids);
    const char **jobs = calloc(n ? n : 1, sizeof *jobs);
    if (!ids || !jobs) {
        free(ids);
        free(jobs);
        return cli_error(XO_FAILED, "out of memory");
    }
    size_t nj = 0;
    for (size_t k = 0; k < n; k++) {
        f.total_flops += runs[k].est.flops;
        snprintf(ids[nj], sizeof ids[nj], "%.*s", (int)strcspn(runs[k].job, "_"), runs[k].job);
        int dup = 0;
        for (size_t m = 0; m < nj && !dup; m++) dup = !strcmp(ids[m], ids[nj]);
        if (!dup) jobs[nj] = ids[nj], nj++;
    }
    struct sigaction sa = {0}, old_int;
    sa.sa_handler = on_int;
    sigemptyset(&sa.sa_mask);
    g_stop = 0;
    if (o->wait) sigaction(SIGINT, &sa, &old_int);
    if (o->wait && !o->quiet_start)
        progress_event(&f.pg, "sweep %s: following %zu runs on Slurm (job%s %s%s); Ctrl-C stops following, not the jobs", o->sweep,
              n, nj > 1 ? "s" : "", nj ? jobs[0] : "", nj > 1 ? ", ..." : "");
    double last_q = -1e9;
    int detached = 0;
    for (;;) {
        if (xo_now() - last_q >= (f.want_sched ? 1 : 5)) {
            sl_query(&f.tab, jobs, nj);
            last_q = xo_now();
        }
        f.want_sched = 0;
        size_t left = 0;
        for (size_t k = 0; k < n; k++) {
            if (runs[k].finished) continue;
            tend(&f, &runs[k]);
            left += !runs[k].finished;
        }
        if (!left || !o->wait) break;
        if (g_stop) {
            detached = 1;
            break;
        }
        progress_draw(&f.pg, sweep_line, run_rows, &f);
        struct timespec ts = {0, 500 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (o->wait) sigaction(SIGINT, &old_int, NULL);
    progress_clear(&f.pg);
    size_t running = count_running(&f), queued = 0;
    for (size_t k = 0; k < n; k++) queued += !runs[k].finished && !runs[k].running;
    char el[32];
    xo_duration(xo_now() - f.pg.t0, el, sizeof el);
    if (o->wait)
        progress_event(&f.pg, "sweep %s: %zu done, %zu failed, %zu interrupted, %zu back to pending%s in %s", o->sweep,
              f.ndone + o->skipped_done, f.nfailed + o->skipped_failed, f.ninterrupted, f.npending,
              detached ? ", stopped following" : ",", el);
    else
        fprintf(stderr, "sweep %s: %zu done, %zu failed, %zu interrupted, %zu running, %zu queued, %zu back to pending\n",
                o->sweep, f.ndone + o->skipped_done, f.nfailed + o->skipped_failed, f.ninterrupted, running, queued,
                f.npending);
    if (detached)
        fprintf(stderr, "xover: the jobs keep running; `xover collect %s` ingests them, `xover cancel %s` "
                        "cancels them\n", o->sweep, o->sweep);
    sl_table_free(&f.tab);
    free(ids);
    free(jobs);
    if (f.db_broken[0])
        return cli_error(XO_FAILED, "the database could not be written: %s; no run was recorded done without all "
                         "its metrics: once it can be written (free space), `xover run` resumes those left",
                         f.db_broken);
    if (detached) return XO_INTERRUPTED;
    if (f.nfailed || o->skipped_failed) return XO_FAILED;
    if (o->wait && (f.ninterrupted || f.npending)) return XO_FAILED;
    return XO_OK;
}
