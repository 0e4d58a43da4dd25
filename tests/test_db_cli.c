/*
 * test_db_cli.c — `xover db`, `xover sql` and `xover export` as a user runs
 * them: exact output of every format on a small known database, the
 * read-only guard, and bad arguments.
 */
#include "tests/harness.h"
#include "orchestrator/db/db.h"

#include <dirent.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

/* Two runs with hand-made val_loss curves. Returns the database's path. */
static const char *known_db(void)
{
    static char path[4096];
    char err[512];
    harness_path(path, sizeof path, "known.db");
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    if (!d) { fprintf(stderr, "%s\n", err); return NULL; }
    db_run_spec a = {.key = "aaa", .config = "{}", .objective = "ar", .model = "xs",
                     .params = 1000, .unique_tokens = 25000, .quality = NULL, .epochs = 4,
                     .seed = 0};
    db_run_spec b = a;
    b.key = "bbb";
    b.objective = "mdm";
    b.quality = "a,\"b\"";
    long long ra, rb;
    db_metric ma[] = {{"val_loss", 0, 0, 0.0, 0, 4.0}, {"val_loss", 10, 100, 1.0, 1e6, 3.25},
                      {"val_loss", 20, 200, 2.0, 2e6, 3.5}};
    db_metric mb[] = {{"val_loss", 0, 0, 0.0, 0, 4.0}, {"val_loss", 10, 100, 1.0, 1e6, 3.0}};
    int rc = db_run_put(d, &a, &ra) || db_run_put(d, &b, &rb) || db_ingest_metrics(d, ra, ma, 3) ||
             db_ingest_metrics(d, rb, mb, 2);
    if (rc) fprintf(stderr, "%s\n", db_errmsg(d));
    db_close(d);
    return rc ? NULL : path;
}

static harness_proc run7(const char *a1, const char *a2, const char *a3, const char *a4,
                         const char *a5, const char *a6, const char *a7)
{
    const char *argv[] = {harness_xover(), a1, a2, a3, a4, a5, a6, a7, NULL};
    return harness_run(argv, NULL);
}

static harness_proc run(const char *a1, const char *a2, const char *a3, const char *a4,
                        const char *a5, const char *a6)
{
    const char *argv[] = {harness_xover(), a1, a2, a3, a4, a5, a6, NULL};
    return harness_run(argv, NULL);
}

static const char *BEST = "SELECT run_id, objective, quality, name, step, value FROM run_best "
                          "ORDER BY run_id";

TEST(db_cli_sql_table_format)
{
    const char *dbp = known_db();
    CHECK(dbp);
    harness_proc p = run("sql", BEST, "--db", dbp, NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out,
              "run_id  objective  quality  name      step  value\n"
              "------  ---------  -------  --------  ----  -----\n"
              "     1  ar                  val_loss    10   3.25\n"
              "     2  mdm        a,\"b\"    val_loss    10    3.0\n");
    harness_proc_free(&p);
}

TEST(db_cli_sql_csv_json_jsonl_md_formats)
{
    const char *dbp = known_db();
    CHECK(dbp);
    harness_proc p = run("sql", BEST, "--db", dbp, "--format", "csv");
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out, "run_id,objective,quality,name,step,value\n"
                     "1,ar,,val_loss,10,3.25\n"
                     "2,mdm,\"a,\"\"b\"\"\",val_loss,10,3.0\n");
    harness_proc_free(&p);

    p = run("sql", BEST, "--db", dbp, "--format", "json");
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out, "[\n"
                     "{\"run_id\": 1, \"objective\": \"ar\", \"quality\": null, \"name\": "
                     "\"val_loss\", \"step\": 10, \"value\": 3.25},\n"
                     "{\"run_id\": 2, \"objective\": \"mdm\", \"quality\": \"a,\\\"b\\\"\", "
                     "\"name\": \"val_loss\", \"step\": 10, \"value\": 3.0}\n"
                     "]\n");
    harness_proc_free(&p);

    p = run("sql", BEST, "--db", dbp, "-f", "jsonl");
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out, "{\"run_id\": 1, \"objective\": \"ar\", \"quality\": null, \"name\": "
                     "\"val_loss\", \"step\": 10, \"value\": 3.25}\n"
                     "{\"run_id\": 2, \"objective\": \"mdm\", \"quality\": \"a,\\\"b\\\"\", "
                     "\"name\": \"val_loss\", \"step\": 10, \"value\": 3.0}\n");
    harness_proc_free(&p);

    p = run("sql", BEST, "--db", dbp, "--format=md", NULL);
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out, "| run_id | objective | quality | name     | step | value |\n"
                     "| -----: | --------- | ------- | -------- | ---: | ----: |\n"
                     "|      1 | ar        |         | val_loss |   10 |  3.25 |\n"
                     "|      2 | mdm       | a,\"b\"   | val_loss |   10 |   3.0 |\n");
    harness_proc_free(&p);
}

