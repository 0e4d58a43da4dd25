/*
 * svg.c — a small SVG writer for the crossover plots: one pair's curves, and
 * a grid of small multiples. No plotting library: text appended to a
 * growing buffer, coordinates computed here (linear or log x, "nice" ticks).
 */
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/util/util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define AR_COLOR "#1f5fa8"
#define MDM_COLOR "#e0701a"
#define CROSS_COLOR "#1b8a3a"

void an_si(double x, char *buf, size_t n)
{
    static const struct { double v; const char *s; } u[] = {
        {1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}};
    double a = fabs(x);
    for (size_t i = 0; i < sizeof u / sizeof *u; i++)
        if (a >= u[i].v) { snprintf(buf, n, "%.3g%s", x / u[i].v, u[i].s); return; }
    snprintf(buf, n, "%.3g", x);
}

/* ---- scales and ticks ------------------------------------------------------- */

typedef struct {
    double lo, hi;   /* data range shown */
    int log;         /* log10 scale */
    double p0, p1;   /* pixel range */
} scale;

static double map(const scale *s, double v)
{
    double a = s->log ? log10(s->lo) : s->lo, b = s->log ? log10(s->hi) : s->hi;
    double t = s->log ? log10(v) : v;
    return s->p0 + (t - a) / (b - a) * (s->p1 - s->p0);
}

/* Up to ~6 ticks at 1, 2, 5 x 10^k steps (linear) or at decades (log,
 * with 2 and 5 between when the range spans under three decades). */
static int ticks(const scale *s, double *t, int max, int small)
{
    int n = 0;
    if (s->log) {
        int span = (int)(floor(log10(s->hi)) - ceil(log10(s->lo)));
        for (int e = (int)floor(log10(s->lo)); e <= (int)ceil(log10(s->hi)) && n < max; e++)
            for (int m = 1; m <= 5 && n < max; m = m == 1 ? 2 : m + 3) {
                if (m > 1 && span >= (small ? 1 : 3)) break;
                double v = m * pow(10, e);
                if (v >= s->lo * (1 - 1e-9) && v <= s->hi * (1 + 1e-9)) t[n++] = v;
            }
        return n;
    }
    double raw = (s->hi - s->lo) / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
    for (double v = ceil(s->lo / step) * step; v <= s->hi + step * 1e-9 && n < max; v += step)
        t[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    return n;
}

/* ---- one panel ---------------------------------------------------------------- */

static const char *x_label(an_xaxis x)
{
    return x == AN_TOKENS ? "tokens seen" : x == AN_EPOCHS ? "epochs" : "training FLOPs";
}

/* Whether point i of c is drawn on scale xs. */
static int visible(const scale *xs, double x) { return !xs->log || x > 0; }

/* The x and y ranges of a pair. y leaves out each curve's first point (the
 * untrained model's loss would squash everything else) unless that is all. */
static void ranges(const an_pair *p, const an_pair *ann, scale *xs, scale *ys)
{
    const an_curve *cs[4] = {&p->ar, &p->mdm, ann ? &ann->ar : NULL, ann ? &ann->mdm : NULL};
    int nc = ann ? 4 : 2;
    double xmin = INFINITY, xmax = -INFINITY, xpos = INFINITY;
    for (int k = 0; k < nc; k++)
        for (size_t i = 0; i < cs[k]->n; i++) {
            double x = cs[k]->x[i];
            xmin = fmin(xmin, x);
            xmax = fmax(xmax, x);
            if (x > 0) xpos = fmin(xpos, x);
        }
    xs->log = isfinite(xpos) && xmax / xpos >= 30;
    xs->lo = xs->log ? xpos : xmin;
    xs->hi = xmax;
    if (!(xs->hi > xs->lo)) xs->lo -= 0.5, xs->hi += 0.5;
    double ylo = INFINITY, yhi = -INFINITY;
    for (int pass = 0; pass < 2 && !(yhi >= ylo); pass++)
        for (int k = 0; k < nc; k++)
            /* an annealed curve's first point is a trained model: keep it */
            for (size_t i = pass || k >= 2 || p->annealed ? 0 : 1; i < cs[k]->n; i++) {
                if (!visible(xs, cs[k]->x[i])) continue;
                double m = cs[k]->mean[i], sd = isnan(cs[k]->sd[i]) ? 0 : cs[k]->sd[i];
                ylo = fmin(ylo, m - sd);
                yhi = fmax(yhi, m + sd);
            }
    if (!(yhi >= ylo)) ylo = 0, yhi = 1;
    if (yhi - ylo < 1e-12) ylo -= 0.5, yhi += 0.5;
    double pad = (yhi - ylo) * 0.06;
    ys->lo = ylo - pad;
    ys->hi = yhi + pad;
    ys->log = 0;
}

/* The curve y of c; with `to` past its last x (a held side's hold), on
 * flat from its last point to `to`, but no further than the x range shown. */
static void polyline(textbuf *b, const an_curve *c, const double *y, double to, const scale *xs,
                     const scale *ys, const char *color, double width, const char *dash)
{
    tb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"%s%s%s points=\"", color,
        width, dash ? " stroke-dasharray=\"" : "", dash ? dash : "", dash ? "\"" : "");
    for (size_t i = 0; i < c->n; i++)
        if (visible(xs, c->x[i])) tb_printf(b, "%.1f,%.1f ", map(xs, c->x[i]), map(ys, y[i]));
    if (c->n && to > c->x[c->n - 1] && c->x[c->n - 1] < xs->hi && visible(xs, c->x[c->n - 1]))
        tb_printf(b, "%.1f,%.1f ", map(xs, fmin(to, xs->hi)), map(ys, y[c->n - 1]));
    tb_printf(b, "\"/>\n");
}

