/*
 * checkpoint.c — save and restore a training run bit for bit.
 *
 * Layout (native little-endian; a checkpoint is for resuming on the machine
 * or kind of machine that wrote it):
 *   "XOVERCK1"  8 bytes magic
 *   int32[10]   version, layers, dim, heads, hidden, vocab, seq_len, batch,
 *               objective, mask_id
 *   uint64      optimizer step
 *   uint64[4]   run RNG state
 *   uint64[2]   data position (the caller's)
 *   double[8]   the caller's extra numbers
 *   uint64      n, the number of parameter floats
 *   float[n] x3 parameters, AdamW first moment, second moment
 *   uint32      CRC-32 (zlib) of every byte before it
 * Written to a temporary file, fsync'd and renamed over the old one, so a
 * crash leaves either the old checkpoint or the new, never a torn one.
 */
#include "models/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define CK_MAGIC "XOVERCK1"
#define CK_VERSION 1
#define CK_HEAD (8 + 10 * 4 + 8 + 32 + 16 + 8 * MODEL_CKPT_EXTRA + 8)

static void put(unsigned char **p, const void *v, size_t n)
{
    memcpy(*p, v, n);
    *p += n;
}

static void header(const model *m, const model_ckpt_state *st, unsigned char *buf)
{
    unsigned char *p = buf;
    const model_config *c = &m->cfg;
    int32_t f[10] = {CK_VERSION, c->layers, c->dim, c->heads, c->hidden, c->vocab,
                     c->seq_len, c->batch, (int32_t)c->objective, c->mask_id};
    uint64_t n = m->n_params;
    put(&p, CK_MAGIC, 8);
    put(&p, f, sizeof f);
    put(&p, &m->step, 8);
    put(&p, m->rng.s, 32);
    put(&p, st->data_pos, 16);
    put(&p, st->extra, 8 * MODEL_CKPT_EXTRA);
    put(&p, &n, 8);
}

static int write_all(int fd, const void *buf, size_t n, uLong *crc)
{
    const unsigned char *p = buf;
    if (crc) {
        /* crc32() takes a uInt length: feed it in pieces. */
        for (size_t off = 0; off < n; off += 1u << 30) {
            size_t k = n - off < (1u << 30) ? n - off : (1u << 30);
            *crc = crc32(*crc, p + off, (uInt)k);
        }
    }
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int model_save(const model *m, const char *path, const model_ckpt_state *st, char *err,
               size_t errlen)
{
    unsigned char head[CK_HEAD];
    header(m, st, head);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) return snprintf(err, errlen, "out of memory"), -1;
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write checkpoint %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t nb = sizeof(float) * m->n_params;
    int bad = write_all(fd, head, sizeof head, &crc) || write_all(fd, m->params, nb, &crc) ||
              write_all(fd, m->m, nb, &crc) || write_all(fd, m->v, nb, &crc);
    uint32_t c32 = (uint32_t)crc;
    bad = bad || write_all(fd, &c32, 4, NULL) || fsync(fd) != 0;
    int e = errno;
    if (close(fd) != 0 && !bad) bad = 1, e = errno;
    if (!bad && rename(tmp, path) != 0) bad = 1, e = errno;
    if (bad) {
        snprintf(err, errlen, "cannot write checkpoint %s: %s", path, strerror(e));
        unlink(tmp);
    }
    free(tmp);
    return bad ? -1 : 0;
}

/* Read the whole file and check magic, version and CRC. */
static unsigned char *read_checked(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) return snprintf(err, errlen, "cannot open checkpoint %s: %s", path, strerror(errno)), NULL;
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return snprintf(err, errlen, "out of memory reading %s", path), NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int rerr = ferror(f);
    fclose(f);
    const char *why = NULL;
    if (rerr) why = "read error";
    else if (n < CK_HEAD + 4 || memcmp(buf, CK_MAGIC, 8) != 0) why = "not an xover checkpoint";
    else {
        int32_t ver;
        memcpy(&ver, buf + 8, 4);
        uint32_t want;
        memcpy(&want, buf + n - 4, 4);
        uLong crc = crc32(0L, Z_NULL, 0);
        for (size_t off = 0; off < n - 4; off += 1u << 30) {
            size_t k = n - 4 - off < (1u << 30) ? n - 4 - off : (1u << 30);
            crc = crc32(crc, buf + off, (uInt)k);
        }
        if (ver != CK_VERSION) why = "unsupported checkpoint version";
        else if ((uint32_t)crc != want) why = "checksum mismatch (the file is corrupt or truncated)";
    }
    if (why) {
        snprintf(err, errlen, "checkpoint %s: %s", path, why);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static void parse_config(const unsigned char *buf, model_config *c)
{
    int32_t f[10];
    memcpy(f, buf + 8, sizeof f);
    *c = (model_config){f[1], f[2], f[3], f[4], f[5], f[6], f[7], (model_objective)f[8], f[9]};
}

int model_ckpt_config(const char *path, model_config *cfg, char *err, size_t errlen)
{
    size_t n;
    unsigned char *buf = read_checked(path, &n, err, errlen);
    if (!buf) return -1;
    parse_config(buf, cfg);
    free(buf);
    return model_config_check(cfg, err, errlen);
}

int model_load(model *m, const char *path, model_ckpt_state *st, char *err, size_t errlen)
{
    size_t n;
    unsigned char *buf = read_checked(path, &n, err, errlen);
    if (!buf) return -1;
    model_config c;
    parse_config(buf, &c);
    const model_config *h = &m->cfg;
    uint64_t np;
    memcpy(&np, buf + CK_HEAD - 8, 8);
    /* The batch only sizes activations: a checkpoint loads at any batch. */
    if (c.layers != h->layers || c.dim != h->dim || c.heads != h->heads || c.hidden != h->hidden ||
        c.vocab != h->vocab || c.seq_len != h->seq_len || c.objective != h->objective ||
        (c.objective == MODEL_MDM && c.mask_id != h->mask_id) || np != m->n_params ||
        n != CK_HEAD + 3 * sizeof(float) * np + 4) {
        snprintf(err, errlen, "checkpoint %s was written for a different model config", path);
        free(buf);
        return -1;
    }
    const unsigned char *p = buf + 8 + 40;
    memcpy(&m->step, p, 8);
    memcpy(m->rng.s, p + 8, 32);
    memcpy(st->data_pos, p + 40, 16);
    memcpy(st->extra, p + 56, 8 * MODEL_CKPT_EXTRA);
    size_t nb = sizeof(float) * np;
    memcpy(m->params, buf + CK_HEAD, nb);
    memcpy(m->m, buf + CK_HEAD + nb, nb);
    memcpy(m->v, buf + CK_HEAD + 2 * nb, nb);
    free(buf);
    return 0;
}
