/*
 * svg.c — a small SVG writer for the crossover plots: one pair's curves
 * above the gap its verdict reads, and a grid of small multiples. A pair of
 * annealed trunks is drawn by its annealed points (the comparison that
 * counts), the trunks' own curves faint. Words never sit on the data: the
 * verdict goes above the plot area, the crossover's label in the half away
 * from AR's best. No plotting library: text appended to a growing buffer,
 * coordinates computed here (linear or log x, "nice" ticks).
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
#define GAP_COLOR "#7b3294"

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

/* The x and y ranges of pair p and, when given, trunk pair t (its faint
 * curves). y leaves out an in-training curve's first point (the untrained
 * model's loss would squash everything else) unless that is all. */
static void ranges(const an_pair *p, const an_pair *t, int xscale, scale *xs, scale *ys)
{
    const an_curve *cs[4] = {&p->ar, &p->mdm, t ? &t->ar : NULL, t ? &t->mdm : NULL};
    int nc = t ? 4 : 2;
    double xmin = INFINITY, xmax = -INFINITY, xpos = INFINITY;
    for (int k = 0; k < nc; k++)
        for (size_t i = 0; i < cs[k]->n; i++) {
            double x = cs[k]->x[i];
            xmin = fmin(xmin, x);
            xmax = fmax(xmax, x);
            if (x > 0) xpos = fmin(xpos, x);
        }
    xs->log = isfinite(xpos) && (xscale == AN_XSCALE_LOG || (xscale == AN_XSCALE_AUTO && xmax / xpos >= 30));
    xs->lo = xs->log ? xpos : xmin;
    xs->hi = xmax;
    if (!(xs->hi > xs->lo)) xs->lo -= 0.5, xs->hi += 0.5;
    /* annealed points are markers: keep the last one (and the crossover at
     * it, the final gap's error bar) off the frame's right edge */
    if (p->annealed) xs->hi = xs->log ? xs->hi * pow(xs->hi / xs->lo, 0.03) : xs->hi + 0.03 * (xs->hi - xs->lo);
    double ylo = INFINITY, yhi = -INFINITY;
    for (int pass = 0; pass < 2 && !(yhi >= ylo); pass++)
        for (int k = 0; k < nc; k++) {
            /* an annealed curve's first point is a trained model: keep it */
            int annealed = k < 2 ? p->annealed : t->annealed;
            for (size_t i = pass || annealed ? 0 : 1; i < cs[k]->n; i++) {
                if (!visible(xs, cs[k]->x[i])) continue;
                double m = cs[k]->mean[i], sd = isnan(cs[k]->sd[i]) ? 0 : cs[k]->sd[i];
                ylo = fmin(ylo, m - sd);
                yhi = fmax(yhi, m + sd);
            }
        }
    if (!(yhi >= ylo)) ylo = 0, yhi = 1;
    if (yhi - ylo < 1e-12) ylo -= 0.5, yhi += 0.5;
    double pad = (yhi - ylo) * 0.06;
    ys->lo = ylo - pad;
    ys->hi = yhi + pad;
    ys->log = 0;
}

/* The curve y of c; with `to` past its last x (a held side's hold), on
 * flat from its last point to `to`, but no further than the x range shown.
 * stairs: a step from each point to the next (annealed AR's best so far,
 * which the comparison reads as a step). opacity < 1 for a faint curve. */
static void polyline(textbuf *b, const an_curve *c, const double *y, double to, const scale *xs,
                     const scale *ys, const char *color, double width, const char *dash, int stairs,
                     double opacity)
{
    tb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"", color, width);
    if (dash) tb_printf(b, " stroke-dasharray=\"%s\"", dash);
    if (opacity < 1) tb_printf(b, " stroke-opacity=\"%.2f\"", opacity);
    tb_printf(b, " points=\"");
    double prev = NAN;
    for (size_t i = 0; i < c->n; i++) {
        if (!visible(xs, c->x[i])) continue;
        double px = map(xs, c->x[i]);
        if (stairs && !isnan(prev)) tb_printf(b, "%.1f,%.1f ", px, prev);
        prev = map(ys, y[i]);
        tb_printf(b, "%.1f,%.1f ", px, prev);
    }
    if (c->n && to > c->x[c->n - 1] && c->x[c->n - 1] < xs->hi && visible(xs, c->x[c->n - 1]))
        tb_printf(b, "%.1f,%.1f ", map(xs, fmin(to, xs->hi)), map(ys, y[c->n - 1]));
    tb_printf(b, "\"/>\n");
}

