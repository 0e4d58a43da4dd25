/*
 * test_plots.c — what the pictures of xover plot and xover report show, read
 * off the SVG and, where it matters, off Chromium's rendering: the gap panel
 * makes a late gap of a few hundredths visible, the verdict and the
 * crossover's label keep off the curves and AR's best, a grid of one panel
 * is not drawn, a grid's title fits, an annealed sweep is drawn by its
 * annealed points with the trunks faint, and a grid's axes are named as
 * xover table names them (an unknown name refused).
 *
 * The fixture is the demo's shape: one AR/MDM pair at U = 50k, AR best
 * 3.961 at 2 epochs then overfitting, the MDM falling to 3.924 at 20
 * epochs: it crosses late (near 15 epochs) and ends 0.037 ahead, on a
 * y range of 3.9 to 6.
 */
#include "tests/harness.h"
#include "tests/helpers.h"
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/db/db.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long long add_run(db *d, long long sweep, const char *objective, long long U, double epochs,
                         const char *train)
{
    char config[512], key[160];
    snprintf(config, sizeof config,
             "{\"data\":{\"quality\":\"all\",\"unique_tokens\":%lld},\"model\":{\"name\":\"d64\"},"
             "\"objective\":\"%s\",\"seed\":0,\"train\":{\"epochs\":%g,\"lr\":0.002%s}}",
             U, objective, epochs, train);
    snprintf(key, sizeof key, "%s-%lld-%g%s", objective, U, epochs, train);
    db_run_spec s = {.key = key, .config = config, .objective = objective, .model = "d64",
                     .params = 266816, .unique_tokens = U, .quality = "all", .epochs = epochs, .seed = 0};
    long long id = -1;
    if (db_run_put(d, &s, &id) || db_sweep_link(d, sweep, id) || db_run_finished(d, id, "done", NULL, NULL, 0))
        fprintf(stderr, "run: %s\n", db_errmsg(d));
    return id;
}

/* 81 evaluations over 20 epochs of U tokens each. */
static void add_curve(db *d, long long id, const char *objective, long long U)
{
    db_metric m[81];
    for (int i = 0; i <= 80; i++) {
        double e = i / 4.0, v;
        if (!strcmp(objective, "ar")) v = 6 - 2.039 * fmin(e, 2) / 2 + 0.1 * fmax(0, e - 2);
        else v = 3.924 + 2.076 * (exp(-e / 4) - exp(-5)) / (1 - exp(-5));
        long long tok = (long long)(e * (double)U);
        m[i] = (db_metric){"val_loss", i, tok, e, 6.0 * 266816 * (double)tok, v};
    }
    if (db_ingest_metrics(d, id, m, 81)) fprintf(stderr, "ingest: %s\n", db_errmsg(d));
}

/* Sweep "one": the pair at U = 50k. Sweep "two": it and a pair at 100k. */
static const char *fixture(void)
{
    static char path[4096];
    char err[512];
    harness_path(path, sizeof path, "plots.db");
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    if (!d) { fprintf(stderr, "%s\n", err); return NULL; }
    long long one, two;
    db_sweep_put(d, "one", "sweep: one\n", "h1", &one);
    db_sweep_put(d, "two", "sweep: two\n", "h2", &two);
    for (int k = 0; k < 2; k++) {
        const char *obj = k ? "mdm" : "ar";
        long long id = add_run(d, one, obj, 50000, 20, "");
        db_sweep_link(d, two, id);
        add_curve(d, id, obj, 50000);
        add_curve(d, add_run(d, two, obj, 100000, 20, ""), obj, 100000);
    }
    db_close(d);
    return path;
}

/* Run xover with the arguments up to the first NULL. */
static harness_proc xover(const char *const *args)
{
    const char *argv[32] = {harness_xover()};
    for (int i = 0; args[i] && i < 30; i++) argv[i + 1] = args[i];
    return harness_run(argv, NULL);
}
#define XOVER(...) xover((const char *const[]){__VA_ARGS__, NULL})

/* The number in attribute `attr` of the first element after `marker` in
 * svg (NAN when there is none). */
