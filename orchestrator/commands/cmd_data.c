/*
 * cmd_data.c — `xover data prepare|stats|score|tokenize`: look at and warm
 * up the data pipeline (data/) outside of training.
 *
 * prepare SPEC  builds every cache entry a sweep's data section needs, so the
 *               runs only open them. SPEC is a JSON file with a "data" object:
 *               a run config (docs/run-config.md) or a sweep-like section in
 *               which vocab and unique_tokens may be lists, counts may be
 *               strings with k/M suffixes, and quality may name tiers
 *               ({"high": {"degrade": 0}, "low": {"degrade": 0.5}}); a
 *               "grid" object's unique_tokens / vocab lists are used too.
 * stats         documents, bytes, tokens, vocabulary coverage, tokens per
 *               tier and per budget.
 * score FILE    per-document quality scores and the rules that fired.
 * tokenize      show how text splits into tokens.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/run/train_source.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXV 16

typedef struct {
    const char *name;
    data_quality q;
} tier_spec;

typedef struct {
    data_corpus_spec corpus;
    uint64_t val_tokens, order_seed;
    int vocab[MAXV], nvocab;
    uint64_t budget[MAXV];
    int nbudget;
    tier_spec tier[MAXV];
    int ntier;
    const char *cache;
} spec;

/* A count: a JSON integer, or a string like "25k" / "1.5M". */
static int json_count(const json_t *v, const char *what, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) == floor(json_real_value(v))) {
        *out = (uint64_t)json_real_value(v);
        return 0;
    }
    long long x;
    if (json_is_string(v) && cli_parse_long("data", what, json_string_value(v), &x) == 0) {
        *out = (uint64_t)x;
        return 0;
    }
    if (!json_is_string(v)) fprintf(stderr, "xover data: %s must be a count (like 50000 or \"50k\")\n", what);
    return -1;
}

/* A count or a list of counts, appended to arr. */
static int json_counts(const json_t *v, const char *what, uint64_t *arr, int *n)
{
    if (!v) return 0;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (*n == MAXV) return cli_error(XO_USAGE, "%s: at most %d values", what, MAXV), -1;
            if (json_count(e, what, &arr[(*n)++]) != 0) return -1;
        }
        return 0;
    }
    if (*n == MAXV) return -1;
    return json_count(v, what, &arr[(*n)++]);
}

static int tier_from(const json_t *o, const char *name, tier_spec *t)
{
    t->name = name;
    t->q.degrade = 0;
    t->q.top = 1;
    const json_t *d = json_object_get(o, "degrade"), *tp = json_object_get(o, "top");
    if (d && !(json_is_number(d) && json_number_value(d) >= 0 && json_number_value(d) <= 1))
        return cli_error(XO_USAGE, "quality tier '%s': degrade must be a number from 0 to 1", name), -1;
    if (tp && !(json_is_number(tp) && json_number_value(tp) > 0 && json_number_value(tp) <= 1))
        return cli_error(XO_USAGE, "quality tier '%s': top must be a number in (0, 1]", name), -1;
    if (d && tp && json_number_value(d) > 0 && json_number_value(tp) < 1)
        return cli_error(XO_USAGE, "quality tier '%s' takes degrade or top, not both", name), -1;
    if (d) t->q.degrade = json_number_value(d);
    if (tp) t->q.top = json_number_value(tp);
    return 0;
}

