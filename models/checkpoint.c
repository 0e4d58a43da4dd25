/*
 * checkpoint.c — save and restore a training run bit for bit.
 *
 * Layout (native little-endian; a checkpoint is for resuming on the machine
 * or kind of machine that wrote it):
 *   "XOVERCK1"  8 bytes magic
 *   int32[10]   version, layers, dim, heads, hidden, vocab, seq_len, batch,
 *               objective, mask_id
 *               (version 2, written for a mixture of experts, adds int32[2]
 *               experts, top_k; a dense model is written as version 1, as
 *               before experts existed, so old and new builds read it)
 *   uint64      optimizer step
 *   uint64[4]   run RNG state
 *   uint64[2]   data position (the caller's)
 *   double[8]   the caller's extra numbers
 *   uint64      n, the number of parameter floats
 *   float[n] x3 parameters, AdamW first moment, second moment
 *   (version 3, written when the caller gives a text, has int32[12] as
 *   version 2 does and adds here: uint32 length, then the text's bytes)
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
#define CK_VERSION 3 /* the newest this build reads */
/* Header bytes for `nint` config integers. */
#define CK_HEAD_N(nint) (8 + (nint) * 4 + 8 + 32 + 16 + 8 * MODEL_CKPT_EXTRA + 8)
#define CK_HEAD_MAX CK_HEAD_N(12)
static int ck_nint(int32_t version) { return version >= 2 ? 12 : 10; }

static void put(unsigned char **p, const void *v, size_t n)
{
    memcpy(*p, v, n);
    *p += n;
}

/* Returns the header's length. */
static size_t header(const model *m, const model_ckpt_state *st, int with_text, unsigned char *buf)
{
    unsigned char *p = buf;
    const model_config *c = &m->cfg;
    int32_t ver = with_text ? 3 : c->experts > 0 ? 2 : 1;
    int32_t f[12] = {ver, c->layers, c->dim, c->heads, c->hidden, c->vocab,
                     c->seq_len, c->batch, (int32_t)c->objective, c->mask_id, c->experts, c->top_k};
    uint64_t n = m->n_params;
    put(&p, CK_MAGIC, 8);
    put(&p, f, 4 * (size_t)ck_nint(ver));
    put(&p, &m->step, 8);
    put(&p, m->rng.s, 32);
    put(&p, st->data_pos, 16);
    put(&p, st->extra, 8 * MODEL_CKPT_EXTRA);
    put(&p, &n, 8);
    return (size_t)(p - buf);
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
    return model_save_text(m, path, st, NULL, err, errlen);
}

