/*
 * corpus.c — from a corpus name, file, directory or glob to documents.
 *
 * Sources are resolved to a sorted list of files (so the document order, and
 * everything seeded from it, does not depend on readdir order). Each file is
 * read whole (gzip inflated), checked for being text, and split into
 * documents by the separator, a multiline PCRE2 pattern; .jsonl files give
 * one document per line instead. Invalid UTF-8 is kept as bytes (the
 * tokenizer is byte-level) and counted. Exact duplicates are dropped, first
 * occurrence kept, so that no text can sit on both sides of the split.
 */
#include "data/data.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define SEP_DEFAULT "\\n\\s*\\n"
#define SEP_FORTUNES "^%$"
/* dictd dictionaries (gcide, foldoc, jargon): entries are separated by a
 * blank line followed by an unindented headword line; blank lines inside an
 * entry are followed by indentation. */
#define SEP_DICTD "\\n\\s*\\n(?=\\S)"

typedef struct {
    char **path;
    size_t n, cap;
} file_list;

static int list_add(file_list *l, const char *p)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **np = realloc(l->path, cap * sizeof *np);
        if (!np) return -1;
        l->path = np;
        l->cap = cap;
    }
    if (!(l->path[l->n] = strdup(p))) return -1;
    l->n++;
    return 0;
}

static void list_free(file_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->path[i]);
    free(l->path);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files a directory contributes: text-like names only, so fortune's
 * strfile indexes (*.dat) and other binaries alongside are left out. */
static int wanted_in_dir(const char *name)
{
    if (name[0] == '.') return 0;
    const char *dot = strrchr(name, '.');
    if (!dot) return 1;
    static const char *const ok[] = {".txt", ".text", ".jsonl", ".gz", ".dz", NULL};
    for (int i = 0; ok[i]; i++)
        if (!strcmp(dot, ok[i])) return 1;
    return 0;
}

static int walk_dir(const char *dir, file_list *l, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot open directory %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode))
            rc = walk_dir(p, l, err, errlen);
        else if (S_ISREG(st.st_mode) && wanted_in_dir(e->d_name) && list_add(l, p) != 0) {
            snprintf(err, errlen, "out of memory listing %s", dir);
            rc = -1;
        }
    }
    closedir(d);
    return rc;
}

static int synthetic_count(const char *source, size_t *n)
{
    if (strcmp(source, "synthetic") == 0) {
        *n = DATA_SYNTHETIC_DEFAULT_DOCS;
        return 1;
    }
    if (strncmp(source, "synthetic:", 10) != 0) return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(source + 10, &end, 10);
    if (errno || *end || end == source + 10 || v == 0 || v > 100000000ULL) return -1;
    *n = (size_t)v;
    return 1;
}

/* The named corpora: English text that Debian packages install. The dictd
 * dictionaries (gcide, foldoc, jargon) share one format: an entry is an
 * unindented headword line and an indented body, entries separated by a
 * blank line, so they share SEP_DICTD. */
typedef struct {
    const char *name, *path, *package, *separator;
} named_corpus;

static const named_corpus named_corpora[] = {
    {"fortunes", DATA_FORTUNES_DIR, "fortunes", SEP_FORTUNES},
    {"gcide", DATA_GCIDE_FILE, "dict-gcide", SEP_DICTD},
    {"foldoc", DATA_FOLDOC_FILE, "dict-foldoc", SEP_DICTD},
    {"jargon", DATA_JARGON_FILE, "dict-jargon", SEP_DICTD},
};

static const named_corpus *find_named(const char *source)
{
    for (size_t i = 0; i < sizeof named_corpora / sizeof named_corpora[0]; i++)
        if (!strcmp(source, named_corpora[i].name)) return &named_corpora[i];
    return NULL;
}

const char *data_corpus_separator(const data_corpus_spec *spec)
{
    if (spec->separator && spec->separator[0]) return spec->separator;
    const named_corpus *nc = find_named(spec->source);
    return nc ? nc->separator : SEP_DEFAULT;
}

void data_corpus_split_note(const data_corpus_spec *spec, size_t n_docs, uint64_t bytes, char *buf,
                            size_t len)
{
    int given = spec->separator && spec->separator[0];
    int synthetic = !strncmp(spec->source, "synthetic", 9);
    const char *sep = data_corpus_separator(spec);
    if (synthetic || strstr(spec->source, ".jsonl")) {
        snprintf(buf, len, "it has %zu document%s of %llu bytes in all%s", n_docs, n_docs == 1 ? "" : "s",
                 (unsigned long long)bytes, synthetic ? "" : " (one per JSON line)");
        return;
    }
    /* A file's default: the case where a wrong separator goes unnoticed. */
    int file_default = !given && !find_named(spec->source);
    snprintf(buf, len,
             "the separator '%s'%s split it into %zu document%s of %llu bytes in all%s", sep,
             file_default ? " (blank lines, the default for files)" : given ? " (data.separator)" : "",
             n_docs, n_docs == 1 ? "" : "s", (unsigned long long)bytes,
             file_default ? "; if its documents are separated otherwise, set data.separator to the "
                            "PCRE2 pattern of the lines between them (e.g. '^%$' for a line holding %)"
                          : "");
}

