/*
 * analysis.h — the crossover analysis: where MDM's learning curve overtakes
 * AR's, the power-law fit of the critical compute, SVG plots and the HTML
 * report. The computation works on plain arrays; an_pairs_load() is the one
 * function that reads the results database (through db.h).
 *
 * THE DEFINITION of a pair, a side (seeds averaged), the hold of an
 * early-stopped side and the crossover is written once: in schema.sql, the
 * comments above the crossover_by_seed view (the point analysis, of learning
 * curves and of annealed points) and the crossover view (the interval and
 * the verdict), which compute it in SQL. This module computes the same rows
 * on arrays (an_aggregate: a side; an_crossover, an_crossover_annealed: the
 * comparison; an_judge: the verdict), and tests/test_crossover.c,
 * test_crossover_cli.c and test_confidence.c hold the two to the same
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
    const double *se;      /* may be NULL: the standard error of each y (NaN unknown) */
} an_series;

/* A side: the seed-aggregated curve, x strictly increasing. */
typedef struct {
    size_t n;
    int seeds;
    double *x, *mean, *sd, *best; /* sd NaN for one seed */
    double *se;      /* one seed: each point's standard error (NaN unknown); more: NaN */
    double *best_se; /* the se of the point each best-so-far value comes from */
    double hold; /* the side's hold (NaN: it does not hold; INFINITY: for good) */
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
 * [x[0], an_curve_end(c)]. an_best_se_at: its standard error, interpolated
 * alike (the evaluations of one run share their masks, so their errors go
 * together). */
double an_best_at(const an_curve *c, double x);
double an_best_se_at(const an_curve *c, double x);

/* Verdicts. The point analysis (an_crossover) gives the first four; the
 * judgement with an interval (an_judge) may turn crossover, mdm_ahead or
 * none into inconclusive, and any of them into unfinished. */
enum { AN_CROSSOVER, AN_MDM_AHEAD, AN_NONE, AN_NO_OVERLAP, AN_INCONCLUSIVE, AN_UNFINISHED };
const char *an_verdict_name(int v); /* "crossover", "mdm_ahead", "none", "no_overlap",
                                       "inconclusive", "unfinished" */

/* Where the interval of the final gap comes from. */
enum { AN_IV_NONE, AN_IV_SEEDS, AN_IV_EVAL };
const char *an_interval_name(int iv); /* NULL, "seeds", "eval" */

typedef struct {
    int verdict;
    double crossover;            /* NaN unless AN_CROSSOVER or AN_MDM_AHEAD (or
                                    inconclusive after one of them) */
    double bracket_lo, bracket_hi; /* the two evaluations the crossover falls
                                    between (the last where MDM is not ahead,
                                    the first from which it is); NaN unless
                                    it crossed between two */
    double x_start, x_end;       /* the common range (NaN for no overlap) */
    double final_gap;            /* adv(x_end) */
    double gap_se;               /* its evaluation error: sqrt(se_AR^2 + se_MDM^2)
                                    of the two best-so-far values at x_end
                                    (NaN when a side has no se) */
    /* The 95% interval of the final gap (AN_IV_SEEDS: a t interval over the
     * paired seeds' own final gaps, around their mean; AN_IV_EVAL: one
     * seed, final_gap +- 1.96 gap_se; AN_IV_NONE: NaN). */
    double gap_lo, gap_hi;
    int interval;
    int paired;                  /* seeds in both sides */
    int seeds_crossed;           /* of them, how many crossed on their own */
    double seed_cross_min, seed_cross_max; /* their own crossover x (NaN: none) */
    double ar_best, ar_best_x, ar_best_sd;    /* over all of AR's points */
    double mdm_best, mdm_best_x, mdm_best_sd;
    /* Annealed points only (-1 otherwise): 1 when AR's best is its smallest
     * budget (its minimum may lie below the grid: AR's best overstated, the
     * crossover perhaps an artefact), 0 if not; likewise 1 when the MDM's
     * best is its largest budget, of two or more (still improving there). */
    int ar_best_at_edge, mdm_best_at_edge;
} an_result;

void an_crossover(const an_curve *ar, const an_curve *mdm, int lower_better, an_result *r);

/* The crossover on annealed points: each side's curve holds one point per
 * budget E (a branch's final value at its final x). AR's value at E is the
 * best of its points at budgets <= E (a step, not interpolated); the MDM's
 * is its own annealed value at E (not a best-so-far). Over the MDM's budgets
 * inside the common range, adv(E) as in an_crossover; the crossover is the
 * smallest budget from which adv > 0 to the end (bracketed by the budget
 * before it), x_start when MDM leads throughout, none when adv(x_end) <= 0.
 * A side that holds (its trunk stopped early: hold = INFINITY) covers every
 * larger budget with its best. */
void an_crossover_annealed(const an_curve *ar, const an_curve *mdm, int lower_better, an_result *r);

/* The two-sided 95% quantile of Student's t with df degrees of freedom
 * (a table to 30, the Cornish-Fisher expansion beyond; 1.959964 for df <= 0
 * meaning infinity). */
double an_t975(int df);

/* ---- the paired difference of two accuracies on the same items ---------- */

/* AR's and the MDM's outcomes on the same n cloze items, item by item:
 * ar[i], mdm[i] in [0, 1] (1 right, 0 wrong; with several seeds a side's
 * mean over them). With d[i] = mdm[i] - ar[i]:
 *   diff = mean d = MDM's accuracy - AR's; se = the sample sd of d / sqrt(n)
 *   lo, hi = diff -+ 1.959964 se (95%, normal: n is in the hundreds)
 *   discordant = the share of items where the two differ (0/1 outcomes: what
 *   se rests on, se ~ sqrt(discordant / n) when diff is near 0)
 * Pairing takes out what the items share (an easy item is easy for both):
 * se is at most, and usually well below, sqrt(se_ar^2 + se_mdm^2). Returns
 * 0, or -1 for n < 2 (all NaN). */
typedef struct {
    size_t n;
    double ar, mdm, diff, se, lo, hi, discordant;
} an_paired;
int an_paired_acc(const double *ar, const double *mdm, size_t n, an_paired *out);
/* A metrics line's mc_correct, "N:HEX" (run.h), into ok[0..N) (N <= cap):
 * returns N, or -1 when it is not of that form or N > cap. */
long an_mc_unhex(const char *text, double *ok, size_t cap);

/* Judge a point result r with the paired seeds' own final gaps and
 * crossovers (n of them; a crossover NaN when that seed did not cross):
 * the interval (over seeds when n >= 2, else from r->gap_se) and the
 * verdict: unfinished while `finished` is 0; else, with an interval,
 * crossover / mdm_ahead only when gap_lo > 0 (and final_gap > 0), none when
 * gap_hi < 0, inconclusive otherwise; without one, the point verdict. */
void an_judge(an_result *r, const double *gaps, const double *crosses, int n, int finished);

/* ---- pairs from the database ------------------------------------------ */

/* mc_acc beside a pair's loss (acc.c). The points: each side's best of the
 * pair's metric (an_result's ar_best_x and mdm_best_x: in annealed mode
 * AR's best annealed budget and the MDM's best annealed budget, in
 * training mode the evaluations of the best losses), for every seed of the
 * side that has a point there. At each point the run's mc_acc, mc_acc_se
 * and item outcomes (schema.sql: cloze_outcomes), or, when every run of
 * both sides was re-scored on one larger item set (`xover eval`:
 * cloze_rescored), those instead.
 * PAIRED when both sides' outcomes are on the same items: every run's
 * item set (an_item_set: the data config the items are drawn from, and
 * their number) is one and the same. Then a side's outcome on an item is
 * the mean over its seeds, and the gap MDM - AR and its 95% interval are
 * an_paired_acc's over the items: the evaluation error of the seeds' mean
 * on these items (it says nothing of seed-to-seed variation). Otherwise
 * UNPAIRED: gap +- 1.96 sqrt(se_AR^2 + se_MDM^2), a side's se the mean of
 * its seeds' mc_acc_se (seeds scored on shared items are not independent:
 * the mean, not the root of the mean square over k). */
typedef struct {
    int have;             /* 1: both sides have mc_acc at the points */
    double ar, mdm;       /* each side's accuracy there (mean over its seeds) */
    double gap, lo, hi;   /* MDM - AR, and its 95% interval */
    double se;            /* the gap's standard error */
    int paired;           /* 1 over the same items (an_paired_acc), 0 unpaired */
    long ar_items, mdm_items; /* items per run of each side (paired: equal) */
    int rescored;         /* 1: the re-scored item set (xover eval), 0: in training */
    int ar_seeds, mdm_seeds; /* runs read on each side */
    /* The runs and steps read, a side's seeds in order (at most AN_ACC_RUNS). */
#define AN_ACC_RUNS 32
    int nar, nmdm;
    long long ar_run[AN_ACC_RUNS], ar_step[AN_ACC_RUNS];
    long long mdm_run[AN_ACC_RUNS], mdm_step[AN_ACC_RUNS];
    char *ar_set, *mdm_set; /* each side's item set without the count (an_item_set; NULL: sides differ) */
} an_acc;

/* The description of the items a run with this config (JSON text) is
 * scored on, without their number: the fields of data that decide which
 * documents hold them and how they are cut (corpus, separator, text_field,
 * vocab, val_tokens, order_seed, cloze.pool_tokens, cloze.context,
 * cloze.candidates, cloze.length), as compact sorted JSON. The first n
 * items of two runs with one description are the same items (data/cloze.c:
 * an item does not depend on how many follow it). Malloc'd; NULL for a
 * config that is not JSON. */
char *an_item_set(const char *config);


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
    int finished;         /* no run of the pair pending, running or interrupted */
    int annealed;         /* sides of annealed points (an_pairs_load_annealed) */
    an_curve ar, mdm;
    an_result res;
    /* The paired seeds (in both sides), each seed's own best values (as
     * ar_best, mdm_best), final gap and crossover x. */
    int nseed;
    long long *seed;
    double *seed_ar_best, *seed_mdm_best, *seed_gap, *seed_cross;
    /* The cloze accuracy at the points the pair's best columns name (not
     * for --metric mc_acc itself, nor compute-matched pairs): an_acc. */
    an_acc acc;
} an_pair;

