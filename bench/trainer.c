/*
 * bench/trainer.c — the trainer's speed, measured in one run (on 1 thread
 * unless named):
 *
 *   ours     tokens/s of model_train_step (forward, backward, AdamW) and the
 *            achieved GFLOP/s (model FLOPs: 6N + 12*L*C*T per token);
 *   ceiling  GFLOP/s of cblas_sgemm on the model's own products: the exact
 *            sgemm calls of one training step (recorded by
 *            model_trace_gemms) replayed alone; "sgemm share" = replay time
 *            / step time is the fraction of the ceiling the whole step
 *            reaches;
 *   peer     PyTorch (bench/trainer_torch.py, python3-torch), same model and
 *            objective, 1 thread, as shipped and with glibc's malloc
 *            thresholds raised (GLIBC_TUNABLES, set only in the child);
 *   memory   peak RSS of a child that only trains, against the theoretical
 *            size (parameters + gradients + 2 moments + activations) and
 *            against a child that only initialises OpenBLAS.
 *
 *   moe      a mixture of experts (config A with 8 experts, top-1 and top-2)
 *            against the dense model of equal ACTIVE parameters (hidden F
 *            for top-1, 2F for top-2): tokens/s and the active-FLOP rate
 *            (model_flops_per_token counts active parameters), and their
 *            ratio; the target is >= 60% of the dense rate.
 *
 *   threads  one run on 2 threads against the same run on 1 (config A and
 *            the demo's model, both objectives): one model alternates
 *            between 1 and 2 threads every few steps (its results do not
 *            depend on the thread count), so both see the same machine
 *            load; the target is >= 1.7x. Also what the shards cost one
 *            thread: the default shards against one shard (a single pass
 *            over the batch, as before threads existed). With Linux's
 *            autogroup scheduling a loaded machine shares its cores between
 *            sessions, whatever their threads: give the benchmark's session
 *            priority (the line it prints says how) to approximate idle
 *            cores.
 *
 * Configs: A = 4 layers, dim 128, 4 heads, seq 128, batch 16, vocab 1024;
 *          B = 2 layers, dim 64, 2 heads, seq 64, batch 32, vocab 512;
 *          demo = 4 layers, dim 64, 4 heads, seq 128, batch 16, vocab 512.
 * Usage: build/bench/trainer [--quick] [--moe] [--threads]
 *   --quick  shorter timings; --moe, --threads  only those rows
 */
#include "models/models.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    double tok_s, gflops, ceil_gflops, exec_gflops, share, loss;
    size_t ncalls;
    long train_rss_kb; /* peak RSS after training, before the replay buffers */
} ours_result;

static double min_time = 2.0;

