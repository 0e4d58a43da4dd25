/*
 * test_confidence_drawn.c — the verdicts that abstain, as the pictures say
 * them: `xover plot` and `xover report` of a pair that is inconclusive (its
 * interval named with it) and of pairs that are unfinished (a side's run
 * still running, or still pending), read off the SVG and the HTML.
 * test_confidence.c holds the verdicts themselves to known answers; this
 * file holds what a reader of the plots and the report is told.
 */
#include "tests/harness.h"
#include "tests/helpers.h"
#include "orchestrator/db/db.h"

#include <stdlib.h>
#include <string.h>

/* A run of the cell (model d, U = 1000 tokens, 4 epochs) with this
 * objective, seed and status; its val_loss (and with se val_loss_se) at
 * n of the evaluations at 0, 1000, .. 4000 tokens. */
static int run(db *d, const char *objective, long long seed, const char *status, int n, const double *y,
               const double *se)
{
    char config[512], key[64];
    snprintf(config, sizeof config,
             "{\"data\":{\"quality\":\"all\",\"unique_tokens\":1000},\"model\":{\"name\":\"d\"},"
             "\"objective\":\"%s\",\"seed\":%lld,\"train\":{\"epochs\":4,\"lr\":0.001}}", objective, seed);
    snprintf(key, sizeof key, "%s-%lld", objective, seed);
    db_run_spec s = {.key = key, .config = config, .objective = objective, .model = "d", .params = 1000,
                     .unique_tokens = 1000, .quality = "all", .epochs = 4, .seed = seed};
    long long id = -1;
    if (db_run_put(d, &s, &id)) return -1;
    if (!strcmp(status, "running") && db_run_started(d, id, "h", 1, 0)) return -1;
    if (!strcmp(status, "done") && db_run_finished(d, id, "done", NULL, NULL, 0)) return -1;
    db_metric m[10];
    int k = 0;
    for (int i = 0; i < n; i++) {
        m[k++] = (db_metric){"val_loss", i * 10, 1000LL * i, i, 6e6 * i, y[i]};
        if (se) m[k++] = (db_metric){"val_loss_se", i * 10, 1000LL * i, i, 6e6 * i, se[i]};
    }
    return k ? db_ingest_metrics(d, id, m, (size_t)k) : 0;
}

/* AR at its best (4.0) at 1000 tokens, then overfitting; the MDM falls to
 * 3.9: ahead from between 3000 and 4000, a final gap of +0.100. */
static const double AR[] = {4.5, 4.0, 4.2, 4.4, 4.6}, MDM[] = {5.0, 4.6, 4.3, 4.05, 3.9};

/* `xover plot` of the database into DIR: every SVG it lists, one after the
 * other (NULL on failure); *files how many. */
static char *plotted(const char *path, const char *dir, int *files)
{
    char out[4096];
    harness_path(out, sizeof out, dir);
    const char *argv[] = {harness_xover(), "plot", "--db", path, "--out", out, NULL};
    harness_proc p = harness_run(argv, NULL);
    if (p.status) fprintf(stderr, "plot: %s", p.err);
    char *all = p.status ? NULL : strdup("");
    *files = 0;
    for (char *line = strtok(p.out, "\n"); all && line; line = strtok(NULL, "\n")) {
        char *svg = harness_slurp(line, NULL), *t = svg ? realloc(all, strlen(all) + strlen(svg) + 1) : NULL;
        if (t) strcat(all = t, svg), (*files)++;
        free(svg);
    }
    harness_proc_free(&p);
    return all;
}

/* `xover report` of the database into DIR: its index.html (NULL on failure). */
static char *reported(const char *path, const char *dir)
{
    char out[4096], page[4200];
    harness_path(out, sizeof out, dir);
    const char *argv[] = {harness_xover(), "report", "--db", path, out, NULL};
    harness_proc p = harness_run(argv, NULL);
    if (p.status) fprintf(stderr, "report: %s", p.err);
    int st = p.status;
    harness_proc_free(&p);
    snprintf(page, sizeof page, "%s/index.html", out);
    return st ? NULL : harness_slurp(page, NULL);
}

/* The text of the first <text class="verdict"> element (malloc'd; NULL
 * when there is none). */
static char *verdict_of(const char *svg)
{
    const char *v = strstr(svg, "<text class=\"verdict\"");
    const char *open = v ? strchr(v, '>') : NULL, *close = open ? strstr(open, "</text>") : NULL;
    return close ? strndup(open + 1, (size_t)(close - open - 1)) : NULL;
}

/* The crossover view has one pair, of this verdict (the plots and the
 * report read the loader; the view is the definition they agree with). */
