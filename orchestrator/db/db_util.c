/*
 * db_util.c — what every file of the db module uses: error messages, the
 * cached statements and their bindings, running SQL that returns no rows, and
 * transactions. It calls nothing else of the module (db.c, db_runs.c,
 * db_schema.c, ... call it), so the module has no call circle.
 */
#include "orchestrator/db/db_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *db_sqlite_version(void) { return sqlite3_libversion(); }

int db_fail(db *d, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof d->err, fmt, ap);
    va_end(ap);
    return code;
}

int db_sqlite_fail(db *d, int rc, const char *what)
{
    int code;
    switch (rc & 0xff) {
    case SQLITE_ERROR:
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
        code = DB_EINPUT; /* the statement or its values are at fault */
        break;
    case SQLITE_AUTH:
    case SQLITE_READONLY:
        code = DB_EDENIED;
        break;
    default:
        code = DB_EIO; /* busy, I/O, corrupt, full, out of memory */
        break;
    }
    return db_fail(d, code, "%s: %s", what, sqlite3_errmsg(d->h));
}

const char *db_errmsg(const db *d) { return d ? d->err : "no database"; }

long long db_total_changes(db *d) { return d ? sqlite3_total_changes64(d->h) : 0; }

long long db_data_version(db *d)
{
    long long v = -1;
    return d && db_read_int(d, "PRAGMA data_version", &v) == DB_OK ? v : -1;
}

sqlite3_stmt *db_stmt(db *d, int which, const char *sql)
{
    sqlite3_stmt *st = d->st[which];
    if (!st) {
        int rc = sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK) {
            db_sqlite_fail(d, rc, "preparing a statement");
            sqlite3_finalize(st);
            return NULL;
        }
        d->st[which] = st;
    } else {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    return st;
}

void db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

void db_bind_int(sqlite3_stmt *st, int i, long long v)
{
    if (v >= 0) sqlite3_bind_int64(st, i, v);
    else sqlite3_bind_null(st, i);
}

void db_bind_real(sqlite3_stmt *st, int i, double v)
{
    if (isfinite(v)) sqlite3_bind_double(st, i, v);
    else sqlite3_bind_null(st, i);
}

int db_step_done(db *d, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int out = DB_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) out = db_sqlite_fail(d, rc, what);
    sqlite3_reset(st);
    return out;
}

int db_exec(db *d, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(d->h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int code = db_sqlite_fail(d, rc, "SQL error");
        if (msg) {
            db_fail(d, code, "SQL error: %s", msg);
            sqlite3_free(msg);
        }
        return code;
    }
    return DB_OK;
}

int db_begin(db *d)
{
    int rc = db_exec(d, "BEGIN IMMEDIATE");
    d->batch = rc == DB_OK;
    return rc;
}

int db_rollback(db *d)
{
    d->batch = 0;
    return sqlite3_get_autocommit(d->h) ? DB_OK : db_exec(d, "ROLLBACK");
}

void db_undo_keeping_error(db *d, const char *undo_sql)
{
    char keep[sizeof d->err];
    memcpy(keep, d->err, sizeof keep);
    if (undo_sql) db_exec(d, undo_sql);
    else db_rollback(d);
    memcpy(d->err, keep, sizeof keep);
}

int db_read_int(db *d, const char *sql, long long *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(d->h, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    if (rc != SQLITE_OK) db_sqlite_fail(d, rc, "reading the database");
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? DB_OK : -1;
}


const char *db_skip_space(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ';') p++;
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n') p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            if (!e) return p + strlen(p);
            p = e + 2;
        } else {
            return p;
        }
    }
}

int db_stream(db *d, sqlite3_stmt *st, const db_sink *sink, const char *what)
{
    int n = sqlite3_column_count(st), rc;
    const char **names = calloc((size_t)n + 1, sizeof *names);
    db_value *vals = calloc((size_t)n + 1, sizeof *vals);
    int out = DB_OK;
    if (!names || !vals) { out = db_fail(d, DB_EIO, "out of memory"); goto done; }
    for (int i = 0; i < n; i++) {
        names[i] = sqlite3_column_name(st, i);
        if (!names[i]) { out = db_fail(d, DB_EIO, "out of memory"); goto done; }
    }
    if (sink && sink->columns && sink->columns(sink->ctx, n, names)) {
        out = db_fail(d, DB_EABORT, "stopped");
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < n; i++) {
            db_value *v = &vals[i];
            memset(v, 0, sizeof *v);
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER: v->type = DB_INT; v->i = sqlite3_column_int64(st, i); break;
            case SQLITE_FLOAT: v->type = DB_REAL; v->d = sqlite3_column_double(st, i); break;
            case SQLITE_TEXT:
                v->type = DB_TEXT;
                v->s = (const char *)sqlite3_column_text(st, i);
                v->len = (size_t)sqlite3_column_bytes(st, i);
                break;
            case SQLITE_BLOB:
                v->type = DB_BLOB;
                v->s = sqlite3_column_blob(st, i);
                v->len = (size_t)sqlite3_column_bytes(st, i);
                break;
            default: v->type = DB_NULL; break;
            }
        }
        if (sink && sink->row && sink->row(sink->ctx, n, vals)) {
            out = db_fail(d, DB_EABORT, "stopped");
            goto done;
        }
    }
    if (rc != SQLITE_DONE) out = db_sqlite_fail(d, rc, what);
done:
    free(names);
    free(vals);
    sqlite3_finalize(st);
    return out;
}
