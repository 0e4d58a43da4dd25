/*
 * db_read.c — what the commands read (ls, status, show, plan's estimate,
 * export, finding a run by key prefix) and what `xover rm` deletes: every
 * statement they need, so that no SQL but a user's own is written outside
 * this module.
 */
#include "orchestrator/db/db_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sqlite3_stmt *prepare(db *d, const char *sql, const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->h, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        db_sqlite_fail(d, rc, what);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* ---- ls and status ------------------------------------------------------ */

int db_sweep_summaries(db *d, db_summary_fn fn, void *ctx)
{
    /* One row per sweep, runs counted per status; a sweep with no run has
     * every count 0 (the LEFT JOINs give one row of NULLs, which count()
     * and the sums of comparisons with NULL leave at 0). */
    sqlite3_stmt *st = prepare(d,
        "SELECT s.name, s.updated_at, count(r.id), "
        "total(r.status = 'pending'), total(r.status = 'running'), total(r.status = 'done'), "
        "total(r.status = 'failed'), total(r.status = 'interrupted') "
        "FROM sweeps s LEFT JOIN sweep_runs sr ON sr.sweep_id = s.id "
        "LEFT JOIN runs r ON r.id = sr.run_id GROUP BY s.id ORDER BY s.name", "counting runs");
    if (!st) return DB_EIO;
    int rc, out = DB_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        db_summary s = {(const char *)sqlite3_column_text(st, 0),
                        (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2), {0}};
        for (int k = 0; k < DB_NSTATUS; k++) s.status[k] = sqlite3_column_int64(st, 3 + k);
        if (fn(ctx, &s)) {
            out = db_fail(d, DB_EABORT, "stopped");
            break;
        }
    }
    if (out == DB_OK && rc != SQLITE_DONE) out = db_sqlite_fail(d, rc, "counting runs");
    sqlite3_finalize(st);
    return out;
}

int db_sweep_unfinished(db *d, long long sweep_id, const db_sink *sink)
{
    sqlite3_stmt *st = prepare(d,
        "SELECT substr(r.key, 1, 12) AS key,"
        /* a pending run with a Slurm job id is queued there */
        " CASE WHEN r.status = 'pending' AND r.job_id IS NOT NULL THEN 'queued' ELSE r.status END AS status,"
        " r.job_id AS job, r.objective, r.model, r.unique_tokens,"
        " r.quality, r.epochs, r.seed, r.attempts,"
        " (SELECT max(step) FROM metrics m WHERE m.run_id = r.id) AS step,"
        " substr(replace(r.error, char(10), ' '), 1, 100) AS error"
        " FROM sweep_runs sr JOIN runs r ON r.id = sr.run_id"
        " WHERE sr.sweep_id = ?1 AND r.status <> 'done' ORDER BY r.status, r.key",
        "listing runs");
    if (!st) return DB_EIO;
    sqlite3_bind_int64(st, 1, sweep_id);
    return db_stream(d, st, sink, "listing runs");
}

/* ---- show --------------------------------------------------------------- */

int db_run_final_metrics(db *d, const char *key, const db_sink *sink)
{
    sqlite3_stmt *st = prepare(d, "SELECT name, step, tokens, epoch, value FROM run_final "
                                  "WHERE key = ?1 ORDER BY name", "reading final metrics");
    if (!st) return DB_EIO;
    db_bind_text(st, 1, key);
    return db_stream(d, st, sink, "reading final metrics");
}

int db_run_best_metrics(db *d, const char *key, const db_sink *sink)
{
    sqlite3_stmt *st = prepare(d, "SELECT name, better, step, epoch, value FROM run_best "
                                  "WHERE key = ?1 ORDER BY name", "reading best metrics");
    if (!st) return DB_EIO;
    db_bind_text(st, 1, key);
    return db_stream(d, st, sink, "reading best metrics");
}

