/*
 * clock.c — the time of day and durations for people (see util.h).
 */
#include "orchestrator/util/util.h"

#include <math.h>
#include <stdio.h>
#include <sys/time.h>

double xo_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

double xo_clock(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void xo_duration(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0) snprintf(buf, n, "?"); /* an ETA at no speed yet */
    else if (s < 90) snprintf(buf, n, "%.0fs", s);
    else if (s < 90 * 60) snprintf(buf, n, "%.0fm", s / 60);
    else if (s < 36 * 3600) snprintf(buf, n, "%.1fh", s / 3600);
    else snprintf(buf, n, "%.1fd", s / 86400);
}