TEST(db_cli_sql_empty_results_and_special_values)
{
    const char *dbp = known_db();
    CHECK(dbp);
    const char *none = "SELECT key, status FROM runs WHERE 0";
    harness_proc p = run("sql", none, "--db", dbp, "--format", "json");
    CHECK_STR(p.out, "[]\n");
    harness_proc_free(&p);
    p = run("sql", none, "--db", dbp, "--format", "csv");
    CHECK_STR(p.out, "key,status\n");
    harness_proc_free(&p);
    p = run("sql", none, "--db", dbp, "--format", "table");
    CHECK_STR(p.out, "key  status\n---  ------\n");
    harness_proc_free(&p);
    /* Shortest exact reals, one-line cells, escaped pipes, JSON strings. */
    const char *odd = "SELECT 0.1 AS a, 1e300 AS b, 'x|y' AS c, 'line1' || char(10) || 'line2' AS d";
    p = run("sql", odd, "--db", dbp, "--format", "md");
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out, "|   a |      b | c    | d            |\n"
                     "| --: | -----: | ---- | ------------ |\n"
                     "| 0.1 | 1e+300 | x\\|y | line1\\nline2 |\n");
    harness_proc_free(&p);
    p = run("sql", odd, "--db", dbp, "--format", "jsonl");
    CHECK_STR(p.out, "{\"a\": 0.1, \"b\": 1e300, \"c\": \"x|y\", \"d\": \"line1\\nline2\"}\n");
    harness_proc_free(&p);
}

static char *slurp_or_null(const char *path)
{
    size_t n;
    return harness_slurp(path, &n);
}

static const char *EXPORT_CSV =
    "run_id,key,objective,model,params,unique_tokens,quality,epochs,seed,status,name,step,"
    "tokens,epoch,flops,value\n"
    "1,aaa,ar,xs,1000,25000,,4.0,0,pending,val_loss,0,0,0.0,0.0,4.0\n"
    "1,aaa,ar,xs,1000,25000,,4.0,0,pending,val_loss,10,100,1.0,1000000.0,3.25\n"
    "1,aaa,ar,xs,1000,25000,,4.0,0,pending,val_loss,20,200,2.0,2000000.0,3.5\n"
    "2,bbb,mdm,xs,1000,25000,\"a,\"\"b\"\"\",4.0,0,pending,val_loss,0,0,0.0,0.0,4.0\n"
    "2,bbb,mdm,xs,1000,25000,\"a,\"\"b\"\"\",4.0,0,pending,val_loss,10,100,1.0,1000000.0,3.0\n";

