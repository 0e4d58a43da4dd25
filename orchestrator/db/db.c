/*
 * db.c — opening the results database (upgrading it through db_schema.c),
 * the read-only guard, generic queries and the health check. Sweeps, runs
 * and metrics are in db_runs.c; what the commands read, in db_read.c.
 */
#include "orchestrator/db/db_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* schema.sql, compiled in by the Makefile (build/gen/schema_sql.c). */
extern const char xover_schema_sql[];

/* How long a writer waits for another connection's lock before giving up.
 * The driver is the only writer, so waits are short (readers never block a
 * WAL writer); the value only has to cover a checkpoint or a slow disk. */
#define DB_BUSY_MS 10000

/* ---- the read-only guard --------------------------------------------- */

/* PRAGMAs that only read, whether or not they take an argument. */
static const char *const ro_pragmas_arg[] = {
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check", NULL};
/* PRAGMAs that only read when they are given no value. */
static const char *const ro_pragmas_query[] = {
    "user_version", "schema_version", "application_id", "page_count", "page_size",
    "freelist_count", "journal_mode", "database_list", "compile_options", "function_list",
    "module_list", "pragma_list", "collation_list", "encoding", "data_version",
    "foreign_keys", "query_only", "auto_vacuum", "cache_size", NULL};

/* Functions a reader may not call: fts3_tokenizer(NAME) returns the
 * address of a tokenizer module (a live pointer: it defeats ASLR), and
 * fts3_tokenizer(NAME, PTR) installs one from an address, which runs code
 * of the caller's choosing; Debian's SQLite enables both. load_extension is
 * off already (SQLite's default); refusing it here says so clearly. */
static const char *const ro_functions_denied[] = {"fts3_tokenizer", "load_extension", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (sqlite3_stricmp(s, *list) == 0) return 1;
    return 0;
}

static const char *action_name(int action)
{
    switch (action) {
    case SQLITE_INSERT: return "INSERT into";
    case SQLITE_UPDATE: return "UPDATE of";
    case SQLITE_DELETE: return "DELETE from";
    case SQLITE_CREATE_INDEX: case SQLITE_CREATE_TEMP_INDEX: return "CREATE INDEX";
    case SQLITE_CREATE_TABLE: case SQLITE_CREATE_TEMP_TABLE: return "CREATE TABLE";
    case SQLITE_CREATE_TRIGGER: case SQLITE_CREATE_TEMP_TRIGGER: return "CREATE TRIGGER";
    case SQLITE_CREATE_VIEW: case SQLITE_CREATE_TEMP_VIEW: return "CREATE VIEW";
    case SQLITE_CREATE_VTABLE: return "CREATE VIRTUAL TABLE";
    case SQLITE_DROP_INDEX: case SQLITE_DROP_TEMP_INDEX: return "DROP INDEX";
    case SQLITE_DROP_TABLE: case SQLITE_DROP_TEMP_TABLE: return "DROP TABLE";
    case SQLITE_DROP_TRIGGER: case SQLITE_DROP_TEMP_TRIGGER: return "DROP TRIGGER";
    case SQLITE_DROP_VIEW: case SQLITE_DROP_TEMP_VIEW: return "DROP VIEW";
    case SQLITE_DROP_VTABLE: return "DROP VIRTUAL TABLE";
    case SQLITE_ALTER_TABLE: return "ALTER TABLE";
    case SQLITE_ATTACH: return "ATTACH";
    case SQLITE_DETACH: return "DETACH";
    case SQLITE_PRAGMA: return "PRAGMA";
    case SQLITE_TRANSACTION: return "a transaction";
    case SQLITE_SAVEPOINT: return "SAVEPOINT";
    case SQLITE_REINDEX: return "REINDEX";
    case SQLITE_ANALYZE: return "ANALYZE";
    default: return "a statement that writes";
    }
}

/* Allow reading only. SQLITE_OPEN_READONLY and PRAGMA query_only already
 * make writes fail; the authorizer refuses them at prepare time, before
 * anything runs, and lets us say exactly what was refused. */
static int ro_authorizer(void *ctx, int action, const char *a1, const char *a2,
                         const char *dbname, const char *trigger)
{
    (void)dbname;
    (void)trigger;
    db *d = ctx;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    case SQLITE_FUNCTION: /* a2 is the function's name */
        if (!in_list(a2, ro_functions_denied)) return SQLITE_OK;
        snprintf(d->denied_what, sizeof d->denied_what, "the function %s()", a2);
        d->denied = 2;
        return SQLITE_DENY;
    case SQLITE_UPDATE:
        /* Reading a table-valued PRAGMA (pragma_table_info('runs')) first
         * registers it, which SQLite checks as an UPDATE of sqlite_master.
         * A real UPDATE of sqlite_master still fails: it is not writable
         * (no writable_schema), the file is read-only, and db_query refuses
         * any statement that sqlite3_stmt_readonly() says writes. */
        if (a1 && (!strcmp(a1, "sqlite_master") || !strcmp(a1, "sqlite_temp_master")))
            return SQLITE_OK;
        break;
    case SQLITE_PRAGMA:
        if (in_list(a1, ro_pragmas_arg) || (!a2 && in_list(a1, ro_pragmas_query)))
            return SQLITE_OK;
        break;
    default:
        break;
    }
    /* Keep the most telling refusal: DROP TABLE first touches sqlite_master
     * (a DELETE), but "DROP TABLE 'runs'" is what the user wrote. */
    int weak = (action == SQLITE_INSERT || action == SQLITE_UPDATE || action == SQLITE_DELETE) &&
               a1 && strncmp(a1, "sqlite_", 7) == 0;
    if (!d->denied || (d->denied == 1 && !weak)) {
        d->denied = weak ? 1 : 2;
        const char *what = action_name(action);
        if (action == SQLITE_PRAGMA && a2)
            snprintf(d->denied_what, sizeof d->denied_what, "PRAGMA %s = %s", a1, a2);
        else if (action == SQLITE_PRAGMA || action == SQLITE_ATTACH)
            snprintf(d->denied_what, sizeof d->denied_what, "%s %s", what, a1 ? a1 : "");
        else if (a1 && action != SQLITE_TRANSACTION)
            snprintf(d->denied_what, sizeof d->denied_what, "%s '%s'", what, a1);
        else
            snprintf(d->denied_what, sizeof d->denied_what, "%s", what);
    }
    return SQLITE_DENY;
}

