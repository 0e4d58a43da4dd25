/*
 * report.c — the static HTML report: run status, and for each metric the
 * crossover table, the power-law fit, the grid of small multiples and every
 * pair's plot (inline SVG, so the page is one file that opens from disk;
 * the SVGs are also written beside it), then the sweeps' YAML. Every file
 * is written to a temporary name and renamed, so a reader never sees half,
 * which is what lets live.c rewrite the page while a browser reloads it.
 */
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/util/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


static void num(textbuf *b, double v, int si)
{
    char buf[64];
    if (isnan(v)) { tb_printf(b, "<td class=\"na\">–</td>"); return; }
    if (si) an_si(v, buf, sizeof buf);
    else snprintf(buf, sizeof buf, "%.4g", v);
    tb_printf(b, "<td class=\"n\">%s</td>", buf);
}

static const char STYLE[] =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:24px;color:#222;"
    "max-width:1500px}"
    "table{border-collapse:collapse;margin:8px 0 18px}td,th{border:1px solid #ccc;"
    "padding:3px 8px}th{background:#f2f2f2}td.n{text-align:right;font-variant-numeric:"
    "tabular-nums}td.na{color:#999;text-align:center}tr.crossover td.v,tr.mdm_ahead td.v"
    "{color:#1b8a3a;font-weight:bold}tr.inconclusive td.v,tr.unfinished td.v{color:#a66300}pre{background:#f7f7f7;padding:10px;overflow:auto}"
    ".pairs{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0 0 16px}"
    "svg{max-width:100%;height:auto}.note{color:#555}"
    ".live{padding:6px 10px;border-left:4px solid #1b8a3a;background:#eef7f0}.live.ended{border-color:#888;"
    "background:#f4f4f4}";

/* ---- sections ------------------------------------------------------------------ */

static int status_row(textbuf *b, db *d, const char *name, long long id)
{
    long long c[DB_NSTATUS], total = 0;
    int rc = db_status_counts(d, id, c);
    if (rc) return rc;
    tb_printf(b, "<tr><td>");
    tb_escape(b, name);
    tb_printf(b, "</td>");
    for (int i = 0; i < DB_NSTATUS; i++) {
        tb_printf(b, "<td class=\"n\">%lld</td>", c[i]);
        total += c[i];
    }
    tb_printf(b, "<td class=\"n\">%lld</td></tr>\n", total);
    return 0;
}

typedef struct {
    const char **names;
    size_t n, cap;
} names;

static int add_name(void *ctx, const char *name)
{
    names *ns = ctx;
    const char **t = xo_grow(ns->names, &ns->cap, ns->n + 1, sizeof *t, 16);
    if (!t) return 1;
    ns->names = t;
    return !(ns->names[ns->n++] = strdup(name ? name : ""));
}

/* A span "a – b" of x values (NaN: a dash). */
static void span(textbuf *b, double lo, double hi)
{
    char x0[32], x1[32];
    if (isnan(lo) || isnan(hi)) { tb_printf(b, "<td class=\"na\">–</td>"); return; }
    an_si(lo, x0, sizeof x0);
    an_si(hi, x1, sizeof x1);
    if (lo == hi) tb_printf(b, "<td class=\"n\">%s</td>", x0);
    else tb_printf(b, "<td class=\"n\">%s – %s</td>", x0, x1);
}

/* The header cells of the fields that tell the pairs apart (an_varied:
 * corpus, lr), named as the crossover table names them. */
static void varied_heads(textbuf *b, const an_varied *v)
{
    for (size_t k = 0; k < v->n; k++) {
        tb_printf(b, "<th class=\"varied\">");
        tb_escape(b, v->name[k]);
        tb_printf(b, "</th>");
    }
}

/* Pair p's value of each of them. */
static void varied_cells(textbuf *b, const an_varied *v, const an_pair *p)
{
    for (size_t k = 0; k < v->n; k++) {
        char t[256];
        an_varied_value(v, k, p, t, sizeof t);
        tb_printf(b, "<td class=\"varied\">");
        tb_escape(b, t);
        tb_printf(b, "</td>");
    }
}

