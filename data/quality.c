/*
 * quality.c — a heuristic document quality scorer in the style of the
 * Gopher (Rae et al. 2021) and C4 (Raffel et al. 2020) filters.
 *
 * Each rule is a PCRE2 pattern (what to count) plus a threshold (what is
 * acceptable). Instead of a hard keep/drop, a rule yields a graded value in
 * [0, 1] (1 = passes, falling towards 0 the further the document is from the
 * threshold), so that documents can be ranked and cut into tiers by score
 * quantile. The score is the sum of (value - 1): 0 is a clean document.
 */
#include "data/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define MIN_WORDS 10
#define MAX_WORDS 100000

static const struct {
    const char *name, *about;
} RULES[DATA_N_RULES] = {
    [DATA_RULE_WORDS] = {"words", "word count (\\S+) between 10 and 100000"},
    [DATA_RULE_WORD_LEN] = {"word_len", "mean word length between 3 and 10 characters"},
    [DATA_RULE_SYMBOLS] = {"symbols", "'#' and ellipses per word at most 0.1"},
    [DATA_RULE_LINE_PUNCT] = {"line_punct", "at least 70% of lines end in terminal punctuation"},
    [DATA_RULE_ALPHA_WORDS] = {"alpha_words", "at least 80% of words contain a letter"},
    [DATA_RULE_DUP_LINES] = {"dup_lines", "at most 30% of lines repeat an earlier line"},
    [DATA_RULE_DUP_NGRAMS] = {"dup_ngrams", "at most 20% of word 3-grams repeat an earlier one"},
    [DATA_RULE_STOP_WORDS] = {"stop_words", "at least 2 English stop words (the, be, to, of, ...)"},
    [DATA_RULE_JUNK] = {"junk", "no 'lorem ipsum', curly braces or 'javascript' (C4)"},
};

enum { P_WORD, P_SYMBOL, P_LINE, P_PUNCT_END, P_LETTER, P_STOP, P_JUNK, N_PAT };

static const struct {
    const char *re;
    uint32_t flags;
} PATS[N_PAT] = {
    [P_WORD] = {"\\S+", 0},
    [P_SYMBOL] = {"#|\\.\\.\\.|\\x{2026}", 0},
    [P_LINE] = {"^[^\\n]*\\S[^\\n]*$", PCRE2_MULTILINE},
    [P_PUNCT_END] = {"[.!?\"'\\x{201d}\\x{2019}]\\s*$", 0},
    [P_LETTER] = {"\\p{L}", 0},
    [P_STOP] = {"\\b(?:the|be|to|of|and|that|have|with)\\b", PCRE2_CASELESS},
    [P_JUNK] = {"lorem ipsum|[{}]|javascript", PCRE2_CASELESS},
};

typedef struct {
    size_t s, e;
} span;

struct data_scorer {
    pcre2_code *re[N_PAT];
    int jit[N_PAT];
    pcre2_match_data *md;
    span *words, *lines;
    size_t cap_words, cap_lines;
    uint64_t *hashes;
    size_t cap_hashes;
};

const char *data_rule_name(int r) { return r >= 0 && r < DATA_N_RULES ? RULES[r].name : "?"; }
const char *data_rule_about(int r) { return r >= 0 && r < DATA_N_RULES ? RULES[r].about : "?"; }

data_scorer *data_scorer_new(char *err, size_t errlen)
{
    data_scorer *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0; i < N_PAT; i++) {
        int ec;
        PCRE2_SIZE eo;
        s->re[i] = pcre2_compile((PCRE2_SPTR)PATS[i].re, PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PATS[i].flags,
                                 &ec, &eo, NULL);
        if (!s->re[i]) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ec, msg, sizeof msg);
            snprintf(err, errlen, "quality pattern %s does not compile: %s", PATS[i].re, (char *)msg);
            data_scorer_free(s);
            return NULL;
        }
        s->jit[i] = pcre2_jit_compile(s->re[i], PCRE2_JIT_COMPLETE) == 0;
    }
    if (!(s->md = pcre2_match_data_create(4, NULL))) {
        data_scorer_free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return s;
}

void data_scorer_free(data_scorer *s)
{
    if (!s) return;
    for (int i = 0; i < N_PAT; i++) pcre2_code_free(s->re[i]);
    pcre2_match_data_free(s->md);
    free(s->words);
    free(s->lines);
    free(s->hashes);
    free(s);
}

/* Next match of pattern p in t[from..n): 1 with *m set, 0 if none. */
static int next(data_scorer *s, int p, const char *t, size_t n, size_t from, span *m)
{
    if (from > n) return 0;
    int rc = s->jit[p] ? pcre2_jit_match(s->re[p], (PCRE2_SPTR)t, n, from, 0, s->md, NULL)
                       : pcre2_match(s->re[p], (PCRE2_SPTR)t, n, from, 0, s->md, NULL);
    if (rc < 0) return 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
    m->s = ov[0];
    m->e = ov[1];
    return 1;
}

static size_t count(data_scorer *s, int p, const char *t, size_t n)
{
    size_t c = 0, pos = 0;
    span m;
    while (next(s, p, t, n, pos, &m)) {
        c++;
        pos = m.e > m.s ? m.e : m.e + 1;
    }
    return c;
}