static int view_says(const char *path, const char *verdict)
{
    const char *argv[] = {harness_xover(), "sql", "SELECT verdict FROM crossover WHERE mode = 'training' AND "
                          "x_axis = 'tokens'", "--format", "csv", "--db", path, NULL};
    harness_proc p = harness_run(argv, NULL);
    char want[64];
    snprintf(want, sizeof want, "verdict\n%s\n", verdict);
    int ok = p.status == 0 && !strcmp(p.out, want);
    if (!ok) fprintf(stderr, "the view: status %d, %s%s", p.status, p.out, p.err);
    harness_proc_free(&p);
    return ok;
}

/* One seed whose evaluation error is large: AR's se 0.01, the MDM's 0.06,
 * so the final gap's se is hypot(0.01, 0.06) = 0.060828 and its interval
 * 0.1 +- 1.959964 * 0.060828 = [-0.0192, +0.2192]: it holds 0. */
TEST(confidence_drawn_inconclusive_names_its_interval)
{
    char path[4096];
    db *d = helper_open_db("inconclusive.db", path, sizeof path);
    CHECK(d);
    const double ase[] = {0.01, 0.01, 0.01, 0.01, 0.01}, mse[] = {0.06, 0.06, 0.06, 0.06, 0.06};
    CHECK_INT(run(d, "ar", 0, "done", 5, AR, ase), 0);
    CHECK_INT(run(d, "mdm", 0, "done", 5, MDM, mse), 0);
    db_close(d);
    CHECK(view_says(path, "inconclusive"));

    int files;
    char *svg = plotted(path, "inconclusive-plots", &files), *v = svg ? verdict_of(svg) : NULL;
    CHECK(svg && files >= 1);
    CHECK(v != NULL);
    CHECK_STR(v, "inconclusive; final gap +0.100 [-0.019, +0.219] (eval error, 1 seed)");
    CHECK(!strstr(svg, "crossover between")); /* not drawn as a crossover */
    free(v);
    free(svg);

    char *html = reported(path, "inconclusive-report");
    CHECK(html);
    CHECK_CONTAINS(html, "<tr class=\"inconclusive\">");
    CHECK_CONTAINS(html, "<td class=\"v\">inconclusive</td>");
    CHECK_CONTAINS(html, "+0.1000 [-0.0192, +0.2192] (eval error, 1 seed)");
    CHECK_CONTAINS(html, ">inconclusive; final gap +0.100 [-0.019, +0.219] (eval error, 1 seed)</text>");
    free(html);
}

/* A side still to train: the MDM running (three evaluations in, 0.3 behind
 * AR's best), or a second seed's MDM pending with no point at all beside a
 * first seed that crossed. Either way the pair is unfinished, not 'none'
 * (as a run half trained used to read) nor 'crossover'. */
TEST(confidence_drawn_unfinished_while_a_side_is_still_to_train)
{
    static const char *const how[] = {"running", "pending"};
    static const char *const gap[] = {"final gap -0.300", "final gap +0.100"};
    for (int c = 0; c < 2; c++) {
        char path[4096], name[64];
        snprintf(name, sizeof name, "unfinished-%s.db", how[c]);
        db *d = helper_open_db(name, path, sizeof path);
        CHECK(d);
        if (c == 0) {
            CHECK_INT(run(d, "ar", 0, "done", 5, AR, NULL), 0);
            CHECK_INT(run(d, "mdm", 0, "running", 3, MDM, NULL), 0);
        } else {
            for (int s = 0; s < 2; s++) CHECK_INT(run(d, "ar", s, "done", 5, AR, NULL), 0);
            CHECK_INT(run(d, "mdm", 0, "done", 5, MDM, NULL), 0);
            CHECK_INT(run(d, "mdm", 1, "pending", 0, NULL, NULL), 0);
        }
        db_close(d);
        CHECK(view_says(path, "unfinished"));

        char dir[64], want[128];
        snprintf(want, sizeof want, "unfinished: a run is still to train; %s", gap[c]);
        snprintf(dir, sizeof dir, "unfinished-%s-plots", how[c]);
        int files;
        char *svg = plotted(path, dir, &files), *v = svg ? verdict_of(svg) : NULL;
        CHECK(svg && files >= 1);
        CHECK(v != NULL);
        CHECK_STR(v, want);
        free(v);
        free(svg);

        snprintf(dir, sizeof dir, "unfinished-%s-report", how[c]);
        char *html = reported(path, dir);
        CHECK(html);
        CHECK_CONTAINS(html, "<tr class=\"unfinished\">");
        CHECK_CONTAINS(html, "<td class=\"v\">unfinished</td>");
        CHECK_CONTAINS(html, want);
        CHECK(!strstr(html, "<td class=\"v\">none within the budget</td>"));
        CHECK(!strstr(html, "<td class=\"v\">crossover</td>"));
        free(html);
    }
}