/* The trainer alone: steps until min_time has passed. */
static int run_ours(const model_config *cfg, ours_result *r)
{
    char err[256];
    model *m = model_create(cfg, 1, err, sizeof err);
    if (!m) return fprintf(stderr, "%s\n", err), -1;
    size_t n = (size_t)cfg->batch * cfg->seq_len;
    int32_t *tok = malloc(sizeof(int32_t) * n * 8);
    model_rng g;
    model_rng_seed(&g, 3);
    for (size_t i = 0; i < n * 8; i++) tok[i] = (int32_t)model_rng_below(&g, cfg->vocab - 1);
    model_optim o = model_optim_default();
    model_step_stats st;
    for (int i = 0; i < 3; i++)
        if (model_train_step(m, tok + (i % 8) * n, &o, 1e-3f, &st, err, sizeof err))
            return fprintf(stderr, "%s\n", err), -1;
    int steps = 0;
    double t0 = now(), t;
    do {
        if (model_train_step(m, tok + (steps % 8) * n, &o, 1e-3f, &st, err, sizeof err))
            return fprintf(stderr, "%s\n", err), -1;
        steps++;
        t = now() - t0;
    } while (t < min_time || steps < 5);
    double step_time = t / steps;
    r->tok_s = n / step_time;
    r->gflops = model_flops_per_token(cfg) * r->tok_s / 1e9;
    r->loss = st.loss;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->train_rss_kb = ru.ru_maxrss;

    /* Replay the step's own sgemm calls. */
    size_t cap = 1 << 16;
    model_gemm_call *calls = malloc(sizeof *calls * cap);
    size_t nc = model_trace_gemms(m, tok, calls, cap);
    if (nc > cap) nc = cap;
    size_t na = 1, nb = 1, ncm = 1;
    double flops = 0;
    for (size_t i = 0; i < nc; i++) {
        model_gemm_call *c = &calls[i];
        size_t a = c->ta == 'N' ? (size_t)(c->m - 1) * c->lda + c->k : (size_t)(c->k - 1) * c->lda + c->m;
        size_t b = c->tb == 'N' ? (size_t)(c->k - 1) * c->ldb + c->n : (size_t)(c->n - 1) * c->ldb + c->k;
        size_t cc = (size_t)(c->m - 1) * c->ldc + c->n;
        na = a > na ? a : na, nb = b > nb ? b : nb, ncm = cc > ncm ? cc : ncm;
        flops += 2.0 * c->m * c->n * c->k;
    }
    float *A = malloc(sizeof(float) * na), *B = malloc(sizeof(float) * nb), *C = malloc(sizeof(float) * ncm);
    for (size_t i = 0; i < na; i++) A[i] = (float)(model_rng_uniform(&g) - 0.5);
    for (size_t i = 0; i < nb; i++) B[i] = (float)(model_rng_uniform(&g) - 0.5);
    memset(C, 0, sizeof(float) * ncm);
    int reps = 0;
    t0 = now();
    do {
        for (size_t i = 0; i < nc; i++) {
            model_gemm_call *c = &calls[i];
            cblas_sgemm(CblasRowMajor, c->ta == 'T' ? CblasTrans : CblasNoTrans,
                        c->tb == 'T' ? CblasTrans : CblasNoTrans, c->m, c->n, c->k, 1.0f, A, c->lda, B,
                        c->ldb, c->beta, C, c->ldc);
        }
        reps++;
        t = now() - t0;
    } while (t < min_time / 2 || reps < 3);
    double replay = t / reps;
    r->ceil_gflops = flops / replay / 1e9;
    r->exec_gflops = flops / step_time / 1e9;
    r->share = replay / step_time;
    r->ncalls = nc;
    free(A), free(B), free(C), free(calls), free(tok);
    model_free(m);
    return 0;
}

/* Run fn in a child; results come back through a pipe, peak RSS (KB) from
 * wait4. */
static int in_child(const model_config *cfg, int only_blas, ours_result *r, long *maxrss_kb)
{
    int fd[2];
    if (pipe(fd)) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(fd[0]);
        ours_result x = {0};
        int rc = 0;
        if (only_blas) {
            float a[64] = {0}, b[64] = {0}, c[64];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 8, 8, 8, 1, a, 8, b, 8, 0, c, 8);
        } else
            rc = run_ours(cfg, &x);
        if (write(fd[1], &x, sizeof x) != (ssize_t)sizeof x) rc = 1;
        _exit(rc ? 1 : 0);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], r, sizeof *r);
    close(fd[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) return -1;
    *maxrss_kb = ru.ru_maxrss;
    return got == (ssize_t)sizeof *r && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static char script[4096];

static int find_script(const char *argv0)
{
    if (access("bench/trainer_torch.py", R_OK) == 0) {
        snprintf(script, sizeof script, "bench/trainer_torch.py");
        return 0;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) snprintf(exe, sizeof exe, "%s", argv0), n = (ssize_t)strlen(exe);
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    snprintf(script, sizeof script, "%s/../../bench/trainer_torch.py", exe);
    return access(script, R_OK) == 0 ? 0 : -1;
}

/* PyTorch in a child (fork/exec, argv only); tokens/s parsed from its JSON
 * line, or -1. tuned adds GLIBC_TUNABLES to the child's environment only. */
static double run_torch(const model_config *c, const char *obj, int tuned, int steps)
{
    char a[9][32];
    int v[9] = {c->layers, c->dim, c->heads, c->hidden, c->vocab, c->seq_len, c->batch, steps, 3};
    for (int i = 0; i < 9; i++) snprintf(a[i], sizeof a[i], "%d", v[i]);
    char *argv[] = {"python3", script, "--layers", a[0], "--dim", a[1], "--heads", a[2], "--hidden", a[3],
                    "--vocab", a[4], "--seq", a[5], "--batch", a[6], "--steps", a[7], "--warmup", a[8],
                    "--objective", (char *)obj, NULL};
    size_t ne = 0;
    while (environ[ne]) ne++;
    char **env = calloc(ne + 8, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "GLIBC_TUNABLES=", 15) && strncmp(environ[i], "OPENBLAS_NUM_THREADS=", 21) &&
            strncmp(environ[i], "OMP_NUM_THREADS=", 16))
            env[k++] = environ[i];
    env[k++] = "OPENBLAS_NUM_THREADS=1";
    env[k++] = "OMP_NUM_THREADS=1";
    if (tuned)
        env[k++] = "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296";
    env[k] = NULL;
    int fd[2];
    if (pipe(fd)) return free(env), -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        /* Debian's python3-torch belongs to the system interpreter. */
        if (access("/usr/bin/python3", X_OK) == 0) execve("/usr/bin/python3", argv, env);
        execvpe("python3", argv, env);
        _exit(127);
    }
    free(env);
    close(fd[1]);
    char buf[4096];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fd[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
    buf[n] = 0;
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    const char *p = strstr(buf, "\"tokens_per_s\":");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !p) return -1;
    return atof(p + 15);
}

