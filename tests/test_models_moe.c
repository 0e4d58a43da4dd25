/*
 * test_models_moe.c — the mixture-of-experts feed-forward and the training
 * noise: the MoE layer (router included) and whole MoE models against the
 * double-precision reference and finite differences (tests/test_models_ref.h),
 * one expert with top-1 equal to the dense model, the balance loss at its
 * known value for a uniform router, capacity drops counted, attention
 * dropout's backward, noise off in evaluation and deterministic under a seed,
 * sizes and FLOPs on active parameters, checkpoints.
 */
#include "tests/harness.h"
#include "tests/test_models_ref.h"

#include <string.h>

#define TOL 2e-3

typedef struct {
    double *x, *wr, *w13, *w2, *r, *out;
    int N, C, F, E, k, cap;
    double aux_coef;
} moectx;

static double f_moe(void *p)
{
    moectx *c = p;
    for (int i = 0; i < c->N * c->C; i++) c->out[i] = 0;
    double aux = ref_moe(c->out, c->x, c->wr, c->w13, c->w2, c->N, c->C, c->F, c->E, c->k, c->cap,
                         NULL, NULL);
    double s = 0;
    for (int i = 0; i < c->N * c->C; i++) s += c->r[i] * c->out[i];
    return s + c->aux_coef * aux;
}

/* One layer, forward against the reference, backward against central
 * differences of (r . out + aux_coef * aux). Returns the worst relative
 * error over the four gradients (or 1 when the forward disagrees). */
static double check_moe_layer(int N, int C, int F, int E, int k, int cap, uint64_t seed, long *dropped)
{
    model_rng g;
    model_rng_seed(&g, seed);
    size_t nx = (size_t)N * C, nr = (size_t)E * C, n13 = (size_t)E * 2 * F * C, n2 = (size_t)E * C * F;
    size_t R = (size_t)N * k;
    double *x = malloc(sizeof(double) * nx), *wr = malloc(sizeof(double) * nr);
    double *w13 = malloc(sizeof(double) * n13), *w2 = malloc(sizeof(double) * n2);
    double *r = malloc(sizeof(double) * nx), *out = malloc(sizeof(double) * nx);
    ref_fill(&g, x, nx, 1.0), ref_fill(&g, wr, nr, 1.5), ref_fill(&g, w13, n13, 0.5);
    ref_fill(&g, w2, n2, 0.5), ref_fill(&g, r, nx, 1.0);
    float *xf = ref_tof(x, nx), *wrf = ref_tof(wr, nr), *w13f = ref_tof(w13, n13), *w2f = ref_tof(w2, n2);
    float *rf = ref_tof(r, nx);
    ref_tod(x, xf, nx), ref_tod(wr, wrf, nr), ref_tod(w13, w13f, n13), ref_tod(w2, w2f, n2);
    layer_moe_cache s = {malloc(sizeof(float) * N * E), malloc(sizeof(float) * R),
                         malloc(sizeof(int32_t) * R), malloc(sizeof(int32_t) * R),
                         malloc(sizeof(int32_t) * R), malloc(sizeof(int32_t) * (E + 1)),
                         malloc(sizeof(float) * R * C), malloc(sizeof(float) * R * 2 * F),
                         malloc(sizeof(float) * R * F), malloc(sizeof(float) * R * C), 0, 0};
    layer_moe_scratch t = {malloc(sizeof(float) * R * C), malloc(sizeof(float) * R * F),
                           malloc(sizeof(float) * R * 2 * F), malloc(sizeof(float) * R * C),
                           malloc(sizeof(float) * N * E)};
    float *y = calloc(nx, sizeof(float)), *dx = malloc(sizeof(float) * nx);
    float *dwr = calloc(nr, sizeof(float)), *dw13 = calloc(n13, sizeof(float)), *dw2 = calloc(n2, sizeof(float));
    layer_moe_forward(y, &s, xf, wrf, w13f, w2f, N, C, F, E, k, cap);
    moectx c = {x, wr, w13, w2, r, out, N, C, F, E, k, cap, 0.7};
    for (size_t i = 0; i < nx; i++) out[i] = 0;
    long rdrop;
    double margin;
    double aux = ref_moe(out, x, wr, w13, w2, N, C, F, E, k, cap, &rdrop, &margin);
    double worst = 0;
    for (size_t i = 0; i < nx; i++)
        if (fabs(y[i] - out[i]) > 1e-5 * (1 + fabs(out[i]))) worst = 1;
    if (fabs(s.aux - aux) > 1e-5 || s.dropped != rdrop || margin < 1e-3) worst = 1;
    *dropped = s.dropped;
    layer_moe_backward(dx, dwr, dw13, dw2, &t, rf, xf, &s, wrf, w13f, w2f, N, C, F, E, k, 0.7f);
    if (worst < 1) {
        double e;
        if ((e = fd_check("moe dx", f_moe, &c, x, dx, nx, 1)) > worst) worst = e;
        if ((e = fd_check("moe d router", f_moe, &c, wr, dwr, nr, 1)) > worst) worst = e;
        if ((e = fd_check("moe dw13", f_moe, &c, w13, dw13, n13, 3)) > worst) worst = e;
        if ((e = fd_check("moe dw2", f_moe, &c, w2, dw2, n2, 3)) > worst) worst = e;
    }
    free(x), free(wr), free(w13), free(w2), free(r), free(out);
    free(xf), free(wrf), free(w13f), free(w2f), free(rf), free(y), free(dx), free(dwr), free(dw13), free(dw2);
    free(s.probs), free(s.gate), free(s.choice), free(s.row), free(s.src), free(s.off);
    free(s.xg), free(s.h13), free(s.g), free(s.y);
    free(t.dy), free(t.dg), free(t.dh13), free(t.dxg), free(t.dprobs);
    return worst;
}