int db_run_key_prefix(db *d, const char *prefix, char key[65], int *n)
{
    *n = 0;
    key[0] = 0;
    /* Keys are lowercase hex, so every key with the prefix sorts in
     * [prefix, prefix + '~'): an index range, not a scan. */
    sqlite3_stmt *st = prepare(d, "SELECT key FROM runs WHERE key >= ?1 AND key < ?1 || '~' "
                                  "ORDER BY key LIMIT 2", "finding a run");
    if (!st) return DB_EIO;
    db_bind_text(st, 1, prefix);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!*n) snprintf(key, 65, "%s", (const char *)sqlite3_column_text(st, 0));
        ++*n;
    }
    int out = rc == SQLITE_DONE ? DB_OK : db_sqlite_fail(d, rc, "finding a run");
    sqlite3_finalize(st);
    return out;
}

/* ---- plan's estimate ---------------------------------------------------- */

int db_done_speed(db *d, double *flops, double *seconds, long long *nruns)
{
    *flops = *seconds = 0;
    *nruns = 0;
    /* Wall time of each done run (its last attempt) against the FLOPs its
     * metrics report: a resumed run undercounts its time, which errs on the
     * side of a shorter estimate only slightly. An annealed branch's counts
     * continue its trunk's (schema 5): it trained only the steps after its
     * fork. */
#define SPEED_SQL(trained)                                                                          \
    "SELECT total(f), total(s), count(*) FROM ("                                                    \
    " SELECT (SELECT " trained " FROM metrics m WHERE m.run_id = r.id) AS f,"                       \
    "        (julianday(r.finished_at) - julianday(r.started_at)) * 86400 AS s"                     \
    "   FROM runs r WHERE r.status = 'done' AND r.started_at IS NOT NULL"                           \
    "    AND r.finished_at IS NOT NULL"                                                             \
    ") WHERE f > 0 AND s > 0"
    sqlite3_stmt *st = prepare(d,
                               d->version >= 5 ? SPEED_SQL("max(m.flops) * (1.0 - coalesce(r.fork_step, 0) * 1.0 / "
                                                           "max(m.step))")
                                               : SPEED_SQL("max(m.flops)"),
                               "measuring the training speed");
#undef SPEED_SQL
    if (!st) return DB_EIO;
    int rc = sqlite3_step(st), out = DB_OK;
    if (rc == SQLITE_ROW) {
        *flops = sqlite3_column_double(st, 0);
        *seconds = sqlite3_column_double(st, 1);
        *nruns = sqlite3_column_int64(st, 2);
    } else {
        out = db_sqlite_fail(d, rc, "measuring the training speed");
    }
    sqlite3_finalize(st);
    return out;
}

int db_done_speeds(db *d, db_speed_fn fn, void *ctx)
{
    /* As db_done_speed, run by run (a branch: the steps after its fork). */
#define SPEEDS_SQL(trained)                                                                         \
    "SELECT config, f, s FROM ("                                                                    \
    " SELECT r.config AS config, (SELECT " trained " FROM metrics m WHERE m.run_id = r.id) AS f,"   \
    "        (julianday(r.finished_at) - julianday(r.started_at)) * 86400 AS s"                     \
    "   FROM runs r WHERE r.status = 'done' AND r.started_at IS NOT NULL"                           \
    "    AND r.finished_at IS NOT NULL"                                                             \
    ") WHERE f > 0 AND s > 0"
    sqlite3_stmt *st = prepare(d,
                               d->version >= 5 ? SPEEDS_SQL("max(m.flops) * (1.0 - coalesce(r.fork_step, 0) * 1.0 / "
                                                            "max(m.step))")
                                               : SPEEDS_SQL("max(m.flops)"),
                               "measuring the training speed per run");
#undef SPEEDS_SQL
    if (!st) return DB_EIO;
    int rc, out = DB_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_double(st, 1),
               sqlite3_column_double(st, 2)))
            break;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) out = db_sqlite_fail(d, rc, "measuring the training speed per run");
    sqlite3_finalize(st);
    return out;
}

