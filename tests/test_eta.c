/*
 * test_eta.c — what the progress display computes (exec/eta.c), on
 * recorded sequences: a run's tokens/s over a moving window (a resumed
 * run's earlier tokens never count, a stall shows), the sweep's time left
 * from each remaining run's own speed (an early-stopped run's work is not
 * counted as done work, idle cores go to the runs left), labels cut only
 * between pairs. No test here reads a clock.
 */
#include "tests/harness.h"

#include "orchestrator/exec/exec.h"

#include <math.h>

TEST(eta_rate_of_a_resumed_run_counts_only_this_attempt)
{
    exec_rate r;
    exec_rate_reset(&r);
    CHECK(exec_rate_tok_s(&r, 30) == 0); /* nothing measured: the row shows "-" */
    /* Resumed at 5M tokens: the first sample is the baseline. */
    exec_rate_add(&r, 100.0, 5e6);
    CHECK(exec_rate_tok_s(&r, 30) == 0);
    for (int s = 1; s <= 10; s++) exec_rate_add(&r, 100.0 + s, 5e6 + 2000.0 * s);
    CHECK_NEAR(exec_rate_tok_s(&r, 30), 2000, 1e-9);
    /* a repeated point (metrics re-read) changes nothing */
    exec_rate_add(&r, 111.0, 5e6 + 20000);
    CHECK_NEAR(exec_rate_tok_s(&r, 30), 2000, 1e-9);
}

TEST(eta_rate_follows_a_change_of_speed_within_its_window)
{
    exec_rate r;
    exec_rate_reset(&r);
    double tok = 0;
    for (int s = 0; s <= 60; s++) exec_rate_add(&r, s, tok += 1000); /* 1000 tok/s for a minute */
    for (int s = 61; s <= 100; s++) exec_rate_add(&r, s, tok += 1800); /* then a second thread */
    CHECK_NEAR(exec_rate_tok_s(&r, 30), 1800, 1e-9); /* the last 30 s only */
    CHECK(exec_rate_tok_s(&r, 1e9) < 1800);          /* the whole history mixes both */
    /* more samples than the ring holds: the newest are kept */
    for (int s = 101; s <= 300; s++) exec_rate_add(&r, s, tok += 500);
    CHECK_NEAR(exec_rate_tok_s(&r, 30), 500, 1e-9);
}

TEST(eta_of_a_sweep_counts_remaining_work_only_and_idle_cores_help)
{
    /* The demo's shape after AR stopped early: only the MDM is left, 600 s
     * of one core's work. Without the hand-over it needs 600 s, whatever
     * AR's planned-but-skipped epochs were; with it, the idle core helps. */
    exec_eta_run r[3] = {{600}};
    CHECK_NEAR(exec_sweep_eta(r, 1, 2, 0), 600, 1e-6);
    r[0].work = 600;
    CHECK_NEAR(exec_sweep_eta(r, 1, 2, 1), 600 / (1 + EXEC_THREAD_GAIN), 1e-6);
    /* Two runs on 2 cores, then a third: 100 s each. */
    exec_eta_run q[3] = {{100}, {100}, {100}};
    CHECK_NEAR(exec_sweep_eta(q, 3, 2, 0), 200, 1e-6);
    exec_eta_run h[3] = {{100}, {100}, {100}};
    CHECK_NEAR(exec_sweep_eta(h, 3, 2, 1), 100 + 100 / (1 + EXEC_THREAD_GAIN), 1e-6);
    /* nothing left */
    CHECK_NEAR(exec_sweep_eta(NULL, 0, 2, 1), 0, 0);
    /* a run whose speed is not known yet: unknown, not a guess */
    exec_eta_run u[2] = {{100}, {NAN}};
    CHECK(exec_sweep_eta(u, 2, 2, 1) < 0);
}

TEST(eta_labels_are_cut_between_pairs_never_inside_a_value)
{
    char out[64];
    exec_fit_label("objective=mdm unique_tokens=20k", 30, out, sizeof out);
    CHECK_STR(out, "objective=mdm +1");
    exec_fit_label("objective=ar", 30, out, sizeof out);
    CHECK_STR(out, "objective=ar");
    exec_fit_label("objective=ar model=d64 unique_tokens=20k seed=1", 30, out, sizeof out);
    CHECK_STR(out, "objective=ar model=d64 +2");
    CHECK(strlen(out) <= 30);
}
