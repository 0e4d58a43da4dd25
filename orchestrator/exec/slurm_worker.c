/*
 * slurm_worker.c — `xover worker`: what one Slurm array task runs, on a
 * compute node, for one run directory.
 *
 * It finds its run directory (line SLURM_ARRAY_TASK_ID+1 of the list file
 * the driver wrote next to the sbatch script), records the attempt
 * (attempt.json: job id, node, pid, start time), and runs the command of
 * DIR/worker.json — `xover train` for the built-in trainer, which resumes
 * from DIR/checkpoint when a requeued task runs again — with the local
 * driver's conventions: stdin /dev/null, stderr (and stdout, unless the
 * trainer reports metrics there) appended to DIR/log, one thread per CPU
 * Slurm gave the task. It writes nothing but its run directory: the
 * database stays on the driver's machine.
 *
 * The trainer gets Slurm's signals itself (Slurm signals every process of
 * the job step); the worker forwards SIGTERM/SIGINT in case only the batch
 * shell was signalled, and waits. A trainer killed by another signal (kill
 * -9, the OOM killer, a crash) is started again from its checkpoint, at most
 * EXEC_SIGNAL_RETRIES times, as the local driver does. Slurm's SIGUSR1 (the
 * time limit is near: sbatch --signal) stops the trainer at a checkpoint
 * and requeues the task (requeue_self), at most --max-requeues times. When the trainer
 * ends without writing a final status (an external trainer, or a crash),
 * the worker writes it from the exit status, so the driver always finds a
 * final word.
 *
 * A branch (worker.json names its trunk's directory) first waits on its
 * node until its trunk has written the checkpoint it forks from (the
 * array lists each trunk before its branches, so a trunk's task starts
 * first); it ends at once, untrained, when the trunk stopped early before
 * its fork, and "interrupted" when the trunk ended without it.
 */
#include "orchestrator/exec/internal_slurm.h"

#include "orchestrator/cli/cli.h"
#include "orchestrator/run/anneal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t g_child, g_stop, g_deadline;

static void forward(int sig)
{
    g_stop = sig;
    if (g_child > 0) kill(g_child, sig);
}

/* SIGUSR1: Slurm's warning that the time limit is near (sbatch
 * --signal=B:USR1@N, sent to this process, the batch step's). The trainer
 * is told to checkpoint and stop, as by Ctrl-C; then the task requeues
 * itself (requeue_self). */
static void on_deadline(int sig)
{
    (void)sig;
    g_deadline = 1;
    g_stop = SIGUSR1;
    if (g_child > 0) kill(g_child, SIGINT);
}

/* This task's id for scontrol ("1234_5"), into buf ("" outside Slurm). */
static void task_id(char *buf, size_t n)
{
    const char *aj = getenv("SLURM_ARRAY_JOB_ID"), *at = getenv("SLURM_ARRAY_TASK_ID");
    const char *jid = getenv("SLURM_JOB_ID");
    if (aj && at) snprintf(buf, n, "%s_%s", aj, at);
    else snprintf(buf, n, "%s", jid ? jid : "");
}

/* The time limit is near and the trainer has stopped at a checkpoint: put
 * the task back in the queue (`scontrol requeue`, as submitit does), at
 * most max_requeues restarts in all, so that it resumes there. The run's
 * status says which; the follower waits for the requeued task. */
