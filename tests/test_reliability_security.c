/*
 * test_reliability_security.c — what a sweep file or a database cannot make
 * xover do: shell metacharacters and option-looking values in an external
 * trainer's placeholders stay one argument each (there is no shell); paths
 * built from names cannot leave the run directory; a run_dir read from a
 * database is neither written to nor deleted unless it is a run's; `xover
 * sql` cannot write a file (VACUUM INTO), load code, or create anything.
 */
#include "tests/reliability.h"

#include <jansson.h>
#include <sys/stat.h>

static char g_db[512], g_runs[512], g_sweep[512];

/* A trainer that records its argv (as JSON) in its run directory. */
static const char *argv_trainer(void)
{
    static char path[512];
    harness_path(path, sizeof path, "argv_trainer.py");
    harness_write(path, "import json, os, sys\n"
                        "open(os.path.join(os.environ['XOVER_RUN_DIR'], 'argv.json'), 'w').write(json.dumps(sys.argv))\n"
                        "print(json.dumps({'step': 1, 'train_loss': 1.5}))\n");
    return path;
}

static void paths(void)
{
    harness_path(g_db, sizeof g_db, "s.db");
    harness_path(g_runs, sizeof g_runs, "runs");
    harness_path(g_sweep, sizeof g_sweep, "s.yaml");
}

static harness_proc run_sweep(const char *extra)
{
    const char *argv[] = {harness_xover(), "run", g_sweep, "--db", g_db, "--runs-dir", g_runs, extra, NULL};
    return harness_run(argv, NULL);
}

TEST(security_placeholders_never_reach_a_shell_nor_split)
{
    paths();
    const char *tr = argv_trainer();
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "sweep: sec\n"
             "data: {corpus: synthetic, vocab: 300, val_tokens: 4k}\n"
             "models: {xxs: {layers: 1, dim: 16, heads: 2}}\n"
             "grid:\n"
             "  objective: [ar]\n"
             "  tag: ['a b', '; touch PWNED1', '$(touch PWNED2)', '`touch PWNED3`', '--lr=9 --evil', '*', "
             "'x\" y', '| cat /etc/passwd']\n"
             "trainer:\n"
             "  command: [python3, '%s', --tag, '{tag}', '--out={run_dir}']\n"
             "  metrics: jsonl\n",
             tr);
    harness_write(g_sweep, yaml);
    harness_proc r = run_sweep(NULL);
    if (r.status) fprintf(stderr, "%s", r.err);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'done'"), 8);
    /* Each run got exactly its 4 arguments, the tag whole as one of them. */
    char *dirs = helper_qtext(g_db, "SELECT run_dir FROM runs ORDER BY id");
    CHECK(dirs);
    int n = 0;
    for (char *line = dirs; *line;) {
        char *nl = strchr(line, '\n');
        *nl = 0;
        if (nl > line && nl[-1] == ' ') nl[-1] = 0;
        char path[1024];
        snprintf(path, sizeof path, "%s/argv.json", line);
        char *a = harness_slurp(path, NULL);
        CHECK(a);
        json_error_t e;
        json_t *arr = json_loads(a, 0, &e);
        free(a);
        CHECK(json_is_array(arr));
        /* python's sys.argv: the script, --tag, TAG, --out=DIR */
        int ok = json_array_size(arr) == 4 && !strcmp(json_string_value(json_array_get(arr, 1)), "--tag");
        const char *tag = json_string_value(json_array_get(arr, 2));
        const char *out = json_string_value(json_array_get(arr, 3));
        ok = ok && tag && out && !strncmp(out, "--out=", 6) && !strcmp(out + 6, line);
        ok = ok && (strchr(tag, ' ') || strchr(tag, '$') || strchr(tag, '`') || !strcmp(tag, "*"));
        if (!ok) {
            char *dump = json_dumps(arr, 0);
            fprintf(stderr, "argv of %s: %s\n", line, dump);
            free(dump);
        }
        json_decref(arr);
        CHECK(ok);
        n++;
        line = nl + 1;
    }
    free(dirs);
    CHECK_INT(n, 8);
    /* nothing was run by a shell, here or in the working directory */
    const char *pw[] = {"PWNED1", "PWNED2", "PWNED3"};
    for (int i = 0; i < 3; i++) {
        char path[512];
        harness_path(path, sizeof path, pw[i]);
        CHECK(access(path, F_OK) != 0);
        CHECK(access(pw[i], F_OK) != 0);
    }
}