TEST(moe_layer_forward_and_backward_match_finite_differences_router_included)
{
    long dropped;
    /* top-2 of 4, no capacity: every choice kept */
    CHECK(check_moe_layer(9, 8, 6, 4, 2, 0, 11, &dropped) < TOL);
    CHECK_INT(dropped, 0);
    /* top-1 of 3 */
    CHECK(check_moe_layer(8, 8, 5, 3, 1, 0, 12, &dropped) < TOL);
    /* a capacity of 3 per expert for 10 tokens x 2 choices over 4 experts:
     * some choices are dropped, identically in float and in double */
    CHECK(check_moe_layer(10, 8, 4, 4, 2, 3, 13, &dropped) < TOL);
    CHECK(dropped > 0);
}

static model_config tiny_moe(model_objective obj, int E, int k)
{
    model_config c = {.layers = 2, .dim = 16, .heads = 2, .hidden = 12, .vocab = 11, .seq_len = 6,
                      .batch = 2, .objective = obj, .mask_id = 10, .experts = E, .top_k = k,
                      .aux_weight = 0.3f};
    return c;
}

static void make_batch(const model_config *cfg, int32_t *in, int32_t *tg, float *w, model_rng *g)
{
    int B = cfg->batch, T = cfg->seq_len;
    int32_t tok[64];
    for (int i = 0; i < B * T; i++) tok[i] = (int32_t)model_rng_below(g, 10);
    if (cfg->objective == MODEL_AR) {
        model_ar_batch(tok, B, T, in, tg, w);
    } else {
        model_rng r;
        model_rng_seed(&r, 5);
        model_mdm_batch(&r, tok, B, T, cfg->mask_id, in, tg, w, NULL);
    }
}

/* A whole model's gradient (objective + aux_weight * balance loss) against
 * the reference; noisy: with token and residual dropout drawn from a seed;
 * sharded: one shard per sequence, on two threads. */
