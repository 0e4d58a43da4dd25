/*
 * test_db_summary.c — schema.sql's run_summary view (one row per run: its
 * sweeps, typed settings, what its sweeps vary, final and best metrics with
 * their epochs, wall time) and the metric rule's two kinds of series: metrics
 * with a direction, training signals kept out of run_best.
 */
#include "tests/harness.h"
#include "orchestrator/db/db.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static long long q(db *d, const char *sql)
{
    long long v = -12345;
    if (db_query_int(d, sql, &v)) fprintf(stderr, "%s: %s\n", sql, db_errmsg(d));
    return v;
}

static int first_text(void *ctx, int n, const db_value *v)
{
    snprintf(ctx, 512, "%s", n && v[0].type == DB_TEXT ? v[0].s : n && v[0].type == DB_NULL ? "NULL" : "(not text)");
    return 1;
}

static const char *qs(db *d, const char *sql, char *buf)
{
    db_sink sink = {NULL, first_text, buf};
    strcpy(buf, "(no row)");
    if (db_query(d, sql, &sink) && db_query(d, sql, &sink) != DB_EABORT) fprintf(stderr, "%s: %s\n", sql, db_errmsg(d));
    return buf;
}

static long long run(db *d, const char *key, const char *objective, const char *config)
{
    db_run_spec s = {.key = key, .config = config, .objective = objective, .model = "xs", .params = 1000,
                     .unique_tokens = 25000, .quality = "all", .epochs = 4, .seed = 0};
    long long id = -1;
    if (db_run_put(d, &s, &id)) fprintf(stderr, "run_put: %s\n", db_errmsg(d));
    return id;
}

/* Two sweeps: "lrs" varies train.lr (and, through an absent field,
 * input_mask), "solo" holds one run that "lrs" shares. */
static db *summary_db(void)
{
    char path[4096], err[512];
    harness_path(path, sizeof path, "s.db");
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    if (!d) return NULL;
    long long lrs, solo;
    long long a = run(d, "a", "ar", "{\"objective\":\"ar\",\"train\":{\"lr\":0.001,\"weight_decay\":0.3}}");
    long long b = run(d, "b", "ar",
                      "{\"objective\":\"ar\",\"train\":{\"lr\":0.002,\"weight_decay\":0.3,\"input_mask\":0.1}}");
    long long c = run(d, "c", "ar", "{\"objective\":\"ar\",\"train\":{\"lr\":0.001,\"weight_decay\":0.3}}");
    if (db_sweep_put(d, "lrs", "sweep: lrs\n", "h1", &lrs) || db_sweep_put(d, "solo", "sweep: solo\n", "h2", &solo) ||
        db_sweep_link(d, lrs, a) || db_sweep_link(d, lrs, b) || db_sweep_link(d, solo, a))
        fprintf(stderr, "sweeps: %s\n", db_errmsg(d));
    (void)c; /* in no sweep */
    db_metric ma[] = {
        {"val_loss", 10, 100, 1.0, 1e9, 4.0},  {"val_loss", 20, 200, 2.0, 2e9, 3.0},
        {"val_loss", 30, 300, 3.0, 3e9, 3.0},  {"val_loss", 40, 400, 4.0, 4e9, 3.5},
        {"mc_acc", 20, 200, 2.0, 2e9, 0.5},    {"mc_acc", 40, 400, 4.0, 4e9, 0.25},
        {"train_loss", 40, 400, 4.0, 4e9, 0.1}, {"lr", 40, 400, 4.0, 4e9, 0.5},
        {"grad_norm", 40, 400, 4.0, 4e9, 9.0}, {"early_stop", 40, 400, 4.0, 4e9, 100},
    };
    if (db_ingest_metrics(d, a, ma, sizeof ma / sizeof *ma)) fprintf(stderr, "ingest: %s\n", db_errmsg(d));
    db_run_update u = {.set = DB_SET_STATUS | DB_SET_STARTED | DB_SET_FINISHED, .status = "done",
                       .started_at = 1.7e9, .finished_at = 1.7e9 + 90.5};
    if (db_run_set(d, a, &u)) fprintf(stderr, "run_set: %s\n", db_errmsg(d));
    return d;
}