static void band(textbuf *b, const an_curve *c, const scale *xs, const scale *ys, const char *color)
{
    if (c->seeds < 2) return;
    tb_printf(b, "<polygon fill=\"%s\" fill-opacity=\"0.18\" stroke=\"none\" points=\"", color);
    for (size_t i = 0; i < c->n; i++)
        if (visible(xs, c->x[i]) && !isnan(c->sd[i]))
            tb_printf(b, "%.1f,%.1f ", map(xs, c->x[i]), map(ys, c->mean[i] + c->sd[i]));
    for (size_t i = c->n; i-- > 0;)
        if (visible(xs, c->x[i]) && !isnan(c->sd[i]))
            tb_printf(b, "%.1f,%.1f ", map(xs, c->x[i]), map(ys, c->mean[i] - c->sd[i]));
    tb_printf(b, "\"/>\n");
}

/* Annealed points: a marker at each budget, joined by a thin line. */
static void points(textbuf *b, const an_curve *c, const scale *xs, const scale *ys, const char *color,
                   int square)
{
    polyline(b, c, c->mean, NAN, xs, ys, color, 1.2, "2,3");
    for (size_t i = 0; i < c->n; i++) {
        if (!visible(xs, c->x[i])) continue;
        double px = map(xs, c->x[i]), py = map(ys, c->mean[i]);
        if (square)
            tb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"%s\">"
                "<title>annealed at %g: %.4g</title></rect>\n", px - 4, py - 4, color, c->x[i], c->mean[i]);
        else
            tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", px, py, color);
    }
}

/* The verdict in words (and the final gap's interval when there is one). */
static void verdict_text(const an_pair *p, char *v, size_t n)
{
    const an_result *r = &p->res;
    char a[32], c[32], gap[96] = "";
    if (r->interval != AN_IV_NONE)
        snprintf(gap, sizeof gap, "; final gap %+.3f [%+.3f, %+.3f]%s", r->final_gap, r->gap_lo, r->gap_hi,
                 r->interval == AN_IV_EVAL ? " (eval error, 1 seed)" : "");
    switch (r->verdict) {
    case AN_CROSSOVER:
        an_si(r->bracket_lo, a, sizeof a);
        an_si(r->bracket_hi, c, sizeof c);
        snprintf(v, n, "crossover between %s and %s%s", a, c, gap);
        break;
    case AN_MDM_AHEAD:
        an_si(r->crossover, a, sizeof a);
        snprintf(v, n, "MDM ahead from %s%s", a, gap);
        break;
    case AN_NONE: snprintf(v, n, "no crossover within the budget%s", gap); break;
    case AN_INCONCLUSIVE: snprintf(v, n, "inconclusive%s", gap); break;
    case AN_UNFINISHED: snprintf(v, n, "unfinished: a run is still to train"); break;
    default: snprintf(v, n, "the curves do not overlap"); break;
    }
}

static unsigned long clip_id;

/* Draw pair p in the box (x, y, w, h); `small` for grid panels (fewer
 * words, smaller type). */
