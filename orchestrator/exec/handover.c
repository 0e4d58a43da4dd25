/*
 * handover.c — the local driver's cores, handed to running runs when fewer
 * runs than cores are runnable, taken back when more become runnable.
 *
 * A run's worker is told its threads through a file in its run directory
 * (run/run.h RUN_THREADS); it answers once it uses them (RUN_THREADS_NOW),
 * between two steps. A run counts for the larger of the two, so a core
 * taken back is not given to a new run before the old one has let go of
 * it: the total never exceeds the cores (-j). A run's results do not
 * depend on its threads (models.h), only its speed.
 *
 * The policy is a pure function over the running runs, so that it can be
 * tested on its own: a starved sweep (a run waits for a core) takes one
 * core back per call from the run that has the most; otherwise each free
 * core goes to the run with the most work left per thread it has. A run's
 * grant changes at most once a second, so that it is not tossed back and
 * forth between two runs of equal work.
 */
#include "orchestrator/exec/exec.h"

static int held(const exec_share *s) { return s->have > s->threads ? s->have : s->threads; }

int exec_cores_used(const exec_share *s, size_t n)
{
    int used = 0;
    for (size_t i = 0; i < n; i++) used += held(&s[i]);
    return used;
}

int exec_handover(exec_share *s, size_t n, int cores, int starved, double now)
{
    int changes = 0, used = exec_cores_used(s, n);
    if (starved) {
        /* One core back from the run with the most (the first of equals). */
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (s[i].threads > 1 && (best == n || s[i].threads > s[best].threads)) best = i;
        if (best < n) {
            s[best].threads--;
            s[best].changed_at = now;
            changes++;
        }
        return changes;
    }
    while (used < cores) {
        size_t best = n;
        double best_left = 0;
        for (size_t i = 0; i < n; i++) {
            if (!s[i].growable || s[i].threads >= cores) continue;
            /* Held: changed in the last second by an earlier call (this
             * call's own grants carry changed_at == now), or its last word
             * not yet taken up by the trainer. */
            int this_call = s[i].changed_at == now;
            if (!this_call && (now - s[i].changed_at < EXEC_HANDOVER_HOLD || (s[i].have && s[i].have != s[i].threads)))
                continue;
            double left = s[i].remaining / s[i].threads;
            if (best == n || left > best_left) best = i, best_left = left;
        }
        if (best == n || best_left <= 0) break;
        s[best].threads++;
        s[best].changed_at = now;
        used++;
        changes++;
    }
    return changes;
}
