/*
 * live.c — the report `xover run --report DIR` keeps current while the
 * sweep runs (analysis.h, "the live report"). The driver calls
 * an_live_tick after every round of ingest, about ten times a second; a
 * page costs a few hundred milliseconds of reading (an_report), so it is
 * written at most every `every` seconds and only when the database has
 * changed since. The driver's loop waits meanwhile, its workers do not.
 * an_live_watch (`xover report --watch`) does the same from another
 * process, for a sweep run without --report or on Slurm.
 */
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/util/util.h"

#include <stdio.h>
#include <time.h>

void an_live_tick(void *live, db *d)
{
    an_live *l = live;
    double now = xo_now();
    long long changes = db_total_changes(d);
    if (l->err[0] || (l->writes && (now - l->last < l->every || changes == l->changes))) return;
    an_report_opts o = l->o;
    o.live = AN_LIVE_RUNNING;
    o.refresh = l->every < 2 ? 2 : (int)(l->every + 0.5);
    int nplots;
    char err[sizeof l->err];
    if (an_report(d, l->outdir, &o, &nplots, err, sizeof err)) {
        snprintf(l->err, sizeof l->err, "%s", err); /* said once, at the end */
        return;
    }
    l->writes++;
    l->last = xo_now(); /* after writing: a slow page does not make the next one due at once */
    l->changes = changes;
}

int an_live_end(an_live *l, const char *db_path)
{
    char err[sizeof l->err];
    db *d = db_open(db_path, DB_READONLY, err, sizeof err);
    if (!d) {
        snprintf(l->err, sizeof l->err, "%s", err);
        return -1;
    }
    an_report_opts o = l->o;
    o.live = AN_LIVE_ENDED;
    o.refresh = 0;
    int nplots, rc = an_report(d, l->outdir, &o, &nplots, err, sizeof err);
    db_close(d);
    if (rc) {
        snprintf(l->err, sizeof l->err, "%s", err);
        return -1;
    }
    l->writes++;
    return 0;
}

/* Sleep up to `s` seconds, waking early when *stop is set. */
static void nap(double s, volatile int *stop)
{
    for (double t = 0; t < s && !*stop; t += 0.05) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int an_live_watch(const char *db_path, const char *outdir, const an_report_opts *o, double every,
                  volatile int *stop, char *err, size_t errlen)
{
    db *d = db_open(db_path, DB_READONLY, err, errlen);
    if (!d) return DB_ENOTFOUND;
    long long sweep_id = 0, seen = -2;
    if (o->sweep && db_sweep_id(d, o->sweep, &sweep_id)) {
        snprintf(err, errlen, "no sweep named '%s' in the database", o->sweep);
        db_close(d);
        return DB_ENOTFOUND;
    }
    an_report_opts lo = *o;
    lo.live = AN_LIVE_RUNNING;
    lo.refresh = every < 2 ? 2 : (int)(every + 0.5);
    int rc = 0, nplots;
    for (;;) {
        long long c[DB_NSTATUS], total = 0, v = db_data_version(d);
        if ((rc = db_status_counts(d, sweep_id, c))) {
            snprintf(err, errlen, "%s", db_errmsg(d));
            break;
        }
        for (int i = 0; i < DB_NSTATUS; i++) total += c[i];
        if (*stop || (total > 0 && c[DB_PENDING] + c[DB_RUNNING] == 0)) {
            lo.live = AN_LIVE_ENDED;
            lo.refresh = 0;
            lo.ended = *stop ? "when watching stopped" : "once no run of the sweep was pending or running";
            rc = an_report(d, outdir, &lo, &nplots, err, errlen);
            break;
        }
        if (v != seen && (rc = an_report(d, outdir, &lo, &nplots, err, errlen))) break;
        seen = v;
        nap(every, stop);
    }
    db_close(d);
    return rc;
}