static double attr(const char *svg, const char *marker, const char *attr)
{
    const char *p = strstr(svg, marker);
    if (!p) return NAN;
    char key[64];
    snprintf(key, sizeof key, " %s=\"", attr);
    const char *end = strchr(p, '>'), *a = strstr(p, key);
    if (!a || (end && a > end)) { /* the attribute may come before the marker */
        const char *open = p;
        while (open > svg && *open != '<') open--;
        a = strstr(open, key);
        if (!a || (end && a > end)) return NAN;
    }
    return strtod(a + strlen(key), NULL);
}

/* Plot sweep `sweep` of the fixture into a directory of its own; the
 * output (one file per line) in *out. Returns the exit status. */
static int plot(const char *db, const char *sweep, const char *dir, char **out, const char *a1, const char *a2)
{
    char o[4096];
    harness_path(o, sizeof o, dir);
    harness_proc p = XOVER("plot", "--db", db, "--sweep", sweep, "--out", o, a1, a2);
    *out = strdup(p.out);
    int st = p.status;
    if (st) fprintf(stderr, "%s", p.err);
    harness_proc_free(&p);
    return st;
}

/* The file of the listing whose name contains `part`, read. */
static char *file_with(const char *listing, const char *part)
{
    char *copy = strdup(listing), *svg = NULL;
    for (char *line = strtok(copy, "\n"); line && !svg; line = strtok(NULL, "\n"))
        if (strstr(line, part)) svg = harness_slurp(line, NULL);
    free(copy);
    return svg;
}

TEST(plots_gap_panel_makes_a_late_small_gap_visible)
{
    const char *db = fixture();
    CHECK(db);
    char *out;
    CHECK_INT(plot(db, "one", "p1", &out, NULL, NULL), 0);
    char *svg = file_with(out, "pair-val_loss");
    CHECK(svg);
    CHECK_CONTAINS(svg, "<g class=\"gap-panel\">");
    CHECK_CONTAINS(svg, "final gap +0.037");
    CHECK_CONTAINS(svg, "gap = AR best so far − MDM best so far (lower is better): above 0 the MDM is ahead");
    /* The gap curve's last point (the final gap, +0.037) stands well clear
     * of the zero line, which is the middle of the panel (y 404 + 140 / 2):
     * the panel's range is sized to the end of the comparison, not to the
     * first points (a gap of -2 at the start). On the main plot's y range
     * (3.9 to 6 over 300 px) it would be 5 px. */
    const char *g = strstr(svg, "<polyline class=\"gap\"");
    CHECK(g);
    const char *pts = strstr(g, "points=\"") + 8, *endp = strchr(pts, '"');
    const char *last = endp;
    while (last > pts && last[-1] == ' ') last--;
    while (last > pts && last[-1] != ' ') last--;
    double lx, ly;
    CHECK(sscanf(last, "%lf,%lf", &lx, &ly) == 2);
    if (!(474 - ly >= 20)) fprintf(stderr, "final gap drawn at y %.1f, zero at 474\n", ly);
    CHECK(474 - ly >= 20);
    CHECK(lx > 700); /* at the right, where the comparison ends */
    /* the first points, far below zero, sit on the panel's edge as markers */
    CHECK_CONTAINS(svg, "(off the scale)");
    free(svg);
    free(out);
}

TEST(plots_verdict_and_crossover_label_keep_clear_of_the_curves)
{
    const char *db = fixture();
    CHECK(db);
    char *out;
    CHECK_INT(plot(db, "one", "p2", &out, NULL, NULL), 0);
    char *svg = file_with(out, "pair-val_loss");
    CHECK(svg);
    /* The verdict is above the plot area, not over the curves at its
     * bottom-left, where a loss's AR best lies. */
    double frame_top = attr(svg, "class=\"frame\"", "y"), vy = attr(svg, "class=\"verdict\"", "y");
    CHECK(!isnan(frame_top) && !isnan(vy));
    CHECK(vy < frame_top);
    CHECK_CONTAINS(svg, "crossover between");
    /* The crossover's label does not overlap AR's best marker: their boxes
     * (the label 12 px tall, 7 px a character; the marker r 4 + stroke)
     * are apart. */
    double lx = attr(svg, "class=\"crossover-label\"", "x"), ly = attr(svg, "class=\"crossover-label\"", "y");
    double cx = attr(svg, "class=\"ar-best\"", "cx"), cy = attr(svg, "class=\"ar-best\"", "cy");
    CHECK(!isnan(lx) && !isnan(ly) && !isnan(cx) && !isnan(cy));
    const char *lab = strstr(svg, "class=\"crossover-label\"");
    int end = strstr(lab, "text-anchor=\"end\"") < strchr(lab, '>');
    double w = 7.0 * (double)strlen("crossover 1.48M"), x0 = end ? lx - w : lx, x1 = end ? lx : lx + w;
    int apart = ly + 3 < cy - 6 || ly - 12 > cy + 6 || x1 < cx - 6 || x0 > cx + 6;
    if (!apart) fprintf(stderr, "label at (%.1f, %.1f), AR best at (%.1f, %.1f)\n", lx, ly, cx, cy);
    CHECK(apart);
    free(svg);
    free(out);
}

