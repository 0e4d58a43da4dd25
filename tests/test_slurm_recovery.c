/*
 * test_slurm_recovery.c — the Slurm backend when things go wrong (issue 20),
 * against the real single-node test cluster (tests/slurm_helpers.h):
 *
 *   - the defects: a worker finding its directory in use names its run; a
 *     trainer killed inside a task is retried from its checkpoint; a driver
 *     killed between sbatch and recording the job ids leaves an array the
 *     next command adopts; a local run leaves runs queued in Slurm alone;
 *   - a task at its time limit checkpoints and requeues itself;
 *   - cancel while a follower runs; status; --write-script;
 *   - the kill series: kill -9 of the driver at random moments, the fault
 *     table through array tasks, a second driver refused.
 */
#include "tests/slurm_helpers.h"
#include "tests/reliability.h"
#include "orchestrator/run/run.h"
#include "orchestrator/util/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- issue 20: the defects ---------------------------------------------------- */

/* A worker that finds its run directory in use names the run by its key
 * (it printed freed memory: the key pointed into worker.json's parsed
 * text, released before the message). No cluster needed. */
TEST(slurm_worker_finding_its_directory_in_use_names_the_run_key)
{
    char dir[512], wj[600], text[1200];
    const char *key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    harness_path(dir, sizeof dir, key);
    CHECK(mkdir(dir, 0777) == 0);
    snprintf(wj, sizeof wj, "%s/worker.json", dir);
    snprintf(text, sizeof text, "{\"key\": \"%s\", \"argv\": [\"true\"], \"metrics\": \"%s/metrics.jsonl\"}", key, dir);
    harness_write(wj, text);
    char err[512];
    int fd = rundir_lock(dir, err, sizeof err);
    CHECK(fd >= 0);
    const char *argv[] = {harness_xover(), "worker", dir, NULL};
    harness_proc r = harness_run(argv, NULL);
    xo_unlock(fd);
    int st = r.status;
    char expect[200];
    snprintf(expect, sizeof expect, "worker: run %s not started: ", key);
    int named = strstr(r.err, expect) != NULL;
    if (!named) fprintf(stderr, "    worker said: %s\n", r.err);
    harness_proc_free(&r);
    CHECK_INT(st, 1);
    CHECK(named);
}

/* A one-run sweep of the built-in trainer (the smoke sweep's first run). */
static void write_one_run(const char *path, const char *name)
{
    char *text = harness_slurp("experiments/smoke.yaml", NULL);
    char sw[64];
    snprintf(sw, sizeof sw, "sweep: %s", name);
    text = replace(text, "sweep: smoke", sw);
    text = replace(text, "objective: [ar, mdm]", "objective: [ar]");
    text = replace(text, "unique_tokens: [4k, 8k]", "unique_tokens: [4k]");
    harness_write(path, text ? text : "");
    free(text);
}

/* kill -9 of `xover train` inside a task: the worker retries it from its
 * checkpoint, as the local driver does (it was failed at once). */
static void trainer_killed_in_a_task(void)
{
    paths();
    char sweep[512];
    harness_path(sweep, sizeof sweep, "one.yaml");
    write_one_run(sweep, "one");
    setenv("XOVER_FAULT", "kill@step:120", 1); /* reaches the task: sbatch exports the environment */
    const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs, NULL};
    harness_proc r = harness_run(sv, NULL);
    unsetenv("XOVER_FAULT");
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, ": killed by signal 9 (Killed); retry 1 of 2 from its checkpoint");
    CHECK_CONTAINS(r.err, "sweep one: 1 done, 0 failed, 0 interrupted");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done' AND attempts = 2"), 1);
    const char *lg[] = {"/bin/sh", "-c", "grep -c 'resuming from step' \"$0\"/one/*/log", g_runs, NULL};
    harness_proc c = harness_run(lg, NULL);
    CHECK_STR(c.out, "1\n");
    harness_proc_free(&c);
    CHECK(same_as_local(sweep));
}

TEST(slurm_trainer_killed_in_a_task_is_retried_from_its_checkpoint)
{
    WITH_SLURM(trainer_killed_in_a_task);
}

/* PATH with an sbatch that submits (the real one), prints the job id,
 * then kills its caller with SIGKILL: the driver dies between sbatch
 * returning and the job ids being recorded. Returns the old PATH. */
