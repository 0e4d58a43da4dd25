/* cmd_plot.c — placeholder until the SVG writer lands (next commit). */
#include "orchestrator/cli.h"
int cmd_plot(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_error(XO_FAILED, "xover plot: not built yet");
}
