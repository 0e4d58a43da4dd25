/*
 * models.h — the shared trainer: one transformer, two objectives.
 *
 * A decoder-style transformer (token embedding; N blocks of RMSNorm ->
 * multi-head attention with RoPE -> residual, RMSNorm -> SwiGLU -> residual;
 * final RMSNorm; untied output head; no biases) trained under one of two
 * objectives that differ ONLY in the attention mask and the loss:
 *
 *   ar   causal attention; loss = mean next-token cross-entropy over the
 *        B*(T-1) positions that have a next token.
 *   mdm  masked diffusion: bidirectional attention; per sequence
 *        t ~ U(eps,1) stratified across the batch; each token replaced by
 *        the [MASK] id with probability t; loss = sum over masked positions
 *        of CE / t, divided by B*T; the [MASK] logit is left out of the
 *        softmax.
 *
 * The feed-forward may instead be a mixture of experts (config.experts: a
 * softmax router sends each token to its top_k SwiGLU experts; a balance
 * loss keeps them used; FLOPs count active parameters), and training may add
 * noise (input masking, token / attention / residual dropout), never applied
 * in evaluation.
 *
 * This module knows nothing of corpora, SQLite or the CLI: it takes token
 * sequences as plain int32 arrays. Memory follows llm.c: parameters,
 * gradients, the two AdamW moments and activations each live in ONE
 * allocation carved into named tensors; nothing is allocated in a step.
 * Every matrix product goes through cblas_sgemm (attention per batch x head,
 * experts per expert on its gathered tokens).
 *
 * One model can use several threads (model_set_threads): a batch is cut
 * into shards of whole sequences, fixed by B and T alone; each shard's
 * forward and backward runs on one thread with single-threaded sgemm
 * calls, and the shards' weight gradients are summed in shard order. Every
 * product and every sum is therefore the same for any thread count: one
 * thread and eight give bit-identical losses, gradients and parameters.
 * model_create sets OpenBLAS to one thread of its own (process-wide).
 *
 * Library code never exits: errors return -1 (or NULL) with a message in the
 * caller's err buffer. A model's functions are not to be called from two
 * threads at once; different models are independent.
 */
#ifndef XOVER_MODELS_H
#define XOVER_MODELS_H

#include <stddef.h>
#include <stdint.h>

/* ---- configuration ----------------------------------------------------- */

typedef enum { MODEL_AR = 0, MODEL_MDM = 1 } model_objective;

typedef struct {
    int layers, dim, heads;
    int hidden;       /* SwiGLU hidden size; 0 = model_default_hidden(dim) */
    int vocab;        /* including EOS and (for the MDM) MASK */
    int seq_len;      /* T: tokens per training sequence */
    int batch;        /* B: sequences per step (largest batch ever run) */
    model_objective objective;
    int32_t mask_id;  /* the [MASK] id in [0, vocab): the MDM's mask, and the
                         token AR input masking (input_mask) substitutes */
    /* Mixture of experts (0 = the dense SwiGLU): each feed-forward becomes E
     * SwiGLU experts of `hidden` each and a softmax router; every token goes
     * to its top_k experts (0 = 1). Training only: capacity_factor > 0 caps
     * each expert at ceil(capacity_factor * N * top_k / E) of a batch's N
     * tokens' choices (the rest are dropped and counted; 0 = no cap), and
     * aux_weight weighs the load-balancing loss. Evaluation never drops. */
    int experts, top_k;
    float capacity_factor, aux_weight;
    /* Training noise (all 0 = none; never applied in evaluation): share of
     * input tokens replaced by [MASK] (targets unchanged), whole-token
     * embedding dropout, dropout on attention probabilities, and dropout on
     * each block's attention and feed-forward outputs before the residual
     * add. Dropouts are inverted (kept values scaled by 1/(1-p)). */
    float input_mask, token_dropout, attn_dropout, resid_dropout;
    /* Probes of the MDM's early plateau (0 = the default, so a config
     * written before them means what it did): attn_scale multiplies the
     * attention logits q.k/sqrt(D) (1); init_std is the standard deviation
     * of the matrices at initialisation (0.02; the output projections get
     * init_std/sqrt(2*layers)); mask_eps is the MDM's training eps, t ~
     * U(eps, 1) (MODEL_MDM_EPS; evaluation never uses it). */
    float attn_scale;
    double init_std, mask_eps;
} model_config;