typedef struct {
    an_pair *p;
    size_t n;
} an_pairs;

/* The gap of a as a person reads it: "+0.012 [-0.004, +0.028] (paired,
 * 4000 items)", "(unpaired, 100 AR / 4000 MDM items)", ", re-scored" when
 * it is; "" without mc_acc. */
void an_acc_gap_text(const an_acc *a, char *buf, size_t n);

/* Fill ps' pairs' acc from the database (the pairs' acc.*_run/step set by
 * the loaders). Returns 0, or a DB_E* code with the message in err. */
int an_acc_attach(db *d, an_pairs *ps, char *err, size_t errlen);

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

/* Annealed pairs: the branch runs (runs.role 'branch', schema 5) of AR and
 * MDM trunks whose configs agree on everything but objective, seed,
 * train.early_stop_margin, train.epochs and train.branch_of: each side's
 * curve has one point per budget (each branch's last point of the metric,
 * with its se), and the crossover is an_crossover_annealed's. A side whose
 * trunks all stopped early holds its best to every later budget. Ordered
 * like an_pairs_load; epochs is the side's largest budget. Ordinary mode
 * (an_pairs_load) leaves branches out. Returns as an_pairs_load. */
int an_pairs_load_annealed(db *d, long long sweep_id, const char *metric, an_xaxis x, an_pairs *out,
                           char *err, size_t errlen);