TEST(plots_grid_of_one_panel_is_not_drawn)
{
    const char *db = fixture();
    CHECK(db);
    char *out;
    /* one pair: its plot, no grid repeating it */
    CHECK_INT(plot(db, "one", "p3", &out, NULL, NULL), 0);
    CHECK(strstr(out, "pair-val_loss") && !strstr(out, "grid-"));
    free(out);
    /* two pairs in one panel (both budgets have lr 0.002): no grid either */
    CHECK_INT(plot(db, "two", "p4", &out, "--rows", "train.lr"), 0);
    CHECK(!strstr(out, "grid-"));
    free(out);
    /* two budgets down, one model across: a grid of two panels */
    CHECK_INT(plot(db, "two", "p5", &out, NULL, NULL), 0);
    CHECK_CONTAINS(out, "grid-val_loss-tokens.svg");
    free(out);
}

/* The grid of one column is as wide as its title needs: rendered at its
 * own width, the title's ink ends before the right edge. */
TEST(plots_grid_title_is_not_cut_off)
{
    const char *db = fixture();
    CHECK(db);
    char *out;
    CHECK_INT(plot(db, "two", "p6", &out, NULL, NULL), 0);
    char *svg = file_with(out, "grid-");
    CHECK(svg);
    CHECK_CONTAINS(svg, "val_loss against tokens: AR vs MDM, unique_tokens down, model across");
    int w = (int)attr(svg, "<svg", "width"), h = (int)attr(svg, "<svg", "height");
    CHECK(w > 0 && h > 0);
    char url[4200], png[4096], *line = strstr(out, "grid-");
    while (line > out && line[-1] != '\n') line--;
    snprintf(url, sizeof url, "file://%.*s", (int)(strchr(line, '\n') - line), line);
    harness_path(png, sizeof png, "grid.png");
    CHECK(helper_screenshot(url, w, h, png) == 0);
    int pw, ph;
    unsigned char *px = helper_png_rgba(png, &pw, &ph);
    CHECK(px && pw == w);
    /* dark ink (the title is black) in the title's band, rows 6..28 */
    long ink = helper_count_color(px, pw, ph, 0, 6, pw, 28, 0, 0, 0, 90);
    long edge = helper_count_color(px, pw, ph, pw - 12, 6, pw, 28, 0, 0, 0, 90);
    if (edge) fprintf(stderr, "title ink at the right edge: %ld px (width %d)\n", edge, w);
    CHECK(ink > 200);
    CHECK_INT(edge, 0);
    free(px);
    free(svg);
    free(out);
}

/* ---- annealed sweeps ------------------------------------------------------------------ */

/* A trunk (its own constant-rate curve) with branches at budgets E[i]
 * (epochs; 1000 tokens each) ending at y[i]; AR's trunk stopped after its
 * third branch. */