static int requeue_self(const char *dir, int code, int max_requeues)
{
    char word[32], reason[512], why[1024], job[96];
    rundir_status(dir, word, sizeof word, reason, sizeof reason);
    if (!strcmp(word, "done") || !strcmp(word, "failed")) return code; /* it ended anyway */
    const char *rs = getenv("SLURM_RESTART_COUNT");
    long restarts = rs ? atol(rs) : 0;
    task_id(job, sizeof job);
    if (!*job || restarts >= max_requeues) {
        snprintf(why, sizeof why, "stopped at a checkpoint before the Slurm time limit; not requeued: %ld restarts "
                                  "already (--max-requeues %d); `xover run` resubmits it", restarts, max_requeues);
        rundir_set_status(dir, "interrupted", why);
        return XO_INTERRUPTED;
    }
    snprintf(why, sizeof why, "checkpointed before the Slurm time limit; requeued (restart %ld of %d)", restarts + 1,
             max_requeues);
    rundir_set_status(dir, "interrupted", why);
    char *argv[] = {"scontrol", "requeue", job, NULL}, *etext = NULL, err[256];
    int st = 0;
    if (sl_capture(argv, NULL, &etext, &st, err, sizeof err) || st != 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", etext && *etext ? etext : err);
        msg[strcspn(msg, "\n")] = 0;
        snprintf(why, sizeof why, "stopped at a checkpoint before the Slurm time limit; `scontrol requeue %s` "
                                  "failed: %s; `xover run` resubmits it", job, msg);
        rundir_set_status(dir, "interrupted", why);
    }
    free(etext);
    fprintf(stderr, "xover worker: %s\n", why);
    return XO_INTERRUPTED;
}

/* How often a branch looks for its fork checkpoint. */
#define FORK_POLL_SECONDS 2

/* Wait until branch `key` in dir may start: 0 to train it, 1 when it is
 * settled without training (its final status written). */
static int wait_for_fork(const char *dir, const char *trunk, const char *key)
{
    char own[4200];
    snprintf(own, sizeof own, "%s/checkpoint", dir);
    if (access(own, F_OK) == 0) return 0; /* started before: it resumes its own */
    int said = 0;
    for (;;) {
        char word[32], why[512];
        long long fork_step, stopped_at;
        rundir_status(trunk, word, sizeof word, why, sizeof why);
        int live = !strcmp(word, "pending") || !strcmp(word, "running") || !*word;
        int st = anneal_fork_state(trunk, key, live, &fork_step, &stopped_at);
        if (st == ANNEAL_FORK_READY) return 0;
        if (st == ANNEAL_FORK_NOT_NEEDED) {
            snprintf(why, sizeof why, "not trained: its trunk stopped early at step %lld (train.early_stop_margin), "
                                      "before this branch's fork at step %lld", stopped_at, fork_step);
            rundir_set_status(dir, "done", why);
            return 1;
        }
        if (st == ANNEAL_FORK_MISSING || g_stop) {
            snprintf(why, sizeof why, g_stop ? "stopped while waiting for its trunk's fork checkpoint"
                                             : "its trunk ended (%s) before writing the fork checkpoint; "
                                               "`xover run` again submits both", word);
            rundir_set_status(dir, "interrupted", why);
            return 1;
        }
        if (!said) {
            fprintf(stderr, "xover worker: waiting for the fork checkpoint of trunk %s\n", trunk);
            said = 1;
        }
        sleep(FORK_POLL_SECONDS);
    }
}