#define MODEL_MDM_EPS 1e-3
#define MODEL_INIT_STD 0.02

/* round(8/3 * dim) rounded up to a multiple of 8. */
int model_default_hidden(int dim);

/* Check a config (and fill hidden when 0). Returns 0, or -1 with a message
 * naming the offending field ("model.heads must be >= 1, not 0"). */
int model_config_check(model_config *c, char *err, size_t errlen);

/* Parameter counts: total, and without the two V x C embedding matrices.
 * For a mixture of experts the total counts every expert and the routers. */
size_t model_param_count(const model_config *c, size_t *non_embedding);
/* Parameters a token actually uses: for a mixture of experts, top_k experts
 * per layer plus the routers; for a dense model the total. */
size_t model_active_param_count(const model_config *c);
/* Training FLOPs per token, the usual model-FLOPs convention on ACTIVE
 * parameters: 6 * (matmul parameters a token uses: attention, top_k experts
 * (1 for dense), router, head; the embedding lookup not) +
 * 12 * layers * dim * seq_len (attention scores and values, full T x T). */
double model_flops_per_token(const model_config *c);
/* Theoretical bytes: parameters + gradients + 2 moments + activations
 * (everything the model allocates). */
size_t model_memory_bytes(const model_config *c);

/* ---- deterministic random numbers (xoshiro256**, seeded by splitmix64) -- */

typedef struct { uint64_t s[4]; } model_rng;
void model_rng_seed(model_rng *r, uint64_t seed);
/* A generator for stream `stream` of `seed` (e.g. one per eval sequence). */
void model_rng_seed2(model_rng *r, uint64_t seed, uint64_t stream);
uint64_t model_rng_next(model_rng *r);
double model_rng_uniform(model_rng *r);        /* [0, 1), 53 bits */
uint64_t model_rng_below(model_rng *r, uint64_t n); /* [0, n), unbiased */
double model_rng_normal(model_rng *r);

/* ---- the model ----------------------------------------------------------- */

typedef struct model model;

/* Allocate and initialise from seed (N(0, init_std) matrices, 0.02 by
 * default, output projections scaled by 1/sqrt(2*layers), norm weights 1).
 * NULL with err on failure. */
model *model_create(const model_config *cfg, uint64_t seed, char *err, size_t errlen);
void model_free(model *m);
const model_config *model_get_config(const model *m);
uint64_t model_step(const model *m);   /* optimizer steps taken */
model_rng *model_get_rng(model *m);    /* the run RNG (MDM masks) */

/* Threads that this model's passes and updates use, the caller included
 * (1 at creation). Changes take effect from the next call, so a trainer
 * may change it between steps; results do not depend on it. Returns 0, or
 * -1 with err (n outside 1..MODEL_MAX_THREADS, or threads not started:
 * the model then runs on the calling thread alone). */
#define MODEL_MAX_THREADS 256
int model_set_threads(model *m, int n, char *err, size_t errlen);
int model_threads(const model *m);
/* Shards of a B x T batch: about 256 rows (tokens) each, whole sequences,
 * at most B. The shard layout fixes the order of summation, so results
 * depend on it (never on the threads); more shards than threads keeps
 * threads busy. model_set_shard_rows changes the target (for tests that
 * need several shards in a small batch); returns 0 or -1 with err. */
int model_shard_count(const model *m, int B, int T);
int model_set_shard_rows(model *m, int rows, char *err, size_t errlen);

/* Parameter / gradient access (for tests and checkpoints). */
float *model_params(model *m, size_t *n);
float *model_grads(model *m, size_t *n);