static long long trunk(db *d, long long sw, const char *objective, int n, const double *E, const double *y,
                       int stopped_after)
{
    char train[128], sql[160];
    snprintf(train, sizeof train, ",\"anneal_at\":[1]");
    long long t = add_run(d, sw, objective, 1000, 320, train);
    snprintf(sql, sizeof sql, "UPDATE runs SET role = 'trunk' WHERE id = %lld", t);
    db_exec(d, sql);
    db_metric m[41];
    for (int i = 0; i <= 40; i++) { /* the trunk: no cooldown, a little worse than its branches */
        double e = 8.0 * i, v = !strcmp(objective, "ar") ? 4.6 - 0.5 * fmin(e, 20) / 20 + 0.004 * fmax(0, e - 20)
                                                         : 4.3 - 0.35 * e / 320;
        m[i] = (db_metric){"val_loss", i, (long long)(1000 * e), e, 6e3 * e, v};
    }
    db_ingest_metrics(d, t, m, 41);
    for (int i = 0; i < n; i++) {
        snprintf(train, sizeof train, ",\"branch_of\":\"t%s\"", objective);
        long long b = add_run(d, sw, objective, 1000, E[i], train);
        snprintf(sql, sizeof sql, "UPDATE runs SET role = 'branch', parent_id = %lld WHERE id = %lld", t, b);
        db_exec(d, sql);
        if (stopped_after >= 0 && i > stopped_after) continue;
        db_metric bm = {"val_loss", 10, (long long)(1000 * E[i]), E[i], 6e6 * E[i], y[i]};
        db_ingest_metrics(d, b, &bm, 1);
    }
    if (stopped_after >= 0) {
        db_metric s = {"early_stop", 5, 100, 0.1, 6e5, 50};
        db_ingest_metrics(d, t, &s, 1);
    }
    return t;
}

TEST(plots_annealed_sweep_is_drawn_by_its_annealed_points)
{
    char path[4096], err[512];
    harness_path(path, sizeof path, "annealed.db");
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    CHECK(d);
    long long sw;
    db_sweep_put(d, "ann", "sweep: ann\n", "h", &sw);
    double Ea[] = {10, 20, 40, 80, 160}, ya[] = {4.2, 4.0, 4.1, 4.3, 4.4};
    double Em[] = {10, 20, 40, 80, 160, 320}, ym[] = {4.6, 4.3, 4.05, 3.98, 3.95, 3.90};
    CHECK(trunk(d, sw, "ar", 5, Ea, ya, 2) > 0);
    CHECK(trunk(d, sw, "mdm", 6, Em, ym, -1) > 0);
    db_close(d);
    char *out;
    CHECK_INT(plot(path, "ann", "pa", &out, "--x", "epochs"), 0);
    char *svg = file_with(out, "pair-val_loss");
    CHECK(svg);
    /* the annealed points are what is drawn as the curves that count: 3 AR
     * branches trained (its trunk stopped), 6 MDM; the verdict is theirs
     * (the crossover view's 'annealed' row: between the 40- and 80-epoch
     * budgets) and the trunks' is a second line */
    int squares = 0;
    for (const char *s = svg; (s = strstr(s, "<rect class=\"annealed\"")); s++) squares++;
    CHECK_INT(squares, 9);
    CHECK_CONTAINS(svg, ">annealed: crossover between 40 and 80; final gap +0.100");
    CHECK_CONTAINS(svg, "the trunks in training (faint):");
    /* the trunks' curves are there, faint */
    int faint = 0;
    for (const char *s = svg; (s = strstr(s, "stroke-opacity=\"0.30\"")); s++) faint++;
    CHECK_INT(faint, 2);
    /* the crossover line is at the annealed crossover, 80 epochs */
    double x1 = attr(svg, "<line class=\"crossover\"", "x1");
    CHECK(!isnan(x1));
    /* and the gap panel reads the annealed gap: one point per MDM budget
     * inside the range (all six: AR's trunk holds its best) */
    const char *g = strstr(svg, "<polyline class=\"gap\"");
    CHECK(g);
    int pts = 0;
    for (const char *s = strstr(g, "points=\"") + 8; *s != '"'; s++) pts += *s == ',';
    CHECK_INT(pts, 6);
    free(svg);
    free(out);

    /* The report puts the annealed comparison first, the trunks' after it. */
    char rep[4096], page[4200];
    harness_path(rep, sizeof rep, "annealed-report");
    harness_proc p = XOVER("report", "--db", path, rep);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    snprintf(page, sizeof page, "%s/index.html", rep);
    char *html = harness_slurp(page, NULL);
    CHECK(html);
    char *a = strstr(html, "<h3>Annealed points: the comparison that counts</h3>"), *t = strstr(html, "<h3>In training</h3>");
    CHECK(a && t && a < t);
    free(html);
}

/* --xscale linear: the end of training, where a late crossover is, gets its
 * share of the width (on the default log scale of 12.5k..1M tokens the last
 * quarter of training is an eighth of it). */