/* Where a side's best came (x), marked when it is at the edge of its
 * annealed grid (an_result.ar_best_at_edge, mdm_best_at_edge). */
static void edge_num(textbuf *b, double x, int edge, const char *where)
{
    if (edge != 1) { num(b, x, 1); return; }
    char t[32];
    an_si(x, t, sizeof t);
    tb_printf(b, "<td class=\"n\" title=\"its %s: see the note below\">%s *</td>", where, t);
}

/* The note under a table whose pairs have a best at the edge of the grid:
 * what it means and what to do. */
static void edge_note(textbuf *b, const an_pairs *ps)
{
    char note[2][512];
    an_edge_notes(ps, note[0], sizeof note[0], note[1], sizeof note[1]);
    for (int k = 0; k < 2; k++) {
        if (!note[k][0]) continue;
        tb_printf(b, "<p class=\"note\">");
        tb_escape(b, note[k]);
        tb_printf(b, "</p>\n");
    }
}

static void crossover_table(textbuf *b, const an_pairs *ps, an_xaxis x, const an_varied *v)
{
    const char *xn = an_xaxis_name(x);
    tb_printf(b, "<table class=\"crossover\"><tr><th>model</th><th>params</th><th>unique tokens</th>"
      "<th>quality</th><th>epochs</th>");
    varied_heads(b, v);
    tb_printf(b, "<th>seeds AR/MDM</th><th>verdict</th>"
      "<th>crossover between (%s)</th><th>seeds' own crossovers</th><th>AR best</th><th>at (%s)</th>"
      "<th>MDM best</th><th>at (%s)</th><th title=\"AR − MDM where lower is better, MDM − AR where higher "
      "is: above 0 the MDM is ahead\">final gap [95%% interval]<br><small>&gt; 0: MDM ahead</small></th>",
      xn, xn, xn);
    /* mc_acc at the two best points, when some pair has it (analysis.h, an_acc) */
    int acc = 0;
    for (size_t i = 0; i < ps->n; i++) acc |= ps->p[i].acc.have;
    if (acc)
        tb_printf(b, "<th>AR mc_acc</th><th>MDM mc_acc</th><th title=\"MDM − AR at each side's best point, "
          "paired over the same items when both were scored on them\">mc_acc gap [95%% interval]</th>");
    tb_printf(b, "</tr>\n");
    for (size_t i = 0; i < ps->n; i++) {
        const an_pair *p = &ps->p[i];
        const an_result *r = &p->res;
        tb_printf(b, "<tr class=\"%s\"><td>", an_verdict_name(r->verdict));
        tb_escape(b, p->model);
        tb_printf(b, "</td>");
        num(b, p->params >= 0 ? (double)p->params : NAN, 1);
        num(b, p->unique_tokens >= 0 ? (double)p->unique_tokens : NAN, 1);
        tb_printf(b, "<td>");
        tb_escape(b, p->quality);
        tb_printf(b, "</td>");
        num(b, p->epochs, 0);
        varied_cells(b, v, p);
        tb_printf(b, "<td class=\"n\">%d/%d</td><td class=\"v\">%s</td>", p->ar.seeds, p->mdm.seeds,
          r->verdict == AN_NONE ? "none within the budget" : an_verdict_name(r->verdict));
        /* between the two evaluations it falls in, not one interpolated x */
        if (r->verdict == AN_MDM_AHEAD) span(b, r->crossover, r->crossover);
        else span(b, r->bracket_lo, r->bracket_hi);
        if (r->paired >= 2) {
            char x0[32] = "–", x1[32] = "–";
            if (!isnan(r->seed_cross_min)) an_si(r->seed_cross_min, x0, sizeof x0);
            if (!isnan(r->seed_cross_max)) an_si(r->seed_cross_max, x1, sizeof x1);
            tb_printf(b, "<td class=\"n\">%s – %s (%d of %d crossed)</td>", x0, x1, r->seeds_crossed, r->paired);
        } else {
            tb_printf(b, "<td class=\"na\">–</td>");
        }
        num(b, r->ar_best, 0);
        edge_num(b, r->ar_best_x, r->ar_best_at_edge, "smallest budget");
        num(b, r->mdm_best, 0);
        edge_num(b, r->mdm_best_x, r->mdm_best_at_edge, "largest budget");
        if (isnan(r->final_gap)) tb_printf(b, "<td class=\"na\">–</td>");
        else if (r->interval == AN_IV_NONE) tb_printf(b, "<td class=\"n\">%+.4f</td>", r->final_gap);
        else tb_printf(b, "<td class=\"n\">%+.4f [%+.4f, %+.4f] %s</td>", r->final_gap, r->gap_lo, r->gap_hi,
                       r->interval == AN_IV_EVAL ? "(eval error, 1 seed)" : "(over seeds)");
        if (acc && !p->acc.have) {
            tb_printf(b, "<td class=\"na\">–</td><td class=\"na\">–</td><td class=\"na\">–</td>");
        } else if (acc) {
            char t[256];
            an_acc_gap_text(&p->acc, t, sizeof t);
            tb_printf(b, "<td class=\"n\">%.3f</td><td class=\"n\">%.3f</td><td class=\"n\">", p->acc.ar, p->acc.mdm);
            tb_escape(b, t);
            tb_printf(b, "</td>");
        }
        tb_printf(b, "</tr>\n");
    }
    tb_printf(b, "</table>\n");
    edge_note(b, ps);
}