static double check_model_on(model_config cfg, int noisy, int sharded, double *dloss)
{
    char err[256];
    model *m = model_create(&cfg, 42, err, sizeof err);
    if (!m) return fprintf(stderr, "%s\n", err), 1;
    if (sharded && (model_set_shard_rows(m, cfg.seq_len, err, sizeof err) ||
                    model_set_threads(m, 2, err, sizeof err) ||
                    model_shard_count(m, cfg.batch, cfg.seq_len) != cfg.batch)) {
        fprintf(stderr, "%s\n", err);
        model_free(m);
        return 1;
    }
    size_t n;
    model_rng g;
    float *p = ref_enlarge_weights(m, &g, &n);
    int B = cfg.batch, T = cfg.seq_len, causal = cfg.objective == MODEL_AR;
    int32_t in[64], tg[64];
    float w[64];
    make_batch(&cfg, in, tg, w, &g);
    double loss = noisy ? model_forward_backward_noisy(m, in, tg, w, B, T, causal, 77)
                        : model_forward_backward(m, in, tg, w, B, T, causal);
    double *pd = malloc(sizeof(double) * n);
    ref_tod(pd, p, n);
    ref_mctx c = {m, pd, in, tg, w, B, T, causal, {NULL, NULL, 0}};
    if (noisy) c.nz = (ref_noise){m->a.tokmask, m->a.resmask, 0};
    *dloss = fabs(loss + cfg.aux_weight * model_moe_aux(m, NULL) - ref_f_model(&c));
    double worst = fd_check("model", ref_f_model, &c, pd, model_grads(m, NULL), n, 3);
    free(pd);
    model_free(m);
    return worst;
}

static double check_model(model_config cfg, int noisy, double *dloss)
{
    return check_model_on(cfg, noisy, 0, dloss);
}

TEST(moe_model_gradients_match_finite_differences_for_both_objectives)
{
    double dl;
    CHECK(check_model(tiny_moe(MODEL_AR, 3, 2), 0, &dl) < 3e-3);
    CHECK(dl < 1e-4);
    CHECK(check_model(tiny_moe(MODEL_MDM, 4, 1), 0, &dl) < 3e-3);
    CHECK(dl < 1e-4);
}

TEST(noisy_gradients_match_finite_differences_with_their_masks)
{
    double dl;
    model_config c = tiny_moe(MODEL_AR, 0, 0);
    c.token_dropout = 0.3f;
    c.resid_dropout = 0.25f;
    CHECK(check_model(c, 1, &dl) < 3e-3);
    CHECK(dl < 1e-4);
    c = tiny_moe(MODEL_MDM, 3, 2);
    c.resid_dropout = 0.2f;
    CHECK(check_model(c, 1, &dl) < 3e-3);
    CHECK(dl < 1e-4);
}

/* The same checks with the batch cut into shards (one per sequence) on two
 * threads: the shards' partial gradients and their sum, the experts'
 * batch-wide stages between the shards' regions, the masks' offsets. */
TEST(sharded_gradients_on_two_threads_match_finite_differences)
{
    double dl;
    for (int obj = 0; obj < 2; obj++) {
        model_config c = tiny_moe(obj ? MODEL_MDM : MODEL_AR, 0, 0);
        c.batch = 3;
        CHECK(check_model_on(c, 0, 1, &dl) < 3e-3);
        CHECK(dl < 1e-4);
        c.token_dropout = 0.3f;
        c.resid_dropout = 0.25f;
        CHECK(check_model_on(c, 1, 1, &dl) < 3e-3);
        CHECK(dl < 1e-4);
        c = tiny_moe(obj ? MODEL_MDM : MODEL_AR, 3, 2);
        c.resid_dropout = 0.2f;
        CHECK(check_model_on(c, 1, 1, &dl) < 3e-3);
        CHECK(dl < 1e-4);
    }
}

/* Attention dropout: out = (P * M) V; backward against central differences
 * of the reference with the same mask. */
typedef struct {
    double *qkv, *r;
    const float *mask;
    int B, T, C, H, causal;
} actx;

static double f_attn_drop(void *p)
{
    actx *c = p;
    int B = c->B, T = c->T, C = c->C, H = c->H, D = C / H;
    double s = 0, *pr = malloc(sizeof(double) * T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                int len = c->causal ? i + 1 : T;
                double mx = -1e300, sum = 0;
                for (int j = 0; j < len; j++) {
                    double d = 0;
                    for (int q = 0; q < D; q++)
                        d += c->qkv[(b * T + i) * 3 * C + h * D + q] * c->qkv[(b * T + j) * 3 * C + C + h * D + q];
                    pr[j] = d;
                    if (d > mx) mx = d;
                }
                for (int j = 0; j < len; j++) sum += (pr[j] = exp(pr[j] - mx));
                for (int q = 0; q < D; q++) {
                    double o = 0;
                    for (int j = 0; j < len; j++)
                        o += pr[j] / sum * c->mask[((size_t)(b * H + h) * T + i) * T + j] *
                             c->qkv[(b * T + j) * 3 * C + 2 * C + h * D + q];
                    s += o * c->r[(b * T + i) * C + h * D + q];
                }
            }
    free(pr);
    return s;
}