int db_run_statuses(db *d, db_key_status_fn fn, void *ctx)
{
    sqlite3_stmt *st = prepare(d, "SELECT key, status FROM runs", "reading run statuses");
    if (!st) return DB_EIO;
    int rc, out = DB_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        if (k && fn(ctx, k, db_status_index((const char *)sqlite3_column_text(st, 1)))) {
            out = db_fail(d, DB_EABORT, "stopped");
            break;
        }
    }
    if (out == DB_OK && rc != SQLITE_DONE) out = db_sqlite_fail(d, rc, "reading run statuses");
    sqlite3_finalize(st);
    return out;
}

/* ---- export ------------------------------------------------------------- */

/* The runs --runs selects: a subquery on `runs`, so the condition sees the
 * run columns only (objective, model, unique_tokens, status,
 * json_extract(config, ...)) and a run's points stay together. The user's
 * text stands alone in its parentheses, a newline after it so that a
 * trailing -- comment cannot swallow the closing one. */
int db_export(db *d, const char *where, long long *count, const db_sink *sink)
{
    static const char rows[] =
        "SELECT r.id AS run_id, r.key, r.objective, r.model, r.params, r.unique_tokens, "
        "r.quality, r.epochs, r.seed, r.status, m.name, m.step, m.tokens, m.epoch, m.flops, "
        "m.value FROM runs r JOIN metrics m ON m.run_id = r.id";
    static const char order[] = " ORDER BY r.id, m.name, m.step";
    size_t n = strlen(rows) + (where ? strlen(where) : 0) + 128;
    char *sql = malloc(n);
    if (!sql) return db_fail(d, DB_EIO, "out of memory");
    if (count && where)
        snprintf(sql, n, "SELECT count(*) FROM metrics WHERE run_id IN "
                 "(SELECT id FROM runs WHERE (%s\n))", where);
    else if (count)
        snprintf(sql, n, "SELECT count(*) FROM metrics");
    else if (where)
        snprintf(sql, n, "%s WHERE r.id IN (SELECT id FROM runs WHERE (%s\n))%s", rows, where, order);
    else
        snprintf(sql, n, "%s%s", rows, order);
    /* db_query: one statement only, and the read-only guard on it */
    int rc = count ? db_query_int(d, sql, count) : db_query(d, sql, sink);
    free(sql);
    return rc;
}

/* ---- rm ----------------------------------------------------------------- */

/* THE set `xover rm` deletes, in every statement below: the runs of sweep
 * ?1 that no other sweep lists, or (?1 <= 0) the run with key ?2; and the
 * annealed branches of the trunks among them (runs.parent_id, schema 5),
 * which cannot outlive the trunk they fork from. */
#define RM_CHOSEN                                                                          \
    "CASE WHEN ?1 > 0 THEN "                                                               \
    "id IN (SELECT run_id FROM sweep_runs WHERE sweep_id = ?1) "                           \
    "AND id NOT IN (SELECT run_id FROM sweep_runs WHERE sweep_id <> ?1) ELSE key = ?2 END"
#define RM_RUNS                                                                            \
    "(SELECT id FROM runs WHERE " RM_CHOSEN " OR parent_id IN (SELECT id FROM runs WHERE " RM_CHOSEN "))"

static sqlite3_stmt *rm_stmt(db *d, const char *sql, long long sweep_id, const char *key)
{
    sqlite3_stmt *st = prepare(d, sql, "choosing what to delete");
    if (st) {
        sqlite3_bind_int64(st, 1, sweep_id);
        db_bind_text(st, 2, key);
    }
    return st;
}

int db_rm_count(db *d, long long sweep_id, const char *key, long long *runs, long long *points)
{
    *runs = *points = 0;
    sqlite3_stmt *st = rm_stmt(d, "SELECT (SELECT count(*) FROM " RM_RUNS "), "
                                  "(SELECT count(*) FROM metrics WHERE run_id IN " RM_RUNS ")",
                               sweep_id, key);
    if (!st) return DB_EIO;
    int rc = sqlite3_step(st), out = DB_OK;
    if (rc == SQLITE_ROW) {
        *runs = sqlite3_column_int64(st, 0);
        *points = sqlite3_column_int64(st, 1);
    } else {
        out = db_sqlite_fail(d, rc, "counting what to delete");
    }
    sqlite3_finalize(st);
    return out;
}