/* The gap the verdict reads, point by point: the MDM advantage (AR - MDM
 * for a metric where lower is better, MDM - AR where higher is; positive:
 * the MDM is ahead) at every point the comparison looks at, in x order
 * (training: both best-so-far curves at every knot of either side in the
 * common range; annealed: each MDM budget against AR's best at budgets up
 * to it). The last is res.final_gap. x and adv need room for
 * p->ar.n + p->mdm.n values; returns how many were written. */
size_t an_pair_gaps(const an_pair *p, double *x, double *adv);

/* ---- rows: the columns of the crossover view --------------------------- */

/* The column names, in the view's order; AN_NCOL of them. */
#define AN_NCOL 35
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

/* ---- what tells pairs apart (varied.c) ----------------------------------- */

/* The config fields, beyond the typed axes (model, unique_tokens, quality,
 * epochs), in which the pairs shown differ: the corpus, a train field (lr,
 * input_mask), a model field of one model name (dim). A field counts when
 * two pairs of the same model and quality differ in it (a model's own
 * fields go with its name, a tier's spec with the tier's); a field a config
 * leaves out reads as what its absence stands for. Every view that names
 * pairs for a person names them by these, in the same words: the default
 * `xover crossover` table (a column each), the report's tables, the plots'
 * titles ("corpus=jargon, input_mask=0.5"). Nothing varies beyond the typed
 * axes: n is 0, and every view looks as it did without. */
