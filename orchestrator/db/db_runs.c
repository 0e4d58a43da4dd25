/*
 * db_runs.c — what the sweep driver writes and reads: sweeps, runs, their
 * links and statuses, and batched metric ingest.
 */
#include "orchestrator/db/db_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Unix seconds (or NULL) → the schema's ISO-8601 UTC text. */
#define ISO(p) "strftime('%Y-%m-%dT%H:%M:%fZ', " p ", 'unixepoch')"
#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

const char *const db_status_names[DB_NSTATUS] = {"pending", "running", "done", "failed",
                                                 "interrupted"};

int db_status_index(const char *status)
{
    for (int i = 0; status && i < DB_NSTATUS; i++)
        if (strcmp(status, db_status_names[i]) == 0) return i;
    return -1;
}

static int need_write(db *d)
{
    if (d->mode == DB_READONLY)
        return db_fail(d, DB_EDENIED, "the database '%s' is open read-only", d->path);
    return DB_OK;
}

/* Step a statement that returns one id (RETURNING id / SELECT id). */
static int step_id(db *d, sqlite3_stmt *st, long long *id, const char *what)
{
    int rc = sqlite3_step(st);
    int out = DB_OK;
    if (rc == SQLITE_ROW) {
        if (id) *id = sqlite3_column_int64(st, 0);
    } else if (rc == SQLITE_DONE) {
        out = DB_ENOTFOUND;
    } else {
        out = db_sqlite_fail(d, rc, what);
    }
    sqlite3_reset(st);
    return out;
}

/* ---- sweeps ---------------------------------------------------------- */

int db_sweep_put(db *d, const char *name, const char *yaml, const char *yaml_hash,
                 long long *id)
{
    if (need_write(d)) return DB_EDENIED;
    if (!name || !*name || !yaml || !yaml_hash)
        return db_fail(d, DB_EINPUT, "a sweep needs a name, its YAML text and the text's hash");
    sqlite3_stmt *st = db_stmt(d, ST_SWEEP_PUT,
        "INSERT INTO sweeps (name, yaml, yaml_hash) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (name) DO UPDATE SET yaml = excluded.yaml, yaml_hash = excluded.yaml_hash, "
        "updated_at = " NOW " RETURNING id");
    if (!st) return DB_EIO;
    db_bind_text(st, 1, name);
    db_bind_text(st, 2, yaml);
    db_bind_text(st, 3, yaml_hash);
    char what[300];
    snprintf(what, sizeof what, "recording sweep '%s'", name);
    return step_id(d, st, id, what);
}

int db_sweep_id(db *d, const char *name, long long *id)
{
    sqlite3_stmt *st = db_stmt(d, ST_SWEEP_ID, "SELECT id FROM sweeps WHERE name = ?1");
    if (!st) return DB_EIO;
    db_bind_text(st, 1, name);
    int rc = step_id(d, st, id, "looking up a sweep");
    if (rc == DB_ENOTFOUND) db_fail(d, rc, "no sweep named '%s'", name ? name : "");
    return rc;
}

/* ---- runs ------------------------------------------------------------ */

int db_run_put(db *d, const db_run_spec *r, long long *id)
{
    if (need_write(d)) return DB_EDENIED;
    if (!r->key || !*r->key || !r->config)
        return db_fail(d, DB_EINPUT, "a run needs its key and its config");
    /* runs.active_params arrived with migration 3; a database kept in an
     * older shape (db_open_schema) is written without it. A handle's version
     * never changes, so the cached statement always matches it. */
#define RUN_PUT(cols, vals, upd)                                                                   \
    "INSERT INTO runs (key, config, objective, model, params, unique_tokens, quality, "           \
    "epochs, seed, run_dir" cols ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10" vals ") "     \
    "ON CONFLICT (key) DO UPDATE SET config = excluded.config, objective = excluded.objective, "   \
    "model = excluded.model, params = excluded.params, "                                           \
    "unique_tokens = excluded.unique_tokens, quality = excluded.quality, "                         \
    "epochs = excluded.epochs, seed = excluded.seed, "                                             \
    "run_dir = coalesce(excluded.run_dir, runs.run_dir), " upd "updated_at = " NOW " RETURNING id"