static void panel(textbuf *b, const an_pair *p, const an_pair *ann, double x, double y, double w, double h,
                  int small, const char *title)
{
    double fs = small ? 11 : 13;
    double ml = small ? 48 : 64, mr = 14, mt = small ? 22 : 34, mbot = small ? 34 : 48;
    scale xs = {0}, ys = {0};
    ranges(p, ann, &xs, &ys);
    xs.p0 = x + ml, xs.p1 = x + w - mr;
    ys.p0 = y + h - mbot, ys.p1 = y + mt;
    char buf[64];

    tb_printf(b, "<g class=\"panel\">\n");
    tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" font-weight=\"bold\">", x + ml,
        y + (small ? 15 : 22), fs + (small ? 0 : 2));
    tb_escape(b, title);
    tb_printf(b, "</text>\n");
    /* Frame, grid lines and tick labels. */
    tb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fff\" "
        "stroke=\"#888\"/>\n", xs.p0, ys.p1, xs.p1 - xs.p0, ys.p0 - ys.p1);
    double t[32];
    int nt = ticks(&xs, t, 32, small);
    for (int i = 0; i < nt; i++) {
        double px = map(&xs, t[i]);
        an_si(t[i], buf, sizeof buf);
        tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n",
            px, ys.p1, px, ys.p0);
        tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
            px, ys.p0 + fs + 3, fs - 1, buf);
    }
    nt = ticks(&ys, t, 32, small);
    for (int i = 0; i < nt; i++) {
        double py = map(&ys, t[i]);
        snprintf(buf, sizeof buf, "%g", t[i]);
        tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n",
            xs.p0, py, xs.p1, py);
        tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" text-anchor=\"end\">%s</text>\n",
            xs.p0 - 4, py + 4, fs - 1, buf);
    }
    tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" text-anchor=\"middle\">%s%s</text>\n",
        (xs.p0 + xs.p1) / 2, y + h - 6, fs, x_label(p->xaxis), xs.log ? " (log scale)" : "");
    if (!small) {
        tb_printf(b, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" font-size=\"%.0f\" "
            "text-anchor=\"middle\">", x + 14, (ys.p0 + ys.p1) / 2, fs);
        tb_escape(b, p->metric);
        tb_printf(b, " (%s is better)</text>\n", p->lower_better ? "lower" : "higher");
    }

    /* The curves, clipped to the frame. */
    unsigned long id = ++clip_id;
    tb_printf(b, "<clipPath id=\"c%lu\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
        "</clipPath>\n<g clip-path=\"url(#c%lu)\">\n", id, xs.p0, ys.p1, xs.p1 - xs.p0,
        ys.p0 - ys.p1, id);
    const an_result *r = &p->res;
    /* A crossover between two evaluations: the span it falls in, shaded. */
    if (r->verdict == AN_CROSSOVER && visible(&xs, r->bracket_lo) && !isnan(r->bracket_hi)) {
        double x0 = map(&xs, r->bracket_lo), x1 = map(&xs, r->bracket_hi);
        tb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
            "fill-opacity=\"0.12\"><title>the crossover is between these two evaluations</title></rect>\n",
            x0, ys.p1, x1 - x0, ys.p0 - ys.p1, CROSS_COLOR);
    }
    band(b, &p->ar, &xs, &ys, AR_COLOR);
    band(b, &p->mdm, &xs, &ys, MDM_COLOR);
    /* A held side's best-so-far goes on to its hold (what the comparison
     * uses); its mean curve stops at its last evaluation. */
    polyline(b, &p->ar, p->ar.best, p->ar.hold, &xs, &ys, AR_COLOR, 1.2, "5,4");
    polyline(b, &p->mdm, p->mdm.best, p->mdm.hold, &xs, &ys, MDM_COLOR, 1.2, "5,4");
    if (p->annealed) { /* one point per budget */
        points(b, &p->ar, &xs, &ys, AR_COLOR, 1);
        points(b, &p->mdm, &xs, &ys, MDM_COLOR, 1);
    } else {
        polyline(b, &p->ar, p->ar.mean, NAN, &xs, &ys, AR_COLOR, 2, NULL);
        polyline(b, &p->mdm, p->mdm.mean, NAN, &xs, &ys, MDM_COLOR, 2, NULL);
    }
    if (ann) { /* the annealed points beside the in-training curves */
        points(b, &ann->ar, &xs, &ys, AR_COLOR, 1);
        points(b, &ann->mdm, &xs, &ys, MDM_COLOR, 1);
    }
    if (!isnan(r->ar_best_x) && visible(&xs, r->ar_best_x))
        tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#fff\" stroke=\"%s\" "
            "stroke-width=\"2\"><title>AR best</title></circle>\n", map(&xs, r->ar_best_x),
            map(&ys, r->ar_best), AR_COLOR);
    if (!isnan(r->crossover) && visible(&xs, r->crossover)) {
        double px = map(&xs, r->crossover);
        tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"1.8\" stroke-dasharray=\"6,3\"/>\n", px, ys.p1, px, ys.p0, CROSS_COLOR);
        double py = map(&ys, p->annealed ? NAN : an_best_at(&p->mdm, r->crossover));
        if (isfinite(py))
            tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n", px, py, CROSS_COLOR);
    }
    tb_printf(b, "</g>\n");
    /* The verdict, in words, at the bottom-left of the frame. */
    char v[200];
    verdict_text(p, v, sizeof v);
    if (small && strchr(v, ';')) *strchr(v, ';') = 0; /* panels: the verdict alone */
    if (ann && !small) {
        char av[200];
        verdict_text(ann, av, sizeof av);
        tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" fill=\"#555\">annealed: %s</text>\n",
            xs.p0 + 6, ys.p0 - 8 - fs, fs - 1, av);
    }
    tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" fill=\"%s\" font-weight=\"bold\">%s"
        "</text>\n", xs.p0 + 6, ys.p0 - 6, fs, r->verdict <= AN_MDM_AHEAD ? CROSS_COLOR : "#555", v);
    tb_printf(b, "</g>\n");
}