/* The files of a non-synthetic source, sorted. */
static int resolve(const char *source, file_list *l, char *err, size_t errlen)
{
    const named_corpus *nc = find_named(source);
    const char *path = nc ? nc->path : source;

    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            if (walk_dir(path, l, err, errlen) != 0) return -1;
            if (l->n == 0) {
                snprintf(err, errlen, "corpus directory %s has no text files "
                         "(*.txt, *.jsonl, *.gz, or names without an extension)", path);
                return -1;
            }
        } else if (list_add(l, path) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    } else if (strpbrk(source, "*?[")) {
        glob_t g;
        int rc = glob(source, 0, NULL, &g);
        if (rc == GLOB_NOMATCH) {
            snprintf(err, errlen, "corpus glob '%s' matches no files", source);
            return -1;
        }
        if (rc != 0) {
            snprintf(err, errlen, "corpus glob '%s' failed", source);
            return -1;
        }
        for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
            struct stat s2;
            if (stat(g.gl_pathv[i], &s2) == 0 && S_ISREG(s2.st_mode)) rc = list_add(l, g.gl_pathv[i]);
        }
        globfree(&g);
        if (rc != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (l->n == 0) {
            snprintf(err, errlen, "corpus glob '%s' matches no regular files", source);
            return -1;
        }
    } else if (nc) {
        snprintf(err, errlen, "corpus '%s' needs %s, which is missing (install the Debian package "
                 "'%s')", source, path, nc->package);
        return -1;
    } else {
        snprintf(err, errlen, "corpus '%s': no such file, directory or named corpus "
                 "(named corpora: fortunes, gcide, foldoc, jargon, synthetic, synthetic:N)", source);
        return -1;
    }
    qsort(l->path, l->n, sizeof *l->path, cmp_str);
    return 0;
}

