/*
 * db_cloze.c — cloze item outcomes (schema.sql, migration 8): stored as the
 * ingest reads them off metrics.jsonl (mc_correct), and read back beside
 * mc_acc and mc_acc_se for the paired comparison of two runs' accuracies.
 */
#include "orchestrator/db/db_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long db_outcomes_items(const char *text)
{
    if (!text || *text < '0' || *text > '9') return -1;
    char *end;
    unsigned long long n = strtoull(text, &end, 10);
    if (*end != ':' || n == 0 || n > 100000000ull || strlen(end + 1) != (n + 3) / 4) return -1;
    for (const char *h = end + 1; *h; h++)
        if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f'))) return -1;
    return (long)n;
}

int db_ingest_outcomes(db *d, long long run_id, const db_outcome *rows, size_t n)
{
    if (d->mode == DB_READONLY)
        return db_fail(d, DB_EDENIED, "the database '%s' is open read-only", d->path);
    if (n == 0) return DB_OK;
    for (size_t i = 0; i < n; i++)
        if (rows[i].step < 0 || db_outcomes_items(rows[i].outcomes) < 0)
            return db_fail(d, DB_EINPUT, "outcomes %zu of run %lld: %s", i, run_id,
                           rows[i].step < 0 ? "negative step" : "not of the form N:HEX");
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->h,
        "INSERT INTO cloze_outcomes (run_id, step, items, outcomes) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (run_id, step) DO UPDATE SET items = excluded.items, outcomes = excluded.outcomes",
        -1, &st, NULL);
    if (rc != SQLITE_OK) return db_sqlite_fail(d, rc, "storing cloze outcomes");
    int own = sqlite3_get_autocommit(d->h);
    if ((rc = db_exec(d, own ? "BEGIN IMMEDIATE" : "SAVEPOINT outcomes"))) {
        sqlite3_finalize(st);
        return rc;
    }
    for (size_t i = 0; i < n && rc == DB_OK; i++) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int64(st, 2, rows[i].step);
        sqlite3_bind_int64(st, 3, db_outcomes_items(rows[i].outcomes));
        sqlite3_bind_text(st, 4, rows[i].outcomes, -1, SQLITE_STATIC);
        int s = sqlite3_step(st);
        sqlite3_reset(st);
        if (s != SQLITE_DONE) {
            char what[120];
            snprintf(what, sizeof what, "storing cloze outcomes at step %lld of run %lld", rows[i].step, run_id);
            rc = db_sqlite_fail(d, s, what);
        }
    }
    sqlite3_finalize(st);
    if (rc) {
        db_undo_keeping_error(d, own ? "ROLLBACK" : "ROLLBACK TO outcomes; RELEASE outcomes");
        return rc;
    }
    rc = db_exec(d, own ? "COMMIT" : "RELEASE outcomes");
    if (rc && own) db_rollback(d);
    return rc;
}

int db_cloze_at(db *d, long long run_id, long long step, db_cloze *out)
{
    memset(out, 0, sizeof *out);
    out->step = -1;
    out->acc = out->se = NAN;
    /* Before migration 8 (a database read-only and not upgraded) there are
     * no outcomes, only the values. */
    int have_table = d->version >= 8;
    char sql[640];
    snprintf(sql, sizeof sql,
             "SELECT m.step, m.value, "
             "(SELECT value FROM metrics e WHERE e.run_id = m.run_id AND e.name = 'mc_acc_se' AND e.step = m.step), "
             "%s FROM metrics m WHERE m.run_id = ?1 AND m.name = 'mc_acc' AND %s "
             "ORDER BY m.step DESC LIMIT 1",
             have_table ? "(SELECT outcomes FROM cloze_outcomes o WHERE o.run_id = m.run_id AND o.step = m.step)"
                        : "NULL",
             step >= 0 ? "m.step = ?2" : "?2 < 0");
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->h, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return db_sqlite_fail(d, rc, "reading mc_acc");
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, step);
    rc = sqlite3_step(st);
    int out_rc = DB_OK;
    if (rc == SQLITE_ROW) {
        out->step = sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) out->acc = sqlite3_column_double(st, 1);
        if (sqlite3_column_type(st, 2) != SQLITE_NULL) out->se = sqlite3_column_double(st, 2);
        const char *t = (const char *)sqlite3_column_text(st, 3);
        if (t && !(out->outcomes = strdup(t))) out_rc = db_fail(d, DB_EIO, "out of memory");
        out->items = out->outcomes ? db_outcomes_items(out->outcomes) : -1;
    } else if (rc == SQLITE_DONE) {
        out_rc = DB_ENOTFOUND;
    } else {
        out_rc = db_sqlite_fail(d, rc, "reading mc_acc");
    }
    sqlite3_finalize(st);
    return out_rc;
}

