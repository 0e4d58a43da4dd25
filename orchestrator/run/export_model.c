/*
 * export_model.c — a trained run's model in files other tools read
 * (`xover export-model`, docs/export.md):
 *
 *   model.safetensors   the weights: safetensors (an 8-byte little-endian
 *                       header length, a JSON header naming each tensor's
 *                       dtype, shape and byte range, then the raw
 *                       little-endian data), unpadded, under the names of
 *                       models.h's model_tensor_list (Hugging Face Llama's)
 *   config.json         the architecture in Hugging Face's keys, and xover's
 *                       own section: objective, attention, special ids, the
 *                       checkpoint's step and the run config it was trained by
 *   tokenizer.json      the byte-level BPE in Hugging Face tokenizers' format
 *                       (vocab + merges, GPT-2's byte-to-unicode alphabet)
 *   val_batch.safetensors  one batch of validation sequences with the exact
 *                       rows, targets and weights xover's validation loss
 *                       scores, and that loss (metadata "val_loss"), so a
 *                       reader can check it reproduces the model
 *
 * Everything is written into a staging directory beside the destination,
 * fsync'd, then renamed into place: a failed or interrupted export leaves the
 * previous one (or nothing), never a mix.
 */
#include "orchestrator/run/run.h"

#include "data/data.h"
#include "orchestrator/cli/cli.h"
#include "orchestrator/util/util.h"

#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The files an export holds: a directory holding only these (or nothing) is
 * one this command may replace. */
static const char *const export_files[] = {"model.safetensors", "config.json", "tokenizer.json",
                                           "val_batch.safetensors", NULL};

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- safetensors ---------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *dtype; /* "F32" or "I32": 4-byte elements either way */
    int ndim;
    int64_t shape[2];
    const void *data;
} st_tensor;

static size_t st_bytes(const st_tensor *t)
{
    size_t n = 4;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static int write_all(FILE *f, const void *p, size_t n) { return fwrite(p, 1, n, f) == n ? 0 : -1; }

/* Four-byte elements, little-endian whatever the host. */
static int write_le32(FILE *f, const void *data, size_t bytes)
{
    if (host_is_little_endian()) return write_all(f, data, bytes);
    const unsigned char *p = data;
    for (size_t i = 0; i < bytes; i += 4) {
        unsigned char w[4] = {p[i + 3], p[i + 2], p[i + 1], p[i]};
        if (write_all(f, w, 4)) return -1;
    }
    return 0;
}

/* Write tensors t[n] (and string metadata meta, may be NULL) to path. The
 * header lists the tensors in order, their data back to back, no gaps: what
 * the format's reference reader checks. */
static int st_write(const char *path, const st_tensor *t, size_t n, json_t *meta, char *err, size_t errlen)
{
    json_t *h = json_object();
    if (meta) json_object_set(h, "__metadata__", meta);
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *shape = json_array();
        for (int d = 0; d < t[i].ndim; d++) json_array_append_new(shape, json_integer(t[i].shape[d]));
        uint64_t end = off + st_bytes(&t[i]);
        json_object_set_new(h, t[i].name,
                            json_pack("{s:s, s:o, s:[I,I]}", "dtype", t[i].dtype, "shape", shape, "data_offsets",
                                      (json_int_t)off, (json_int_t)end));
        off = end;
    }
    char *text = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    if (!text) return fail(err, errlen, "out of memory");
    /* The data starts 8-byte aligned: the header is padded with spaces. */
    size_t hl = strlen(text), padded = (hl + 7) / 8 * 8;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    FILE *f = fopen(path, "wb");
    int bad = !f;
    if (f) {
        bad = write_all(f, len8, 8) || write_all(f, text, hl) || write_all(f, "        ", padded - hl);
        for (size_t i = 0; i < n && !bad; i++) bad = write_le32(f, t[i].data, st_bytes(&t[i]));
        bad = bad || fflush(f) != 0 || fsync(fileno(f)) != 0;
        if (fclose(f) != 0) bad = 1;
    }
    free(text);
    if (bad) return fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int write_json(const char *path, json_t *j, char *err, size_t errlen)
{
    textbuf b = {0};
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    if (text) tb_printf(&b, "%s\n", text);
    free(text);
    size_t n = b.n;
    if (!(text = tb_take(&b))) return fail(err, errlen, "out of memory");
    int rc = xo_write_atomic(path, text, n);
    free(text);
    if (rc) return fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* ---- tokenizer.json --------------------------------------------------------- */

/* GPT-2's byte-level alphabet: each byte as one printable code point (the
 * printable Latin-1 bytes as themselves, the others from U+0100 on), so
 * that every token's bytes are a JSON string. */
static void byte_to_unicode(int cp[256])
{
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        cp[b] = printable ? b : 256 + n++;
    }
}

/* The bytes p[n] in that alphabet, as UTF-8 (malloc'd). */
static char *bytes_to_alphabet(const int cp[256], const char *p, size_t n)
{
    char *s = malloc(2 * n + 1), *w = s;
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) {
        int c = cp[(unsigned char)p[i]];
        if (c < 0x80) *w++ = (char)c;
        else *w++ = (char)(0xC0 | (c >> 6)), *w++ = (char)(0x80 | (c & 0x3F));
    }
    *w = 0;
    return s;
}