static void band(textbuf *b, const an_curve *c, const scale *xs, const scale *ys, const char *color,
                 double opacity)
{
    if (c->seeds < 2) return;
    tb_printf(b, "<polygon fill=\"%s\" fill-opacity=\"%.2f\" stroke=\"none\" points=\"", color, opacity);
    for (size_t i = 0; i < c->n; i++)
        if (visible(xs, c->x[i]) && !isnan(c->sd[i]))
            tb_printf(b, "%.1f,%.1f ", map(xs, c->x[i]), map(ys, c->mean[i] + c->sd[i]));
    for (size_t i = c->n; i-- > 0;)
        if (visible(xs, c->x[i]) && !isnan(c->sd[i]))
            tb_printf(b, "%.1f,%.1f ", map(xs, c->x[i]), map(ys, c->mean[i] - c->sd[i]));
    tb_printf(b, "\"/>\n");
}

/* Annealed points, the curve that counts: a square at each budget, joined
 * by a solid line. */
static void points(textbuf *b, const an_curve *c, const scale *xs, const scale *ys, const char *color,
                   double size)
{
    polyline(b, c, c->mean, NAN, xs, ys, color, size > 6 ? 2 : 1.5, NULL, 0, 1);
    for (size_t i = 0; i < c->n; i++) {
        if (!visible(xs, c->x[i])) continue;
        double px = map(xs, c->x[i]), py = map(ys, c->mean[i]);
        tb_printf(b, "<rect class=\"annealed\" x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" "
            "fill=\"%s\"><title>annealed at %g: %.4g</title></rect>\n", px - size / 2, py - size / 2,
            size, size, color, c->x[i], c->mean[i]);
    }
}

/* The verdict in words; with `gap`, the final gap and its interval too. */
static void verdict_text(const an_pair *p, char *v, size_t n, int gap)
{
    const an_result *r = &p->res;
    char a[32], c[32], g[128] = "";
    if (gap && !isnan(r->final_gap)) {
        int k = snprintf(g, sizeof g, "; final gap %+.3f", r->final_gap);
        if (r->interval != AN_IV_NONE)
            snprintf(g + k, sizeof g - (size_t)k, " [%+.3f, %+.3f]%s", r->gap_lo, r->gap_hi,
                     r->interval == AN_IV_EVAL ? " (eval error, 1 seed)" : " (over seeds)");
    }
    switch (r->verdict) {
    case AN_CROSSOVER:
        an_si(r->bracket_lo, a, sizeof a);
        an_si(r->bracket_hi, c, sizeof c);
        snprintf(v, n, "crossover between %s and %s%s", a, c, g);
        break;
    case AN_MDM_AHEAD:
        an_si(r->crossover, a, sizeof a);
        snprintf(v, n, "MDM ahead from %s%s", a, g);
        break;
    case AN_NONE: snprintf(v, n, "no crossover within the budget%s", g); break;
    case AN_INCONCLUSIVE: snprintf(v, n, "inconclusive%s", g); break;
    case AN_UNFINISHED: snprintf(v, n, "unfinished: a run is still to train%s", g); break;
    default: snprintf(v, n, "the curves do not overlap"); break;
    }
}

static unsigned long clip_id;

/* Frame, grid lines and tick labels of the plot area (xs, ys); x tick
 * labels only with xlabels. */
static void frame(textbuf *b, const scale *xs, const scale *ys, double fs, int small, int xlabels)
{
    char buf[64];
    tb_printf(b, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fff\" "
        "stroke=\"#888\"/>\n", xs->p0, ys->p1, xs->p1 - xs->p0, ys->p0 - ys->p1);
    double t[32];
    int nt = ticks(xs, t, 32, small);
    for (int i = 0; i < nt; i++) {
        double px = map(xs, t[i]);
        an_si(t[i], buf, sizeof buf);
        tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n",
            px, ys->p1, px, ys->p0);
        if (xlabels)
            tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
                px, ys->p0 + fs + 3, fs - 1, buf);
    }
    nt = ticks(ys, t, 32, small);
    for (int i = 0; i < nt; i++) {
        double py = map(ys, t[i]);
        snprintf(buf, sizeof buf, "%g", t[i]);
        tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
            xs->p0, py, xs->p1, py, t[i] == 0 && ys->lo < 0 ? "#444" : "#e4e4e4");
        tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" text-anchor=\"end\">%s</text>\n",
            xs->p0 - 4, py + 4, fs - 1, buf);
    }
}