TEST(attention_dropout_backward_matches_finite_differences)
{
    for (int causal = 0; causal < 2; causal++) {
        int B = 2, T = 7, C = 12, H = 3, n = B * T * 3 * C, no = B * T * C;
        model_rng g;
        model_rng_seed(&g, 21 + causal);
        double *x = malloc(sizeof(double) * n), *r = malloc(sizeof(double) * no);
        ref_fill(&g, x, n, 1.5), ref_fill(&g, r, no, 1);
        float *qkv = ref_tof(x, n), *rf = ref_tof(r, no), *y = malloc(sizeof(float) * no);
        float *att = malloc(sizeof(float) * B * H * T * T), *attd = malloc(sizeof(float) * B * H * T * T);
        float *mask = malloc(sizeof(float) * B * H * T * T), *dqkv = malloc(sizeof(float) * n);
        float *scratch = malloc(sizeof(float) * T * T);
        layer_dropout_mask(mask, (size_t)B * H * T * T, 0.3f, &g);
        int zeros = 0;
        for (int i = 0; i < B * H * T * T; i++) {
            zeros += mask[i] == 0;
            CHECK(mask[i] == 0 || fabsf(mask[i] - 1 / 0.7f) < 1e-6);
        }
        CHECK(zeros > 0 && zeros < B * H * T * T / 2);
        memcpy(attd, mask, sizeof(float) * B * H * T * T);
        layer_attention_forward(y, att, attd, qkv, B, T, C, H, causal);
        layer_attention_backward(dqkv, scratch, rf, qkv, att, attd, B, T, C, H, causal);
        actx c = {x, r, mask, B, T, C, H, causal};
        double want = f_attn_drop(&c), got = 0;
        for (int i = 0; i < no; i++) got += (double)y[i] * r[i];
        CHECK_NEAR(got, want, 1e-4 * (1 + fabs(want)));
        CHECK(fd_check("attention dropout", f_attn_drop, &c, x, dqkv, n, 1) < TOL);
        free(x), free(r), free(qkv), free(rf), free(y), free(att), free(attd), free(mask), free(dqkv), free(scratch);
    }
}

/* The tensors of a dense model and of a 1-expert top-1 model from the same
 * seed are drawn alike; the router's softmax over one expert is 1. */
TEST(moe_one_expert_top1_equals_the_dense_model)
{
    for (int obj = 0; obj < 2; obj++) {
        char err[256];
        model_config dc = tiny_moe((model_objective)obj, 0, 0), ec = tiny_moe((model_objective)obj, 1, 1);
        model *d = model_create(&dc, 5, err, sizeof err), *e = model_create(&ec, 5, err, sizeof err);
        CHECK(d && e);
        size_t nd = model_param_count(&dc, NULL), ne = model_param_count(&ec, NULL);
        CHECK_INT(ne, nd + 2 * 16); /* the routers: L x E x C */
        CHECK_INT(model_active_param_count(&ec), ne);
        CHECK_NEAR(model_flops_per_token(&ec), model_flops_per_token(&dc) + 6.0 * 2 * 16, 1e-6);
#define SAME(t, len) CHECK(memcmp(d->p.t, e->p.t, sizeof(float) * (len)) == 0)
        SAME(wte, 11 * 16);
        SAME(w13, 2 * 24 * 16);
        SAME(w2, 2 * 16 * 12);
        SAME(wqkv, 2 * 3 * 16 * 16);
        int B = 2, T = 6, causal = obj == MODEL_AR;
        model_rng g;
        model_rng_seed(&g, 4);
        int32_t in[12], tg[12];
        float w[12];
        make_batch(&dc, in, tg, w, &g);
        double ld = model_forward_backward(d, in, tg, w, B, T, causal);
        double le = model_forward_backward(e, in, tg, w, B, T, causal);
        CHECK_NEAR(le, ld, 1e-6 * (1 + fabs(ld)));
        CHECK_NEAR(model_moe_aux(e, NULL), 1.0, 1e-6); /* one expert: f = P = 1 */
        double gd = 0, diff = 0;
        for (size_t i = 0; i < 2 * 24 * 16; i++) {
            gd = fmax(gd, fabs(d->g.w13[i]));
            diff = fmax(diff, fabs(d->g.w13[i] - e->g.w13[i]));
        }
        CHECK(gd > 0 && diff < 1e-5 * gd + 1e-7);
        diff = 0;
        for (size_t i = 0; i < 11 * 16; i++) diff = fmax(diff, fabs(d->g.wte[i] - e->g.wte[i]));
        CHECK(diff < 1e-6);
        for (size_t i = 0; i < 2 * 16; i++) CHECK(fabsf(e->g.wr[i]) < 1e-7f);
        model_free(d);
        model_free(e);
    }
}