static int spec_from_json(spec *s, const json_t *root, const char *file)
{
    const json_t *data = json_object_get(root, "data");
    if (!json_is_object(data))
        return cli_error(XO_USAGE, "%s has no \"data\" object (a run config or a sweep's data "
                         "section is expected)", file), -1;
    const json_t *grid = json_object_get(root, "grid");
    const json_t *v;
    if ((v = json_object_get(data, "corpus"))) s->corpus.source = json_string_value(v);
    if ((v = json_object_get(data, "separator"))) s->corpus.separator = json_string_value(v);
    if ((v = json_object_get(data, "text_field"))) s->corpus.text_field = json_string_value(v);
    if (!s->corpus.source) return cli_error(XO_USAGE, "%s: data.corpus must be a string", file), -1;
    if ((v = json_object_get(data, "val_tokens")) && json_count(v, "data.val_tokens", &s->val_tokens))
        return -1;
    if ((v = json_object_get(data, "order_seed")) && json_count(v, "data.order_seed", &s->order_seed))
        return -1;
    uint64_t vv[MAXV];
    int nv = 0;
    if (json_counts(json_object_get(data, "vocab"), "data.vocab", vv, &nv) ||
        json_counts(json_object_get(grid, "vocab"), "grid.vocab", vv, &nv))
        return -1;
    for (int i = 0; i < nv; i++) s->vocab[s->nvocab++] = (int)vv[i];
    if (json_counts(json_object_get(data, "unique_tokens"), "data.unique_tokens", s->budget,
                    &s->nbudget) ||
        json_counts(json_object_get(grid, "unique_tokens"), "grid.unique_tokens", s->budget,
                    &s->nbudget))
        return -1;
    /* Tiers: a run config's quality_spec, or a sweep's named tiers. */
    const json_t *q = json_object_get(data, "quality");
    if (json_is_object(q)) {
        const char *name;
        json_t *o;
        json_object_foreach((json_t *)q, name, o) {
            if (s->ntier == MAXV) break;
            if (!json_is_object(o))
                return cli_error(XO_USAGE, "%s: data.quality.%s must be an object like "
                                 "{\"degrade\": 0.5} or {\"top\": 0.3}", file, name), -1;
            if (tier_from(o, name, &s->tier[s->ntier++]) != 0) return -1;
        }
    } else if (json_is_object(json_object_get(data, "quality_spec"))) {
        const char *name = json_is_string(q) ? json_string_value(q) : "all";
        if (tier_from(json_object_get(data, "quality_spec"), name, &s->tier[s->ntier++]) != 0)
            return -1;
    }
    return 0;
}

static void spec_defaults(spec *s)
{
    if (!s->corpus.source) s->corpus.source = "fortunes";
    if (!s->val_tokens) s->val_tokens = 50000;
    if (!s->nvocab) s->vocab[s->nvocab++] = 512;
    if (!s->ntier) s->tier[s->ntier++] = (tier_spec){"all", {0, 1}};
}

/* Options shared by prepare and stats; returns 0, or an exit code. */
static int common_opts(const char *cmd, int argc, char **argv, spec *s, const char **file,
                       json_t **root)
{
    static const struct option opts[] = {
        {"corpus", required_argument, 0, 'c'},     {"vocab", required_argument, 0, 'v'},
        {"val-tokens", required_argument, 0, 'V'}, {"separator", required_argument, 0, 's'},
        {"text-field", required_argument, 0, 'f'}, {"order-seed", required_argument, 0, 'o'},
        {"cache", required_argument, 0, 'C'},      {"budgets", required_argument, 0, 'b'},
        {"tiers", required_argument, 0, 't'},      {0, 0, 0, 0}};
    const char *corpus = NULL, *sep = NULL, *tf = NULL, *budgets = NULL, *tiers = NULL;
    long long vocab = -1, val = -1, oseed = -1;
    int c;
    while ((c = cli_getopt(cmd, argc, argv, "", opts)) != -1) {
        switch (c) {
        case 'c': corpus = optarg; break;
        case 's': sep = optarg; break;
        case 'f': tf = optarg; break;
        case 'C': s->cache = optarg; break;
        case 'b': budgets = optarg; break;
        case 't': tiers = optarg; break;
        case 'v': if (cli_parse_long(cmd, "--vocab", optarg, &vocab)) return XO_USAGE; break;
        case 'V': if (cli_parse_long(cmd, "--val-tokens", optarg, &val)) return XO_USAGE; break;
        case 'o': if (cli_parse_long(cmd, "--order-seed", optarg, &oseed)) return XO_USAGE; break;
        default: return XO_USAGE;
        }
    }
    *file = optind < argc ? argv[optind++] : NULL;
    if (optind < argc) return cli_usage_error("data", "unexpected argument '%s'", argv[optind]);
    if (*file) {
        /* The caller keeps *root alive while the spec points into it. */
        json_error_t je;
        *root = json_load_file(*file, 0, &je);
        if (!*root)
            return cli_error(XO_USAGE, "%s:%d:%d: %s", *file, je.line, je.column, je.text);
        if (spec_from_json(s, *root, *file) != 0) return XO_USAGE;
    }
    if (corpus) s->corpus.source = corpus;
    if (sep) s->corpus.separator = sep;
    if (tf) s->corpus.text_field = tf;
    if (vocab >= 0) {
        s->nvocab = 1;
        s->vocab[0] = (int)vocab;
    }
    if (val >= 0) s->val_tokens = (uint64_t)val;
    if (oseed >= 0) s->order_seed = (uint64_t)oseed;
    if (budgets) {
        s->nbudget = 0;
        char *dup = strdup(budgets), *save = NULL;
        for (char *t = strtok_r(dup, ",", &save); t && s->nbudget < MAXV; t = strtok_r(NULL, ",", &save)) {
            long long b;
            if (cli_parse_long(cmd, "--budgets", t, &b)) {
                free(dup);
                return XO_USAGE;
            }
            s->budget[s->nbudget++] = (uint64_t)b;
        }
        free(dup);
    }
    if (tiers) {
        /* "all,top:0.5,degrade:0.5" */
        s->ntier = 0;
        static char buf[512];
        snprintf(buf, sizeof buf, "%s", tiers);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t && s->ntier < MAXV; t = strtok_r(NULL, ",", &save)) {
            tier_spec *ts = &s->tier[s->ntier++];
            *ts = (tier_spec){t, {0, 1}};
            char *colon = strchr(t, ':');
            double x = colon ? atof(colon + 1) : 0;
            if (!strcmp(t, "all")) continue;
            if (colon && !strncmp(t, "top:", 4) && x > 0 && x <= 1) ts->q.top = x;
            else if (colon && !strncmp(t, "degrade:", 8) && x >= 0 && x <= 1) ts->q.degrade = x;
            else return cli_usage_error(cmd, "--tiers takes all, top:Q or degrade:P, not '%s'", t);
        }
    }
    spec_defaults(s);
    return 0;
}