#define ACTIVE_UPD "active_params = coalesce(excluded.active_params, runs.active_params), "
    /* Migration 5: a trunk, or a branch with its trunk's id. */
    sqlite3_stmt *st = db_stmt(d, ST_RUN_PUT,
        d->version >= 5   ? RUN_PUT(", active_params, role, parent_id", ", ?11, ?12, ?13",
                                    ACTIVE_UPD "role = excluded.role, parent_id = excluded.parent_id, ")
        : d->version >= 3 ? RUN_PUT(", active_params", ", ?11", ACTIVE_UPD)
                          : RUN_PUT("", "", ""));
#undef ACTIVE_UPD
#undef RUN_PUT
    if (!st) return DB_EIO;
    db_bind_text(st, 1, r->key);
    db_bind_text(st, 2, r->config);
    db_bind_text(st, 3, r->objective);
    db_bind_text(st, 4, r->model);
    db_bind_int(st, 5, r->params);
    db_bind_int(st, 6, r->unique_tokens);
    db_bind_text(st, 7, r->quality);
    db_bind_real(st, 8, r->epochs);
    db_bind_int(st, 9, r->seed);
    db_bind_text(st, 10, r->run_dir);
    if (d->version >= 3) db_bind_int(st, 11, r->active_params > 0 ? r->active_params : -1);
    if (d->version >= 5) {
        db_bind_text(st, 12, r->role ? r->role : "run");
        db_bind_int(st, 13, r->parent_id > 0 ? r->parent_id : -1);
    }
    char what[300];
    snprintf(what, sizeof what, "recording run %.64s", r->key);
    int rc = step_id(d, st, id, what);
    if (rc == DB_EINPUT && strstr(d->err, "json_valid"))
        db_fail(d, rc, "run %.64s: its config is not valid JSON", r->key);
    return rc;
}

int db_sweep_link(db *d, long long sweep_id, long long run_id)
{
    if (need_write(d)) return DB_EDENIED;
    sqlite3_stmt *st = db_stmt(d, ST_LINK,
        "INSERT OR IGNORE INTO sweep_runs (sweep_id, run_id) VALUES (?1, ?2)");
    if (!st) return DB_EIO;
    sqlite3_bind_int64(st, 1, sweep_id);
    sqlite3_bind_int64(st, 2, run_id);
    int rc = db_step_done(d, st, "linking a run to its sweep");
    if (rc == DB_EINPUT)
        db_fail(d, rc, "cannot link run %lld to sweep %lld: one of them does not exist",
                run_id, sweep_id);
    return rc;
}

/* DB_EINPUT naming the status when it is not one of the five. */
static int check_status(db *d, const char *status)
{
    if (db_status_index(status) >= 0) return DB_OK;
    return db_fail(d, DB_EINPUT, "'%s' is not a run status (pending, running, done, failed, interrupted)",
                   status ? status : "(null)");
}

/* DB_OK when sql (a SELECT by id = ?1) finds the `noun` ("sweep", "run")
 * with this id; DB_ENOTFOUND ("no run with id 7") when not. */
static int check_exists(db *d, int slot, const char *sql, long long id, const char *noun)
{
    sqlite3_stmt *st = db_stmt(d, slot, sql);
    if (!st) return DB_EIO;
    sqlite3_bind_int64(st, 1, id);
    char what[64];
    snprintf(what, sizeof what, "looking up a %s", noun);
    int rc = step_id(d, st, NULL, what);
    if (rc == DB_ENOTFOUND) return db_fail(d, rc, "no %s with id %lld", noun, id);
    return rc;
}

static int check_changed(db *d, long long run_id, int rc)
{
    if (rc == DB_OK && sqlite3_changes(d->h) == 0)
        return db_fail(d, DB_ENOTFOUND, "no run with id %lld", run_id);
    return rc;
}

