/*
 * degrade.c — the controlled corruption behind `degrade: p` quality tiers.
 *
 * A sentence is text up to and including '.', '!' or '?' (or a line end).
 * Its words (runs of non-blanks, punctuation attached) are shuffled in place
 * of each other, keeping the whitespace between them; then every ASCII
 * letter is replaced by a random lowercase letter with probability `noise`.
 * Length in bytes is preserved and UTF-8 stays valid (only ASCII letters are
 * replaced and whole words are moved), so the corrupted text is still text,
 * just worse text: what a low-quality tier should be.
 */
#include "data/data.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t s, e;
} span;

static int blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

char *data_degrade_doc(const char *text, size_t len, double noise, uint64_t seed,
                       size_t *out_len)
{
    char *out = malloc(len + 1);
    span *w = malloc((len / 2 + 2) * sizeof *w);
    size_t *perm = malloc((len / 2 + 2) * sizeof *perm);
    if (!out || !w || !perm) {
        free(out);
        free(w);
        free(perm);
        return NULL;
    }
    uint64_t rng = seed * 0x9e3779b97f4a7c15ULL + 0x1234567;
    size_t pos = 0;
    while (pos < len) {
        /* One sentence: [pos, end). */
        size_t end = pos;
        while (end < len && text[end] != '\n' && text[end] != '.' && text[end] != '!' &&
               text[end] != '?')
            end++;
        if (end < len) end++;
        while (end < len && (text[end] == '.' || text[end] == '!' || text[end] == '?')) end++;
        size_t nw = 0;
        for (size_t i = pos; i < end;) {
            if (blank(text[i])) {
                i++;
                continue;
            }
            size_t s = i;
            while (i < end && !blank(text[i])) i++;
            w[nw++] = (span){s, i};
        }
        /* Shuffle the words; copy blanks through unchanged. */
        for (size_t i = 0; i < nw; i++) perm[i] = i;
        for (size_t i = nw; i > 1; i--) {
            size_t j = (size_t)data_rand_below(&rng, i);
            size_t t = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = t;
        }
        size_t o = pos, k = 0;
        for (size_t i = pos; i < end;) {
            if (blank(text[i])) {
                out[o++] = text[i++];
                continue;
            }
            while (i < end && !blank(text[i])) i++; /* skip the original word */
            span src = w[perm[k++]];
            memcpy(out + o, text + src.s, src.e - src.s);
            o += src.e - src.s;
        }
        pos = end;
    }
    /* Character noise. */
    uint64_t thresh = noise >= 1 ? UINT64_MAX : noise <= 0 ? 0 : (uint64_t)(noise * 18446744073709551616.0);
    for (size_t i = 0; i < len; i++) {
        char c = out[i];
        if (((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) && data_splitmix64(&rng) < thresh)
            out[i] = (char)('a' + data_rand_below(&rng, 26));
    }
    out[len] = 0;
    free(w);
    free(perm);
    *out_len = len;
    return out;
}