TEST(db_cli_export_csv_jsonl_runs_filter_and_file)
{
    const char *dbp = known_db();
    CHECK(dbp);
    harness_proc p = run("export", "--db", dbp, NULL, NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out, EXPORT_CSV);
    harness_proc_free(&p);

    p = run("export", "--db", dbp, "--format", "jsonl", "--runs=objective = 'mdm'");
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out,
              "{\"run_id\": 2, \"key\": \"bbb\", \"objective\": \"mdm\", \"model\": \"xs\", "
              "\"params\": 1000, \"unique_tokens\": 25000, \"quality\": \"a,\\\"b\\\"\", "
              "\"epochs\": 4.0, \"seed\": 0, \"status\": \"pending\", \"name\": \"val_loss\", "
              "\"step\": 0, \"tokens\": 0, \"epoch\": 0.0, \"flops\": 0.0, \"value\": 4.0}\n"
              "{\"run_id\": 2, \"key\": \"bbb\", \"objective\": \"mdm\", \"model\": \"xs\", "
              "\"params\": 1000, \"unique_tokens\": 25000, \"quality\": \"a,\\\"b\\\"\", "
              "\"epochs\": 4.0, \"seed\": 0, \"status\": \"pending\", \"name\": \"val_loss\", "
              "\"step\": 10, \"tokens\": 100, \"epoch\": 1.0, \"flops\": 1000000.0, "
              "\"value\": 3.0}\n");
    harness_proc_free(&p);

    /* -o: the same bytes in a file, and no temporary left behind. */
    char out[4096];
    harness_path(out, sizeof out, "out.csv");
    p = run("export", "--db", dbp, "-o", out, NULL);
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out, "");
    CHECK_CONTAINS(p.err, "exported 5 rows");
    harness_proc_free(&p);
    char *text = slurp_or_null(out);
    CHECK_STR(text, EXPORT_CSV);
    free(text);
    DIR *dir = opendir(harness_tmpdir());
    CHECK(dir);
    int temps = 0;
    for (struct dirent *e; (e = readdir(dir));)
        if (strstr(e->d_name, ".tmp.")) temps++;
    closedir(dir);
    CHECK_INT(temps, 0);

    /* A bad --runs is a usage error that writes nothing. */
    harness_path(out, sizeof out, "bad.csv");
    p = run7("export", "--db", dbp, "--runs", "nosuchcolumn = 1", "-o", out);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--runs");
    CHECK_CONTAINS(p.err, "no such column: nosuchcolumn");
    CHECK(access(out, F_OK) != 0);
    harness_proc_free(&p);
}

static long long count_metrics(const char *path)
{
    char err[512];
    long long n = -1;
    db *d = db_open(path, DB_READONLY, err, sizeof err);
    if (d) db_query_int(d, "SELECT count(*) FROM metrics", &n);
    db_close(d);
    return n;
}

TEST(db_cli_sql_refuses_writes)
{
    const char *dbp = known_db();
    CHECK(dbp);
    const char *writes[] = {"INSERT INTO runs (key, config) VALUES ('x', '{}')",
                            "DELETE FROM metrics",
                            "DROP TABLE metrics",
                            "ATTACH DATABASE 'evil.db' AS evil",
                            "PRAGMA user_version = 0",
                            "PRAGMA journal_mode = DELETE",
                            "UPDATE runs SET status = 'done'",
                            "CREATE TABLE t (x)",
                            "SELECT 1; DELETE FROM metrics"};
    for (size_t i = 0; i < sizeof writes / sizeof *writes; i++) {
        harness_proc p = run("sql", writes[i], "--db", dbp, NULL, NULL);
        if (p.status != 2) fprintf(stderr, "not refused: %s\n", writes[i]);
        CHECK_INT(p.status, 2);
        CHECK(strstr(p.err, "read-only") || strstr(p.err, "one statement"));
        CHECK_STR(p.out, "");
        harness_proc_free(&p);
    }
    harness_proc p = run("sql", "DROP TABLE metrics", "--db", dbp, NULL, NULL);
    CHECK_CONTAINS(p.err, "DROP TABLE is refused; xover sql only reads");
    harness_proc_free(&p);
    p = run("sql", "ATTACH DATABASE 'evil.db' AS evil", "--db", dbp, NULL, NULL);
    CHECK_CONTAINS(p.err, "ATTACH");
    harness_proc_free(&p);
    CHECK_INT(count_metrics(dbp), 5);
    char evil[4096];
    harness_path(evil, sizeof evil, "evil.db");
    CHECK(access(evil, F_OK) != 0);
    /* A SQL error is the user's: exit 2 with SQLite's message. */
    p = run("sql", "SELECT * FROM nope", "--db", dbp, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "no such table: nope");
    harness_proc_free(&p);
}