/* Each run of the set to fn, then the delete, in one write transaction:
 * no run can join or leave the set in between, so what fn was told is
 * exactly what is deleted. */
int db_rm_delete(db *d, long long sweep_id, const char *key, db_rm_fn fn, void *ctx,
                 long long *deleted)
{
    *deleted = 0;
    if (d->mode == DB_READONLY)
        return db_fail(d, DB_EDENIED, "the database '%s' is open read-only", d->path);
    if (db_exec(d, "BEGIN IMMEDIATE")) return DB_EIO;
    sqlite3_stmt *st = rm_stmt(d, "SELECT id, key, run_dir FROM runs WHERE id IN " RM_RUNS
                                  " ORDER BY id", sweep_id, key);
    int rc = st ? DB_OK : DB_EIO, s;
    while (st && (s = sqlite3_step(st)) == SQLITE_ROW) {
        if (fn(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               (const char *)sqlite3_column_text(st, 2))) {
            rc = db_fail(d, DB_EABORT, "stopped");
            break;
        }
    }
    if (st && rc == DB_OK && s != SQLITE_DONE) rc = db_sqlite_fail(d, s, "listing what to delete");
    sqlite3_finalize(st);
    /* The crossover cache of the runs' pairs goes first (found through
     * the runs), and is made again from the runs that stay. */
    int cache = rc == DB_OK && db_xcache_present(d);
    if (cache) {
        st = rm_stmt(d, "INSERT OR IGNORE INTO crossover_scope (acell) SELECT acell FROM crossover_member "
                        "WHERE run_id IN " RM_RUNS, sweep_id, key);
        rc = st ? db_step_done(d, st, "scoping the crossover cache") : DB_EIO;
        sqlite3_finalize(st);
        if (rc == DB_OK) rc = db_xcache_forget_scope(d);
    }
    /* Metrics and links go with their run (ON DELETE CASCADE). */
    if (rc == DB_OK) {
        st = rm_stmt(d, "DELETE FROM runs WHERE id IN " RM_RUNS, sweep_id, key);
        rc = st ? db_step_done(d, st, "deleting runs") : DB_EIO;
        *deleted = st ? sqlite3_changes(d->h) : 0;
        sqlite3_finalize(st);
    }
    if (rc == DB_OK && cache) rc = db_xcache_flush(d); /* a few cells at a time */
    if (rc == DB_OK && sweep_id > 0) {
        st = prepare(d, "DELETE FROM sweeps WHERE id = ?1", "deleting the sweep");
        if (st) sqlite3_bind_int64(st, 1, sweep_id);
        rc = st ? db_step_done(d, st, "deleting the sweep") : DB_EIO;
        sqlite3_finalize(st);
    }
    if (rc == DB_OK && db_exec(d, "COMMIT")) rc = DB_EIO;
    if (rc) {
        db_undo_keeping_error(d, NULL);
        *deleted = 0;
    }
    return rc;
}

int db_run_sweep_names(db *d, long long run_id, db_name_fn fn, void *ctx)
{
    sqlite3_stmt *st = prepare(d, "SELECT s.name FROM sweep_runs sr JOIN sweeps s ON s.id = sr.sweep_id "
                                  "WHERE sr.run_id = ?1 ORDER BY s.name", "reading a run's sweeps");
    if (!st) return DB_EIO;
    sqlite3_bind_int64(st, 1, run_id);
    int rc, out = DB_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fn(ctx, (const char *)sqlite3_column_text(st, 0))) {
            out = db_fail(d, DB_EABORT, "stopped");
            break;
        }
    }
    if (out == DB_OK && rc != SQLITE_DONE) out = db_sqlite_fail(d, rc, "reading a run's sweeps");
    sqlite3_finalize(st);
    return out;
}