static void fit_table(textbuf *b, const an_pairs *ps, const an_varied *v)
{
    an_fit_row *fr = malloc((ps->n + 1) * sizeof *fr);
    if (!fr) { b->oom = 1; return; }
    size_t n = an_fit_pairs(ps, fr);
    if (n) {
        tb_printf(b, "<p>Crossover against the unique budget U, fitted as a·U<sup>k</sup> (least "
          "squares in log–log; the published C<sub>crit</sub> ∝ U<sup>2.174</sup> is in "
          "FLOPs), with k's 95%% interval (a bootstrap over seeds, or the fit's own standard error "
          "with one seed):</p>\n<table class=\"fit\"><tr><th>model</th><th>quality</th>");
        varied_heads(b, v);
        tb_printf(b, "<th>budgets</th><th>a</th><th>k</th><th>k interval</th><th>R²</th><th>note</th></tr>\n");
        for (size_t i = 0; i < n; i++) {
            tb_printf(b, "<tr><td>");
            tb_escape(b, fr[i].first->model);
            tb_printf(b, "</td><td>");
            tb_escape(b, fr[i].first->quality);
            tb_printf(b, "</td>");
            varied_cells(b, v, fr[i].first);
            tb_printf(b, "<td class=\"n\">%d of %d</td>", fr[i].budgets, fr[i].budgets_total);
            num(b, fr[i].fit.a, 0);
            num(b, fr[i].fit.k, 0);
            if (isnan(fr[i].k_lo)) tb_printf(b, "<td class=\"na\">–</td>");
            else tb_printf(b, "<td class=\"n\">%.3g – %.3g</td>", fr[i].k_lo, fr[i].k_hi);
            num(b, fr[i].fit.r2, 0);
            tb_printf(b, "<td>");
            tb_escape(b, fr[i].why);
            tb_printf(b, "</td></tr>\n");
        }
        tb_printf(b, "</table>\n");
    }
    free(fr);
}

/* Write svg to OUTDIR/plots/name and inline it into the page, captioned
 * by its file and what names its pair (label, "" none). */
