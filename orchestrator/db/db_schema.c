/*
 * db_schema.c — schema.sql as the database module reads it: numbered
 * migration sections that build the tables, then one views section that
 * holds every view once (schema.sql says why, at its top). Upgrading a
 * database applies the missing migrations and, when the views it has are
 * not these, drops and recreates them; a read-only reader of such a database
 * gets these views as TEMP views. Also the metric rule (metric_rule) for C.
 */
#include "orchestrator/db/db_impl.h"

#include <sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* schema.sql, compiled in by the Makefile (build/gen/schema_sql.c). */
extern const char xover_schema_sql[];

static const char MIGRATION_MARK[] = "-- @migration ";
static const char VIEWS_MARK[] = "-- @views";
static const char CREATE_VIEW[] = "CREATE VIEW ";

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Split the views section (NUL-terminated, ours to write) into its
 * statements. Each must be CREATE VIEW; it ends at the first ';' at the end
 * of a line that completes an SQL statement (sqlite3_complete knows strings
 * and comments), which is then cut off with a NUL after the ';'. */
static int split_views(char *p, db_schema *s, char *err, size_t errlen)
{
    for (;;) {
        p = (char *)db_skip_space(p);
        if (!*p) return 0;
        if (strncmp(p, CREATE_VIEW, sizeof CREATE_VIEW - 1) != 0) {
            snprintf(err, errlen, "schema text: the views section holds only CREATE VIEW "
                     "statements; found '%.40s'", p);
            return -1;
        }
        if (s->nviews == DB_MAX_VIEWS) {
            snprintf(err, errlen, "schema text: more than %d views", DB_MAX_VIEWS);
            return -1;
        }
        const char *nm = p + sizeof CREATE_VIEW - 1;
        size_t k = 0;
        while (is_ident_char(nm[k]) && k + 1 < sizeof s->view[0].name) k++;
        if (k == 0 || is_ident_char(nm[k])) {
            snprintf(err, errlen, "schema text: a view needs a plain name: '%.40s'", p);
            return -1;
        }
        memcpy(s->view[s->nviews].name, nm, k);
        s->view[s->nviews].name[k] = 0;
        char *end = p;
        for (;;) {
            end = strchr(end, ';');
            if (!end) {
                snprintf(err, errlen, "schema text: view %s has no closing ';'",
                         s->view[s->nviews].name);
                return -1;
            }
            char *q = end + 1;
            while (*q == ' ' || *q == '\t' || *q == '\r') q++;
            if (*q == '\n' || !*q) {
                char keep = end[1];
                end[1] = 0;
                int whole = sqlite3_complete(p);
                end[1] = keep;
                if (whole) break;
            }
            end++;
        }
        s->view[s->nviews++].sql = p;
        p = end + 1;
        int more = *p != 0;
        *p = 0;
        if (!more) return 0;
        p++;
    }
}

