/*
 * driver.c — `xover run`'s engine: register the plan in the database, then
 * keep N worker processes busy with the runs not yet done, ingesting their
 * metrics as they grow, until every run has ended or Ctrl-C.
 *
 * Workers are fork/exec'd with argv only (never a shell): the xover binary
 * itself (`xover train --config DIR/config.json --out DIR`) or the sweep's
 * external trainer. Each gets its own process group, so the terminal's
 * Ctrl-C reaches the driver alone, which then decides: the first stops
 * launching and forwards SIGINT (workers checkpoint and exit 130; their runs
 * become `interrupted` and the next `xover run` resumes them); a second
 * kills the workers at once. SIGCHLD and SIGINT wake the loop through a
 * self-pipe; otherwise it wakes every 100 ms to ingest and redraw.
 *
 * The driver is the database's only writer: workers write only their run
 * directory. A worker that fails, times out or reports a non-finite loss
 * makes its run `failed` (reason and log tail recorded); the sweep goes on.
 * A worker killed by a signal is retried from its checkpoint (at most
 * EXEC_SIGNAL_RETRIES times). Locks (guard.c, run/run.h rundir_lock) keep a
 * second driver off the sweep and any other process off a run whose worker
 * still lives; workers die with their driver (docs/reliability.md).
 *
 * Annealed branches (docs/sweep.md) make the runs a dependency graph: a
 * branch waits ("blocked") until its trunk has written the checkpoint it
 * forks from, then runs like any run, on whichever worker is free; a trunk
 * that waits for a branch's annealed value (its early-stopping rule) does
 * not hold a worker meanwhile.
 *
 * Workers are cores: when fewer runs than cores can run, balance() hands
 * the idle ones to running runs as threads, and takes one back when a run
 * could start but finds none (handover.c; a run's numbers do not depend on
 * its threads). What the progress display shows is driver_view.c's.
 */
#include "orchestrator/exec/driver.h"

#include "orchestrator/cli/cli.h"
#include "orchestrator/run/anneal.h"
#include "orchestrator/run/run_config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sha2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t g_signals;
static int g_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int e = errno;
    if (sig == SIGINT || sig == SIGTERM) g_signals++;
    if (g_pipe[1] >= 0) {
        ssize_t w = write(g_pipe[1], "x", 1);
        (void)w;
    }
    errno = e;
}

/* ---- launching ---------------------------------------------------------- */

/* The directory of branch j's trunk. */
static const char *trunk_dir_of(const driver *dr, const job *j)
{
    return j->trunk >= 0 ? dr->jobs[j->trunk].dir : j->trunk_dir;
}

static int claim_run(driver *dr, job *j, char *err, size_t errlen);
static void halt(driver *dr, const char *cause, const char *why);
static void db_broke(driver *dr, const char *why);

/* Run j cannot even start: a full disk stops the sweep, the run left to
 * do; anything else (a bad config) fails it, saying why. */
static void not_started(driver *dr, job *j, const char *err, int no_space)
{
    xo_unlock(j->lock_fd);
    j->lock_fd = -1;
    j->finished = 1;
    if (no_space) { /* left as it is, to start once there is space */
        dr->nunstarted++;
        halt(dr, "a run directory's disk is full", err);
        return;
    }
    dr->nfailed++;
    db_run_finished(dr->d, j->id, "failed", err, NULL, xo_now());
    progress_event(&dr->pg, "failed %.12s: %s", j->key, err);
}

/* The run's config.json, from the plan: 0, or -1 with err set
 * (*no_space when the disk was full). */
static int write_run_config(driver *dr, job *j, char *err, size_t errlen, int *no_space)
{
    json_t *cfg = sweep_plan_config(dr->p, j->i, err, errlen);
    if (!cfg) return -1;
    char *text = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(cfg);
    if (!text) return snprintf(err, errlen, "out of memory"), -1;
    int bad = rundir_write(rundir_path(j->dir, RUN_CONFIG).s, text, strlen(text), err, errlen);
    *no_space = bad && xo_no_space(errno);
    free(text);
    return bad ? -1 : 0;
}

/* The worker's command line: the sweep's external trainer, or this
 * binary's `train` on the run's config. *metrics is the file its metrics
 * lines appear in. NULL with err set on failure. */
static char **worker_argv(driver *dr, job *j, sweep_trainer_info tr, run_path *metrics, char *err, size_t errlen)
{
    char **argv;
    if (tr.external) {
        char *mfile = NULL;
        argv = sweep_plan_argv(dr->p, j->i, j->dir, j->key, &mfile, err, errlen);
        if (!argv) return NULL;
        if (mfile && !guard_inside(j->dir, mfile)) {
            /* A value with ".." or a path in it must not move the file the
             * driver reads (or the trainer writes) out of the run. */
            snprintf(err, errlen, "trainer.metrics_file resolves to %s, which is outside the run directory %s",
                     mfile, j->dir);
            free(mfile);
            sweep_argv_free(argv);
            return NULL;
        }
        if (mfile) snprintf(metrics->s, sizeof metrics->s, "%s", mfile);
        else *metrics = rundir_path(j->dir, RUN_STDOUT);
        free(mfile);
        return argv;
    }
    const char *self = dr->o->self_exe ? dr->o->self_exe : "/proc/self/exe";
    const char *words[] = {self, "train", "--config", rundir_path(j->dir, RUN_CONFIG).s, "--out", j->dir,
                           "--threads", "1"};
    size_t n = sizeof words / sizeof *words;
    argv = calloc(n + 1, sizeof *argv);
    for (size_t k = 0; argv && k < n; k++)
        if (!(argv[k] = strdup(words[k]))) {
            sweep_argv_free(argv);
            argv = NULL;
        }
    if (!argv) return snprintf(err, errlen, "out of memory"), NULL;
    *metrics = rundir_path(j->dir, RUN_METRICS);
    return argv;
}