static char *sbatch_then_kill(void)
{
    char bin[512], sb[600];
    harness_path(bin, sizeof bin, "killbin");
    mkdir(bin, 0777);
    snprintf(sb, sizeof sb, "%s/sbatch", bin);
    harness_write(sb, "#!/bin/sh\n"
                      "PATH=$(echo \"$PATH\" | cut -d: -f2-)\n"
                      "out=$(sbatch \"$@\"); rc=$?\n"
                      "printf '%s\\n' \"$out\"\n"
                      "kill -KILL $PPID\n"
                      "exit $rc\n");
    chmod(sb, 0755);
    const char *old = getenv("PATH");
    char *saved = strdup(old ? old : "/usr/bin:/bin");
    char *np = malloc(strlen(bin) + strlen(saved) + 2);
    sprintf(np, "%s:%s", bin, saved);
    setenv("PATH", np, 1);
    free(np);
    return saved;
}

/* kill -9 of the driver between sbatch and the job ids being saved: the
 * next `xover run` adopts the array (by its name and the token in its
 * comment) instead of submitting a second one; `xover cancel` sees it. */
static void killed_during_submission(void)
{
    paths();
    char sweep[512], text[1024];
    /* 1. the next `xover run` adopts and follows it */
    harness_path(sweep, sizeof sweep, "orphan.yaml");
    snprintf(text, sizeof text,
             "sweep: orphan\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\ngrid: {objective: ar, lr: [1e-3, 2e-3]}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '20', '{lr}', --sleep, '0.1']}\n", helper_fake_trainer());
    harness_write(sweep, text);
    const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs, NULL};
    char *path = sbatch_then_kill();
    harness_proc r = harness_run(sv, NULL);
    setenv("PATH", path, 1);
    free(path);
    CHECK_INT(r.status, 128 + 9);
    harness_proc_free(&r);
    CHECK_INT(arrays_named("orphan"), 1);
    r = harness_run(sv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "adopted Slurm job array");
    CHECK(strstr(r.err, "submitted 2 runs") == NULL);
    CHECK_CONTAINS(r.err, "sweep orphan: 2 done, 0 failed, 0 interrupted");
    harness_proc_free(&r);
    CHECK_INT(arrays_named("orphan"), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done' AND attempts = 1 AND "
                                "job_id GLOB '[0-9]*_[01]'"), 2);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics WHERE name = 'train_loss'"), 40);

    /* 2. `xover cancel` adopts a held array and cancels it */
    char sweep2[512];
    harness_path(sweep2, sizeof sweep2, "held.yaml");
    char *held = replace(replace(strdup(text), "sweep: orphan", "sweep: held"), "[1e-3, 2e-3]", "[3e-3, 4e-3]");
    harness_write(sweep2, held ? held : "");
    free(held);
    const char *hv[] = {harness_xover(), "run", sweep2, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--sbatch-arg=--hold", NULL};
    path = sbatch_then_kill();
    r = harness_run(hv, NULL);
    setenv("PATH", path, 1);
    free(path);
    CHECK_INT(r.status, 128 + 9);
    harness_proc_free(&r);
    const char *xv[] = {harness_xover(), "cancel", "held", "--db", g_db, NULL};
    r = harness_run(xv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "adopted Slurm job array");
    CHECK_CONTAINS(r.err, "cancelled job");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs r JOIN sweep_runs sr ON sr.run_id = r.id JOIN sweeps s ON "
                                "s.id = sr.sweep_id WHERE s.name = 'held' AND r.status = 'pending' AND "
                                "r.error LIKE '%cancelled before it started%'"), 2);
}

TEST(slurm_driver_killed_during_submission_adopts_its_array)
{
    WITH_SLURM(killed_during_submission);
}

/* A local `xover run` leaves runs queued in Slurm to it; --take-over
 * cancels their tasks and trains them here, and the database says so
 * (no job id, this host). */
