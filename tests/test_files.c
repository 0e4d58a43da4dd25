/*
 * test_files.c — atomic writes, whole-file reads, the text buffer and
 * grown arrays.
 */
#include "tests/harness.h"
#include "orchestrator/util/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

TEST(files_write_atomic_replaces_whole_and_leaves_no_temp)
{
    char p[512];
    harness_path(p, sizeof p, "f.txt");
    umask(022);
    CHECK_INT(xo_write_atomic(p, "first version\n", 14), 0);
    CHECK_INT(xo_write_atomic(p, "second\n", 7), 0);
    size_t n = 0;
    char *s = xo_read_file(p, &n);
    CHECK_STR(s, "second\n");
    CHECK_INT(n, 7);
    free(s);
    CHECK_INT(count_entries(harness_tmpdir()), 1);
    struct stat st;
    CHECK_INT(stat(p, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0644); /* for others to read: not mkstemp's 0600 */
}

TEST(files_write_atomic_fails_cleanly)
{
    char p[512];
    harness_path(p, sizeof p, "no/such/dir/f.txt");
    errno = 0;
    CHECK_INT(xo_write_atomic(p, "x", 1), -1);
    CHECK_INT(errno, ENOENT);
    CHECK(xo_read_file(p, NULL) == NULL);
    CHECK_INT(count_entries(harness_tmpdir()), 0);
}

TEST(files_read_large_and_binary)
{
    char p[512];
    harness_path(p, sizeof p, "big.bin");
    size_t len = 100000;
    char *data = malloc(len);
    for (size_t i = 0; i < len; i++) data[i] = (char)(i * 7 + 3);
    CHECK_INT(xo_write_atomic(p, data, len), 0);
    size_t n = 0;
    char *back = xo_read_file(p, &n);
    CHECK_INT(n, len);
    CHECK(memcmp(back, data, len) == 0);
    CHECK_INT(back[len], 0);
    free(back);
    free(data);
}

TEST(textbuf_grows_escapes_and_hands_over)
{
    textbuf b = {0};
    for (int i = 0; i < 5000; i++) tb_printf(&b, "%d,", i);
    tb_escape(&b, "<a href=\"x\">&</a>");
    char *s = tb_take(&b);
    CHECK(s != NULL);
    CHECK(strncmp(s, "0,1,2,", 6) == 0);
    CHECK_CONTAINS(s, "4999,&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
    CHECK(b.s == NULL && b.n == 0);
    free(s);
    tb_free(&b); /* freeing an empty buffer is fine */
}

/* xo_grow: the first capacity, then doublings until need fits; p itself
 * while it has room; NULL (p untouched, cap unchanged) when the bytes
 * would not fit in a size_t, where the hand-written blocks it replaced
 * multiplied without looking. */
TEST(grow_doubles_keeps_room_and_refuses_overflow)
{
    size_t cap = 0;
    int *v = xo_grow(NULL, &cap, 1, sizeof *v, 16);
    CHECK(v != NULL);
    CHECK_INT(cap, 16);
    for (int i = 0; i < 16; i++) v[i] = i;
    CHECK(xo_grow(v, &cap, 16, sizeof *v, 16) == v); /* room: nothing moves */
    CHECK_INT(cap, 16);
    int *w = xo_grow(v, &cap, 17, sizeof *w, 16);
    CHECK(w != NULL);
    v = w;
    CHECK_INT(cap, 32);
    CHECK_INT(v[15], 15); /* the contents survive */
    w = xo_grow(v, &cap, 200, sizeof *w, 16); /* doubled until it fits */
    CHECK(w != NULL);
    v = w;
    CHECK_INT(cap, 256);
    v[199] = 199;
    size_t big = cap;
    CHECK(xo_grow(v, &big, SIZE_MAX / 2, sizeof *v, 16) == NULL); /* 4 * 2^63 bytes */
    CHECK_INT(big, 256);
    CHECK(xo_grow(v, &big, SIZE_MAX, 2, 16) == NULL); /* the doubling would wrap to 0 */
    CHECK_INT(big, 256);
    CHECK_INT(v[199], 199); /* still the caller's */
    free(v);
}