typedef struct {
    size_t n;
    char **path; /* dotted config paths, in the order of the first pair's config */
    char **name; /* what a reader sees: the path's last part (corpus, lr), the
                    whole path when two fields shown end alike */
} an_varied;
/* The fields that vary among ps into *v (free with an_varied_free).
 * Returns 0, or -1 when out of memory (v is then empty). */
int an_varied_find(const an_pairs *ps, an_varied *v);
void an_varied_free(an_varied *v);
/* Pair p's value of field k as a table cell: a string as itself, a number
 * as %g, "" when p's config has no such field. */
void an_varied_value(const an_varied *v, size_t k, const an_pair *p, char *buf, size_t n);
/* Pair p named by every field of v: "corpus=jargon, lr=0.002" ("" when v
 * is NULL or empty). skip: NULL, or NULL-terminated names (short or dotted)
 * to leave out, as a grid does for the axes its rows and columns show. */
void an_varied_label(const an_varied *v, const an_pair *p, const char *const *skip, char *buf, size_t n);
/* The first field in which pairs a and b differ: quality, model,
 * unique_tokens, epochs, or a dotted config path (train.lr). 0 with the
 * name in buf; -1 when none is found (buf: "the config"). */
int an_pairs_differing_field(const an_pair *a, const an_pair *b, char *buf, size_t n);

/* ---- the power law ------------------------------------------------------ */

/* Least squares of ln c = ln a + k ln u over n points (u, c > 0; others
 * skipped). r2 is the coefficient of determination in log space. Returns
 * 0, or -1 when fewer than two distinct u remain. */
typedef struct {
    double a, k, r2;
    double se_k; /* the standard error of k (NaN with fewer than three points) */
    int n;
} an_fit;
int an_powerlaw_fit(const double *u, const double *c, int n, an_fit *f);

/* The notes under a table of annealed pairs whose best lies at the edge of
 * its grid (an_result.ar_best_at_edge, mdm_best_at_edge): what it means and
 * what to do, one per side, "" for a side with no such pair. The CLI prints
 * them on stderr, the report under its table. */
void an_edge_notes(const an_pairs *ps, char *ar, size_t ar_len, char *mdm, size_t mdm_len);

/* The fits of a set of pairs: one row per (metric, model, quality) and
 * whatever else the configs set but U and epochs (a budget sweep: two
 * corpora or two learning rates are two fits, never one across them), of
 * crossover = a * U^k over the unique budgets U whose pairs crossed (a
 * crossover x, whatever the verdict's certainty). A group with fewer than
 * two such budgets gets a row too, with fit.n < 2 and `why` saying so. The
 * interval of k: with two or more seeds, a bootstrap over seeds (2000
 * resamples of the seeds with replacement, a fixed seed, percentiles 2.5
 * and 97.5; a resample's crossover at U is the mean of its seeds' own);
 * with one seed, k +- t(n-2) * se(k) from the fit itself (three or more
 * budgets). out needs room for ps->n rows; returns how many were written. */