static void local_run_meets_slurm(void)
{
    paths();
    char sweep[512], text[1024];
    harness_path(sweep, sizeof sweep, "both.yaml");
    snprintf(text, sizeof text,
             "sweep: both\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\ngrid: {objective: ar, lr: [1e-3, 2e-3]}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '30', '{lr}', --sleep, '0.05']}\n", helper_fake_trainer());
    harness_write(sweep, text);
    /* held: queued in Slurm for as long as the test wants */
    const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--no-wait", "--sbatch-arg=--hold", NULL};
    harness_proc r = harness_run(sv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    const char *lv[] = {harness_xover(), "run", sweep, "--db", g_db, "--runs-dir", g_runs, NULL};
    r = harness_run(lv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "runs are queued or running in Slurm");
    CHECK_CONTAINS(r.err, "--take-over");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE job_id GLOB '[0-9]*_[01]' AND status <> 'done'"), 2);

    const char *tv[] = {harness_xover(), "run", sweep, "--db", g_db, "--runs-dir", g_runs, "--take-over", NULL};
    r = harness_run(tv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "--take-over: cancelling the Slurm tasks of 2 runs");
    harness_proc_free(&r);
    char host[256], sql[600];
    gethostname(host, sizeof host);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE status = 'done' AND job_id IS NULL AND host = '%s'", host);
    CHECK_INT(helper_qint(g_db, sql), 2);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics WHERE name = 'train_loss'"), 60);
}

TEST(slurm_local_run_leaves_runs_queued_in_slurm_unless_taking_over)
{
    WITH_SLURM(local_run_meets_slurm);
}

/* ---- issue 20: requeue ------------------------------------------------------------ */

/* A run longer than its task's time limit (--time 1: a minute; 50 steps of
 * 1 s): warned by SIGUSR1 before the limit, the worker stops the trainer at
 * a checkpoint and requeues its task, which resumes there, until the run is
 * done; the follower says so. Every step once, with the values of an
 * uninterrupted run. */
static void requeued_at_the_time_limit(void)
{
    paths();
    char sweep[512], text[1024];
    harness_path(sweep, sizeof sweep, "limit.yaml");
    snprintf(text, sizeof text,
             "sweep: limit\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\ngrid: {objective: ar, lr: 1e-3}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '50', '{lr}', --sleep, '1']}\n", helper_fake_trainer());
    harness_write(sweep, text);
    const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--time", "1", NULL};
    harness_proc r = harness_run(sv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "requeued ");
    CHECK_CONTAINS(r.err, "restart 1 by Slurm (checkpointed before the Slurm time limit; requeued (restart 1 of 3))");
    CHECK_CONTAINS(r.err, "sweep limit: 1 done, 0 failed, 0 interrupted");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done' AND attempts >= 2"), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics WHERE name = 'train_loss' AND "
                                "abs(value - 10.0 / (1 + 1e-3 * 1000 * step)) < 1e-12"), 50);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics WHERE name = 'train_loss'"), 50);
    const char *ls[] = {"/bin/sh", "-c", "cat \"$0\"/limit/slurm/array-*.sh", g_runs, NULL};
    harness_proc c = harness_run(ls, NULL);
    CHECK_CONTAINS(c.out, "'--signal=B:USR1@15'");
    CHECK_CONTAINS(c.out, " --max-requeues 3\n");
    harness_proc_free(&c);
}

TEST(slurm_task_at_its_time_limit_checkpoints_and_requeues_itself)
{
    WITH_SLURM(requeued_at_the_time_limit);
}

/* ---- issue 20: day to day ----------------------------------------------------- */

/* `xover cancel` while `xover run --backend slurm` follows the sweep (it
 * refused on the sweep lock): the tasks stop, the follower records how
 * they ended, with no stale "(Resources)" reason. `xover status` shows the
 * queued run apart from the running one, with their job ids. */
