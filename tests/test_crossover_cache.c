/*
 * test_crossover_cache.c — schema.sql's crossover_cache (migration 6): the
 * rows of crossover_by_seed kept by xover as it stores and removes points,
 * which the crossover view reads. After every write the cache holds exactly
 * what the view computes from scratch; status stays live; a read-only
 * reader of a database with other views computes the rows itself; a writer
 * that brings the views up to date rebuilds the cache.
 */
#include "tests/harness.h"
#include "tests/helpers.h"
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

/* The cache and the view computed now hold the same rows (and some). */
static int cache_is_current(db *d)
{
    long long extra = q(d, "SELECT count(*) FROM (SELECT * FROM crossover_cache EXCEPT SELECT * FROM crossover_by_seed)");
    long long missing = q(d, "SELECT count(*) FROM (SELECT * FROM crossover_by_seed EXCEPT SELECT * FROM crossover_cache)");
    if (extra || missing) fprintf(stderr, "    cache: %lld rows extra, %lld missing\n", extra, missing);
    return extra == 0 && missing == 0;
}

static long long run(db *d, const char *key, const char *objective, double lr, int seed)
{
    char config[256];
    snprintf(config, sizeof config,
             "{\"data\":{\"unique_tokens\":1000},\"model\":{\"name\":\"xs\"},\"objective\":\"%s\","
             "\"seed\":%d,\"train\":{\"epochs\":10,\"lr\":%g}}", objective, seed, lr);
    db_run_spec s = {.key = key, .config = config, .objective = objective, .model = "xs", .params = 1000,
                     .unique_tokens = 1000, .quality = "all", .epochs = 10, .seed = seed};
    long long id = -1;
    if (db_run_put(d, &s, &id)) fprintf(stderr, "run_put: %s\n", db_errmsg(d));
    return id;
}

/* Points from..to of the curves: AR best 4 at epoch 3, then worse; the MDM
 * falls by 0.25 an epoch (passes 4 at epoch 8); lr rides along as a signal. */
static int points(db *d, long long id, int mdm, int from, int to, double shift)
{
    db_metric m[90];
    int n = 0;
    for (int i = from; i <= to; i++) {
        double e = i / 4.0;
        double v = mdm ? 6 - 0.25 * e : 6 - 2 * fmin(e, 3) / 3 + 0.2 * fmax(0, e - 3);
        m[n++] = (db_metric){"val_loss", i, (long long)(e * 1000), e, 6e6 * e, v + shift};
        m[n++] = (db_metric){"val_loss_se", i, (long long)(e * 1000), e, 6e6 * e, mdm ? 0.01 : 0};
    }
    return db_ingest_metrics(d, id, m, (size_t)n);
}

static int done(void *ctx, long long id, const char *key, const char *dir)
{
    (void)ctx, (void)id, (void)key, (void)dir;
    return 0;
}

