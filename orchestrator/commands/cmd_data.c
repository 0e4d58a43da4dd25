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
 *
 * A SPEC's data section and the options are read as a run config's data
 * section (run_config.h: the same defaults and checks as a run's), after
 * the lists a sweep crosses are taken out of it.
 */
#include "orchestrator/cli/cli.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/run/run.h"

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

/* What prepare and stats work on: a data section's corpus, and the lists a
 * sweep crosses (vocabularies, budgets, quality tiers). Every value is
 * checked, and every default filled, by run_config.h's field lists: the
 * data section is resolved as a run config's, each tier as a quality_spec. */
typedef struct {
    data_corpus_spec corpus;
    uint64_t val_tokens, cloze_tokens, order_seed;
    int vocab[MAXV], nvocab;
    uint64_t budget[MAXV];
    int nbudget;
    tier_spec tier[MAXV];
    int ntier;
    const char *cache;
    json_t *keep; /* the JSON the strings above point into: [data, tiers] */
} spec;

/* A bad value: exit 2, naming the SPEC file when there is one. */
static int bad_value(const char *file, const char *err)
{
    return file ? cli_error(XO_USAGE, "%s: %s", file, err) : cli_error(XO_USAGE, "%s", err);
}

/* A count as a sweep writes it: a string like "25k" or "1.5M" becomes a
 * number (new reference); anything else is left for the field's own check.
 * NULL with a message printed when the string is not a count. */
static json_t *count(json_t *v, const char *what)
{
    long long x;
    if (!json_is_string(v)) return json_incref(v);
    return cli_parse_long("data", what, json_string_value(v), &x) ? NULL : json_integer(x);
}

static int count_in_place(json_t *obj, const char *key, const char *what)
{
    json_t *v = json_object_get(obj, key);
    return v ? json_object_set_new(obj, key, count(v, what)) : 0; /* NULL fails the set */
}

/* Move the values of obj[key] (one, or a list) out of obj, as counts, to
 * the end of the list `into`. 0, or -1 (message printed). */
static int take_counts(json_t *obj, const char *key, const char *what, json_t *into)
{
    json_t *v = json_object_get(obj, key);
    size_t n = json_is_array(v) ? json_array_size(v) : v != NULL;
    for (size_t i = 0; i < n; i++) /* a NULL from count() fails the append */
        if (json_array_append_new(into, count(json_is_array(v) ? json_array_get(v, i) : v, what))) return -1;
    json_object_del(obj, key);
    return 0;
}

/* The data section `data` (resolved in place) with key set to each value
 * of vals in turn, checked as a run config's; the values as counts. */
static int check_each(const json_t *data, const char *key, json_t *vals, uint64_t *out, int *n, const char *file)
{
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v) {
        if (*n == MAXV) return cli_usage_error("data", "at most %d values of data.%s", MAXV, key);
        json_t *trial = json_deep_copy(data);
        json_object_set(trial, key, v);
        char err[512];
        int bad = run_config_resolve_section(trial, "data", "data", err, sizeof err);
        json_decref(trial);
        if (bad) return bad_value(file, err);
        out[(*n)++] = (uint64_t)json_number_value(v);
    }
    return 0;
}

/* A tier named `name` from a quality_spec object (resolved in a copy kept
 * in s->keep), path naming it in messages. */
static int add_tier(spec *s, const char *name, const json_t *qs, const char *path, const char *file)
{
    if (s->ntier == MAXV) return cli_usage_error("data", "at most %d quality tiers", MAXV);
    json_t *copy = json_deep_copy(qs);
    char err[512];
    train_source_config c;
    json_t *cfg = json_pack("{s:{s:O}}", "data", "quality_spec", copy);
    int bad = run_config_resolve_section(copy, "quality_spec", path, err, sizeof err) ||
              train_source_read_config(cfg, &c, err, sizeof err);
    json_decref(copy);
    json_decref(cfg);
    if (bad) return bad_value(file, err);
    s->tier[s->ntier++] = (tier_spec){name, c.quality};
    return 0;
}

/* Fill s from `data` (a data section, which s keeps; file names it in
 * messages, NULL for options alone): the lists taken out of it first
 * (vocab, unique_tokens and grid's, named quality tiers), then the rest
 * resolved as a run config's data section. */
