/*
 * cli.h — the contract between `xover`'s dispatcher, its commands and the
 * small helpers every command shares (errors, options, the database path).
 *
 * Every command is a function `int cmd_NAME(int argc, char **argv)` in its own
 * file orchestrator/commands/cmd_NAME.c, which also defines its entry of the
 * command table (name, one-line summary, full help text) beside its options. argv[0] is the command's name.
 * A command returns one of the exit codes below and never calls exit().
 */
#ifndef XOVER_CLI_H
#define XOVER_CLI_H

#include <getopt.h>
#include <stddef.h>

/* Exit codes, the same for every command. */
enum {
    XO_OK = 0,       /* success */
    XO_FAILED = 1,   /* a run, job or check failed */
    XO_USAGE = 2,    /* bad usage or bad input; nothing was changed */
    XO_INTERRUPTED = 130
};

typedef int (*cli_fn)(int argc, char **argv);

typedef struct {
    const char *name;
    cli_fn fn;
    const char *summary; /* one line for `xover --help` */
    const char *usage;   /* full text for `xover help NAME` / `NAME --help` */
} cli_command;

/* The command table (commands/commands.c), in `xover --help` order, ended
 * by NULL. Each command defines its entry beside its options, in its own
 * commands/cmd_NAME.c, as `const cli_command cmd_NAME_def`. */
extern const cli_command *const cli_commands[];

const cli_command *cli_find(const char *name);
void cli_print_help(const cli_command *c);

/* Print "xover: error: ..." to stderr. Returns XO_USAGE or XO_FAILED as
 * given, so a command can `return cli_error(XO_USAGE, "...")`. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "xover: warning: ..." to stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error for command `cmd`: the message, then "Try 'xover help cmd'".
 * Returns XO_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* getopt_long with the house's manners: an unknown option or a missing
 * argument prints a clear message (with "did you mean --x?" where a known
 * option is close) and returns '?'; the caller then returns XO_USAGE.
 * Call with the same arguments as getopt_long; `cmd` names the command.
 * Before the first call for an argv, set optind = 1 (cli_reset_getopt). */
int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts);
void cli_reset_getopt(void);

/* The closest candidate to `word` by edit distance, or NULL when none is
 * close enough to be a plausible typo. `cands` ends with NULL. */
const char *cli_did_you_mean(const char *word, const char *const *cands);
size_t cli_edit_distance(const char *a, const char *b);

/* Resolve the database path: the --db value if given, else $XOVER_DB, else
 * "xover.db" in the current directory. */
const char *cli_db_path(const char *opt_db);

/* Parse a non-negative integer option value ("8", "25k", "1.5M" are accepted
 * where suffixes make sense). Returns 0 on success, -1 with a message printed
 * naming the option on failure. */
int cli_parse_long(const char *cmd, const char *opt, const char *s, long long *out);

/* Parse a duration option value: a positive decimal number of seconds, or
 * with a unit: 90s, 30m, 2h, 1.5d. Anything else (nan, inf, 1e999, hex, a
 * negative or zero value) and anything above max_seconds is refused with a
 * usage message naming the option: returns 0 and *out, or XO_USAGE. */
int cli_parse_duration(const char *cmd, const char *opt, const char *s, double max_seconds, double *out);

/* Whether stdout / stderr is a terminal (progress bars only on a TTY). */
int cli_stderr_is_tty(void);

#endif
