/*
 * test_db_schema.c — schema.sql's two parts: append-only migrations for the
 * tables and one views section where each view is written once; databases
 * of every older schema upgraded to the same views as a new one; views
 * recreated when their text changes; a read-only reader of a database whose
 * views are older sees the current ones without writing the file.
 */
#include "tests/harness.h"
#include "tests/helpers.h"
#include "orchestrator/db/db.h"

#include <stdlib.h>
#include <string.h>

extern const char xover_schema_sql[];

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* Every view's CREATE statement in the file, in name order, one per line,
 * as the plain sqlite3 shell reads them (no xover in between). */
static char *views_sql(const char *path)
{
    const char *argv[] = {"sqlite3", path,
                          "SELECT name, replace(sql, char(10), ' ') FROM sqlite_master "
                          "WHERE type = 'view' ORDER BY name", NULL};
    harness_proc p = harness_run(argv, NULL);
    char *out = p.status == 0 ? strdup(p.out) : NULL;
    harness_proc_free(&p);
    return out;
}

TEST(db_schema_writes_each_view_once_after_the_migrations)
{
    const char *s = xover_schema_sql;
    const char *views = strstr(s, "\n-- @views");
    CHECK(views);
    /* no migration section after the views, none of them makes or drops a view */
    CHECK(!strstr(views, "\n-- @migration "));
    char *migrations = strndup(s, (size_t)(views - s));
    CHECK_INT(count_of(migrations, "\nCREATE VIEW"), 0);
    CHECK_INT(count_of(migrations, "\nDROP VIEW"), 0);
    free(migrations);
    const char *names[] = {"metric_rule", "metric_series", "run_final", "run_best", "curves",
                           "run_axes", "run_summary", "crossover_runs", "crossover_curves", "crossover"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char stmt[80];
        snprintf(stmt, sizeof stmt, "CREATE VIEW %s ", names[i]);
        if (count_of(s, stmt) != 1) fprintf(stderr, "    %s\n", stmt);
        CHECK_INT(count_of(s, stmt), 1);
    }
    /* the lower-is-better rule is written once: its patterns appear once */
    CHECK_INT(count_of(s, "'%loss'"), 1);
    CHECK_INT(count_of(s, "'%ppl'"), 1);
    /* and the C side answers from that one place */
    CHECK(db_metric_lower_better("val_loss") && db_metric_lower_better("Train_NLL") &&
          !db_metric_lower_better("mc_acc") && !db_metric_lower_better(NULL));
}

/* A run with a few metric points, and one that stopped early. */
static int fill(db *d)
{
    db_run_spec a = {.key = "ka", .config = "{\"objective\":\"ar\",\"seed\":0}", .objective = "ar",
                     .model = "xs", .params = 100, .unique_tokens = 1000, .epochs = 4, .seed = 0};
    db_run_spec m = a;
    m.key = "km";
    m.config = "{\"objective\":\"mdm\",\"seed\":0}";
    m.objective = "mdm";
    long long ia, im;
    db_metric pa[] = {{"val_loss", 1, 100, 1, 1e6, 3.0}, {"val_loss", 2, 200, 2, 2e6, 2.0}};
    db_metric pm[] = {{"val_loss", 1, 100, 1, 1e6, 3.5}, {"val_loss", 2, 200, 2, 2e6, 1.5}};
    /* finished: a pair with a run still to train is 'unfinished' */
    return db_run_put(d, &a, &ia) || db_run_put(d, &m, &im) || db_ingest_metrics(d, ia, pa, 2) ||
           db_ingest_metrics(d, im, pm, 2) || db_run_finished(d, ia, "done", NULL, NULL, 0) ||
           db_run_finished(d, im, "done", NULL, NULL, 0);
}

TEST(db_schema_every_older_database_upgrades_to_the_same_views)
{
    char fresh[4096], err[512];
    CHECK(helper_old_schema());
    harness_path(fresh, sizeof fresh, "fresh.db");
    db *d = db_open(fresh, DB_WRITE, err, sizeof err);
    CHECK(d);
    db_close(d);
    char *want = views_sql(fresh);
    CHECK(want && count_of(want, "\n") == 13); /* the views of schema.sql's @views section */
    for (int v = 1; v <= 5; v++) {
        char path[4096], name[32];
        snprintf(name, sizeof name, "v%d.db", v);
        harness_path(path, sizeof path, name);
        /* as xover of schema v left it: its migrations made its views */
        d = db_open_schema(path, helper_old_schema(), v, err, sizeof err);
        CHECK(d);
        CHECK_INT(fill(d), 0);
        db_close(d);
        CHECK(helper_qint(path, "SELECT count(*) FROM sqlite_master WHERE type = 'view'") >= 4);
        d = db_open(path, DB_WRITE, err, sizeof err);
        if (!d) fprintf(stderr, "    v%d: %s\n", v, err);
        CHECK(d);
        CHECK_INT(db_version_found(d), v);
        CHECK_INT(db_version(d), db_schema_version());
        db_close(d);
        char *got = views_sql(path);
        CHECK(got);
        if (strcmp(got, want)) fprintf(stderr, "    v%d: views differ from a new database's\n", v);
        CHECK_STR(got, want);
        free(got);
        CHECK_INT(helper_qint(path, "SELECT count(*) FROM metrics"), 4);
        CHECK_INT(helper_qint(path, "SELECT count(*) FROM crossover WHERE verdict = 'crossover'"), 3);
        CHECK_INT(helper_qint(path, "SELECT count(*) FROM meta WHERE key IN ('views_hash', 'views')"), 2);
    }
    free(want);
}

