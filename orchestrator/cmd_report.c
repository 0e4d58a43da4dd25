/* cmd_report.c — placeholder until the SVG writer lands (next commit). */
#include "orchestrator/cli.h"
int cmd_report(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_error(XO_FAILED, "xover report: not built yet");
}
