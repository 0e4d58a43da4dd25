/*
 * cmd_export.c — `xover export`: every metric point with its run's axes, as
 * CSV or JSON Lines, for analysis elsewhere (pandas, R, a spreadsheet).
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/db/db.h"
#include "orchestrator/cli/rowfmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Progress on stderr once the export has taken a second: a bar with ETA on
 * a terminal, a line every 5 s otherwise. */
typedef struct {
    rowfmt *f;
    long long done, total;
    double t0, last;
    int shown, tty;
} progress;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void show(progress *p, int final)
{
    double t = now_s(), el = t - p->t0;
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 1.0;
    double eta = frac > 0 ? el / frac - el : 0;
    if (p->tty) {
        int bar = (int)(frac * 30);
        fprintf(stderr, "\rexport [%.*s%*s] %3.0f%% %lld/%lld rows, ETA %.0fs ", bar,
                "##############################", 30 - bar, "", frac * 100, p->done, p->total,
                final ? 0.0 : eta);
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "export: %lld/%lld rows (%.0f%%), %.0fs elapsed, ETA %.0fs\n", p->done,
                p->total, frac * 100, el, final ? 0.0 : eta);
    }
    p->shown = 1;
    p->last = t;
}

static int prog_columns(void *ctx, int n, const char *const *names)
{
    progress *p = ctx;
    return rowfmt_columns(p->f, n, names);
}

static int prog_row(void *ctx, int n, const db_value *v)
{
    progress *p = ctx;
    if (rowfmt_row(p->f, n, v)) return -1;
    if ((++p->done & 0xffff) == 0) {
        double t = now_s();
        if (t - p->t0 > 1.0 && t - p->last > (p->tty ? 0.2 : 5.0)) show(p, 0);
    }
    return 0;
}

/* Write to a temporary file beside `path`, renamed over it only once
 * complete: a failed or interrupted export never leaves half a file. */
static FILE *open_temp(const char *path, char *tmp, size_t n)
{
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return NULL;
    /* mkstemp makes the file 0600; an export gets a new file's usual mode. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
    }
    return f;
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"format", required_argument, 0, 'f'},
                                         {"runs", required_argument, 0, 'r'},
                                         {"output", required_argument, 0, 'o'},
                                         {0, 0, 0, 0}};
    const unsigned formats = (1u << ROWFMT_CSV) | (1u << ROWFMT_JSONL);
    const char *opt_db = NULL, *fmt_name = "csv", *where = NULL, *out_path = NULL;
    int c;
    while ((c = cli_getopt("export", argc, argv, "f:o:", opts)) != -1) {
        if (c == 'd') opt_db = optarg;
        else if (c == 'f') fmt_name = optarg;
        else if (c == 'r') where = optarg;
        else if (c == 'o') out_path = optarg;
        else return XO_USAGE;
    }
    int kind = rowfmt_parse(fmt_name, formats);
    if (kind < 0) return rowfmt_bad_format("export", fmt_name, formats);
    if (optind < argc) return cli_usage_error("export", "unexpected argument '%s'", argv[optind]);
    if (where && !*where) return cli_usage_error("export", "--runs needs a condition");
    if (out_path && !*out_path) return cli_usage_error("export", "-o needs a file name");
    const char *path = cli_db_path(opt_db);

    char err[1024];
    db *d = db_open(path, DB_READONLY, err, sizeof err);
    if (!d) return cli_error(XO_USAGE, "%s", err);

    int code = XO_OK;
    progress p = {.t0 = now_s(), .tty = cli_stderr_is_tty()};
    /* Counting first checks --runs too, before any output file exists. */
    int rc = db_export(d, where, &p.total, NULL);
    char tmp[4200] = "";
    FILE *out = stdout;
    if (rc) {
        code = cli_error(rc == DB_EIO ? XO_FAILED : XO_USAGE, "%s%s", where ? "--runs: " : "",
                         db_errmsg(d));
        goto done;
    }
    if (out_path && !(out = open_temp(out_path, tmp, sizeof tmp))) {
        code = cli_error(XO_FAILED, "cannot write '%s': %s", out_path, strerror(errno));
        goto done;
    }
    p.f = rowfmt_new((rowfmt_kind)kind, out);
    if (!p.f) {
        code = cli_error(XO_FAILED, "out of memory");
        goto done;
    }
    db_sink sink = {prog_columns, prog_row, &p};
    rc = db_export(d, where, NULL, &sink);
    if (rc) {
        code = cli_error(rc == DB_EIO || rc == DB_EABORT ? XO_FAILED : XO_USAGE, "%s%s",
                         where && rc == DB_EINPUT ? "--runs: " : "",
                         rc == DB_EABORT ? "writing the export failed" : db_errmsg(d));
    } else if (rowfmt_finish(p.f) || (out != stdout && fsync(fileno(out)) != 0)) {
        code = cli_error(XO_FAILED, "writing %s failed: %s", out_path ? out_path : "the export",
                         strerror(errno));
    }
    if (p.shown) show(&p, 1);
done:
    rowfmt_free(p.f);
    if (out && out != stdout) {
        if (fclose(out) != 0 && code == XO_OK)
            code = cli_error(XO_FAILED, "writing %s failed: %s", out_path, strerror(errno));
        if (code == XO_OK && rename(tmp, out_path) != 0)
            code = cli_error(XO_FAILED, "cannot write '%s': %s", out_path, strerror(errno));
        if (code != XO_OK) unlink(tmp);
    }
    if (code == XO_OK && out_path)
        fprintf(stderr, "exported %lld rows to %s\n", p.done, out_path);
    db_close(d);
    return code;
}

const cli_command cmd_export_def = {"export", cmd_export, "export metric points with their run's axes as CSV or JSON Lines",
     "usage: xover export [--format csv|jsonl] [--runs WHERE] [--db PATH] [-o FILE]\n\n"
     "Write every metric point (run_id, key, objective, model, params, unique_tokens,\n"
     "quality, epochs, seed, status, name, step, tokens, epoch, flops, value), ordered\n"
     "by run, metric and step.\n\n"
     "  -f, --format F      csv (default) or jsonl (one JSON object per line)\n"
     "  --runs WHERE        only runs matching this SQL condition on the runs table,\n"
     "                      e.g. \"objective = 'mdm' AND status = 'done'\"\n"
     "  --db PATH           the database (default: $XOVER_DB, else ./xover.db)\n"
     "  -o, --output FILE   write FILE (atomically) instead of stdout\n"};
