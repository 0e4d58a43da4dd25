/*
 * pairs_reading.c — AR/MDM pairs written for a person to read (commands.h):
 * the default table of `xover crossover`, the reading cells `xover table`
 * shares with it, and which config fields tell pairs apart.
 *
 * The machine formats (csv, json) print the crossover view's columns as
 * numbers; a person reading md or an aligned table wants fewer columns and
 * human units: "12.2M tokens", "304 epochs", a best with where it came,
 * a gap with its interval, and only the columns that say something about
 * these rows (no seed columns for one seed, the swept fields that differ
 * between the pairs shown, lr or corpus, and none that do not).
 */
#include "orchestrator/commands/commands.h"

#include "orchestrator/cli/rowfmt.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- config fields that differ ------------------------------------------ */

/* Fields the typed columns already show, or that only name a run's place in
 * an annealed family: never listed as a difference of their own. */
static int typed_path(const char *path)
{
    static const char *const typed[] = {"model.name", "data.unique_tokens", "data.quality", "train.epochs",
                                        NULL};
    for (int i = 0; typed[i]; i++)
        if (!strcmp(path, typed[i])) return 1;
    return 0;
}

/* Append every leaf path of JSON object o (prefix "" at the top) to *v. */
static int leaves(json_t *o, const char *prefix, char ***v, size_t *n, size_t *cap)
{
    const char *k;
    json_t *x;
    json_object_foreach(o, k, x) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", k);
        if (json_is_object(x)) {
            if (leaves(x, path, v, n, cap)) return -1;
            continue;
        }
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 64;
            char **t = realloc(*v, c * sizeof *t);
            if (!t) return -1;
            *v = t, *cap = c;
        }
        if (!((*v)[(*n)++] = strdup(path))) return -1;
    }
    return 0;
}

/* The value at dotted path in root (NULL when absent). */
static json_t *at_path(json_t *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *j = root;
    for (char *save = NULL, *t = strtok_r(buf, ".", &save); j && t; t = strtok_r(NULL, ".", &save))
        j = json_is_object(j) ? json_object_get(j, t) : NULL;
    return j;
}

static int same_json(json_t *a, json_t *b)
{
    if (!a || !b) return a == b;
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    return json_equal(a, b);
}

int pairs_differing_field(const an_pair *a, const an_pair *b, char *buf, size_t n)
{
    const char *hit = strcmp(a->quality, b->quality)       ? "quality"
                      : strcmp(a->model, b->model)           ? "model"
                      : a->unique_tokens != b->unique_tokens ? "unique_tokens"
                      : !(a->epochs == b->epochs || (isnan(a->epochs) && isnan(b->epochs))) ? "epochs"
                                                                                            : NULL;
    if (hit) {
        snprintf(buf, n, "%s", hit);
        return 0;
    }
    json_t *ja = json_loads(a->cell, 0, NULL), *jb = json_loads(b->cell, 0, NULL);
    char **v = NULL;
    size_t nv = 0, cap = 0;
    int rc = -1;
    if (ja && jb && leaves(ja, "", &v, &nv, &cap) == 0 && leaves(jb, "", &v, &nv, &cap) == 0)
        for (size_t i = 0; i < nv && rc; i++)
            if (!same_json(at_path(ja, v[i]), at_path(jb, v[i]))) {
                snprintf(buf, n, "%s", v[i]);
                rc = 0;
            }
    for (size_t i = 0; i < nv; i++) free(v[i]);
    free(v);
    json_decref(ja);
    json_decref(jb);
    if (rc) snprintf(buf, n, "the config");
    return rc;
}

/* The config paths shown as columns: those in which two pairs of the same
 * model and quality differ (a model's own fields and a tier's spec go with
 * its name). *out is a malloc'd array of malloc'd paths; returns how many,
 * or -1 when out of memory. */
