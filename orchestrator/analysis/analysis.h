/*
 * analysis.h — the crossover analysis: where MDM's learning curve overtakes
 * AR's, the power-law fit of the critical compute, SVG plots and the HTML
 * report. The computation works on plain arrays; an_pairs_load() is the one
 * function that reads the results database (through db.h).
 *
 * THE DEFINITION of a pair, a side (seeds averaged), the hold of an
 * early-stopped side and the crossover is written once: in schema.sql, the
 * comment above the crossover view, which computes it in SQL. This module
 * computes the same rows on arrays (an_aggregate: a side; an_crossover: the
 * comparison), and tests/test_crossover.c holds the two to the same
 * numbers. Which way a metric improves: schema.sql's metric_rule
 * (db_metric_lower_better).
 *
 *     an_pairs ps;
 *     if (an_pairs_load(d, sweep_id, "val_loss", AN_TOKENS, &ps, err, sizeof err)) ...
 *     for (size_t i = 0; i < ps.n; i++) ps.p[i].res.crossover ...
 *     an_pairs_free(&ps);
 */
#ifndef XOVER_ANALYSIS_H
#define XOVER_ANALYSIS_H

#include <stddef.h>
#include <stdio.h>

#include "orchestrator/db/db.h"

/* ---- x axes ----------------------------------------------------------- */

typedef enum { AN_TOKENS, AN_EPOCHS, AN_FLOPS } an_xaxis;
const char *an_xaxis_name(an_xaxis x);      /* "tokens" | "epochs" | "flops" */
int an_xaxis_parse(const char *name);       /* -1 if not one of them */

/* ---- curves on arrays --------------------------------------------------- */

/* One run's series: n points (x, y), in any order; NaN x or y are skipped. */
typedef struct {
    size_t n;
    const double *x, *y;
    const long long *step; /* may be NULL; among points at one x the largest step wins */
    int stopped;           /* 1: the run stopped early (0 when left out: it did not) */
    double hold;           /* then: its x_hold on this axis (NaN unknown: no hold) */
} an_series;

/* A side: the seed-aggregated curve, x strictly increasing. */
typedef struct {
    size_t n;
    int seeds;
    double *x, *mean, *sd, *best; /* sd NaN for one seed */
    double hold; /* the side's hold (NaN: it does not hold) */
} an_curve;

/* Aggregate `nrun` series into *out (seeds = series with at least one
 * point; the side holds when every seed has stopped with a known hold).
 * Returns 0, or -1 when out of memory. */
int an_aggregate(const an_series *runs, int nrun, int lower_better, an_curve *out);
void an_curve_free(an_curve *c);

/* Curve c's end: the larger of its last x and its hold (NaN when empty). */
double an_curve_end(const an_curve *c);

/* Best-so-far of curve c at x by linear interpolation between its points,
 * best[n-1] past its last point up to its hold; NaN outside
 * [x[0], an_curve_end(c)]. */
double an_best_at(const an_curve *c, double x);

enum { AN_CROSSOVER, AN_MDM_AHEAD, AN_NONE, AN_NO_OVERLAP };
const char *an_verdict_name(int v); /* "crossover", "mdm_ahead", "none", "no_overlap" */

typedef struct {
    int verdict;
    double crossover;            /* NaN unless AN_CROSSOVER or AN_MDM_AHEAD */
    double x_start, x_end;       /* the common range (NaN for no overlap) */
    double final_gap;            /* adv(x_end) */
    double ar_best, ar_best_x, ar_best_sd;    /* over all of AR's points */
    double mdm_best, mdm_best_x, mdm_best_sd;
} an_result;

void an_crossover(const an_curve *ar, const an_curve *mdm, int lower_better, an_result *r);

/* ---- pairs from the database ------------------------------------------ */

typedef struct {
    char *cell;           /* the config without objective, seed and
                             train.early_stop_margin (JSON); for a matched-compute
                             pair also without model and epochs */
    char *model, *quality, *metric;
    long long params, unique_tokens;
    long long active_params; /* parameters a token uses (-1 unknown) */
    /* Matched-compute pairs (an_pairs_load_matched): each side's model; the
     * fields above then hold the MDM side's model, params and epochs. */
    char *ar_model;       /* NULL for an ordinary pair */
    long long ar_params, ar_active_params;
    double ar_epochs;
    double epochs;
    int lower_better;
    an_xaxis xaxis;
    int all_done;         /* every run of the pair has status done */
    an_curve ar, mdm;
    an_result res;
} an_pair;

typedef struct {
    an_pair *p;
    size_t n;
} an_pairs;

/* Every pair of sweep `sweep_id` (0 = the whole database) for `metric`
 * (NULL = every metric), against x axis `x`, computed; ordered by metric,
 * model (by params, then name), unique_tokens, quality, epochs, cell. Returns 0, or a DB_E* code
 * with the message in err. */
int an_pairs_load(db *d, long long sweep_id, const char *metric, an_xaxis x, an_pairs *out,
                  char *err, size_t errlen);
void an_pairs_free(an_pairs *ps);

