/*
 * commands.c — the table of xover's commands: one line each, in the order
 * `xover --help` lists them. Each command lives in orchestrator/cmd_NAME.c.
 */
#include "orchestrator/cli.h"

int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);

const cli_command cli_commands[] = {
    {"help", cmd_help, "show the commands, or one command's options",
     "usage: xover help [COMMAND]\n\n"
     "Without COMMAND, list xover's commands. With it, show that command's options.\n"},
    {"version", cmd_version, "show the version, build commit and linked library versions",
     "usage: xover version   (or xover --version)\n\n"
     "Print xover's version and build commit, and the versions of SQLite, libyaml,\n"
     "PCRE2 and OpenBLAS actually linked into this binary.\n"},
    {0, 0, 0, 0},
};
