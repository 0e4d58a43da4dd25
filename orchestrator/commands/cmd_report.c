/*
 * cmd_report.c — `xover report OUTDIR`: the static HTML report
 * (orchestrator/analysis/report.c).
 */
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/db/db.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define MAX_METRICS 16

/* --watch: Ctrl-C writes the last page and ends the watch. */
static volatile sig_atomic_t g_stop;
static void on_int(int sig) { (void)sig; g_stop = 1; }

/* --rows and --cols as xover table takes them (axis_resolve), into rax
 * and cax. A dotted path the sweep language does not know (an external
 * trainer's field) is checked against the pairs of the first metric, read
 * for that alone when a name has a dot; with --watch they may not be there
 * yet, so it is taken as given. */
static int report_axes(an_report_opts *o, const char *db, int watch, const char *metric, char *rax, char *cax,
                       size_t n)
{
    an_pairs ps = {0};
    const an_pairs *have = NULL;
    if (!watch && (strchr(o->rows, '.') || strchr(o->cols, '.'))) {
        pairs_query q = {.db = db, .sweep = o->sweep, .metric = metric};
        int code = pairs_query_load(&q, o->x, 0, &ps);
        if (code) return code;
        have = &ps;
    }
    int code = axis_resolve("report", have, "--rows", o->rows, rax, n);
    if (!code) code = axis_resolve("report", have, "--cols", o->cols, cax, n);
    an_pairs_free(&ps);
    o->rows = rax, o->cols = cax;
    return code;
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'},   {"sweep", required_argument, 0, 's'},
        {"metric", required_argument, 0, 'm'}, {"x", required_argument, 0, 'x'},
        {"rows", required_argument, 0, 'r'}, {"cols", required_argument, 0, 'c'},
        {"watch", no_argument, 0, 'w'},      {"every", required_argument, 0, 'e'},
        {"xscale", required_argument, 0, 'X'},
        {0, 0, 0, 0}};
    int watch = 0;
    double every = 10;
    const char *opt_db = NULL, *xname = "tokens";
    const char *metrics[MAX_METRICS + 1];
    int nm = 0, c;
    an_report_opts o = {.x = AN_TOKENS, .rows = "unique_tokens", .cols = "model"};
    while ((c = cli_getopt("report", argc, argv, "", opts)) != -1) {
        switch (c) {
        case 'd': opt_db = optarg; break;
        case 's': o.sweep = optarg; break;
        case 'x': xname = optarg; break;
        case 'r': o.rows = optarg; break;
        case 'c': o.cols = optarg; break;
        case 'w': watch = 1; break;
        case 'X':
            if ((o.xscale = an_xscale_parse(optarg)) < 0)
                return cli_usage_error("report", "--xscale must be auto, linear or log, not '%s'", optarg);
            break;
        case 'e':
            if (cli_parse_duration("report", "--every", optarg, 86400, &every)) return XO_USAGE;
            break;
        case 'm':
            if (nm == MAX_METRICS)
                return cli_usage_error("report", "at most %d --metric options", MAX_METRICS);
            if (pairs_query_check_metric(optarg)) return XO_USAGE; /* a signal or an _se */
            metrics[nm++] = optarg;
            break;
        default: return XO_USAGE;
        }
    }
    if (optind >= argc) return cli_usage_error("report", "give the output directory: xover report OUTDIR");
    if (argc - optind > 1) return cli_usage_error("report", "one OUTDIR; '%s' is extra", argv[optind + 1]);
    int x = an_xaxis_parse(xname);
    if (x < 0) return cli_usage_error("report", "--x must be tokens, epochs or flops, not '%s'", xname);
    o.x = (an_xaxis)x;
    metrics[nm] = NULL;
    if (nm) o.metrics = metrics;
    const char *outdir = argv[optind];
    char rax[160], cax[160];
    int code = report_axes(&o, opt_db, watch, nm ? metrics[0] : "val_loss", rax, cax, sizeof rax);
    if (code) return code;

    const char *path = cli_db_path(opt_db);
    o.db_path = path;
    char err[1024];
    if (watch) {
        struct sigaction sa = {0};
        sa.sa_handler = on_int;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        fprintf(stderr, "watching %s: %s/index.html is rewritten as results arrive, until no run is pending or "
                "running (Ctrl-C stops)\n", path, outdir);
        int rc = an_live_watch(path, outdir, &o, every, &g_stop, err, sizeof err);
        if (rc) return cli_error(rc == DB_ENOTFOUND || rc == DB_EINPUT ? XO_USAGE : XO_FAILED, "%s", err);
        printf("%s/index.html (final)\n", outdir);
        return XO_OK;
    }
    db *d = db_open(path, DB_READONLY, err, sizeof err);
    if (!d) return cli_error(XO_USAGE, "%s", err);
    int nplots = 0;
    int rc = an_report(d, outdir, &o, &nplots, err, sizeof err);
    db_close(d);
    if (rc) return cli_error(rc == DB_ENOTFOUND || rc == DB_EINPUT ? XO_USAGE : XO_FAILED, "%s", err);
    pairs_query asked = {.sweep = o.sweep, .metric = nm == 1 ? metrics[0] : NULL};
    if (nplots == 0) pairs_query_say_empty("report", &asked, xname, NULL); /* commands.h: empty results */
    printf("%s/index.html (%d plots)\n", outdir, nplots);
    return XO_OK;
}