/* Compute-matched pairs: AR and MDM sides whose configs agree on everything
 * but objective, seed, train.early_stop_margin, model and train.epochs, so a side may be any model
 * trained for any length; every AR side of such a group is paired with
 * every MDM side, on x = training FLOPs (the trainer's flops, counted on
 * active parameters). Ordered by metric, unique_tokens, quality, cell,
 * AR model, MDM model. Returns as an_pairs_load. */
int an_pairs_load_matched(db *d, long long sweep_id, const char *metric, an_pairs *out,
                          char *err, size_t errlen);

/* ---- rows: the columns of the crossover view --------------------------- */

/* The column names, in the view's order; AN_NCOL of them. */
#define AN_NCOL 22
extern const char *const an_columns[AN_NCOL];
/* The index of column `name`, or -1. */
int an_column_index(const char *name);
/* Fill vals[AN_NCOL] for pair p. Text cells point into p. With round6,
 * reals are rounded to 6 significant digits (for reading, not for data). */
void an_pair_row(const an_pair *p, db_value *vals, int round6);

/* The value of axis `axis` for pair p into v: a typed axis (model, params,
 * active_params, unique_tokens, quality, epochs) or a dotted path into the
 * cell's config ("train.lr", "model.dim"; a field absent unless given reads
 * as what its absence stands for: model.experts 0). buf holds text values.
 * Returns 0, or -1 when the axis names nothing (v is then NULL). */
int an_pair_axis(const an_pair *p, const char *axis, db_value *v, char *buf, size_t n);

/* The value of axis `axis` for pair p as a sort key, for tables and grids
 * over two axes: numbers by value, then text (a model by its parameter count
 * first, so d32 < d64 < d128 rather than by name), then unknown (DB_NULL).
 * text holds a text value; callers label numbers their own way from v. */
typedef struct {
    db_value v;     /* DB_INT, DB_REAL, DB_TEXT (v.s = text) or DB_NULL */
    double num;     /* the number, for DB_INT and DB_REAL */
    double order;   /* text keys sort by this first */
    char text[256];
} an_axis_key;
void an_axis_key_of(const an_pair *p, const char *axis, an_axis_key *k);
int an_axis_key_cmp(const an_axis_key *a, const an_axis_key *b);

/* ---- the power law ------------------------------------------------------ */

/* Least squares of ln c = ln a + k ln u over n points (u, c > 0; others
 * skipped). r2 is the coefficient of determination in log space. Returns
 * 0, or -1 when fewer than two distinct u remain. */
typedef struct {
    double a, k, r2;
    int n;
} an_fit;
int an_powerlaw_fit(const double *u, const double *c, int n, an_fit *f);

/* The fits of a set of pairs: one per (metric, model, quality) whose pairs
 * have a crossover at two or more unique budgets U, of crossover = a * U^k.
 * out needs room for ps->n rows; returns how many were written. */
typedef struct {
    const an_pair *first; /* a pair of the group: its metric, model, quality, x axis */
    int budgets;          /* distinct U with a crossover */
    an_fit fit;
} an_fit_row;
size_t an_fit_pairs(const an_pairs *ps, an_fit_row *out);

/* ---- pictures ------------------------------------------------------------ */

/* An SVG document of one pair: the mean curves of AR and MDM (seed sd as a
 * band, best-so-far dashed; a held side's best-so-far runs on flat to its
 * hold, within the plot's x range; its mean curve does not), AR's best
 * marked, the crossover marked. Returns
 * malloc'd text, or NULL when out of memory. */
char *an_svg_pair(const an_pair *p);

/* An SVG grid of small multiples: pairs[0..n) placed by the values of axes
 * `rows` and `cols` (sorted), one shared legend. Pairs that fall on an
 * occupied panel are left out and counted in *dropped. */
char *an_svg_grid(const an_pair *const *pairs, size_t n, const char *rows, const char *cols,
                  const char *title, size_t *dropped);

/* A file name for pair p: "pair-<metric>-<x>-<model>-U<n>-<quality>-<hash>.svg". */
void an_pair_filename(const an_pair *p, char *buf, size_t n);

/* Format x for a label: 1500 -> "1.5k", 2.5e6 -> "2.5M", 0.25 -> "0.25". */
void an_si(double x, char *buf, size_t n);

/* ---- the report ------------------------------------------------------- */

typedef struct {
    const char *sweep;          /* NULL = every sweep */
    const char *const *metrics; /* NULL-terminated; NULL = val_loss and mc_acc */
    an_xaxis x;
    const char *rows, *cols;    /* grid axes */
    const char *db_path;        /* shown on the page */
} an_report_opts;

/* Write OUTDIR/index.html (tables, inline SVG plots, run status, sweep YAML)
 * and OUTDIR/plots/<each plot>.svg, each file atomically. *nplots is the
 * number of SVG plots on the page. Returns 0, or a DB_E* code / -1 (I/O)
 * with the message in err. */
int an_report(db *d, const char *outdir, const an_report_opts *o, int *nplots, char *err,
              size_t errlen);

#endif
