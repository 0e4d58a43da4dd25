/*
 * synthetic.c — a deterministic generator of English-like documents from a
 * small grammar, for tests and quick experiments: fast, needs no files, and
 * has the statistics that matter here (a Zipf-ish vocabulary, stop words,
 * punctuation, sentences of varying length, and topic words that repeat
 * within a document, so context helps prediction).
 */
#include "data/data.h"

#include <stdlib.h>
#include <string.h>

static const char *const DET[] = {"the", "a", "this", "that", "every", "one", "some", "no"};
static const char *const ADJ[] = {
    "small", "old", "quiet", "bright", "green", "cold", "heavy", "strange", "young", "tired",
    "happy", "dark", "gentle", "broken", "clever", "wild", "empty", "golden", "narrow", "loud"};
static const char *const NOUN[] = {
    "cat", "river", "house", "teacher", "garden", "machine", "letter", "city", "bird", "road",
    "child", "window", "king", "ship", "forest", "doctor", "song", "door", "farmer", "mountain",
    "book", "storm", "table", "friend", "island", "market", "lamp", "horse", "bridge", "village"};
static const char *const VERB_T[] = {
    "sees", "finds", "likes", "builds", "carries", "follows", "remembers", "paints", "opens",
    "watches", "helps", "loses", "keeps", "hears", "visits", "needs"};
static const char *const VERB_I[] = {
    "sleeps", "waits", "sings", "runs", "laughs", "falls", "shines", "grows", "rests", "returns"};
static const char *const ADV[] = {"slowly", "quickly", "again", "often", "never", "today",
                                  "quietly", "suddenly", "together", "alone"};
static const char *const PREP[] = {"near", "under", "behind", "across", "beside", "inside",
                                   "toward", "after"};
static const char *const CONJ[] = {"and", "but", "because", "while", "so"};

#define N_OF(a) (sizeof(a) / sizeof(a[0]))

typedef struct {
    char *buf;
    size_t len, cap;
    uint64_t rng;
    int cap_next; /* capitalise the next word */
    int oom;
    const char *topic[3];
} gen;

static void put(gen *g, const char *s)
{
    size_t n = strlen(s);
    if (g->oom) return;
    if (g->len + n + 2 > g->cap) {
        g->cap = (g->len + n + 2) * 2;
        char *b = realloc(g->buf, g->cap);
        if (!b) {
            g->oom = 1;
            return;
        }
        g->buf = b;
    }
    memcpy(g->buf + g->len, s, n);
    if (g->cap_next && n && s[0] >= 'a' && s[0] <= 'z') g->buf[g->len] = (char)(s[0] - 32);
    g->cap_next = 0;
    g->len += n;
}

static void word(gen *g, const char *w)
{
    if (g->len && g->buf[g->len - 1] != '\n') {
        int c = g->cap_next;
        put(g, " ");
        g->cap_next = c;
    }
    put(g, w);
}

static size_t pick(gen *g, size_t n)
{
    /* Skewed towards the first entries: a rough Zipf shape. */
    uint64_t a = data_rand_below(&g->rng, n), b = data_rand_below(&g->rng, n);
    return a < b ? a : b;
}

static void noun_phrase(gen *g)
{
    word(g, DET[pick(g, N_OF(DET))]);
    if (data_rand_below(&g->rng, 3) == 0) word(g, ADJ[pick(g, N_OF(ADJ))]);
    /* Half the nouns are the document's topic words. */
    if (data_rand_below(&g->rng, 2) == 0)
        word(g, g->topic[data_rand_below(&g->rng, 3)]);
    else
        word(g, NOUN[pick(g, N_OF(NOUN))]);
}

static void clause(gen *g)
{
    noun_phrase(g);
    if (data_rand_below(&g->rng, 2)) {
        word(g, VERB_T[pick(g, N_OF(VERB_T))]);
        noun_phrase(g);
    } else {
        word(g, VERB_I[pick(g, N_OF(VERB_I))]);
    }
    if (data_rand_below(&g->rng, 3) == 0) word(g, ADV[pick(g, N_OF(ADV))]);
    if (data_rand_below(&g->rng, 3) == 0) {
        word(g, PREP[pick(g, N_OF(PREP))]);
        noun_phrase(g);
    }
}

static void sentence(gen *g)
{
    g->cap_next = 1;
    clause(g);
    if (data_rand_below(&g->rng, 4) == 0) {
        put(g, ",");
        word(g, CONJ[pick(g, N_OF(CONJ))]);
        clause(g);
    }
    put(g, data_rand_below(&g->rng, 8) == 0 ? "!" : ".");
}

char *data_synthetic_doc(uint64_t idx, size_t *len)
{
    gen g = {0};
    g.rng = idx * 0x9e3779b97f4a7c15ULL + 0x243f6a8885a308d3ULL;
    for (int i = 0; i < 3; i++) g.topic[i] = NOUN[data_rand_below(&g.rng, N_OF(NOUN))];
    int paragraphs = 1 + (int)data_rand_below(&g.rng, 2);
    for (int p = 0; p < paragraphs; p++) {
        if (p) put(&g, "\n");
        int n = 2 + (int)data_rand_below(&g.rng, 5);
        for (int s = 0; s < n; s++) sentence(&g);
        put(&g, "\n");
    }
    if (g.oom) {
        free(g.buf);
        return NULL;
    }
    g.len--; /* no trailing newline: documents are stripped of them */
    g.buf[g.len] = 0;
    *len = g.len;
    return g.buf;
}