static int plot(textbuf *b, const char *outdir, const char *name, const char *label, char *svg, int *nplots,
                char *err, size_t errlen)
{
    if (!svg) { snprintf(err, errlen, "out of memory"); return -1; }
    char path[4096];
    snprintf(path, sizeof path, "%s/plots/%s", outdir, name);
    if (xo_write_atomic(path, svg, strlen(svg))) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
        free(svg);
        return -1;
    }
    tb_printf(b, "<figure>%s<figcaption>", svg);
    if (*label) {
        tb_escape(b, label);
        tb_printf(b, ": ");
    }
    tb_printf(b, "<a href=\"plots/%s\">%s</a></figcaption></figure>\n", name, name);
    free(svg);
    (*nplots)++;
    return 0;
}

static void efficiency_table(textbuf *b, const an_pairs *ps, const an_varied *v)
{
    an_eff_row *er = malloc((2 * ps->n + 1) * sizeof *er);
    if (!er) { b->oom = 1; return; }
    size_t n = an_efficiency(ps, er);
    if (n) {
        tb_printf(b, "<p>Data efficiency: the budget at which the other objective's best equals this "
          "one's (linear in ln U between measured budgets, never extrapolated). A ratio above 1: the "
          "MDM needs less data (U<sub>AR</sub>/U for an MDM, U/U<sub>MDM</sub> for an AR).</p>\n"
          "<table class=\"efficiency\"><tr><th>model</th><th>quality</th>");
        varied_heads(b, v);
        tb_printf(b, "<th>side</th><th>unique tokens</th><th>equivalent</th><th>ratio</th>"
          "<th>95%% interval (seeds)</th></tr>\n");
        for (size_t i = 0; i < n; i++) {
            const an_eff_row *r = &er[i];
            tb_printf(b, "<tr><td>");
            tb_escape(b, r->pair->model);
            tb_printf(b, "</td><td>");
            tb_escape(b, r->pair->quality);
            tb_printf(b, "</td>");
            varied_cells(b, v, r->pair);
            tb_printf(b, "<td>%s</td>", r->direction == AN_AR_EQUIVALENT ? "MDM (AR-equivalent)"
                                                                     : "AR (MDM-equivalent)");
            num(b, r->u, 1);
            if (r->status == AN_EFF_BEYOND) {
                tb_printf(b, "<td colspan=\"3\" class=\"na\">beyond the grid</td></tr>\n");
                continue;
            }
            num(b, r->u_eq, 1);
            tb_printf(b, "<td class=\"n\">%.2f×</td>", r->ratio);
            if (isnan(r->ratio_lo)) tb_printf(b, "<td class=\"na\">–</td>");
            else tb_printf(b, "<td class=\"n\">%.2f – %.2f</td>", r->ratio_lo, r->ratio_hi);
            tb_printf(b, "</tr>\n");
        }
        tb_printf(b, "</table>\n");
    }
    free(er);
}

/* The plots of one metric's pairs ps (and their annealed pairs ann), each
 * named by the fields that vary among them (v, va): the grid, then every
 * pair's own plot. */
