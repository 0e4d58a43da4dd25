/*
 * helpers.c — what several test files share (see helpers.h).
 */
#include "tests/helpers.h"
#include "tests/harness.h"
#include "orchestrator/db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long long helper_qint(const char *dbpath, const char *sql)
{
    char err[512];
    db *d = db_open(dbpath, DB_READONLY, err, sizeof err);
    if (!d) return -1000;
    long long v = -999;
    if (db_query_int(d, sql, &v)) v = -998;
    db_close(d);
    return v;
}

static int append_row(void *ctx, int ncol, const db_value *v)
{
    char **buf = ctx;
    char line[512];
    size_t k = 0;
    for (int c = 0; c < ncol; c++) {
        if (v[c].type == DB_NULL) k += (size_t)snprintf(line + k, sizeof line - k, "NULL ");
        else if (v[c].type == DB_INT) k += (size_t)snprintf(line + k, sizeof line - k, "%lld ", v[c].i);
        else if (v[c].type == DB_REAL) k += (size_t)snprintf(line + k, sizeof line - k, "%.17g ", v[c].d);
        else k += (size_t)snprintf(line + k, sizeof line - k, "%s ", v[c].s);
        if (k >= sizeof line) k = sizeof line - 1;
    }
    size_t a = *buf ? strlen(*buf) : 0;
    char *n = realloc(*buf, a + k + 2);
    if (!n) return 1;
    memcpy(n + a, line, k);
    n[a + k] = '\n';
    n[a + k + 1] = 0;
    *buf = n;
    return 0;
}

char *helper_qtext(const char *dbpath, const char *sql)
{
    char err[512];
    db *d = db_open(dbpath, DB_READONLY, err, sizeof err);
    if (!d) return NULL;
    char *buf = NULL;
    db_sink sink = {NULL, append_row, &buf};
    int rc = db_query(d, sql, &sink);
    db_close(d);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf ? buf : strdup("");
}

char *helper_dump_metrics(const char *dbpath)
{
    return helper_qtext(dbpath, "SELECT r.key, m.name, m.step, m.value FROM metrics m JOIN runs r ON r.id = m.run_id "
                                "ORDER BY r.key, m.name, m.step");
}

const char *helper_fake_trainer(void)
{
    static char path[1024];
    char cwd[512];
    if (!getcwd(cwd, sizeof cwd)) return "tests/fake_trainer.py";
    snprintf(path, sizeof path, "%s/tests/fake_trainer.py", cwd);
    return path;
}

const char *helper_old_schema(void)
{
    static char *text;
    if (!text) text = harness_slurp("tests/fixtures/schema-5.sql", NULL);
    return text;
}
