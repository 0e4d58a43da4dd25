/*
 * epochs.c — iterating packed sequences for many epochs.
 *
 * The budget stream (documents separated by EOS) is cut once into
 * n = floor(U / L) sequences of L tokens; packing never changes, only the
 * order in which an epoch visits the sequences: a permutation drawn from
 * (seed, epoch). The position (epoch, index) is all the state there is, so a
 * checkpoint restores the exact batch sequence.
 */
#include "data/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int data_epochs_init(data_epochs *e, const int32_t *stream, size_t n, int seq_len,
                     uint64_t seed, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    if (seq_len < 1 || n < (size_t)seq_len) {
        snprintf(err, errlen, "a budget of %zu tokens does not fill one sequence of seq_len %d",
                 n, seq_len);
        return -1;
    }
    e->stream = stream;
    e->seq_len = seq_len;
    e->n_seqs = n / (size_t)seq_len;
    e->seed = seed;
    return 0;
}

void data_epochs_free(data_epochs *e)
{
    free(e->order);
    e->order = NULL;
}

static int ensure_order(data_epochs *e, uint64_t epoch)
{
    if (e->order && e->order_epoch == epoch + 1) return 0;
    free(e->order);
    uint64_t s = e->seed * 0x9e3779b97f4a7c15ULL ^ (epoch + 1) * 0xd1b54a32d192ed03ULL;
    e->order = data_permutation(e->n_seqs, s);
    e->order_epoch = e->order ? epoch + 1 : 0;
    return e->order ? 0 : -1;
}

size_t data_epochs_seq_at(data_epochs *e, uint64_t epoch, size_t k)
{
    if (ensure_order(e, epoch) != 0) return k; /* out of memory: degrade to sequential */
    return e->order[k];
}

void data_epochs_next(data_epochs *e, int32_t *out, int B)
{
    for (int b = 0; b < B; b++) {
        size_t s = data_epochs_seq_at(e, e->epoch, (size_t)e->index);
        memcpy(out + (size_t)b * e->seq_len, e->stream + s * (size_t)e->seq_len,
               (size_t)e->seq_len * sizeof *out);
        if (++e->index == e->n_seqs) {
            e->index = 0;
            e->epoch++;
        }
    }
}

double data_epochs_epoch(const data_epochs *e)
{
    return (double)e->epoch + (double)e->index / (double)e->n_seqs;
}