/* Open a group clipped to the plot area. */
static void clip_open(textbuf *b, const scale *xs, const scale *ys)
{
    unsigned long id = ++clip_id;
    tb_printf(b, "<clipPath id=\"c%lu\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
        "</clipPath>\n<g clip-path=\"url(#c%lu)\">\n", id, xs->p0, ys->p1, xs->p1 - xs->p0,
        ys->p0 - ys->p1, id);
}

/* Where the crossover is, on the x axis: the span between the two
 * evaluations it falls in, shaded, and the line at its x. */
static void crossover_marks(textbuf *b, const an_result *r, const scale *xs, const scale *ys)
{
    if (r->verdict == AN_CROSSOVER && visible(xs, r->bracket_lo) && !isnan(r->bracket_hi)) {
        double x0 = map(xs, r->bracket_lo), x1 = map(xs, r->bracket_hi);
        tb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
            "fill-opacity=\"0.12\"><title>the crossover is between these two evaluations</title></rect>\n",
            x0, ys->p1, x1 - x0, ys->p0 - ys->p1, CROSS_COLOR);
    }
    if (!isnan(r->crossover) && visible(xs, r->crossover)) {
        double px = map(xs, r->crossover);
        tb_printf(b, "<line class=\"crossover\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"%s\" stroke-width=\"1.8\" stroke-dasharray=\"6,3\"/>\n", px, ys->p1, px, ys->p0,
            CROSS_COLOR);
    }
}

/* The curves of pair c, whose verdict counts, and faint, when given, those
 * of trunk pair t: the constant-rate runs an annealed pair's branches fork
 * from, which the annealed comparison does not read. */
static void curves(textbuf *b, const an_pair *c, const an_pair *t, const scale *xs, const scale *ys,
                   int small)
{
    if (t) {
        polyline(b, &t->ar, t->ar.mean, NAN, xs, ys, AR_COLOR, 1.2, NULL, 0, 0.3);
        polyline(b, &t->mdm, t->mdm.mean, NAN, xs, ys, MDM_COLOR, 1.2, NULL, 0, 0.3);
    }
    if (c->annealed) {
        /* AR's value at a budget is its best at budgets up to it: a step */
        polyline(b, &c->ar, c->ar.best, c->ar.hold, xs, ys, AR_COLOR, 1.2, "5,4", 1, 1);
        points(b, &c->ar, xs, ys, AR_COLOR, small ? 5 : 7);
        points(b, &c->mdm, xs, ys, MDM_COLOR, small ? 5 : 7);
        return;
    }
    band(b, &c->ar, xs, ys, AR_COLOR, 0.18);
    band(b, &c->mdm, xs, ys, MDM_COLOR, 0.18);
    /* A held side's best-so-far goes on to its hold (what the comparison
     * uses); its mean curve stops at its last evaluation. */
    polyline(b, &c->ar, c->ar.best, c->ar.hold, xs, ys, AR_COLOR, 1.2, "5,4", 0, 1);
    polyline(b, &c->mdm, c->mdm.best, c->mdm.hold, xs, ys, MDM_COLOR, 1.2, "5,4", 0, 1);
    polyline(b, &c->ar, c->ar.mean, NAN, xs, ys, AR_COLOR, 2, NULL, 0, 1);
    polyline(b, &c->mdm, c->mdm.mean, NAN, xs, ys, MDM_COLOR, 2, NULL, 0, 1);
}

/* A text attribute for s, about per_char px a character: when s would not
 * fit in `room` px (a title naming several varied fields), squeeze it to
 * fit rather than let the picture's edge cut it off. */
static void fit_room(textbuf *b, const char *s, double per_char, double room)
{
    double chars = 0;
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) chars += (*u & 0xC0) != 0x80;
    if (chars * per_char > room)
        tb_printf(b, " textLength=\"%.0f\" lengthAdjust=\"spacingAndGlyphs\"", room);
}