/* A horizontal legend starting at (x, y). */
/* show_sd: say what the bands are (some side has several seeds). */
static void legend(textbuf *b, double x, double y, int show_sd, int annealed)
{
    struct { const char *label, *color, *dash; double w; } items[] = {
        {"AR (mean)", AR_COLOR, NULL, 2},         {"MDM (mean)", MDM_COLOR, NULL, 2},
        {"best so far", "#666", "5,4", 1.2},       {"crossover", CROSS_COLOR, "6,3", 1.8}};
    for (size_t i = 0; i < sizeof items / sizeof *items; i++) {
        tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"%.1f\"%s%s%s/>\n", x, y - 4, x + 24, y - 4, items[i].color, items[i].w,
            items[i].dash ? " stroke-dasharray=\"" : "", items[i].dash ? items[i].dash : "",
            items[i].dash ? "\"" : "");
        tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">%s</text>\n", x + 29, y,
            items[i].label);
        x += 44 + 7.2 * strlen(items[i].label);
    }
    tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#fff\" stroke=\"%s\" "
        "stroke-width=\"2\"/>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">AR best</text>\n",
        x + 6, y - 4, AR_COLOR, x + 14, y);
    if (annealed) {
        tb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"#666\"/>\n"
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">annealed (one per budget)</text>\n",
            x + 80, y - 8, x + 92, y);
        x += 200;
    }
    if (show_sd)
        tb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"10\" fill=\"#888\" "
            "fill-opacity=\"0.3\"/>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">mean ± sd "
            "over seeds</text>\n", x + 80, y - 9, x + 102, y);
}

static void pair_title(const an_pair *p, char *buf, size_t n, int small)
{
    char u[32];
    an_si((double)p->unique_tokens, u, sizeof u);
    if (small) snprintf(buf, n, "U %s · %s", u, p->model);
    else snprintf(buf, n, "%s: model %s, U = %s unique tokens, quality %s, %g epochs", p->metric,
                  p->model, u, p->quality, p->epochs);
}

/* The document's start: its size, the title tooltip, a white background. */
static void svg_open(textbuf *b, double W, double H, const char *title)
{
    tb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
        "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
        W, H, W, H);
    tb_printf(b, "<title>");
    tb_escape(b, title);
    tb_printf(b, "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
}

char *an_svg_pair(const an_pair *p) { return an_svg_pair_annealed(p, NULL); }

char *an_svg_pair_annealed(const an_pair *p, const an_pair *ann)
{
    textbuf b = {0};
    const double W = 800, H = 470;
    char title[256];
    pair_title(p, title, sizeof title, 0);
    svg_open(&b, W, H, title);
    panel(&b, p, ann, 0, 0, W, H - 26, 0, title);
    legend(&b, 64, H - 8, p->ar.seeds > 1 || p->mdm.seeds > 1, ann != NULL || p->annealed);
    tb_printf(&b, "</svg>\n");
    return tb_take(&b);
}

/* ---- the grid ----------------------------------------------------------------- */

/* A grid axis value (an_axis_key), numbers labelled "50k", unknown "-". */
typedef an_axis_key gkey;

static void gkey_of(const an_pair *p, const char *axis, gkey *k)
{
    an_axis_key_of(p, axis, k);
    if (k->v.type == DB_INT || k->v.type == DB_REAL) an_si(k->num, k->text, sizeof k->text);
    else if (k->v.type == DB_NULL) snprintf(k->text, sizeof k->text, "-");
}