/* Fork the worker in its own process group, holding the run's lock, its
 * stderr appended to the run's log (and its stdout to the run's stdout
 * file when that is where its metrics go). The pid, or -1. */
static pid_t spawn_worker(job *j, char **argv, int stdout_metrics)
{
    run_path logp = rundir_path(j->dir, RUN_LOG), outp = rundir_path(j->dir, RUN_STDOUT);
    fflush(stdout);
    fflush(stderr);
    pid_t self = getpid();
    pid_t pid = fork();
    if (pid != 0) {
        if (pid > 0) setpgid(pid, pid); /* also here: no race with a signal sent right away */
        return pid;
    }
    setpgid(0, 0);
    guard_worker(j->lock_fd, self);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    int in = open("/dev/null", O_RDONLY);
    int lg = open(logp.s, O_WRONLY | O_CREAT | O_APPEND, 0666);
    int out = stdout_metrics ? open(outp.s, O_WRONLY | O_CREAT | O_TRUNC, 0666) : lg;
    if (in < 0 || lg < 0 || out < 0) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(lg, 2);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv("XOVER_RUN_DIR", j->dir, 1);
    setenv("XOVER_RUN_KEY", j->key, 1);
    execvp(argv[0], argv);
    dprintf(2, "xover: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* A worker just started: the job's clocks, the database and the status file. */
static void record_started(driver *dr, job *j, pid_t pid)
{
    j->pid = pid;
    j->started = xo_now();
    exec_rate_reset(&j->rate);
    j->tok_s = 0;
    j->term_at = j->kill_at = 0;
    j->timed_out = j->nonfinite = 0;
    dr->running++;
    /* no job id: run here, not by a Slurm task (host and pid say where) */
    db_run_update u = {.set = DB_SET_RUN_DIR | DB_SET_BUILD | DB_SET_JOB, .run_dir = j->dir, .build_id = dr->build};
    if (db_run_started(dr->d, j->id, dr->host, pid, j->started) || db_run_set(dr->d, j->id, &u)) {
        char why[600];
        snprintf(why, sizeof why, "recording the start of run %.12s: %s", j->key, db_errmsg(dr->d));
        db_broke(dr, why); /* stops the worker just started too */
    }
    rundir_set_status(j->dir, "running", NULL);
    char who[200];
    driver_describe_run(dr, j->i, who, sizeof who);
    if (!dr->pg.tty) progress_event(&dr->pg, "started %.12s %s (pid %d)", j->key, who, (int)pid);
}

/* Start run j's worker: its directory, its claim (the run's lock), its
 * config, the worker. 0 started; 1 not now: its directory is locked by
 * another process (j->waiting is set); 2 nothing to do: another driver has
 * finished it meanwhile; -1 failed to start, recorded (not_started). */
static int launch(driver *dr, job *j)
{
    char err[1024];
    int no_space = 0; /* the failure was a full disk: not the run's */
    sweep_trainer_info tr = sweep_trainer(sweep_plan_sweep(dr->p));
    if (rundir_mkdirs(j->dir, err, sizeof err)) {
        no_space = xo_no_space(errno);
        goto fail;
    }
    int claim = claim_run(dr, j, err, sizeof err);
    if (claim < 0) {
        no_space = xo_no_space(errno);
        goto fail;
    }
    if (claim > 0) return claim;
    if (write_run_config(dr, j, err, sizeof err, &no_space)) goto fail;
    run_path metrics;
    char **argv = worker_argv(dr, j, tr, &metrics, err, sizeof err);
    if (!argv) goto fail;
    /* One thread to start with (the hand-over may give it more at once):
     * the word of an earlier attempt must not linger. */
    j->sh = (exec_share){1, 0, !tr.external && !dr->o->no_handover, j->est.tokens, -EXEC_HANDOVER_HOLD};
    if (!tr.external && rundir_write_threads(j->dir, RUN_THREADS, 1)) {
        no_space = xo_no_space(errno);
        snprintf(err, sizeof err, "cannot write %.900s: %s", rundir_path(j->dir, RUN_THREADS).s, strerror(errno));
        sweep_argv_free(argv);
        goto fail;
    }
    unlink(rundir_path(j->dir, RUN_THREADS_NOW).s);
    ingest_free(j->ing);
    j->ing = ingest_new(metrics.s, tr.metrics == SWEEP_METRICS_REGEX ? dr->re : NULL);
    if (!j->ing) {
        sweep_argv_free(argv);
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    pid_t pid = spawn_worker(j, argv, tr.external && !tr.metrics_file);
    sweep_argv_free(argv);
    if (pid < 0) {
        snprintf(err, sizeof err, "cannot start a worker: %s", strerror(errno));
        goto fail;
    }
    record_started(dr, j, pid);
    return 0;
fail:
    not_started(dr, j, err, no_space);
    return -1;
}

static void signal_job(job *j, int sig)
{
    if (j->pid > 0) kill(-j->pid, sig);
}

/* The database, or the disk of the run directories, takes no more (full,
 * an I/O error): the sweep stops as after Ctrl-C, each running run
 * checkpointing to be resumed, and exec_run ends with exit 1 saying why. A
 * run is recorded done only once all its metrics are stored, and none is
 * failed for a full disk, so the next `xover run` finishes every one. The
 * first cause is kept. */
static void halt(driver *dr, const char *cause, const char *why)
{
    if (dr->halted[0]) return;
    snprintf(dr->halted, sizeof dr->halted, "%.60s: %.700s", cause, why);
    progress_event(&dr->pg, "%s; stopping: %zu running runs checkpoint and stop", dr->halted, dr->running);
    if (dr->stopping) return;
    dr->stopping = 1;
    for (size_t k = 0; k < dr->njobs; k++) signal_job(&dr->jobs[k], SIGINT);
}

static void db_broke(driver *dr, const char *why)
{
    dr->db_broken = 1;
    halt(dr, "the database cannot be written", why);
}

/* Whether the sweep's runs are an external trainer's (whose exit codes
 * mean what it says, not what `xover train`'s do). */
static int tr_external(const driver *dr) { return sweep_trainer(sweep_plan_sweep(dr->p)).external; }

/* A worker has exited with wait status `ws`: ingest the rest, record. */
static void finish(driver *dr, job *j, int ws)
{
    char err[512] = "";
    int ing = ingest_poll(j->ing, dr->d, j->id, 1, err, sizeof err);
    if (ing == INGEST_EDB) db_broke(dr, err);
    else if (ing) progress_event(&dr->pg, "warning: %s", err);
    const ingest_state *st = ingest_get(j->ing);
    char reason[1024] = "";
    const char *status;
    run_path logp = rundir_path(j->dir, RUN_LOG);
    int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    int sig = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
    if (st->overlong) {
        status = "failed"; /* whatever the worker did: its metrics cannot be read whole */
        snprintf(reason, sizeof reason, "%s", st->overlong_what);
    } else if (j->nonfinite || (st->nonfinite && code == 0)) {
        status = "failed";
        snprintf(reason, sizeof reason, "%s", st->nonfinite_what);
    } else if (j->timed_out) {
        status = "failed";
        char d[32];
        xo_duration(dr->o->timeout, d, sizeof d);
        snprintf(reason, sizeof reason, "timed out after %s", d);
    } else if (code == RUN_EXIT_NO_SPACE && !tr_external(dr)) {
        /* The run directory's disk is full: the worker stopped at the
         * write, its last checkpoint whole (its status file says which). */
        status = "interrupted";
        char word[32], why[700] = "";
        rundir_status(j->dir, word, sizeof word, why, sizeof why);
        snprintf(reason, sizeof reason, "%s", *why ? why : "its run directory's disk is full");
        halt(dr, "a run directory's disk is full", reason);
    } else if (code == 0 && ing == INGEST_EDB) {
        /* Trained, but not all its metrics are stored: not done yet. The
         * next `xover run` finds its last checkpoint at the end, and
         * stores what metrics.jsonl holds. */
        status = "interrupted";
        snprintf(reason, sizeof reason, "trained, but its metrics are not all in the database: %s", err);
    } else if (code == 0) {
        status = "done";
    } else if (dr->stopping && (code == XO_INTERRUPTED || sig == SIGINT || sig == SIGKILL || sig == SIGTERM)) {
        status = "interrupted";
        if (dr->halted[0]) snprintf(reason, sizeof reason, "stopped: %s", dr->halted);
    } else if (j->held && (code == XO_INTERRUPTED || sig)) {
        status = "interrupted"; /* stopped by check_trunk_wait: a later run resumes it */
        snprintf(reason, sizeof reason, "its early-stopping rule waits for branch %.12s, which this run does not include",
                 j->held_for);
    } else if ((sig || code == XO_INTERRUPTED) && !dr->stopping && j->retries < EXEC_SIGNAL_RETRIES) {
        /* Killed from outside: transient, as far as we can tell. The run
         * resumes from its checkpoint at once. */
        status = "interrupted";
        j->retries++;
        if (sig) snprintf(reason, sizeof reason, "killed by signal %d (%s); retry %d of %d from its checkpoint", sig,
                          strsignal(sig), j->retries, EXEC_SIGNAL_RETRIES);
        else snprintf(reason, sizeof reason, "stopped from outside (exit code %d); retry %d of %d from its checkpoint",
                      code, j->retries, EXEC_SIGNAL_RETRIES);
    } else {
        status = "failed";
        char *last = rundir_last_line(logp.s);
        if (sig) snprintf(reason, sizeof reason, "killed by signal %d (%s)%s%s", sig, strsignal(sig),
                          last ? ": " : "", last ? last : "");
        else snprintf(reason, sizeof reason, "exit code %d%s%s", code, last ? ": " : "", last ? last : "");
        free(last);
    }
    char *tail = strcmp(status, "failed") ? NULL : rundir_tail(logp.s, 20);
    if (db_run_finished(dr->d, j->id, status, *reason ? reason : NULL, tail, xo_now())) {
        /* Left as it was (running, or interrupted): resumed next time. */
        char why[600];
        snprintf(why, sizeof why, "recording run %.12s as %s: %s", j->key, status, db_errmsg(dr->d));
        db_broke(dr, why);
        if (!strcmp(status, "done")) {
            status = "interrupted";
            snprintf(reason, sizeof reason, "trained, but not recorded as done: %s", db_errmsg(dr->d));
        }
    }
    free(tail);
    if (j->role == SWEEP_BRANCH) exec_record_fork(dr->d, j->id, j->dir, trunk_dir_of(dr, j));
    /* The status file last: only the driver knows about timeouts and kills.
     * The hand-over's files belong to this attempt. */
    rundir_set_status(j->dir, status, reason);
    unlink(rundir_path(j->dir, RUN_THREADS).s);
    unlink(rundir_path(j->dir, RUN_THREADS_NOW).s);
    xo_unlock(j->lock_fd); /* only now: the run is recorded */
    j->lock_fd = -1;
    j->pid = 0;
    j->finished = 1;
    dr->running--;
    if (!strcmp(status, "interrupted") && !dr->stopping && !j->held) {
        j->finished = 0;
        j->waiting = 1;
        j->wait_until = xo_now();
        dr->nwaiting++;
        progress_event(&dr->pg, "retrying %.12s: %s", j->key, reason);
        return;
    }
    char who[200];
    driver_describe_run(dr, j->i, who, sizeof who);
    if (!strcmp(status, "done")) {
        dr->ndone++;
        dr->done_flops += j->est.flops;
        progress_event(&dr->pg, "done    %.12s %s (%lld steps, %.0fs)", j->key, who, st->step, xo_now() - j->started);
    } else if (!strcmp(status, "failed")) {
        dr->nfailed++;
        progress_event(&dr->pg, "FAILED  %.12s %s: %s", j->key, who, reason);
    } else {
        dr->ninterrupted++;
        progress_event(&dr->pg, "interrupted %.12s %s at step %lld", j->key, who, st->step);
    }
}

typedef struct {
    char *status, *run_dir;
} found;

static int found_fn(void *ctx, const db_run_info *r)
{
    found *f = ctx;
    f->status = r->status ? strdup(r->status) : NULL;
    f->run_dir = r->run_dir ? strdup(r->run_dir) : NULL;
    return 0;
}

/* A trunk waits for a branch's annealed value (its `waiting` file names the
 * branch). If this driver does not run that branch (--only left it out) and
 * it is not done, the wait would never end: stop the trunk, which
 * checkpoints and is resumed by a later `xover run`. (A branch of this
 * driver that failed ends the wait itself: the trunk reads its status.) */
static void check_trunk_wait(driver *dr, job *j, double now)
{
    char key[80] = "";
    FILE *f = fopen(rundir_path(j->dir, RUN_WAITING).s, "r");
    if (!f) return;
    if (!fgets(key, sizeof key, f)) key[0] = 0;
    fclose(f);
    key[strcspn(key, "\n")] = 0;
    if (strlen(key) != 64) return; /* being written */
    for (size_t k = 0; k < dr->njobs; k++)
        if (!strcmp(dr->jobs[k].key, key)) return;
    found fd = {0};
    db_run_by_key(dr->d, key, found_fn, &fd);
    int done = fd.status && !strcmp(fd.status, "done");
    free(fd.status);
    free(fd.run_dir);
    if (done) return;
    progress_event(&dr->pg, "stopping trunk %.12s: it waits for branch %.12s, which this `xover run` does not run",
                   j->key, key);
    j->held = 1;
    memcpy(j->held_for, key, 65); /* 64 hex digits, checked above */
    j->term_at = now;
    signal_job(j, SIGTERM);
}

/* Ingest what running workers wrote; enforce timeouts and finite losses. */
static void tend(driver *dr)
{
    double now = xo_now();
    for (size_t k = 0; k < dr->njobs; k++) {
        job *j = &dr->jobs[k];
        if (!j->pid) continue;
        char err[512];
        /* Once the database has refused, what is left is read at finish()
         * (or by the next driver), not retried every 100 ms. */
        int ing = dr->db_broken ? 0 : ingest_poll(j->ing, dr->d, j->id, 0, err, sizeof err);
        if (ing == INGEST_EDB) db_broke(dr, err);
        else if (ing) progress_event(&dr->pg, "warning: %s", err);
        const ingest_state *st = ingest_get(j->ing);
        if (j->sh.growable) {
            j->sh.have = rundir_read_threads(j->dir, RUN_THREADS_NOW);
            j->sh.remaining = driver_remaining_tokens(j);
        }
        if (st->tokens > 0) exec_rate_add(&j->rate, now, (double)st->tokens);
        j->tok_s = exec_rate_tok_s(&j->rate, EXEC_RATE_WINDOW);
        if (!j->total_steps) driver_read_model_info(j);
        if ((st->nonfinite || st->overlong) && !j->nonfinite && !j->term_at) {
            j->nonfinite = 1; /* stopped for what it wrote; finish() says which */
            j->term_at = now;
            signal_job(j, SIGTERM);
        }
        if (dr->o->timeout > 0 && !j->term_at && now - j->started > dr->o->timeout) {
            j->timed_out = 1;
            j->term_at = now;
            signal_job(j, SIGTERM);
        }
        if (j->role == SWEEP_TRUNK && !j->term_at) check_trunk_wait(dr, j, now);
        /* A worker that ignores SIGTERM for 5 s is killed. */
        if (j->term_at && !j->kill_at && now - j->term_at > 5) {
            j->kill_at = now;
            signal_job(j, SIGKILL);
        }
    }
}

/* ---- setup -------------------------------------------------------------- */

/* Claim run j before starting it: take its run lock, then look again at its
 * status, which another driver (of another sweep with this run) may have
 * changed since prepare(). 0 = claimed, 1 = locked by another process (try
 * again later), 2 = done meanwhile, -1 = error. */
static int claim_run(driver *dr, job *j, char *err, size_t errlen)
{
    int fd = rundir_lock(j->dir, err, errlen);
    if (fd == -2) {
        if (!j->waiting) {
            dr->nwaiting++;
            progress_event(&dr->pg, "waiting for %.12s: %s", j->key, err);
        }
        j->waiting = 1;
        j->wait_until = xo_now() + 1;
        return 1;
    }
    if (fd < 0) return -1;
    j->lock_fd = fd;
    found f = {0};
    db_run_by_key(dr->d, j->key, found_fn, &f);
    int done = f.status && !strcmp(f.status, "done");
    /* Started by a driver of another sweep since prepare(), in that sweep's
     * directory: this one was made only for the lock, and the lock that
     * decides who trains the run is the one over there. */
    int elsewhere = f.run_dir && strcmp(f.run_dir, j->dir) != 0 && rundir_is_run_of(f.run_dir, j->key);
    free(f.status);
    if (elsewhere || done) {
        xo_unlock(j->lock_fd);
        j->lock_fd = -1;
    }
    if (elsewhere) {
        rundir_remove_if_empty(j->dir);
        free(j->dir);
        j->dir = f.run_dir;
        f.run_dir = NULL;
    }
    free(f.run_dir);
    if (done) {
        j->finished = 1;
        dr->skipped_done++;
        progress_event(&dr->pg, "skipped %.12s: done meanwhile by another driver", j->key);
        return 2;
    }
    /* Not done there: follow it (wait while its worker holds the lock, or
     * resume its checkpoint) rather than train it a second time here. */
    if (elsewhere) return claim_run(dr, j, err, errlen);
    return 0;
}

/* ---- annealed branches --------------------------------------------------- */

/* Whether j's trunk may still write its forks: it is to run here (and has
 * not ended), or another process holds its directory's lock. */
static int trunk_live(const driver *dr, const job *j)
{
    if (j->trunk >= 0) {
        const job *t = &dr->jobs[j->trunk];
        return !t->finished;
    }
    char err[256];
    int fd = rundir_lock(j->trunk_dir, err, sizeof err);
    if (fd == -2) return 1;
    xo_unlock(fd);
    return 0;
}

/* A branch's directory: beside its trunk's (the trunk reads its branches'
 * results there; docs/sweep.md), unless the database knows where it ran. */
static void place_branch(job *j, const char *trunk_dir)
{
    if (j->dir_known) return;
    const char *slash = strrchr(trunk_dir, '/');
    char d[4300];
    snprintf(d, sizeof d, "%.*s%s%s", slash ? (int)(slash - trunk_dir) : 0, trunk_dir, slash ? "/" : "", j->key);
    char *nd = strdup(d);
    if (nd) free(j->dir), j->dir = nd;
}

/* Record a branch its trunk did not need (the trunk stopped early before
 * its fork): done, untrained, with the reason. */
static void skip_branch(driver *dr, job *j, long long fork_step, long long stopped_at)
{
    char why[256];
    snprintf(why, sizeof why, "not trained: its trunk stopped early at step %lld (train.early_stop_margin), before "
                              "this branch's fork at step %lld", stopped_at, fork_step);
    if (fork_step >= 0) db_run_set_fork(dr->d, j->id, fork_step);
    db_run_finished(dr->d, j->id, "done", why, NULL, xo_now());
    j->finished = 1;
    dr->ndone++;
    progress_event(&dr->pg, "skipped %.12s: %s", j->key, why);
}

/* Look at a blocked branch again: launch it once its fork exists (if a
 * worker is free), settle it when the fork will never come. */
static void unblock(driver *dr, job *j, int worker_free)
{
    long long fork_step, stopped_at;
    const char *td = trunk_dir_of(dr, j);
    int st = anneal_fork_state(td, j->key, trunk_live(dr, j), &fork_step, &stopped_at);
    if (st == ANNEAL_FORK_READY && !worker_free) dr->starved = 1;
    if (st == ANNEAL_FORK_WAIT || (st == ANNEAL_FORK_READY && !worker_free)) return;
    j->blocked = 0;
    dr->nblocked--;
    if (st == ANNEAL_FORK_READY) {
        if (fork_step >= 0) db_run_set_fork(dr->d, j->id, fork_step);
        place_branch(j, td);
        launch(dr, j);
        return;
    }
    if (st == ANNEAL_FORK_NOT_NEEDED) {
        skip_branch(dr, j, fork_step, stopped_at);
        return;
    }
    /* Its trunk ended (failed, interrupted, or not run here) without the
     * fork: the branch stays pending for the next `xover run`. */
    j->finished = 1;
    dr->nstuck++;
    progress_event(&dr->pg, "not started %.12s: its trunk (%s) ended before writing the fork checkpoint", j->key, td);
}

/* Workers a trunk waiting for a branch's annealed value does not use (its
 * `waiting` file): they may run that branch meanwhile. */
static size_t idle_trunks(const driver *dr)
{
    size_t n = 0;
    for (size_t k = 0; k < dr->njobs && dr->running; k++) {
        const job *j = &dr->jobs[k];
        if (j->role != SWEEP_TRUNK || !j->pid) continue;
        n += access(rundir_path(j->dir, RUN_WAITING).s, F_OK) == 0;
    }
    return n;
}

/* Launch what the free slots allow: first the runs waiting whose time has
 * come (retries, locked directories), then branches whose fork has come,
 * then new runs in plan order (a branch whose fork is not there yet is put
 * aside as blocked). A slot is a core: a run holding more than one (the
 * hand-over) leaves fewer. Notes in dr->starved whether a run that could
 * start found no core. */
static void launch_some(driver *dr, size_t slots)
{
    double now = xo_now();
    slots += idle_trunks(dr);
#define FREE() (dr->running + (size_t)dr->extra < slots)
    dr->starved = 0;
    for (size_t k = 0; k < dr->next && dr->nwaiting; k++) {
        job *j = &dr->jobs[k];
        if (!j->waiting || now < j->wait_until) continue;
        if (!FREE()) {
            dr->starved = 1;
            break;
        }
        j->waiting = 0;
        dr->nwaiting--;
        launch(dr, j);
    }
    for (size_t k = 0; k < dr->next && dr->nblocked; k++)
        if (dr->jobs[k].blocked) unblock(dr, &dr->jobs[k], FREE());
    while (FREE() && dr->next < dr->njobs) {
        job *j = &dr->jobs[dr->next++];
        if (j->role == SWEEP_BRANCH) {
            j->blocked = 1;
            dr->nblocked++;
            unblock(dr, j, 1);
            continue;
        }
        launch(dr, j);
    }
    if (dr->next < dr->njobs && !FREE()) dr->starved = 1;
#undef FREE
}

/* Hand the cores over (handover.c): take one back when a run waits for a
 * core, give free ones to running runs otherwise; tell each changed run
 * through its threads file. */
static void balance(driver *dr, int cores)
{
    exec_share *sh = dr->shares;
    size_t *idx = dr->share_job, n = 0;
    for (size_t k = 0; k < dr->njobs; k++)
        if (dr->jobs[k].pid && !dr->jobs[k].term_at) idx[n] = k, sh[n++] = dr->jobs[k].sh;
    double now = xo_now();
    if (!dr->stopping && exec_handover(sh, n, cores + (int)idle_trunks(dr), dr->starved, now))
        for (size_t i = 0; i < n; i++) {
            job *j = &dr->jobs[idx[i]];
            if (sh[i].threads == j->sh.threads) continue;
            if (rundir_write_threads(j->dir, RUN_THREADS, sh[i].threads)) continue; /* next tick again */
            if (!dr->pg.tty) progress_event(&dr->pg, "%.12s now on %d thread%s", j->key, sh[i].threads,
                                            sh[i].threads > 1 ? "s" : "");
            j->sh = sh[i];
        }
    int used = 0, running = 0;
    for (size_t k = 0; k < dr->njobs; k++)
        if (dr->jobs[k].pid) used += exec_cores_used(&dr->jobs[k].sh, 1), running++;
    dr->extra = used - running;
}

/* A run to do becomes a job: resumed in the directory the database knows
 * for it (where its checkpoint is), else in runs/<sweep>/<key>. */
static int take_job(void *ctx, const exec_reg_run *r)
{
    driver *dr = ctx;
    if (exec_claims_has(dr->claims, r->key)) return dr->skipped_busy++, 0; /* Slurm's (slurm_local.c) */
    job *j = &dr->jobs[dr->njobs];
    j->i = r->i;
    j->id = r->id;
    j->lock_fd = -1;
    memcpy(j->key, r->key, 65);
    j->status = strdup(r->status);
    const char *runs = dr->o->runs_dir ? dr->o->runs_dir : "runs", *sw = sweep_name(sweep_plan_sweep(dr->p));
    if (r->run_dir && rundir_is_run_of(r->run_dir, r->key)) {
        j->dir = strdup(r->run_dir);
        j->dir_known = 1;
    } else if (asprintf(&j->dir, "%s/%s/%s", runs, sw, r->key) < 0) {
        j->dir = NULL;
    }
    if (!j->status || !j->dir) {
        free(j->status);
        free(j->dir);
        return -1;
    }
    j->role = sweep_plan_role(dr->p, r->i);
    j->trunk = -1;
    if (j->role == SWEEP_TRUNK) dr->last_trunk = dr->njobs;
    if (j->role == SWEEP_BRANCH) {
        /* Its trunk: a job of this driver (the plan lists it just before
         * its branches), or a run done or run elsewhere, in the directory
         * the database knows. */
        size_t t = dr->last_trunk;
        if (t != (size_t)-1 && dr->jobs[t].i == sweep_plan_parent(dr->p, r->i)) {
            j->trunk = (long)t;
        } else {
            char tkey[65], d[4200];
            sweep_plan_key(dr->p, sweep_plan_parent(dr->p, r->i), tkey);
            found f = {0};
            db_run_by_key(dr->d, tkey, found_fn, &f);
            if (f.run_dir && rundir_is_run_of(f.run_dir, tkey)) snprintf(d, sizeof d, "%s", f.run_dir);
            else snprintf(d, sizeof d, "%s/%s/%s", runs, sw, tkey);
            free(f.status);
            free(f.run_dir);
            j->trunk_dir = strdup(d);
            if (!j->trunk_dir) return -1;
        }
    }
    exec_estimate_run(dr->p, r->i, &j->est);
    dr->total_flops += j->est.flops;
    dr->njobs++;
    return 0;
}

/* Register the sweep and its runs; pick the runs to do. */
static int prepare(driver *dr)
{
    size_t n = sweep_plan_count(dr->p);
    dr->jobs = calloc(n ? n : 1, sizeof *dr->jobs);
    dr->shares = calloc(n ? n : 1, sizeof *dr->shares);
    dr->share_job = calloc(n ? n : 1, sizeof *dr->share_job);
    dr->eta_runs = calloc(n ? n : 1, sizeof *dr->eta_runs);
    if (!dr->jobs || !dr->shares || !dr->share_job || !dr->eta_runs) return cli_error(XO_FAILED, "out of memory");
    int rc = exec_slurm_claims_load(dr->d, dr->p, dr->o, &dr->claims);
    if (rc) return rc;
    return exec_register(dr->d, dr->p, dr->o, take_job, dr, &dr->skipped_done, &dr->skipped_failed);
}

static void cleanup(driver *dr)
{
    for (size_t k = 0; k < dr->njobs; k++) {
        free(dr->jobs[k].dir);
        free(dr->jobs[k].status);
        free(dr->jobs[k].trunk_dir);
        ingest_free(dr->jobs[k].ing);
    }
    free(dr->jobs);
    free(dr->shares);
    free(dr->share_job);
    free(dr->eta_runs);
    exec_claims_free(dr->claims);
    xo_unlock(dr->lock_fd);
    if (dr->re) pcre2_code_free(dr->re);
    db_close(dr->d);
}

/* --dry-run, or nothing to run: say what would run (or that nothing
 * will). XO_FAILED when nothing runs because the runs left failed. */
static int report_without_running(driver *dr, int jobs)
{
    const char *name = sweep_name(sweep_plan_sweep(dr->p));
    if (!dr->njobs) {
        printf("sweep %s: nothing to run: %zu runs done, %zu failed%s\n", name, dr->skipped_done, dr->skipped_failed,
               dr->skipped_failed ? " (--retry-failed reruns them)" : "");
        return dr->skipped_failed ? XO_FAILED : XO_OK;
    }
    printf("sweep %s: would run %zu runs on %d workers (%zu done, %zu failed not retried):\n", name, dr->njobs, jobs,
           dr->skipped_done, dr->skipped_failed);
    for (size_t k = 0; k < dr->njobs; k++) {
        char who[256];
        driver_describe_run(dr, dr->jobs[k].i, who, sizeof who);
        printf("  %.12s  %-11s %s  %s\n", dr->jobs[k].key, dr->jobs[k].status ? dr->jobs[k].status : "new", who,
               dr->jobs[k].dir);
    }
    return XO_OK;
}

/* Ctrl-C (or SIGTERM): once = stop launching and interrupt the runs, which
 * checkpoint and stop; twice = kill them. */
static void handle_signals(driver *dr, int *seen)
{
    int sigs = g_signals;
    if (sigs <= *seen) return;
    *seen = sigs;
    if (dr->stopping == 0) {
        dr->stopping = 1;
        for (size_t k = 0; k < dr->njobs; k++) signal_job(&dr->jobs[k], SIGINT);
        progress_event(&dr->pg, "interrupting: %zu running runs checkpoint and stop (Ctrl-C again to stop at once)",
                       dr->running);
    } else if (dr->stopping == 1) {
        dr->stopping = 2;
        for (size_t k = 0; k < dr->njobs; k++) signal_job(&dr->jobs[k], SIGKILL);
        progress_event(&dr->pg, "stopping at once");
    }
}

/* The driver's loop: reap workers, start runs, tend and balance the
 * running ones, draw progress, until every run has ended or the sweep is
 * stopped. Signals arrive through a self-pipe, which wakes the poll. */
static int drive(driver *dr, int jobs)
{
    if (pipe2(g_pipe, O_NONBLOCK | O_CLOEXEC)) return cli_error(XO_FAILED, "cannot create a pipe: %s", strerror(errno));
    g_signals = 0;
    struct sigaction sa = {0}, old_int, old_term, old_chld;
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, &old_chld);

    dr->pg.tty = cli_stderr_is_tty();
    dr->pg.t0 = xo_now();
    size_t resumes = 0;
    for (size_t k = 0; k < dr->njobs; k++) resumes += access(rundir_path(dr->jobs[k].dir, RUN_CHECKPOINT).s, F_OK) == 0;
    progress_event(&dr->pg, "sweep %s: running %zu runs on %d workers (%zu resume from checkpoints, %zu already done, "
                            "%zu failed not retried)",
                   sweep_name(sweep_plan_sweep(dr->p)), dr->njobs, jobs, resumes, dr->skipped_done, dr->skipped_failed);
    int seen_signals = 0;
    for (;;) {
        handle_signals(dr, &seen_signals);
        int ws;
        pid_t pid;
        while ((pid = waitpid(-1, &ws, WNOHANG)) > 0)
            for (size_t k = 0; k < dr->njobs; k++)
                if (dr->jobs[k].pid == pid) finish(dr, &dr->jobs[k], ws);
        if (!dr->stopping) launch_some(dr, (size_t)jobs);
        if (!dr->running && (dr->stopping || (dr->next >= dr->njobs && !dr->nwaiting && !dr->nblocked))) break;
        tend(dr);
        if (dr->o->on_ingest && !dr->db_broken) dr->o->on_ingest(dr->o->on_ingest_ctx, dr->d);
        balance(dr, jobs);
        progress_draw(&dr->pg, driver_sweep_line, driver_run_rows, dr);
        struct pollfd pfd = {g_pipe[0], POLLIN, 0};
        poll(&pfd, 1, 100);
        char drain[64];
        while (read(g_pipe[0], drain, sizeof drain) > 0) {}
    }
    progress_clear(&dr->pg);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
    close(g_pipe[0]);
    close(g_pipe[1]);
    g_pipe[0] = g_pipe[1] = -1;
    return XO_OK;
}

/* The closing line and the exit code of a sweep that ran. */
static int sweep_outcome(driver *dr)
{
    const sweep *s = sweep_plan_sweep(dr->p);
    char el[32];
    xo_duration(xo_now() - dr->pg.t0, el, sizeof el);
    size_t pending = dr->njobs - dr->next + dr->nwaiting + dr->nblocked + dr->nstuck + dr->nunstarted;
    progress_event(&dr->pg, "sweep %s: %zu done, %zu failed, %zu interrupted, %zu not started, in %s", sweep_name(s),
                   dr->ndone + dr->skipped_done, dr->nfailed + dr->skipped_failed, dr->ninterrupted, pending, el);
    if (dr->halted[0])
        return cli_error(XO_FAILED,
                         "%s (database %s). Nothing recorded is lost, no run is recorded done without all its "
                         "metrics, none failed for want of space: once there is space, `xover run %s` resumes "
                         "the %zu runs left", dr->halted, dr->o->db_path, sweep_path(s), dr->ninterrupted + pending);
    if (dr->stopping) return XO_INTERRUPTED;
    return dr->nfailed || dr->skipped_failed || dr->nstuck || dr->ninterrupted ? XO_FAILED : XO_OK;
}

int exec_run(const sweep_plan *p, const exec_options *o)
{
    driver dr = {.p = p, .o = o, .lock_fd = -1, .last_trunk = (size_t)-1};
    char err[1024];
    const sweep *s = sweep_plan_sweep(p);
    sweep_trainer_info tr = sweep_trainer(s);
    if (tr.external && tr.metrics == SWEEP_METRICS_REGEX) {
        int ec;
        PCRE2_SIZE eo;
        dr.re = pcre2_compile((PCRE2_SPTR)tr.regex, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
        if (!dr.re) return cli_error(XO_USAGE, "%s: trainer.metrics.regex does not compile", sweep_path(s));
    }
    int rc = exec_open_db(o, &dr.d);
    if (rc == XO_OK && !o->dry_run && (dr.lock_fd = guard_sweep_lock(o->db_path, sweep_name(s), err, sizeof err)) < 0)
        rc = cli_error(XO_FAILED, "%s", err);
    if (rc == XO_OK) {
        if (gethostname(dr.host, sizeof dr.host)) snprintf(dr.host, sizeof dr.host, "localhost");
        snprintf(dr.build, sizeof dr.build, "%s", xover_build_id());
        rc = prepare(&dr);
    }
    if (rc != XO_OK) {
        cleanup(&dr);
        return rc;
    }
    int jobs = o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (jobs < 1) jobs = 1;
    dr.cores = jobs;
    long long measured;
    dr.flops_per_core = dr.d ? exec_measured_speed(dr.d, &measured) : 0; /* a dry run may have no database */
    if (!(dr.flops_per_core > 0)) dr.flops_per_core = EXEC_DEFAULT_FLOPS_PER_S;
    if (o->dry_run || !dr.njobs) rc = report_without_running(&dr, jobs);
    else if ((rc = drive(&dr, jobs)) == XO_OK) rc = sweep_outcome(&dr);
    cleanup(&dr);
    return rc;
}
