/*
 * cmd_run.c — `xover run SWEEP.yaml`: plan the sweep and run what is not
 * done yet on worker processes (orchestrator/exec/driver.c).
 */
#include "orchestrator/cli.h"
#include "orchestrator/exec/exec.h"
#include "orchestrator/sweep/sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double parse_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v <= 0) return -1;
    double mult = 1;
    switch (*end) {
    case 0: break;
    case 's': end++; break;
    case 'm': mult = 60; end++; break;
    case 'h': mult = 3600; end++; break;
    case 'd': mult = 86400; end++; break;
    default: return -1;
    }
    return *end ? -1 : v * mult;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!buf) return NULL;
    buf[got] = 0;
    *len = got;
    return buf;
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"jobs", required_argument, 0, 'j'},     {"retry-failed", no_argument, 0, 'r'},
        {"timeout", required_argument, 0, 't'},  {"only", required_argument, 0, 'o'},
        {"dry-run", no_argument, 0, 'n'},        {"runs-dir", required_argument, 0, 'R'},
        {"db", required_argument, 0, 'd'},       {0, 0, 0, 0}};
    exec_options o = {0};
    const char *dbopt = NULL;
    char **only = calloc((size_t)argc + 1, sizeof *only);
    if (!only) return cli_error(XO_FAILED, "out of memory");
    size_t nonly = 0;
    int c, rc = XO_OK;
    while ((c = cli_getopt("run", argc, argv, "j:rt:o:nR:d:", opts)) != -1) {
        long long v;
        switch (c) {
        case 'j':
            if (cli_parse_long("run", "-j", optarg, &v) || v < 1 || v > 4096) {
                free(only);
                return cli_usage_error("run", "-j expects a number of workers from 1 to 4096, not '%s'", optarg);
            }
            o.jobs = (int)v;
            break;
        case 'r': o.retry_failed = 1; break;
        case 't':
            o.timeout = parse_duration(optarg);
            if (o.timeout <= 0) {
                free(only);
                return cli_usage_error("run", "--timeout expects a duration like 90s, 30m or 2h, not '%s'", optarg);
            }
            break;
        case 'o':
            /* --only a,b and --only a --only b; keys are hex prefixes */
            for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
                if (strspn(tok, "0123456789abcdef") != strlen(tok) || !*tok || strlen(tok) > 64) {
                    free(only);
                    return cli_usage_error("run", "--only expects run keys (hex prefixes), not '%s'", tok);
                }
                only[nonly++] = tok;
            }
            break;
        case 'n': o.dry_run = 1; break;
        case 'R': o.runs_dir = optarg; break;
        case 'd': dbopt = optarg; break;
        default: free(only); return XO_USAGE;
        }
    }
    /* Keys may also follow --only as plain arguments after the sweep. */
    if (optind >= argc) {
        free(only);
        return cli_usage_error("run", "expected a sweep file");
    }
    const char *path = argv[optind++];
    for (; optind < argc; optind++) {
        if (!nonly) {
            free(only);
            return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
        }
        if (strspn(argv[optind], "0123456789abcdef") != strlen(argv[optind])) {
            free(only);
            return cli_usage_error("run", "--only expects run keys (hex prefixes), not '%s'", argv[optind]);
        }
        only[nonly++] = argv[optind];
    }
    o.only = (const char *const *)only;
    o.nonly = nonly;
    o.db_path = cli_db_path(dbopt);

    char err[1024];
    sweep *s = sweep_load(path, err, sizeof err);
    if (!s) {
        free(only);
        return cli_error(XO_USAGE, "%s", err);
    }
    sweep_plan *p = sweep_expand(s, 0, err, sizeof err);
    if (!p) {
        rc = cli_error(XO_USAGE, "%s", err);
    } else {
        o.yaml_text = slurp(path, &o.yaml_len);
        rc = exec_run(p, &o);
        free((char *)o.yaml_text);
    }
    sweep_plan_free(p);
    sweep_free(s);
    free(only);
    return rc;
}