static int gkey_cmp(const void *a, const void *b) { return an_axis_key_cmp(a, b); }

static size_t uniq(gkey *k, size_t n)
{
    qsort(k, n, sizeof *k, gkey_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (!u || gkey_cmp(&k[u - 1], &k[i])) k[u++] = k[i];
    return u;
}

static size_t index_of(const gkey *k, size_t n, const gkey *x)
{
    for (size_t i = 0; i < n; i++)
        if (!gkey_cmp(&k[i], x)) return i;
    return 0;
}

char *an_svg_grid(const an_pair *const *pairs, size_t n, const char *rows, const char *cols,
                  const char *title, size_t *dropped)
{
    *dropped = 0;
    gkey *rk = malloc((n + 1) * sizeof *rk), *ck = malloc((n + 1) * sizeof *ck);
    const an_pair **cell = NULL;
    textbuf b = {0};
    if (!rk || !ck) goto fail;
    for (size_t i = 0; i < n; i++) gkey_of(pairs[i], rows, &rk[i]), gkey_of(pairs[i], cols, &ck[i]);
    size_t nr = uniq(rk, n), nc = uniq(ck, n);
    cell = calloc(nr * nc + 1, sizeof *cell);
    if (!cell) goto fail;
    int seeds = 0;
    for (size_t i = 0; i < n; i++) {
        gkey a, c;
        gkey_of(pairs[i], rows, &a);
        gkey_of(pairs[i], cols, &c);
        size_t at = index_of(rk, nr, &a) * nc + index_of(ck, nc, &c);
        if (cell[at]) (*dropped)++;
        else cell[at] = pairs[i];
        if (pairs[i]->ar.seeds > 1 || pairs[i]->mdm.seeds > 1) seeds = 1;
    }
    const double PW = 330, PH = 240, LM = 110, TM = 74;
    double W = LM + PW * (double)nc + 10, H = TM + PH * (double)nr + 10;
    if (W < 640) W = 640;
    svg_open(&b, W, H, title);
    tb_printf(&b, "<text x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">");
    tb_escape(&b, title);
    tb_printf(&b, "</text>\n");
    legend(&b, 10, 46, seeds, 0);
    for (size_t q = 0; q < nc; q++) {
        tb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" "
            "font-weight=\"bold\">", LM + PW * ((double)q + 0.5), TM - 6);
        tb_escape(&b, cols);
        tb_printf(&b, " = ");
        tb_escape(&b, ck[q].text);
        tb_printf(&b, "</text>\n");
    }
    for (size_t r = 0; r < nr; r++) {
        double cy = TM + PH * ((double)r + 0.5);
        tb_printf(&b, "<text x=\"10\" y=\"%.1f\" font-size=\"13\" font-weight=\"bold\">", cy - 8);
        tb_escape(&b, rows);
        tb_printf(&b, "</text>\n<text x=\"10\" y=\"%.1f\" font-size=\"13\">= ", cy + 10);
        tb_escape(&b, rk[r].text);
        tb_printf(&b, "</text>\n");
        for (size_t q = 0; q < nc; q++) {
            const an_pair *p = cell[r * nc + q];
            double x = LM + PW * (double)q, y = TM + PH * (double)r;
            if (!p) {
                tb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#999\" "
                    "text-anchor=\"middle\">no pair</text>\n", x + PW / 2, y + PH / 2);
                continue;
            }
            char t[256];
            pair_title(p, t, sizeof t, 1);
            panel(&b, p, NULL, x, y, PW, PH, 1, t);
        }
    }
    tb_printf(&b, "</svg>\n");
    free(rk);
    free(ck);
    free(cell);
    return tb_take(&b);
fail:
    free(rk);
    free(ck);
    free(cell);
    tb_free(&b);
    return NULL;
}

/* ---- file names ------------------------------------------------------------------ */

void an_pair_filename(const an_pair *p, char *buf, size_t n)
{
    /* FNV-1a of the cell: configs that differ beyond the typed axes still
     * get their own file. */
    uint32_t h = 2166136261u;
    for (const char *s = p->cell; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    char raw[256];
    snprintf(raw, sizeof raw, "pair-%s-%s-%s-U%lld-%s-%08x", p->metric, an_xaxis_name(p->xaxis),
             p->model, p->unique_tokens, p->quality, h);
    size_t k = 0;
    for (const char *s = raw; *s && k + 5 < n; s++)
        buf[k++] = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                           *s == '-' || *s == '_' || *s == '.' ? *s : '_';
    snprintf(buf + k, n - k, ".svg");
}