/* The data set of s at vocab, prepared (or read from the cache) behind a
 * progress bar that is ended before it returns: the caller prints next. */
static data_set *open_set(const spec *s, int vocab, train_source_progress *pr, char *err,
                          size_t errlen)
{
    data_set_spec ss = {s->corpus, vocab, s->val_tokens};
    data_progress prog = {train_source_progress_fn, pr};
    train_source_progress_init(pr);
    data_set *ds = data_set_open(&ss, train_source_cache_dir(s->cache), &prog, err, errlen);
    train_source_progress_end(pr);
    return ds;
}

/* Tier t of s over ds, behind the progress bar (ended before it returns). */
static data_tier *open_tier(const spec *s, int t, data_set *ds, train_source_progress *pr, char *err,
                            size_t errlen)
{
    data_tier *tr = data_tier_open(ds, &s->tier[t].q, s->order_seed, &(data_progress){train_source_progress_fn, pr},
                                   err, errlen);
    train_source_progress_end(pr);
    return tr;
}

static void tier_label(const tier_spec *t, char *buf, size_t n)
{
    if (t->q.top < 1) snprintf(buf, n, "%s (top %g)", t->name, t->q.top);
    else if (t->q.degrade > 0) snprintf(buf, n, "%s (degrade %g)", t->name, t->q.degrade);
    else snprintf(buf, n, "%s", t->name);
}

/* Read the subcommand's spec (options and SPEC file) and run fn on it;
 * the spec's strings live in the SPEC file's JSON until fn returns. */
static int with_spec(int argc, char **argv, int (*fn)(spec *s, const char *file, int argc))
{
    spec s = {0};
    const char *file;
    json_t *root = NULL;
    int rc = common_opts("data", argc, argv, &s, &file, &root);
    if (!rc) rc = fn(&s, file, argc);
    json_decref(root);
    return rc;
}

