/*
 * test_data_quality.c — each quality rule on a crafted document, and the
 * degrade transform on one document.
 */
#include "tests/harness.h"
#include "data/data.h"

#include <stdlib.h>

static const char *CLEAN =
    "The old farmer walked to the market with his daughter.\n"
    "They sold apples and bought bread for the long winter.\n"
    "Everyone in the village agreed that it had been a good year.";

/* The contribution of `rule` to the score of doc (and the score). */
static double rule_of(const char *doc, int rule, double *score)
{
    char err[256];
    data_scorer *s = data_scorer_new(err, sizeof err);
    data_rule_result r[DATA_N_RULES];
    double sc = data_score(s, doc, strlen(doc), r);
    data_scorer_free(s);
    double sum = 0;
    for (int i = 0; i < DATA_N_RULES; i++) sum += r[i].contribution;
    if (score) *score = sc;
    return fabs(sum - sc) < 1e-9 ? r[rule].contribution : 1.0; /* 1.0 flags a bad sum */
}

static int fires(const char *doc, int rule) { return rule_of(doc, rule, NULL) < 0; }

TEST(data_quality_clean_document_passes_every_rule)
{
    double score;
    for (int r = 0; r < DATA_N_RULES; r++) CHECK_NEAR(rule_of(CLEAN, r, &score), 0.0, 1e-12);
    CHECK_NEAR(score, 0.0, 1e-12);
    CHECK_STR(data_rule_name(DATA_RULE_STOP_WORDS), "stop_words");
}

TEST(data_quality_rule_words)
{
    CHECK(fires("Good morning.", DATA_RULE_WORDS));
    CHECK_NEAR(rule_of("Good morning.", DATA_RULE_WORDS, NULL), 0.2 - 1, 1e-9);
}

TEST(data_quality_rule_word_len)
{
    CHECK(fires("a b c d e f g h i j k l m n o p q r s t and the a b.", DATA_RULE_WORD_LEN));
    CHECK(fires("Incomprehensibilities notwithstanding, the antidisestablishmentarianism of "
                "counterrevolutionaries overwhelmingly characterized internationalization.",
                DATA_RULE_WORD_LEN));
    CHECK(!fires(CLEAN, DATA_RULE_WORD_LEN));
}

TEST(data_quality_rule_symbols)
{
    CHECK(fires("The list: # one # two # three # four ... and so on ... with the rest ...",
                DATA_RULE_SYMBOLS));
}

TEST(data_quality_rule_line_punct)
{
    CHECK(fires("the cat and the dog\nthe bird and the fish\nthe cow and the pig are here\n"
                "with the horse of the farm",
                DATA_RULE_LINE_PUNCT));
}

TEST(data_quality_rule_alpha_words)
{
    CHECK(fires("123 456 789 1011 1213 1415 1617 1819 2021 2223 and the 42.",
                DATA_RULE_ALPHA_WORDS));
}

TEST(data_quality_rule_dup_lines)
{
    const char *d = "Buy the best shoes in town today.\nBuy the best shoes in town today.\n"
                    "Buy the best shoes in town today.\nBuy the best shoes in town today.\n"
                    "Visit us at the market with your friends.";
    CHECK(fires(d, DATA_RULE_DUP_LINES));
    CHECK(!fires(CLEAN, DATA_RULE_DUP_LINES));
}

TEST(data_quality_rule_dup_ngrams)
{
    const char *d = "the cat sat on the mat and the cat sat on the mat and the cat sat on the "
                    "mat and the cat sat on the mat.";
    CHECK(fires(d, DATA_RULE_DUP_NGRAMS));
    CHECK(!fires(d, DATA_RULE_DUP_LINES)); /* one line: only the n-gram rule sees it */
}

TEST(data_quality_rule_stop_words)
{
    CHECK(fires("Cats chase mice quickly. Dogs bark loudly outside. Birds sing sweetly every "
                "morning.",
                DATA_RULE_STOP_WORDS));
}

TEST(data_quality_rule_junk)
{
    char d[1024];
    snprintf(d, sizeof d, "%s\nLorem ipsum dolor sit amet.", CLEAN);
    CHECK(fires(d, DATA_RULE_JUNK));
    snprintf(d, sizeof d, "%s\nfunction() { return the value; }", CLEAN);
    CHECK(fires(d, DATA_RULE_JUNK));
}

TEST(data_quality_scores_any_bytes)
{
    char err[256];
    data_scorer *s = data_scorer_new(err, sizeof err);
    const char junk[] = "\xff\xfe\x80 abc \xc3 d\xe9j\xe0 vu \0 tail";
    double sc = data_score(s, junk, sizeof junk - 1, NULL);
    CHECK(sc < 0 && sc >= -DATA_N_RULES);
    CHECK_NEAR(data_score(s, "", 0, NULL), data_score(s, "", 0, NULL), 0);
    data_scorer_free(s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The words of text, sorted, joined by spaces (into buf). */
static void sorted_words(const char *text, size_t n, char *buf, size_t cap)
{
    char *copy = strndup(text, n), *save = NULL, *w[256];
    size_t k = 0;
    for (char *t = strtok_r(copy, " \n", &save); t && k < 256; t = strtok_r(NULL, " \n", &save)) w[k++] = t;
    qsort(w, k, sizeof *w, cmp_str);
    buf[0] = 0;
    for (size_t i = 0; i < k; i++) {
        strncat(buf, w[i], cap - strlen(buf) - 2);
        strcat(buf, " ");
    }
    free(copy);
}

TEST(data_degrade_shuffles_words_and_adds_noise)
{
    const char *doc = "One two three four five six seven. Alpha beta gamma delta epsilon zeta!\n"
                      "Última línea con acentos aquí y allá.";
    size_t n = strlen(doc), m, m2, m3;
    char *a = data_degrade_doc(doc, n, 0.0, 5, &m);
    char *b = data_degrade_doc(doc, n, 0.0, 5, &m2);
    char *c = data_degrade_doc(doc, n, 0.3, 5, &m3);
    CHECK(a && b && c);
    CHECK_INT(m, n);
    CHECK_INT(m3, n);
    CHECK_STR(a, b);        /* deterministic */
    CHECK(strcmp(a, doc)); /* words moved */
    char x[1024], y[1024];
    sorted_words(doc, n, x, sizeof x);
    sorted_words(a, m, y, sizeof y);
    CHECK_STR(x, y); /* noise 0: the same words, only their order changed */
    /* Words stay within their sentence: the first sentence keeps its words. */
    const char *dot = strchr(doc, '.');
    sorted_words(doc, (size_t)(dot - doc + 1), x, sizeof x);
    sorted_words(a, (size_t)(dot - doc + 1), y, sizeof y);
    CHECK_STR(x, y);
    /* Noise changes letters only, never spaces or punctuation. */
    int changed = 0;
    for (size_t i = 0; i < n; i++) {
        char p = a[i], q = c[i];
        if (p != q) {
            changed++;
            CHECK((q >= 'a' && q <= 'z'));
            CHECK((p >= 'a' && p <= 'z') || (p >= 'A' && p <= 'Z'));
        }
    }
    CHECK(changed > 5 && changed < 40);
    free(a);
    free(b);
    free(c);
}