static void cancel_while_following(void)
{
    paths();
    char sweep[512], text[1024], log[512];
    harness_path(sweep, sizeof sweep, "follow.yaml");
    harness_path(log, sizeof log, "follower.log");
    snprintf(text, sizeof text,
             "sweep: follow\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\ngrid: {objective: ar, lr: [1e-3, 2e-3]}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '300', '{lr}', --sleep, '0.1']}\n", helper_fake_trainer());
    harness_write(sweep, text);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        f = freopen("/dev/null", "w", stdout);
        (void)f;
        execl(harness_xover(), harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
              "--array-parallelism", "1", (char *)NULL);
        _exit(127);
    }
    CHECK(pid > 0);
    int running = 0;
    for (int i = 0; i < 200 && !running; i++) {
        sleep_s(0.3);
        running = access(g_db, F_OK) == 0 &&
                  helper_qint(g_db, "SELECT count(*) FROM runs r WHERE status = 'running' AND "
                                    "(SELECT max(step) FROM metrics WHERE run_id = r.id) >= 3") == 1;
    }
    CHECK(running);
    const char *st[] = {harness_xover(), "status", "follow", "--db", g_db, NULL};
    harness_proc r = harness_run(st, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "1 running,");
    CHECK_CONTAINS(r.out, "1 pending (1 queued in Slurm)");
    CHECK_CONTAINS(r.out, " queued ");
    CHECK_CONTAINS(r.out, "_0 ");
    CHECK_CONTAINS(r.out, "_1 ");
    harness_proc_free(&r);

    const char *xv[] = {harness_xover(), "cancel", "follow", "--db", g_db, NULL};
    r = harness_run(xv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    int cst = r.status;
    CHECK_CONTAINS(r.err, "cancelled job");
    CHECK_CONTAINS(r.err, "its follower records how the runs ended");
    harness_proc_free(&r);
    int ws = 0;
    waitpid(pid, &ws, 0);
    CHECK_INT(cst, 0);
    CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 1); /* runs left interrupted and pending */
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'interrupted' AND error LIKE '%slurm: CANCELLED%'"), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'pending' AND "
                                "error LIKE '%cancelled before it started%'"), 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE error LIKE '%Resources%'"), 0);
}

TEST(slurm_cancel_while_a_follower_runs_stops_the_tasks_and_it_records_them)
{
    WITH_SLURM(cancel_while_following);
}

/* --write-script DIR: the script (its options as #SBATCH lines) and run
 * list, nothing submitted; `sbatch SCRIPT` by hand, and `xover collect`
 * adopts the array by its comment. */
static void write_script_then_sbatch(void)
{
    paths();
    char sweep[512], text[1024], dir[512];
    harness_path(sweep, sizeof sweep, "byhand.yaml");
    harness_path(dir, sizeof dir, "scripts");
    snprintf(text, sizeof text,
             "sweep: byhand\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\ngrid: {objective: ar, lr: [5e-3, 6e-3]}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '20', '{lr}', --sleep, '0.05']}\n", helper_fake_trainer());
    harness_write(sweep, text);
    const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
                        "--write-script", dir, NULL};
    harness_proc r = harness_run(sv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "wrote the job script of 2 runs, not submitted");
    harness_proc_free(&r);
    CHECK_INT(arrays_named("byhand"), 0);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cat %s/array-*.sh", dir);
    const char *cv[] = {"/bin/sh", "-c", cmd, NULL};
    r = harness_run(cv, NULL);
    CHECK_CONTAINS(r.out, "#SBATCH --array=0-1\n");
    CHECK_CONTAINS(r.out, "#SBATCH --comment=xover:");
    harness_proc_free(&r);
    snprintf(cmd, sizeof cmd, "sbatch %s/array-*.sh", dir);
    r = harness_run(cv, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    const char *wv[] = {harness_xover(), "collect", "byhand", "--wait", "--db", g_db, NULL};
    r = harness_run(wv, NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "adopted Slurm job array");
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done' AND job_id GLOB '[0-9]*_[01]'"), 2);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics WHERE name = 'train_loss'"), 40);
}

TEST(slurm_write_script_then_sbatch_by_hand_is_adopted)
{
    WITH_SLURM(write_script_then_sbatch);
}

/* ---- the kill series ----------------------------------------------------------- */

/* Start `xover run --backend slurm` (following) in the background, its
 * stderr appended to log. */
static pid_t spawn_slurm_run(const char *sweep, const char *log, const char *extra)
{
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        f = freopen("/dev/null", "w", stdout);
        (void)f;
        execl(harness_xover(), harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs,
              "--array-parallelism", "2", extra, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Every task Slurm ever ran for sweep `name` (squeue keeps ended ones for
 * MinJobAge = 600 s in the test cluster). */
static long long tasks_named(const char *name)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "squeue -h -r -t all -n xover-%s -o %%i | sort -u | wc -l", name);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    harness_proc p = harness_run(argv, NULL);
    long long n = atoll(p.out);
    harness_proc_free(&p);
    return n;
}

/* Sweep `kN` (N = t): two fake-trainer runs of 40 steps of 0.05 s, new
 * runs for each trial. Its file into sweep. */