TEST(db_summary_one_row_per_run_with_sweeps_settings_and_results)
{
    char buf[512];
    db *d = summary_db();
    CHECK(d);
    CHECK_INT(q(d, "SELECT count(*) FROM run_summary"), 3);
    CHECK_STR(qs(d, "SELECT sweeps FROM run_summary WHERE key = 'a'", buf), "lrs,solo");
    CHECK_STR(qs(d, "SELECT sweeps FROM run_summary WHERE key = 'c'", buf), "NULL");
    /* typed settings, absent fields as what their absence stands for */
    CHECK_INT(q(d, "SELECT lr * 1000 FROM run_summary WHERE key = 'b'"), 2);
    CHECK_INT(q(d, "SELECT typeof(lr) = 'real' FROM run_summary WHERE key = 'b'"), 1);
    CHECK_INT(q(d, "SELECT input_mask * 10 FROM run_summary WHERE key = 'b'"), 1);
    CHECK_INT(q(d, "SELECT input_mask FROM run_summary WHERE key = 'a'"), 0);
    CHECK_INT(q(d, "SELECT weight_decay * 10 FROM run_summary WHERE key = 'a'"), 3);
    /* what its sweeps vary: lr, and input_mask which a lacks (left out of
     * its object); weight_decay and objective do not vary */
    CHECK_STR(qs(d, "SELECT varied FROM run_summary WHERE key = 'b'", buf),
              "{\"train.input_mask\":0.1,\"train.lr\":0.002}");
    CHECK_STR(qs(d, "SELECT varied FROM run_summary WHERE key = 'a'", buf), "{\"train.lr\":0.001}");
    CHECK_STR(qs(d, "SELECT varied FROM run_summary WHERE key = 'c'", buf), "{}");
    /* final and best, with their epochs: the best is the earliest of equals */
    CHECK_NEAR(q(d, "SELECT final_val_loss * 10 FROM run_summary WHERE key = 'a'"), 35, 0);
    CHECK_INT(q(d, "SELECT final_val_loss_epoch FROM run_summary WHERE key = 'a'"), 4);
    CHECK_INT(q(d, "SELECT best_val_loss FROM run_summary WHERE key = 'a'"), 3);
    CHECK_INT(q(d, "SELECT best_val_loss_epoch FROM run_summary WHERE key = 'a'"), 2);
    CHECK_INT(q(d, "SELECT best_mc_acc * 100 FROM run_summary WHERE key = 'a'"), 50);
    CHECK_INT(q(d, "SELECT best_mc_acc_epoch FROM run_summary WHERE key = 'a'"), 2);
    CHECK_INT(q(d, "SELECT final_mc_acc * 100 FROM run_summary WHERE key = 'a'"), 25);
    CHECK_INT(q(d, "SELECT final_mc_acc_epoch FROM run_summary WHERE key = 'a'"), 4);
    CHECK_INT(q(d, "SELECT early_stop_epoch FROM run_summary WHERE key = 'a'"), 4);
    CHECK_INT(q(d, "SELECT early_stop_epoch IS NULL AND best_val_loss IS NULL FROM run_summary WHERE key = 'b'"), 1);
    CHECK_INT(q(d, "SELECT round(wall_s * 10) FROM run_summary WHERE key = 'a'"), 905);
    CHECK_INT(q(d, "SELECT wall_s IS NULL FROM run_summary WHERE key = 'b'"), 1);
    CHECK_STR(qs(d, "SELECT status FROM run_summary WHERE key = 'a'", buf), "done");
    db_close(d);
}

/* metric_rule marks each series: evaluations are metrics with a direction,
 * lr, grad_norm, train_loss and the early_stop marker are training signals,
 * which run_final lists and run_best leaves out. */