/* Draw pair c (and trunk pair t faint, NULL: none) in the box (x, y, w, h):
 * the title, the verdict above the plot area (never over the curves), the
 * curves, AR's best and the crossover. `small` for grid panels (fewer
 * words, smaller type, x tick labels always); otherwise the caller draws
 * the x axis below a gap panel, and *xs_out gets the x scale. */
static void panel(textbuf *b, const an_pair *c, const an_pair *t, double x, double y, double w, double h,
                  int small, const char *title, int xscale, scale *xs_out)
{
    double fs = small ? 11 : 13;
    double ml = small ? 48 : 64, mr = 14, mt = small ? 36 : 68, mbot = small ? 34 : 4;
    scale xs = {0}, ys = {0};
    ranges(c, t, xscale, &xs, &ys);
    xs.p0 = x + ml, xs.p1 = x + w - mr;
    ys.p0 = y + h - mbot, ys.p1 = y + mt;
    if (xs_out) *xs_out = xs;

    tb_printf(b, "<g class=\"panel\">\n");
    double tx = x + (small ? ml : 10), tfs = fs + (small ? 0 : 2);
    tb_printf(b, "<text class=\"title\" x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" font-weight=\"bold\"", tx,
        y + (small ? 14 : 20), tfs);
    fit_room(b, title, 0.62 * tfs, x + w - 6 - tx);
    tb_printf(b, ">");
    tb_escape(b, title);
    tb_printf(b, "</text>\n");
    /* The verdict in words, between the title and the plot area. */
    const an_result *r = &c->res;
    char v[256];
    verdict_text(c, v, sizeof v, !small);
    tb_printf(b, "<text class=\"verdict\" x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" fill=\"%s\" "
        "font-weight=\"bold\">%s%s</text>\n", x + (small ? ml : 10), y + (small ? 28 : 41), fs - (small ? 1 : 0),
        r->verdict <= AN_MDM_AHEAD ? CROSS_COLOR : "#555", c->annealed && !small ? "annealed: " : "", v);
    if (t && !small) {
        char tv[256];
        verdict_text(t, tv, sizeof tv, 1);
        tb_printf(b, "<text class=\"verdict-trunk\" x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" fill=\"#777\">"
            "the trunks in training (faint): %s</text>\n", x + 10, y + 58, fs - 1, tv);
    }
    frame(b, &xs, &ys, fs, small, small);
    if (small)
        tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" text-anchor=\"middle\">%s%s</text>\n",
            (xs.p0 + xs.p1) / 2, y + h - 6, fs, x_label(c->xaxis), xs.log ? " (log scale)" : "");
    else {
        tb_printf(b, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" font-size=\"%.0f\" "
            "text-anchor=\"middle\">", x + 14, (ys.p0 + ys.p1) / 2, fs);
        tb_escape(b, c->metric);
        tb_printf(b, " (%s is better)</text>\n", c->lower_better ? "lower" : "higher");
    }

    clip_open(b, &xs, &ys);
    crossover_marks(b, r, &xs, &ys);
    curves(b, c, t, &xs, &ys, small);
    double bx = NAN, by = NAN; /* AR's best, marked */
    if (!isnan(r->ar_best_x) && visible(&xs, r->ar_best_x)) {
        bx = map(&xs, r->ar_best_x), by = map(&ys, r->ar_best);
        tb_printf(b, "<circle class=\"ar-best\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#fff\" stroke=\"%s\" "
            "stroke-width=\"2\"><title>AR best</title></circle>\n", bx, by, AR_COLOR);
    }
    if (!c->annealed && !isnan(r->crossover) && visible(&xs, r->crossover)) {
        double py = map(&ys, an_best_at(&c->mdm, r->crossover));
        if (isfinite(py))
            tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n", map(&xs, r->crossover),
                py, CROSS_COLOR);
    }
    tb_printf(b, "</g>\n");
    /* The crossover's label beside its line, in the half of the plot area
     * away from AR's best marker, on the side of the line with room. */
    if (!small && !isnan(r->crossover) && visible(&xs, r->crossover)) {
        double px = map(&xs, r->crossover), mid = (ys.p0 + ys.p1) / 2;
        int top = isnan(by) || by > mid;
        int left = px > (xs.p0 + xs.p1) / 2;
        char cx[32];
        an_si(r->crossover, cx, sizeof cx);
        tb_printf(b, "<text class=\"crossover-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" fill=\"%s\" "
            "text-anchor=\"%s\">crossover %s</text>\n", px + (left ? -5 : 5), top ? ys.p1 + 15 : ys.p0 - 7,
            fs - 1, CROSS_COLOR, left ? "end" : "start", cx);
    }
    tb_printf(b, "</g>\n");
}