/* The mixture-of-experts rows: each MoE against the dense model with the
 * same active parameters, both timed the same way in their own child. */
static int moe_rows(void)
{
    model_config a = {.layers = 4, .dim = 128, .heads = 4, .vocab = 1024, .seq_len = 128, .batch = 16,
                      .objective = MODEL_AR, .mask_id = 1023};
    int F = model_default_hidden(a.dim), fail = 0;
    printf("\nmixture of experts (config A, AR): active-FLOP rate against the dense model of equal active "
           "parameters (target >= 60%%)\n");
    for (int k = 1; k <= 2; k++) {
        model_config moe = a, dense = a;
        moe.hidden = F;
        moe.experts = 8;
        moe.top_k = k;
        dense.hidden = k * F;
        ours_result rm, rd;
        long kb;
        if (in_child(&moe, 0, &rm, &kb) || in_child(&dense, 0, &rd, &kb)) {
            printf("  top-%d: FAILED\n", k);
            fail = 1;
            continue;
        }
        printf("  moe 8 experts top-%d: %zu params, %zu active, %.2f MFLOP/token: %8.0f tokens/s %6.1f "
               "active GFLOP/s\n",
               k, model_param_count(&moe, NULL), model_active_param_count(&moe), model_flops_per_token(&moe) / 1e6,
               rm.tok_s, rm.gflops);
        printf("  dense hidden %4d:    %zu params, %zu active, %.2f MFLOP/token: %8.0f tokens/s %6.1f "
               "GFLOP/s\n",
               dense.hidden, model_param_count(&dense, NULL), model_active_param_count(&dense),
               model_flops_per_token(&dense) / 1e6, rd.tok_s, rd.gflops);
        printf("  -> moe / dense active-FLOP rate: %.0f%% (tokens/s %.0f%%)\n", 100 * rm.gflops / rd.gflops,
               100 * rm.tok_s / rd.tok_s);
    }
    return fail;
}

/* Steps of m for at least secs (and 2 steps) on n threads; adds the time
 * and tokens to *t and *tok. */
static int timed_steps(model *m, int n, double secs, const int32_t *tok, size_t per, double *t, double *ntok)
{
    char err[256];
    if (model_set_threads(m, n, err, sizeof err)) return fprintf(stderr, "%s\n", err), -1;
    model_optim o = model_optim_default();
    model_step_stats st;
    /* One step first: the new threads' first touch of their scratch. */
    if (model_train_step(m, tok, &o, 1e-3f, &st, err, sizeof err)) return fprintf(stderr, "%s\n", err), -1;
    int steps = 0;
    double t0 = now(), dt;
    do {
        if (model_train_step(m, tok + (size_t)(steps % 8) * per, &o, 1e-3f, &st, err, sizeof err))
            return fprintf(stderr, "%s\n", err), -1;
        steps++;
        dt = now() - t0;
    } while (dt < secs || steps < 2);
    *t += dt;
    *ntok += (double)steps * per;
    return 0;
}