static int spec_from_data(spec *s, json_t *data, const json_t *grid, const char *file)
{
    json_t *vocabs = json_array(), *budgets = json_array();
    json_t *tiers = json_object_get(data, "quality");
    tiers = json_is_object(tiers) ? json_incref(tiers) : NULL;
    if (tiers) json_object_del(data, "quality");
    s->keep = json_pack("[o, o?]", data, tiers); /* the tier names live as long as s */
    int rc = take_counts(data, "vocab", "data.vocab", vocabs) ||
             take_counts((json_t *)grid, "vocab", "grid.vocab", vocabs) ||
             take_counts(data, "unique_tokens", "data.unique_tokens", budgets) ||
             take_counts((json_t *)grid, "unique_tokens", "grid.unique_tokens", budgets) ||
             count_in_place(data, "val_tokens", "data.val_tokens") || count_in_place(data, "order_seed", "data.order_seed")
                 ? XO_USAGE
                 : 0;
    char err[512];
    train_source_config c;
    json_t *cfg = json_pack("{s:O}", "data", data);
    if (!rc && (run_config_resolve_section(data, "data", "data", err, sizeof err) ||
                train_source_read_config(cfg, &c, err, sizeof err)))
        rc = bad_value(file, err);
    if (!rc) {
        s->corpus = c.set.corpus;
        s->val_tokens = c.set.val_tokens;
        s->cloze_tokens = c.set.cloze_tokens;
        s->order_seed = c.order_seed;
        uint64_t v[MAXV];
        int nv = 0;
        if (json_array_size(vocabs) == 0) json_array_append_new(vocabs, json_integer(c.set.vocab));
        rc = check_each(data, "vocab", vocabs, v, &nv, file) ||
             check_each(data, "unique_tokens", budgets, s->budget, &s->nbudget, file);
        for (int i = 0; i < nv; i++) s->vocab[s->nvocab++] = (int)v[i];
    }
    /* Tiers: a sweep's named ones, or the data section's quality_spec. */
    const char *name;
    json_t *o;
    if (!rc && tiers) {
        json_object_foreach(tiers, name, o) {
            char path[300];
            snprintf(path, sizeof path, "data.quality.%s", name);
            if (!json_is_object(o)) {
                char msg[400];
                snprintf(msg, sizeof msg, "%s must be an object like {\"degrade\": 0.5} or {\"top\": 0.3}", path);
                rc = bad_value(file, msg);
                break;
            }
            if ((rc = add_tier(s, name, o, path, file))) break;
        }
    } else if (!rc) {
        s->tier[s->ntier++] = (tier_spec){json_string_value(json_object_get(data, "quality")), c.quality};
    }
    json_decref(cfg);
    json_decref(vocabs);
    json_decref(budgets);
    return rc ? XO_USAGE : 0;
}

/* --budgets 25k,100k: data.unique_tokens as a list. 0, or an exit code. */
static int budgets_option(const char *cmd, const char *text, json_t *data)
{
    json_t *list = json_array();
    char *dup = strdup(text), *save = NULL;
    int bad = !dup;
    for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t && !bad; t = strtok_r(NULL, ",", &save)) {
        long long b;
        if (!(bad = cli_parse_long(cmd, "--budgets", t, &b))) json_array_append_new(list, json_integer(b));
    }
    free(dup);
    json_object_set_new(data, "unique_tokens", list);
    return bad ? XO_USAGE : 0;
}

/* --tiers all,top:0.5,degrade:0.5: data.quality as named tiers, as a sweep
 * writes them, each checked as a quality_spec. 0, or an exit code. */
static int tiers_option(const char *cmd, const char *text, json_t *data)
{
    json_t *named = json_object();
    char *dup = strdup(text), *save = NULL;
    int bad = !dup;
    for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t && !bad; t = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(t, ':'), *end = NULL, err[256];
        double x = colon ? strtod(colon + 1, &end) : 0;
        json_t *q = NULL;
        if (!strcmp(t, "all")) q = json_object();
        else if (colon && end && !*end && end > colon + 1 && (!strncmp(t, "top:", 4) || !strncmp(t, "degrade:", 8)))
            q = json_pack("{s:f}", t[0] == 't' ? "top" : "degrade", x);
        else bad = cli_usage_error(cmd, "--tiers takes all, top:Q or degrade:P, not '%s'", t);
        if (q && run_config_resolve_section(q, "quality_spec", "", err, sizeof err))
            bad = cli_usage_error(cmd, "--tiers %s: %s", t, err);
        if (q) json_object_set_new(named, t, q);
    }
    free(dup);
    json_object_set_new(data, "quality", named);
    return bad ? XO_USAGE : 0;
}