/* Hugging Face tokenizers' format. The merges apply by rank as xover's
 * encoder applies them and the pre-tokenizer is GPT-2's pattern, which is
 * xover's (data.h DATA_TOK_PATTERN). Two merges can spell the same bytes
 * (t+he and th+e); the format's vocab maps a string to one id, so the later
 * id is left out of it and *dups counts such ids. */
static json_t *tokenizer_json(const data_tok *tok, int *dups)
{
    int cp[256], V = data_tok_vocab(tok);
    byte_to_unicode(cp);
    json_t *vocab = json_object(), *merges = json_array();
    char **str = calloc((size_t)V, sizeof *str);
    *dups = 0;
    for (int id = 0; str && id < V; id++) {
        size_t n;
        const char *p = data_tok_piece(tok, id, &n);
        /* The specials are added tokens, spelled as they are. */
        str[id] = id == DATA_TOK_EOS || id == DATA_TOK_MASK ? strndup(p, n) : bytes_to_alphabet(cp, p, n);
        if (!str[id]) break;
        if (json_object_get(vocab, str[id])) (*dups)++;
        else json_object_set_new(vocab, str[id], json_integer(id));
        if (id >= DATA_TOK_FIRST_MERGE) {
            int32_t a, b;
            data_tok_merge(tok, id, &a, &b);
            size_t la = strlen(str[a]), lb = strlen(str[b]);
            char *m = malloc(la + lb + 2);
            if (m) {
                memcpy(m, str[a], la);
                m[la] = ' ';
                memcpy(m + la + 1, str[b], lb + 1);
                json_array_append_new(merges, json_string(m));
                free(m);
            }
        }
    }
    for (int id = 0; str && id < V; id++) free(str[id]);
    free(str);
    json_t *added = json_array();
    for (int id = DATA_TOK_EOS; id <= DATA_TOK_MASK; id++) {
        size_t n;
        const char *p = data_tok_piece(tok, id, &n);
        json_array_append_new(added, json_pack("{s:i, s:s#, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", p,
                                                (int)n, "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized",
                                                0, "special", 1));
    }
    return json_pack("{s:s, s:n, s:n, s:o, s:n, s:{s:s, s:b, s:b, s:b}, s:n, s:{s:s, s:b, s:b, s:b},"
                     " s:{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:o, s:o}}",
                     "version", "1.0", "truncation", "padding", "added_tokens", added, "normalizer",
                     "pre_tokenizer", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1,
                     "use_regex", 1, "post_processor", "decoder", "type", "ByteLevel", "add_prefix_space", 0,
                     "trim_offsets", 1, "use_regex", 1, "model", "type", "BPE", "dropout", "unk_token",
                     "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0,
                     "vocab", vocab, "merges", merges);
}

/* ---- config.json -------------------------------------------------------------- */