static int section_plots(textbuf *b, const an_pairs *ps, const an_pairs *ann, const an_varied *v,
                         const an_varied *va, const char *metric, const an_report_opts *o, const char *outdir,
                         int *nplots, char *err, size_t errlen)
{
    /* Each trunk pair with its annealed pair, when it has one: the grid
     * and its plot then show the annealed points as the curves that count. */
    const an_pair **pp = malloc((ps->n + 1) * sizeof *pp), **pa = malloc((ps->n + 1) * sizeof *pa);
    char *drawn = calloc(ann->n + 1, 1);
    if (!pp || !pa || !drawn) {
        free(pp);
        free(pa);
        free(drawn);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < ps->n; i++) {
        pp[i] = &ps->p[i];
        pa[i] = an_annealed_match(ann, &ps->p[i]);
        if (pa[i]) drawn[pa[i] - ann->p] = 1;
    }
    int rc = 0;
    char title[256], name[300], label[256];
    snprintf(title, sizeof title, "%s against %s: AR vs MDM, %s down, %s across", metric,
             an_xaxis_name(o->x), o->rows, o->cols);
    size_t dropped = 0;
    snprintf(name, sizeof name, "grid-%s-%s.svg", metric, an_xaxis_name(o->x));
    for (char *c = name; *c; c++)
        if (*c == '/' || *c == ' ') *c = '_';
    /* One panel would only repeat the pair's own plot below. */
    if (an_grid_panels(pp, ps->n, o->rows, o->cols) > 1) {
        rc = plot(b, outdir, name, "", an_svg_grid(pp, pa, ps->n, o->rows, o->cols, title, v, o->xscale, &dropped),
                  nplots, err, errlen);
        if (!rc && dropped)
            tb_printf(b, "<p class=\"note\">%zu pair(s) share a panel with another (another axis varies); "
              "they are in the plots below.</p>\n", dropped);
    }
    tb_printf(b, "<div class=\"pairs\">\n");
    /* Each pair's plot, a trunk pair's with its annealed points as the
     * curves that count; annealed pairs without such a trunk pair alone. */
    for (size_t i = 0; !rc && i < ps->n; i++) {
        an_pair_filename(&ps->p[i], name, sizeof name);
        an_varied_label(v, &ps->p[i], NULL, label, sizeof label);
        rc = plot(b, outdir, name, label, an_svg_pair_annealed(&ps->p[i], pa[i], v, o->xscale), nplots, err,
                  errlen);
    }
    for (size_t i = 0; !rc && i < ann->n; i++) {
        if (drawn[i]) continue;
        char base[280];
        an_pair_filename(&ann->p[i], base, sizeof base);
        snprintf(name, sizeof name, "annealed-%s", base);
        an_varied_label(va, &ann->p[i], NULL, label, sizeof label);
        rc = plot(b, outdir, name, label, an_svg_pair_annealed(&ann->p[i], NULL, va, o->xscale), nplots, err,
                  errlen);
    }
    free(drawn);
    tb_printf(b, "</div>\n");
    free(pp);
    free(pa);
    return rc;
}

static int metric_section(textbuf *b, db *d, long long sweep_id, const char *metric,
                          const an_report_opts *o, const char *outdir, int *nplots, char *err,
                          size_t errlen)
{
    an_pairs ps, ann = {0};
    int rc = an_pairs_load(d, sweep_id, metric, o->x, &ps, err, errlen);
    if (rc) return rc;
    if ((rc = an_pairs_load_annealed(d, sweep_id, metric, o->x, &ann, err, errlen))) {
        an_pairs_free(&ps);
        return rc;
    }
    tb_printf(b, "<h2>");
    tb_escape(b, metric);
    tb_printf(b, " against %s</h2>\n", an_xaxis_name(o->x));
    if (ps.n == 0 && ann.n == 0) {
        tb_printf(b, "<p class=\"note\">No AR/MDM pair has reported ");
        tb_escape(b, metric);
        tb_printf(b, " yet.</p>\n");
        an_pairs_free(&ps);
        an_pairs_free(&ann);
        return 0;
    }
    /* What tells the pairs apart beyond the typed axes (the corpus, lr):
     * a column of every table and a part of every plot's title. */
    an_varied v = {0}, va = {0};
    if (an_varied_find(&ps, &v) || an_varied_find(&ann, &va)) {
        an_varied_free(&v);
        an_pairs_free(&ps);
        an_pairs_free(&ann);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* With annealed branches (train.anneal_at) the annealed points are the
     * comparison that counts, as in the plots: their tables first. */
    if (ann.n) {
        tb_printf(b, "<h3>Annealed points: the comparison that counts</h3>\n<p>One point per budget: each "
          "branch's final value after its own cooldown. The crossover is the smallest budget from which the "
          "MDM's annealed value beats AR's best annealed value at budgets up to it, and stays so.</p>\n");
        crossover_table(b, &ann, o->x, &va);
        fit_table(b, &ann, &va);
        efficiency_table(b, &ann, &va);
    }
    if (ps.n) {
        if (ann.n)
            tb_printf(b, "<h3>In training</h3>\n<p>The learning curves of the runs that are not branches: "
              "for an annealed sweep its trunks, at a constant learning rate without a cooldown, which the "
              "plots draw faint.</p>\n");
        crossover_table(b, &ps, o->x, &v);
        fit_table(b, &ps, &v);
        efficiency_table(b, &ps, &v);
    }
    rc = section_plots(b, &ps, &ann, &v, &va, metric, o, outdir, nplots, err, errlen);
    an_varied_free(&v);
    an_varied_free(&va);
    an_pairs_free(&ps);
    an_pairs_free(&ann);
    return rc;
}

static int mkdir_p(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) && errno != EEXIST) return -1;
            *s = '/';
        }
    return mkdir(p, 0755) && errno != EEXIST ? -1 : 0;
}

