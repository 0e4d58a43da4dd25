/*
 * cmd_worker.c — `xover worker`: what a Slurm array task runs (the sbatch
 * script of `xover run --backend slurm` calls it); runs one run directory's
 * trainer and writes only that directory (orchestrator/exec/slurm_worker.c).
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/exec/exec.h"

#include <stdlib.h>

int cmd_worker(int argc, char **argv)
{
    static const struct option opts[] = {
        {"list", required_argument, 0, 'l'}, {"index", required_argument, 0, 'i'},
        {"max-requeues", required_argument, 0, 'q'}, {0, 0, 0, 0}};
    const char *list = NULL;
    long index = -1;
    int max_requeues = 0;
    int c;
    while ((c = cli_getopt("worker", argc, argv, "l:i:", opts)) != -1) {
        long long v;
        switch (c) {
        case 'l': list = optarg; break;
        case 'i':
            if (cli_parse_long("worker", "--index", optarg, &v)) return XO_USAGE;
            index = (long)v;
            break;
        case 'q':
            if (cli_parse_long("worker", "--max-requeues", optarg, &v) || v < 0 || v > 1000) return XO_USAGE;
            max_requeues = (int)v;
            break;
        default: return XO_USAGE;
        }
    }
    if (list && optind < argc) return cli_usage_error("worker", "give a run directory or --list, not both");
    if (!list && optind + 1 != argc) return cli_usage_error("worker", "expected a run directory or --list FILE");
    if (!list && index >= 0) return cli_usage_error("worker", "--index goes with --list");
    return exec_worker(list ? NULL : argv[optind], list, index, max_requeues);
}

const cli_command cmd_worker_def = {"worker", cmd_worker, "run one run directory (what a Slurm array task runs)",
     "usage: xover worker RUNDIR [--max-requeues K]\n"
     "       xover worker --list FILE [--index N] [--max-requeues K]\n\n"
     "Run the trainer recorded in RUNDIR/worker.json (written by\n"
     "`xover run --backend slurm`), or in the directory on line N+1 of FILE (N defaults\n"
     "to $SLURM_ARRAY_TASK_ID). Records the attempt (RUNDIR/attempt.json), appends the\n"
     "trainer's output to RUNDIR/log, and writes only RUNDIR, never the database.\n"
     "One thread per CPU of the task ($SLURM_CPUS_PER_TASK). Exits with the\n"
     "trainer's exit code. A trainer killed by a signal (kill -9, the OOM killer)\n"
     "is restarted from its checkpoint, twice at most. On SIGUSR1 (sbatch\n"
     "--signal=B:USR1@N: the time limit is near) the trainer checkpoints and stops,\n"
     "and the task requeues itself (scontrol requeue) unless it has been restarted\n"
     "K times already (--max-requeues, default 0).\n"};
