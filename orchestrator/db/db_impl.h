/*
 * db_impl.h — PRIVATE to orchestrator/db/: the handle's layout and what the
 * module's files share. Other modules include db.h only.
 *
 * The files and who calls whom (one way, no circle):
 *   db.c          open/close, the read-only guard, db_query, db_check
 *                 -> db_schema.c, db_runs.c, db_util.c
 *   db_schema.c   schema.sql read as migrations + views; upgrading a
 *                 database; the metric rule                    -> db_util.c
 *   db_runs.c     what the driver writes: sweeps, runs, metrics -> db_util.c
 *   db_read.c     what the commands read, and what rm deletes
 *                 -> db.c (db_query, for the user's --runs text), db_util.c
 *   db_crossover.c  the crossover analysis's series            -> db_util.c
 *   db_xcache.c   the crossover cache (schema.sql, migration 6), kept by
 *                 db_runs.c, db_read.c and db_schema.c         -> db_util.c
 *   db_util.c     errors, cached statements, binds, transactions
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
    ST_XCACHE_SCOPE_RUN,
    ST_XCACHE_FORGET,
    ST_XCACHE_COMPUTE,
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
    int timed_out;     /* the progress handler stopped the statement */
    sqlite3_stmt *st[ST_COUNT];
    /* Inside db_begin .. db_commit: the crossover cache of the runs whose
     * points were stored is computed once, at db_commit (db_xcache.c). */
    int batch;
};

/* ---- db_util.c ---------------------------------------------------------- */

/* Set d->err (printf-style) and return code. */
int db_fail(db *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Map an SQLite result code to a DB_E* code (the caller's input vs the
 * system's fault) and set d->err to "what: sqlite's message". */
int db_sqlite_fail(db *d, int rc, const char *what);
/* Undo a failed transaction (undo_sql, or db_rollback when NULL) while
 * keeping the message of the failure that made it fail, not the undo's. */
void db_undo_keeping_error(db *d, const char *undo_sql);
/* The cached statement `which`, reset with its bindings cleared; NULL with
 * d->err set if it does not prepare. */
sqlite3_stmt *db_stmt(db *d, int which, const char *sql);
/* Bind helpers: NULL / -1 / NaN become SQL NULL. */
void db_bind_text(sqlite3_stmt *st, int i, const char *s);
void db_bind_int(sqlite3_stmt *st, int i, long long v);
void db_bind_real(sqlite3_stmt *st, int i, double v);
/* Run a statement expected to finish in one step (no rows). */
int db_step_done(db *d, sqlite3_stmt *st, const char *what);
/* The integer of the first row of sql (an internal query, no sink): DB_OK,
 * or -1 with d->err set. */
int db_read_int(db *d, const char *sql, long long *out);
/* Skip whitespace, ';' and SQL comments. */
const char *db_skip_space(const char *p);
/* Stream the rows of prepared statement st to sink (columns first; values
 * as db_query gives them), then finalize st. `what` names a failure. */
int db_stream(db *d, sqlite3_stmt *st, const db_sink *sink, const char *what);

/* ---- db_schema.c -------------------------------------------------------- */

/* A schema text (schema.sql's format) read into its parts: the migration
 * sections, numbered 1..n, and the views section, split into its CREATE
 * VIEW statements. Pointers are into `text`, the schema's own copy. */
#define DB_MAX_MIGRATIONS 64
#define DB_MAX_VIEWS 64
typedef struct {
    char *text;
    int n;
    const char *start[DB_MAX_MIGRATIONS]; /* section text, not NUL-terminated */
    size_t len[DB_MAX_MIGRATIONS];
    int nviews;                           /* 0: the text has no views section */
    struct {
        char name[64];
        const char *sql;                  /* "CREATE VIEW name ...;", NUL-terminated */
    } view[DB_MAX_VIEWS];
    char views_hash[65];                  /* SHA-256 hex of the views section */
} db_schema;

/* Read `text` into s. -1 with a message in err when its sections are not
 * numbered 1, 2, 3, ..., or its views section holds anything but CREATE
 * VIEW statements. */
int db_schema_read(const char *text, db_schema *s, char *err, size_t errlen);
void db_schema_free(db_schema *s);
/* Bring a DB_WRITE handle to migration `upto` and, when that is the last
 * one, to the schema's views: one transaction (schema.sql, MIGRATIONS and
 * VIEWS). -1 with d->err set. */
int db_schema_upgrade(db *d, const db_schema *s, int upto);
/* On a read-only handle whose database's views are not this schema's: the
 * schema's views as TEMP views of this connection, when every one of them
 * reads the database's tables; otherwise nothing changes. */
void db_schema_temp_views(db *d, const db_schema *s);

/* ---- db_xcache.c: the crossover cache ---------------------------------- */

/* Every function here runs inside the caller's write transaction.
 * db_xcache_present: 1 when the database has the cache (migration 6).
 * scope_run: add run_id's annealed cell to crossover_scope (nothing for a
 * run that is not AR or MDM). forget_scope: delete the cache rows of the
 * scope's cells (before runs are deleted: it finds them by their runs).
 * compute_scope: insert the scope's rows from crossover_by_seed and empty
 * the scope (nothing when the scope is empty). refresh_run: the three for
 * one run. rebuild: every row again, in batches of annealed cells. Each
 * returns DB_OK or a DB_E* code with d->err set. */
int db_xcache_present(db *d);
int db_xcache_scope_run(db *d, long long run_id);
int db_xcache_forget_scope(db *d);
int db_xcache_compute_scope(db *d);
int db_xcache_refresh_run(db *d, long long run_id);
/* forget_scope then compute_scope: what db_commit does for a batch. */
int db_xcache_flush(db *d);
int db_xcache_rebuild(db *d);

#endif
