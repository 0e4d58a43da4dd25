/*
 * progress.c — the progress display that `xover run`'s local driver and the
 * Slurm follower share: on a terminal, a block (the sweep line, then a row
 * per running run) redrawn in place at most four times a second, with event
 * lines printed above it; elsewhere (a log file, a CI job), timestamped
 * event lines and the sweep line every 30 s, never escape codes.
 */
#include "orchestrator/exec/internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

void progress_clear(progress *pg)
{
    if (!pg->tty || !pg->drawn) return;
    /* From the line's start: a "^C" the terminal echoed has moved the
     * cursor, and the block's first characters would stay. */
    fprintf(stderr, "\r\033[%dA\033[J", pg->drawn);
    pg->drawn = 0;
}

void progress_event(progress *pg, const char *fmt, ...)
{
    progress_clear(pg);
    if (!pg->tty) {
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(stderr, "%s ", ts);
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

double progress_run_flops(const exec_estimate *est, const ingest_state *st)
{
    double seen = (double)st->tokens - est->from_tokens; /* a branch counts from its fork */
    if (est->tokens > 0 && seen > 0) return est->flops * fmin(1.0, seen / est->tokens);
    return 0;
}

void progress_sweep_line(const progress *pg, const progress_tally *t, const char *sweep, char *buf, size_t n)
{
    double el = xo_now() - pg->t0;
    char eta[32] = "-", ts[32] = "-";
    if (t->eta >= 0)
        xo_duration(t->eta, eta, sizeof eta);
    else if (t->done_flops > 0 && el > 1 && t->total_flops > t->done_flops)
        xo_duration((t->total_flops - t->done_flops) * el / t->done_flops, eta, sizeof eta);
    else if (t->total_flops <= t->done_flops)
        snprintf(eta, sizeof eta, "0s");
    if (t->tok_s > 0) exec_human(t->tok_s, ts, sizeof ts);
    snprintf(buf, n, "sweep %s: %zu done, %zu running, %zu failed, %zu pending | %s tok/s | ETA %s", sweep, t->done,
             t->running, t->failed, t->pending, ts, eta);
}

/* A number, or "-" when it is not a number yet. */
static const char *num(char *buf, size_t n, const char *fmt, double v)
{
    if (isfinite(v)) snprintf(buf, n, fmt, v);
    else snprintf(buf, n, "-");
    return buf;
}

void progress_row(progress *pg, const char *key, const char *who, const progress_run *r)
{
    const ingest_state *st = r->st;
    char label[64], steps[64], ts[32] = "-", eta[32] = "-", val[32], best[32];
    exec_fit_label(who, 30, label, sizeof label);
    long long step = st->step < 0 ? 0 : st->step;
    if (r->total_steps > 0)
        snprintf(steps, sizeof steps, "%lld/%lld %3.0f%%", step, r->total_steps,
                 100.0 * (double)step / (double)r->total_steps);
    else snprintf(steps, sizeof steps, "%lld", step);
    if (r->tok_s > 0) exec_human(r->tok_s, ts, sizeof ts);
    if (r->eta >= 0) xo_duration(r->eta, eta, sizeof eta);
    fprintf(stderr, "  %.12s %-30s step %s  %s tok/s  ETA %s  val_loss %s (best %s)", key, label, steps, ts, eta,
            num(val, sizeof val, "%.4f", st->val_loss), num(best, sizeof best, "%.4f", st->best_val_loss));
    if (r->job) fprintf(stderr, "  [%s]", r->job);
    fputc('\n', stderr);
    pg->drawn++;
}

void progress_draw(progress *pg, void (*line)(void *ctx, char *buf, size_t n), void (*rows)(void *ctx), void *ctx)
{
    double now = xo_now();
    char buf[512];
    if (pg->tty) {
        if (now - pg->last_draw < 0.25) return;
        pg->last_draw = now;
        progress_clear(pg);
        line(ctx, buf, sizeof buf);
        fprintf(stderr, "%s\n", buf);
        pg->drawn = 1;
        rows(ctx);
        fflush(stderr);
    } else if (now - pg->last_plain >= 30) {
        pg->last_plain = now;
        line(ctx, buf, sizeof buf);
        progress_event(pg, "%s", buf);
    }
}
