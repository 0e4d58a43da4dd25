/*
 * pool.c — the model's worker threads: a region of independent items (the
 * shards of a batch, chunks of the parameters) is shared by the caller and
 * n-1 workers, each item taken by whichever thread is free next.
 *
 * Which thread runs an item never changes what the item computes (items
 * write disjoint memory, and each has its own scratch), so items are handed
 * out dynamically with an atomic counter: on a machine shared with other
 * work a descheduled thread leaves its items to the others instead of
 * holding up the region. The caller works too, and returns once every
 * item is done (each finish is an atomic increment after the item's writes,
 * so everything an item wrote is visible to it afterwards).
 */
#include "models/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct {
    model_pool *p;
    pthread_t tid;
    unsigned long seen; /* the last region this worker woke for */
} worker;

struct model_pool {
    int n;            /* threads working a region, the caller included */
    worker *w;        /* n - 1 workers */
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    unsigned long gen; /* regions started */
    int quit;
    pool_fn fn;
    void *ctx;
    int n_items;
    /* (gen mod 2^32) << 32 | the next item: an item is claimed only for
     * the region it belongs to, so a worker that wakes late, after its
     * region is over, claims nothing of the next one. */
    atomic_ulong ticket;
    atomic_int done; /* items finished in the current region */
};

/* Claim and run items of region gen until none is left. */
static void drain(model_pool *p, unsigned long gen, pool_fn fn, void *ctx, int n)
{
    unsigned long tag = (gen & 0xffffffffUL) << 32;
    unsigned long v = atomic_load(&p->ticket);
    for (;;) {
        if ((v & ~0xffffffffUL) != tag || (long)(v & 0xffffffffUL) >= n) return;
        if (!atomic_compare_exchange_weak(&p->ticket, &v, v + 1)) continue;
        fn(ctx, (int)(v & 0xffffffffUL));
        if (atomic_fetch_add(&p->done, 1) + 1 == n) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->idle);
            pthread_mutex_unlock(&p->mu);
        }
        v = atomic_load(&p->ticket);
    }
}

static void *work(void *arg)
{
    worker *w = arg;
    model_pool *p = w->p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == w->seen && !p->quit) pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit) break;
        w->seen = p->gen;
        pool_fn fn = p->fn;
        void *ctx = p->ctx;
        int n = p->n_items;
        pthread_mutex_unlock(&p->mu);
        drain(p, w->seen, fn, ctx, n);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

model_pool *pool_create(void)
{
    model_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->idle, NULL);
    return p;
}

static void stop_workers(model_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n - 1; i++) pthread_join(p->w[i].tid, NULL);
    free(p->w);
    p->w = NULL;
    p->n = 1;
    p->quit = 0;
}

/* Called between regions only (the model is not thread-safe), so no region
 * is running while the workers change. */
int pool_resize(model_pool *p, int n)
{
    if (n == p->n) return 0;
    stop_workers(p);
    if (n <= 1) return 0;
    p->w = calloc((size_t)n - 1, sizeof *p->w);
    if (!p->w) return -1;
    for (int i = 0; i < n - 1; i++) {
        p->w[i] = (worker){p, 0, p->gen};
        if (pthread_create(&p->w[i].tid, NULL, work, &p->w[i])) {
            p->n = i + 1; /* the ones started */
            stop_workers(p);
            return -1;
        }
    }
    p->n = n;
    return 0;
}

int pool_size(const model_pool *p) { return p ? p->n : 1; }

int pool_ways(const model_pool *p, size_t n) { return n >= (1u << 16) ? pool_size(p) : 1; }

/* The caller waits for the items, not for the workers: a worker that
 * was not scheduled in time is simply not needed for this region. */
void pool_run(model_pool *p, pool_fn fn, void *ctx, int n_items)
{
    if (!p || p->n == 1 || n_items <= 1) {
        for (int i = 0; i < n_items; i++) fn(ctx, i);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_items = n_items;
    p->gen++;
    atomic_store(&p->done, 0);
    atomic_store(&p->ticket, (p->gen & 0xffffffffUL) << 32);
    unsigned long gen = p->gen;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    drain(p, gen, fn, ctx, n_items);
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->done) < n_items) pthread_cond_wait(&p->idle, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void pool_free(model_pool *p)
{
    if (!p) return;
    stop_workers(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->idle);
    free(p);
}