typedef struct {
    float beta1, beta2, eps, weight_decay, clip;
} model_optim;
model_optim model_optim_default(void); /* 0.9, 0.95, 1e-8, 0.1, 1.0 */

/* Low level: weighted cross-entropy on inputs[B*T] (B <= batch, T <=
 * seq_len). targets[i] < 0 means position i is not scored. Returns
 * sum_i weights[i] * CE_i. If nll != NULL it receives CE_i (0 where not
 * scored). causal selects the attention mask. */
double model_forward(model *m, const int32_t *inputs, const int32_t *targets,
                     int B, int T, int causal, const float *weights, float *nll);
/* The same forward, then the backward: gradients overwrite model_grads.
 * No training noise. For a mixture of experts the gradient is that of the
 * returned loss plus aux_weight * the balance loss (model_moe_aux). */
double model_forward_backward(model *m, const int32_t *inputs, const int32_t *targets,
                              const float *weights, int B, int T, int causal);
/* The same with the config's dropouts (token, attention, residual) drawn
 * from noise_seed, and the config's expert capacity: what a training step
 * runs. The same seed gives the same masks. */
double model_forward_backward_noisy(model *m, const int32_t *inputs, const int32_t *targets,
                                    const float *weights, int B, int T, int causal,
                                    uint64_t noise_seed);
/* After a forward (or a training step): the balance loss, mean over layers
 * (unweighted: 1 for a uniform router; 0 for a dense model), and in
 * *dropped (may be NULL) the share of the token-to-expert choices dropped
 * for capacity (0 without a cap). */
double model_moe_aux(const model *m, double *dropped);
/* Global-norm clipping + AdamW (decoupled weight decay on matrices only).
 * Returns the gradient norm before clipping; step++. */
double model_update(model *m, const model_optim *o, float lr);

/* AR input noise: each of inputs[n] replaced by mask_id with probability
 * rate (the targets are left alone). */
void model_mask_inputs(model_rng *rng, int32_t *inputs, size_t n, double rate, int32_t mask_id);

/* Objective batches: from tokens[B*T], fill inputs, targets, weights.
 * AR: targets[b,t] = tokens[b,t+1], last position unscored, weight
 * 1/(B*(T-1)). MDM: t_b = eps + (1-eps)*((u + b/B) mod 1) with u from rng;
 * each token masked with probability t_b; masked positions scored with
 * weight 1/(t_b*B*T). t_out[B] (may be NULL) receives the t_b. */
void model_ar_batch(const int32_t *tokens, int B, int T, int32_t *inputs,
                    int32_t *targets, float *weights);
void model_mdm_batch(model_rng *rng, const int32_t *tokens, int B, int T, int32_t mask_id,
                     int32_t *inputs, int32_t *targets, float *weights, float *t_out);
/* The same with eps in place of MODEL_MDM_EPS (model_config.mask_eps). */
void model_mdm_batch_eps(model_rng *rng, double eps, const int32_t *tokens, int B, int T,
                         int32_t mask_id, int32_t *inputs, int32_t *targets, float *weights,
                         float *t_out);

/* One training step on tokens[batch*seq_len] for the model's objective:
 * batch, input masking (input_mask), forward and backward with the
 * config's dropouts and expert capacity, update at learning rate lr. The
 * noise comes from the run RNG (one draw per step, only when some noise is
 * on), so a seed gives the same run and a checkpoint resumes it exactly. Returns 0, or -1
 * when the loss or the gradients are not finite (err names the step, and
 * the parameters are left untouched). */
typedef struct { double loss, grad_norm; } model_step_stats; /* see also model_moe_aux */
int model_train_step(model *m, const int32_t *tokens, const model_optim *o, float lr,
                     model_step_stats *st, char *err, size_t errlen);

/* Learning-rate schedules: step in [0, total). WSD = linear warmup, constant,
 * linear decay over the last decay_frac of steps to min_frac*lr; cosine =
 * warmup then cosine to min_frac*lr. */