static void kill_sweep(char *sweep, size_t n, long t)
{
    char text[1024], file[64];
    snprintf(file, sizeof file, "k%ld.yaml", t);
    harness_path(sweep, n, file);
    snprintf(text, sizeof text,
             "sweep: k%ld\nmodels: {xs: {layers: 1, dim: 16, heads: 2}}\n"
             "grid: {objective: ar, lr: [%ld.0e-4, %ld.5e-4]}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '40', '{lr}', --sleep, '0.05']}\n",
             t, 10 + t, 10 + t, helper_fake_trainer());
    harness_write(sweep, text);
}

/* kill -9 of the submitting and following driver at seeded random moments
 * (every other one 1 to 200 ms after its start, the others 5 to 605 ms:
 * when it registers, submits or follows; XOVER_SLURM_KILL_TRIALS, default 6 in
 * `make test`, 20 by hand: docs/reliability.md). Each trial submits a sweep
 * of its own, so every kill may land before, during or after a submission;
 * while the earlier sweeps' tasks run on. First, a second driver is refused
 * while one follows. Then `xover run` of each sweep to its end. In the end:
 * every run done once (one task, one attempt: no array submitted twice, no
 * orphan), no submission left unresolved, every metric point equal to the
 * local backend's, the database intact. */
static void driver_kill_series(void)
{
    paths();
    long trials = rel_env_long("XOVER_SLURM_KILL_TRIALS", 6);
    uint64_t rng = (uint64_t)rel_env_long("XOVER_KILL_SEED", 1) ^ 0x51a7;
    char sweep[512], log[512];
    harness_path(log, sizeof log, "drivers.log");

    /* a second driver is refused while one follows (sweep k0's first driver,
     * which then is the first kill) */
    kill_sweep(sweep, sizeof sweep, 0);
    pid_t first = spawn_slurm_run(sweep, log, NULL);
    CHECK(first > 0);
    int seen = 0;
    for (int i = 0; i < 300 && !seen; i++) {
        rel_sleep_ms(50);
        seen = rel_count_lines(log, "following ") > 0;
    }
    const char *sv2[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs, NULL};
    harness_proc r = harness_run(sv2, NULL);
    int second = r.status, refused = strstr(r.err, "is already being run on") != NULL;
    if (!refused) fprintf(stderr, "%s", r.err);
    harness_proc_free(&r);
    kill(first, SIGKILL);
    waitpid(first, NULL, 0);
    CHECK(seen);
    CHECK_INT(second, 1);
    CHECK(refused);

    int in_submission = 0, following = 0, before = 0;
    for (long t = 1; t <= trials; t++) {
        kill_sweep(sweep, sizeof sweep, t);
        pid_t pid = spawn_slurm_run(sweep, log, NULL);
        CHECK(pid > 0);
        /* every other kill early: xover registers and submits within ~0.2 s */
        long delay = t % 2 ? 1 + (long)(rel_rand(&rng) % 200) : 5 + (long)(rel_rand(&rng) % 600);
        rel_sleep_ms(delay);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        /* where it died: before its submission, between recording the
         * intent and the ids, or after (following) */
        char sql[300];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM runs r JOIN sweep_runs sr ON sr.run_id = r.id JOIN sweeps s "
                                  "ON s.id = sr.sweep_id WHERE s.name = 'k%ld' AND r.job_id LIKE 'submitting:%%'", t);
        long long tok = access(g_db, F_OK) ? 0 : helper_qint(g_db, sql);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM runs r JOIN sweep_runs sr ON sr.run_id = r.id JOIN sweeps s "
                                  "ON s.id = sr.sweep_id WHERE s.name = 'k%ld' AND r.job_id GLOB '[0-9]*'", t);
        long long ids = access(g_db, F_OK) ? 0 : helper_qint(g_db, sql);
        if (tok) in_submission++;
        else if (ids) following++;
        else before++;
        if (getenv("XOVER_SLURM_KILL_VERBOSE"))
            fprintf(stderr, "    trial %ld: killed after %ld ms: %s\n", t, delay,
                    tok ? "between the intent and the ids" : ids ? "following" : "before submitting");
    }
    fprintf(stderr, "    slurm driver kill: %ld trials: %d before submitting, %d between recording the intent and "
                    "the job ids, %d while following; seed %ld\n", trials + 1, before, in_submission, following + 1,
            rel_env_long("XOVER_KILL_SEED", 1));

    /* every sweep to its end; the local backend alongside, for the numbers */
    char local_db[512], local_runs[512], name[32];
    harness_path(local_db, sizeof local_db, "local.db");
    harness_path(local_runs, sizeof local_runs, "local-runs");
    long long tasks = 0;
    for (long t = 0; t <= trials; t++) {
        kill_sweep(sweep, sizeof sweep, t);
        const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs, NULL};
        r = harness_run(sv, NULL);
        if (r.status) fprintf(stderr, "%s", r.err);
        CHECK_INT(r.status, 0);
        harness_proc_free(&r);
        const char *lv[] = {harness_xover(), "run", sweep, "--db", local_db, "--runs-dir", local_runs, NULL};
        r = harness_run(lv, NULL);
        CHECK_INT(r.status, 0);
        harness_proc_free(&r);
        snprintf(name, sizeof name, "k%ld", t);
        tasks += tasks_named(name);
    }
    /* 0 lost, 0 duplicated */
    long long nruns = 2 * (trials + 1);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done' AND attempts = 1 AND "
                                "job_id GLOB '[0-9]*_[0-9]*'"), nruns);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE job_id LIKE 'submitting:%'"), 0);
    if (tasks != nruns) {
        const char *qv[] = {"/bin/sh", "-c", "squeue -h -r -t all -o '%i %A %j %T' | sort", NULL};
        harness_proc q = harness_run(qv, NULL);
        fprintf(stderr, "    the tasks:\n%s", q.out);
        harness_proc_free(&q);
    }
    CHECK_INT(tasks, nruns);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics WHERE name = 'train_loss'"), 40 * nruns);
    char *ic = helper_qtext(g_db, "PRAGMA integrity_check");
    int ok = ic && !strcmp(ic, "ok \n");
    free(ic);
    CHECK(ok);
    char *a = helper_dump_metrics(local_db), *b = helper_dump_metrics(g_db);
    int same = a && b && strlen(a) > 1000 && !strcmp(a, b);
    free(a);
    free(b);
    CHECK(same);
}