int data_corpus_identity(const data_corpus_spec *spec, char hex[65], char *err, size_t errlen)
{
    SHA2_CTX ctx;
    SHA256Init(&ctx);
    const char *tf = spec->text_field && spec->text_field[0] ? spec->text_field : "text";
    const char *sep = data_corpus_separator(spec);
    SHA256Update(&ctx, (const uint8_t *)"xover-corpus-1", 15);
    SHA256Update(&ctx, (const uint8_t *)spec->source, strlen(spec->source) + 1);
    SHA256Update(&ctx, (const uint8_t *)sep, strlen(sep) + 1);
    SHA256Update(&ctx, (const uint8_t *)tf, strlen(tf) + 1);
    size_t nsyn;
    int syn = synthetic_count(spec->source, &nsyn);
    if (syn < 0) {
        snprintf(err, errlen, "corpus '%s': synthetic:N needs a document count N from 1 to 1e8",
                 spec->source);
        return -1;
    }
    if (!syn) {
        file_list l = {0};
        if (resolve(spec->source, &l, err, errlen) != 0) {
            list_free(&l);
            return -1;
        }
        for (size_t i = 0; i < l.n; i++) {
            struct stat st;
            if (stat(l.path[i], &st) != 0) {
                snprintf(err, errlen, "cannot stat %s: %s", l.path[i], strerror(errno));
                list_free(&l);
                return -1;
            }
            char id[128];
            int k = snprintf(id, sizeof id, "|%lld|%lld.%09ld|", (long long)st.st_size,
                             (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
            SHA256Update(&ctx, (const uint8_t *)l.path[i], strlen(l.path[i]));
            SHA256Update(&ctx, (const uint8_t *)id, (size_t)k);
        }
        list_free(&l);
    }
    SHA256End(&ctx, hex);
    return 0;
}

/* ---- building the document list ---- */

typedef struct {
    data_corpus *c;
    size_t text_cap, off_cap;
    size_t *len; /* parallel to off while building */
} builder;

static int add_doc(builder *b, const char *p, size_t n)
{
    /* Strip leading and trailing newlines; skip blank documents. */
    while (n && (p[0] == '\n' || p[0] == '\r')) p++, n--;
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r')) n--;
    size_t k = 0;
    while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\n' || p[k] == '\r' || p[k] == '\f'))
        k++;
    if (k == n) return 0;
    data_corpus *c = b->c;
    if (c->n_docs + 2 > b->off_cap) {
        size_t cap = b->off_cap ? b->off_cap * 2 : 1024;
        size_t *o = realloc(c->off, cap * sizeof *o);
        if (!o) return -1;
        c->off = o;
        b->off_cap = cap;
    }
    size_t used = c->off[c->n_docs];
    if (used + n + 1 > b->text_cap) {
        size_t cap = b->text_cap ? b->text_cap : 1 << 16;
        while (cap < used + n + 1) cap *= 2;
        char *t = realloc(c->text, cap);
        if (!t) return -1;
        c->text = t;
        b->text_cap = cap;
    }
    memcpy(c->text + used, p, n);
    c->n_docs++;
    c->off[c->n_docs] = used + n;
    return 0;
}

/* Reject what is clearly not text: a NUL byte, or mostly control bytes. */
static int check_text(const char *path, const char *buf, size_t n, char *err, size_t errlen)
{
    if (n == 0) {
        snprintf(err, errlen, "%s is empty", path);
        return -1;
    }
    const char *nul = memchr(buf, 0, n);
    if (nul) {
        snprintf(err, errlen, "%s looks binary (a NUL byte at offset %zu), not text", path,
                 (size_t)(nul - buf));
        return -1;
    }
    size_t probe = n < 65536 ? n : 65536, bad = 0;
    for (size_t i = 0; i < probe; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch < 32 && ch != '\n' && ch != '\r' && ch != '\t' && ch != '\f' && ch != '\b' &&
            ch != 27)
            bad++;
    }
    if (bad * 10 > probe) {
        snprintf(err, errlen, "%s looks binary (%zu of its first %zu bytes are control "
                 "characters), not text", path, bad, probe);
        return -1;
    }
    return 0;
}

static int split_text(builder *b, const char *path, const char *buf, size_t n, pcre2_code *re,
                      pcre2_match_data *md, char *err, size_t errlen)
{
    size_t start = 0, pos = 0;
    while (pos <= n) {
        int rc = pcre2_match(re, (PCRE2_SPTR)buf, n, pos, 0, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            snprintf(err, errlen, "%s: separator match failed: %s", path, (char *)msg);
            return -1;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (add_doc(b, buf + start, ov[0] - start) != 0) goto oom;
        start = ov[1];
        /* An empty match must not stall the scan. */
        pos = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
    }
    if (start < n && add_doc(b, buf + start, n - start) != 0) goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory splitting %s", path);
    return -1;
}

static int split_jsonl(builder *b, const char *path, const char *buf, size_t n,
                       const char *field, char *err, size_t errlen)
{
    size_t line = 0, p = 0;
    while (p < n) {
        line++;
        const char *nl = memchr(buf + p, '\n', n - p);
        size_t e = nl ? (size_t)(nl - buf) : n;
        size_t k = p;
        while (k < e && (buf[k] == ' ' || buf[k] == '\t' || buf[k] == '\r')) k++;
        if (k < e) {
            json_error_t je;
            json_t *o = json_loadb(buf + p, e - p, 0, &je);
            if (!o) {
                snprintf(err, errlen, "%s:%zu:%d: bad JSON: %s", path, line, je.column, je.text);
                return -1;
            }
            json_t *t = json_is_object(o) ? json_object_get(o, field) : NULL;
            if (!json_is_string(t)) {
                snprintf(err, errlen, "%s:%zu: the record has no string field \"%s\" "
                         "(set data.text_field)", path, line, field);
                json_decref(o);
                return -1;
            }
            int rc = add_doc(b, json_string_value(t), json_string_length(t));
            json_decref(o);
            if (rc != 0) {
                snprintf(err, errlen, "out of memory reading %s", path);
                return -1;
            }
        }
        p = e + 1;
    }
    return 0;
}

static int is_jsonl(const char *path)
{
    size_t n = strlen(path);
    if (n > 3 && !strcmp(path + n - 3, ".gz")) n -= 3;
    else if (n > 3 && !strcmp(path + n - 3, ".dz")) n -= 3;
    return n > 6 && !strncmp(path + n - 6, ".jsonl", 6);
}

static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) { i++; continue; }
        int k;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) k = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef) k = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) k = 3, cp = c & 0x07;
        else return 0;
        for (int j = 1; j <= k; j++) {
            if (i + (size_t)j >= n || (s[i + j] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += (size_t)k + 1;
    }
    return 1;
}

/* Drop exact duplicates (first occurrence wins), compacting in place. */
static int dedupe(data_corpus *c)
{
    size_t n = c->n_docs;
    data_hash_index *h = malloc((n ? n : 1) * sizeof *h);
    unsigned char *drop = calloc(n ? n : 1, 1);
    if (!h || !drop) {
        free(h);
        free(drop);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        h[i] = (data_hash_index){data_hash64(c->text + c->off[i], c->off[i + 1] - c->off[i], 1), i};
    qsort(h, n, sizeof *h, data_cmp_hash_index);
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && h[b].h == h[a].h) b++;
        for (size_t x = a; x < b; x++) {
            if (drop[h[x].i]) continue;
            size_t ix = h[x].i, lx = c->off[ix + 1] - c->off[ix];
            for (size_t y = x + 1; y < b; y++) {
                size_t iy = h[y].i, ly = c->off[iy + 1] - c->off[iy];
                if (!drop[iy] && lx == ly && !memcmp(c->text + c->off[ix], c->text + c->off[iy], lx))
                    drop[iy] = 1;
            }
        }
        a = b;
    }
    size_t w = 0, used = 0;
    for (size_t i = 0; i < n; i++) {
        if (drop[i]) continue;
        size_t s = c->off[i], l = c->off[i + 1] - s;
        memmove(c->text + used, c->text + s, l);
        c->off[w] = used;
        used += l;
        w++;
    }
    c->off[w] = used;
    c->n_dup_docs = n - w;
    c->n_docs = w;
    free(h);
    free(drop);
    return 0;
}

