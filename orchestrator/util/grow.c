/*
 * grow.c — room in a dynamic array, grown by doubling (util.h), so that
 * n appends cost O(n) copies and no caller multiplies sizes by hand.
 */
#include "orchestrator/util/util.h"

#include <stdint.h>
#include <stdlib.h>

void *xo_grow(void *p, size_t *cap, size_t need, size_t size, size_t first)
{
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : (first ? first : 1);
    while (c < need) c = c > SIZE_MAX / 2 ? need : 2 * c;
    if (size && c > SIZE_MAX / size) return NULL; /* c * size bytes would wrap */
    void *q = realloc(p, c * size);
    if (!q) return NULL;
    *cap = c;
    return q;
}