static json_t *config_json(const model_config *c, const json_t *run_config, const char *key, uint64_t step,
                           const data_tok *tok)
{
    int ar = c->objective == MODEL_AR;
    json_t *j = json_object();
    /* Hugging Face's names for the shape. An AR export is a Llama in every
     * respect (RMSNorm eps 1e-5 with a weight, RoPE theta 1e4 rotating
     * half-dimension pairs, SwiGLU, no biases, untied head), so it says so;
     * a masked-diffusion model attends both ways and is not one. */
    if (ar && c->experts == 0) {
        json_object_set_new(j, "architectures", json_pack("[s]", "LlamaForCausalLM"));
        json_object_set_new(j, "model_type", json_string("llama"));
    }
    json_t *hf = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:s, s:b, s:b, s:b, s:i, s:n, s:s}",
                           "vocab_size", c->vocab, "hidden_size", c->dim, "intermediate_size", c->hidden,
                           "num_hidden_layers", c->layers, "num_attention_heads", c->heads,
                           "num_key_value_heads", c->heads, "max_position_embeddings", c->seq_len,
                           "rms_norm_eps", 1e-5, "rope_theta", 10000.0, "hidden_act", "silu",
                           "tie_word_embeddings", 0, "attention_bias", 0, "mlp_bias", 0, "eos_token_id",
                           DATA_TOK_EOS, "bos_token_id", "torch_dtype", "float32");
    json_object_update(j, hf);
    json_decref(hf);
    json_t *x = json_pack("{s:s, s:s, s:i, s:i, s:i, s:b, s:i, s:i, s:s, s:I, s:s, s:O}", "objective",
                          ar ? "ar" : "mdm", "attention", ar ? "causal" : "bidirectional", "eos_token_id",
                          DATA_TOK_EOS, "mask_token_id", c->mask_id, "first_merge_id", DATA_TOK_FIRST_MERGE,
                          "mask_excluded_from_softmax", !ar, "experts", c->experts, "top_k", c->top_k,
                          "router", "softmax over the experts; each token goes to its top_k, weighted by "
                                    "its probability (not renormalised)",
                          "step", (json_int_t)step, "run_key", key ? key : "", "run_config", run_config);
    json_object_set_new(x, "pre_tokenizer_pattern", json_string(DATA_TOK_PATTERN));
    json_object_set_new(x, "max_piece_bytes", json_integer(DATA_TOK_MAX_PIECE));
    json_object_set_new(x, "vocab_used", json_integer(data_tok_vocab(tok)));
    json_object_set_new(j, "xover", x);
    return j;
}

/* ---- the staging directory ------------------------------------------------------ */

static int is_export_file(const char *name)
{
    for (int i = 0; export_files[i]; i++)
        if (strcmp(name, export_files[i]) == 0) return 1;
    return 0;
}

/* 1 when dir exists, 0 when not, -1 (err) when it exists and holds anything
 * but an export's files: then it is not ours to replace. */
static int check_dest(const char *dir, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT) return 0;
        return fail(err, errlen, "cannot use %s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode)) return fail(err, errlen, "%s exists and is not a directory", dir);
    DIR *d = opendir(dir);
    if (!d) return fail(err, errlen, "cannot read %s: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 1;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || is_export_file(e->d_name)) continue;
        rc = fail(err, errlen, "%s holds %s, which is not part of a model export: give -o a new or empty directory",
                  dir, e->d_name);
        break;
    }
    closedir(d);
    return rc;
}