/* What a live page says first: that it is one, and how far the sweep is. */
static void live_banner(textbuf *b, db *d, long long sweep_id, const an_report_opts *o)
{
    long long c[DB_NSTATUS] = {0}, total = 0;
    db_status_counts(d, sweep_id, c); /* the status table below reports a failure */
    for (int i = 0; i < DB_NSTATUS; i++) total += c[i];
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%H:%M:%S UTC", gmtime(&now));
    if (o->live == AN_LIVE_RUNNING)
        tb_printf(b, "<p class=\"live running\"><b>Live</b>: the sweep is running (%lld of %lld runs done, "
          "%lld running, %lld to do). This page is rewritten as results arrive (last at %s); it reloads "
          "itself every %d s.</p>\n", c[DB_DONE], total, c[DB_RUNNING],
          c[DB_PENDING] + c[DB_INTERRUPTED], when, o->refresh);
    else
        tb_printf(b, "<p class=\"live ended\"><b>Final</b>: written at %s, %s: %lld of %lld runs done, "
          "%lld failed, %lld interrupted, %lld not started. This page no longer reloads.</p>\n", when,
          o->ended ? o->ended : "when <code>xover run</code> ended", c[DB_DONE], total, c[DB_FAILED],
          c[DB_INTERRUPTED], c[DB_PENDING] + c[DB_RUNNING]);
}