int db_run_set(db *d, long long run_id, const db_run_update *u)
{
    if (need_write(d)) return DB_EDENIED;
    if ((u->set & DB_SET_STATUS) && check_status(d, u->status)) return DB_EINPUT;
    if ((u->set & DB_SET_ATTEMPTS) && u->attempts < 0)
        return db_fail(d, DB_EINPUT, "attempts cannot be negative (%d)", u->attempts);
    /* One statement for every mask: each column keeps its value unless its
     * bit is set, so the statement is prepared once. */
    sqlite3_stmt *st = db_stmt(d, ST_RUN_SET,
        "UPDATE runs SET "
        "status = CASE WHEN ?1 & 1 THEN ?2 ELSE status END, "
        "attempts = CASE WHEN ?1 & 2 THEN ?3 ELSE attempts END, "
        "error = CASE WHEN ?1 & 4 THEN ?4 ELSE error END, "
        "log_tail = CASE WHEN ?1 & 8 THEN ?5 ELSE log_tail END, "
        "host = CASE WHEN ?1 & 16 THEN ?6 ELSE host END, "
        "pid = CASE WHEN ?1 & 16 THEN ?7 ELSE pid END, "
        "started_at = CASE WHEN ?1 & 32 THEN " ISO("?8") " ELSE started_at END, "
        "finished_at = CASE WHEN ?1 & 64 THEN " ISO("?9") " ELSE finished_at END, "
        "build_id = CASE WHEN ?1 & 128 THEN ?10 ELSE build_id END, "
        "run_dir = CASE WHEN ?1 & 256 THEN ?11 ELSE run_dir END, "
        "job_id = CASE WHEN ?1 & 512 THEN ?12 ELSE job_id END, "
        "updated_at = " NOW " WHERE id = ?13");
    if (!st) return DB_EIO;
    sqlite3_bind_int64(st, 1, u->set);
    db_bind_text(st, 2, u->status);
    sqlite3_bind_int(st, 3, u->attempts);
    db_bind_text(st, 4, u->error);
    db_bind_text(st, 5, u->log_tail);
    db_bind_text(st, 6, u->host);
    db_bind_int(st, 7, u->pid);
    db_bind_real(st, 8, u->started_at > 0 ? u->started_at : NAN);
    db_bind_real(st, 9, u->finished_at > 0 ? u->finished_at : NAN);
    db_bind_text(st, 10, u->build_id);
    db_bind_text(st, 11, u->run_dir);
    db_bind_text(st, 12, u->job_id);
    sqlite3_bind_int64(st, 13, run_id);
    return check_changed(d, run_id, db_step_done(d, st, "updating a run"));
}

int db_run_started(db *d, long long run_id, const char *host, long long pid, double now)
{
    if (need_write(d)) return DB_EDENIED;
    sqlite3_stmt *st = db_stmt(d, ST_RUN_STARTED,
        "UPDATE runs SET status = 'running', attempts = attempts + 1, host = ?1, pid = ?2, "
        "started_at = " ISO("?3") ", finished_at = NULL, error = NULL, log_tail = NULL, "
        "updated_at = " NOW " WHERE id = ?4");
    if (!st) return DB_EIO;
    db_bind_text(st, 1, host);
    db_bind_int(st, 2, pid);
    db_bind_real(st, 3, now > 0 ? now : NAN);
    sqlite3_bind_int64(st, 4, run_id);
    return check_changed(d, run_id, db_step_done(d, st, "marking a run started"));
}

int db_run_finished(db *d, long long run_id, const char *status, const char *error,
                    const char *log_tail, double now)
{
    if (need_write(d)) return DB_EDENIED;
    int s = db_status_index(status);
    if (s != DB_DONE && s != DB_FAILED && s != DB_INTERRUPTED)
        return db_fail(d, DB_EINPUT, "a run finishes 'done', 'failed' or 'interrupted', "
                       "not '%s'", status ? status : "(null)");
    sqlite3_stmt *st = db_stmt(d, ST_RUN_FINISHED,
        "UPDATE runs SET status = ?1, error = ?2, log_tail = ?3, finished_at = " ISO("?4")
        ", updated_at = " NOW " WHERE id = ?5");
    if (!st) return DB_EIO;
    db_bind_text(st, 1, status);
    db_bind_text(st, 2, error);
    db_bind_text(st, 3, log_tail);
    db_bind_real(st, 4, now > 0 ? now : NAN);
    sqlite3_bind_int64(st, 5, run_id);
    return check_changed(d, run_id, db_step_done(d, st, "marking a run finished"));
}

int db_run_set_fork(db *d, long long run_id, long long fork_step)
{
    if (need_write(d)) return DB_EDENIED;
    if (d->version < 5) return db_fail(d, DB_EINPUT, "the database predates annealed branches (schema 5)");
    if (fork_step < 0) return db_fail(d, DB_EINPUT, "a fork step cannot be negative (%lld)", fork_step);
    /* Not cached: once per branch, and db_impl.h's statement list stays as it is. */
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->h, "UPDATE runs SET fork_step = ?1, updated_at = " NOW
                                " WHERE id = ?2 AND fork_step IS NOT ?1", -1, &st, NULL);
    if (rc != SQLITE_OK) return db_sqlite_fail(d, rc, "recording a fork step");
    sqlite3_bind_int64(st, 1, fork_step);
    sqlite3_bind_int64(st, 2, run_id);
    rc = db_step_done(d, st, "recording a fork step");
    sqlite3_finalize(st);
    return rc;
}

