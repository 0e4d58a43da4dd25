/*
 * driver_view.c — what the local driver's progress display shows (progress.c
 * draws it): each running run's row (its step of its total, its own speed
 * and ETA, its val_loss) and the sweep's line, whose ETA simulates the runs
 * left on the workers at their own speeds (eta.c).
 */
#include "orchestrator/exec/driver.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>

void driver_describe_run(const driver *dr, size_t i, char *buf, size_t n)
{
    const sweep *s = sweep_plan_sweep(dr->p);
    size_t len = 0;
    buf[0] = 0;
    for (size_t a = 0; a < sweep_naxes(s) && len + 1 < n; a++) {
        if (sweep_axis_nvalues(s, a) < 2) continue;
        len += (size_t)snprintf(buf + len, n - len, "%s%s=%s", len ? " " : "", sweep_axis_name(s, a),
                                sweep_plan_axis_text(dr->p, i, a));
    }
    /* a branch by its budget, so that the family's runs tell apart */
    int role = sweep_plan_role(dr->p, i);
    double e = 0;
    if (role == SWEEP_BRANCH && sweep_plan_number(dr->p, i, "train.epochs", &e) == 0 && len + 1 < n)
        snprintf(buf + len, n - len, "%sbranch@%g", len ? " " : "", e);
    else if (role == SWEEP_TRUNK && len + 1 < n)
        snprintf(buf + len, n - len, "%strunk", len ? " " : "");
}

/* The run's planned steps and tokens per step, from the model.json its
 * trainer writes at the start (an external trainer writes none). */
void driver_read_model_info(job *j)
{
    json_t *m = json_load_file(rundir_path(j->dir, RUN_MODEL).s, 0, NULL);
    json_t *ts = m ? json_object_get(m, "total_steps") : NULL, *tp = m ? json_object_get(m, "tokens_per_step") : NULL;
    if (json_is_integer(ts) && json_is_number(tp) && json_integer_value(ts) > 0) {
        j->total_steps = json_integer_value(ts);
        j->tokens_per_step = json_number_value(tp);
    }
    json_decref(m);
}

/* Tokens the run has left: exact once its model.json is there, else from
 * the plan's estimate. */
double driver_remaining_tokens(const job *j)
{
    const ingest_state *st = j->ing ? ingest_get(j->ing) : NULL;
    double done = st && st->tokens > 0 ? (double)st->tokens : 0;
    double total = j->total_steps ? (double)j->total_steps * j->tokens_per_step : j->est.tokens;
    return total > done ? total - done : 0;
}

/* A core's speed (tokens/s on one thread) for run j: its own, measured over
 * the window and divided by what its threads add (eta.c), or, before it
 * has one, the sweep's measured FLOP rate per core at j's FLOPs per token. */
static double speed_per_core(const driver *dr, const job *j)
{
    int threads = j->sh.have > 0 ? j->sh.have : 1;
    if (j->pid && j->tok_s > 0) return j->tok_s / (1 + EXEC_THREAD_GAIN * (threads - 1));
    double fpt = j->est.tokens > 0 ? j->est.flops / j->est.tokens : 0;
    return fpt > 0 ? dr->flops_per_core / fpt : 0;
}

/* The sweep's time left: each remaining run's work at its own speed, the
 * running ones first, then the rest in the order they will start. */
static double sweep_eta(driver *dr)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < dr->njobs; k++) {
            job *j = &dr->jobs[k];
            if (j->finished || (pass == 0) != (j->pid != 0)) continue;
            double sp = speed_per_core(dr, j);
            dr->eta_runs[n++].work = sp > 0 ? driver_remaining_tokens(j) / sp : NAN;
        }
    int handover = !dr->o->no_handover && !sweep_trainer(sweep_plan_sweep(dr->p)).external;
    return exec_sweep_eta(dr->eta_runs, n, dr->cores, handover);
}

void driver_sweep_line(void *ctx, char *buf, size_t n)
{
    driver *dr = ctx;
    progress_tally t = {dr->ndone + dr->skipped_done, dr->running, dr->nfailed,
                        dr->njobs - dr->next + dr->nwaiting + dr->nblocked,
                        0, sweep_eta(dr), dr->done_flops, dr->total_flops};
    for (size_t k = 0; k < dr->njobs; k++) {
        job *j = &dr->jobs[k];
        if (!j->pid) continue;
        t.tok_s += j->tok_s;
    }
    progress_sweep_line(&dr->pg, &t, sweep_name(sweep_plan_sweep(dr->p)), buf, n);
}

void driver_run_rows(void *ctx)
{
    driver *dr = ctx;
    for (size_t k = 0; k < dr->njobs; k++) {
        job *j = &dr->jobs[k];
        if (!j->pid) continue;
        char who[200], threads[32];
        driver_describe_run(dr, j->i, who, sizeof who);
        int th = j->sh.have > 0 ? j->sh.have : j->sh.threads;
        snprintf(threads, sizeof threads, "%d threads", th);
        progress_run r = {ingest_get(j->ing), j->total_steps, j->tok_s,
                          j->tok_s > 0 ? driver_remaining_tokens(j) / j->tok_s : -1, th > 1 ? threads : NULL};
        progress_row(&dr->pg, j->key, who, &r);
    }
}

