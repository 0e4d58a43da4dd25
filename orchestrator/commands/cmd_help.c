/*
 * cmd_help.c — `xover help [COMMAND]`: the command list, or one command's
 * full help text.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"

#include <stdio.h>
#include <string.h>

int cmd_help(int argc, char **argv)
{
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
    for (const cli_command *const *c = cli_commands; *c; c++)
        printf("  %-10s %s\n", (*c)->name, (*c)->summary);
    printf("\n'xover help COMMAND' or 'xover COMMAND --help' shows a command's options.\n"
           "The database is ./xover.db unless --db PATH or $XOVER_DB says otherwise.\n"
           "Exit codes: 0 success, 1 a run or job failed, 2 bad usage or bad input.\n");
    return XO_OK;
}

const cli_command cmd_help_def = {"help", cmd_help, "show the commands, or one command's options",
     "usage: xover help [COMMAND]\n\n"
     "Without COMMAND, list xover's commands. With it, show that command's options.\n"};