TEST(security_names_cannot_move_files_out_of_the_run_directory)
{
    paths();
    const char *tr = argv_trainer();
    /* metrics_file templates whose values climb out or are absolute */
    static const char *const templates[] = {"{run_dir}/../../{tag}.jsonl", "{tag}", "{run_dir}/{tag}"};
    static const char *const tags[] = {"x", "/etc/passwd", "../../../etc/passwd"};
    for (int t = 0; t < 3; t++) {
        char yaml[4096];
        snprintf(yaml, sizeof yaml,
                 "sweep: esc%d\n"
                 "data: {corpus: synthetic, vocab: 300, val_tokens: 4k}\n"
                 "models: {xxs: {layers: 1, dim: 16, heads: 2}}\n"
                 "grid: {objective: [ar], tag: ['%s']}\n"
                 "trainer:\n"
                 "  command: [python3, '%s', --tag, '{tag}', '--out={run_dir}']\n"
                 "  metrics: jsonl\n"
                 "  metrics_file: '%s'\n",
                 t, tags[t], tr, templates[t]);
        harness_write(g_sweep, yaml);
        harness_proc r = run_sweep(NULL);
        CHECK_INT(r.status, 1);
        CHECK_CONTAINS(r.err, "outside the run directory");
        harness_proc_free(&r);
    }
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'failed' AND "
                             "error LIKE 'trainer.metrics_file resolves to %outside the run directory%'"), 3);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM metrics"), 0);
    /* sweep names become directories: only plain names are accepted */
    static const char *const bad[] = {"../evil", "/tmp/evil", "a/b", ".hidden"};
    for (int i = 0; i < 4; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, "sweep: '%s'\ngrid: {objective: [ar]}\n", bad[i]);
        harness_write(g_sweep, yaml);
        harness_proc r = run_sweep(NULL);
        CHECK_INT(r.status, 2);
        CHECK_CONTAINS(r.err, "must be letters, digits");
        harness_proc_free(&r);
    }
}