typedef struct {
    const an_pair *first; /* a pair of the group: its metric, model, quality, x axis */
    int budgets;          /* distinct U with a crossover */
    int budgets_total;    /* distinct U of the group */
    an_fit fit;
    double k_lo, k_hi;    /* NaN when there is no interval */
    int interval;         /* 0 none, 1 bootstrap over seeds, 2 the fit's standard error */
    char why[160];        /* "" or why there is no fit / no interval */
} an_fit_row;
size_t an_fit_pairs(const an_pairs *ps, an_fit_row *out);

/* ---- the data-efficiency multiplier --------------------------------------- */

/* Over pairs at several unique budgets U that agree on everything else
 * (the cell without data.unique_tokens, train.epochs and the fields derived
 * from the plan's length, train.warmup_epochs and train.log_every: a budget
 * sweep; schema.sql's crossover_efficiency view says why),
 * the budget at which one objective's best equals the other's:
 *   AN_AR_EQUIVALENT   for the MDM at U, U_AR where AR's best (as a
 *                      function of U, linear in ln U between measured
 *                      budgets) equals the MDM's best; ratio = U_AR / U
 *   AN_MDM_EQUIVALENT  for AR at U, U_MDM where the MDM's best equals AR's;
 *                      ratio = U / U_MDM
 * so in both a ratio > 1 says the MDM needs less data for the same value
 * (how much more data AR needs). An equivalent outside the measured
 * budgets is not extrapolated: status AN_EFF_BEYOND, u_eq and ratio NaN.
 * The interval: a t interval over the paired seeds of ln ratio (each seed's
 * own bests), exponentiated; NaN with one seed. */
enum { AN_AR_EQUIVALENT, AN_MDM_EQUIVALENT };
enum { AN_EFF_OK, AN_EFF_BEYOND };
typedef struct {
    const an_pair *pair;  /* the pair at budget u */
    int direction, status;
    double u, u_eq, ratio, ratio_lo, ratio_hi;
    int seeds;            /* seeds in the interval */
} an_eff_row;
/* out needs room for 2 * ps->n rows; returns how many were written (one per
 * pair and direction, for pairs whose group has two or more budgets). */
size_t an_efficiency(const an_pairs *ps, an_eff_row *out);
/* The equivalent budget of value y on the curve (u[i], b[i]), i < n, u
 * increasing: linear in ln u between the first two neighbours that bracket
 * y; NaN when none does (beyond the grid). */
double an_equivalent_budget(const double *u, const double *b, int n, double y);

/* ---- pictures ------------------------------------------------------------ */

/* An SVG document of one pair: the mean curves of AR and MDM (seed sd as a
 * band, best-so-far dashed; a held side's best-so-far runs on flat to its
 * hold, within the plot's x range; its mean curve does not), AR's best
 * marked, the crossover marked. Returns
 * malloc'd text, or NULL when out of memory. */
char *an_svg_pair(const an_pair *p);
/* The same for a trunk pair p with its annealed pair ann (NULL: none):
 * then the annealed points are the curves that count (a square at each
 * budget, joined; AR's best so far a step; the crossover, AR's best and the
 * verdict the annealed comparison's, as in the crossover view's 'annealed'
 * rows), p's in-training curves faint behind them and its verdict on a
 * second line. An annealed pair p itself is drawn the same way. Below the
 * plot, on the same x, a panel of the gap the verdict reads (an_pair_gaps):
 * around zero, with the final gap's interval. A crossover between two
 * evaluations shades the span between them. The title (and the gap panel's
 * line) name p by its typed axes and by v, the fields that vary among the
 * pairs it is shown with (an_varied_label; NULL: the typed axes alone). */
