/*
 * util.c — the small helpers the data module shares: a stable 64-bit hash,
 * a seeded PRNG and permutations, atomic file writes, and reading a file
 * whole with transparent gzip (dictzip is gzip with an extra header field,
 * which zlib skips).
 */
#include "data/data.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t fmix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* A simple 8-bytes-at-a-time multiply-rotate hash. It only needs to be
 * stable across machines (the split depends on it) and well mixed, not
 * cryptographic; the cache keys use SHA-256. Reads are memcpy'd so the
 * result does not depend on alignment (little-endian assumed, as the cache
 * files are). */
uint64_t data_hash64(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (0x9e3779b97f4a7c15ULL * (n + 1));
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, s, 8);
        k *= 0x87c37b91114253d5ULL;
        k = rotl(k, 31);
        k *= 0x4cf5ad432745937fULL;
        h ^= k;
        h = rotl(h, 27) * 5 + 0x52dce729;
        s += 8;
        n -= 8;
    }
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) k |= (uint64_t)s[i] << (8 * i);
    k *= 0x87c37b91114253d5ULL;
    k = rotl(k, 31);
    k *= 0x4cf5ad432745937fULL;
    h ^= k;
    return fmix(h);
}

uint64_t data_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t data_rand_below(uint64_t *state, uint64_t n)
{
    if (n <= 1) return 0;
    /* Rejection sampling keeps it exactly uniform. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do r = data_splitmix64(state);
    while (r >= limit);
    return r % n;
}

int data_cmp_hash_index(const void *a, const void *b)
{
    const data_hash_index *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

size_t *data_permutation(size_t n, uint64_t seed)
{
    size_t *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) p[i] = i;
    uint64_t st = seed ^ 0x5851f42d4c957f2dULL;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)data_rand_below(&st, i);
        size_t t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
    return p;
}

int data_mkdirs(const char *dir, char *err, size_t errlen)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
        snprintf(err, errlen, "directory name too long: %s", dir);
        return -1;
    }
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create directory %s: %s", buf, strerror(errno));
                return -1;
            }
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", dir);
        return -1;
    }
    return 0;
}

int data_write_atomic(const char *path, const void *const *parts, const size_t *lens,
                      size_t n, char *err, size_t errlen)
{
    /* The temp name is unique per process and call, in the same directory
     * (rename is atomic only within a file system): a concurrent writer of
     * the same path writes its own temp file, and the last rename wins with
     * identical, complete content. Readers never see a partial file. */
    static unsigned counter;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *p = parts[i];
        size_t left = lens[i];
        while (left > 0) {
            ssize_t w = write(fd, p, left);
            if (w < 0) {
                if (errno == EINTR) continue;
                snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
                close(fd);
                unlink(tmp);
                return -1;
            }
            p += w;
            left -= (size_t)w;
        }
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static char *read_raw(const char *path, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory reading %s (%zu bytes)", path, size);
        close(fd);
        return NULL;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            snprintf(err, errlen, "cannot read %s: %s", path, r < 0 ? strerror(errno) : "file shrank");
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[size] = 0;
    *len = size;
    return buf;
}

/* Inflate every gzip member of in[0..n) (concatenated members are legal). */
static char *gunzip(const char *path, const unsigned char *in, size_t n, size_t *len, char *err,
                    size_t errlen)
{
    size_t cap = n * 4 + 1024, used = 0;
    char *out = malloc(cap);
    if (!out) {
        snprintf(err, errlen, "out of memory inflating %s", path);
        return NULL;
    }
    if (n > 0xffffffffu) {
        snprintf(err, errlen, "%s: compressed file over 4 GB is not supported", path);
        free(out);
        return NULL;
    }
    size_t pos = 0;
    while (pos < n) {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
            snprintf(err, errlen, "zlib cannot start inflating %s", path);
            free(out);
            return NULL;
        }
        z.next_in = (unsigned char *)in + pos;
        z.avail_in = (uInt)(n - pos);
        int rc;
        do {
            if (cap - used < 65536) {
                cap *= 2;
                char *g = realloc(out, cap);
                if (!g) {
                    inflateEnd(&z);
                    free(out);
                    snprintf(err, errlen, "out of memory inflating %s", path);
                    return NULL;
                }
                out = g;
            }
            z.next_out = (unsigned char *)out + used;
            z.avail_out = (uInt)(cap - used - 1);
            rc = inflate(&z, Z_NO_FLUSH);
            used = (size_t)((char *)z.next_out - out);
        } while (rc == Z_OK);
        size_t consumed = (size_t)(z.next_in - in);
        const char *msg = z.msg;
        inflateEnd(&z);
        if (rc != Z_STREAM_END) {
            if (rc == Z_BUF_ERROR)
                snprintf(err, errlen, "%s: truncated gzip stream (it ends after %zu bytes "
                         "without the end of the compressed data)", path, n);
            else
                snprintf(err, errlen, "%s: corrupt gzip data at byte %zu (%s)", path, consumed,
                         msg ? msg : "zlib error");
            free(out);
            return NULL;
        }
        pos = consumed;
        /* Trailing zero padding after the last member is tolerated. */
        while (pos < n && in[pos] == 0) pos++;
        if (pos < n && !(n - pos >= 2 && in[pos] == 0x1f && in[pos + 1] == 0x8b)) break;
    }
    out[used] = 0;
    *len = used;
    return out;
}

char *data_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    size_t n;
    char *raw = read_raw(path, &n, err, errlen);
    if (!raw) return NULL;
    if (n >= 2 && (unsigned char)raw[0] == 0x1f && (unsigned char)raw[1] == 0x8b) {
        char *out = gunzip(path, (const unsigned char *)raw, n, len, err, errlen);
        free(raw);
        return out;
    }
    *len = n;
    return raw;
}

int data_lock(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT, 0666);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open lock file %s: %s", path, strerror(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        /* Some network file systems have no flock: go on without it. */
        break;
    }
    return fd;
}

void data_unlock(int fd)
{
    if (fd >= 0) close(fd); /* closing releases the lock */
}