/* Line `index` (0-based) of the list file, without its newline. */
static char *list_line(const char *list, long index, char *err, size_t errlen)
{
    char *text = xo_read_file(list, NULL);
    if (!text) {
        snprintf(err, errlen, "cannot read the run list %s: %s", list, strerror(errno));
        return NULL;
    }
    char *p = text;
    for (long k = 0; k < index && p; k++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (!p || !*p) {
        snprintf(err, errlen, "%s has no line %ld (task index out of range)", list, index + 1);
        free(text);
        return NULL;
    }
    char *line = strndup(p, strcspn(p, "\n"));
    free(text);
    if (!line) snprintf(err, errlen, "out of memory");
    return line;
}

/* attempt.json for a new attempt: a new start time, which the follower
 * counts as one more attempt. `retry` > 0 for the worker's own retries
 * after a kill, with why in `retry_why` (the follower announces it). */
static int record_attempt(const char *dir, int retry, const char *retry_why, const char *requeue_why, char *err,
                          size_t errlen)
{
    char host[256];
    if (gethostname(host, sizeof host)) snprintf(host, sizeof host, "unknown");
    const char *aj = getenv("SLURM_ARRAY_JOB_ID"), *at = getenv("SLURM_ARRAY_TASK_ID");
    const char *jid = getenv("SLURM_JOB_ID"), *rs = getenv("SLURM_RESTART_COUNT");
    char job[96] = "";
    if (aj && at) snprintf(job, sizeof job, "%s_%s", aj, at);
    else if (jid) snprintf(job, sizeof job, "%s", jid);
    /* Every start of this worker's trainer, oldest first: a follower that
     * was away counts the attempts it did not see (slurm_follow.c). */
    static double starts[EXEC_SIGNAL_RETRIES + 1];
    static int nstarts;
    double now = xo_now();
    if (nstarts < EXEC_SIGNAL_RETRIES + 1) starts[nstarts++] = now;
    json_t *o = json_pack("{s:s, s:s, s:I, s:f, s:I, s:i, s:[]}", "job_id", job, "host", host, "pid",
                          (json_int_t)getpid(), "started", now, "restarts", (json_int_t)(rs ? atoll(rs) : 0), "retry",
                          retry, "starts");
    for (int k = 0; o && k < nstarts; k++) json_array_append_new(json_object_get(o, "starts"), json_real(starts[k]));
    if (o && retry_why) json_object_set_new(o, "retry_why", json_string(retry_why));
    if (o && requeue_why) json_object_set_new(o, "requeue_why", json_string(requeue_why));
    char *text = o ? json_dumps(o, JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = rundir_write(rundir_path(dir, RUN_ATTEMPT).s, text, strlen(text), err, errlen);
    free(text);
    return rc;
}

/* Start the trainer (argv) on run dir with the local driver's conventions
 * and wait for it. Returns its wait status in *ws and its exit code (128 +
 * signal when killed; -1 when it could not be started). */
static int run_trainer(const char *dir, char **argv, const char *out_path, const char *key, int *ws)
{
    char err[PATH_MAX + 1024];
    /* A thread per CPU of the task: the built-in trainer's own threads
     * (XOVER_THREADS, its --threads default), and an external trainer's
     * BLAS threads (set before it starts: OpenBLAS reads it once, when it
     * loads). */
    const char *cpus = getenv("SLURM_CPUS_PER_TASK");
    setenv("OPENBLAS_NUM_THREADS", cpus && atoi(cpus) > 0 ? cpus : "1", 1);
    setenv("XOVER_THREADS", cpus && atoi(cpus) > 0 ? cpus : "1", 1);
    setenv("XOVER_RUN_DIR", dir, 1);
    if (key) setenv("XOVER_RUN_KEY", key, 1);
    run_path logp = rundir_path(dir, RUN_LOG);

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, sizeof err, "cannot start the trainer: %s", strerror(errno));
        rundir_set_status(dir, "failed", err);
        cli_error(XO_FAILED, "%s", err);
        return -1;
    }
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        int in = open("/dev/null", O_RDONLY);
        int lg = open(logp.s, O_WRONLY | O_CREAT | O_APPEND, 0666);
        /* Appended, not truncated: a resumed attempt's lines follow the
         * last one's, so no point the driver has not read yet is lost
         * (points are keyed by step: a repeated one changes nothing). */
        int out = out_path ? open(out_path, O_RDWR | O_CREAT | O_APPEND, 0666) : lg;
        if (in < 0 || lg < 0 || out < 0) _exit(127);
        /* A line torn by a killed attempt is ended, so it does not swallow
         * this attempt's first line. */
        char last = '\n';
        off_t end = out_path ? lseek(out, 0, SEEK_END) : 0;
        if (end > 0 && pread(out, &last, 1, end - 1) == 1 && last != '\n' && write(out, "\n", 1) != 1) _exit(127);
        dup2(in, 0);
        dup2(out, 1);
        dup2(lg, 2);
        execvp(argv[0], argv);
        dprintf(2, "xover worker: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    g_child = pid;
    while (waitpid(pid, ws, 0) < 0 && errno == EINTR) {}
    g_child = 0;
    return WIFEXITED(*ws) ? WEXITSTATUS(*ws) : 128 + WTERMSIG(*ws);
}

/* Make sure the status file has a final word: the trainer's own stands;
 * otherwise say what its wait status ws means. */
static void settle_status(const char *dir, int ws, int code)
{
    char word[32], reason[512];
    rundir_status(dir, word, sizeof word, reason, sizeof reason);
    if (!strcmp(word, "done") || !strcmp(word, "failed") || !strcmp(word, "interrupted")) return;
    run_path logp = rundir_path(dir, RUN_LOG);
    char *last = rundir_last_line(logp.s);
    if (WIFEXITED(ws) && code == 0) {
        rundir_set_status(dir, "done", NULL);
    } else if (WIFSIGNALED(ws) && (WTERMSIG(ws) == SIGTERM || WTERMSIG(ws) == SIGINT)) {
        snprintf(reason, sizeof reason, "stopped by signal %d (%s)", WTERMSIG(ws), strsignal(WTERMSIG(ws)));
        rundir_set_status(dir, "interrupted", reason);
    } else if (g_stop && code == XO_INTERRUPTED) {
        /* told to stop (Slurm's signal, forwarded), it stopped: exit 130 */
        snprintf(reason, sizeof reason, "stopped by signal %d (%s)", (int)g_stop, strsignal(g_stop));
        rundir_set_status(dir, "interrupted", reason);
    } else {
        if (WIFSIGNALED(ws))
            snprintf(reason, sizeof reason, "killed by signal %d (%s)%s%.300s", WTERMSIG(ws), strsignal(WTERMSIG(ws)),
                     last ? ": " : "", last ? last : "");
        else snprintf(reason, sizeof reason, "exit code %d%s%.300s", code, last ? ": " : "", last ? last : "");
        rundir_set_status(dir, "failed", reason);
    }
    free(last);
}

/* Train, retrying a trainer killed by a signal other than the scheduler's
 * stop (SIGTERM, SIGINT) from its checkpoint, at most EXEC_SIGNAL_RETRIES
 * times: the local driver's policy (the OOM killer, kill -9, a crash).
 * Each retry is a new attempt (attempt.json), announced in the log and by
 * the follower. Returns the last trainer's exit code. */
static int train_with_retries(const char *dir, char **argv, const char *out_path, const char *key)
{
    for (int retry = 0;; retry++) {
        int ws = 0, code = run_trainer(dir, argv, out_path, key, &ws);
        if (code < 0) return XO_FAILED;
        char word[32], reason[512];
        rundir_status(dir, word, sizeof word, reason, sizeof reason);
        int final = !strcmp(word, "done") || !strcmp(word, "failed") || !strcmp(word, "interrupted");
        int sig = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
        if (final || g_stop || !sig || sig == SIGTERM || sig == SIGINT || retry >= EXEC_SIGNAL_RETRIES) {
            settle_status(dir, ws, code);
            return code;
        }
        char why[300], err[PATH_MAX + 1024];
        snprintf(why, sizeof why, "killed by signal %d (%s); retry %d of %d from its checkpoint", sig, strsignal(sig),
                 retry + 1, EXEC_SIGNAL_RETRIES);
        int lg = open(rundir_path(dir, RUN_LOG).s, O_WRONLY | O_CREAT | O_APPEND, 0666);
        if (lg >= 0) {
            dprintf(lg, "xover worker: %s\n", why);
            close(lg);
        }
        fprintf(stderr, "xover worker: retrying %s: %s\n", key ? key : dir, why);
        if (record_attempt(dir, retry + 1, why, NULL, err, sizeof err)) cli_warn("%s", err);
        rundir_set_status(dir, "running", NULL);
    }
}

/* Run the command of worker.json in dir and wait for it (a branch first
 * waits for its fork: wait_for_fork). Returns the worker's exit code. */
static int run_dir(const char *dir, int max_requeues)
{
    char err[PATH_MAX + 1024];
    run_path path = rundir_path(dir, RUN_WORKER);
    json_error_t je;
    json_t *w = json_load_file(path.s, 0, &je);
    json_t *argv_j = w ? json_object_get(w, "argv") : NULL;
    if (!json_is_array(argv_j) || !json_array_size(argv_j)) {
        snprintf(err, sizeof err, "%s: %s", path.s, w ? "no \"argv\" array" : je.text);
        json_decref(w);
        rundir_set_status(dir, "failed", err);
        return cli_error(XO_USAGE, "%s", err);
    }
    size_t argc = json_array_size(argv_j);
    char **argv = calloc(argc + 1, sizeof *argv);
    if (!argv) {
        json_decref(w);
        return cli_error(XO_FAILED, "out of memory");
    }
    for (size_t k = 0; k < argc; k++) argv[k] = (char *)json_string_value(json_array_get(argv_j, k));
    for (size_t k = 0; k < argc; k++)
        if (!argv[k]) {
            snprintf(err, sizeof err, "%s: argv[%zu] is not a string", path.s, k);
            free(argv);
            json_decref(w);
            rundir_set_status(dir, "failed", err);
            return cli_error(XO_USAGE, "%s", err);
        }
    const char *key = json_string_value(json_object_get(w, "key"));
    const char *trunk = json_string_value(json_object_get(w, "trunk"));

    /* The run's lock, held while this worker lives: no other worker (of
     * this array after a requeue, or a local driver's) runs it meanwhile. */
    int lock_fd = rundir_lock(dir, err, sizeof err);
    if (lock_fd < 0) {
        /* said before w goes: key points into it */
        int rc = cli_error(XO_FAILED, "worker: run %s not started: %s", key ? key : dir, err);
        free(argv);
        json_decref(w);
        return rc;
    }
    /* A requeued task says why it was requeued: the last attempt's word. */
    char word[32], last_why[512];
    rundir_status(dir, word, sizeof word, last_why, sizeof last_why);
    const char *rs = getenv("SLURM_RESTART_COUNT");
    int requeued = rs && atol(rs) > 0 && !strcmp(word, "interrupted") && *last_why;
    if (record_attempt(dir, 0, NULL, requeued ? last_why : NULL, err, sizeof err)) cli_warn("%s", err);
    /* This attempt's word replaces the last one's (an external trainer
     * writes none of its own). */
    rundir_set_status(dir, "running", NULL);
    struct sigaction sa = {0}, old_int, old_term, old_usr1;
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sa.sa_handler = on_deadline;
    sigaction(SIGUSR1, &sa, &old_usr1);
    int code;
    if (trunk && key && wait_for_fork(dir, trunk, key)) code = g_stop ? XO_INTERRUPTED : XO_OK;
    else code = train_with_retries(dir, argv, json_string_value(json_object_get(w, "stdout")), key);
    if (g_deadline) code = requeue_self(dir, code, max_requeues);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
    xo_unlock(lock_fd);
    free(argv);
    json_decref(w);
    return code;
}

int exec_worker(const char *dir, const char *list, long index, int max_requeues)
{
    char err[1024];
    char *line = NULL;
    if (!dir) {
        if (index < 0) {
            const char *t = getenv("SLURM_ARRAY_TASK_ID");
            char *end;
            index = t ? strtol(t, &end, 10) : -1;
            if (!t || *end || index < 0)
                return cli_error(XO_USAGE, "worker: no --index and no SLURM_ARRAY_TASK_ID (is this a Slurm array task?)");
        }
        line = list_line(list, index, err, sizeof err);
        if (!line) return cli_error(XO_USAGE, "worker: %s", err);
        dir = line;
    }
    int rc = run_dir(dir, max_requeues);
    free(line);
    return rc;
}