typedef enum { MODEL_SCHED_WSD = 0, MODEL_SCHED_COSINE = 1 } model_schedule;
float model_lr(model_schedule s, uint64_t step, uint64_t total, float lr,
               double warmup_frac, double decay_frac, double min_frac);
/* The same with the warmup and the decay in steps (model_lr takes
 * floor(frac * total) of each): a warmup of a fixed length whatever the
 * total, and a constant rate to the end with decay_steps 0. */
float model_lr_steps(model_schedule s, uint64_t step, uint64_t total, float lr, uint64_t warmup_steps,
                     uint64_t decay_steps, double min_frac);

/* ---- evaluation ------------------------------------------------------------ */

typedef struct {
    int draws;        /* MDM Monte Carlo draws per sequence (K) */
    int bernoulli;    /* MDM: 0 = exactly l of L masked (weight L/l), 1 = Bernoulli t */
    uint64_t seed;    /* fixed masks: the same seed gives the same draws */
} model_eval_opts;

/* Validation loss in nats/token over n sequences of seq_len tokens, both
 * objectives scoring the same tokens, 1..T-1, given token 0 (which AR cannot
 * predict). AR: exact NLL of the next token over all n*(T-1) predictions.
 * MDM: the ELBO (an upper bound on the same NLL) by Monte Carlo with token 0
 * always visible, draw k of sequence i from the generator (seed, i), so it
 * does not depend on batching. */
double model_val_loss(model *m, const int32_t *seqs, size_t n, const model_eval_opts *o);
/* The same loss (the same bits) and its standard errors: *se over the n
 * validation windows (each window's mean over its draws is one
 * observation; for the MDM this includes the mask draws' noise) and *mc_se,
 * the mask draws' part alone (0 for AR, whose loss is exact; NaN with one
 * draw). model_draws_se says how. NaN when n < 2 or out of memory. */
double model_val_loss_se(model *m, const int32_t *seqs, size_t n, const model_eval_opts *o,
                         double *se, double *mc_se);
/* The standard errors of the mean of y[s*K + k], K draws k (strata) of each
 * of n windows s:
 *   *se     sd over windows of the window means / sqrt(n)
 *   *mc_se  the draws' noise within windows: the residual variance of the
 *           two-way layout (window + draw effects, as in an ANOVA without
 *           replication), sigma^2 = SS_res / ((n-1)(K-1)), over n*K draws;
 *           NaN when K < 2. Window effects (which text) and the draws'
 *           common stratum effects (how many tokens masked) are not noise
 *           of the estimate given the windows, so they are taken out. */
void model_draws_se(const double *y, size_t n, int K, double *se, double *mc_se);

/* Multiple-choice cloze items: item i has context[i*C..], K candidates of M
 * tokens cands[(i*K+k)*M..] and the index of the true one answer[i].
 * C + M must be <= seq_len. */
typedef struct {
    size_t n_items;
    int C, K, M;
    const int32_t *context, *cands, *answer;
} model_cloze;
/* scores[i*K+k] = log-likelihood of candidate k (AR: exact sum of log p of
 * its tokens given the context; MDM: minus its ELBO with the context
 * unmasked and the positions after it masked). Returns 0 or -1 with err. */
int model_mc_scores(model *m, const model_cloze *q, const model_eval_opts *o, double *scores,
                    char *err, size_t errlen);
/* Share of items whose true candidate scores highest (ties count as wrong);
 * -1 on error (err set). */
double model_mc_acc(model *m, const model_cloze *q, const model_eval_opts *o, char *err,
                    size_t errlen);
/* The same item by item: correct[i] (may be NULL) = 1 when item i is right;
 * returns how many are, or -1 on error (err set). */
long model_mc_correct(model *m, const model_cloze *q, const model_eval_opts *o, unsigned char *correct,
                      char *err, size_t errlen);
