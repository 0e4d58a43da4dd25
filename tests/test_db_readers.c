/*
 * test_db_readers.c — a reader with no busy timeout (the plain sqlite3 shell)
 * never sees "database is locked" while xover's writers come and go.
 *
 * The risky instant is a writer (the driver at the end of a sweep) closing as
 * the last connection: by default SQLite then takes an exclusive lock to
 * checkpoint and delete the WAL, and a reader opening right then fails at
 * once (seen here about once per 850 reads before db_close() checkpointed
 * passively with the close-time checkpoint turned off). A writer OPENING a
 * WAL database nobody has open can still briefly lock out a reader with no
 * busy timeout; during a sweep the driver stays open, so that is its start.
 */
#include "tests/harness.h"
#include "orchestrator/db/db.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(db_readers_never_locked_while_a_writer_works_and_closes)
{
    char path[512], err[512];
    harness_path(path, sizeof path, "r.db");
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d != NULL);
    db_close(d);
    pid_t w = fork();
    CHECK(w >= 0);
    if (w == 0) {
        /* A driver's life, ten times over: open, commit many small
         * transactions, close as the only connection. */
        for (int round = 0; round < 10; round++) {
            db *x = db_open(path, DB_WRITE, err, sizeof err);
            if (!x) _exit(3);
            for (int i = 0; i < 40; i++) {
                char name[32];
                long long id;
                snprintf(name, sizeof name, "s%d-%d", round, i);
                if (db_sweep_put(x, name, "sweep: s\n", "h", &id)) _exit(4);
            }
            db_close(x);
            usleep(20000); /* readers meet the database with no writer too */
        }
        _exit(0);
    }
    int reads = 0, failed = 0, st;
    while (waitpid(w, &st, WNOHANG) == 0) {
        const char *argv[] = {"sqlite3", path, "SELECT count(*) FROM sweeps", NULL};
        harness_proc p = harness_run(argv, NULL);
        if (p.status != 0) {
            failed++;
            fprintf(stderr, "    sqlite3: %s", p.err);
        }
        harness_proc_free(&p);
        reads++;
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fprintf(stderr, "    %d reads, %d failed\n", reads, failed);
    CHECK(reads >= 10);
    CHECK_INT(failed, 0);
}

TEST(db_close_leaves_every_commit_in_the_main_file)
{
    /* After a writer closes, the database file alone (without its -wal)
     * holds what was committed: copied on its own, nothing is lost. */
    char path[512], copy[512], err[512];
    harness_path(path, sizeof path, "c.db");
    harness_path(copy, sizeof copy, "copy.db");
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d != NULL);
    long long id;
    CHECK_INT(db_sweep_put(d, "s", "sweep: s\n", "h", &id), 0);
    db_close(d);
    char *bytes;
    size_t n;
    bytes = harness_slurp(path, &n);
    CHECK(bytes != NULL);
    FILE *f = fopen(copy, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(bytes, 1, n, f) == n);
    fclose(f);
    free(bytes);
    const char *argv[] = {"sqlite3", copy, "SELECT name FROM sweeps", NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    CHECK_STR(p.out, "s\n");
    harness_proc_free(&p);
}
