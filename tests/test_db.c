/*
 * test_db.c — the results database module: schema creation, migrations,
 * refusals, the driver's API, idempotent ingest and the views.
 */
#include "tests/harness.h"
#include "orchestrator/db/db.h"

#include <stdlib.h>

extern const char xover_schema_sql[];

static db *open_new(const char *name)
{
    char path[4096], err[512];
    harness_path(path, sizeof path, name);
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    if (!d) fprintf(stderr, "open: %s\n", err);
    return d;
}

static long long q(db *d, const char *sql)
{
    long long v = -12345;
    if (db_query_int(d, sql, &v)) fprintf(stderr, "%s: %s\n", sql, db_errmsg(d));
    return v;
}

/* A first text cell of a query, copied into buf. */
static int first_text(void *ctx, int n, const db_value *v)
{
    char *buf = ctx;
    snprintf(buf, 256, "%s", n && v[0].type == DB_TEXT ? v[0].s : "(not text)");
    return 1;
}

static const char *qs(db *d, const char *sql, char *buf)
{
    db_sink sink = {NULL, first_text, buf};
    strcpy(buf, "(no row)");
    db_query(d, sql, &sink);
    return buf;
}

static long long add_run(db *d, const char *key, const char *objective)
{
    db_run_spec s = {.key = key, .config = "{\"x\":1}", .objective = objective, .model = "xs",
                     .params = 1000, .unique_tokens = 25000, .quality = "all", .epochs = 4,
                     .seed = 0};
    long long id = -1;
    if (db_run_put(d, &s, &id)) fprintf(stderr, "run_put: %s\n", db_errmsg(d));
    return id;
}