/* tokens/s on 1 and on 2 threads, alternating blocks of steps on one model;
 * shards1: the same on 1 thread with a single shard, alternating likewise
 * with the default shards (tok_sh). */
static int thread_ratio(const model_config *cfg, double *tok1, double *tok2, double *tok_one_shard,
                        double *tok_sh)
{
    char err[256];
    model *m = model_create(cfg, 1, err, sizeof err);
    if (!m) return fprintf(stderr, "%s\n", err), -1;
    size_t per = (size_t)cfg->batch * cfg->seq_len;
    int32_t *tok = malloc(sizeof(int32_t) * per * 8);
    model_rng g;
    model_rng_seed(&g, 3);
    for (size_t i = 0; i < per * 8; i++) tok[i] = (int32_t)model_rng_below(&g, cfg->vocab - 1);
    double t[4] = {0}, n[4] = {0}, block = min_time / 4;
    int rc = 0;
    for (int round = 0; round < 4 && !rc; round++)
        rc = timed_steps(m, 1, block, tok, per, &t[0], &n[0]) || timed_steps(m, 2, block, tok, per, &t[1], &n[1]);
    for (int round = 0; round < 3 && !rc; round++) {
        rc = model_set_shard_rows(m, 1 << 30, err, sizeof err) || timed_steps(m, 1, block, tok, per, &t[2], &n[2]);
        rc = rc || model_set_shard_rows(m, 256, err, sizeof err) || timed_steps(m, 1, block, tok, per, &t[3], &n[3]);
    }
    free(tok);
    model_free(m);
    if (rc) return -1;
    *tok1 = n[0] / t[0], *tok2 = n[1] / t[1], *tok_one_shard = n[2] / t[2], *tok_sh = n[3] / t[3];
    return 0;
}

/* Linux's autogroup scheduler shares the CPU between sessions, not
 * threads: while other sessions keep the cores busy, a second thread of
 * this one gains nothing. Say so, with this session's autogroup nice. */
static void autogroup_note(void)
{
    FILE *f = fopen("/proc/sys/kernel/sched_autogroup_enabled", "r");
    int on = 0;
    if (f) {
        if (fscanf(f, "%d", &on) != 1) on = 0;
        fclose(f);
    }
    if (!on) return;
    char line[128] = "";
    f = fopen("/proc/self/autogroup", "r");
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = 0;
        fclose(f);
    }
    line[strcspn(line, "\n")] = 0;
    printf("  (autogroup scheduling is on, this session is %s: with other sessions busy, run this as\n"
           "   setsid sh -c 'echo -19 > /proc/self/autogroup; exec build/bench/trainer --threads')\n",
           line[0] ? line : "unknown");
}

static int thread_rows(void)
{
    double la[3] = {0};
    if (getloadavg(la, 3) < 1) la[0] = -1;
    printf("\nthreads: one run on 2 threads against the same run on 1, alternating on one model "
           "(load average %.2f; target >= 1.7x)\n", la[0]);
    autogroup_note();
    struct {
        const char *name;
        model_config c;
    } cfgs[] = {
        {"A   ", {.layers = 4, .dim = 128, .heads = 4, .vocab = 1024, .seq_len = 128, .batch = 16, .mask_id = 1023}},
        {"demo", {.layers = 4, .dim = 64, .heads = 4, .vocab = 512, .seq_len = 128, .batch = 16, .mask_id = 511}},
    };
    int fail = 0;
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
        for (int obj = 0; obj < 2; obj++) {
            model_config c = cfgs[i].c;
            c.objective = obj ? MODEL_MDM : MODEL_AR;
            double t1, t2, one, sh;
            if (thread_ratio(&c, &t1, &t2, &one, &sh)) {
                printf("  %s %-3s FAILED\n", cfgs[i].name, obj ? "mdm" : "ar");
                fail = 1;
                continue;
            }
            printf("  %s %-3s 1 thread %7.0f tokens/s, 2 threads %7.0f tokens/s -> %.2fx   "
                   "(1 thread: %d shards %7.0f vs 1 shard %7.0f tokens/s: %+.1f%%)\n",
                   cfgs[i].name, obj ? "mdm" : "ar", t1, t2, t2 / t1, (c.batch * c.seq_len) / 256, sh, one,
                   100 * (sh / one - 1));
        }
    return fail;
}