/* Whether prepare's or stats' argument names a SPEC rather than a corpus:
 * a .json file, or any file holding one JSON object with a "data" object.
 * Anything else (a text, .jsonl or gzip file, a directory, a glob, a named
 * corpus) is a corpus. */
static int is_spec_file(const char *arg)
{
    size_t n = strlen(arg);
    if (n > 5 && !strcmp(arg + n - 5, ".json")) return 1;
    json_t *root = json_load_file(arg, JSON_DISABLE_EOF_CHECK, NULL);
    int spec = json_is_object(json_object_get(root, "data"));
    json_decref(root);
    return spec;
}

/* Options shared by prepare and stats; returns 0, or an exit code. The
 * SPEC file's data section and the options make one data section, which
 * spec_from_data reads. */
static int common_opts(const char *cmd, int argc, char **argv, spec *s, const char **file)
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
    /* The argument is a SPEC, or else the corpus itself (`xover data stats
     * quotes.txt`). */
    if (*file && !is_spec_file(*file)) {
        if (corpus) return cli_usage_error(cmd, "'%s' is a corpus and so is --corpus %s: give one", *file, corpus);
        corpus = *file;
        *file = NULL;
    }
    json_t *data = NULL, *grid = NULL;
    if (*file) {
        json_error_t je;
        json_t *root = json_load_file(*file, 0, &je);
        if (!root) return cli_error(XO_USAGE, "%s:%d:%d: %s", *file, je.line, je.column, je.text);
        if (!json_is_object(json_object_get(root, "data"))) {
            json_decref(root);
            return cli_error(XO_USAGE, "%s has no \"data\" object (a run config or a sweep's data section is expected)",
                             *file);
        }
        data = json_deep_copy(json_object_get(root, "data"));
        grid = json_deep_copy(json_object_get(root, "grid"));
        json_decref(root);
    } else {
        data = json_object();
    }
    /* Options override the file. */
    if (corpus) json_object_set_new(data, "corpus", json_string(corpus));
    if (sep) json_object_set_new(data, "separator", json_string(sep));
    if (tf) json_object_set_new(data, "text_field", json_string(tf));
    if (vocab >= 0) json_object_set_new(data, "vocab", json_integer(vocab)), json_object_del(grid, "vocab");
    if (val >= 0) json_object_set_new(data, "val_tokens", json_integer(val));
    if (oseed >= 0) json_object_set_new(data, "order_seed", json_integer(oseed));
    /* --budgets and --tiers replace the file's lists (grid's too). */
    if (budgets) json_object_del(grid, "unique_tokens");
    int bad = (budgets && budgets_option(cmd, budgets, data)) || (tiers && tiers_option(cmd, tiers, data));
    if (bad) {
        json_decref(data), json_decref(grid);
        return XO_USAGE;
    }
    int rc = spec_from_data(s, data, grid, *file);
    json_decref(grid);
    return rc;
}

/* The data set of s at vocab, prepared (or read from the cache) behind a
 * progress bar that is ended before it returns: the caller prints next. */