static int prepare_spec(spec *sp, const char *file, int argc)
{
    spec s = *sp;
    if (!file && argc <= 1)
        return cli_usage_error("data", "data prepare needs a SPEC file or --corpus/--vocab options");
    char err[1024];
    train_source_progress pr;
    for (int v = 0; v < s.nvocab; v++) {
        data_set *ds = open_set(&s, s.vocab[v], &pr, err, sizeof err);
        if (!ds) return cli_error(XO_USAGE, "%s", err);
        data_set_info in;
        data_set_info_get(ds, &in);
        printf("corpus %s, vocab %d: %s %s/%s.{bpe,set}\n", s.corpus.source, s.vocab[v],
               in.set_cached ? "cached in" : "prepared", train_source_cache_dir(s.cache),
               data_set_key(ds));
        printf("  %zu training documents, %llu tokens; validation %llu tokens\n", in.n_train_docs,
               (unsigned long long)in.train_tokens, (unsigned long long)in.val_tokens);
        for (int t = 0; t < s.ntier; t++) {
            data_tier *tr = open_tier(&s, t, ds, &pr, err, sizeof err);
            if (!tr) {
                data_set_close(ds);
                return cli_error(XO_USAGE, "%s", err);
            }
            char label[128];
            tier_label(&s.tier[t], label, sizeof label);
            printf("  tier %s: %llu tokens in %zu documents\n", label,
                   (unsigned long long)tr->tokens, tr->n_docs);
            for (int b = 0; b < s.nbudget; b++) {
                size_t nd;
                int32_t *bud = data_budget(ds, tr, s.budget[b], &nd, err, sizeof err);
                if (!bud) {
                    data_tier_free(tr);
                    data_set_close(ds);
                    train_source_progress_end(&pr);
                    return cli_error(XO_USAGE, "tier %s: %s", label, err);
                }
                printf("    budget %llu: %zu documents\n", (unsigned long long)s.budget[b], nd);
                free(bud);
            }
            data_tier_free(tr);
        }
        train_source_progress_end(&pr);
        data_set_close(ds);
    }
    return XO_OK;
}

static void fmt_count(uint64_t x, char *buf, size_t n)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%llu", (unsigned long long)x);
    size_t len = strlen(raw), w = 0;
    for (size_t i = 0; i < len && w + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) buf[w++] = ',';
        buf[w++] = raw[i];
    }
    buf[w] = 0;
}

static void fmt_budget(uint64_t b, char *buf, size_t n)
{
    if (b >= 1000000 && b % 1000000 == 0) snprintf(buf, n, "%lluM", (unsigned long long)(b / 1000000));
    else if (b >= 1000 && b % 1000 == 0) snprintf(buf, n, "%lluk", (unsigned long long)(b / 1000));
    else snprintf(buf, n, "%llu", (unsigned long long)b);
}

/* Cross-entropy of the validation stream under the training unigram
 * distribution (add-0.5 smoothing over the ids that can occur). */
static double unigram_ce(const data_set *ds, int vocab)
{
    double *cnt = calloc((size_t)vocab, sizeof *cnt);
    if (!cnt) return NAN;
    double total = 0;
    for (size_t i = 0; i < data_set_n_train(ds); i++) {
        size_t n;
        const int32_t *d = data_set_train_doc(ds, i, &n);
        for (size_t k = 0; k < n; k++) cnt[d[k]]++;
        cnt[DATA_TOK_EOS]++;
        total += (double)n + 1;
    }
    size_t nv;
    const int32_t *v = data_set_val(ds, &nv);
    double ce = 0, denom = total + 0.5 * (vocab - 1); /* MASK never occurs */
    for (size_t i = 0; i < nv; i++) ce -= log((cnt[v[i]] + 0.5) / denom);
    free(cnt);
    return ce / (double)nv;
}

