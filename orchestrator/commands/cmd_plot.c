/*
 * cmd_plot.c — `xover plot`: SVG files, one per AR/MDM pair and one grid of
 * small multiples, drawn by xover's own writer (orchestrator/analysis/svg.c).
 */
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/cli/cli.h"
#include "orchestrator/util/util.h"
#include "orchestrator/db/db.h"
#include "orchestrator/commands/commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int write_svg(const char *dir, const char *name, char *svg)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!svg) return cli_error(XO_FAILED, "out of memory drawing %s", name);
    int rc = xo_write_atomic(path, svg, strlen(svg));
    free(svg);
    if (rc) return cli_error(XO_FAILED, "cannot write '%s': %s", path, strerror(errno));
    printf("%s\n", path);
    return XO_OK;
}

int cmd_plot(int argc, char **argv)
{
    static const struct option opts[] = {
        PAIRS_QUERY_OPTIONS,
        {"rows", required_argument, 0, 'r'}, {"cols", required_argument, 0, 'c'},
        {"out", required_argument, 0, 'o'},  {"xscale", required_argument, 0, 'X'}, {0, 0, 0, 0}};
    int xscale = AN_XSCALE_AUTO;
    pairs_query q = PAIRS_QUERY_INIT;
    const char *rows = "unique_tokens", *cols = "model", *out = "plots";
    int c;
    while ((c = cli_getopt("plot", argc, argv, "o:", opts)) != -1) {
        if (pairs_query_option(&q, c, optarg)) continue;
        switch (c) {
        case 'r': rows = optarg; break;
        case 'c': cols = optarg; break;
        case 'o': out = optarg; break;
        case 'X':
            if ((xscale = an_xscale_parse(optarg)) < 0)
                return cli_usage_error("plot", "--xscale must be auto, linear or log, not '%s'", optarg);
            break;
        default: return XO_USAGE;
        }
    }
    if (optind < argc) return cli_usage_error("plot", "unexpected argument '%s'", argv[optind]);
    const char *xname = q.x ? q.x : "tokens", *metric = q.metric;
    int x = an_xaxis_parse(xname);
    if (x < 0) return cli_usage_error("plot", "--x must be tokens, epochs or flops, not '%s'", xname);

    an_pairs ps;
    int code = pairs_query_load(&q, (an_xaxis)x, 0, &ps);
    if (code) return code;
    /* the grid's axes as xover table takes them: corpus, lr, train.lr */
    char rax[160], cax[160];
    if ((code = axis_resolve("plot", &ps, "--rows", rows, rax, sizeof rax)) ||
        (code = axis_resolve("plot", &ps, "--cols", cols, cax, sizeof cax))) {
        an_pairs_free(&ps);
        return code;
    }
    if (ps.n == 0) {
        an_pairs_free(&ps);
        return pairs_query_say_empty("plot", &q, xname, NULL), XO_OK; /* commands.h: empty results */
    }
    if (mkdir(out, 0755) && errno != EEXIST) {
        an_pairs_free(&ps);
        return cli_error(XO_FAILED, "cannot create '%s': %s", out, strerror(errno));
    }
    /* A trunk pair's annealed pair (an annealed sweep's branches): its
     * points are then the curves that count, as in the crossover view's
     * 'annealed' rows; --annealed plots the annealed pairs alone. */
    an_pairs ann = {0};
    if (!q.annealed) {
        pairs_query qa = q;
        qa.annealed = 1;
        if ((code = pairs_query_load(&qa, (an_xaxis)x, 0, &ann))) {
            an_pairs_free(&ps);
            return code;
        }
    }
    const an_pair **pp = malloc((ps.n + 1) * sizeof *pp), **pa = malloc((ps.n + 1) * sizeof *pa);
    an_varied v = {0}; /* what tells the pairs apart, in their titles */
    if (!pp || !pa || an_varied_find(&ps, &v)) code = cli_error(XO_FAILED, "out of memory");
    char name[512];
    for (size_t i = 0; code == XO_OK && i < ps.n; i++) {
        pp[i] = &ps.p[i];
        pa[i] = an_annealed_match(&ann, &ps.p[i]);
        an_pair_filename(&ps.p[i], name, sizeof name);
        code = write_svg(out, name, an_svg_pair_annealed(&ps.p[i], pa[i], &v, xscale));
    }
    /* The grid, unless it would be one panel: the pair's own plot again. */
    if (code == XO_OK && an_grid_panels(pp, ps.n, rax, cax) > 1) {
        char title[256];
        size_t dropped = 0;
        snprintf(title, sizeof title, "%s against %s: AR vs MDM, %s down, %s across", metric,
                 xname, rows, cols);
        snprintf(name, sizeof name, "grid-%s-%s.svg", metric, xname);
        for (char *s = name; *s; s++)
            if (*s == '/') *s = '_';
        code = write_svg(out, name, an_svg_grid(pp, pa, ps.n, rax, cax, title, &v, xscale, &dropped));
        if (dropped)
            cli_warn("%zu pair(s) share a grid panel with another (an axis other than %s and %s "
                     "varies); each still has its own plot", dropped, rows, cols);
    }
    an_varied_free(&v);
    free(pa);
    an_pairs_free(&ann);
    free(pp);
    an_pairs_free(&ps);
    return code;
}

const cli_command cmd_plot_def = {"plot", cmd_plot, "SVG plots: each pair's curves with the crossover, and a grid of them",
     "usage: xover plot [--sweep S] [--metric M] [--x tokens|epochs|flops] [--rows AXIS]\n"
     "                  [--cols AXIS] [--xscale auto|linear|log] [--out DIR] [--db PATH]\n\n"
     "Write one SVG per AR/MDM pair (the metric against x for both objectives, seed sd\n"
     "as a band, best-so-far dashed, AR's best and the crossover marked; below it the\n"
     "gap the verdict reads, around zero) and one grid of small multiples\n"
     "(grid-METRIC-X.svg) with rows and columns over two axes, when the pairs fill\n"
     "more than one panel. A sweep with annealed branches (train.anneal_at) is drawn\n"
     "by its annealed points, one per budget, the trunks' curves faint behind them.\n"
     "A title names its pair by model, budget, tier and epochs, and by any other\n"
     "field that varies among the pairs plotted (corpus=jargon, lr=0.002).\n"
     "The x axis is logarithmic when it spans more than a decade and a half (--xscale\n"
     "linear: the end of training, where a late crossover is, gets its share of the\n"
     "width); --x epochs draws against epochs. Prints the files written; with no pair\n"
     "to show, none, a note on stderr and exit 0.\n\n"
     "  --out DIR       where to write (default plots), created if missing\n"
     "  --rows, --cols  the grid's axes (default unique_tokens down, model across):\n"
     "                  model, params, unique_tokens, quality, epochs, or a field of\n"
     "                  the run config as a sweep file names it (corpus, lr or\n"
     "                  train.lr), as for xover table; a name that is neither is\n"
     "                  refused with the closest one\n"
     "  --xscale S      auto (default), linear or log\n"
     "  --annealed      plot the annealed points of trunks' branches (one per budget)\n"
     "  --metric, --x, --sweep, --db   as for xover crossover\n"};