TEST(db_schema_views_recreated_when_their_text_changes)
{
    char path[4096], err[512];
    harness_path(path, sizeof path, "t.db");
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    CHECK_INT(fill(d), 0);
    char *want = views_sql(path);
    /* an older build's run_final, a view an older build had and this one
     * dropped, and a user's own view */
    CHECK_INT(db_exec(d, "DROP VIEW run_final; CREATE VIEW run_final AS SELECT 1 AS old;"
                         "CREATE VIEW gone AS SELECT 2 AS x; CREATE VIEW mine AS SELECT 3 AS y;"
                         "UPDATE meta SET value = 'an older hash' WHERE key = 'views_hash';"
                         "UPDATE meta SET value = value || ' gone' WHERE key = 'views';"), DB_OK);
    db_close(d);

    /* a read-only reader sees the current views, and writes nothing */
    d = db_open(path, DB_READONLY, err, sizeof err);
    CHECK(d);
    long long n = -1;
    CHECK_INT(db_query_int(d, "SELECT count(*) FROM run_final", &n), DB_OK);
    CHECK_INT(n, 2); /* one series per run */
    db_close(d);
    const char *shell[] = {"sqlite3", path, "SELECT old FROM run_final", NULL};
    harness_proc p = harness_run(shell, NULL);
    CHECK_STR(p.out, "1\n"); /* the file still has the old text */
    harness_proc_free(&p);

    /* a writer brings the file's views up to date */
    d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    db_close(d);
    char *got = views_sql(path);
    CHECK(got && want);
    CHECK(strstr(got, "mine|CREATE VIEW mine AS SELECT 3 AS y"));
    CHECK(!strstr(got, "gone|"));
    CHECK(!strstr(got, "SELECT 1 AS old"));
    /* with the user's view taken out, exactly a new database's views */
    char *mine = strstr(got, "mine|");
    CHECK(mine);
    char *eol = mine ? strchr(mine, '\n') : NULL;
    if (eol) memmove(mine, eol + 1, strlen(eol + 1) + 1);
    CHECK_STR(got, want);
    free(got);
    free(want);
    CHECK_INT(helper_qint(path, "SELECT count(*) FROM run_final"), 2);
}

TEST(db_schema_readonly_reader_of_an_old_schema_keeps_working)
{
    char path[4096], err[512];
    harness_path(path, sizeof path, "old.db");
    /* schema 3, as its xover left it: the crossover views pair on the margin */
    db *d = db_open_schema(path, helper_old_schema(), 3, err, sizeof err);
    CHECK(d);
    CHECK_INT(fill(d), 0);
    db_close(d);
    d = db_open(path, DB_READONLY, err, sizeof err);
    CHECK(d);
    CHECK_INT(db_version(d), 3);
    long long n = -1;
    CHECK_INT(db_query_int(d, "SELECT count(*) FROM run_best WHERE better = 'min'", &n), DB_OK);
    CHECK_INT(n, 2);
    CHECK_INT(db_query_int(d, "SELECT count(*) FROM crossover", &n), DB_OK);
    CHECK_INT(n, 3);
    db_close(d);
    /* nothing was written: still schema 3, with no views hash */
    CHECK_INT(helper_qint(path, "PRAGMA user_version"), 3);
    CHECK_INT(helper_qint(path, "SELECT count(*) FROM meta WHERE key = 'views_hash'"), 0);
}

TEST(db_schema_a_broken_views_section_is_refused_naming_the_view)
{
    char path[4096], err[512];
    harness_path(path, sizeof path, "b.db");
    const char *bad = "-- @migration 1: t\nCREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);\n"
                      "CREATE TABLE t (a);\n"
                      "-- @views: v\nCREATE VIEW good AS SELECT a FROM t;\n"
                      "CREATE VIEW bad AS SELECT nosuch FROM t;\n";
    CHECK(db_open_schema(path, bad, 0, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "view bad");
    CHECK_CONTAINS(err, "nosuch");
    const char *notview = "-- @migration 1: t\nCREATE TABLE t (a);\n-- @views: v\nCREATE TABLE u (b);\n";
    CHECK(db_open_schema(path, notview, 0, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "only CREATE VIEW");
}