const cli_command cmd_report_def = {"report", cmd_report, "a static HTML report: crossover tables, plots, run status, sweep YAML",
     "usage: xover report [--sweep S] [--metric M]... [--x tokens|epochs|flops]\n"
     "                    [--rows AXIS] [--cols AXIS] [--xscale auto|linear|log]\n"
     "                    [--watch [--every DUR]] [--db PATH] OUTDIR\n\n"
     "Write OUTDIR/index.html, one page that opens from disk without a server: the\n"
     "runs' status, for each metric the crossover table, the fit when there are\n"
     "budgets to fit, the grid (when the pairs fill more than one panel) and every\n"
     "pair's plot with its gap panel (inline SVG; also written to OUTDIR/plots/),\n"
     "and the sweep YAML. Every gap shown is the MDM's advantage (AR - MDM where\n"
     "lower is better, MDM - AR where higher is): above 0 the MDM is ahead. A sweep\n"
     "with annealed branches is drawn by its annealed points, the trunks faint.\n"
     "Pairs that differ in more than model, budget, tier and epochs are named by\n"
     "what else varies, as xover crossover names them: a column each in the tables,\n"
     "and in each plot's title (corpus=jargon, lr=0.002).\n"
     "Files are written atomically. `xover run --report OUTDIR` keeps this page\n"
     "current while a sweep runs; --watch does it from another terminal (or for a\n"
     "Slurm sweep, with `xover collect --wait`). With no pair to show, the page says\n"
     "so, as does a note on stderr; exit 0.\n\n"
     "  --metric M   a metric to show (repeatable; default val_loss and mc_acc)\n"
     "  --x epochs   draw and tabulate against epochs (default tokens; or flops)\n"
     "  --xscale S   the plots' x axis: auto (log past a decade and a half), linear, log\n"
     "  --watch      keep the page current: rewrite it when the database changes\n"
     "               (the page reloads itself meanwhile), and end with a last page\n"
     "               once the sweep has no run pending or running, or on Ctrl-C\n"
     "  --every DUR  how often --watch looks (default 10s)\n"
     "  --rows, --cols  the grid's axes (default unique_tokens down, model across):\n"
     "                  model, params, unique_tokens, quality, epochs, or a field of\n"
     "                  the run config as a sweep file names it (corpus, lr or\n"
     "                  train.lr), as for xover table; a name that is neither is\n"
     "                  refused with the closest one\n"
     "  --sweep, --db   as for xover crossover\n"};