static int varied_paths(const an_pairs *ps, char ***out)
{
    json_t **cfg = calloc(ps->n + 1, sizeof *cfg);
    char **all = NULL, **shown = NULL;
    size_t nall = 0, cap = 0;
    int nshown = 0, bad = !cfg;
    for (size_t i = 0; !bad && i < ps->n; i++) {
        cfg[i] = json_loads(ps->p[i].cell, 0, NULL);
        if (cfg[i] && leaves(cfg[i], "", &all, &nall, &cap)) bad = 1;
    }
    if (!bad && !(shown = calloc(nall + 1, sizeof *shown))) bad = 1;
    for (size_t k = 0; !bad && k < nall; k++) {
        int dup = typed_path(all[k]);
        for (int s = 0; !dup && s < nshown; s++) dup = !strcmp(shown[s], all[k]);
        int differs = 0;
        for (size_t i = 0; !dup && !differs && i < ps->n; i++)
            for (size_t j = i + 1; !differs && j < ps->n; j++)
                differs = !strcmp(ps->p[i].model, ps->p[j].model) && !strcmp(ps->p[i].quality, ps->p[j].quality) &&
                          !same_json(at_path(cfg[i], all[k]), at_path(cfg[j], all[k]));
        if (differs && !(shown[nshown++] = strdup(all[k]))) bad = 1;
    }
    for (size_t i = 0; i < ps->n && cfg; i++) json_decref(cfg[i]);
    for (size_t k = 0; k < nall; k++) free(all[k]);
    free(all);
    free(cfg);
    if (bad) {
        for (int s = 0; shown && s < nshown; s++) free(shown[s]);
        free(shown);
        return -1;
    }
    *out = shown;
    return nshown;
}

/* The column name of config path p among the shown ones: its last part
 * (lr, corpus) unless another shown path ends the same. */
static const char *short_name(char *const *paths, int n, int k)
{
    const char *dot = strrchr(paths[k], '.'), *last = dot ? dot + 1 : paths[k];
    for (int i = 0; i < n; i++) {
        if (i == k) continue;
        const char *d = strrchr(paths[i], '.');
        if (!strcmp(d ? d + 1 : paths[i], last)) return paths[k];
    }
    return last;
}

/* ---- reading cells ------------------------------------------------------ */

static const char *unit_of(an_xaxis x) { return x == AN_TOKENS ? "tokens" : x == AN_EPOCHS ? "epochs" : "FLOPs"; }

/* A metric value: three decimals as the README prints them. */
static void value_text(double v, char *buf, size_t n)
{
    if (isnan(v)) snprintf(buf, n, "%s", "");
    else if (fabs(v) >= 1000 || (v != 0 && fabs(v) < 0.001)) snprintf(buf, n, "%.4g", v);
    else snprintf(buf, n, "%.3f", v);
}

int pairs_reading_cell(const an_pair *p, int col, char *buf, size_t n)
{
    const an_result *r = &p->res;
    char a[32], b[32];
    if (col == an_column_index("crossover")) {
        switch (r->verdict) {
        case AN_CROSSOVER:
            /* between two evaluations: both, not an interpolated point */
            an_si(r->bracket_lo, a, sizeof a);
            an_si(r->bracket_hi, b, sizeof b);
            snprintf(buf, n, "%s to %s", a, b);
            break;
        case AN_MDM_AHEAD: snprintf(buf, n, "ahead from the start"); break;
        case AN_NONE: snprintf(buf, n, "none"); break;
        case AN_INCONCLUSIVE: snprintf(buf, n, "inconclusive"); break;
        case AN_UNFINISHED: snprintf(buf, n, "unfinished"); break;
        default: return 0;
        }
        /* a crossover against an AR best that may lie below the grid */
        if (r->ar_best_at_edge == 1 && !isnan(r->crossover))
            snprintf(buf + strlen(buf), n - strlen(buf), " (AR best at its smallest budget *)");
        return 1;
    }
    if (col == an_column_index("final_gap") && !isnan(r->final_gap)) {
        if (r->interval == AN_IV_NONE) snprintf(buf, n, "%+.3f", r->final_gap);
        else snprintf(buf, n, "%+.3f [%+.3f, %+.3f]%s", r->final_gap, r->gap_lo, r->gap_hi,
                      r->interval == AN_IV_EVAL ? " (eval error, 1 seed)" : "");
        return 1;
    }
    return 0;
}