/* ---- open / close ---------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static const char *file_kind(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket"
         : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" : "not a regular file";
}

/* A file that starts like an SQLite database ("SQLite format 3\0"). */
static int sqlite_magic(const char *path)
{
    char head[16];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f) fclose(f);
    return n == sizeof head && !memcmp(head, "SQLite format 3", 16);
}

/* *damaged (when not NULL) is set when the open fails because the file is
 * an SQLite database that cannot be read whole (truncated, malformed), as
 * opposed to missing, of another kind, or of another program. */
static db *open_impl(const char *path, int mode, const char *schema, int upto, char *err,
                     size_t errlen, int *damaged)
{
    db_schema m;
    if (damaged) *damaged = 0;
    if (db_schema_read(schema, &m, err, errlen)) return NULL;
    if (upto <= 0 || upto > m.n) upto = m.n;

    struct stat sb;
    int found = stat(path, &sb) == 0;
    int existed = found && sb.st_size > 0;
    db *d = NULL;
    if (mode == DB_READONLY && !found) {
        snprintf(err, errlen, "no database at '%s' (%s); create one with 'xover db init %s', "
                 "or name another with --db or XOVER_DB", path, strerror(errno), path);
        goto fail;
    }
    /* Opening a FIFO would block until someone writes to it; a device or a
     * directory is no database either. */
    if (found && !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "'%s' is %s, not a database file", path, file_kind(sb.st_mode));
        goto fail;
    }
    /* Shorter than SQLite's 100-byte header yet starting like one: cut off. */
    if (existed && sb.st_size < 100 && sqlite_magic(path)) {
        if (damaged) *damaged = 1;
        snprintf(err, errlen, "'%s' is damaged: an SQLite database cut off after %lld bytes", path,
                 (long long)sb.st_size);
        goto fail;
    }

    if (!(d = calloc(1, sizeof *d))) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    d->mode = mode;
    snprintf(d->path, sizeof d->path, "%s", path);
    int flags = mode == DB_READONLY ? SQLITE_OPEN_READONLY
                                    : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &d->h, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database '%s': %s", path,
                 d->h ? sqlite3_errmsg(d->h) : sqlite3_errstr(rc));
        goto fail;
    }
    if (mode == DB_WRITE && sqlite3_db_readonly(d->h, "main") == 1) {
        /* SQLite falls back to read-only on a file we may not write. */
        snprintf(err, errlen, "cannot write database '%s': permission denied", path);
        goto fail;
    }
    sqlite3_extended_result_codes(d->h, 1);
    sqlite3_busy_timeout(d->h, DB_BUSY_MS);
    /* The last connection to close a WAL database would otherwise take an
     * exclusive lock to checkpoint and delete the -wal file; a reader that
     * opens in that instant (the sqlite3 shell has no busy timeout) would see
     * "database is locked". db_close() checkpoints passively instead, which
     * never blocks readers; the -wal file stays (it is reused). */
    sqlite3_db_config(d->h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);

    /* The first read of the header tells an SQLite file from anything else. */
    long long v;
    if (db_read_int(d, "PRAGMA user_version", &v) ||
        (mode == DB_READONLY && db_read_int(d, "SELECT count(*) FROM sqlite_master", &(long long){0}))) {
        int code = sqlite3_errcode(d->h) & 0xff;
        if (code == SQLITE_NOTADB) {
            snprintf(err, errlen, "'%s' is not an SQLite database", path);
        } else {
            snprintf(err, errlen, "cannot read database '%s': %s", path, sqlite3_errmsg(d->h));
            if (damaged && (code == SQLITE_CORRUPT || code == SQLITE_IOERR)) *damaged = 1;
        }
        goto fail;
    }
    if (v > m.n) {
        snprintf(err, errlen, "'%s' has schema version %lld, written by a newer xover; this "
                 "xover knows versions up to %d: upgrade xover to use it", path, v, m.n);
        goto fail;
    }
    if (v == 0) {
        long long tables = 0;
        if (db_read_int(d, "SELECT count(*) FROM sqlite_master", &tables)) tables = 1;
        if (tables > 0 || (mode == DB_READONLY && existed)) {
            snprintf(err, errlen, "'%s' is an SQLite database but not an xover results "
                     "database (it has no xover schema version)", path);
            goto fail;
        }
        if (mode == DB_READONLY) {
            snprintf(err, errlen, "'%s' is empty, not an xover results database; create one "
                     "with 'xover db init %s'", path, path);
            goto fail;
        }
    }
    d->version = d->version_found = (int)v;

    if (mode == DB_READONLY) {
        /* The TEMP views (db_schema_temp_views) before query_only, which
         * would refuse them, and before the authorizer. */
        if (db_exec(d, "PRAGMA foreign_keys = ON")) goto fail_d;
        db_schema_temp_views(d, &m);
        if (db_exec(d, "PRAGMA query_only = ON")) goto fail_d;
        sqlite3_set_authorizer(d->h, ro_authorizer, d);
    } else {
        /* WAL: readers do not block the writer nor it them. synchronous =
         * NORMAL is safe in WAL (a crash can lose the last commits, never
         * corrupt) and saves an fsync per transaction. temp_store = MEMORY:
         * the crossover cache's sorts (db_xcache.c, a pair or two at a time)
         * stay off the disk, where they wrote hundreds of MB a pair. */
        if (db_exec(d, "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; "
                       "PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;") ||
            db_schema_upgrade(d, &m, upto))
            goto fail_d;
    }
    db_schema_free(&m);
    return d;