int db_schema_read(const char *text, db_schema *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (!(s->text = strdup(text))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Each section runs from the line after its marker to the next marker
     * line (or the end). Migrations must be numbered 1, 2, 3, ... in order:
     * a gap or a repeat in schema.sql is a programming error we report
     * rather than skip over. */
    char *views = NULL;        /* the views section's first character */
    char *open_start = NULL;   /* the section being read */
    size_t *open_len = NULL;   /* where its length goes (NULL: the views') */
    char *views_end = NULL;
    for (char *p = s->text; *p;) {
        char *eol = strchr(p, '\n');
        char *next = eol ? eol + 1 : p + strlen(p);
        int mig = strncmp(p, MIGRATION_MARK, sizeof MIGRATION_MARK - 1) == 0;
        int vw = strncmp(p, VIEWS_MARK, sizeof VIEWS_MARK - 1) == 0;
        if (mig || vw) {
            if (open_start && open_len) *open_len = (size_t)(p - open_start);
            if (open_start && !open_len) views_end = p;
            open_start = next;
            open_len = NULL;
            if (vw && views) {
                snprintf(err, errlen, "schema text: two views sections");
                goto fail;
            }
            if (vw) {
                views = next;
            } else {
                long v = strtol(p + sizeof MIGRATION_MARK - 1, NULL, 10);
                if (v != s->n + 1 || s->n == DB_MAX_MIGRATIONS) {
                    snprintf(err, errlen, "schema text: migration sections must be numbered 1, "
                             "2, 3, ...; found %ld after %d", v, s->n);
                    goto fail;
                }
                s->start[s->n] = next;
                open_len = &s->len[s->n++];
            }
        }
        p = next;
    }
    if (open_start && open_len) *open_len = strlen(open_start);
    if (open_start && !open_len) views_end = open_start + strlen(open_start);
    if (s->n == 0) {
        snprintf(err, errlen, "schema text has no '-- @migration 1:' section");
        goto fail;
    }
    if (views) {
        SHA256Data((const uint8_t *)views, (size_t)(views_end - views), s->views_hash);
        /* A NUL where the views end: over the first character of a later
         * marker line at most, which no section's text includes. */
        *views_end = 0;
        if (split_views(views, s, err, errlen)) goto fail;
    }
    return 0;
fail:
    db_schema_free(s);
    return -1;
}

void db_schema_free(db_schema *s)
{
    free(s->text);
    s->text = NULL;
}

int db_schema_version(void)
{
    db_schema s;
    char err[256];
    if (db_schema_read(xover_schema_sql, &s, err, sizeof err)) return 0;
    db_schema_free(&s);
    return s.n;
}

/* ---- upgrading ---------------------------------------------------------- */

/* meta.value of `key` into buf ("" when there is none). */
static int meta_get(db *d, const char *key, char *buf, size_t n)
{
    buf[0] = 0;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(d->h, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const char *v = (const char *)sqlite3_column_text(st, 0);
            snprintf(buf, n, "%s", v ? v : "");
        }
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? DB_OK : db_sqlite_fail(d, rc, "reading meta");
}

static int meta_put(db *d, const char *key, const char *value)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(d->h, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return db_sqlite_fail(d, rc, "writing meta");
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    rc = db_step_done(d, st, "writing meta");
    sqlite3_finalize(st);
    return rc;
}

/* Are the database's views this schema's? Only a database at the schema's
 * last migration can have them. */
static int views_current(db *d, const db_schema *s)
{
    char hash[80];
    if (d->version != s->n || meta_get(d, "views_hash", hash, sizeof hash)) return 0;
    return strcmp(hash, s->views_hash) == 0;
}

/* Drop the view `name` if the database has a view (not a table) of that
 * name. Names come from schema.sql or from meta.views, which only xover
 * writes; they are still checked to be plain names before they reach SQL. */
static int drop_view(db *d, const char *name, size_t len)
{
    char sql[200];
    if (len == 0 || len > 64) return DB_OK;
    for (size_t i = 0; i < len; i++)
        if (!is_ident_char(name[i])) return DB_OK;
    long long n = 0;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name = '%.*s'",
             (int)len, name);
    if (db_read_int(d, sql, &n)) return -1;
    if (!n) return DB_OK;
    snprintf(sql, sizeof sql, "DROP VIEW \"%.*s\"", (int)len, name);
    return db_exec(d, sql);
}

/* Drop the views the schema names and those meta.views says the database
 * was last given (a view since removed from schema.sql goes too). Views a
 * user made with other names stay. */
static int drop_views(db *d, const db_schema *s)
{
    for (int i = s->nviews - 1; i >= 0; i--)
        if (drop_view(d, s->view[i].name, strlen(s->view[i].name))) return -1;
    char list[4096];
    if (d->version < 1 || meta_get(d, "views", list, sizeof list)) return d->version < 1 ? 0 : -1;
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, " ");
        if (drop_view(d, p, k)) return -1;
        p += k;
        while (*p == ' ') p++;
    }
    return 0;
}