/* A side's best: "3.932 (15.2M tokens)", with the seeds' sd when several. */
static void best_text(double v, double sd, double x, an_xaxis ax, char *buf, size_t n)
{
    char val[32], xs[32], sds[40] = "";
    if (isnan(v)) { buf[0] = 0; return; }
    value_text(v, val, sizeof val);
    if (!isnan(sd)) snprintf(sds, sizeof sds, " ± %.3f", sd);
    an_si(x, xs, sizeof xs);
    snprintf(buf, n, "%s%s (%s %s)", val, sds, xs, unit_of(ax));
}

/* "3.932 (15.2M tokens)" -> "3.932 (15.2M tokens, <what>)": a best at the
 * edge of its annealed grid (pairs_edge_note says what it means). */
static void edge_text(char *buf, size_t n, const char *what)
{
    size_t k = strlen(buf);
    if (k && buf[k - 1] == ')') snprintf(buf + k - 1, n - (k - 1), ", %s)", what);
}

/* ---- the table ---------------------------------------------------------- */

#define MAX_COLS 48
#define CELL 96

typedef struct {
    const char *name[MAX_COLS];
    char text[MAX_COLS][CELL];
    db_value v[MAX_COLS];
    int n;
} row;

static void put(row *r, const char *name, const char *text)
{
    if (r->n == MAX_COLS) return;
    r->name[r->n] = name;
    snprintf(r->text[r->n], CELL, "%s", text);
    r->v[r->n] = text && *text ? (db_value){DB_TEXT, 0, 0, r->text[r->n], strlen(r->text[r->n])}
                               : (db_value){DB_NULL, 0, 0, NULL, 0};
    r->n++;
}

/* What the rows have in common decides the columns shown. */
typedef struct {
    int metrics, quality, epochs, seeds, bracket, interval, crossed;
} shown_cols;

static shown_cols decide(const an_pairs *ps)
{
    shown_cols s = {0};
    for (size_t i = 0; i < ps->n; i++) {
        const an_pair *p = &ps->p[i], *q = &ps->p[0];
        s.metrics |= strcmp(p->metric, q->metric) != 0;
        s.quality |= strcmp(p->quality, q->quality) != 0;
        s.epochs |= !(p->epochs == q->epochs || (isnan(p->epochs) && isnan(q->epochs)));
        s.seeds |= p->ar.seeds > 1 || p->mdm.seeds > 1;
        s.bracket |= !isnan(p->res.bracket_lo);
        s.interval |= p->res.interval != AN_IV_NONE;
        s.crossed |= p->res.paired > 1;
    }
    return s;
}