/* All matches of p, into a growable span array; -1 when out of memory. */
static long collect(data_scorer *s, int p, const char *t, size_t n, span **arr, size_t *cap)
{
    size_t c = 0, pos = 0;
    span m;
    while (next(s, p, t, n, pos, &m)) {
        if (c == *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            span *na = realloc(*arr, nc * sizeof *na);
            if (!na) return -1;
            *arr = na;
            *cap = nc;
        }
        (*arr)[c++] = m;
        pos = m.e > m.s ? m.e : m.e + 1;
    }
    return (long)c;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Share of items (hashes) that repeat an earlier equal item. */
static double repeat_share(uint64_t *h, size_t n)
{
    if (n == 0) return 0;
    qsort(h, n, sizeof *h, cmp_u64);
    size_t rep = 0;
    for (size_t i = 1; i < n; i++) rep += h[i] == h[i - 1];
    return (double)rep / (double)n;
}

static int ensure_hashes(data_scorer *s, size_t n)
{
    if (n <= s->cap_hashes) return 0;
    uint64_t *nh = realloc(s->hashes, n * sizeof *nh);
    if (!nh) return -1;
    s->hashes = nh;
    s->cap_hashes = n;
    return 0;
}

static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

double data_score(data_scorer *s, const char *t, size_t n, data_rule_result *out)
{
    data_rule_result r[DATA_N_RULES];
    memset(r, 0, sizeof r);
    long nw = collect(s, P_WORD, t, n, &s->words, &s->cap_words);
    long nl = collect(s, P_LINE, t, n, &s->lines, &s->cap_lines);
    if (nw < 0 || nl < 0) nw = nl = 0; /* out of memory: score as empty */

    /* words */
    double w = (double)nw;
    r[DATA_RULE_WORDS].measure = w;
    r[DATA_RULE_WORDS].value = w < MIN_WORDS ? w / MIN_WORDS : w > MAX_WORDS ? MAX_WORDS / w : 1;

    /* mean word length, in characters (UTF-8 continuation bytes not counted) */
    size_t chars = 0, alpha = 0;
    span m;
    for (long i = 0; i < nw; i++) {
        const span *x = &s->words[i];
        for (size_t k = x->s; k < x->e; k++) chars += ((unsigned char)t[k] & 0xc0) != 0x80;
        if (next(s, P_LETTER, t, x->e, x->s, &m)) alpha++;
    }
    double ml = nw ? (double)chars / w : 0;
    r[DATA_RULE_WORD_LEN].measure = ml;
    r[DATA_RULE_WORD_LEN].value = ml < 3 ? ml / 3 : ml > 10 ? 10 / ml : 1;

    /* symbols per word */
    double sym = (double)count(s, P_SYMBOL, t, n) / (w > 0 ? w : 1);
    r[DATA_RULE_SYMBOLS].measure = sym;
    r[DATA_RULE_SYMBOLS].value = sym <= 0.1 ? 1 : clamp01(1 - (sym - 0.1) / 0.4);

    /* lines ending in terminal punctuation */
    size_t punct = 0;
    for (long i = 0; i < nl; i++)
        if (next(s, P_PUNCT_END, t, s->lines[i].e, s->lines[i].s, &m)) punct++;
    double lp = nl ? (double)punct / (double)nl : 0;
    r[DATA_RULE_LINE_PUNCT].measure = lp;
    r[DATA_RULE_LINE_PUNCT].value = clamp01(lp / 0.7);

    /* words with a letter */
    double aw = nw ? (double)alpha / w : 0;
    r[DATA_RULE_ALPHA_WORDS].measure = aw;
    r[DATA_RULE_ALPHA_WORDS].value = clamp01(aw / 0.8);

    /* repeated lines (compared without surrounding blanks) */
    double dl = 0;
    if (nl > 1 && ensure_hashes(s, (size_t)nl) == 0) {
        for (long i = 0; i < nl; i++) {
            size_t a = s->lines[i].s, b = s->lines[i].e;
            while (a < b && (t[a] == ' ' || t[a] == '\t')) a++;
            while (b > a && (t[b - 1] == ' ' || t[b - 1] == '\t' || t[b - 1] == '\r')) b--;
            s->hashes[i] = data_hash64(t + a, b - a, 5);
        }
        dl = repeat_share(s->hashes, (size_t)nl);
    }
    r[DATA_RULE_DUP_LINES].measure = dl;
    r[DATA_RULE_DUP_LINES].value = dl <= 0.3 ? 1 : clamp01(1 - (dl - 0.3) / 0.7);

    /* repeated word 3-grams */
    double dn = 0;
    if (nw >= 3 && ensure_hashes(s, (size_t)nw) == 0) {
        size_t ng = (size_t)nw - 2;
        for (size_t i = 0; i < ng; i++) {
            uint64_t h = 0;
            for (int k = 0; k < 3; k++) {
                const span *x = &s->words[i + (size_t)k];
                h = data_hash64(t + x->s, x->e - x->s, h + 11);
            }
            s->hashes[i] = h;
        }
        dn = repeat_share(s->hashes, ng);
    }
    r[DATA_RULE_DUP_NGRAMS].measure = dn;
    r[DATA_RULE_DUP_NGRAMS].value = dn <= 0.2 ? 1 : clamp01(1 - (dn - 0.2) / 0.8);

    /* stop words */
    double sw = (double)count(s, P_STOP, t, n);
    r[DATA_RULE_STOP_WORDS].measure = sw;
    r[DATA_RULE_STOP_WORDS].value = sw >= 2 ? 1 : sw / 2;

    /* C4 junk markers */
    double jk = (double)count(s, P_JUNK, t, n);
    r[DATA_RULE_JUNK].measure = jk;
    r[DATA_RULE_JUNK].value = jk > 0 ? 0 : 1;

    double score = 0;
    for (int i = 0; i < DATA_N_RULES; i++) {
        r[i].contribution = r[i].value - 1;
        score += r[i].contribution;
    }
    if (out) memcpy(out, r, sizeof r);
    return score;
}