void db_cloze_free(db_cloze *c)
{
    free(c->outcomes);
    c->outcomes = NULL;
}

int db_runs_without_outcomes(db *d, db_run_dir_fn fn, void *ctx)
{
    if (d->version < 8) return DB_OK; /* nothing to fill: the table is not there */
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->h,
        "SELECT r.id, r.key, r.run_dir "
        "FROM runs r WHERE r.run_dir IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM metrics m WHERE m.run_id = r.id AND m.name = 'mc_acc') "
        "AND NOT EXISTS (SELECT 1 FROM cloze_outcomes o WHERE o.run_id = r.id) ORDER BY r.id",
        -1, &st, NULL);
    if (rc != SQLITE_OK) return db_sqlite_fail(d, rc, "listing runs without outcomes");
    int out = DB_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               (const char *)sqlite3_column_text(st, 2))) {
            out = db_fail(d, DB_EABORT, "stopped");
            break;
        }
    if (out == DB_OK && rc != SQLITE_DONE) out = db_sqlite_fail(d, rc, "listing runs without outcomes");
    sqlite3_finalize(st);
    return out;
}

/* ---- re-scored (migration 9) ---------------------------------------------- */

static int need_v9(db *d)
{
    return d->version >= 9 ? DB_OK
                           : db_fail(d, DB_EINPUT, "the database '%s' is older than re-scored cloze results "
                                     "(schema %d); 'xover db init' upgrades it", d->path, d->version);
}

int db_rescored_put(db *d, const db_rescored *r)
{
    if (d->mode == DB_READONLY)
        return db_fail(d, DB_EDENIED, "the database '%s' is open read-only", d->path);
    int rc = need_v9(d);
    if (rc) return rc;
    if (db_outcomes_items(r->outcomes) != r->items)
        return db_fail(d, DB_EINPUT, "re-scored outcomes of run %lld are not %ld items", r->run_id, r->items);
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(d->h,
        "INSERT INTO cloze_rescored (run_id, item_set, items, step, draws, mc_acc, mc_acc_se, outcomes, cpu_s, "
        "build_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (run_id, item_set, items) DO "
        "UPDATE SET step = excluded.step, draws = excluded.draws, mc_acc = excluded.mc_acc, "
        "mc_acc_se = excluded.mc_acc_se, outcomes = excluded.outcomes, cpu_s = excluded.cpu_s, "
        "scored_at = excluded.scored_at, build_id = excluded.build_id", -1, &st, NULL);
    if (rc != SQLITE_OK) return db_sqlite_fail(d, rc, "storing a re-scoring");
    sqlite3_bind_int64(st, 1, r->run_id);
    db_bind_text(st, 2, r->item_set);
    sqlite3_bind_int64(st, 3, r->items);
    sqlite3_bind_int64(st, 4, r->step);
    db_bind_int(st, 5, r->draws);
    db_bind_real(st, 6, r->acc);
    db_bind_real(st, 7, r->se);
    db_bind_text(st, 8, r->outcomes);
    db_bind_real(st, 9, r->cpu_s);
    db_bind_text(st, 10, r->build_id);
    rc = db_step_done(d, st, "storing a re-scoring");
    sqlite3_finalize(st);
    return rc;
}