/* Create the schema's views (in `temp`, as TEMP views) and check that each
 * reads: SQLite resolves a view's columns only when it is used, so a view
 * naming a column the tables lack would otherwise fail later, in a user's
 * query. -1 with d->err naming the view. */
static int create_views(db *d, const db_schema *s, int temp)
{
    for (int i = 0; i < s->nviews; i++) {
        const char *sql = s->view[i].sql;
        char *t = NULL;
        if (temp) {
            size_t n = strlen(sql) + 8;
            if (!(t = malloc(n))) return db_fail(d, DB_EIO, "out of memory");
            snprintf(t, n, "CREATE TEMP VIEW %s", sql + sizeof CREATE_VIEW - 1);
        }
        int rc = db_exec(d, t ? t : sql);
        free(t);
        if (rc) return rc;
    }
    /* The crossover view reads crossover_cache, made by the database's own
     * views: read-only, with views of its own, this connection computes
     * those rows itself (a TEMP view of that name hides the table). */
    long long cache = 0;
    if (temp && (db_read_int(d, "SELECT count(*) FROM main.sqlite_master WHERE type = 'table' "
                                "AND name = 'crossover_cache'", &cache) ||
                 (cache && db_exec(d, "CREATE TEMP VIEW crossover_cache AS SELECT * FROM crossover_by_seed"))))
        return -1;
    for (int i = 0; i < s->nviews; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT * FROM %s.\"%s\"", temp ? "temp" : "main", s->view[i].name);
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(d->h, sql, -1, &st, NULL);
        sqlite3_finalize(st);
        if (rc != SQLITE_OK)
            return db_fail(d, DB_EIO, "view %s: %s", s->view[i].name, sqlite3_errmsg(d->h));
    }
    return 0;
}

/* One transaction for everything, with the new user_version: a crash or a
 * failure leaves the database as it was, at a whole version with its views.
 * BEGIN IMMEDIATE takes the write lock first and the version and views are
 * read again under it: two processes opening an old database at once
 * upgrade it once. The views go first: a migration may then change the
 * tables they read (SQLite checks views when a column is renamed). */
int db_schema_upgrade(db *d, const db_schema *s, int upto)
{
    int views = s->nviews > 0 && upto == s->n;
    if (d->version >= upto && (!views || views_current(d, s))) return 0;
    if (db_exec(d, "BEGIN IMMEDIATE")) return -1;
    long long now = 0;
    int v = d->version;
    if (db_read_int(d, "PRAGMA user_version", &now)) goto fail;
    d->version = (int)now;
    if (now >= upto && (!views || views_current(d, s))) return db_exec(d, "COMMIT") ? -1 : 0;
    if (views && drop_views(d, s)) goto fail;
    for (v = (int)now + 1; v <= upto; v++) {
        char *sql = malloc(s->len[v - 1] + 1);
        if (!sql) { db_fail(d, DB_EIO, "out of memory"); goto fail; }
        memcpy(sql, s->start[v - 1], s->len[v - 1]);
        sql[s->len[v - 1]] = 0;
        int rc = db_exec(d, sql);
        free(sql);
        if (rc) goto fail;
    }
    v = upto;
    if (upto > now) {
        char stmt[160], num[16];
        snprintf(num, sizeof num, "%d", upto);
        snprintf(stmt, sizeof stmt, "PRAGMA user_version = %d", upto);
        if (meta_put(d, "schema_version", num) || db_exec(d, stmt)) goto fail;
    }
    if (views) {
        char list[DB_MAX_VIEWS * 65] = "";
        size_t used = 0;
        for (int i = 0; i < s->nviews; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? " " : "",
                                     s->view[i].name);
        /* New views may define the crossover anew: its cache is made
         * again from them (a new database has nothing to compute). */
        if (create_views(d, s, 0) || meta_put(d, "views_hash", s->views_hash) ||
            meta_put(d, "views", list) || (db_xcache_present(d) && db_xcache_rebuild(d)))
            goto fail_views;
    }
    if (db_exec(d, "COMMIT")) goto fail;
    d->version = upto;
    return 0;
fail_views:;
    char vmsg[sizeof d->err];
    snprintf(vmsg, sizeof vmsg, "%s", d->err);
    db_rollback(d);
    d->version = d->version_found;
    return db_fail(d, DB_EIO, "cannot create the views of '%s': %s", d->path, vmsg);
fail:;
    char msg[sizeof d->err];
    snprintf(msg, sizeof msg, "%s", d->err);
    db_rollback(d);
    d->version = d->version_found;
    return db_fail(d, DB_EIO, "cannot upgrade '%s' to schema version %d: %s", d->path, v, msg);
}