/* ---- reading runs ---------------------------------------------------- */

#define RUN_COLS                                                                      \
    "r.id, r.key, r.config, r.status, r.objective, r.model, r.quality, r.params, "    \
    "r.unique_tokens, r.seed, r.epochs, r.attempts, r.error, r.log_tail, r.host, "    \
    "r.pid, r.started_at, r.finished_at, r.build_id, r.run_dir, r.job_id"

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static long long col_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

static int each_run(db *d, sqlite3_stmt *st, db_run_fn fn, void *ctx, long long *count)
{
    int rc;
    *count = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        db_run_info r = {
            .id = sqlite3_column_int64(st, 0),
            .key = col_text(st, 1),
            .config = col_text(st, 2),
            .status = col_text(st, 3),
            .objective = col_text(st, 4),
            .model = col_text(st, 5),
            .quality = col_text(st, 6),
            .params = col_int(st, 7),
            .unique_tokens = col_int(st, 8),
            .seed = col_int(st, 9),
            .epochs = sqlite3_column_type(st, 10) == SQLITE_NULL ? NAN
                                                                 : sqlite3_column_double(st, 10),
            .attempts = sqlite3_column_int(st, 11),
            .error = col_text(st, 12),
            .log_tail = col_text(st, 13),
            .host = col_text(st, 14),
            .pid = col_int(st, 15),
            .started_at = col_text(st, 16),
            .finished_at = col_text(st, 17),
            .build_id = col_text(st, 18),
            .run_dir = col_text(st, 19),
            .job_id = col_text(st, 20),
        };
        ++*count;
        if (fn && fn(ctx, &r)) {
            sqlite3_reset(st);
            return db_fail(d, DB_EABORT, "stopped");
        }
    }
    int out = rc == SQLITE_DONE ? DB_OK : db_sqlite_fail(d, rc, "reading runs");
    sqlite3_reset(st);
    return out;
}

int db_sweep_runs(db *d, long long sweep_id, const char *status, db_run_fn fn, void *ctx)
{
    if (status && check_status(d, status)) return DB_EINPUT;
    int rc = check_exists(d, ST_SWEEP_EXISTS, "SELECT id FROM sweeps WHERE id = ?1", sweep_id, "sweep");
    if (rc) return rc;
    sqlite3_stmt *st = db_stmt(d, ST_SWEEP_RUNS,
        "SELECT " RUN_COLS " FROM sweep_runs sr JOIN runs r ON r.id = sr.run_id "
        "WHERE sr.sweep_id = ?1 AND (?2 IS NULL OR r.status = ?2) ORDER BY r.id");
    if (!st) return DB_EIO;
    sqlite3_bind_int64(st, 1, sweep_id);
    db_bind_text(st, 2, status);
    long long n;
    return each_run(d, st, fn, ctx, &n);
}

int db_run_by_key(db *d, const char *key, db_run_fn fn, void *ctx)
{
    sqlite3_stmt *st = db_stmt(d, ST_RUN_BY_KEY, "SELECT " RUN_COLS " FROM runs r WHERE r.key = ?1");
    if (!st) return DB_EIO;
    db_bind_text(st, 1, key);
    long long n;
    int rc = each_run(d, st, fn, ctx, &n);
    if (rc == DB_OK && n == 0) return db_fail(d, DB_ENOTFOUND, "no run with key '%s'", key);
    return rc;
}

int db_status_counts(db *d, long long sweep_id, long long counts[DB_NSTATUS])
{
    memset(counts, 0, sizeof(long long) * DB_NSTATUS);
    sqlite3_stmt *st = db_stmt(d, ST_STATUS_COUNTS,
        "SELECT status, count(*) FROM runs WHERE ?1 <= 0 OR id IN "
        "(SELECT run_id FROM sweep_runs WHERE sweep_id = ?1) GROUP BY status");
    if (!st) return DB_EIO;
    sqlite3_bind_int64(st, 1, sweep_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int s = db_status_index(col_text(st, 0));
        if (s >= 0) counts[s] = sqlite3_column_int64(st, 1);
    }
    int out = rc == SQLITE_DONE ? DB_OK : db_sqlite_fail(d, rc, "counting runs");
    sqlite3_reset(st);
    return out;
}

/* ---- metrics --------------------------------------------------------- */