/* One pair's row; cfg its parsed cell, paths/np the config columns. */
static void pair_row(const an_pair *p, const shown_cols *s, json_t *cfg, char *const *paths, int np, row *r)
{
    char t[CELL], a[32], b[32];
    const an_result *res = &p->res;
    r->n = 0;
    if (s->metrics) put(r, "metric", p->metric);
    put(r, "model", p->model);
    an_si((double)p->unique_tokens, t, sizeof t);
    put(r, "unique tokens", p->unique_tokens >= 0 ? t : "");
    if (s->quality) put(r, "quality", p->quality);
    if (s->epochs) {
        an_si(p->epochs, t, sizeof t);
        put(r, p->annealed ? "largest budget" : "epochs", isnan(p->epochs) ? "" : t);
    }
    for (int k = 0; k < np; k++) {
        json_t *j = at_path(cfg, paths[k]);
        char *js = j && !json_is_string(j) ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        if (j && json_is_real(j)) snprintf(t, sizeof t, "%g", json_real_value(j));
        else snprintf(t, sizeof t, "%s", j ? (json_is_string(j) ? json_string_value(j) : js ? js : "") : "");
        free(js);
        put(r, short_name(paths, np, k), t);
    }
    if (s->seeds) {
        if (p->ar.seeds == p->mdm.seeds) snprintf(t, sizeof t, "%d", p->ar.seeds);
        else snprintf(t, sizeof t, "%d AR, %d MDM", p->ar.seeds, p->mdm.seeds);
        put(r, "seeds", t);
    }
    put(r, "verdict", an_verdict_name(res->verdict));
    if (isnan(res->crossover)) t[0] = 0;
    else an_si(res->crossover, a, sizeof a), snprintf(t, sizeof t, "%s %s", a, unit_of(p->xaxis));
    put(r, p->annealed ? "crossover (budget)" : "crossover", t);
    if (s->bracket) {
        t[0] = 0;
        if (!isnan(res->bracket_lo)) {
            an_si(res->bracket_lo, a, sizeof a);
            an_si(res->bracket_hi, b, sizeof b);
            snprintf(t, sizeof t, "%s to %s", a, b);
        }
        put(r, "between", t);
    }
    if (s->crossed) {
        snprintf(t, sizeof t, "%d of %d", res->seeds_crossed, res->paired);
        put(r, "seeds crossed", res->paired > 1 ? t : "");
    }
    best_text(res->ar_best, p->ar.seeds > 1 ? res->ar_best_sd : NAN, res->ar_best_x, p->xaxis, t, sizeof t);
    if (res->ar_best_at_edge == 1) edge_text(t, sizeof t, "smallest budget *");
    put(r, "AR best", t);
    best_text(res->mdm_best, p->mdm.seeds > 1 ? res->mdm_best_sd : NAN, res->mdm_best_x, p->xaxis, t, sizeof t);
    if (res->mdm_best_at_edge == 1) edge_text(t, sizeof t, "largest budget *");
    put(r, "MDM best", t);
    if (isnan(res->final_gap)) t[0] = 0;
    else snprintf(t, sizeof t, "%+.3f", res->final_gap);
    put(r, "final gap", t);
    if (s->interval) {
        t[0] = 0;
        if (res->interval != AN_IV_NONE)
            snprintf(t, sizeof t, "%+.3f to %+.3f (%s)", res->gap_lo, res->gap_hi,
                     res->interval == AN_IV_EVAL ? "eval error" : "seeds");
        put(r, "95% interval", t);
    }
}

int pairs_print_reading(const an_pairs *ps, rowfmt *f)
{
    char **paths = NULL;
    int np = varied_paths(ps, &paths);
    if (np < 0) return -1;
    shown_cols s = decide(ps);
    row *r = malloc(sizeof *r);
    int bad = !r;
    for (size_t i = 0; !bad && (i < ps->n || (i == 0 && ps->n == 0)); i++) {
        json_t *cfg = ps->n ? json_loads(ps->p[i].cell, 0, NULL) : NULL;
        if (ps->n) {
            pair_row(&ps->p[i], &s, cfg, paths, np, r);
        } else {
            /* no pair: the header alone, of the columns a pair would have */
            an_pair none = {.model = "", .quality = "", .metric = "", .cell = "{}", .epochs = NAN};
            none.res.final_gap = none.res.crossover = none.res.bracket_lo = NAN;
            none.res.ar_best = none.res.mdm_best = NAN;
            pair_row(&none, &s, NULL, paths, np, r);
        }
        json_decref(cfg);
        if (i == 0) bad = rowfmt_columns(f, r->n, r->name);
        if (!bad && ps->n) bad = rowfmt_row(f, r->n, r->v);
    }
    free(r);
    for (int k = 0; k < np; k++) free(paths[k]);
    free(paths);
    return bad ? -1 : 0;
}

void pairs_edge_note(const an_pairs *ps)
{
    int ar = 0, mdm = 0;
    for (size_t i = 0; i < ps->n; i++) {
        ar += ps->p[i].res.ar_best_at_edge == 1;
        mdm += ps->p[i].res.mdm_best_at_edge == 1;
    }
    if (ar)
        fprintf(stderr, "* AR's best is its smallest annealed budget in %d pair%s: its minimum may lie below the "
                        "grid, so AR's best is overstated and the crossover may be an artefact. Anneal AR from "
                        "a smaller budget (train.anneal_at: 2 per doubling from 2.5) to bracket it.\n",
                ar, ar == 1 ? "" : "s");
    if (mdm)
        fprintf(stderr, "* MDM still improving at the largest budget in %d pair%s: its best lies at or beyond "
                        "the grid's end, so the final gap may understate it.\n",
                mdm, mdm == 1 ? "" : "s");
}