TEST(crossover_cache_follows_ingest_status_and_rm)
{
    char path[4096], err[512];
    harness_path(path, sizeof path, "c.db");
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    /* cell A (lr 0.002): two seeds a side; cell B (lr 0.003): one */
    long long a0 = run(d, "a-ar-0", "ar", 0.002, 0), a1 = run(d, "a-ar-1", "ar", 0.002, 1);
    long long m0 = run(d, "a-mdm-0", "mdm", 0.002, 0), m1 = run(d, "a-mdm-1", "mdm", 0.002, 1);
    long long b0 = run(d, "b-ar", "ar", 0.003, 0), b1 = run(d, "b-mdm", "mdm", 0.003, 0);
    CHECK_INT(q(d, "SELECT count(*) FROM crossover_member"), 6);
    /* half the curves in one transaction (the cache computed once, at its
     * commit), then the rest run by run, as a running sweep stores them */
    long long ids[] = {a0, a1, m0, m1, b0, b1};
    CHECK_INT(db_begin(d), DB_OK);
    for (int i = 0; i < 6; i++) {
        int mdm = ids[i] == m0 || ids[i] == m1 || ids[i] == b1;
        CHECK_INT(points(d, ids[i], mdm, 0, 20, 0), DB_OK);
    }
    CHECK_INT(q(d, "SELECT count(*) FROM crossover_scope"), 2);
    CHECK_INT(db_commit(d), DB_OK);
    CHECK_INT(q(d, "SELECT count(*) FROM crossover_scope"), 0);
    CHECK(cache_is_current(d));
    for (int i = 0; i < 6; i++) {
        int mdm = ids[i] == m0 || ids[i] == m1 || ids[i] == b1;
        CHECK_INT(points(d, ids[i], mdm, 21, 40, 0.01 * (ids[i] == a1 || ids[i] == m1)), DB_OK);
    }
    /* a batch of training signals alone leaves the cache as it is */
    db_metric lr = {"lr", 41, 10250, 10.25, 6e7, 0.001};
    CHECK_INT(db_ingest_metrics(d, a0, &lr, 1), DB_OK);
    CHECK(cache_is_current(d));
    CHECK_INT(q(d, "SELECT count(*) FROM crossover_cache WHERE seed IS NULL"), 6); /* 2 pairs x 3 axes */
    CHECK_INT(q(d, "SELECT count(*) FROM crossover WHERE metric = 'val_loss' AND x_axis = 'epochs'"), 2);
    /* status is read live: pending runs leave their pair unfinished */
    CHECK_INT(q(d, "SELECT count(*) FROM crossover WHERE verdict = 'unfinished'"), 6);
    for (int i = 0; i < 6; i++) CHECK_INT(db_run_finished(d, ids[i], "done", NULL, NULL, 0), DB_OK);
    CHECK_INT(q(d, "SELECT count(*) FROM crossover WHERE verdict = 'unfinished'"), 0);
    CHECK_INT(q(d, "SELECT count(*) FROM crossover WHERE verdict = 'crossover' AND x_axis = 'epochs'"), 2);

    /* rm the run that names cell A (its smallest id): its rows move to the
     * next smallest, with one AR seed left */
    long long deleted = 0;
    CHECK_INT(db_rm_delete(d, 0, "a-ar-0", done, NULL, &deleted), DB_OK);
    CHECK_INT(deleted, 1);
    CHECK(cache_is_current(d));
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM crossover_cache WHERE cell_id = %lld", a0);
    CHECK_INT(q(d, sql), 0);
    snprintf(sql, sizeof sql, "SELECT ar_seeds FROM crossover WHERE x_axis = 'epochs' AND cell LIKE '%%0.002%%'");
    CHECK_INT(q(d, sql), 1);
    /* rm both runs of cell B: its pair is gone */
    CHECK_INT(db_rm_delete(d, 0, "b-ar", done, NULL, &deleted), DB_OK);
    CHECK(cache_is_current(d));
    CHECK_INT(q(d, "SELECT count(*) FROM crossover_cache WHERE cell LIKE '%0.003%'"), 0);
    CHECK_INT(db_rm_delete(d, 0, "b-mdm", done, NULL, &deleted), DB_OK);
    CHECK(cache_is_current(d));
    CHECK_INT(q(d, "SELECT count(*) FROM crossover"), 3);
    CHECK_INT(q(d, "SELECT count(*) FROM crossover_scope"), 0);
    db_close(d);
}

/* A database whose views are not this xover's: its cache was made by other
 * views, so a read-only reader computes the rows itself (and writes
 * nothing), and a writer makes the views and the cache again. */
TEST(crossover_cache_rebuilt_with_the_views)
{
    char path[4096], err[512];
    harness_path(path, sizeof path, "v.db");
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    long long ar = run(d, "ar", "ar", 0.002, 0), mdm = run(d, "mdm", "mdm", 0.002, 0);
    CHECK_INT(points(d, ar, 0, 0, 40, 0), DB_OK);
    CHECK_INT(points(d, mdm, 1, 0, 40, 0), DB_OK);
    CHECK_INT(db_run_finished(d, ar, "done", NULL, NULL, 0), DB_OK);
    CHECK_INT(db_run_finished(d, mdm, "done", NULL, NULL, 0), DB_OK);
    CHECK_INT(q(d, "SELECT count(*) FROM crossover_cache"), 3);
    /* as an older xover would leave it: other views, another cache */
    CHECK_INT(db_exec(d, "UPDATE meta SET value = 'an older hash' WHERE key = 'views_hash';"
                         "UPDATE crossover_cache SET verdict = 'stale'"), DB_OK);
    db_close(d);
    d = db_open(path, DB_READONLY, err, sizeof err);
    CHECK(d);
    CHECK_INT(q(d, "SELECT count(*) FROM crossover WHERE verdict = 'crossover'"), 3);
    db_close(d);
    CHECK_INT(helper_qint(path, "SELECT count(*) FROM main.crossover_cache WHERE verdict = 'stale'"), 3);
    d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    CHECK(cache_is_current(d));
    CHECK_INT(q(d, "SELECT count(*) FROM crossover_cache WHERE verdict = 'stale'"), 0);
    db_close(d);
    CHECK_INT(helper_qint(path, "SELECT count(*) FROM crossover WHERE verdict = 'crossover'"), 3);
    /* metrics written by another tool: xover db init makes the cache again */
    d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    CHECK_INT(db_exec(d, "DELETE FROM crossover_cache"), DB_OK);
    db_close(d);
    const char *argv[] = {harness_xover(), "db", "init", path, NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    CHECK(cache_is_current(d));
    CHECK_INT(q(d, "SELECT count(*) FROM crossover_cache"), 3);
    db_close(d);
}