static data_set *open_set(const spec *s, int vocab, train_source_progress *pr, char *err,
                          size_t errlen)
{
    data_set_spec ss = {s->corpus, vocab, s->val_tokens, s->cloze_tokens};
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
 * the spec's strings live in its JSON until fn returns. */
static int with_spec(int argc, char **argv, int (*fn)(spec *s, const char *file, int argc))
{
    spec s = {0};
    const char *file;
    int rc = common_opts("data", argc, argv, &s, &file);
    if (!rc) rc = fn(&s, file, argc);
    json_decref(s.keep);
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
               "as bytes)\n", in.n_train_docs + in.n_val_docs + in.n_cloze_docs, in.n_dup_docs, in.n_invalid_utf8);
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
        if (in.n_cloze_docs) {
            fmt_count(in.cloze_tokens, a, sizeof a);
            printf("cloze pool   %s tokens in %zu documents, in no training budget\n", a, in.n_cloze_docs);
        }
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
    long long x;
    int ids_only = 0, c;
    json_t *data = json_object(); /* the options as a data section */
    while ((c = cli_getopt("data", argc, argv, "", opts)) != -1) {
        switch (c) {
        case 't': text = optarg; break;
        case 'F': tfile = optarg; break;
        case 'c': json_object_set_new(data, "corpus", json_string(optarg)); break;
        case 'T': tokfile = optarg; break;
        case 'C': s.cache = optarg; break;
        case 's': json_object_set_new(data, "separator", json_string(optarg)); break;
        case 'f': json_object_set_new(data, "text_field", json_string(optarg)); break;
        case 'i': ids_only = 1; break;
        case 'v':
        case 'V':
            if (cli_parse_long("data tokenize", c == 'v' ? "--vocab" : "--val-tokens", optarg, &x)) {
                json_decref(data);
                return XO_USAGE;
            }
            json_object_set_new(data, c == 'v' ? "vocab" : "val_tokens", json_integer(x));
            break;
        default: json_decref(data); return XO_USAGE;
        }
    }
    /* Without a saved tokenizer: the corpus's, for the options as a data
     * section (s keeps it from here on). */
    int bad = !tokfile && spec_from_data(&s, data, NULL, NULL);
    if (tokfile) json_decref(data);
    if (bad || optind < argc || !text == !tfile) {
        json_decref(s.keep);
        if (bad) return XO_USAGE;
        if (optind < argc) return cli_usage_error("data", "unexpected argument '%s'", argv[optind]);
        return cli_usage_error("data", "data tokenize needs --text TEXT or --file FILE");
    }
    char err[1024];
    size_t len = 0;
    char *owned = NULL;
    if (tfile) {
        if (!(owned = data_read_file(tfile, &len, err, sizeof err))) {
            json_decref(s.keep);
            return cli_error(XO_USAGE, "%s", err);
        }
        text = owned;
    } else {
        len = strlen(text);
    }
    data_tok *tok = NULL;
    data_set *ds = NULL;
    if (tokfile) {
        tok = data_tok_load(tokfile, err, sizeof err);
    } else {
        train_source_progress pr;
        ds = open_set(&s, s.vocab[0], &pr, err, sizeof err);
    }
    const data_tok *t = tok ? tok : ds ? data_set_tokenizer(ds) : NULL;
    if (!t) {
        free(owned);
        json_decref(s.keep);
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
    json_decref(s.keep);
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
     "usage: xover data prepare [SPEC | CORPUS] [--corpus C] [--vocab N] [--val-tokens N] [--cache DIR]\n"
     "       xover data stats [SPEC | CORPUS] [--corpus C] [--vocab N] [--budgets 25k,100k] [--tiers all,top:0.5,degrade:0.5]\n"
     "       xover data score FILE [--separator RE] [--text-field F] [--limit N]\n"
     "       xover data tokenize (--text TEXT | --file F) [--corpus C] [--vocab N] [--tokenizer FILE] [--ids]\n\n"
     "prepare   build the cached tokenizer, tokenized corpus and quality tiers a sweep\n"
     "          needs, so its runs only open them. SPEC is a JSON file with a \"data\"\n"
     "          object: a run config, or a sweep-like section where vocab and\n"
     "          unique_tokens may be lists, counts may be \"25k\", and quality may name\n"
     "          tiers: {\"high\": {\"degrade\": 0}, \"low\": {\"degrade\": 0.5}}. A \"grid\"\n"
     "          object's vocab / unique_tokens lists count too. Budgets are checked.\n"
     "          An argument that is not such a file (a .txt file, a directory, a glob,\n"
     "          a corpus name) is the corpus: `xover data stats quotes.txt`.\n"
     "stats     documents, bytes, tokens, bytes/token, vocabulary coverage, unigram\n"
     "          cross-entropy of validation, and tokens and documents per tier and budget.\n"
     "score     per-document quality score (0 = clean; each fired rule adds value-1)\n"
     "          and the rules that fired, for any file, directory, glob or corpus name.\n"
     "tokenize  show the tokens of TEXT under a corpus's tokenizer (prepared if needed)\n"
     "          or a saved tokenizer file (--tokenizer); --ids prints ids only.\n\n"
     "Corpora: fortunes (Debian package fortunes), gcide (dict-gcide), synthetic or\n"
     "synthetic:N (generated), or a file, directory or glob of .txt/.jsonl/.gz files.\n"
     "Common options: --separator RE (PCRE2, multiline; default for a file, directory\n"
     "or glob: a blank line; fortunes ^%$; .jsonl: one document per line),\n"
     "--text-field F (.jsonl), --val-tokens N (default 50k), --order-seed N,\n"
     "--cache DIR (default $XOVER_CACHE or .cache/xover). Token ids: 0-255 bytes,\n"
     "256 EOS, 257 MASK, then merges.\n"};