/* The standard error of an accuracy of `right` out of n items: the sample
 * standard deviation of the items' 0/1 outcomes over sqrt(n), that is
 * sqrt(p (1 - p) / (n - 1)); NaN for n < 2. It is the error of the accuracy
 * as an estimate over items drawn like these; for the MDM an item's outcome
 * also rests on its mask draws, so their noise is inside it too. */
double model_mc_se(size_t right, size_t n);

/* ---- sampling ------------------------------------------------------------ */

typedef struct {
    float temperature; /* 0 = greedy */
    int top_k;         /* 0 = all */
    int steps;         /* MDM unmasking steps S (0 = one per token) */
    uint64_t seed;
} model_sample_opts;
/* Continue prompt[np] by n tokens into out[np+n]. AR: left to right (the
 * window slides when longer than seq_len). MDM: the n positions start masked
 * (np+n <= seq_len; later positions stay masked); each of S steps reveals the
 * most confident of the still-masked positions. Returns 0 or -1 with err. */
int model_sample(model *m, const int32_t *prompt, size_t np, int n, const model_sample_opts *o,
                 int32_t *out, char *err, size_t errlen);

/* ---- checkpoints --------------------------------------------------------- */

/* Caller state kept with a checkpoint: the data position and a few numbers
 * (e.g. a running loss sum), restored bit for bit. */
#define MODEL_CKPT_EXTRA 8
typedef struct {
    uint64_t data_pos[2];
    double extra[MODEL_CKPT_EXTRA];
} model_ckpt_state;

/* Write config, parameters, AdamW moments, step, RNG state and st to path
 * atomically (temp file, fsync, rename) with a CRC32 over everything. */
int model_save(const model *m, const char *path, const model_ckpt_state *st, char *err,
               size_t errlen);
/* The same with a text the caller writes and reads as it likes, kept
 * verbatim (orchestrator/run keeps its run state there, by name): at most
 * MODEL_CKPT_TEXT - 1 bytes. A checkpoint with a text is format 3, which
 * builds before it cannot read; without one (text NULL or "") it is format 1
 * (dense) or 2 (experts), as before. */
#define MODEL_CKPT_TEXT 4096
int model_save_text(const model *m, const char *path, const model_ckpt_state *st, const char *text, char *err,
                    size_t errlen);
/* Read a checkpoint's config only (e.g. to create the model for sampling). */
int model_ckpt_config(const char *path, model_config *cfg, char *err, size_t errlen);
/* Restore into m (its config must equal the checkpoint's). Nothing in m or
 * st changes when it fails. */
int model_load(model *m, const char *path, model_ckpt_state *st, char *err, size_t errlen);
/* The same, and the caller's text into text[textlen] ("" when the
 * checkpoint has none, as formats 1 and 2 do). */
int model_load_text(model *m, const char *path, model_ckpt_state *st, char *text, size_t textlen, char *err,
                    size_t errlen);

/* ---- named tensors (for export) ----------------------------------------------
 *
 * The parameters as named, unpadded, row-major tensors, in Hugging Face
 * Llama's names (a Linear weight is [out, in]: y = x W^T):
 *   model.embed_tokens.weight                         [V, C]
 *   model.layers.L.input_layernorm.weight             [C]     RMSNorm before attention
 *   model.layers.L.self_attn.{q,k,v,o}_proj.weight    [C, C]  heads are row blocks of C/H
 *   model.layers.L.post_attention_layernorm.weight    [C]     RMSNorm before the feed-forward
 *   model.layers.L.mlp.{gate,up}_proj.weight          [F, C]  SwiGLU: down(silu(gate x) * up x)
 *   model.layers.L.mlp.down_proj.weight               [C, F]
 *     (a mixture of experts instead: model.layers.L.mlp.router.weight [E, C] and
 *      model.layers.L.mlp.experts.E.{gate,up,down}_proj.weight)
 *   model.norm.weight                                 [C]     the final RMSNorm
 *   lm_head.weight                                    [V, C]  untied
 * The data pointers point into the model's parameters (views, not copies):
 * the checkpoint's padding sits between tensors, never inside one. */
