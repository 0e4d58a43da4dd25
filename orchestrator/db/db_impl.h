/*
 * db_impl.h — PRIVATE to orchestrator/db/: the handle's layout and helpers
 * shared by db.c (open, migrate, query, check) and db_runs.c (sweeps, runs,
 * metrics). Other modules include db.h only.
 */
#ifndef XOVER_DB_IMPL_H
#define XOVER_DB_IMPL_H

#include "orchestrator/db/db.h"

#include <sqlite3.h>

/* Cached prepared statements, prepared on first use (SQLITE_PREPARE_PERSISTENT). */
enum {
    ST_SWEEP_PUT,
    ST_SWEEP_ID,
    ST_SWEEP_EXISTS,
    ST_RUN_PUT,
    ST_LINK,
    ST_RUN_SET,
    ST_RUN_STARTED,
    ST_RUN_FINISHED,
    ST_SWEEP_RUNS,
    ST_RUN_BY_KEY,
    ST_STATUS_COUNTS,
    ST_RUN_EXISTS,
    ST_METRIC_PUT,
    ST_LAST_STEP,
    ST_COUNT
};

struct db {
    sqlite3 *h;
    int mode;          /* DB_WRITE or DB_READONLY */
    int version;       /* schema version now */
    int version_found; /* schema version when opened */
    char path[1024];
    char err[1024];
    /* The read-only guard's record of the first action it refused. */
    int denied;
    char denied_what[256];
    /* db_set_timeout: a query's budget in seconds (0 = none), and the
     * monotonic time past which the progress handler stops it. */
    double timeout, deadline;
    sqlite3_stmt *st[ST_COUNT];
};

/* Set d->err (printf-style) and return code. */
int db_fail(db *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Map an SQLite result code to a DB_E* code (the caller's input vs the
 * system's fault) and set d->err to "what: sqlite's message". */
int db_sqlite_fail(db *d, int rc, const char *what);
/* The cached statement `which`, reset with its bindings cleared; NULL with
 * d->err set if it does not prepare. */
sqlite3_stmt *db_stmt(db *d, int which, const char *sql);
/* Bind helpers: NULL / -1 / NaN become SQL NULL. */
void db_bind_text(sqlite3_stmt *st, int i, const char *s);
void db_bind_int(sqlite3_stmt *st, int i, long long v);
void db_bind_real(sqlite3_stmt *st, int i, double v);
/* Run a statement expected to finish in one step (no rows). */
int db_step_done(db *d, sqlite3_stmt *st, const char *what);

#endif
