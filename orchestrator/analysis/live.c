/*
 * live.c — the report `xover run --report DIR` keeps current while the
 * sweep runs (analysis.h, "the live report"). The driver calls
 * an_live_tick after every round of ingest, about ten times a second; a
 * page costs a few hundred milliseconds of reading (an_report), so it is
 * written at most every `every` seconds and only when the database has
 * changed since. The driver's loop waits meanwhile, its workers do not.
 */
#include "orchestrator/analysis/analysis.h"
#include "orchestrator/util/util.h"

#include <stdio.h>

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