static int stats_spec(spec *sp, const char *file, int argc)
{
    (void)file, (void)argc;
    spec s = *sp;
    if (s.ntier == 1 && !strcmp(s.tier[0].name, "all") && s.tier[0].q.top == 1 &&
        s.tier[0].q.degrade == 0) {
        s.tier[s.ntier++] = (tier_spec){"top:0.5", {0, 0.5}};
        s.tier[s.ntier++] = (tier_spec){"degrade:0.5", {0.5, 1}};
    }
    if (!s.nbudget) {
        static const uint64_t def[] = {25000, 50000, 100000, 400000, 1000000};
        for (int i = 0; i < 5; i++) s.budget[s.nbudget++] = def[i];
    }
    char err[1024], a[32], b[32];
    for (int v = 0; v < s.nvocab; v++) {
        train_source_progress pr;
        data_set *ds = open_set(&s, s.vocab[v], &pr, err, sizeof err);
        if (!ds) return cli_error(XO_USAGE, "%s", err);
        data_set_info in;
        data_set_info_get(ds, &in);
        int vocab = s.vocab[v];
        if (v) printf("\n");
        printf("corpus       %s (separator %s)\n", s.corpus.source,
               data_corpus_separator(&s.corpus));
        fmt_count(in.bytes_read, a, sizeof a);
        printf("read         %zu files, %s bytes, %zu documents\n", in.n_files, a, in.n_raw_docs);
        printf("documents    %zu after dropping %zu exact duplicates (%zu with invalid UTF-8, kept "
               "as bytes)\n", in.n_train_docs + in.n_val_docs, in.n_dup_docs, in.n_invalid_utf8);
        fmt_count(in.train_bytes, a, sizeof a);
        printf("split        %zu training documents (%s bytes), %zu held out for validation\n",
               in.n_train_docs, a, in.n_val_docs);
        printf("tokenizer    vocab %d = 256 bytes + EOS (id 256) + MASK (id 257) + %d merges\n",
               vocab, vocab - DATA_TOK_FIRST_MERGE);
        fmt_count(in.train_tokens, a, sizeof a);
        printf("tokens       %s training (one EOS per document), %.2f bytes/token\n", a,
               (double)in.train_bytes / (double)(in.train_tokens - in.n_train_docs));
        fmt_count(in.val_tokens, a, sizeof a);
        printf("validation   %s tokens; unigram cross-entropy %.2f nats/token\n", a,
               unigram_ce(ds, vocab));
        printf("coverage     %llu of %d ids occur in the training tokens (%.1f%%)\n",
               (unsigned long long)in.vocab_used, vocab, 100.0 * (double)in.vocab_used / vocab);

        /* tiers x budgets: documents each budget spans */
        printf("\n%-22s %12s %9s", "tier (order_seed)", "tokens", "docs");
        for (int k = 0; k < s.nbudget; k++) {
            fmt_budget(s.budget[k], b, sizeof b);
            printf(" %9s", b);
        }
        printf("\n");
        for (int t = 0; t < s.ntier; t++) {
            data_tier *tr = open_tier(&s, t, ds, &pr, err, sizeof err);
            if (!tr) {
                data_set_close(ds);
                return cli_error(XO_USAGE, "%s", err);
            }
            char label[64];
            snprintf(label, sizeof label, "%s (%llu)", s.tier[t].name,
                     (unsigned long long)s.order_seed);
            fmt_count(tr->tokens, a, sizeof a);
            printf("%-22s %12s %9zu", label, a, tr->n_docs);
            for (int k = 0; k < s.nbudget; k++) {
                size_t nd;
                int32_t *bud = s.budget[k] <= tr->tokens
                                   ? data_budget(ds, tr, s.budget[k], &nd, err, sizeof err)
                                   : NULL;
                if (bud) printf(" %9zu", nd);
                else printf(" %9s", "-");
                free(bud);
            }
            printf("\n");
            data_tier_free(tr);
        }
        printf("(budget columns: documents each budget's first U tokens span; - = larger than "
               "the tier)\n");
        train_source_progress_end(&pr);
        data_set_close(ds);
    }
    return XO_OK;
}

/* Print bytes as a quoted, escaped string (at most max bytes). */
static void print_quoted(const char *p, size_t n, size_t max)
{
    putchar('"');
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c < 32 || c == 127) printf("\\x%02x", c);
        else putchar(c);
    }
    putchar('"');
    if (n > max) fputs("...", stdout);
}