TEST(db_cli_bad_arguments)
{
    const char *dbp = known_db();
    CHECK(dbp);
    harness_proc p = run("sql", "--fromat", "csv", "SELECT 1", "--db", dbp);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "did you mean '--format'?");
    harness_proc_free(&p);
    p = run("export", "--db", dbp, "--rnus", "1", NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "did you mean '--runs'?");
    harness_proc_free(&p);
    p = run("sql", "SELECT 1", "--db", dbp, "--format", "xml");
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "unknown format 'xml' (one of table, csv, json, jsonl, md)");
    harness_proc_free(&p);
    p = run("export", "--db", dbp, "--format", "json", NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "unknown format 'json' (one of csv, jsonl); did you mean 'jsonl'?");
    harness_proc_free(&p);
    p = run("sql", "--db", dbp, NULL, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "give the query");
    harness_proc_free(&p);
    p = run("sql", "SELECT 1", "SELECT 2", "--db", dbp, NULL);
    CHECK_INT(p.status, 2);
    harness_proc_free(&p);
    p = run("db", NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "init or check");
    harness_proc_free(&p);
    p = run("db", "chek", NULL, NULL, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "did you mean 'check'?");
    harness_proc_free(&p);
    p = run("db", "init", "a.db", "b.db", NULL, NULL);
    CHECK_INT(p.status, 2);
    harness_proc_free(&p);

    /* A missing database is an error for every reader, and is not created. */
    char missing[4096];
    harness_path(missing, sizeof missing, "missing.db");
    const char *readers[][4] = {{"sql", "SELECT 1", "--db", missing},
                                {"export", "--db", missing, NULL},
                                {"db", "check", "--db", missing}};
    for (int i = 0; i < 3; i++) {
        p = run(readers[i][0], readers[i][1], readers[i][2], readers[i][3], NULL, NULL);
        CHECK_INT(p.status, 2);
        CHECK_CONTAINS(p.err, "no database at");
        CHECK_CONTAINS(p.err, "xover db init");
        harness_proc_free(&p);
        CHECK(access(missing, F_OK) != 0);
    }
}

TEST(db_cli_init_check_env_and_newer_version)
{
    char path[4096];
    harness_path(path, sizeof path, "env.db");
    setenv("XOVER_DB", path, 1);
    harness_proc p = run("db", "init", NULL, NULL, NULL, NULL);
    CHECK_INT(p.status, 0);
    char want[4200];
    snprintf(want, sizeof want, "created %s (schema version %d)\n", path, db_schema_version());
    CHECK_STR(p.out, want);
    harness_proc_free(&p);
    p = run("db", "init", path, NULL, NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "is up to date");
    harness_proc_free(&p);
    p = run("sql", "SELECT count(*) AS n FROM runs", "--format", "csv", NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out, "n\n0\n");
    harness_proc_free(&p);
    unsetenv("XOVER_DB");

    const char *dbp = known_db();
    CHECK(dbp);
    p = run("db", "check", "--db", dbp, NULL, NULL);
    CHECK_INT(p.status, 0);
    CHECK_CONTAINS(p.out, "integrity  ok\n");
    CHECK_CONTAINS(p.out, "sweeps     0\n");
    CHECK_CONTAINS(p.out, "runs       2 (pending 2, running 0, done 0, failed 0, interrupted 0)\n");
    CHECK_CONTAINS(p.out, "metrics    5 points in 2 series\n");
    harness_proc_free(&p);

    /* Written by a newer xover: refused by every command. */
    char err[512];
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    CHECK_INT(db_exec(d, "PRAGMA user_version = 1000"), DB_OK);
    db_close(d);
    p = run("sql", "SELECT 1", "--db", path, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "newer xover");
    harness_proc_free(&p);
    p = run("db", "init", path, NULL, NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "schema version 1000");
    harness_proc_free(&p);
}