/* ---- the gap panel -------------------------------------------------------------- */

/* The gap the verdict reads (an_pair_gaps) against the same x as the main
 * plot (xs), in the box from y to y + h: a zero line, the half where the
 * MDM is ahead tinted, the final gap's interval as an error bar. Its y range
 * is symmetric around zero and sized to the end of the comparison (the final
 * gap, its interval and the points around the crossing), not to the early
 * points, where the untrained MDM trails by a nat or more: a gap of a few
 * hundredths is what this panel is for. Points beyond the range sit on its
 * edge as triangles. */
static void gap_panel(textbuf *b, const an_pair *c, const scale *xs_main, double y, double h, double fs)
{
    const an_result *r = &c->res;
    size_t cap = c->ar.n + c->mdm.n + 1, n;
    double *gx = malloc(cap * sizeof *gx), *g = malloc(cap * sizeof *g);
    if (!gx || !g) { free(gx); free(g); b->oom = 1; return; }
    n = an_pair_gaps(c, gx, g);
    scale xs = *xs_main, ys = {0};
    double R = 0, gmax = 0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g[i]));
    if (n) R = 3 * fabs(g[n - 1]);
    if (r->interval != AN_IV_NONE) R = fmax(R, 1.5 * fmax(fabs(r->gap_lo), fabs(r->gap_hi)));
    for (size_t i = 0; i < n; i++) /* the two points around the crossing */
        if (gx[i] == r->bracket_lo || gx[i] == r->bracket_hi) R = fmax(R, 1.15 * fabs(g[i]));
    R = fmin(R, 1.1 * gmax);
    if (!(R > 0)) R = gmax > 0 ? 1.1 * gmax : 0.01;
    ys.lo = -R, ys.hi = R, ys.p0 = y + h, ys.p1 = y;

    tb_printf(b, "<g class=\"gap-panel\">\n");
    frame(b, &xs, &ys, fs, 0, 1);
    /* the half where the MDM is ahead, and the zero line on a pixel row */
    double y0 = floor(map(&ys, 0)) + 0.5;
    tb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" fill-opacity=\"0.06\"/>\n",
        xs.p0, ys.p1, xs.p1 - xs.p0, y0 - ys.p1, CROSS_COLOR);
    /* which side is which, beside the axis (where no data can be) */
    tb_printf(b, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" font-size=\"%.0f\" fill=\"%s\" "
        "text-anchor=\"middle\">MDM ahead</text>\n", xs.p0 - 48, (ys.p1 + y0) / 2, fs - 2, CROSS_COLOR);
    tb_printf(b, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" font-size=\"%.0f\" fill=\"#777\" "
        "text-anchor=\"middle\">AR ahead</text>\n", xs.p0 - 48, (ys.p0 + y0) / 2, fs - 2);
    clip_open(b, &xs, &ys);
    crossover_marks(b, r, &xs, &ys);
    tb_printf(b, "<line class=\"zero\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\" "
        "stroke-width=\"1\"/>\n", xs.p0, y0, xs.p1, y0);
    tb_printf(b, "<polyline class=\"gap\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", GAP_COLOR);
    for (size_t i = 0; i < n; i++)
        if (visible(&xs, gx[i])) /* not clamped: off the scale, it leaves the panel (clipped) */
            tb_printf(b, "%.1f,%.1f ", map(&xs, gx[i]), map(&ys, fmax(-50 * R, fmin(50 * R, g[i]))));
    tb_printf(b, "\"/>\n");
    for (size_t i = 0; i < n; i++) {
        if (!visible(&xs, gx[i])) continue;
        double px = map(&xs, gx[i]);
        if (fabs(g[i]) <= R)
            tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"><title>%g: gap %+.4g</title>"
                "</circle>\n", px, map(&ys, g[i]), c->annealed ? 3.5 : 2, GAP_COLOR, gx[i], g[i]);
        else { /* off the scale: a triangle on the edge, pointing out */
            double e = map(&ys, g[i] > 0 ? R : -R), d = g[i] > 0 ? 1 : -1; /* apex on the edge */
            tb_printf(b, "<path d=\"M%.1f,%.1f l-4,%.1f h8 z\" fill=\"%s\"><title>%g: gap %+.4g (off the scale)"
                "</title></path>\n", px, e, d * 7, GAP_COLOR, gx[i], g[i]);
        }
    }
    /* the final gap's 95% interval */
    if (r->interval != AN_IV_NONE && !isnan(r->x_end) && visible(&xs, r->x_end)) {
        double px = map(&xs, r->x_end), y0 = map(&ys, fmax(-R, r->gap_lo)), y1 = map(&ys, fmin(R, r->gap_hi));
        tb_printf(b, "<path class=\"gap-interval\" d=\"M%.1f,%.1f V%.1f M%.1f,%.1f h8 M%.1f,%.1f h8\" "
            "stroke=\"%s\" stroke-width=\"1.5\" fill=\"none\"/>\n", px, y0, y1, px - 4, y0, px - 4, y1, GAP_COLOR);
    }
    tb_printf(b, "</g>\n");
    if (n && !isnan(r->final_gap) && visible(&xs, gx[n - 1])) {
        /* beside the last point, on the side the curve does not come from */
        double px = map(&xs, gx[n - 1]), py = map(&ys, fmax(-R, fmin(R, r->final_gap)));
        int above = n < 2 || g[n - 2] < g[n - 1];
        double ty = fmin(ys.p0 - 4, fmax(ys.p1 + 13, above ? py - 9 : py + 17));
        tb_printf(b, "<text class=\"final-gap\" x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" fill=\"%s\" "
            "text-anchor=\"end\" font-weight=\"bold\">final gap %+.3f</text>\n", px - 10, ty, fs - 1, GAP_COLOR,
            r->final_gap);
    }
    if (!n)
        tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" fill=\"#777\" text-anchor=\"middle\">"
            "the curves share no x: no gap</text>\n", (xs.p0 + xs.p1) / 2, (ys.p0 + ys.p1) / 2, fs);
    tb_printf(b, "</g>\n");
    free(gx);
    free(g);
}

