/*
 * pairs_reading.c — AR/MDM pairs written for a person to read (commands.h):
 * the default table of `xover crossover` and the reading cells `xover table`
 * shares with it.
 *
 * The machine formats (csv, json) print the crossover view's columns as
 * numbers; a person reading md or an aligned table wants fewer columns and
 * human units: "12.2M tokens", "304 epochs", a best with where it came,
 * a gap with its interval, and only the columns that say something about
 * these rows (no seed columns for one seed, the swept fields that differ
 * between the pairs shown, lr or corpus, and none that do not: analysis.h's
 * an_varied, which names pairs the same way in the report and the plots).
 */
#include "orchestrator/commands/commands.h"

#include "orchestrator/cli/rowfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    int metrics, quality, epochs, seeds, bracket, interval, crossed, acc;
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
        s.acc |= p->acc.have;
    }
    return s;
}

/* mc_acc at the points the best columns name, and the gap MDM - AR with
 * its interval and how it was had: "+0.012 [-0.004, +0.028] (paired, 4000
 * items)" (analysis.h, an_acc). */
static void acc_cells(const an_acc *a, row *r)
{
    char t[256]; /* put() keeps CELL of it */
    t[0] = 0;
    if (a->have) snprintf(t, sizeof t, "%.3f", a->ar);
    put(r, "AR mc_acc", t);
    if (a->have) snprintf(t, sizeof t, "%.3f", a->mdm);
    put(r, "MDM mc_acc", t);
    an_acc_gap_text(a, t, sizeof t);
    put(r, "mc_acc gap (95%)", t);
}

/* One pair's row; v the config fields that tell the pairs apart, a
 * column each (analysis.h). */
static void pair_row(const an_pair *p, const shown_cols *s, const an_varied *v, row *r)
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
    for (size_t k = 0; k < v->n; k++) {
        an_varied_value(v, k, p, t, sizeof t);
        put(r, v->name[k], t);
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
    if (s->acc) acc_cells(&p->acc, r);
}

int pairs_print_reading(const an_pairs *ps, rowfmt *f)
{
    an_varied v;
    if (an_varied_find(ps, &v)) return -1;
    shown_cols s = decide(ps);
    row *r = malloc(sizeof *r);
    int bad = !r;
    for (size_t i = 0; !bad && (i < ps->n || (i == 0 && ps->n == 0)); i++) {
        if (ps->n) {
            pair_row(&ps->p[i], &s, &v, r);
        } else {
            /* no pair: the header alone, of the columns a pair would have */
            an_pair none = {.model = "", .quality = "", .metric = "", .cell = "{}", .epochs = NAN};
            none.res.final_gap = none.res.crossover = none.res.bracket_lo = NAN;
            none.res.ar_best = none.res.mdm_best = NAN;
            pair_row(&none, &s, &v, r);
        }
        if (i == 0) bad = rowfmt_columns(f, r->n, r->name);
        if (!bad && ps->n) bad = rowfmt_row(f, r->n, r->v);
    }
    free(r);
    an_varied_free(&v);
    return bad ? -1 : 0;
}

void pairs_edge_note(const an_pairs *ps)
{
    char ar[512], mdm[512];
    an_edge_notes(ps, ar, sizeof ar, mdm, sizeof mdm);
    if (ar[0]) fprintf(stderr, "%s\n", ar);
    if (mdm[0]) fprintf(stderr, "%s\n", mdm);
}