TEST(moe_balance_loss_is_one_for_a_uniform_router_and_higher_for_a_skewed_one)
{
    char err[256];
    model_config c = tiny_moe(MODEL_AR, 4, 2);
    c.batch = 4;
    c.seq_len = 8;
    model *m = model_create(&c, 8, err, sizeof err);
    CHECK(m != NULL);
    memset(m->p.wr, 0, sizeof(float) * 2 * 4 * 16); /* every router: p = 1/E */
    int32_t in[32], tg[32];
    float w[32] = {0};
    model_rng g;
    model_rng_seed(&g, 2);
    for (int i = 0; i < 32; i++) in[i] = (int32_t)model_rng_below(&g, 10), tg[i] = -1;
    model_forward(m, in, tg, 4, 8, 1, w, NULL);
    CHECK_NEAR(model_moe_aux(m, NULL), 1.0, 1e-6);
    /* All tokens routed to experts 0 and 1 with most of the probability:
     * f = (1/2, 1/2, 0, 0), P_0 + P_1 > 1/2, so E sum f P > 1. */
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < 16; k++) {
            m->p.wr[(l * 4 + 0) * 16 + k] = 3.0f;
            m->p.wr[(l * 4 + 1) * 16 + k] = 3.0f;
        }
    memset(m->p.wte, 0, sizeof(float) * 11 * 16);
    for (size_t i = 0; i < 11 * 16; i++) m->p.wte[i] = 1.0f; /* positive inputs: logits 0,1 large */
    model_forward(m, in, tg, 4, 8, 1, w, NULL);
    CHECK(model_moe_aux(m, NULL) > 1.5);
    model_free(m);
}

TEST(moe_capacity_drops_are_counted_in_training_and_never_in_evaluation)
{
    char err[256];
    model_config c = tiny_moe(MODEL_AR, 4, 1);
    c.capacity_factor = 0.5f; /* room for half the tokens */
    model *m = model_create(&c, 3, err, sizeof err);
    int32_t tok[12], in[12], tg[12];
    float w[12];
    for (int i = 0; i < 12; i++) tok[i] = i % 10;
    model_ar_batch(tok, 2, 6, in, tg, w);
    double dropped;
    model_forward_backward_noisy(m, in, tg, w, 2, 6, 1, 1);
    model_moe_aux(m, &dropped);
    CHECK(dropped >= 4.0 / 12 - 1e-9); /* capacity ceil(0.5*12/4) = 2 per expert: at most 8 of 12 kept */
    model_forward(m, in, tg, 2, 6, 1, w, NULL);
    model_moe_aux(m, &dropped);
    CHECK(dropped == 0);
    model_optim o = model_optim_default();
    model_step_stats st;
    CHECK_INT(model_train_step(m, tok, &o, 1e-3f, &st, err, sizeof err), 0);
    model_moe_aux(m, &dropped);
    CHECK(dropped > 0);
    model_free(m);
}