int model_save_text(const model *m, const char *path, const model_ckpt_state *st, const char *text, char *err,
                    size_t errlen)
{
    size_t tl = text ? strlen(text) : 0;
    if (tl >= MODEL_CKPT_TEXT)
        return snprintf(err, errlen, "checkpoint %s: the caller's text is longer than %d bytes", path,
                        MODEL_CKPT_TEXT - 1), -1;
    unsigned char head[CK_HEAD_MAX];
    size_t hlen = header(m, st, tl > 0, head);
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
    int bad = write_all(fd, head, hlen, &crc) || write_all(fd, m->params, nb, &crc) ||
              write_all(fd, m->m, nb, &crc) || write_all(fd, m->v, nb, &crc);
    if (tl) {
        uint32_t t32 = (uint32_t)tl;
        bad = bad || write_all(fd, &t32, 4, &crc) || write_all(fd, text, tl, &crc);
    }
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
    else if (n < CK_HEAD_N(10) + 4 || memcmp(buf, CK_MAGIC, 8) != 0) why = "not an xover checkpoint";
    else {
        int32_t ver;
        memcpy(&ver, buf + 8, 4);
        if (ver >= 2 && n < CK_HEAD_N(12) + 4) ver = 0; /* too short: unsupported below */
        uint32_t want;
        memcpy(&want, buf + n - 4, 4);
        uLong crc = crc32(0L, Z_NULL, 0);
        for (size_t off = 0; off < n - 4; off += 1u << 30) {
            size_t k = n - 4 - off < (1u << 30) ? n - 4 - off : (1u << 30);
            crc = crc32(crc, buf + off, (uInt)k);
        }
        if (ver < 1 || ver > CK_VERSION) why = "unsupported checkpoint version";
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

/* The config in the header; returns the header's length. */
static size_t parse_config(const unsigned char *buf, model_config *c, int32_t *version)
{
    int32_t f[12] = {0};
    memcpy(f, buf + 8, 4);
    if (version) *version = f[0];
    int nint = ck_nint(f[0]);
    memcpy(f, buf + 8, 4 * (size_t)nint);
    *c = (model_config){.layers = f[1], .dim = f[2], .heads = f[3], .hidden = f[4], .vocab = f[5],
                        .seq_len = f[6], .batch = f[7], .objective = (model_objective)f[8],
                        .mask_id = f[9], .experts = f[10], .top_k = f[11]};
    return CK_HEAD_N(nint);
}

int model_ckpt_config(const char *path, model_config *cfg, char *err, size_t errlen)
{
    size_t n;
    unsigned char *buf = read_checked(path, &n, err, errlen);
    if (!buf) return -1;
    parse_config(buf, cfg, NULL);
    free(buf);
    return model_config_check(cfg, err, errlen);
}

int model_load(model *m, const char *path, model_ckpt_state *st, char *err, size_t errlen)
{
    return model_load_text(m, path, st, NULL, 0, err, errlen);
}

int model_load_text(model *m, const char *path, model_ckpt_state *st, char *text, size_t textlen, char *err,
                    size_t errlen)
{
    size_t n;
    unsigned char *buf = read_checked(path, &n, err, errlen);
    if (!buf) return -1;
    model_config c;
    int32_t ver;
    size_t hl = parse_config(buf, &c, &ver);
    const model_config *h = &m->cfg;
    uint64_t np;
    memcpy(&np, buf + hl - 8, 8);
    /* Format 3: the caller's text follows the moments. */
    size_t body = np <= (n - hl) / 12 ? hl + 3 * sizeof(float) * np : n, tl = 0;
    if (ver >= 3 && body + 8 <= n) {
        uint32_t t32;
        memcpy(&t32, buf + body, 4);
        tl = t32;
        if (tl >= MODEL_CKPT_TEXT || body + 8 + tl != n || (text && tl >= textlen)) {
            snprintf(err, errlen, "checkpoint %s: its caller text is damaged or too long", path);
            free(buf);
            return -1;
        }
    }
    /* The batch only sizes activations: a checkpoint loads at any batch.
     * Training settings (noise, capacity, balance weight) are not the
     * model's shape: they are the run config's to keep. */
    if (c.layers != h->layers || c.dim != h->dim || c.heads != h->heads || c.hidden != h->hidden ||
        c.vocab != h->vocab || c.seq_len != h->seq_len || c.objective != h->objective ||
        (c.objective == MODEL_MDM && c.mask_id != h->mask_id) || c.experts != h->experts ||
        (c.experts > 0 && c.top_k != h->top_k) || np != m->n_params ||
        n != body + (ver >= 3 ? 4 + tl : 0) + 4) {
        snprintf(err, errlen, "checkpoint %s was written for a different model config", path);
        free(buf);
        return -1;
    }
    const unsigned char *p = buf + hl - (8 + 32 + 16 + 8 * MODEL_CKPT_EXTRA + 8);
    memcpy(&m->step, p, 8);
    memcpy(m->rng.s, p + 8, 32);
    memcpy(st->data_pos, p + 40, 16);
    memcpy(st->extra, p + 56, 8 * MODEL_CKPT_EXTRA);
    size_t nb = sizeof(float) * np;
    memcpy(m->params, buf + hl, nb);
    memcpy(m->m, buf + hl + nb, nb);
    memcpy(m->v, buf + hl + 2 * nb, nb);
    if (text && textlen) {
        if (tl) memcpy(text, buf + body + 4, tl);
        text[tl] = 0;
    }
    free(buf);
    return 0;
}
