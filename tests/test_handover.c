/*
 * test_handover.c — idle cores handed to running runs (exec/handover.c and
 * the driver): the policy on its own (never more than the cores, one core
 * back when a run waits, free cores to the run with the most work left, a
 * grant not yet taken up still counted); then whole sweeps: a lone long run
 * gets the idle core and its numbers are those of a sweep without the
 * hand-over, bit for bit, also when its worker is killed by SIGKILL after a
 * hand-over and resumed; the hand-over's files are gone afterwards; a core
 * is taken back when an annealed branch can start.
 */
#include "tests/reliability.h"

#include "orchestrator/exec/exec.h"
#include "orchestrator/run/run.h"

/* ---- the policy ------------------------------------------------------------ */

TEST(handover_policy_gives_free_cores_to_the_most_work_left_and_never_more_than_the_cores)
{
    /* 2 runs on 4 cores: both free cores go to the run with the most work
     * left per thread (900/1, then 900/2 > 100/1). */
    exec_share s[2] = {{1, 1, 1, 100, 0}, {1, 1, 1, 900, 0}};
    CHECK_INT(exec_handover(s, 2, 4, 0, 10.0), 2);
    CHECK_INT(s[1].threads, 3);
    CHECK_INT(s[0].threads, 1);
    CHECK_INT(exec_cores_used(s, 2), 4);
    s[1].have = 3; /* the trainer took them up */
    CHECK_INT(exec_handover(s, 2, 4, 0, 20.0), 0); /* full */
    /* a grant changed by an earlier call is held for a second */
    exec_share h[1] = {{2, 2, 1, 100, 10.0}};
    CHECK_INT(exec_handover(h, 1, 4, 0, 10.5), 0);
    CHECK_INT(exec_handover(h, 1, 4, 0, 11.5), 2);
    CHECK_INT(h[0].threads, 4);
    /* an external trainer (not growable) never gets a second thread, nor a
     * run with no work left */
    exec_share e[2] = {{1, 1, 0, 1e9, 0}, {1, 1, 1, 0, 0}};
    CHECK_INT(exec_handover(e, 2, 8, 0, 10.0), 0);
    CHECK_INT(e[0].threads + e[1].threads, 2);
}

TEST(handover_policy_takes_a_core_back_when_a_run_waits_and_counts_grants_not_yet_taken_up)
{
    exec_share s[2] = {{3, 3, 1, 100, 0}, {1, 1, 1, 100, 0}};
    CHECK_INT(exec_cores_used(s, 2), 4);
    CHECK_INT(exec_handover(s, 2, 4, 1, 10.0), 1); /* starved: one back, from the run with the most */
    CHECK_INT(s[0].threads, 2);
    /* until the trainer answers it still holds 3: nothing is free yet */
    CHECK_INT(exec_cores_used(s, 2), 4);
    CHECK_INT(exec_handover(s, 2, 4, 0, 20.0), 0);
    s[0].have = 2;
    CHECK_INT(exec_cores_used(s, 2), 3);
    /* all on one thread: a starved sweep can take nothing back */
    exec_share one[2] = {{1, 1, 1, 100, 0}, {1, 1, 1, 100, 0}};
    CHECK_INT(exec_handover(one, 2, 2, 1, 10.0), 0);
    /* a grant the trainer has not taken up yet is not raised again */
    exec_share g[1] = {{2, 1, 1, 100, 0}};
    CHECK_INT(exec_handover(g, 1, 4, 0, 10.0), 0);
    CHECK_INT(g[0].threads, 2);
}

/* ---- whole sweeps ------------------------------------------------------------ */

/* A short AR run and a long MDM run on 2 workers, batches of 2 shards (so
 * that a second thread has work), checkpoints every 10 steps. */
static void write_sweep(const char *file)
{
    char path[1024];
    harness_path(path, sizeof path, file);
    harness_write(path, "sweep: ho\n"
                        "data: {corpus: synthetic, vocab: 300, val_tokens: 2k, unique_tokens: 8000}\n"
                        "models: {xxs: {layers: 1, dim: 16, heads: 2}}\n"
                        "train: {seq_len: 64, batch: 8, lr: 3e-3, eval_every: 2 epoch, eval_draws: 2,\n"
                        "        checkpoint_every: 10}\n"
                        "grid: {objective: [ar, mdm], epochs: [2, 24]}\n"
                        "zip: [[objective, epochs]]\n");
}

static char *mdm_key(const char *dbp)
{
    return helper_qtext(dbp, "SELECT key FROM runs WHERE objective = 'mdm'");
}

