/*
 * cmd_report.c — `xover report OUTDIR`: the static HTML report
 * (orchestrator/analysis/report.c).
 */
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/db/db.h"

#include <stdio.h>

#define MAX_METRICS 16

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'},   {"sweep", required_argument, 0, 's'},
        {"metric", required_argument, 0, 'm'}, {"x", required_argument, 0, 'x'},
        {"rows", required_argument, 0, 'r'}, {"cols", required_argument, 0, 'c'},
        {0, 0, 0, 0}};
    const char *opt_db = NULL, *xname = "tokens";
    const char *metrics[MAX_METRICS + 1];
    int nm = 0, c;
    an_report_opts o = {NULL, NULL, AN_TOKENS, "unique_tokens", "model", NULL};
    while ((c = cli_getopt("report", argc, argv, "", opts)) != -1) {
        switch (c) {
        case 'd': opt_db = optarg; break;
        case 's': o.sweep = optarg; break;
        case 'x': xname = optarg; break;
        case 'r': o.rows = optarg; break;
        case 'c': o.cols = optarg; break;
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

    const char *path = cli_db_path(opt_db);
    o.db_path = path;
    char err[1024];
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
     "                    [--rows AXIS] [--cols AXIS] [--db PATH] OUTDIR\n\n"
     "Write OUTDIR/index.html, one page that opens from disk without a server: the\n"
     "runs' status, for each metric the crossover table, the fit when there are\n"
     "budgets to fit, the grid and every pair's plot (inline SVG; also written to\n"
     "OUTDIR/plots/), and the sweep YAML. Files are written atomically. With no pair\n"
     "to show, the page says so, as does a note on stderr; exit 0.\n\n"
     "  --metric M   a metric to show (repeatable; default val_loss and mc_acc)\n"
     "  --sweep, --x, --rows, --cols, --db   as for xover crossover and xover plot\n"};
