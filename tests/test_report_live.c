/*
 * test_report_live.c — `xover run --report DIR`: the HTML report is
 * rewritten while the sweep runs (its content changes from one point of the
 * run to another, the page reloading itself) and is final at the end (no
 * reload, every run done), always whole (written atomically: no temporary
 * file is left, and every version read is a complete page). `xover report
 * --watch` does the same from another process and ends by itself.
 */
#include "tests/harness.h"
#include "tests/helpers.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The "N of M runs done" of a live or final page; -1 when absent. */
static int done_of(const char *html, int *total)
{
    const char *p = strstr(html, "runs done");
    *total = -1;
    if (!p) return -1;
    while (p > html && p[-1] != '(' && p[-1] != ':') p--;
    int d;
    if (sscanf(p, " %d of %d", &d, total) != 2) return -1;
    return d;
}

TEST(report_live_rewritten_during_a_run_and_final_at_the_end)
{
    char db[512], runs[512], dir[512], sweep[512], index[600];
    harness_path(db, sizeof db, "x.db");
    harness_path(runs, sizeof runs, "runs");
    harness_path(dir, sizeof dir, "live");
    harness_path(sweep, sizeof sweep, "live.yaml");
    snprintf(index, sizeof index, "%s/index.html", dir);
    /* three runs, one after the other, each about 2 s (20 steps of 0.1 s) */
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "sweep: live\n"
             "models: {xs: {layers: 1, dim: 16, heads: 2}}\n"
             "grid: {objective: ar, lr: [1e-3, 2e-3, 3e-3]}\n"
             "trainer: {command: ['%s', '{run_dir}', jsonl, '20', '{lr}', '--sleep', '0.1']}\n",
             helper_fake_trainer());
    CHECK(harness_write(sweep, yaml) == 0);

    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
        execl(harness_xover(), harness_xover(), "run", sweep, "--db", db, "--runs-dir", runs, "-j", "1",
              "--report", dir, "--report-every", "0.2s", (char *)NULL);
        _exit(127);
    }
    /* And `xover report --watch` from outside, once the sweep is registered. */
    char wdir[512], windex[600];
    harness_path(wdir, sizeof wdir, "watched");
    snprintf(windex, sizeof windex, "%s/index.html", wdir);
    for (int tries = 0; tries < 600 && helper_qint(db, "SELECT count(*) FROM runs") != 3; tries++) nap(50);
    pid_t watcher = fork();
    CHECK(watcher >= 0);
    if (watcher == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
        execl(harness_xover(), harness_xover(), "report", "--watch", "--every", "0.2s", "--sweep", "live", "--db", db,
              wdir, (char *)NULL);
        _exit(127);
    }
    int wlive = 0;
    /* Read the page as the run goes, keeping each version that differs. */
    char *last = NULL;
    int versions = 0, live = 0, whole = 1, ws = 0, seen_done[8] = {0};
    for (int tries = 0; tries < 3000; tries++) { /* 90 s at most */
        int exited = waitpid(pid, &ws, WNOHANG) == pid;
        char *html = harness_slurp(index, NULL);
        if (html && (!last || strcmp(html, last))) {
            versions++;
            if (!strstr(html, "</html>")) whole = 0;
            if (!exited && strstr(html, "<meta http-equiv=\"refresh\"")) {
                int total, d = done_of(html, &total);
                CHECK_INT(total, 3);
                if (d >= 0 && d < 8) seen_done[d] = 1;
                live++;
            }
            free(last);
            last = html;
        } else {
            free(html);
        }
        char *w = harness_slurp(windex, NULL);
        if (w && !exited && strstr(w, "<meta http-equiv=\"refresh\"")) wlive = 1;
        free(w);
        if (exited) break;
        nap(30);
    }
    CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    CHECK(whole);
    /* while it ran: pages that reload themselves, saying different things
     * (fewer runs done, then more) */
    int distinct = 0;
    for (int i = 0; i < 8; i++) distinct += seen_done[i];
    if (live < 2 || distinct < 2) fprintf(stderr, "%d versions, %d live, %d distinct done counts\n", versions, live, distinct);
    CHECK(live >= 2);
    CHECK(distinct >= 2);
    CHECK(!seen_done[3]); /* not all done while it still ran */

    /* at the end: the last page, which no longer reloads, every run done */
    char *html = harness_slurp(index, NULL);
    CHECK(html);
    CHECK(!strstr(html, "http-equiv=\"refresh\""));
    CHECK_CONTAINS(html, "<b>Final</b>");
    int total;
    CHECK_INT(done_of(html, &total), 3);
    CHECK_INT(total, 3);
    CHECK_CONTAINS(html, "<td>live</td><td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">3</td>");
    free(html);
    free(last);
    /* written atomically: nothing but the page and its plots directory */
    DIR *d = opendir(dir);
    CHECK(d);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));) files += e->d_name[0] != '.';
    closedir(d);
    CHECK_INT(files, 2);

    /* The watcher saw the run live, and ends by itself once no run is
     * pending or running, with a last page that does not reload. */
    int wws = 0, wexited = 0;
    for (int tries = 0; tries < 600 && !wexited; tries++) {
        wexited = waitpid(watcher, &wws, WNOHANG) == watcher;
        if (!wexited) nap(50);
    }
    if (!wexited) {
        kill(watcher, SIGKILL);
        waitpid(watcher, &wws, 0);
    }
    CHECK(wexited && WIFEXITED(wws) && WEXITSTATUS(wws) == 0);
    CHECK(wlive);
    html = harness_slurp(windex, NULL);
    CHECK(html);
    CHECK(!strstr(html, "http-equiv=\"refresh\""));
    CHECK_CONTAINS(html, "once no run of the sweep was pending or running");
    CHECK_INT(done_of(html, &total), 3);
    free(html);

    /* A second run has nothing to do, and still leaves a final page. */
    CHECK(remove(index) == 0);
    const char *argv[] = {harness_xover(), "run", sweep, "--db", db, "--runs-dir", runs, "--report", dir, NULL};
    harness_proc p = harness_run(argv, NULL);
    CHECK_INT(p.status, 0);
    harness_proc_free(&p);
    html = harness_slurp(index, NULL);
    CHECK(html && strstr(html, "<b>Final</b>"));
    free(html);
}

TEST(report_live_refuses_slurm_and_bad_intervals)
{
    const char *a[] = {harness_xover(), "run", "experiments/smoke.yaml", "--backend", "slurm", "--report", "r", NULL};
    harness_proc p = harness_run(a, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--report is for the local backend");
    harness_proc_free(&p);
    const char *b[] = {harness_xover(), "run", "experiments/smoke.yaml", "--report", "r", "--report-every", "soon", NULL};
    p = harness_run(b, NULL);
    CHECK_INT(p.status, 2);
    CHECK_CONTAINS(p.err, "--report-every expects a duration");
    harness_proc_free(&p);
}