char *an_svg_pair_annealed(const an_pair *p, const an_pair *ann, const an_varied *v, int xscale);
/* The x scale of a plot: AN_XSCALE_AUTO logarithmic when the positive x
 * span 30x or more, else linear; or as asked (LOG needs positive x: points
 * at x <= 0 are then left out). */
enum { AN_XSCALE_AUTO, AN_XSCALE_LINEAR, AN_XSCALE_LOG };
int an_xscale_parse(const char *name); /* "auto" | "linear" | "log", -1 otherwise */
/* The annealed pair of ps whose cell is in-training pair p's (a trunk
 * pair: its cell without train.epochs and train.anneal_at), or NULL. */
const an_pair *an_annealed_match(const an_pairs *ps, const an_pair *p);

/* An SVG grid of small multiples: pairs[0..n) placed by the values of axes
 * `rows` and `cols` (sorted), one shared legend. ann, when given, holds for
 * each pair its annealed pair (an_annealed_match; NULL entries: none): that
 * panel then draws the annealed points and verdict, the trunks faint. Pairs
 * that fall on an occupied panel are left out and counted in *dropped. A
 * panel's title names its pair by the fields of v (NULL: none) other than
 * the rows' and columns' axes. */
char *an_svg_grid(const an_pair *const *pairs, const an_pair *const *ann, size_t n, const char *rows,
                  const char *cols, const char *title, const an_varied *v, int xscale, size_t *dropped);
/* How many panels that grid has (rows x columns): with one, the grid would
 * repeat the pair's own plot, and plot and report leave it out. */
size_t an_grid_panels(const an_pair *const *pairs, size_t n, const char *rows, const char *cols);

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
    int xscale;                 /* AN_XSCALE_* */
    const char *db_path;        /* shown on the page */
    int live;                   /* a page `xover run --report` keeps current: 0 no,
                                   AN_LIVE_RUNNING (the page reloads itself every
                                   `refresh` seconds) or AN_LIVE_ENDED (the last one) */
    int refresh;
    const char *ended;          /* AN_LIVE_ENDED: when the last page was written
                                   (NULL: "when `xover run` ended") */
} an_report_opts;
enum { AN_LIVE_RUNNING = 1, AN_LIVE_ENDED = 2 };

/* Write OUTDIR/index.html (tables, inline SVG plots, run status, sweep YAML)
 * and OUTDIR/plots/<each plot>.svg, each file atomically. *nplots is the
 * number of SVG plots on the page. Returns 0, or a DB_E* code / -1 (I/O)
 * with the message in err. */
int an_report(db *d, const char *outdir, const an_report_opts *o, int *nplots, char *err,
              size_t errlen);

/* ---- the live report (live.c) --------------------------------------------

   `xover run --report DIR`: the driver calls an_live_tick after each round
   of ingest (exec_options.on_ingest) with the database it writes; the page
   is rewritten (atomically, as every report) when `every` seconds have
   passed since the last time and something was written to the database
   meanwhile, and reloads itself in the browser; once the run has ended,
   an_live_end writes the last page, which does not. */
typedef struct {
    const char *outdir;
    an_report_opts o;  /* its live and refresh are set here */
    double every;      /* seconds between two rewrites */
    double last;       /* when the page was last written (xo_now), 0: never */
    long long changes; /* db_total_changes then */
    int writes;        /* pages written */
    char err[512];     /* the first failure ("" none): the run goes on without */
} an_live;

void an_live_tick(void *live, db *d);
/* `xover report --watch`: the same from outside the driver. Every `every`
 * seconds, look at the database (read-only) and rewrite the page when
 * another process has committed to it since; return once the sweep (o->sweep,
 * NULL: every run) has runs and none is pending or running, or *stop is
 * set (Ctrl-C), after writing the last page. Returns 0, a DB_E* code or -1
 * (I/O) with the message in err. */
int an_live_watch(const char *db_path, const char *outdir, const an_report_opts *o, double every,
                  volatile int *stop, char *err, size_t errlen);
/* The last page, read from the database at db_path. Returns 0 or -1 with
 * the message in l->err. */
int an_live_end(an_live *l, const char *db_path);

#endif