/* What the gap is, in one line (above the gap panel; the report says it
 * at length). */
static void gap_definition(const an_pair *p, char *buf, size_t n)
{
    const char *a = p->lower_better ? "AR" : "MDM", *m = p->lower_better ? "MDM" : "AR";
    if (p->annealed)
        snprintf(buf, n, "gap = %s − %s at each MDM budget (AR: its best annealed value at budgets up to it); "
                 "above 0 the MDM is ahead", a, m);
    else
        snprintf(buf, n, "gap = %s best so far − %s best so far (%s is better): above 0 the MDM is ahead",
                 a, m, p->lower_better ? "lower" : "higher");
}

/* A legend from (x, y), wrapping before x1 onto the next line (16 px
 * down). show_sd: say what the bands are (some side has several seeds);
 * annealed: the squares and the faint trunk curves. Returns the y of its
 * last line. */
static double legend(textbuf *b, double x, double y, double x1, int show_sd, int annealed)
{
    enum { LINE, RING, SQUARE, BAND };
    struct { int kind; const char *label, *color, *dash; double w, opacity; } items[] = {
        {LINE, "AR (mean)", AR_COLOR, NULL, 2, 1},
        {LINE, "MDM (mean)", MDM_COLOR, NULL, 2, 1},
        {LINE, "best so far", "#666", "5,4", 1.2, 1},
        {LINE, "crossover", CROSS_COLOR, "6,3", 1.8, 1},
        {RING, "AR best", AR_COLOR, NULL, 2, 1},
        {SQUARE, "annealed (one per budget)", "#666", NULL, 0, 1},
        {LINE, "trunk in training", "#666", NULL, 1.2, 0.35},
        {BAND, "mean ± sd over seeds", "#888", NULL, 0, 0.3}};
    double x0 = x;
    for (size_t i = 0; i < sizeof items / sizeof *items; i++) {
        if ((items[i].kind == SQUARE || items[i].opacity < 0.5) && !annealed) continue;
        if (items[i].kind == BAND && !show_sd) continue;
        double sym = items[i].kind == LINE ? 24 : 12, w = sym + 5 + 7.2 * (double)strlen(items[i].label) + 16;
        if (x > x0 && x + w > x1) x = x0, y += 16;
        switch (items[i].kind) {
        case LINE:
            tb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"%.1f\" stroke-opacity=\"%.2f\"%s%s%s/>\n", x, y - 4, x + 24, y - 4,
                items[i].color, items[i].w, items[i].opacity, items[i].dash ? " stroke-dasharray=\"" : "",
                items[i].dash ? items[i].dash : "", items[i].dash ? "\"" : "");
            break;
        case RING:
            tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#fff\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                x + 6, y - 4, items[i].color);
            break;
        case SQUARE:
            tb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"%s\"/>\n", x + 2, y - 8,
                items[i].color);
            break;
        default:
            tb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" fill=\"%s\" fill-opacity=\"%.2f\"/>\n",
                x, y - 9, items[i].color, items[i].opacity);
        }
        tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">%s</text>\n", x + sym + 5, y, items[i].label);
        x += w;
    }
    return y;
}