int db_ingest_metrics(db *d, long long run_id, const db_metric *rows, size_t n)
{
    if (need_write(d)) return DB_EDENIED;
    if (n == 0) return DB_OK;
    for (size_t i = 0; i < n; i++)
        if (!rows[i].name || !*rows[i].name || rows[i].step < 0)
            return db_fail(d, DB_EINPUT, "metric row %zu of run %lld: %s", i, run_id,
                           rows[i].step < 0 ? "negative step" : "no metric name");
    int rc = check_exists(d, ST_RUN_EXISTS, "SELECT id FROM runs WHERE id = ?1", run_id, "run");
    if (rc) return rc;

    sqlite3_stmt *st = db_stmt(d, ST_METRIC_PUT,
        "INSERT INTO metrics (run_id, name, step, tokens, epoch, flops, value) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (run_id, name, step) DO UPDATE SET "
        "tokens = excluded.tokens, epoch = excluded.epoch, flops = excluded.flops, "
        "value = excluded.value");
    if (!st) return DB_EIO;

    /* Outside a transaction take the write lock up front (BEGIN IMMEDIATE:
     * no deadlock upgrading a read lock); inside the caller's, a savepoint
     * makes the batch all-or-nothing without ending it. */
    int own = sqlite3_get_autocommit(d->h);
    if ((rc = db_exec(d, own ? "BEGIN IMMEDIATE" : "SAVEPOINT ingest"))) return rc;
    sqlite3_bind_int64(st, 1, run_id);
    for (size_t i = 0; i < n; i++) {
        const db_metric *m = &rows[i];
        sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, m->step);
        db_bind_int(st, 4, m->tokens);
        db_bind_real(st, 5, m->epoch);
        db_bind_real(st, 6, m->flops);
        db_bind_real(st, 7, m->value);
        int s = sqlite3_step(st);
        sqlite3_reset(st);
        if (s != SQLITE_DONE) {
            char what[200];
            snprintf(what, sizeof what, "storing metric '%.80s' step %lld of run %lld", m->name,
                     m->step, run_id);
            rc = db_sqlite_fail(d, s, what);
            db_undo_keeping_error(d, own ? "ROLLBACK" : "ROLLBACK TO ingest; RELEASE ingest");
            return rc;
        }
    }
    /* The crossover cache of the run's pairs, in the same transaction:
     * only when the batch holds what the crossover reads (a metric, an
     * _se, the early_stop row), not for training signals alone. */
    int crossing = 0;
    for (size_t i = 0; i < n && !crossing; i++)
        crossing = !db_metric_is_signal(rows[i].name) || !strcmp(rows[i].name, DB_EARLY_STOP);
    if (crossing && db_xcache_present(d) &&
        (rc = d->batch ? db_xcache_scope_run(d, run_id) : db_xcache_refresh_run(d, run_id))) {
        db_undo_keeping_error(d, own ? "ROLLBACK" : "ROLLBACK TO ingest; RELEASE ingest");
        return rc;
    }
    rc = db_exec(d, own ? "COMMIT" : "RELEASE ingest");
    if (rc && own) db_rollback(d);
    return rc;
}

int db_metric_last_step(db *d, long long run_id, const char *name, long long *step)
{
    sqlite3_stmt *st = db_stmt(d, ST_LAST_STEP,
        "SELECT coalesce(max(step), -1) FROM metrics WHERE run_id = ?1 AND name = ?2");
    if (!st) return DB_EIO;
    sqlite3_bind_int64(st, 1, run_id);
    db_bind_text(st, 2, name);
    return step_id(d, st, step, "reading the last step");
}

int db_run_points(db *d, const char *status, db_points_fn fn, void *ctx)
{
    if (status && check_status(d, status)) return DB_EINPUT;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->h,
        "SELECT r.key, r.run_dir, (SELECT count(*) FROM metrics m WHERE m.run_id = r.id) "
        "FROM runs r WHERE ?1 IS NULL OR r.status = ?1 ORDER BY r.id", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return db_sqlite_fail(d, rc, "counting metric points");
    }
    db_bind_text(st, 1, status);
    int out = DB_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(ctx, col_text(st, 0), col_text(st, 1), sqlite3_column_int64(st, 2))) {
            out = db_fail(d, DB_EABORT, "stopped");
            break;
        }
    if (out == DB_OK && rc != SQLITE_DONE) out = db_sqlite_fail(d, rc, "counting metric points");
    sqlite3_finalize(st);
    return out;
}