TEST(handover_a_lone_long_run_gets_the_idle_core_and_no_number_changes)
{
    char sweep[512], db_on[512], runs_on[512], db_off[512], runs_off[512];
    write_sweep("ho.yaml");
    harness_path(sweep, sizeof sweep, "ho.yaml");
    harness_path(db_on, sizeof db_on, "on.db");
    harness_path(runs_on, sizeof runs_on, "on");
    harness_path(db_off, sizeof db_off, "off.db");
    harness_path(runs_off, sizeof runs_off, "off");
    harness_proc r = rel_run(sweep, db_off, runs_off, "--handover=off");
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    r = rel_run(sweep, db_on, runs_on, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    char *key = mdm_key(db_on), *ref = rel_dump_metrics(db_off), *got = rel_dump_metrics(db_on);
    CHECK(key && ref && got);
    key[strcspn(key, " \n")] = 0;
    char log[1024], off_log[1024], f[1024];
    snprintf(log, sizeof log, "%s/ho/%s/log", runs_on, key);
    snprintf(off_log, sizeof off_log, "%s/ho/%s/log", runs_off, key);
    int handed = rel_count_lines(log, "2 threads, on the driver's word"), none = rel_count_lines(off_log, "driver's word");
    snprintf(f, sizeof f, "%s/ho/%s/threads", runs_on, key);
    int left = access(f, F_OK) == 0;
    int same = !strcmp(ref, got);
    free(key), free(ref), free(got);
    CHECK_INT(handed, 1);
    CHECK_INT(none, 0);
    CHECK(!left);
    CHECK(same);
}

/* The MDM's worker pid, from the database (0 if not running). */
static pid_t mdm_pid(const char *dbp)
{
    return (pid_t)helper_qint(dbp, "SELECT coalesce(pid, 0) FROM runs WHERE objective = 'mdm' AND status = 'running'");
}

TEST(handover_kill9_of_a_worker_after_a_handover_resumes_bit_exact)
{
    char sweep[512], db[512], runs[512], db_off[512], runs_off[512], dlog[512];
    write_sweep("ho.yaml");
    harness_path(sweep, sizeof sweep, "ho.yaml");
    harness_path(db, sizeof db, "k.db");
    harness_path(runs, sizeof runs, "k");
    harness_path(db_off, sizeof db_off, "off.db");
    harness_path(runs_off, sizeof runs_off, "off");
    harness_path(dlog, sizeof dlog, "driver.log");
    harness_proc r = rel_run(sweep, db_off, runs_off, "--handover=off");
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    pid_t driver = rel_spawn(sweep, db, runs, "--handover=on", dlog);
    /* Wait for the MDM to take up its second thread, then kill its worker. */
    char log[1024] = "";
    int killed = 0, st;
    for (int i = 0; i < 3000 && !killed; i++) {
        rel_sleep_ms(10);
        if (waitpid(driver, &st, WNOHANG) == driver) {
            driver = 0;
            break;
        }
        if (!log[0]) {
            char *key = mdm_key(db);
            if (key && strlen(key) >= 64) snprintf(log, sizeof log, "%s/ho/%.64s/log", runs, key);
            free(key);
            continue;
        }
        if (rel_count_lines(log, "2 threads, on the driver's word") < 1) continue;
        pid_t w = mdm_pid(db);
        char *cmd = w > 0 ? rel_cmdline(w) : strdup("");
        int ours = cmd && strstr(cmd, " train ") != NULL;
        free(cmd);
        if (ours && kill(w, SIGKILL) == 0) killed = 1;
    }
    if (driver) waitpid(driver, &st, 0);
    CHECK(killed);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *ref = rel_dump_metrics(db_off), *got = rel_dump_metrics(db);
    int same = ref && got && !strcmp(ref, got);
    free(ref), free(got);
    CHECK(same);
    CHECK_INT(rel_count_lines(log, "xover train --config"), 2); /* the killed attempt and its retry */
    CHECK_INT(rel_count_lines(dlog, "retrying"), 1);
    CHECK_INT(helper_qint(db, "SELECT count(*) FROM runs WHERE status = 'done'"), 2);
}

/* An annealed trunk runs alone at first (its branch waits for the fork), so
 * it gets both cores; when its fork is written the branch can start, and
 * the driver takes a core back first: the trunk's log shows 2 threads, then
 * 1. The numbers equal those of the same sweep without the hand-over. */
TEST(handover_takes_a_core_back_when_a_branch_can_start)
{
    char sweep[512], db[512], runs[512], db_off[512], runs_off[512];
    harness_path(sweep, sizeof sweep, "tb.yaml");
    harness_write(sweep, "sweep: tb\n"
                         "data: {corpus: synthetic, vocab: 300, val_tokens: 2k, unique_tokens: 8000}\n"
                         "models: {xxs: {layers: 1, dim: 16, heads: 2}}\n"
                         "train: {seq_len: 64, batch: 8, lr: 3e-3, eval_every: 2 epoch, eval_draws: 2,\n"
                         "        anneal_at: [12, 24], decay_frac: 0.2}\n"
                         "grid: {objective: [mdm]}\n");
    harness_path(db, sizeof db, "tb.db");
    harness_path(runs, sizeof runs, "tb");
    harness_path(db_off, sizeof db_off, "tb-off.db");
    harness_path(runs_off, sizeof runs_off, "tb-off");
    harness_proc r = rel_run(sweep, db_off, runs_off, "--handover=off");
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    r = rel_run(sweep, db, runs, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    char *trunk = helper_qtext(db, "SELECT key FROM runs WHERE role = 'trunk'");
    CHECK(trunk && strlen(trunk) >= 64);
    char log[1024];
    snprintf(log, sizeof log, "%s/tb/%.64s/log", runs, trunk);
    free(trunk);
    char *text = harness_slurp(log, NULL);
    CHECK(text);
    char *two = strstr(text, "2 threads, on the driver's word");
    char *one = two ? strstr(two, "1 threads, on the driver's word") : NULL;
    free(text);
    CHECK(two && one);
    char *ref = rel_dump_metrics(db_off), *got = rel_dump_metrics(db);
    int same = ref && got && !strcmp(ref, got);
    free(ref), free(got);
    CHECK(same);
    CHECK_INT(helper_qint(db, "SELECT count(*) FROM runs WHERE status = 'done'"), 3); /* the trunk and its 2 branches */
}