TEST(db_cli_check_finds_damage)
{
    const char *dbp = known_db();
    CHECK(dbp);
    char err[512];
    long long root = 0, page = 0;
    db *d = db_open(dbp, DB_READONLY, err, sizeof err);
    CHECK(d);
    CHECK_INT(db_query_int(d, "SELECT rootpage FROM sqlite_master WHERE name = 'metrics'", &root),
              DB_OK);
    CHECK_INT(db_query_int(d, "PRAGMA page_size", &page), DB_OK);
    db_close(d);
    /* The closed database's -wal may still hold copies of its pages (the main
     * file has them all: test_db_readers.c); damage the file alone. */
    char side[600];
    snprintf(side, sizeof side, "%s-wal", dbp);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", dbp);
    unlink(side);
    /* Overwrite the metrics table's root page with garbage. */
    FILE *f = fopen(dbp, "r+b");
    CHECK(f);
    char junk[65536];
    memset(junk, 0x5a, sizeof junk);
    CHECK(page > 0 && page <= (long long)sizeof junk && root > 1);
    fseek(f, (long)((root - 1) * page), SEEK_SET);
    fwrite(junk, 1, (size_t)page, f);
    fclose(f);
    harness_proc p = run("db", "check", "--db", dbp, NULL, NULL);
    CHECK_INT(p.status, 1);
    CHECK_CONTAINS(p.out, "integrity  FAILED");
    CHECK_CONTAINS(p.err, "is damaged");
    harness_proc_free(&p);
}

/* A database cut short made `db check` exit 2 (bad usage) where its help
 * promises 1 for damage; `--db` naming a FIFO hung in open(2). */
TEST(db_cli_check_truncated_is_damage_and_a_fifo_is_refused)
{
    const char *dbp = known_db();
    CHECK(dbp);
    char side[600];
    snprintf(side, sizeof side, "%s-wal", dbp);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", dbp);
    unlink(side);
    size_t n = 0;
    char *whole = harness_slurp(dbp, &n);
    CHECK(whole && n > 8192);
    /* cut inside the header, after the first page, and at half */
    const size_t cuts[] = {50, 4096, n / 2};
    for (size_t i = 0; i < 3; i++) {
        char cut[600];
        snprintf(cut, sizeof cut, "%s.cut%zu", dbp, i);
        FILE *f = fopen(cut, "wb");
        CHECK(f);
        fwrite(whole, 1, cuts[i], f);
        fclose(f);
        harness_proc p = run("db", "check", "--db", cut, NULL, NULL);
        if (p.status != 1) fprintf(stderr, "cut at %zu: exit %d: %s", cuts[i], p.status, p.err);
        CHECK_INT(p.status, 1);
        CHECK_CONTAINS(p.out, "integrity  FAILED");
        CHECK_CONTAINS(p.err, "is damaged");
        harness_proc_free(&p);
    }
    free(whole);
    /* a FIFO (nobody writes to it): refused at once, not waited on */
    char fifo[600];
    harness_path(fifo, sizeof fifo, "fifo.db");
    CHECK_INT(mkfifo(fifo, 0644), 0);
    const char *cmds[][2] = {{"db", "check"}, {"sql", "SELECT 1"}, {"status", "somesweep"}};
    for (size_t i = 0; i < 3; i++) {
        const char *argv[] = {"timeout", "20", harness_xover(), cmds[i][0], cmds[i][1], "--db", fifo, NULL};
        harness_proc p = harness_run(argv, NULL);
        if (p.status != 2) fprintf(stderr, "%s: exit %d: %s", cmds[i][0], p.status, p.err);
        CHECK_INT(p.status, 2);
        CHECK_CONTAINS(p.err, "is a FIFO, not a database file");
        harness_proc_free(&p);
    }
    /* a directory too */
    harness_proc p = run("db", "check", "--db", harness_tmpdir(), NULL, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "is a directory, not a database file");
    harness_proc_free(&p);
}