static void progress(const data_progress *p, const char *what, double done, double total)
{
    if (p && p->fn) p->fn(p->ctx, what, done, total);
}

data_corpus *data_corpus_load(const data_corpus_spec *spec, const data_progress *prog,
                              char *err, size_t errlen)
{
    data_corpus *c = calloc(1, sizeof *c);
    builder b = {c, 0, 0, NULL};
    file_list l = {0};
    pcre2_code *re = NULL;
    pcre2_match_data *md = NULL;
    if (!c || !(c->off = calloc(1024, sizeof *c->off))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b.off_cap = 1024;

    size_t nsyn;
    int syn = synthetic_count(spec->source, &nsyn);
    if (syn < 0) {
        snprintf(err, errlen, "corpus '%s': synthetic:N needs a document count N from 1 to 1e8",
                 spec->source);
        goto fail;
    }
    if (syn) {
        for (size_t i = 0; i < nsyn; i++) {
            size_t n;
            char *d = data_synthetic_doc(i, &n);
            int rc = d ? add_doc(&b, d, n) : -1;
            free(d);
            if (rc != 0) {
                snprintf(err, errlen, "out of memory generating the synthetic corpus");
                goto fail;
            }
            c->bytes_read += n;
        }
        c->n_files = 0;
    } else {
        if (resolve(spec->source, &l, err, errlen) != 0) goto fail;
        const char *sep = data_corpus_separator(spec);
        int ecode;
        PCRE2_SIZE eoff;
        re = pcre2_compile((PCRE2_SPTR)sep, PCRE2_ZERO_TERMINATED,
                           PCRE2_MULTILINE | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ecode, &eoff,
                           NULL);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ecode, msg, sizeof msg);
            snprintf(err, errlen, "bad separator pattern '%s' at offset %zu: %s", sep,
                     (size_t)eoff, (char *)msg);
            goto fail;
        }
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort: falls back to the interpreter */
        md = pcre2_match_data_create_from_pattern(re, NULL);
        const char *tf = spec->text_field && spec->text_field[0] ? spec->text_field : "text";
        for (size_t i = 0; i < l.n; i++) {
            progress(prog, "reading corpus", (double)i, (double)l.n);
            size_t n;
            char *buf = data_read_file(l.path[i], &n, err, errlen);
            if (!buf) goto fail;
            int rc = check_text(l.path[i], buf, n, err, errlen);
            if (rc == 0)
                rc = is_jsonl(l.path[i]) ? split_jsonl(&b, l.path[i], buf, n, tf, err, errlen)
                                         : split_text(&b, l.path[i], buf, n, re, md, err, errlen);
            free(buf);
            if (rc != 0) goto fail;
            c->bytes_read += n;
            c->n_files++;
        }
        progress(prog, "reading corpus", (double)l.n, (double)l.n);
    }
    if (c->n_docs == 0) {
        snprintf(err, errlen, "corpus '%s' has no documents", spec->source);
        goto fail;
    }
    c->n_raw_docs = c->n_docs;
    if (dedupe(c) != 0) {
        snprintf(err, errlen, "out of memory removing duplicate documents");
        goto fail;
    }
    for (size_t i = 0; i < c->n_docs; i++)
        if (!valid_utf8((const unsigned char *)c->text + c->off[i], c->off[i + 1] - c->off[i]))
            c->n_invalid_utf8++;
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    list_free(&l);
    return c;
fail:
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    list_free(&l);
    data_corpus_free(c);
    return NULL;
}

void data_corpus_free(data_corpus *c)
{
    if (!c) return;
    free(c->text);
    free(c->off);
    free(c);
}
