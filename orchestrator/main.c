/*
 * main.c — `xover <command> [options]`: find the command, honour --help and
 * --version, suggest the nearest command for a typo, and hand over.
 */
#include "orchestrator/commands/commands.h"

#include <stdio.h>
#include <string.h>


static int wants_help(int argc, char **argv)
{
    /* `--help` anywhere before a `--` asks for the command's help text. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) return 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        char *help_argv[] = {"help", NULL};
        cmd_help_def.fn(1, help_argv);
        return XO_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) name = "help";
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) name = "version";

    const cli_command *c = cli_find(name);
    if (!c) {
        const char *names[64];
        size_t n = 0;
        for (const cli_command *const *k = cli_commands; *k && n < 63; k++) names[n++] = (*k)->name;
        names[n] = NULL;
        const char *hint = name[0] == '-' ? NULL : cli_did_you_mean(name, names);
        if (name[0] == '-')
            fprintf(stderr, "xover: unknown option '%s' (options follow the command)\n", name);
        else
            fprintf(stderr, "xover: '%s' is not an xover command", name);
        if (hint) fprintf(stderr, "; did you mean '%s'?", hint);
        fputc('\n', stderr);
        fprintf(stderr, "Try 'xover --help'.\n");
        return XO_USAGE;
    }
    if (c != &cmd_help_def && wants_help(argc - 1, argv + 1)) {
        cli_print_help(c);
        return XO_OK;
    }
    cli_reset_getopt();
    return c->fn(argc - 1, argv + 1);
}