#define MODEL_TENSOR_NAME 80
typedef struct {
    char name[MODEL_TENSOR_NAME];
    int ndim;          /* 1 or 2 */
    int64_t shape[2];
    const float *data; /* shape[0] (* shape[1]) floats */
} model_tensor;
/* Fill out[0..cap) with m's tensors, in the order above; returns how many
 * there are (call with cap 0 to count). */
size_t model_tensor_list(const model *m, model_tensor *out, size_t cap);

/* The rows model_val_loss scores for n validation sequences, laid out for
 * anyone to recompute it: AR one row per sequence, the MDM o->draws rows
 * per sequence (row i*K + k is draw k of sequence i, its masks from
 * o->seed as model_val_loss draws them). Each row has seq_len inputs,
 * targets (-1 = not scored) and weights such that
 *   model_val_loss = sum over rows and positions of weight * CE(target)
 * with CE from a forward of the row's inputs (causal for AR; for the MDM
 * the [MASK] logit is left out of the softmax). inputs, targets, weights
 * each hold model_val_rows(c, n, o, NULL, ...) * seq_len values. Returns the
 * number of rows (0 when out of memory or n is 0). */
size_t model_val_rows(const model_config *c, const int32_t *seqs, size_t n, const model_eval_opts *o,
                      int32_t *inputs, int32_t *targets, float *weights);

/* ---- benchmark support ----------------------------------------------------- */

/* One sgemm call as issued by the trainer (row-major). */
typedef struct {
    char ta, tb;
    int m, n, k, lda, ldb, ldc;
    float beta;
} model_gemm_call;
/* Record the sgemm calls of one training forward+backward on tokens (the
 * model's objective, full batch) into calls[cap]; returns how many there
 * were (may exceed cap; only cap are stored). */
size_t model_trace_gemms(model *m, const int32_t *tokens, model_gemm_call *calls, size_t cap);

/* ---- layers (each a forward and a backward; exposed for tests) ------------
 * Row-major; N = B*T rows. Backward functions ACCUMULATE (+=) into dW and
 * into the dx of layers marked "dx +=", and overwrite the others. */

/* out[N,C] = wte[tok[i]] */
void layer_embed_forward(float *out, const int32_t *tok, const float *wte, int N, int C);
void layer_embed_backward(float *dwte, const float *dout, const int32_t *tok, int N, int C);
/* out = x / rms(x) * w; rstd[N] saved. Backward: dx +=, dw +=. */
void layer_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int C);
void layer_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x,
                            const float *w, const float *rstd, int N, int C);
/* out[N,OC] = x[N,C] W[OC,C]^T (+ out if accumulate). Backward: dx = (or +=
 * if dx_accumulate) dout W; dW += dout^T x. */
void layer_linear_forward(float *out, const float *x, const float *W, int N, int C, int OC,
                          int accumulate);
void layer_linear_backward(float *dx, float *dW, const float *dout, const float *x,
                           const float *W, int N, int C, int OC, int dx_accumulate);
/* RoPE on the q and k parts of qkv[N,3C] in place (rotate-half pairs,
 * base 10000), q also scaled by attn_scale/sqrt(head_dim) (attn_scale 1:
 * the usual attention). cs = table [T][D] (D/2 cosines then D/2 sines)
 * from layer_rope_table. Backward is the transpose, in place. */
void layer_rope_table(float *cs, int T, int D);
void layer_rope_forward(float *qkv, const float *cs, int B, int T, int C, int H, float attn_scale);
void layer_rope_backward(float *dqkv, const float *cs, int B, int T, int C, int H, float attn_scale);
/* Attention from qkv[N,3C] (q already scaled) into out[N,C]; att[B,H,T,T]
 * keeps the probabilities. Backward overwrites dqkv; scratch[T*T].
 * Dropout: attd (NULL = none) holds a mask [B,H,T,T] on entry (0 or the
 * keep scale, see layer_dropout_mask) and the dropped probabilities att *
 * mask on return; the values are weighted by those. */
