/*
 * eta.c — the numbers a user reads while a sweep runs, computed so that
 * they can be trusted: a run's speed over a moving window of its own
 * progress (never counting what it had done before a resume), the sweep's
 * time left from each remaining run's own speed and work (never from work
 * already finished, which an early stop or a resume would inflate), and
 * run labels shortened only between two "axis=value" pairs.
 *
 * Pure functions on plain numbers, so that the tests can replay recorded
 * sequences (tests/test_eta.c).
 */
#include "orchestrator/exec/exec.h"

#include <stdio.h>
#include <string.h>

void exec_rate_reset(exec_rate *r) { memset(r, 0, sizeof *r); }

/* Samples come when the run reports progress; the first one is the
 * baseline, so tokens a resumed run had before this attempt never count. */
void exec_rate_add(exec_rate *r, double t, double tokens)
{
    if (r->n > 0) {
        int last = (r->first + r->n - 1) % EXEC_RATE_SAMPLES;
        if (tokens <= r->tok[last]) return; /* no progress (or a repeated point) */
    }
    int at = (r->first + r->n) % EXEC_RATE_SAMPLES;
    if (r->n == EXEC_RATE_SAMPLES) r->first = (r->first + 1) % EXEC_RATE_SAMPLES;
    else r->n++;
    r->t[at] = t;
    r->tok[at] = tokens;
}

double exec_rate_tok_s(const exec_rate *r, double window)
{
    if (r->n < 2) return 0;
#define AT(k) ((r->first + (k)) % EXEC_RATE_SAMPLES)
    int last = AT(r->n - 1), k = 0;
    /* the oldest sample within the window, keeping at least two */
    while (k < r->n - 2 && r->t[last] - r->t[AT(k)] > window) k++;
    double dt = r->t[last] - r->t[AT(k)];
    double rate = dt > 0 ? (r->tok[last] - r->tok[AT(k)]) / dt : 0;
#undef AT
    return rate;
}

/* Speed of a run on `share` cores: each core past the first adds
 * EXEC_THREAD_GAIN of one (bench/trainer measures 1.75-1.9x on 2). */
static double speed_on(double share) { return share <= 1 ? share : 1 + EXEC_THREAD_GAIN * (share - 1); }

double exec_sweep_eta(exec_eta_run *r, size_t n, int cores, int handover)
{
    if (cores < 1) cores = 1;
    for (size_t i = 0; i < n; i++)
        if (!(r[i].work >= 0)) return -1;
    double t = 0;
    for (;;) {
        /* The runs that hold a core: unfinished, in order, at most `cores`. */
        size_t active = 0;
        for (size_t i = 0; i < n && active < (size_t)cores; i++) active += r[i].work > 0;
        if (!active) return t;
        double share = handover ? (double)cores / active : 1;
        if (share < 1) share = 1;
        double speed = speed_on(share), dt = -1;
        size_t seen = 0;
        for (size_t i = 0; i < n && seen < active; i++) {
            if (r[i].work <= 0) continue;
            seen++;
            double d = r[i].work / speed;
            if (dt < 0 || d < dt) dt = d;
        }
        seen = 0;
        for (size_t i = 0; i < n && seen < active; i++) {
            if (r[i].work <= 0) continue;
            seen++;
            r[i].work -= dt * speed;
            if (r[i].work < 1e-9) r[i].work = 0;
        }
        t += dt;
    }
}

void exec_fit_label(const char *in, size_t width, char *out, size_t n)
{
    if (!n) return;
    size_t len = strlen(in);
    if (len <= width) {
        snprintf(out, n, "%s", in);
        return;
    }
    /* The longest prefix that ends between two pairs, then "+N" more. */
    size_t cut = 0, more = 0;
    for (size_t i = 0; i < len; i++)
        if (in[i] == ' ' && i + 3 <= width) cut = i;
    for (size_t i = cut; i < len; i++) more += in[i] == ' ';
    if (!cut) {
        snprintf(out, n, "%.*s", (int)width, in); /* one pair longer than the width */
        return;
    }
    snprintf(out, n, "%.*s +%zu", (int)cut, in, more);
}
