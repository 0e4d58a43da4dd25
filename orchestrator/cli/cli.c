/*
 * cli.c — helpers every command shares: error messages, option parsing with
 * "did you mean", the command table lookup and the database path rule.
 */
#include "orchestrator/cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const cli_command *cli_find(const char *name)
{
    for (const cli_command *const *c = cli_commands; *c; c++)
        if (strcmp((*c)->name, name) == 0) return *c;
    return NULL;
}

void cli_print_help(const cli_command *c)
{
    fputs(c->usage, stdout);
    if (c->usage[0] && c->usage[strlen(c->usage) - 1] != '\n') fputc('\n', stdout);
}

static void vmessage(const char *kind, const char *fmt, va_list ap)
{
    fprintf(stderr, "xover: %s: ", kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage("error", fmt, ap);
    va_end(ap);
    return code;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage("warning", fmt, ap);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage("error", fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'xover help %s'.\n", cmd);
    return XO_USAGE;
}

size_t cli_edit_distance(const char *a, const char *b)
{
    /* Levenshtein distance with adjacent transpositions counted as one edit
     * (optimal string alignment): "d46" is one slip from "d64", as
     * "fromat" is from "format". Three rolling rows; names are short. */
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return (size_t)-1;
    size_t r0[65], r1[65], r2[65], *pp = r0, *prev = r1, *row = r2;
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best) best = prev[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            row[j] = best;
        }
        size_t *t = pp;
        pp = prev, prev = row, row = t;
    }
    return prev[lb];
}

const char *cli_did_you_mean(const char *word, const char *const *cands)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (; *cands; cands++) {
        size_t d = cli_edit_distance(word, *cands);
        /* A prefix is a strong hint too ("--form" for "--format"). */
        if (strlen(word) >= 3 && strncmp(*cands, word, strlen(word)) == 0) d = 1;
        if (d < best_d) { best_d = d; best = *cands; }
    }
    size_t len = strlen(word);
    size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    return best && best_d <= limit ? best : NULL;
}

void cli_reset_getopt(void)
{
    optind = 1;
    opterr = 0;
}

int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
    opterr = 0;
    int longidx = -1;
    /* A leading ':' makes getopt report a missing argument as ':'. */
    char so[64];
    snprintf(so, sizeof so, ":%s", shortopts);
    int c = getopt_long(argc, argv, so, longopts, &longidx);
    if (c != '?' && c != ':') return c;

    const char *arg = argv[optind - 1];
    if (c == ':') {
        fprintf(stderr, "xover %s: option '%s' needs a value\n", cmd, arg);
    } else if (arg && arg[0] == '-' && arg[1] == '-') {
        char name[128];
        snprintf(name, sizeof name, "%s", arg + 2);
        char *eq = strchr(name, '=');
        if (eq) *eq = 0;
        const char *cands[128];
        size_t n = 0;
        for (const struct option *o = longopts; o && o->name && n < 127; o++) cands[n++] = o->name;
        cands[n] = NULL;
        const char *hint = cli_did_you_mean(name, cands);
        /* getopt also lands here for an ambiguous prefix. */
        fprintf(stderr, "xover %s: unknown option '--%s'", cmd, name);
        if (hint) fprintf(stderr, "; did you mean '--%s'?", hint);
        fputc('\n', stderr);
    } else {
        fprintf(stderr, "xover %s: unknown option '-%c'\n", cmd, optopt ? optopt : '?');
    }
    fprintf(stderr, "Try 'xover help %s'.\n", cmd);
    return '?';
}

const char *cli_db_path(const char *opt_db)
{
    if (opt_db && *opt_db) return opt_db;
    const char *env = getenv("XOVER_DB");
    if (env && *env) return env;
    return "xover.db";
}

int cli_parse_long(const char *cmd, const char *opt, const char *s, long long *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double mult = 1;
    if (end != s && *end) {
        switch (*end) {
        case 'k': case 'K': mult = 1e3; end++; break;
        case 'M': mult = 1e6; end++; break;
        case 'G': case 'B': mult = 1e9; end++; break;
        default: break;
        }
    }
    v *= mult;
    /* NaN compares false with everything: test it before converting. */
    if (end == s || *end || errno || isnan(v) || v < 0 || v > 9.0e18 || v != (double)(long long)v) {
        fprintf(stderr, "xover %s: %s expects a non-negative whole number, not '%s'\n", cmd, opt, s);
        return -1;
    }
    *out = (long long)v;
    return 0;
}

int cli_parse_duration(const char *cmd, const char *opt, const char *s, double max_seconds, double *out)
{
    /* Digits and one '.', then a unit: strtod alone would also take nan,
     * inf, hex and exponents (1e999 is inf, which Slurm then got as
     * --time=-9223372036854775808). */
    size_t digits = strspn(s, "0123456789."), dots = 0;
    for (size_t i = 0; i < digits; i++) dots += s[i] == '.';
    double mult = 1;
    const char *unit = s + digits;
    switch (*unit) {
    case 0: break;
    case 's': mult = 1; unit++; break;
    case 'm': mult = 60; unit++; break;
    case 'h': mult = 3600; unit++; break;
    case 'd': mult = 86400; unit++; break;
    default: unit = NULL; break;
    }
    double v = digits > dots && dots <= 1 && unit && !*unit ? strtod(s, NULL) * mult : -1;
    if (!(v > 0)) return cli_usage_error(cmd, "%s expects a duration like 90s, 30m or 2h, not '%s'", opt, s);
    if (v > max_seconds)
        return cli_usage_error(cmd, "%s: '%s' is longer than the most allowed, %.0fs (%.4gd)", opt, s, max_seconds,
                               max_seconds / 86400);
    *out = v;
    return 0;
}

int cli_stderr_is_tty(void) { return isatty(2); }