static int data_score_cmd(int argc, char **argv)
{
    static const struct option opts[] = {{"separator", required_argument, 0, 's'},
                                         {"text-field", required_argument, 0, 'f'},
                                         {"limit", required_argument, 0, 'n'},
                                         {0, 0, 0, 0}};
    data_corpus_spec cs = {NULL, NULL, NULL};
    long long limit = -1;
    int c;
    while ((c = cli_getopt("data", argc, argv, "", opts)) != -1) {
        switch (c) {
        case 's': cs.separator = optarg; break;
        case 'f': cs.text_field = optarg; break;
        case 'n': if (cli_parse_long("data score", "--limit", optarg, &limit)) return XO_USAGE; break;
        default: return XO_USAGE;
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("data", "data score needs exactly one FILE (a file, directory, glob "
                               "or corpus name)");
    cs.source = argv[optind];
    char err[1024];
    train_source_progress pr;
    train_source_progress_init(&pr);
    data_progress prog = {train_source_progress_fn, &pr};
    data_corpus *corp = data_corpus_load(&cs, &prog, err, sizeof err);
    train_source_progress_end(&pr);
    if (!corp) return cli_error(XO_USAGE, "%s", err);
    data_scorer *sc = data_scorer_new(err, sizeof err);
    if (!sc) {
        data_corpus_free(corp);
        return cli_error(XO_FAILED, "%s", err);
    }
    size_t fired[DATA_N_RULES] = {0};
    double sum = 0;
    printf("%-6s %7s  %-50s  %s\n", "doc", "score", "rules fired (contribution)", "text");
    train_source_progress_init(&pr);
    for (size_t i = 0; i < corp->n_docs; i++) {
        if ((i & 1023) == 0) train_source_progress_fn(&pr, "scoring", (double)i, (double)corp->n_docs);
        data_rule_result r[DATA_N_RULES];
        const char *t = corp->text + corp->off[i];
        size_t n = corp->off[i + 1] - corp->off[i];
        double score = data_score(sc, t, n, r);
        sum += score;
        char rules[512] = "";
        size_t w = 0;
        for (int k = 0; k < DATA_N_RULES; k++) {
            if (r[k].contribution >= 0) continue;
            fired[k]++;
            w += (size_t)snprintf(rules + w, sizeof rules - w, "%s%s(%.2f)", w ? " " : "",
                                  data_rule_name(k), r[k].contribution);
            if (w >= sizeof rules) w = sizeof rules - 1;
        }
        if (limit >= 0 && (long long)i >= limit) continue;
        printf("%-6zu %7.3f  %-50s  ", i + 1, score, w ? rules : "-");
        print_quoted(t, n, 40);
        putchar('\n');
    }
    train_source_progress_end(&pr);
    printf("\n%zu documents, mean score %.3f (0 = passes every rule)\n", corp->n_docs,
           sum / (double)corp->n_docs);
    printf("%-12s %8s  %s\n", "rule", "fired", "passes when");
    for (int k = 0; k < DATA_N_RULES; k++)
        printf("%-12s %8zu  %s\n", data_rule_name(k), fired[k], data_rule_about(k));
    data_scorer_free(sc);
    data_corpus_free(corp);
    return XO_OK;
}

static int data_tokenize(int argc, char **argv)
{
    static const struct option opts[] = {
        {"text", required_argument, 0, 't'},      {"file", required_argument, 0, 'F'},
        {"corpus", required_argument, 0, 'c'},    {"vocab", required_argument, 0, 'v'},
        {"val-tokens", required_argument, 0, 'V'}, {"tokenizer", required_argument, 0, 'T'},
        {"cache", required_argument, 0, 'C'},     {"separator", required_argument, 0, 's'},
        {"text-field", required_argument, 0, 'f'}, {"ids", no_argument, 0, 'i'},
        {0, 0, 0, 0}};
    spec s = {0};
    const char *text = NULL, *tfile = NULL, *tokfile = NULL;
    long long vocab = 512, val = 50000;
    int ids_only = 0, c;
    while ((c = cli_getopt("data", argc, argv, "", opts)) != -1) {
        switch (c) {
        case 't': text = optarg; break;
        case 'F': tfile = optarg; break;
        case 'c': s.corpus.source = optarg; break;
        case 'T': tokfile = optarg; break;
        case 'C': s.cache = optarg; break;
        case 's': s.corpus.separator = optarg; break;
        case 'f': s.corpus.text_field = optarg; break;
        case 'i': ids_only = 1; break;
        case 'v': if (cli_parse_long("data tokenize", "--vocab", optarg, &vocab)) return XO_USAGE; break;
        case 'V': if (cli_parse_long("data tokenize", "--val-tokens", optarg, &val)) return XO_USAGE; break;
        default: return XO_USAGE;
        }
    }
    if (optind < argc) return cli_usage_error("data", "unexpected argument '%s'", argv[optind]);
    if (!text == !tfile) return cli_usage_error("data", "data tokenize needs --text TEXT or --file FILE");
    char err[1024];
    size_t len = 0;
    char *owned = NULL;
    if (tfile) {
        if (!(owned = data_read_file(tfile, &len, err, sizeof err))) return cli_error(XO_USAGE, "%s", err);
        text = owned;
    } else {
        len = strlen(text);
    }
    data_tok *tok = NULL;
    data_set *ds = NULL;
    if (tokfile) {
        tok = data_tok_load(tokfile, err, sizeof err);
    } else {
        s.vocab[0] = (int)vocab;
        s.nvocab = 1;
        s.val_tokens = (uint64_t)val;
        spec_defaults(&s);
        train_source_progress pr;
        ds = open_set(&s, s.vocab[0], &pr, err, sizeof err);
    }
    const data_tok *t = tok ? tok : ds ? data_set_tokenizer(ds) : NULL;
    if (!t) {
        free(owned);
        return cli_error(XO_USAGE, "%s", err);
    }
    int32_t *out = NULL;
    size_t n = 0, cap = 0;
    int rc = XO_OK;
    if (data_tok_encode(t, text, len, &out, &n, &cap) != 0) {
        rc = cli_error(XO_FAILED, "out of memory encoding the text");
    } else if (ids_only) {
        for (size_t i = 0; i < n; i++) printf("%s%d", i ? " " : "", out[i]);
        printf("\n");
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t pl;
            const char *p = data_tok_piece(t, out[i], &pl);
            printf("%6d  ", out[i]);
            print_quoted(p, pl, 64);
            putchar('\n');
        }
        printf("%zu tokens for %zu bytes (%.2f bytes/token), vocab %d\n", n, len,
               n ? (double)len / (double)n : 0.0, data_tok_vocab(t));
    }
    free(out);
    free(owned);
    data_tok_free(tok);
    data_set_close(ds);
    return rc;
}

int cmd_data(int argc, char **argv)
{
    if (argc < 2) return cli_usage_error("data", "data needs a subcommand: prepare, stats, score or tokenize");
    const char *sub = argv[1];
    /* The subcommand's own options start after it. */
    if (!strcmp(sub, "prepare")) return with_spec(argc - 1, argv + 1, prepare_spec);
    if (!strcmp(sub, "stats")) return with_spec(argc - 1, argv + 1, stats_spec);
    if (!strcmp(sub, "score")) return data_score_cmd(argc - 1, argv + 1);
    if (!strcmp(sub, "tokenize")) return data_tokenize(argc - 1, argv + 1);
    static const char *const subs[] = {"prepare", "stats", "score", "tokenize", NULL};
    const char *hint = cli_did_you_mean(sub, subs);
    if (hint) return cli_usage_error("data", "unknown data subcommand '%s'; did you mean '%s'?", sub, hint);
    return cli_usage_error("data", "unknown data subcommand '%s' (prepare, stats, score, tokenize)", sub);
}

const cli_command cmd_data_def = {"data", cmd_data, "prepare, inspect, score and tokenize corpora",
     "usage: xover data prepare [SPEC] [--corpus C] [--vocab N] [--val-tokens N] [--cache DIR]\n"
     "       xover data stats [SPEC] [--corpus C] [--vocab N] [--budgets 25k,100k] [--tiers all,top:0.5,degrade:0.5]\n"
     "       xover data score FILE [--separator RE] [--text-field F] [--limit N]\n"
     "       xover data tokenize (--text TEXT | --file F) [--corpus C] [--vocab N] [--tokenizer FILE] [--ids]\n\n"
     "prepare   build the cached tokenizer, tokenized corpus and quality tiers a sweep\n"
     "          needs, so its runs only open them. SPEC is a JSON file with a \"data\"\n"
     "          object: a run config, or a sweep-like section where vocab and\n"
     "          unique_tokens may be lists, counts may be \"25k\", and quality may name\n"
     "          tiers: {\"high\": {\"degrade\": 0}, \"low\": {\"degrade\": 0.5}}. A \"grid\"\n"
     "          object's vocab / unique_tokens lists count too. Budgets are checked.\n"
     "stats     documents, bytes, tokens, bytes/token, vocabulary coverage, unigram\n"
     "          cross-entropy of validation, and tokens and documents per tier and budget.\n"
     "score     per-document quality score (0 = clean; each fired rule adds value-1)\n"
     "          and the rules that fired, for any file, directory, glob or corpus name.\n"
     "tokenize  show the tokens of TEXT under a corpus's tokenizer (prepared if needed)\n"
     "          or a saved tokenizer file (--tokenizer); --ids prints ids only.\n\n"
     "Corpora: fortunes (Debian package fortunes), gcide (dict-gcide), synthetic or\n"
     "synthetic:N (generated), or a file, directory or glob of .txt/.jsonl/.gz files.\n"
     "Common options: --separator RE (PCRE2, default a blank line; fortunes ^%$),\n"
     "--text-field F (.jsonl), --val-tokens N (default 50k), --order-seed N,\n"
     "--cache DIR (default $XOVER_CACHE or .cache/xover). Token ids: 0-255 bytes,\n"
     "256 EOS, 257 MASK, then merges.\n"};