fail_d:
    set_err(err, errlen, d->err);
fail:
    db_close(d);
    db_schema_free(&m);
    return NULL;
}

db *db_open(const char *path, int mode, char *err, size_t errlen)
{
    return open_impl(path, mode == DB_READONLY ? DB_READONLY : DB_WRITE, xover_schema_sql, 0,
                     err, errlen, NULL);
}

db *db_open_check(const char *path, char *err, size_t errlen, int *damaged)
{
    return open_impl(path, DB_READONLY, xover_schema_sql, 0, err, errlen, damaged);
}

db *db_open_schema(const char *path, const char *schema, int upto, char *err, size_t errlen)
{
    return open_impl(path, DB_WRITE, schema, upto, err, errlen, NULL);
}

void db_close(db *d)
{
    if (!d) return;
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(d->st[i]);
    /* Copy what the WAL holds into the database file, so that the file alone
     * (copied, mailed, opened by an old tool) has every committed result.
     * PASSIVE: it skips frames a reader still needs rather than wait. */
    if (d->h && sqlite3_db_readonly(d->h, "main") == 0)
        sqlite3_wal_checkpoint_v2(d->h, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    sqlite3_close_v2(d->h);
    free(d);
}

int db_version(const db *d) { return d->version; }
int db_version_found(const db *d) { return d->version_found; }

/* ---- generic queries ------------------------------------------------- */

/* The statement's first two keywords, upper-cased ("DROP TABLE"): how a
 * refusal names what the user wrote when SQLite's first objection was to
 * an internal table (sqlite_master) or came from no authorizer call. */
static void leading_words(const char *sql, char *buf, size_t n)
{
    const char *p = db_skip_space(sql);
    size_t k = 0;
    for (int words = 0; words < 2 && *p && k + 1 < n; words++) {
        if (words) buf[k++] = ' ';
        while (*p && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_') &&
               k + 1 < n)
            buf[k++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p), p++;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    }
    while (k && buf[k - 1] == ' ') k--;
    buf[k] = 0;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* SQLite calls this every few thousand virtual-machine instructions of a
 * running statement; nonzero interrupts it (SQLITE_INTERRUPT). */
static int past_deadline(void *ctx)
{
    db *d = ctx;
    if (d->deadline <= 0 || mono_now() <= d->deadline) return 0;
    d->timed_out = 1;
    return 1;
}

void db_set_timeout(db *d, double seconds)
{
    d->timeout = seconds > 0 ? seconds : 0;
    sqlite3_progress_handler(d->h, d->timeout > 0 ? 4096 : 0, d->timeout > 0 ? past_deadline : NULL, d);
}

int db_query(db *d, const char *sql, const db_sink *sink)
{
    char words[64];
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    d->denied = 0;
    int rc = sqlite3_prepare_v2(d->h, sql, -1, &st, &tail);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        if (d->denied == 1) leading_words(sql, words, sizeof words);
        if (d->denied)
            return db_fail(d, DB_EDENIED, "the database is open read-only: %s is refused",
                           d->denied == 1 ? words : d->denied_what);
        return db_sqlite_fail(d, rc, "SQL error");
    }
    if (!st) return db_fail(d, DB_EINPUT, "no SQL statement given");
    const char *rest = db_skip_space(tail);
    if (*rest) {
        sqlite3_finalize(st);
        return db_fail(d, DB_EINPUT, "one statement at a time, please; this follows the "
                       "first: '%.60s'", rest);
    }
    if (d->mode == DB_READONLY && !sqlite3_stmt_readonly(st)) {
        sqlite3_finalize(st);
        leading_words(sql, words, sizeof words);
        return db_fail(d, DB_EDENIED, "the database is open read-only: %s is refused", words);
    }

    /* The budget covers the statement's whole run, the sink's time included. */
    d->deadline = d->timeout > 0 ? mono_now() + d->timeout : 0;
    d->timed_out = 0;
    int out = db_stream(d, st, sink, "SQL error");
    d->deadline = 0;
    if (out != DB_OK && d->timed_out)
        out = db_fail(d, DB_ETIMEOUT, "the query was stopped after running %gs, its time limit", d->timeout);
    return out;
}

static int one_int_row(void *ctx, int n, const db_value *v)
{
    long long *out = ctx;
    if (n > 0) *out = v[0].type == DB_INT ? v[0].i : v[0].type == DB_REAL ? (long long)v[0].d : 0;
    return 1; /* the first row is all we want */
}

int db_query_int(db *d, const char *sql, long long *out)
{
    *out = 0;
    db_sink sink = {NULL, one_int_row, out};
    int rc = db_query(d, sql, &sink);
    return rc == DB_EABORT ? DB_OK : rc;
}

/* ---- health ---------------------------------------------------------- */

typedef struct {
    db_report *r;
    size_t used;
} problems;

static int add_problem(void *ctx, int n, const db_value *v)
{
    problems *p = ctx;
    char line[300];
    if (n == 1) { /* integrity_check: one text column, "ok" when fine */
        if (v[0].type == DB_TEXT && strcmp(v[0].s, "ok") == 0) return 0;
        snprintf(line, sizeof line, "%s\n", v[0].type == DB_TEXT ? v[0].s : "?");
    } else { /* foreign_key_check: table, rowid, parent, fkid */
        snprintf(line, sizeof line, "a row of %s refers to a missing row of %s\n",
                 v[0].type == DB_TEXT ? v[0].s : "?", n > 2 && v[2].type == DB_TEXT ? v[2].s : "?");
    }
    p->r->ok = 0;
    size_t len = strlen(line), room = sizeof p->r->problems - p->used;
    if (len < room) {
        memcpy(p->r->problems + p->used, line, len + 1);
        p->used += len;
    }
    return 0;
}

int db_check(db *d, db_report *r)
{
    memset(r, 0, sizeof *r);
    r->ok = 1;
    problems p = {r, 0};
    db_sink sink = {NULL, add_problem, &p};
    int rc = db_query(d, "PRAGMA integrity_check(20)", &sink);
    if (!rc) rc = db_query(d, "PRAGMA foreign_key_check", &sink);
    int code = sqlite3_errcode(d->h) & 0xff;
    if (rc == DB_EIO && (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)) {
        /* Damage bad enough to stop the check itself is still a finding. */
        r->ok = 0;
        snprintf(r->problems, sizeof r->problems, "%s\n", sqlite3_errmsg(d->h));
        return DB_OK;
    }
    if (rc) return rc;
    /* A damaged file may fail the counts too; what integrity_check said is
     * the report, so count only when it is sound. */
    if (!r->ok) return DB_OK;
    if ((rc = db_query_int(d, "SELECT count(*) FROM sweeps", &r->sweeps)) ||
        (rc = db_query_int(d, "SELECT count(*) FROM runs", &r->runs)) ||
        (rc = db_query_int(d, "SELECT count(*) FROM metrics", &r->metrics)) ||
        (rc = db_query_int(d, "SELECT count(*) FROM metric_series", &r->series)))
        return rc;
    return db_status_counts(d, 0, r->status);
}
