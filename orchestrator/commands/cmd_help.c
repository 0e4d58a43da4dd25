/*
 * cmd_help.c — `xover help [COMMAND]`: the command list, or one command's
 * full help text; and, made from the same table so they cannot drift from
 * it, the manual page (`--man`, what `make install` installs) and the bare
 * list of commands (`--commands`, what the bash completion reads).
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/util/util.h"

#include <stdio.h>
#include <string.h>

/* Text for roff: a leading '.' or '\'' would be a request, '\' an escape,
 * '-' a hyphen rather than the minus that options are typed with. */
static void roff_text(const char *s)
{
    int bol = 1;
    for (; *s; s++) {
        if (bol && (*s == '.' || *s == '\'')) fputs("\\&", stdout);
        if (*s == '\\') fputs("\\e", stdout);
        else if (*s == '-') fputs("\\-", stdout);
        else putchar(*s);
        bol = *s == '\n';
    }
}

/* The manual page: the overview, then every command's help text as it
 * prints, in a no-fill block. */
static void print_man(void)
{
    printf(".TH XOVER 1 \"\" \"xover %s\" \"User Commands\"\n", XOVER_VERSION);
    printf(".SH NAME\nxover \\- sweeps that find where masked-diffusion language models overtake "
           "autoregressive ones\n");
    printf(".SH SYNOPSIS\n.B xover\n.I command\n[\\fIoptions\\fR]\n");
    printf(".SH DESCRIPTION\n");
    roff_text("xover plans sweeps (model size x unique-token budget x data quality x epochs x objective x "
              "seed), trains every run on one shared transformer under the autoregressive (ar) or masked "
              "diffusion (mdm) objective, records every metric in a SQLite database and finds the "
              "crossover: the point where the masked-diffusion model overtakes the autoregressive one.\n");
    printf(".SH COMMANDS\n");
    for (const cli_command *const *c = cli_commands; *c; c++) {
        printf(".TP\n.B %s\n", (*c)->name);
        roff_text((*c)->summary);
        printf("\n");
    }
    for (const cli_command *const *c = cli_commands; *c; c++) {
        printf(".SS xover %s\n.nf\n", (*c)->name);
        roff_text((*c)->usage);
        if ((*c)->usage[0] && (*c)->usage[strlen((*c)->usage) - 1] != '\n') putchar('\n');
        printf(".fi\n");
    }
    printf(".SH EXIT STATUS\n0 success; 1 a run, job or check failed; 2 bad usage or bad input (nothing was "
           "changed); 130 interrupted.\n");
    printf(".SH ENVIRONMENT\n.TP\n.B XOVER_DB\nthe results database when no \\-\\-db is given (default "
           "./xover.db)\n.TP\n.B XOVER_CACHE\nthe tokenizer and token cache (default ./.cache/xover)\n");
    printf(".SH FILES\n.TP\n.B xover.db\nthe results database (SQLite; its contract is schema.sql, "
           "compiled in)\n.TP\n.B runs/SWEEP/KEY/\na run's directory: config.json, metrics.jsonl, "
           "checkpoint, log, status\n");
    printf(".SH SEE ALSO\n.BR sqlite3 (1);\nthe README and docs/ of the xover source tree.\n");
}

int cmd_help(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--man")) {
        print_man();
        return XO_OK;
    }
    if (argc >= 2 && !strcmp(argv[1], "--commands")) {
        for (const cli_command *const *c = cli_commands; *c; c++) printf("%s\n", (*c)->name);
        return XO_OK;
    }
    if (argc >= 2) {
        const cli_command *c = cli_find(argv[1]);
        if (!c) {
            const char *names[64];
            size_t n = 0;
            for (const cli_command *const *k = cli_commands; *k && n < 63; k++) names[n++] = (*k)->name;
            names[n] = NULL;
            const char *hint = cli_did_you_mean(argv[1], names);
            fprintf(stderr, "xover help: no command '%s'", argv[1]);
            if (hint) fprintf(stderr, "; did you mean '%s'?", hint);
            fputc('\n', stderr);
            return XO_USAGE;
        }
        cli_print_help(c);
        return XO_OK;
    }
    printf("usage: xover <command> [options]\n\n"
           "xover finds where masked-diffusion language models overtake autoregressive\n"
           "ones when unique data is scarce: it plans sweeps, trains every run on one\n"
           "shared transformer, records every metric in SQLite and finds the crossover.\n\n"
           "Commands:\n");
    int w = 0;
    for (const cli_command *const *c = cli_commands; *c; c++)
        if ((int)strlen((*c)->name) > w) w = (int)strlen((*c)->name);
    for (const cli_command *const *c = cli_commands; *c; c++) printf("  %-*s %s\n", w, (*c)->name, (*c)->summary);
    printf("\n'xover help COMMAND' or 'xover COMMAND --help' shows a command's options.\n"
           "The database is ./xover.db unless --db PATH or $XOVER_DB says otherwise.\n"
           "Exit codes: 0 success, 1 a run or job failed, 2 bad usage or bad input.\n");
    return XO_OK;
}

const cli_command cmd_help_def = {"help", cmd_help, "show the commands, or one command's options",
     "usage: xover help [COMMAND]\n"
     "       xover help --man | --commands\n\n"
     "Without COMMAND, list xover's commands. With it, show that command's options.\n"
     "--man prints the manual page (roff; `make install` installs it as xover(1)),\n"
     "--commands the command names alone, one a line (for shell completion).\n"};