void db_schema_temp_views(db *d, const db_schema *s)
{
    if (!s->nviews || d->version < 1 || views_current(d, s)) return;
    /* A read transaction: the TEMP views are all made and all read, or none. */
    if (db_exec(d, "BEGIN")) return;
    if (create_views(d, s, 1) == 0 && db_exec(d, "COMMIT") == 0) return;
    db_rollback(d);
    d->err[0] = 0;
}

/* ---- the metric rule ---------------------------------------------------- */

/* The views' lookup, on a private in-memory database holding only the
 * metric_rule view of the compiled-in schema.sql: C asks the very rows the
 * views join, not a copy of them (schema.sql, metric_rule). Prepared once,
 * kept for the process (reachable, so no leak checker counts it). The
 * statement gives (is a signal, lower is better, is an error) for ?1. */
static sqlite3_stmt *rule_lookup(const char *name)
{
    static sqlite3_stmt *lookup;
    static int tried;
    if (!tried) {
        tried = 1;
        db_schema s;
        char err[256];
        sqlite3 *h = NULL;
        if (db_schema_read(xover_schema_sql, &s, err, sizeof err) == 0) {
            for (int i = 0; i < s.nviews; i++)
                if (!strcmp(s.view[i].name, "metric_rule") &&
                    sqlite3_open(":memory:", &h) == SQLITE_OK &&
                    sqlite3_exec(h, s.view[i].sql, NULL, NULL, NULL) == SQLITE_OK)
                    sqlite3_prepare_v2(h, "SELECT coalesce(k, 'metric') = 'signal', "
                                       "CASE coalesce(k, 'metric') WHEN 'metric' THEN coalesce(b, 'max') "
                                       "ELSE b END = 'min', coalesce(k, 'metric') = 'error' FROM (SELECT "
                                       "(SELECT kind FROM metric_rule WHERE ?1 LIKE pattern ESCAPE '\\' "
                                       "ORDER BY instr(pattern, '%') LIMIT 1) AS k, "
                                       "(SELECT better FROM metric_rule WHERE ?1 LIKE pattern ESCAPE '\\' "
                                       "ORDER BY instr(pattern, '%') LIMIT 1) AS b)",
                                       -1, &lookup, NULL);
            db_schema_free(&s);
        }
        if (!lookup) {
            /* Only a broken schema.sql gets here, which every test notices. */
            fprintf(stderr, "xover: schema.sql has no usable metric_rule view\n");
            sqlite3_close(h);
        }
    }
    if (!lookup || !name) return NULL;
    sqlite3_reset(lookup);
    sqlite3_bind_text(lookup, 1, name, -1, SQLITE_TRANSIENT);
    return sqlite3_step(lookup) == SQLITE_ROW ? lookup : NULL;
}

int db_metric_lower_better(const char *name)
{
    sqlite3_stmt *st = rule_lookup(name);
    return st && sqlite3_column_int(st, 1);
}

int db_metric_is_signal(const char *name)
{
    sqlite3_stmt *st = rule_lookup(name);
    return st && sqlite3_column_int(st, 0);
}

db_metric_kind db_metric_kind_of(const char *name)
{
    sqlite3_stmt *st = rule_lookup(name);
    if (!st) return DB_KIND_METRIC;
    return sqlite3_column_int(st, 0) ? DB_KIND_SIGNAL : sqlite3_column_int(st, 2) ? DB_KIND_ERROR : DB_KIND_METRIC;
}