TEST(db_summary_signals_are_marked_and_kept_out_of_run_best)
{
    char buf[512];
    db *d = summary_db();
    CHECK(d);
    const char *signals[] = {"lr", "grad_norm", "train_loss", "early_stop"};
    for (int i = 0; i < 4; i++) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT kind FROM run_final WHERE name = '%s'", signals[i]);
        CHECK_STR(qs(d, sql, buf), "signal");
        snprintf(sql, sizeof sql, "SELECT count(*) FROM run_best WHERE name = '%s'", signals[i]);
        CHECK_INT(q(d, sql), 0);
        snprintf(sql, sizeof sql, "SELECT best_value IS NULL FROM metric_series WHERE name = '%s'", signals[i]);
        CHECK_INT(q(d, sql), 1);
    }
    CHECK_STR(qs(d, "SELECT group_concat(name) FROM (SELECT name FROM run_best ORDER BY name)", buf), "mc_acc,val_loss");
    CHECK_STR(qs(d, "SELECT kind || ' ' || better FROM metric_series WHERE name = 'val_loss'", buf), "metric min");
    CHECK_STR(qs(d, "SELECT kind || ' ' || better FROM metric_series WHERE name = 'mc_acc'", buf), "metric max");
    /* the rule is one definition: exact names before patterns, C asks it too */
    CHECK_STR(qs(d, "SELECT kind FROM metric_rule WHERE 'train_loss' LIKE pattern "
                    "ORDER BY instr(pattern, '%') LIMIT 1", buf), "signal");
    CHECK_INT(db_metric_lower_better("val_loss"), 1);
    CHECK_INT(db_metric_lower_better("train_loss"), 1);
    CHECK_INT(db_metric_lower_better("mc_acc"), 0);
    db_close(d);
}

/* Only metrics cross: an AR/MDM pair that records lr, grad_norm and
 * train_loss beside val_loss has crossover points for val_loss alone, and
 * asking the commands for a signal's crossover is refused. */
TEST(db_summary_signals_never_cross)
{
    char path[4096], err[512], buf[512];
    harness_path(path, sizeof path, "x.db");
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    long long ar = run(d, "ar", "ar", "{\"objective\":\"ar\",\"train\":{\"lr\":0.001}}");
    long long mdm = run(d, "mdm", "mdm", "{\"objective\":\"mdm\",\"train\":{\"lr\":0.001}}");
    for (int k = 0; k < 2; k++) {
        db_metric pts[12];
        int n = 0;
        for (int i = 1; i <= 3; i++) {
            double x = i;
            pts[n++] = (db_metric){"val_loss", i * 10, i * 100, x, x * 1e9, k ? 5.0 - i : 3.5 - 0.1 * i};
            pts[n++] = (db_metric){"lr", i * 10, i * 100, x, x * 1e9, 0.001};
            pts[n++] = (db_metric){"grad_norm", i * 10, i * 100, x, x * 1e9, k ? 1.0 : 2.0};
            pts[n++] = (db_metric){"Train_Loss", i * 10, i * 100, x, x * 1e9, 3.0};
        }
        CHECK_INT(db_ingest_metrics(d, k ? mdm : ar, pts, (size_t)n), DB_OK);
    }
    CHECK(q(d, "SELECT count(*) FROM crossover_points WHERE metric = 'val_loss'") > 0);
    CHECK_INT(q(d, "SELECT count(*) FROM crossover_points WHERE metric <> 'val_loss'"), 0);
    CHECK_STR(qs(d, "SELECT group_concat(DISTINCT metric) FROM crossover", buf), "val_loss");
    /* the crossover leaves signals out by their exact names: the rule names
     * every signal exactly, so that is the rule */
    CHECK_INT(q(d, "SELECT count(*) FROM metric_rule WHERE kind = 'signal' AND instr(pattern, '%') > 0"), 0);
    CHECK_INT(q(d, "SELECT count(*) FROM metric_rule WHERE kind = 'signal' AND pattern <> lower(pattern)"), 0);
    db_close(d);
    const char *cmds[][2] = {{"crossover", NULL}, {"table", NULL}, {"plot", "--out=p"}};
    for (int i = 0; i < 3; i++) {
        const char *argv[] = {harness_xover(), cmds[i][0], "--db", path, "--metric", "grad_norm", cmds[i][1], NULL};
        harness_proc p = harness_run(argv, NULL);
        CHECK_INT(p.status, 2);
        CHECK_CONTAINS(p.err, "'grad_norm' is a training signal, not a metric");
        harness_proc_free(&p);
    }
    CHECK_INT(db_metric_is_signal("LR"), 1);
    CHECK_INT(db_metric_is_signal("val_loss"), 0);
    CHECK_INT(db_metric_is_signal("mc_acc"), 0);
}