int main(int argc, char **argv)
{
    int quick = 0, only_moe = 0, only_threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--moe")) only_moe = 1;
        else if (!strcmp(argv[i], "--threads")) only_threads = 1;
        else return fprintf(stderr, "usage: %s [--quick] [--moe] [--threads]\n", argv[0]), 2;
    }
    if (quick) min_time = 0.5;
    openblas_set_num_threads(1);
    printf("bench/trainer: OpenBLAS %s; kernel %s\n", openblas_get_config(), openblas_get_corename());
    if (only_moe) return moe_rows();
    if (only_threads) return thread_rows();
    int have_torch = find_script(argv[0]) == 0;
    if (!have_torch) printf("  (bench/trainer_torch.py not found: PyTorch peer skipped)\n");
    ours_result none;
    long base_kb = 0;
    in_child(NULL, 1, &none, &base_kb);
    struct {
        const char *name;
        model_config c;
        int torch_steps;
    } cfgs[] = {
        {"A", {.layers = 4, .dim = 128, .heads = 4, .vocab = 1024, .seq_len = 128, .batch = 16, .mask_id = 1023},
         quick ? 6 : 16},
        {"B", {.layers = 2, .dim = 64, .heads = 2, .vocab = 512, .seq_len = 64, .batch = 32, .mask_id = 511},
         quick ? 10 : 40},
    };
    int fail = 0;
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
        for (int obj = 0; obj < 2; obj++) {
            model_config c = cfgs[i].c;
            c.objective = obj ? MODEL_MDM : MODEL_AR;
            c.hidden = model_default_hidden(c.dim);
            const char *on = obj ? "mdm" : "ar";
            ours_result r;
            long kb;
            size_t ne, np = model_param_count(&c, &ne);
            printf("\nconfig %s %s: %d layers, dim %d, %d heads, hidden %d, seq %d, batch %d, vocab %d; "
                   "%zu params (%zu non-embedding), %.2f MFLOP/token\n",
                   cfgs[i].name, on, c.layers, c.dim, c.heads, c.hidden, c.seq_len, c.batch, c.vocab, np,
                   ne, model_flops_per_token(&c) / 1e6);
            if (in_child(&c, 0, &r, &kb)) {
                printf("  ours: FAILED\n");
                fail = 1;
                continue;
            }
            printf("  ours      %9.0f tokens/s  %6.1f GFLOP/s (model FLOPs)  loss %.3f\n", r.tok_s, r.gflops,
                   r.loss);
            printf("  ceiling   %9s           %6.1f GFLOP/s (the step's %zu sgemm calls replayed alone)\n", "",
                   r.ceil_gflops, r.ncalls);
            printf("  ours / ceiling: %.0f%% (model FLOP/s), %.0f%% (executed sgemm FLOP/s = sgemm share of "
                   "the step)\n",
                   100 * r.gflops / r.ceil_gflops, 100 * r.share);
            double theo = model_memory_bytes(&c) / 1048576.0;
            (void)kb; /* the child's whole-life peak includes the replay's buffers */
            printf("  memory    peak RSS while training %.1f MB; theoretical %.1f MB "
                   "(params+grads+moments+activations); OpenBLAS-only process %.1f MB\n",
                   r.train_rss_kb / 1024.0, theo, base_kb / 1024.0);
            if (!have_torch) continue;
            double t1 = run_torch(&c, on, 0, cfgs[i].torch_steps);
            double t2 = run_torch(&c, on, 1, cfgs[i].torch_steps);
            if (t1 > 0) printf("  pytorch   %9.0f tokens/s as shipped          -> ours %.2fx\n", t1, r.tok_s / t1);
            else printf("  pytorch   failed (as shipped)\n");
            if (t2 > 0) printf("  pytorch   %9.0f tokens/s with GLIBC_TUNABLES -> ours %.2fx\n", t2, r.tok_s / t2);
            else printf("  pytorch   failed (GLIBC_TUNABLES)\n");
        }
    return moe_rows() | thread_rows() | fail;
}