TEST(security_a_run_dir_from_the_database_is_not_trusted)
{
    paths();
    rel_write_sweep("s.yaml", "trust", "objective: [ar], unique_tokens: [4k], total_tokens: [8k]");
    harness_proc r = run_sweep(NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    /* someone points the run at a directory of theirs... */
    char victim[512], keep[600];
    harness_path(victim, sizeof victim, "victim");
    mkdir(victim, 0755);
    snprintf(keep, sizeof keep, "%s/precious", victim);
    harness_write(keep, "do not delete\n");
    char err[512], sql[1200];
    db *d = db_open(g_db, DB_WRITE, err, sizeof err);
    CHECK(d);
    snprintf(sql, sizeof sql, "UPDATE runs SET run_dir = '%s', status = 'failed'", victim);
    CHECK_INT(db_exec(d, sql), 0);
    db_close(d);
    /* ...a retry trains in the run's own directory, not there */
    r = run_sweep("--retry-failed");
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/config.json", victim);
    CHECK(access(cfg, F_OK) != 0);
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE run_dir LIKE '%/runs/trust/' || key"), 1);
    /* ...and `xover rm` does not delete it */
    d = db_open(g_db, DB_WRITE, err, sizeof err);
    CHECK(d);
    CHECK_INT(db_exec(d, sql), 0);
    db_close(d);
    const char *rm[] = {harness_xover(), "rm", "trust", "--db", g_db, "--yes", NULL};
    r = harness_run(rm, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.err, "not removing");
    harness_proc_free(&r);
    CHECK(access(keep, F_OK) == 0);
}

TEST(security_sql_cannot_write_files_load_code_or_create)
{
    paths();
    const char *init[] = {harness_xover(), "db", "init", "--db", g_db, NULL};
    harness_proc r = harness_run(init, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    char out[512], vac[700];
    harness_path(out, sizeof out, "copy.db");
    snprintf(vac, sizeof vac, "VACUUM INTO '%s'", out);
    const char *stmts[] = {vac, "SELECT load_extension('/lib/x86_64-linux-gnu/libc.so.6')", "CREATE TEMP TABLE t (x)",
                           "CREATE TEMP VIEW v AS SELECT 1", "PRAGMA wal_checkpoint(TRUNCATE)", "BEGIN IMMEDIATE",
                           "REINDEX", "ANALYZE"};
    for (size_t i = 0; i < sizeof stmts / sizeof *stmts; i++) {
        const char *argv[] = {harness_xover(), "sql", stmts[i], "--db", g_db, NULL};
        r = harness_run(argv, NULL);
        if (r.status != 2) fprintf(stderr, "not refused: %s\n", stmts[i]);
        CHECK_INT(r.status, 2);
        CHECK(strstr(r.err, "refused") || strstr(r.err, "not authorized"));
        harness_proc_free(&r);
    }
    CHECK(access(out, F_OK) != 0);
}

/* A fake `sbatch` first on PATH: it records that it was called, runs the
 * job script as its task 0 would run (sh SCRIPT), and answers a job id.
 * The worker the script starts finds no run at index 999999 and ends. */
static void fake_sbatch(char *bin, size_t n)
{
    harness_path(bin, n, "bin");
    mkdir(bin, 0755);
    char path[700], text[1600], called[600];
    snprintf(path, sizeof path, "%s/sbatch", bin);
    harness_path(called, sizeof called, "SBATCH_CALLED");
    snprintf(text, sizeof text,
             "#!/bin/sh\n"
             "for a; do script=$a; done\n"
             "echo \"$script\" >> '%s'\n"
             "SLURM_ARRAY_TASK_ID=999999 sh \"$script\" >/dev/null 2>&1\n"
             "echo 4242\n",
             called);
    harness_write(path, text);
    chmod(path, 0755);
    char pathenv[4096];
    snprintf(pathenv, sizeof pathenv, "%s:%s", bin, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", pathenv, 1);
}

/* Options are shell-quoted in the script, but also echoed into its '#'
 * comment lines, where a newline ends the comment: the rest ran as a
 * command inside the job. A newline in --runs-dir did the same through the
 * list file's name (and split the list). Refused now, before anything is
 * written: exit 2, no script, no database. */
TEST(security_slurm_job_script_takes_no_control_characters)
{
    paths();
    char bin[512], called[512], pwned[512], arg[1200], runs_nl[1200];
    fake_sbatch(bin, sizeof bin);
    harness_path(called, sizeof called, "SBATCH_CALLED");
    harness_path(pwned, sizeof pwned, "PWNED");
    rel_write_sweep("s.yaml", "inj", "objective: [ar], unique_tokens: [4k], total_tokens: [8k]");

    /* the control: an ordinary option reaches the fake sbatch, which runs the script */
    const char *ok[] = {harness_xover(), "run", g_sweep, "--db", g_db, "--runs-dir", g_runs, "--backend", "slurm",
                        "--no-wait", "--sbatch-arg=--comment=fine", NULL};
    harness_proc r = harness_run(ok, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    CHECK(access(called, F_OK) == 0);
    unlink(called);
    unlink(g_db);

    snprintf(arg, sizeof arg, "--comment=x\ntouch %s #", pwned);
    snprintf(runs_nl, sizeof runs_nl, "%s/runs2\ntouch %s #", harness_tmpdir(), pwned);
    const char *cases[][2] = {{"--sbatch-arg", arg}, {"--runs-dir", runs_nl}, {"--partition", "debug\rx"}};
    for (size_t i = 0; i < 3; i++) {
        const char *argv[] = {harness_xover(), "run", g_sweep, "--db", g_db, "--runs-dir", g_runs, "--backend", "slurm",
                              "--no-wait", cases[i][0], cases[i][1], NULL};
        r = harness_run(argv, NULL);
        if (r.status != 2) fprintf(stderr, "%s: exit %d: %s", cases[i][0], r.status, r.err);
        CHECK_INT(r.status, 2);
        CHECK_CONTAINS(r.err, cases[i][0]);
        CHECK_CONTAINS(r.err, "holds a control character");
        harness_proc_free(&r);
        CHECK(access(pwned, F_OK) != 0);
        CHECK(access(called, F_OK) != 0);
        CHECK(access(g_db, F_OK) != 0);
    }
}

/* `SELECT fts3_tokenizer('simple')` returned the address of SQLite's
 * tokenizer module (and its two-argument form installs one from an
 * address: code execution); a recursive CTE without end ran forever. */
TEST(security_sql_refuses_pointer_functions_and_stops_runaway_queries)
{
    paths();
    const char *init[] = {harness_xover(), "db", "init", "--db", g_db, NULL};
    harness_proc r = harness_run(init, NULL);
    CHECK_INT(r.status, 0);
    harness_proc_free(&r);
    /* a database may carry a view that calls it */
    char err[512];
    db *d = db_open(g_db, DB_WRITE, err, sizeof err);
    CHECK(d);
    CHECK_INT(db_exec(d, "CREATE VIEW leak AS SELECT fts3_tokenizer('simple') AS p"), 0);
    db_close(d);
    const char *stmts[] = {"SELECT fts3_tokenizer('simple')", "SELECT hex(FTS3_TOKENIZER('porter'))",
                           "SELECT fts3_tokenizer('evil', x'4141414141414141')", "SELECT * FROM leak"};
    for (size_t i = 0; i < sizeof stmts / sizeof *stmts; i++) {
        const char *argv[] = {harness_xover(), "sql", stmts[i], "--db", g_db, NULL};
        r = harness_run(argv, NULL);
        if (r.status != 2) fprintf(stderr, "not refused: %s: %s", stmts[i], r.out);
        CHECK_INT(r.status, 2);
        /* in a view SQLite itself refuses it ("unsafe use of fts3_tokenizer()") */
        CHECK_CONTAINS(r.err, i < 3 ? "fts3_tokenizer() is refused" : "fts3_tokenizer()");
        harness_proc_free(&r);
    }
    /* ordinary functions still work */
    const char *fine[] = {harness_xover(), "sql", "SELECT upper('a') || abs(-2), json_array(1)", "--db", g_db,
                          "--format", "csv", NULL};
    r = harness_run(fine, NULL);
    CHECK_INT(r.status, 0);
    CHECK_CONTAINS(r.out, "A2,[1]");
    harness_proc_free(&r);
    /* a query without end is stopped at its time limit, saying so */
    const char *loop[] = {harness_xover(), "sql",
                          "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
                          "--db", g_db, "--timeout", "1s", NULL};
    r = harness_run(loop, NULL);
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "the query was stopped after running 1s, its time limit (--timeout");
    harness_proc_free(&r);
    const char *bad[] = {harness_xover(), "sql", "SELECT 1", "--db", g_db, "--timeout", "nan", NULL};
    r = harness_run(bad, NULL);
    CHECK_INT(r.status, 2);
    harness_proc_free(&r);
}

/* A symbolic link at DB.SWEEP.lock made the driver truncate and overwrite
 * its target with the holder's line; a --db given through a symbolic link
 * had a lock of its own, so a second driver of the same sweep ran. Lock
 * files are opened with O_NOFOLLOW and must be regular files, and the
 * sweep lock is named after the database's real path. */
TEST(security_lock_files_follow_no_symlink_and_one_database_has_one_lock)
{
    paths();
    rel_write_sweep("s.yaml", "lk", "objective: [ar, mdm], unique_tokens: [4k], total_tokens: [160k]");
    char victim[512], lockp[700], text[64];
    harness_path(victim, sizeof victim, "victim");
    harness_write(victim, "precious\n");
    snprintf(lockp, sizeof lockp, "%s.lk.lock", g_db);
    CHECK_INT(symlink(victim, lockp), 0);
    harness_proc r = rel_run(g_sweep, g_db, g_runs, NULL);
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "is not a regular file");
    harness_proc_free(&r);
    char *v = harness_slurp(victim, NULL);
    CHECK(v);
    snprintf(text, sizeof text, "%s", v);
    free(v);
    CHECK_STR(text, "precious\n");
    CHECK_INT(helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'running' OR status = 'done'"), 0);
    unlink(lockp);
    /* nor a run lock: a link at RUN_DIR/lock fails that run, the target untouched */
    CHECK_INT(mkdir(g_runs, 0755), 0);
    char sdir[700];
    snprintf(sdir, sizeof sdir, "%s/lk", g_runs);
    CHECK_INT(mkdir(sdir, 0755), 0);
    const char *pl[] = {harness_xover(), "plan", g_sweep, "--format", "json", "--db", g_db, NULL};
    r = harness_run(pl, NULL);
    CHECK_INT(r.status, 0);
    const char *k = strstr(r.out, "\"key\":\"");
    CHECK(k);
    char rdir[800], rlock[900], key[65];
    snprintf(key, sizeof key, "%.64s", k + 7);
    snprintf(rdir, sizeof rdir, "%s/%s", sdir, key);
    harness_proc_free(&r);
    CHECK_INT(mkdir(rdir, 0755), 0);
    snprintf(rlock, sizeof rlock, "%s/lock", rdir);
    CHECK_INT(symlink(victim, rlock), 0);
    char only[80];
    snprintf(only, sizeof only, "--only=%.12s", key);
    r = rel_run(g_sweep, g_db, g_runs, only); /* that run alone: it fails at once */
    CHECK_INT(r.status, 1);
    CHECK_CONTAINS(r.err, "is not a regular file");
    harness_proc_free(&r);
    v = harness_slurp(victim, NULL);
    CHECK(v);
    snprintf(text, sizeof text, "%s", v);
    free(v);
    CHECK_STR(text, "precious\n");
    unlink(rlock);

    /* one database, two names: the second driver is refused all the same */
    char alias[512], log[512];
    harness_path(alias, sizeof alias, "alias.db");
    harness_path(log, sizeof log, "a.log");
    CHECK_INT(symlink(g_db, alias), 0);
    pid_t a = rel_spawn(g_sweep, g_db, g_runs, "--retry-failed", log);
    int running = 0;
    for (int i = 0; i < 1000 && !running; i++) {
        rel_sleep_ms(10);
        running = helper_qint(g_db, "SELECT count(*) FROM runs WHERE status = 'running'") > 0;
    }
    harness_proc b = rel_run(g_sweep, alias, g_runs, "--retry-failed");
    /* the first has proved its point: stop it (it checkpoints, exit 130) */
    kill(a, SIGINT);
    int st;
    waitpid(a, &st, 0);
    CHECK(running);
    CHECK_INT(b.status, 1);
    CHECK_CONTAINS(b.err, "is already being run on");
    harness_proc_free(&b);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 130);
}