TEST(slurm_driver_kill9_at_random_moments_loses_and_repeats_nothing)
{
    WITH_SLURM(driver_kill_series);
}

/* ---- the fault table through array tasks -------------------------------------- */

/* One-run sweep `name` (the smoke sweep's first run, at learning rate lr)
 * submitted with XOVER_FAULT=fault in the environment, which sbatch hands
 * to the task; into db. */
static int submit_faulty(const char *name, const char *lr, const char *fault, const char *db, char *sweep, size_t n)
{
    char file[64], lrline[64];
    snprintf(file, sizeof file, "%s.yaml", name);
    harness_path(sweep, n, file);
    write_one_run(sweep, name);
    char *text = harness_slurp(sweep, NULL);
    snprintf(lrline, sizeof lrline, "lr: %s", lr);
    text = replace(text, "lr: 3e-3", lrline);
    text = replace(text, "  eval_draws: 2\n", "  eval_draws: 2\n  checkpoint_every: 10\n");
    harness_write(sweep, text ? text : "");
    free(text);
    setenv("XOVER_FAULT", fault, 1);
    const char *sv[] = {harness_xover(), "run", sweep, "--backend", "slurm", "--db", db, "--runs-dir", g_runs,
                        "--no-wait", NULL};
    harness_proc r = harness_run(sv, NULL);
    unsetenv("XOVER_FAULT");
    if (r.status) fprintf(stderr, "%s", r.err);
    int st = r.status;
    harness_proc_free(&r);
    return st;
}

static harness_proc collect_wait(const char *name, const char *db)
{
    const char *cv[] = {harness_xover(), "collect", name, "--wait", "--db", db, NULL};
    return harness_run(cv, NULL);
}

/* XOVER_FAULT through array tasks, each ending as docs/reliability.md
 * says: a crash then a corrupt checkpoint, and a torn metrics line, are
 * retried by the worker from the checkpoint (the previous one, for the
 * corrupt) and end done; a full disk interrupts the run and `xover run`
 * resumes it; a NaN fails the run with its reason. The done runs' metrics
 * equal the local backend's without faults, bit for bit. (A hang meets
 * the task's time limit: by hand, docs/reliability.md.) */