static void remove_export_dir(const char *dir)
{
    char p[PATH_MAX + 64];
    for (int i = 0; export_files[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, export_files[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* Move the staged directory to dest: straight when dest does not exist,
 * else the old export aside first and removed after. */
static int swap_in(const char *stage, const char *dest, int exists, char *err, size_t errlen)
{
    char old[PATH_MAX + 64] = "";
    if (exists) {
        snprintf(old, sizeof old, "%s.old.%ld", dest, (long)getpid());
        if (rename(dest, old) != 0) return fail(err, errlen, "cannot replace %s: %s", dest, strerror(errno));
    }
    if (rename(stage, dest) != 0) {
        int e = errno;
        if (*old) rename(old, dest);
        return fail(err, errlen, "cannot write %s: %s", dest, strerror(e));
    }
    if (*old) remove_export_dir(old);
    return 0;
}

/* ---- the export ---------------------------------------------------------------------- */

typedef struct {
    json_t *cfg;
    train_source *src;
    model *m;
    model_tensor *mt;
    st_tensor *st;
    int32_t *inputs, *targets;
    float *weights;
} export_state;

static void export_free(export_state *s)
{
    json_decref(s->cfg);
    train_source_close(s->src);
    model_free(s->m);
    free(s->mt);
    free(s->st);
    free(s->inputs);
    free(s->targets);
    free(s->weights);
}

/* model.safetensors. */
static int write_weights(export_state *s, const char *dir, const char *key, char *err, size_t errlen)
{
    size_t n = model_tensor_list(s->m, NULL, 0);
    s->mt = calloc(n, sizeof *s->mt);
    s->st = calloc(n, sizeof *s->st);
    if (!s->mt || !s->st) return fail(err, errlen, "out of memory");
    model_tensor_list(s->m, s->mt, n);
    for (size_t i = 0; i < n; i++)
        s->st[i] = (st_tensor){s->mt[i].name, "F32", s->mt[i].ndim, {s->mt[i].shape[0], s->mt[i].shape[1]},
                               s->mt[i].data};
    const model_config *c = model_get_config(s->m);
    json_t *meta = json_pack("{s:s, s:s, s:s}", "format", "pt", "objective",
                             c->objective == MODEL_AR ? "ar" : "mdm", "run_key", key ? key : "");
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    int rc = st_write(p, s->st, n, meta, err, errlen);
    json_decref(meta);
    return rc;
}

/* val_batch.safetensors: the first batch of validation sequences, the rows
 * xover scores for them, and xover's loss on them. */
static int write_val_batch(export_state *s, const char *dir, const run_cfg *rc, double *loss_out, char *err,
                           size_t errlen)
{
    const model_config *c = model_get_config(s->m);
    size_t nval;
    const int32_t *val = train_source_val(s->src, &nval);
    size_t B = nval < (size_t)rc->train.batch ? nval : (size_t)rc->train.batch;
    if (B == 0) return fail(err, errlen, "the run's validation set has no full sequence of %d tokens", c->seq_len);
    model_eval_opts eo = {(int)rc->train.eval_draws, strcmp(rc->train.eval_estimator, "bernoulli") == 0,
                          (uint64_t)rc->train.eval_seed};
    size_t T = (size_t)c->seq_len, R = model_val_rows(c, val, B, &eo, NULL, NULL, NULL);
    s->inputs = malloc(sizeof(int32_t) * R * T);
    s->targets = malloc(sizeof(int32_t) * R * T);
    s->weights = malloc(sizeof(float) * R * T);
    if (!s->inputs || !s->targets || !s->weights ||
        model_val_rows(c, val, B, &eo, s->inputs, s->targets, s->weights) != R)
        return fail(err, errlen, "out of memory");
    double loss = model_val_loss(s->m, val, B, &eo);
    *loss_out = loss;
    char lbuf[64];
    snprintf(lbuf, sizeof lbuf, "%.9g", loss);
    json_t *meta = json_pack("{s:s, s:s, s:s, s:s, s:s}", "val_loss", lbuf, "objective",
                             c->objective == MODEL_AR ? "ar" : "mdm", "attention",
                             c->objective == MODEL_AR ? "causal" : "bidirectional", "loss",
                             "sum over rows and positions of weights * cross-entropy(logits of inputs, targets); "
                             "targets -1 are not scored; for the MDM the mask_token_id logit is left out of "
                             "the softmax",
                             "sequences", "tokens: the batch's validation sequences; inputs, targets, weights: "
                             "the rows scored (the MDM: eval_draws masked copies of each sequence)");
    st_tensor t[4] = {{"tokens", "I32", 2, {(int64_t)B, (int64_t)T}, val},
                      {"inputs", "I32", 2, {(int64_t)R, (int64_t)T}, s->inputs},
                      {"targets", "I32", 2, {(int64_t)R, (int64_t)T}, s->targets},
                      {"weights", "F32", 2, {(int64_t)R, (int64_t)T}, s->weights}};
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/val_batch.safetensors", dir);
    int r = st_write(p, t, 4, meta, err, errlen);
    json_decref(meta);
    return r;
}

int run_export_model(const run_export_opts *opts, char *err, size_t errlen)
{
    /* "dir/" and "dir" are one destination; the staging directory goes
     * beside it, not inside. */
    char out[PATH_MAX];
    size_t ol = strlen(opts->out);
    if (ol == 0 || ol > PATH_MAX - 64) return fail(err, errlen, "-o '%s': not a usable path", opts->out), XO_USAGE;
    memcpy(out, opts->out, ol + 1);
    while (ol > 1 && out[ol - 1] == '/') out[--ol] = 0;
    run_export_opts oo = *opts;
    oo.out = out;
    const run_export_opts *o = &oo;
    export_state s = {0};
    run_path cpath = rundir_path(o->run_dir, RUN_CONFIG), kpath = rundir_path(o->run_dir, RUN_CHECKPOINT);
    json_error_t je;
    s.cfg = json_load_file(cpath.s, 0, &je);
    if (!s.cfg) return fail(err, errlen, "%s: %s (is %s a run directory?)", cpath.s, je.text, o->run_dir), XO_USAGE;
    int code = XO_USAGE;
    run_cfg rc;
    model_config mc;
    model_ckpt_state cks;
    char sub[1024];
    if (run_config_resolve(s.cfg, sub, sizeof sub) || run_config_read(s.cfg, &rc, sub, sizeof sub)) {
        fail(err, errlen, "%s: %s", cpath.s, sub);
        goto out;
    }
    if (access(kpath.s, F_OK) != 0) {
        fail(err, errlen, "%s has no checkpoint: the run has not trained yet", o->run_dir);
        goto out;
    }
    if (model_ckpt_config(kpath.s, &mc, err, errlen)) goto out;
    if (rc.model.attn_scale != 1) {
        /* Llama's attention is q.k/sqrt(D): a scaled one has no name there */
        fail(err, errlen, "%s: model.attn_scale %g is not a Llama attention; only attn_scale 1 exports", cpath.s,
             rc.model.attn_scale);
        goto out;
    }
    openblas_set_num_threads(1);
    if (!(s.m = model_create(&mc, 0, err, errlen)) || model_load(s.m, kpath.s, &cks, err, errlen)) goto out;
    if (!(s.src = train_source_open(s.cfg, o->cache, err, errlen))) goto out;
    const data_tok *tok = data_set_tokenizer(train_source_data_set(s.src));
    if (data_tok_vocab(tok) != mc.vocab) {
        fail(err, errlen, "the run's tokenizer has %d ids but its checkpoint %d", data_tok_vocab(tok), mc.vocab);
        goto out;
    }
    int exists = check_dest(o->out, err, errlen);
    if (exists < 0) goto out;
    code = XO_FAILED;
    char stage[PATH_MAX];
    snprintf(stage, sizeof stage, "%s.tmp.%ld", o->out, (long)getpid());
    if (mkdir(stage, 0777) != 0) {
        fail(err, errlen, "cannot create %s: %s", stage, strerror(errno));
        goto out;
    }
    int dups = 0;
    json_t *tj = tokenizer_json(tok, &dups);
    json_t *cj = config_json(&mc, s.cfg, o->key, model_step(s.m), tok);
    char p[PATH_MAX + 64];
    double loss = 0;
    int bad = write_weights(&s, stage, o->key, err, errlen);
    snprintf(p, sizeof p, "%s/config.json", stage);
    bad = bad || write_json(p, cj, err, errlen);
    snprintf(p, sizeof p, "%s/tokenizer.json", stage);
    bad = bad || write_json(p, tj, err, errlen);
    bad = bad || write_val_batch(&s, stage, &rc, &loss, err, errlen);
    json_decref(tj);
    json_decref(cj);
    if (bad || swap_in(stage, o->out, exists, err, errlen)) {
        remove_export_dir(stage);
        goto out;
    }
    fprintf(stderr, "exported %s model (%zu tensors, %zu parameters, step %llu) to %s; val_loss on its "
                    "validation batch %.6f\n",
            mc.objective == MODEL_AR ? "an AR" : "an MDM", model_tensor_list(s.m, NULL, 0),
            model_param_count(&mc, NULL), (unsigned long long)model_step(s.m), o->out, loss);
    if (dups)
        fprintf(stderr, "xover: warning: %d token ids spell the same bytes as earlier ones; tokenizer.json's "
                        "vocab maps each spelling to its first id\n", dups);
    code = XO_OK;
out:
    export_free(&s);
    return code;
}