void layer_attention_forward(float *out, float *att, float *attd, const float *qkv, int B, int T,
                             int C, int H, int causal);
void layer_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                              const float *att, const float *attd, int B, int T, int C, int H,
                              int causal);
/* mask[n]: 0 with probability p, else 1/(1-p) (inverted dropout), from r. */
void layer_dropout_mask(float *mask, size_t n, float p, model_rng *r);
/* g[N,F] = silu(h[:, :F]) * h[:, F:]  (h is [N, 2F]). Backward overwrites dh. */
void layer_swiglu_forward(float *g, const float *h, int N, int F);
void layer_swiglu_backward(float *dh, const float *dg, const float *h, int N, int F);
/* Mixture-of-experts feed-forward (Switch/GShard style) on x[N,C]: router
 * probabilities p = softmax(x Wr^T) over E experts (wr [E,C]); token i goes
 * to its k most probable experts (ties to the lower index) with gate p_ie
 * (not renormalised, so the router learns from the loss even for k = 1).
 * Expert e is a SwiGLU (w13 + e*2F*C, w2 + e*C*F). With cap > 0 an expert
 * takes at most cap of the batch's N*k choices, in choice-rank then token
 * order; later ones are dropped (their term is 0) and counted. Each
 * expert's rows are gathered into one block: two sgemms per expert.
 * Forward ADDS sum_r gate * expert(x_i) onto out[N,C] and records in the
 * cache what the backward needs, plus the balance loss
 * aux = E * sum_e f_e P_e (f_e: share of the N*k choices that picked e,
 * before capacity; P_e: mean router probability of e), which is exactly 1
 * for a uniform router and is minimised by balanced routing.
 * Backward: dx overwritten, dW +=; aux_coef is d(loss)/d(aux) (f_e held
 * constant, as usual). Sizes: R = N*k grouped rows. */
typedef struct {
    float *probs;          /* [N,E] */
    float *gate;           /* [N,k] */
    int32_t *choice;       /* [N,k] the chosen experts, best first */
    int32_t *row;          /* [N,k] the choice's grouped row, -1 if dropped */
    int32_t *src;          /* [R] grouped row -> token */
    int32_t *off;          /* [E+1] expert e owns grouped rows off[e] .. off[e+1]-1 */
    float *xg, *h13, *g, *y; /* grouped rows: [R,C], [R,2F], [R,F], [R,C] */
    double aux;            /* forward: the balance loss */
    long dropped;          /* forward: choices dropped for capacity */
} layer_moe_cache;
typedef struct {
    float *dy, *dg, *dh13, *dxg; /* [R,C], [R,F], [R,2F], [R,C] */
    float *dprobs;               /* [N,E] */
} layer_moe_scratch;
void layer_moe_forward(float *out, layer_moe_cache *s, const float *x, const float *wr,
                       const float *w13, const float *w2, int N, int C, int F, int E, int k,
                       int cap);
void layer_moe_backward(float *dx, float *dwr, float *dw13, float *dw2, const layer_moe_scratch *t,
                        const float *dout, const float *x, const layer_moe_cache *s,
                        const float *wr, const float *w13, const float *w2, int N, int C, int F,
                        int E, int k, float aux_coef);

/* Output head and weighted cross-entropy over the rows whose target >= 0:
 * returns sum_i w_i * CE_i (CE over the V logits x_i W^T without `excluded`;
 * -1 = none). nll[N] (optional) receives CE_i (0 for unscored rows). When dx
 * is not NULL: dx[N,C] overwritten, dW[V,C] +=. scratch needs
 * layer_head_scratch(C, V) floats (rows are processed in chunks). */
size_t layer_head_scratch(int C, int V);
double layer_head_forward_backward(float *dx, float *dW, float *nll, float *scratch,
                                   const float *x, const float *W, const int32_t *targets,
                                   const float *weights, int N, int C, int V, int32_t excluded);

#endif