static void faults_through_tasks(void)
{
    paths();
    char nan_db[512], s1[512], s2[512], s3[512], s4[512];
    harness_path(nan_db, sizeof nan_db, "nan.db");
    CHECK_INT(submit_faulty("fcrash", "3e-3", "crash@step:60,corrupt-checkpoint@step:150", g_db, s1, sizeof s1), 0);
    CHECK_INT(submit_faulty("ftorn", "3.1e-3", "torn-metrics@step:100", g_db, s2, sizeof s2), 0);
    CHECK_INT(submit_faulty("fspace", "3.2e-3", "enospc@step:80", g_db, s3, sizeof s3), 0);
    CHECK_INT(submit_faulty("fnan", "3.3e-3", "nan@step:50", nan_db, s4, sizeof s4), 0);

    harness_proc r = collect_wait("fcrash", g_db);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    r = collect_wait("ftorn", g_db);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    /* the worker's retries, in the runs' logs (the follower, started after
     * them, may have seen only the last attempt) */
    const char *lr[] = {"/bin/sh", "-c", "cat \"$0\"/fcrash/*/log \"$0\"/ftorn/*/log | grep 'xover worker: killed'",
                        g_runs, NULL};
    r = harness_run(lr, NULL);
    CHECK_CONTAINS(r.out, "xover worker: killed by signal 6 (Aborted); retry 1 of 2 from its checkpoint\n"
                          "xover worker: killed by signal 9 (Killed); retry 2 of 2 from its checkpoint\n"
                          "xover worker: killed by signal 9 (Killed); retry 1 of 2 from its checkpoint\n");
    harness_proc_free(&r);
    r = collect_wait("fspace", g_db);
    CHECK_INT(r.status, 1);
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'interrupted' AND "
                                "error LIKE '%No space left on device%'"), 1);
    const char *rv[] = {harness_xover(), "run", s3, "--backend", "slurm", "--db", g_db, "--runs-dir", g_runs, NULL};
    r = harness_run(rv, NULL); /* resumes it, from its checkpoint */
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    r = collect_wait("fnan", nan_db);
    CHECK_INT(r.status, 1);
    harness_proc_free(&r);
    CHECK_INT(helper_qint(nan_db, "SELECT count(*) FROM runs WHERE status = 'failed' AND "
                                  "error LIKE 'non-finite training loss (nan) at step 50%'"), 1);

    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done'"), 3);
    /* every trainer start is an attempt, also those no follower saw (the
     * worker's retries ran before collect started): 3, 2, and 1 + 1 */
    static const struct {
        const char *sweep;
        int attempts;
    } att[] = {{"fcrash", 3}, {"ftorn", 2}, {"fspace", 2}};
    for (int k = 0; k < 3; k++) {
        char sql[300];
        snprintf(sql, sizeof sql, "SELECT r.attempts FROM runs r JOIN sweep_runs sr ON sr.run_id = r.id JOIN sweeps s "
                                  "ON s.id = sr.sweep_id WHERE s.name = '%s'", att[k].sweep);
        CHECK_INT(helper_qint(g_db, sql), att[k].attempts);
    }
    const char *lg[] = {"/bin/sh", "-c", "grep -l 'resuming from the previous checkpoint' \"$0\"/fcrash/*/log | wc -l",
                        g_runs, NULL};
    r = harness_run(lg, NULL);
    CHECK_STR(r.out, "1\n");
    harness_proc_free(&r);
    /* the local backend, no faults: the same points */
    char local_db[512], local_runs[512];
    harness_path(local_db, sizeof local_db, "local.db");
    harness_path(local_runs, sizeof local_runs, "local-runs");
    const char *files[] = {s1, s2, s3};
    for (int k = 0; k < 3; k++) {
        const char *lv[] = {harness_xover(), "run", files[k], "--db", local_db, "--runs-dir", local_runs, NULL};
        r = harness_run(lv, NULL);
        CHECK_INT(r.status, 0);
        harness_proc_free(&r);
    }
    char *a = helper_dump_metrics(local_db), *b = helper_dump_metrics(g_db);
    int same = a && b && strlen(a) > 1000 && !strcmp(a, b);
    free(a);
    free(b);
    CHECK(same);
}

TEST(slurm_faults_through_array_tasks_end_as_documented)
{
    WITH_SLURM(faults_through_tasks);
}