int an_report(db *d, const char *outdir, const an_report_opts *o, int *nplots, char *err,
              size_t errlen)
{
    *nplots = 0;
    char plots[4096];
    snprintf(plots, sizeof plots, "%s/plots", outdir);
    if (mkdir_p(plots)) {
        snprintf(err, errlen, "cannot create '%s': %s", plots, strerror(errno));
        return -1;
    }
    long long sweep_id = 0;
    if (o->sweep && db_sweep_id(d, o->sweep, &sweep_id)) {
        snprintf(err, errlen, "no sweep named '%s' in the database", o->sweep);
        return DB_ENOTFOUND;
    }
    names ns = {0};
    int rc = 0;
    if (o->sweep) rc = add_name(&ns, o->sweep) ? DB_EIO : 0;
    else rc = db_sweep_names(d, add_name, &ns);
    if (rc) snprintf(err, errlen, "%s", rc == DB_EIO && !o->sweep ? "out of memory" : db_errmsg(d));

    textbuf b = {0};
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    tb_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    /* A live page reloads itself while its sweep runs; the last one does not. */
    if (o->live == AN_LIVE_RUNNING && o->refresh > 0)
        tb_printf(&b, "<meta http-equiv=\"refresh\" content=\"%d\">", o->refresh);
    tb_printf(&b, "<title>xover report%s", o->sweep ? ": " : "");
    tb_escape(&b, o->sweep ? o->sweep : "");
    tb_printf(&b, "</title>\n<style>%s</style></head>\n<body>\n<h1>xover report%s", STYLE,
      o->sweep ? ": sweep " : "");
    tb_escape(&b, o->sweep ? o->sweep : "");
    tb_printf(&b, "</h1>\n");
    if (o->live) live_banner(&b, d, sweep_id, o);
    tb_printf(&b, "<p class=\"note\">Generated %s from ", when);
    tb_escape(&b, o->db_path ? o->db_path : "the results database");
    tb_printf(&b, ". Pairs are AR and MDM runs whose configs differ only in objective, seed and "
      "early-stopping margin; seeds are averaged. The crossover is where MDM's best-so-far value "
      "becomes better than AR's and stays so to the end of the range both measured; a run that "
      "stopped early keeps its best-so-far to where it would have ended.</p>\n");
    tb_printf(&b, "<p class=\"note sign\"><b>The sign of every gap on this page</b> (the final gap in "
      "the tables, the gap panel under each plot): it is the MDM's advantage, AR − MDM for a metric where "
      "lower is better (val_loss) and MDM − AR where higher is better (mc_acc), in the metric's units. "
      "<b>Above zero the MDM is ahead</b>, below zero AR is. In training it compares the two best-so-far "
      "values at the same x; on annealed points, the MDM's value at each budget against AR's best at "
      "budgets up to it. The <b>final gap</b> is that gap at the end of the range both sides measured, "
      "with its 95%% interval: over seeds when there are several, else from the evaluation error of one "
      "seed. A sweep with annealed branches (train.anneal_at) is judged on its annealed points, which its "
      "plots draw as the curves that count, the trunks' curves faint behind them.</p>\n");

    /* Run status. */
    tb_printf(&b, "<h2>Runs</h2>\n<table class=\"status\"><tr><th>sweep</th>");
    for (int i = 0; i < DB_NSTATUS; i++) tb_printf(&b, "<th>%s</th>", db_status_names[i]);
    tb_printf(&b, "<th>total</th></tr>\n");
    for (size_t i = 0; !rc && i < ns.n; i++) {
        long long id = 0;
        if ((rc = db_sweep_id(d, ns.names[i], &id)) || (rc = status_row(&b, d, ns.names[i], id)))
            snprintf(err, errlen, "%s", db_errmsg(d));
    }
    if (!rc && !o->sweep && (rc = status_row(&b, d, "(all runs)", 0)))
        snprintf(err, errlen, "%s", db_errmsg(d));
    tb_printf(&b, "</table>\n");

    static const char *const dflt[] = {"val_loss", "mc_acc", NULL};
    const char *const *metrics = o->metrics ? o->metrics : dflt;
    for (int i = 0; !rc && metrics[i]; i++)
        rc = metric_section(&b, d, sweep_id, metrics[i], o, outdir, nplots, err, errlen);

    if (!rc && ns.n) tb_printf(&b, "<h2>Sweeps</h2>\n");
    for (size_t i = 0; !rc && i < ns.n; i++) {
        char *yaml = NULL;
        if ((rc = db_sweep_yaml(d, ns.names[i], &yaml))) {
            snprintf(err, errlen, "%s", db_errmsg(d));
            break;
        }
        tb_printf(&b, "<details open><summary>");
        tb_escape(&b, ns.names[i]);
        tb_printf(&b, "</summary><pre class=\"yaml\">");
        tb_escape(&b, yaml);
        tb_printf(&b, "</pre></details>\n");
        free(yaml);
    }
    tb_printf(&b, "</body></html>\n");
    if (!rc && b.oom) rc = -1, snprintf(err, errlen, "out of memory");
    if (!rc) {
        char path[4096];
        snprintf(path, sizeof path, "%s/index.html", outdir);
        if (xo_write_atomic(path, b.s, b.n)) {
            snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
            rc = -1;
        }
    }
    tb_free(&b);
    for (size_t i = 0; i < ns.n; i++) free((char *)ns.names[i]);
    free(ns.names);
    return rc;
}