/* A pair's title: its typed axes, then what else tells it apart from the
 * pairs shown with it (v, an_varied_label; skip: fields a grid's rows and
 * columns already show). */
static void pair_title(const an_pair *p, const an_varied *v, const char *const *skip, char *buf, size_t n,
                       int small)
{
    char u[32], label[256];
    an_si((double)p->unique_tokens, u, sizeof u);
    an_varied_label(v, p, skip, label, sizeof label);
    if (small) snprintf(buf, n, "U %s · %s%s%s", u, p->model, *label ? " · " : "", label);
    else snprintf(buf, n, "%s: model %s, U = %s unique tokens, quality %s, %g epochs%s%s", p->metric,
                  p->model, u, p->quality, p->epochs, *label ? " · " : "", label);
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

char *an_svg_pair(const an_pair *p) { return an_svg_pair_annealed(p, NULL, NULL, AN_XSCALE_AUTO); }

/* One pair: the main plot (the annealed points when there are any, the
 * trunks faint), then the gap panel on the same x, then the x axis and the
 * legend. */
char *an_svg_pair_annealed(const an_pair *p, const an_pair *ann, const an_varied *v, int xscale)
{
    textbuf b = {0};
    const double W = 800, MAIN = 370, GAP_TOP = 404, GAP_H = 140, H = 630;
    const an_pair *c = ann ? ann : p, *t = ann ? p : NULL;
    char title[512], def[320], label[256], line[600];
    pair_title(p, v, NULL, title, sizeof title, 0);
    svg_open(&b, W, H, title);
    scale xs;
    panel(&b, c, t, 0, 0, W, MAIN, 0, title, xscale, &xs);
    /* The gap panel's own line names the pair too: read alone (a
     * screenshot of the panel), it still says whose gap it is. */
    gap_definition(c, def, sizeof def);
    an_varied_label(v, p, NULL, label, sizeof label);
    snprintf(line, sizeof line, "%s%s%s", label, *label ? ": " : "", def);
    tb_printf(&b, "<text class=\"gap-definition\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#333\"", xs.p0,
        GAP_TOP - 8);
    fit_room(&b, line, 0.58 * 11, W - 6 - xs.p0);
    tb_printf(&b, ">");
    if (*label) {
        tb_printf(&b, "<tspan font-weight=\"bold\">");
        tb_escape(&b, label);
        tb_printf(&b, "</tspan>: ");
    }
    tb_escape(&b, def);
    tb_printf(&b, "</text>\n");
    gap_panel(&b, c, &xs, GAP_TOP, GAP_H, 13);
    tb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\">%s%s</text>\n",
        (xs.p0 + xs.p1) / 2, GAP_TOP + GAP_H + 34, x_label(p->xaxis), xs.log ? " (log scale)" : "");
    legend(&b, 64, GAP_TOP + GAP_H + 62, W - 10, c->ar.seeds > 1 || c->mdm.seeds > 1, t != NULL || c->annealed);
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

/* The panels pairs[0..n) fill: rows and columns of the grid, and for
 * each pair its panel (row * ncols + col) when cellof is given. -1 when out
 * of memory. */
static long grid_layout(const an_pair *const *pairs, size_t n, const char *rows, const char *cols, gkey **rk_out,
                        size_t *nr, gkey **ck_out, size_t *nc, size_t *cellof)
{
    gkey *rk = malloc((n + 1) * sizeof *rk), *ck = malloc((n + 1) * sizeof *ck);
    if (!rk || !ck) { free(rk); free(ck); return -1; }
    for (size_t i = 0; i < n; i++) gkey_of(pairs[i], rows, &rk[i]), gkey_of(pairs[i], cols, &ck[i]);
    *nr = uniq(rk, n), *nc = uniq(ck, n);
    for (size_t i = 0; cellof && i < n; i++) {
        gkey a, c;
        gkey_of(pairs[i], rows, &a);
        gkey_of(pairs[i], cols, &c);
        cellof[i] = index_of(rk, *nr, &a) * *nc + index_of(ck, *nc, &c);
    }
    if (rk_out) *rk_out = rk; else free(rk);
    if (ck_out) *ck_out = ck; else free(ck);
    return (long)(*nr * *nc);
}

size_t an_grid_panels(const an_pair *const *pairs, size_t n, const char *rows, const char *cols)
{
    size_t nr = 0, nc = 0;
    long k = n ? grid_layout(pairs, n, rows, cols, NULL, &nr, NULL, &nc, NULL) : 0;
    return k < 0 ? 0 : (size_t)k;
}

char *an_svg_grid(const an_pair *const *pairs, const an_pair *const *ann, size_t n, const char *rows,
                  const char *cols, const char *title, const an_varied *v, int xscale, size_t *dropped)
{
    *dropped = 0;
    gkey *rk = NULL, *ck = NULL;
    size_t nr = 0, nc = 0, *cellof = malloc((n + 1) * sizeof *cellof);
    long *cell = NULL;
    textbuf b = {0}, scratch = {0};
    if (!cellof || grid_layout(pairs, n, rows, cols, &rk, &nr, &ck, &nc, cellof) < 0) goto fail;
    cell = malloc((nr * nc + 1) * sizeof *cell);
    if (!cell) goto fail;
    for (size_t i = 0; i < nr * nc; i++) cell[i] = -1;
    int seeds = 0, annealed = 0;
    for (size_t i = 0; i < n; i++) {
        if (cell[cellof[i]] >= 0) (*dropped)++;
        else cell[cellof[i]] = (long)i;
        const an_pair *c = ann && ann[i] ? ann[i] : pairs[i];
        if (c->ar.seeds > 1 || c->mdm.seeds > 1) seeds = 1;
        if (c->annealed) annealed = 1;
    }
    const double PW = 330, PH = 240, LM = 110;
    /* Wide enough for the panels, the title (bold 16 px: about 10 px a
     * character) and a legend of at most two lines. */
    double W = LM + PW * (double)nc + 10;
    W = fmax(W, fmax(640, 20 + 10 * (double)strlen(title)));
    double ly = legend(&scratch, 10, 46, W - 10, seeds, annealed);
    tb_free(&scratch);
    double TM = ly + 28, H = TM + PH * (double)nr + 10;
    svg_open(&b, W, H, title);
    tb_printf(&b, "<text class=\"grid-title\" x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">");
    tb_escape(&b, title);
    tb_printf(&b, "</text>\n");
    legend(&b, 10, 46, W - 10, seeds, annealed);
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
            long i = cell[r * nc + q];
            double x = LM + PW * (double)q, y = TM + PH * (double)r;
            if (i < 0) {
                tb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#999\" "
                    "text-anchor=\"middle\">no pair</text>\n", x + PW / 2, y + PH / 2);
                continue;
            }
            const an_pair *p = pairs[i], *a = ann ? ann[i] : NULL;
            char t[512];
            const char *const skip[] = {rows, cols, NULL}; /* the row and column say them */
            pair_title(p, v, skip, t, sizeof t, 1);
            panel(&b, a ? a : p, a ? p : NULL, x, y, PW, PH, 1, t, xscale, NULL);
        }
    }
    tb_printf(&b, "</svg>\n");
    free(rk);
    free(ck);
    free(cell);
    free(cellof);
    return tb_take(&b);
fail:
    free(rk);
    free(ck);
    free(cell);
    free(cellof);
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

int an_xscale_parse(const char *name)
{
    static const char *const names[] = {"auto", "linear", "log"};
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, names[i])) return i;
    return -1;
}