static int same_params(model *a, model *b)
{
    size_t na, nb;
    float *pa = model_params(a, &na), *pb = model_params(b, &nb);
    return na == nb && memcmp(pa, pb, sizeof(float) * na) == 0;
}

TEST(noise_is_off_in_evaluation_and_deterministic_under_a_seed)
{
    char err[256];
    for (int obj = 0; obj < 2; obj++) {
        model_config clean = tiny_moe((model_objective)obj, 0, 0), noisy = clean;
        noisy.input_mask = 0.3f;
        noisy.token_dropout = 0.2f;
        noisy.attn_dropout = 0.2f;
        noisy.resid_dropout = 0.2f;
        model *a = model_create(&noisy, 7, err, sizeof err), *b = model_create(&noisy, 7, err, sizeof err);
        model *q = model_create(&clean, 7, err, sizeof err);
        CHECK(a && b && q);
        CHECK(same_params(a, q)); /* noise does not touch the initialisation */
        int32_t seqs[4 * 6];
        for (int i = 0; i < 24; i++) seqs[i] = (i * 7 + 3) % 10;
        model_eval_opts eo = {4, 0, 99};
        /* evaluation: the noisy config changes nothing */
        CHECK(model_val_loss(a, seqs, 4, &eo) == model_val_loss(q, seqs, 4, &eo));
        int32_t ctx[2] = {1, 2}, cands[6] = {3, 4, 5, 6, 7, 8}, ans[1] = {0};
        model_cloze cz = {1, 2, 3, 2, ctx, cands, ans};
        double sa[3], sq[3];
        CHECK_INT(model_mc_scores(a, &cz, &eo, sa, err, sizeof err), 0);
        CHECK_INT(model_mc_scores(q, &cz, &eo, sq, err, sizeof err), 0);
        CHECK(memcmp(sa, sq, sizeof sa) == 0);
        /* training: the same seed gives the same steps; noise changes them */
        model_optim o = model_optim_default();
        model_step_stats sta, stb, stq;
        for (int s = 0; s < 3; s++) {
            CHECK_INT(model_train_step(a, seqs, &o, 1e-2f, &sta, err, sizeof err), 0);
            CHECK_INT(model_train_step(b, seqs, &o, 1e-2f, &stb, err, sizeof err), 0);
            CHECK_INT(model_train_step(q, seqs, &o, 1e-2f, &stq, err, sizeof err), 0);
            CHECK(sta.loss == stb.loss);
            CHECK(sta.loss != stq.loss);
        }
        CHECK(same_params(a, b));
        CHECK(!same_params(a, q));
        model_free(a), model_free(b), model_free(q);
    }
}

TEST(input_masking_replaces_inputs_with_mask_at_the_rate_and_leaves_targets)
{
    int32_t in[20000];
    for (int i = 0; i < 20000; i++) in[i] = i % 9;
    model_rng r;
    model_rng_seed(&r, 1);
    model_mask_inputs(&r, in, 20000, 0.25, 42);
    int masked = 0;
    for (int i = 0; i < 20000; i++) {
        if (in[i] == 42) masked++;
        else CHECK_INT(in[i], i % 9);
    }
    CHECK_NEAR(masked / 20000.0, 0.25, 0.015);
}

TEST(moe_sizes_count_total_and_active_parameters)
{
    model_config c = {.layers = 4, .dim = 128, .heads = 4, .vocab = 1024, .seq_len = 128, .batch = 16,
                      .experts = 8, .top_k = 2};
    size_t ne, total = model_param_count(&c, &ne);
    size_t F = 344, attn = 4 * 128 * 128, norms = 2 * 128;
    CHECK_INT(ne, 4 * (attn + 8 * 3 * F * 128 + 8 * 128 + norms) + 128);
    CHECK_INT(total, ne + 2 * 1024 * 128);
    CHECK_INT(model_active_param_count(&c), 4 * (attn + 2 * 3 * F * 128 + 8 * 128 + norms) + 128 + 2 * 1024 * 128);
    CHECK_NEAR(model_flops_per_token(&c),
               6.0 * (4 * (attn + 2 * 3 * F * 128 + 8 * 128) + 1024 * 128) + 12.0 * 4 * 128 * 128, 1);
    char err[256];
    model_config bad = c;
    bad.top_k = 9;
    CHECK_INT(model_config_check(&bad, err, sizeof err), -1);
    CHECK_CONTAINS(err, "top_k");
    bad = c;
    bad.attn_dropout = 1.0f;
    CHECK_INT(model_config_check(&bad, err, sizeof err), -1);
    CHECK_CONTAINS(err, "attn_dropout");
}

