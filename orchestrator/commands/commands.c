/*
 * commands.c — the table of xover's commands, in the order `xover --help`
 * lists them. Each command lives in orchestrator/commands/cmd_NAME.c, with
 * its options, its help text and its entry (cmd_NAME_def) side by side.
 */
#include "orchestrator/commands/commands.h"

const cli_command *const cli_commands[] = {
    &cmd_help_def,
    &cmd_version_def,
    &cmd_db_def,
    &cmd_sql_def,
    &cmd_export_def,
    &cmd_export_model_def,
    &cmd_data_def,
    &cmd_plan_def,
    &cmd_train_def,
    &cmd_sample_def,
    &cmd_eval_def,
    &cmd_run_def,
    &cmd_status_def,
    &cmd_ls_def,
    &cmd_show_def,
    &cmd_collect_def,
    &cmd_cancel_def,
    &cmd_worker_def,
    &cmd_rm_def,
    &cmd_crossover_def,
    &cmd_table_def,
    &cmd_plot_def,
    &cmd_report_def,
    NULL,
};