TEST(db_schema_created_with_tables_views_and_pragmas)
{
    char buf[256];
    db *d = open_new("a.db");
    CHECK(d);
    CHECK(db_schema_version() >= 1);
    CHECK_INT(db_version(d), db_schema_version());
    CHECK_INT(db_version_found(d), 0);
    CHECK_INT(q(d, "PRAGMA user_version"), db_schema_version());
    CHECK_INT(q(d, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'"),
              db_schema_version());
    const char *names[] = {"meta", "sweeps", "runs", "sweep_runs", "metrics", "metric_series",
                           "run_final", "run_best", "curves", "metrics_value", "runs_status"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE name = '%s'", names[i]);
        CHECK_INT(q(d, sql), 1);
    }
    CHECK_STR(qs(d, "PRAGMA journal_mode", buf), "wal");
    CHECK_INT(q(d, "PRAGMA foreign_keys"), 1);
    /* The status CHECK and the JSON CHECK hold. */
    CHECK(db_exec(d, "INSERT INTO runs (key, config, status) VALUES ('k', '{}', 'bogus')") ==
          DB_EINPUT);
    CHECK(db_exec(d, "INSERT INTO runs (key, config) VALUES ('k', 'not json')") == DB_EINPUT);
    /* Foreign keys are enforced: a metric of no run is refused. */
    CHECK(db_exec(d, "INSERT INTO metrics (run_id, name, step) VALUES (42, 'x', 0)") == DB_EINPUT);
    db_close(d);
    /* Opening again finds it current and changes nothing. */
    d = open_new("a.db");
    CHECK(d);
    CHECK_INT(db_version_found(d), db_schema_version());
    db_close(d);
}

/* schema.sql plus a test-only migration appended, as a later issue will. */
static char *schema_plus(const char *extra)
{
    size_t n = strlen(xover_schema_sql) + strlen(extra) + 100;
    char *s = malloc(n);
    snprintf(s, n, "%s\n-- @migration %d: a test's change\n%s\n", xover_schema_sql,
             db_schema_version() + 1, extra);
    return s;
}

TEST(db_migrates_an_older_database_in_place)
{
    char path[4096], err[512], buf[256];
    harness_path(path, sizeof path, "old.db");
    int cur = db_schema_version();
    char *schema = schema_plus("ALTER TABLE runs ADD COLUMN note TEXT;\n"
                               "CREATE VIEW note_count AS SELECT count(note) AS n FROM runs;");
    /* A database in the older shape: only the released migrations. */
    db *d = db_open_schema(path, schema, cur, err, sizeof err);
    CHECK(d);
    CHECK_INT(db_version(d), cur);
    long long run = add_run(d, "k1", "ar");
    db_metric m[] = {{"val_loss", 0, 0, 0, 0, 4.0}, {"val_loss", 10, 100, 1, 1e9, 3.0}};
    CHECK_INT(db_ingest_metrics(d, run, m, 2), DB_OK);
    CHECK(db_exec(d, "SELECT note FROM runs") != DB_OK); /* not there yet */
    db_close(d);

    /* The newer build upgrades it, keeping every row. */
    d = db_open_schema(path, schema, 0, err, sizeof err);
    CHECK(d);
    CHECK_INT(db_version_found(d), cur);
    CHECK_INT(db_version(d), cur + 1);
    CHECK_INT(q(d, "PRAGMA user_version"), cur + 1);
    CHECK_INT(q(d, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'"), cur + 1);
    CHECK_INT(q(d, "SELECT count(*) FROM metrics"), 2);
    CHECK_STR(qs(d, "SELECT key FROM runs", buf), "k1");
    CHECK_INT(db_exec(d, "UPDATE runs SET note = 'hello'"), DB_OK);
    CHECK_INT(q(d, "SELECT n FROM note_count"), 1);
    db_close(d);

    /* And this build, which knows one version less, now refuses it. */
    d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d == NULL);
    CHECK_CONTAINS(err, "newer xover");
    free(schema);
}

TEST(db_failed_migration_leaves_the_old_version_whole)
{
    char path[4096], err[512];
    harness_path(path, sizeof path, "m.db");
    int cur = db_schema_version();
    char *schema = schema_plus("CREATE TABLE half_done (x);\nCREATE TABLE runs (x);");
    db *d = db_open_schema(path, schema, cur, err, sizeof err);
    CHECK(d);
    add_run(d, "k1", "ar");
    db_close(d);
    d = db_open_schema(path, schema, 0, err, sizeof err);
    CHECK(d == NULL);
    CHECK_CONTAINS(err, "cannot upgrade");
    CHECK_CONTAINS(err, "table runs already exists");
    d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    CHECK_INT(db_version(d), cur);
    CHECK_INT(q(d, "SELECT count(*) FROM sqlite_master WHERE name = 'half_done'"), 0);
    CHECK_INT(q(d, "SELECT count(*) FROM runs"), 1);
    db_close(d);
    free(schema);
}

TEST(db_refuses_newer_foreign_and_non_sqlite_files)
{
    char path[4096], err[512];
    db *d = open_new("new.db");
    CHECK(d);
    CHECK_INT(db_exec(d, "PRAGMA user_version = 99"), DB_OK);
    db_close(d);
    harness_path(path, sizeof path, "new.db");
    CHECK(db_open(path, DB_WRITE, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "schema version 99");
    CHECK_CONTAINS(err, "newer xover");
    CHECK(db_open(path, DB_READONLY, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "newer xover");

    /* An SQLite database of someone else's is not touched. */
    harness_path(path, sizeof path, "foreign.db");
    const char *mk[] = {"sqlite3", path, "CREATE TABLE other (x); INSERT INTO other VALUES (1);",
                        NULL};
    harness_proc p = harness_run(mk, NULL);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    CHECK(db_open(path, DB_WRITE, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "not an xover results database");
    CHECK(db_open(path, DB_READONLY, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "not an xover results database");

    harness_path(path, sizeof path, "text.db");
    CHECK_INT(harness_write(path, "this is not a database, just some text that is long enough "
                                  "to have a header. ........................................"),
              0);
    CHECK(db_open(path, DB_WRITE, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "not an SQLite database");

    harness_path(path, sizeof path, "missing.db");
    CHECK(db_open(path, DB_READONLY, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "no database at");
    FILE *f = fopen(path, "r");
    CHECK(f == NULL); /* a read-only open never creates the file */
}

typedef struct {
    int n;
    char keys[8][16];
    char status[8][16];
    int attempts[8];
} run_list;

static int collect(void *ctx, const db_run_info *r)
{
    run_list *l = ctx;
    if (l->n < 8) {
        snprintf(l->keys[l->n], 16, "%s", r->key);
        snprintf(l->status[l->n], 16, "%s", r->status);
        l->attempts[l->n] = r->attempts;
        l->n++;
    }
    return 0;
}

TEST(db_sweeps_runs_links_and_statuses)
{
    char buf[256];
    db *d = open_new("s.db");
    CHECK(d);
    long long sw1, sw1b, sw2;
    CHECK_INT(db_sweep_put(d, "budget", "sweep: budget\n", "h1", &sw1), DB_OK);
    CHECK_INT(db_sweep_put(d, "budget", "sweep: budget # edited\n", "h2", &sw1b), DB_OK);
    CHECK_INT(sw1b, sw1);
    CHECK_STR(qs(d, "SELECT yaml_hash FROM sweeps", buf), "h2");
    CHECK_INT(db_sweep_put(d, "size", "sweep: size\n", "h3", &sw2), DB_OK);
    long long id;
    CHECK_INT(db_sweep_id(d, "size", &id), DB_OK);
    CHECK_INT(id, sw2);
    CHECK_INT(db_sweep_id(d, "nope", &id), DB_ENOTFOUND);

    long long a = add_run(d, "aaa", "ar"), b = add_run(d, "bbb", "mdm");
    CHECK(a > 0 && b > 0 && a != b);
    CHECK_INT(db_sweep_link(d, sw1, a), DB_OK);
    CHECK_INT(db_sweep_link(d, sw1, a), DB_OK); /* idempotent */
    CHECK_INT(db_sweep_link(d, sw1, b), DB_OK);
    CHECK_INT(db_sweep_link(d, sw2, a), DB_OK); /* one run, two sweeps */
    CHECK_INT(db_sweep_link(d, sw2, 999), DB_EINPUT);
    CHECK_INT(q(d, "SELECT count(*) FROM sweep_runs"), 3);

    CHECK_INT(db_run_started(d, a, "node1", 4242, 1700000000.0), DB_OK);
    CHECK_INT(db_run_finished(d, a, "done", NULL, NULL, 1700000060.5), DB_OK);
    CHECK_STR(qs(d, "SELECT finished_at FROM runs WHERE key = 'aaa'", buf),
              "2023-11-14T22:14:20.500Z");
    CHECK_INT(db_run_started(d, b, "node2", 7, 1700000000.0), DB_OK);
    CHECK_INT(db_run_finished(d, b, "failed", "loss is NaN at step 12", "...\nstep 12\n",
                              1700000001.0), DB_OK);
    CHECK_INT(db_run_started(d, b, "node2", 8, 1700000002.0), DB_OK);
    CHECK_INT(db_run_finished(d, b, "pending", NULL, NULL, 0), DB_EINPUT);

    /* The same key planned again: axes refreshed, status and attempts kept. */
    long long a2 = add_run(d, "aaa", "ar");
    CHECK_INT(a2, a);
    run_list l = {0};
    CHECK_INT(db_sweep_runs(d, sw1, NULL, collect, &l), DB_OK);
    CHECK_INT(l.n, 2);
    CHECK_STR(l.keys[0], "aaa");
    CHECK_STR(l.status[0], "done");
    CHECK_STR(l.status[1], "running");
    CHECK_INT(l.attempts[1], 2);
    memset(&l, 0, sizeof l);
    CHECK_INT(db_sweep_runs(d, sw1, "done", collect, &l), DB_OK);
    CHECK_INT(l.n, 1);
    CHECK_INT(db_sweep_runs(d, sw1, "finished", collect, &l), DB_EINPUT);
    CHECK_INT(db_sweep_runs(d, 999, NULL, collect, &l), DB_ENOTFOUND);
    memset(&l, 0, sizeof l);
    CHECK_INT(db_run_by_key(d, "bbb", collect, &l), DB_OK);
    CHECK_STR(l.status[0], "running");
    CHECK_INT(db_run_by_key(d, "zzz", collect, &l), DB_ENOTFOUND);

    /* A masked update writes only the fields named. */
    db_run_update u = {.set = DB_SET_STATUS | DB_SET_JOB, .status = "interrupted",
                       .job_id = "1234_7", .error = "ignored"};
    CHECK_INT(db_run_set(d, b, &u), DB_OK);
    CHECK_STR(qs(d, "SELECT status || ' ' || job_id || ' ' || host FROM runs WHERE id = 2", buf),
              "interrupted 1234_7 node2");
    CHECK_INT(q(d, "SELECT error IS NULL FROM runs WHERE key = 'bbb'"), 1);
    u = (db_run_update){.set = DB_SET_STATUS, .status = "finished"};
    CHECK_INT(db_run_set(d, b, &u), DB_EINPUT);
    CHECK_CONTAINS(db_errmsg(d), "'finished' is not a run status");
    u = (db_run_update){.set = DB_SET_ATTEMPTS, .attempts = 5};
    CHECK_INT(db_run_set(d, 999, &u), DB_ENOTFOUND);

    long long counts[DB_NSTATUS];
    CHECK_INT(db_status_counts(d, 0, counts), DB_OK);
    CHECK_INT(counts[DB_DONE], 1);
    CHECK_INT(counts[DB_INTERRUPTED], 1);
    CHECK_INT(db_status_counts(d, sw2, counts), DB_OK);
    CHECK_INT(counts[DB_DONE], 1);
    CHECK_INT(counts[DB_INTERRUPTED], 0);

    db_run_spec bad = {.key = "ccc", .config = "{oops", .params = -1, .unique_tokens = -1,
                       .seed = -1, .epochs = NAN};
    CHECK_INT(db_run_put(d, &bad, &id), DB_EINPUT);
    CHECK_CONTAINS(db_errmsg(d), "not valid JSON");
    db_close(d);
}

TEST(db_ingest_is_idempotent_and_all_or_nothing)
{
    db *d = open_new("i.db");
    CHECK(d);
    long long run = add_run(d, "k", "ar");
    db_metric rows[50];
    for (int i = 0; i < 50; i++)
        rows[i] = (db_metric){i % 2 ? "val_loss" : "train_loss", i / 2 * 10, i * 100, i / 10.0,
                              i * 1e6, 5.0 - i * 0.01};
    CHECK_INT(db_ingest_metrics(d, run, rows, 50), DB_OK);
    CHECK_INT(q(d, "SELECT count(*) FROM metrics"), 50);
    /* The same rows again: no new rows. */
    CHECK_INT(db_ingest_metrics(d, run, rows, 50), DB_OK);
    CHECK_INT(q(d, "SELECT count(*) FROM metrics"), 50);
    /* Changed values win; an overlapping batch adds only what is new. */
    for (int i = 0; i < 50; i++) rows[i].value += 1.0;
    CHECK_INT(db_ingest_metrics(d, run, rows + 40, 10), DB_OK);
    CHECK_INT(q(d, "SELECT count(*) FROM metrics"), 50);
    CHECK_INT(q(d, "SELECT round(value * 100) FROM metrics WHERE name = 'val_loss' AND step = 240"),
              551); /* 5.0 - 0.49 + 1 */
    CHECK_INT(q(d, "SELECT round(value * 100) FROM metrics WHERE name = 'val_loss' AND step = 0"),
              499); /* untouched */
    long long last;
    CHECK_INT(db_metric_last_step(d, run, "val_loss", &last), DB_OK);
    CHECK_INT(last, 240);
    CHECK_INT(db_metric_last_step(d, run, "mc_acc", &last), DB_OK);
    CHECK_INT(last, -1);

    /* A non-finite value is stored as NULL; unknown tokens/epoch as NULL. */
    db_metric odd = {"val_loss", 250, -1, NAN, NAN, INFINITY};
    CHECK_INT(db_ingest_metrics(d, run, &odd, 1), DB_OK);
    CHECK_INT(q(d, "SELECT value IS NULL AND tokens IS NULL AND epoch IS NULL FROM metrics "
                   "WHERE step = 250"), 1);

    /* A batch that fails part-way keeps none of its rows. */
    CHECK_INT(db_exec(d, "CREATE TRIGGER boom BEFORE INSERT ON metrics WHEN NEW.step = 1030 "
                         "BEGIN SELECT RAISE(ABORT, 'boom'); END"), DB_OK);
    db_metric more[5];
    for (int i = 0; i < 5; i++) more[i] = (db_metric){"x", 1000 + 10 * i, -1, NAN, NAN, i};
    CHECK_INT(db_ingest_metrics(d, run, more, 5), DB_EINPUT);
    CHECK_CONTAINS(db_errmsg(d), "step 1030");
    CHECK_INT(q(d, "SELECT count(*) FROM metrics WHERE name = 'x'"), 0);
    /* ... also inside the caller's transaction, which stays usable. */
    CHECK_INT(db_begin(d), DB_OK);
    CHECK_INT(db_ingest_metrics(d, run, more, 3), DB_OK);
    CHECK_INT(db_ingest_metrics(d, run, more, 5), DB_EINPUT);
    CHECK_INT(db_commit(d), DB_OK);
    CHECK_INT(q(d, "SELECT count(*) FROM metrics WHERE name = 'x'"), 3);

    /* Bad rows and unknown runs are refused with a clear message. */
    db_metric noname = {NULL, 1, 0, 0, 0, 1};
    CHECK_INT(db_ingest_metrics(d, run, &noname, 1), DB_EINPUT);
    CHECK_INT(db_ingest_metrics(d, 999, rows, 1), DB_ENOTFOUND);
    CHECK_CONTAINS(db_errmsg(d), "no run with id 999");
    db_close(d);
}

/* Hand-made curves with known final and best points. */
static db *views_db(void)
{
    db *d = open_new("v.db");
    if (!d) return NULL;
    long long r1 = add_run(d, "r1", "ar"), r2 = add_run(d, "r2", "mdm");
    db_metric a[] = {
        {"val_loss", 0, 0, 0.0, 0, 4.0},    {"val_loss", 10, 100, 1.0, 1e9, 3.0},
        {"val_loss", 20, 200, 2.0, 2e9, 3.0}, {"val_loss", 30, 300, 3.0, 3e9, 3.5},
        {"mc_acc", 10, 100, 1.0, 1e9, 0.25}, {"mc_acc", 20, 200, 2.0, 2e9, 0.5},
        {"mc_acc", 30, 300, 3.0, 3e9, 0.375},
    };
    db_metric b[] = {
        {"val_loss", 10, 100, 1.0, 1e9, 3.8}, {"val_loss", 30, 300, 3.0, 3e9, 2.5},
        {"val_loss", 20, 200, 2.0, 2e9, 3.1}, {"val_ELBO", 5, 50, 0.5, 5e8, 2.0},
        {"val_ELBO", 6, 60, 0.6, 6e8, 2.5},  {"ppl", 1, 10, 0.1, 1e8, 30},
        {"ppl", 2, 20, 0.2, 2e8, 20},        {"lr", 1, 10, 0.1, 1e8, 0.001},
        {"lr", 2, 20, 0.2, 2e8, 0.0005},     {"train_nll", 7, 70, 0.7, 7e8, NAN},
        {"train_nll", 8, 80, 0.8, 8e8, 1.5},  {"train_nll", 9, 90, 0.9, 9e8, NAN},
    };
    if (db_ingest_metrics(d, r1, a, sizeof a / sizeof *a) ||
        db_ingest_metrics(d, r2, b, sizeof b / sizeof *b)) {
        fprintf(stderr, "ingest: %s\n", db_errmsg(d));
        db_close(d);
        return NULL;
    }
    return d;
}

TEST(db_views_final_best_curves_on_hand_made_data)
{
    char buf[256];
    db *d = views_db();
    CHECK(d);
    CHECK_INT(q(d, "SELECT count(*) FROM metric_series"), 7);
    CHECK_INT(q(d, "SELECT count(*) FROM run_final"), 7);
    /* Final: the point at the largest step, whatever the insertion order. */
    CHECK_INT(q(d, "SELECT step FROM run_final WHERE key = 'r2' AND name = 'val_loss'"), 30);
    CHECK_INT(q(d, "SELECT value * 10 FROM run_final WHERE key = 'r2' AND name = 'val_loss'"), 25);
    CHECK_INT(q(d, "SELECT value * 10 FROM run_final WHERE key = 'r1' AND name = 'val_loss'"), 35);
    CHECK_INT(q(d, "SELECT tokens FROM run_final WHERE key = 'r1' AND name = 'mc_acc'"), 300);
    CHECK_INT(q(d, "SELECT value IS NULL FROM run_final WHERE name = 'train_nll'"), 1);
    /* Best: min for losses (earliest step among ties), max otherwise. */
    CHECK_INT(q(d, "SELECT step FROM run_best WHERE key = 'r1' AND name = 'val_loss'"), 10);
    CHECK_INT(q(d, "SELECT value FROM run_best WHERE key = 'r1' AND name = 'val_loss'"), 3);
    CHECK_STR(qs(d, "SELECT better FROM run_best WHERE key = 'r1' AND name = 'val_loss'", buf),
              "min");
    CHECK_INT(q(d, "SELECT step FROM run_best WHERE key = 'r1' AND name = 'mc_acc'"), 20);
    CHECK_STR(qs(d, "SELECT better FROM run_best WHERE name = 'mc_acc'", buf), "max");
    CHECK_INT(q(d, "SELECT step FROM run_best WHERE name = 'val_ELBO'"), 5); /* any case */
    CHECK_INT(q(d, "SELECT step FROM run_best WHERE name = 'ppl'"), 2);
    /* lr is a training signal (metric_rule), not a metric: no best */
    CHECK_INT(q(d, "SELECT count(*) FROM run_best WHERE name = 'lr'"), 0);
    CHECK_STR(qs(d, "SELECT kind FROM run_final WHERE name = 'lr'", buf), "signal");
    CHECK_STR(qs(d, "SELECT kind FROM run_final WHERE name = 'ppl'", buf), "metric");
    CHECK_INT(q(d, "SELECT step FROM run_best WHERE name = 'train_nll'"), 8); /* NULLs skipped */
    CHECK_INT(q(d, "SELECT value * 10 FROM run_best WHERE key = 'r2' AND name = 'val_loss'"), 25);
    /* Axes come along. */
    CHECK_STR(qs(d, "SELECT objective FROM run_best WHERE key = 'r2' AND name = 'val_loss'", buf),
              "mdm");
    CHECK_INT(q(d, "SELECT unique_tokens FROM run_final LIMIT 1"), 25000);
    /* Curves: every point, with its run's axes. */
    CHECK_INT(q(d, "SELECT count(*) FROM curves"), 19);
    CHECK_INT(q(d, "SELECT count(*) FROM curves WHERE objective = 'mdm' AND name = 'val_loss'"), 3);
    CHECK_INT(q(d, "SELECT sum(step) FROM curves WHERE key = 'r1' AND name = 'val_loss'"), 60);
    db_close(d);

    /* The plain sqlite3 shell reads the same views. */
    char path[4096];
    harness_path(path, sizeof path, "v.db");
    const char *argv[] = {"sqlite3", path,
                          "SELECT key, name, step, value FROM run_best WHERE name = 'val_loss' "
                          "ORDER BY value", NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out, "r2|val_loss|30|2.5\nr1|val_loss|10|3.0\n");
    harness_proc_free(&p);
}

TEST(db_readonly_handle_refuses_every_write)
{
    char path[4096], err[512];
    db *d = views_db();
    CHECK(d);
    db_close(d);
    harness_path(path, sizeof path, "v.db");
    d = db_open(path, DB_READONLY, err, sizeof err);
    CHECK(d);
    const char *writes[] = {
        "INSERT INTO meta VALUES ('a', 'b')",
        "UPDATE runs SET status = 'done'",
        "DELETE FROM metrics",
        "DROP TABLE runs",
        "DROP VIEW run_best",
        "CREATE TABLE t (x)",
        "CREATE TEMP TABLE t (x)",
        "ALTER TABLE runs ADD COLUMN y",
        "ATTACH DATABASE 'other.db' AS o",
        "PRAGMA user_version = 7",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA foreign_keys = OFF",
        "VACUUM",
        "REINDEX",
        "BEGIN",
    };
    for (size_t i = 0; i < sizeof writes / sizeof *writes; i++) {
        int rc = db_query(d, writes[i], NULL);
        if (rc != DB_EDENIED) fprintf(stderr, "not refused: %s (%d)\n", writes[i], rc);
        CHECK_INT(rc, DB_EDENIED);
        CHECK_CONTAINS(db_errmsg(d), "read-only");
    }
    CHECK_CONTAINS((db_query(d, "DROP TABLE runs", NULL), db_errmsg(d)), "DROP TABLE");
    CHECK_CONTAINS((db_query(d, "ATTACH 'x.db' AS x", NULL), db_errmsg(d)), "ATTACH");
    /* A write hidden after a read is refused as a second statement. */
    CHECK_INT(db_query(d, "SELECT 1; DELETE FROM metrics", NULL), DB_EINPUT);
    CHECK_CONTAINS(db_errmsg(d), "one statement");
    /* Reads, including read-only PRAGMAs, work. */
    long long v;
    CHECK_INT(db_query_int(d, "SELECT count(*) FROM metrics", &v), DB_OK);
    CHECK_INT(v, 19);
    CHECK_INT(db_query_int(d, "PRAGMA user_version", &v), DB_OK);
    CHECK_INT(db_query(d, "PRAGMA table_info(runs)", NULL), DB_OK);
    CHECK_INT(db_query(d, "SELECT * FROM pragma_table_info('runs')", NULL), DB_OK);
    CHECK_INT(db_query(d, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
                          "WHERE i < 5) SELECT sum(i) FROM c", NULL), DB_OK);
    /* The driver's writers refuse too. */
    db_metric m = {"val_loss", 99, 0, 0, 0, 1};
    CHECK_INT(db_ingest_metrics(d, 1, &m, 1), DB_EDENIED);
    db_report r;
    CHECK_INT(db_check(d, &r), DB_OK);
    CHECK_INT(r.ok, 1);
    CHECK_INT(r.metrics, 19);
    CHECK_INT(r.series, 7);
    CHECK_INT(r.runs, 2);
    CHECK_INT(r.status[DB_PENDING], 2);
    db_close(d);
    /* Nothing changed. */
    d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    CHECK_INT(q(d, "SELECT count(*) FROM metrics"), 19);
    CHECK_INT(q(d, "PRAGMA user_version"), db_schema_version());
    db_close(d);
}