TEST(moe_checkpoint_round_trip_and_dense_stays_version_1)
{
    char err[256], path[4096];
    model_config c = tiny_moe(MODEL_MDM, 3, 2);
    model *m = model_create(&c, 1, err, sizeof err);
    int32_t tok[12];
    for (int i = 0; i < 12; i++) tok[i] = i % 10;
    model_optim o = model_optim_default();
    model_step_stats st;
    CHECK_INT(model_train_step(m, tok, &o, 1e-3f, &st, err, sizeof err), 0);
    harness_path(path, sizeof path, "moe.ckpt");
    model_ckpt_state ck = {{1, 2}, {3}}, back;
    CHECK_INT(model_save(m, path, &ck, err, sizeof err), 0);
    model_config rc;
    CHECK_INT(model_ckpt_config(path, &rc, err, sizeof err), 0);
    CHECK_INT(rc.experts, 3);
    CHECK_INT(rc.top_k, 2);
    model *n = model_create(&c, 99, err, sizeof err);
    CHECK_INT(model_load(n, path, &back, err, sizeof err), 0);
    CHECK(same_params(m, n));
    /* another number of experts is another model */
    model_config c2 = tiny_moe(MODEL_MDM, 2, 2);
    model *k = model_create(&c2, 1, err, sizeof err);
    CHECK_INT(model_load(k, path, &back, err, sizeof err), -1);
    CHECK_CONTAINS(err, "different model");
    /* a dense checkpoint is written as version 1, as before experts */
    model_config dc = tiny_moe(MODEL_MDM, 0, 0);
    model *d = model_create(&dc, 1, err, sizeof err);
    CHECK_INT(model_save(d, path, &ck, err, sizeof err), 0);
    FILE *f = fopen(path, "rb");
    unsigned char head[12];
    CHECK(f && fread(head, 1, 12, f) == 12);
    if (f) fclose(f);
    int32_t ver;
    memcpy(&ver, head + 8, 4);
    CHECK_INT(ver, 1);
    model_free(m), model_free(n), model_free(k), model_free(d);
}

/* A noisy mixture-of-experts run resumes bit for bit: the noise comes from
 * the run RNG, which the checkpoint keeps. */
TEST(moe_with_noise_resumes_bit_exact_from_a_checkpoint)
{
    char err[256], path[4096];
    model_config c = tiny_moe(MODEL_AR, 3, 2);
    c.capacity_factor = 1.0f;
    c.input_mask = 0.2f;
    c.attn_dropout = 0.1f;
    c.resid_dropout = 0.1f;
    c.token_dropout = 0.1f;
    model *a = model_create(&c, 4, err, sizeof err), *b = model_create(&c, 4, err, sizeof err);
    int32_t tok[12];
    for (int i = 0; i < 12; i++) tok[i] = (i * 3) % 10;
    model_optim o = model_optim_default();
    model_step_stats st;
    for (int s = 0; s < 3; s++) CHECK_INT(model_train_step(a, tok, &o, 1e-2f, &st, err, sizeof err), 0);
    harness_path(path, sizeof path, "a.ckpt");
    model_ckpt_state ck = {{0, 0}, {0}};
    CHECK_INT(model_save(a, path, &ck, err, sizeof err), 0);
    CHECK_INT(model_load(b, path, &ck, err, sizeof err), 0);
    for (int s = 0; s < 3; s++) {
        model_step_stats sa, sb;
        CHECK_INT(model_train_step(a, tok, &o, 1e-2f, &sa, err, sizeof err), 0);
        CHECK_INT(model_train_step(b, tok, &o, 1e-2f, &sb, err, sizeof err), 0);
        CHECK(sa.loss == sb.loss);
    }
    CHECK(same_params(a, b));
    model_free(a), model_free(b);
}