/* NAME_se is the standard error of NAME (val_loss_se beside val_loss): an
 * 'error' of metric_rule, with no direction, so run_best has no "best
 * val_loss_se" (it used to hold the largest error as the best) and the
 * commands refuse it as --metric; a name that merely ends in "se" without
 * the underscore (the '_' of the pattern is literal) stays a metric. */
TEST(db_summary_standard_errors_are_not_metrics)
{
    char path[4096], err[512], buf[512];
    harness_path(path, sizeof path, "se.db");
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    long long a = run(d, "a", "ar", "{\"objective\":\"ar\"}");
    db_metric pts[] = {
        {"val_loss", 10, 100, 1.0, 1e9, 4.0},   {"val_loss_se", 10, 100, 1.0, 1e9, 0.02},
        {"val_loss", 20, 200, 2.0, 2e9, 3.0},   {"val_loss_se", 20, 200, 2.0, 2e9, 0.01},
        {"mc_acc_se", 20, 200, 2.0, 2e9, 0.05}, {"sparse", 20, 200, 2.0, 2e9, 0.7},
    };
    CHECK_INT(db_ingest_metrics(d, a, pts, sizeof pts / sizeof *pts), DB_OK);
    CHECK_STR(qs(d, "SELECT kind || ' ' || coalesce(better, 'NULL') FROM metric_series WHERE name = 'val_loss_se'",
                 buf), "error NULL");
    CHECK_STR(qs(d, "SELECT kind FROM run_final WHERE name = 'mc_acc_se'", buf), "error");
    CHECK_INT(q(d, "SELECT count(*) FROM metric_series WHERE name LIKE '%se' AND best_value IS NOT NULL"), 1);
    CHECK_STR(qs(d, "SELECT group_concat(name) FROM (SELECT name FROM run_best ORDER BY name)", buf),
              "sparse,val_loss");
    CHECK_STR(qs(d, "SELECT kind || ' ' || better FROM metric_series WHERE name = 'sparse'", buf), "metric max");
    /* run_summary's best val_loss is the loss's, not its error's */
    CHECK_INT(q(d, "SELECT best_val_loss FROM run_summary WHERE key = 'a'"), 3);
    db_close(d);
    CHECK_INT(db_metric_kind_of("val_loss_se"), DB_KIND_ERROR);
    CHECK_INT(db_metric_kind_of("VAL_LOSS_SE"), DB_KIND_ERROR);
    CHECK_INT(db_metric_kind_of("sparse"), DB_KIND_METRIC);
    CHECK_INT(db_metric_kind_of("lr"), DB_KIND_SIGNAL);
    CHECK_INT(db_metric_lower_better("val_loss_se"), 0);
    CHECK_INT(db_metric_is_signal("val_loss_se"), 0);
    const char *argv[] = {harness_xover(), "crossover", "--db", path, "--metric", "val_loss_se", NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "'val_loss_se' is a standard error, not a metric");
    CHECK_CONTAINS(p.err, "--metric val_loss)");
    harness_proc_free(&p);
}