int db_rescored_has(db *d, long long run_id, const char *item_set, long items)
{
    if (need_v9(d)) return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d->h, "SELECT 1 FROM cloze_rescored WHERE run_id = ?1 AND item_set = ?2 AND items = ?3",
                           -1, &st, NULL) != SQLITE_OK)
        return db_sqlite_fail(d, sqlite3_errcode(d->h), "reading re-scorings"), -1;
    sqlite3_bind_int64(st, 1, run_id);
    db_bind_text(st, 2, item_set);
    sqlite3_bind_int64(st, 3, items);
    int s = sqlite3_step(st), out = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -1;
    if (out < 0) db_sqlite_fail(d, s, "reading re-scorings");
    sqlite3_finalize(st);
    return out;
}

int db_rescored_sets(db *d, long long run_id, long long step, db_set_fn fn, void *ctx)
{
    if (d->version < 9) return DB_OK; /* none can exist */
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->h, "SELECT item_set, items FROM cloze_rescored WHERE run_id = ?1 AND step = ?2 "
                                      "ORDER BY items DESC, item_set", -1, &st, NULL);
    if (rc != SQLITE_OK) return db_sqlite_fail(d, rc, "reading re-scorings");
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, step);
    int out = DB_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(ctx, (const char *)sqlite3_column_text(st, 0), (long)sqlite3_column_int64(st, 1))) {
            out = db_fail(d, DB_EABORT, "stopped");
            break;
        }
    if (out == DB_OK && rc != SQLITE_DONE) out = db_sqlite_fail(d, rc, "reading re-scorings");
    sqlite3_finalize(st);
    return out;
}

int db_rescored_get(db *d, long long run_id, const char *item_set, long items, db_cloze *out)
{
    memset(out, 0, sizeof *out);
    out->step = -1;
    out->items = -1;
    out->acc = out->se = NAN;
    if (d->version < 9) return DB_ENOTFOUND;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->h, "SELECT step, mc_acc, mc_acc_se, outcomes FROM cloze_rescored "
                                      "WHERE run_id = ?1 AND item_set = ?2 AND items = ?3", -1, &st, NULL);
    if (rc != SQLITE_OK) return db_sqlite_fail(d, rc, "reading a re-scoring");
    sqlite3_bind_int64(st, 1, run_id);
    db_bind_text(st, 2, item_set);
    sqlite3_bind_int64(st, 3, items);
    rc = sqlite3_step(st);
    int o = DB_OK;
    if (rc == SQLITE_ROW) {
        out->step = sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) out->acc = sqlite3_column_double(st, 1);
        if (sqlite3_column_type(st, 2) != SQLITE_NULL) out->se = sqlite3_column_double(st, 2);
        const char *t = (const char *)sqlite3_column_text(st, 3);
        if (t && !(out->outcomes = strdup(t))) o = db_fail(d, DB_EIO, "out of memory");
        out->items = out->outcomes ? db_outcomes_items(out->outcomes) : -1;
    } else {
        o = rc == SQLITE_DONE ? DB_ENOTFOUND : db_sqlite_fail(d, rc, "reading a re-scoring");
    }
    sqlite3_finalize(st);
    return o;
}

int db_run_dir(db *d, long long run_id, char **dir)
{
    *dir = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->h, "SELECT run_dir FROM runs WHERE id = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK) return db_sqlite_fail(d, rc, "reading a run directory");
    sqlite3_bind_int64(st, 1, run_id);
    rc = sqlite3_step(st);
    int o = DB_OK;
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (t && !(*dir = strdup(t))) o = db_fail(d, DB_EIO, "out of memory");
    } else {
        o = rc == SQLITE_DONE ? db_fail(d, DB_ENOTFOUND, "no run %lld", run_id)
                              : db_sqlite_fail(d, rc, "reading a run directory");
    }
    sqlite3_finalize(st);
    return o;
}