TEST(plots_xscale_linear_widens_the_end_of_training)
{
    const char *db = fixture();
    CHECK(db);
    char *out, *lin;
    CHECK_INT(plot(db, "one", "px1", &out, NULL, NULL), 0);
    CHECK_INT(plot(db, "one", "px2", &lin, "--xscale", "linear"), 0);
    char *a = file_with(out, "pair-val_loss"), *b = file_with(lin, "pair-val_loss");
    CHECK(a && b);
    CHECK_CONTAINS(a, "tokens seen (log scale)");
    CHECK(!strstr(b, "(log scale)"));
    /* the x of the last quarter's start (15 epochs of 20, 750k tokens):
     * the crossover (near 14.8 epochs) is drawn there on a linear axis,
     * 64 + 722 * 0.74 px, and much further right on the log one */
    double xl = attr(a, "<line class=\"crossover\"", "x1"), xn = attr(b, "<line class=\"crossover\"", "x1");
    CHECK(!isnan(xl) && !isnan(xn));
    CHECK(fabs(xn - (64 + 722 * 14.8 / 20)) < 15);
    CHECK(xl > xn + 80);
    free(a);
    free(b);
    free(out);
    free(lin);
    harness_proc p = XOVER("plot", "--db", db, "--xscale", "sideways", NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--xscale must be auto, linear or log");
    harness_proc_free(&p);
}

/* an_pair_gaps is what the verdict reads: its last value is the final gap,
 * bit for bit, and around a crossover the gap goes from <= 0 at bracket_lo
 * to > 0 at bracket_hi, then stays above zero (training and annealed). */
static int gaps_agree(const an_pairs *ps)
{
    int checked = 0;
    for (size_t k = 0; k < ps->n; k++) {
        const an_pair *p = &ps->p[k];
        size_t cap = p->ar.n + p->mdm.n + 1;
        double *x = malloc(cap * sizeof *x), *g = malloc(cap * sizeof *g);
        size_t n = an_pair_gaps(p, x, g);
        int ok = n > 0 && g[n - 1] == p->res.final_gap && x[n - 1] == p->res.x_end && x[0] == p->res.x_start;
        if (ok && !isnan(p->res.bracket_lo)) {
            int seen_lo = 0;
            for (size_t i = 0; i < n; i++) {
                if (x[i] == p->res.bracket_lo) seen_lo = 1, ok &= g[i] <= 0;
                if (x[i] >= p->res.bracket_hi) ok &= g[i] > 0;
            }
            ok &= seen_lo;
        }
        free(x);
        free(g);
        if (!ok) return -1;
        checked++;
    }
    return checked;
}

TEST(plots_gap_points_are_what_the_verdict_reads)
{
    const char *path = fixture();
    CHECK(path);
    char err[512];
    db *d = db_open(path, DB_READONLY, err, sizeof err);
    CHECK(d);
    an_pairs ps;
    CHECK(an_pairs_load(d, 0, "val_loss", AN_TOKENS, &ps, err, sizeof err) == 0);
    CHECK_INT(gaps_agree(&ps), 2);
    CHECK_STR(an_verdict_name(ps.p[0].res.verdict), "crossover");
    an_pairs_free(&ps);
    db_close(d);

    char apath[4096];
    harness_path(apath, sizeof apath, "annealed-gaps.db");
    d = db_open(apath, DB_WRITE, err, sizeof err);
    CHECK(d);
    long long sw;
    db_sweep_put(d, "ann", "sweep: ann\n", "h", &sw);
    double Ea[] = {10, 20, 40, 80, 160}, ya[] = {4.2, 4.0, 4.1, 4.3, 4.4};
    double Em[] = {10, 20, 40, 80, 160, 320}, ym[] = {4.6, 4.3, 4.05, 3.98, 3.95, 3.90};
    CHECK(trunk(d, sw, "ar", 5, Ea, ya, 2) > 0);
    CHECK(trunk(d, sw, "mdm", 6, Em, ym, -1) > 0);
    CHECK(an_pairs_load_annealed(d, 0, "val_loss", AN_EPOCHS, &ps, err, sizeof err) == 0);
    CHECK_INT(gaps_agree(&ps), 1);
    CHECK_NEAR(ps.p[0].res.final_gap, 0.1, 1e-12);
    an_pairs_free(&ps);
    db_close(d);
}

/* Two pairs at U = 50k told apart by train.warmup_frac (0.1, 0.3): a
 * grid over warmup_frac has two panels, one over an unknown name none. */
static const char *warmup_fixture(void)
{
    static char path[4096];
    char err[512];
    harness_path(path, sizeof path, "warmup.db");
    db *d = db_open(path, DB_WRITE, err, sizeof err);
    if (!d) { fprintf(stderr, "%s\n", err); return NULL; }
    long long sw;
    db_sweep_put(d, "warmup", "sweep: warmup\n", "hw", &sw);
    for (int k = 0; k < 4; k++) {
        const char *obj = k % 2 ? "mdm" : "ar";
        add_curve(d, add_run(d, sw, obj, 50000, 20, k < 2 ? ",\"warmup_frac\":0.1" : ",\"warmup_frac\":0.3"),
                  obj, 50000);
    }
    db_close(d);
    return path;
}

/* xover plot and xover report take --rows/--cols as xover table takes
 * them: a short name (warmup_frac) as its dotted path. (Before: only the
 * dotted path; warmup_frac read as a field of no pair, one panel, no grid
 * and no word said.) */
TEST(plots_grid_axes_take_the_names_table_takes)
{
    const char *db = warmup_fixture();
    CHECK(db);
    char o[4096], grid[4200];
    const char *const names[] = {"warmup_frac", "train.warmup_frac"};
    for (int k = 0; k < 2; k++) {
        harness_path(o, sizeof o, k ? "pw-dotted" : "pw-short");
        harness_proc p = XOVER("plot", "--db", db, "--rows", names[k], "--cols", "model", "--out", o);
        CHECK_INT(p.status, 0);
        CHECK_CONTAINS(p.out, "grid-val_loss-tokens.svg");
        harness_proc_free(&p);
        snprintf(grid, sizeof grid, "%s/grid-val_loss-tokens.svg", o);
        char *svg = harness_slurp(grid, NULL);
        CHECK(svg);
        CHECK_CONTAINS(svg, ">= 0.1</text>");
        CHECK_CONTAINS(svg, ">= 0.3</text>");
        free(svg);
    }
    /* the report's grid alike, the axes either way round */
    harness_path(o, sizeof o, "rw");
    harness_proc p = XOVER("report", "--db", db, "--rows", "model", "--cols", "warmup_frac", o);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    snprintf(grid, sizeof grid, "%s/plots/grid-val_loss-tokens.svg", o);
    char *svg = harness_slurp(grid, NULL);
    CHECK(svg);
    CHECK_CONTAINS(svg, " = 0.3</text>");
    free(svg);
}

/* A name that is neither an axis nor a field of the run config is refused
 * by plot and report as by table: exit 2, the option, the name, what is
 * accepted and the closest name; nothing written. (Before: exit 0 and a
 * grid of one panel, so none.) */
TEST(plots_grid_axes_refuse_unknown_names)
{
    const char *db = warmup_fixture();
    CHECK(db);
    char o[4096], idx[4200];
    harness_path(o, sizeof o, "bad");
    harness_proc p = XOVER("plot", "--db", db, "--rows", "warmup_frak", "--out", o);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--rows 'warmup_frak': not an axis nor a field of the run config (model, params, "
                          "unique_tokens, quality, epochs");
    CHECK_CONTAINS(p.err, "did you mean 'warmup_frac'?");
    CHECK_STR(p.out, "");
    harness_proc_free(&p);
    /* a dotted path is a field when a pair has it */
    p = XOVER("plot", "--db", db, "--cols", "data.corpsu", "--out", o);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--cols 'data.corpsu': not an axis");
    harness_proc_free(&p);
    p = XOVER("report", "--db", db, "--cols", "colour", o);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--cols 'colour': not an axis nor a field of the run config");
    harness_proc_free(&p);
    p = XOVER("report", "--db", db, "--rows", "train.warmup_frak", o);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--rows 'train.warmup_frak': not an axis");
    harness_proc_free(&p);
    snprintf(idx, sizeof idx, "%s/index.html", o);
    CHECK(access(idx, F_OK) != 0);
}
