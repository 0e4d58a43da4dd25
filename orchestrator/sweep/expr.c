/*
 * expr.c — the arithmetic of `derive:` expressions.
 *
 *   expr   := term (('+' | '-') term)*
 *   term   := unary (('*' | '/') unary)*
 *   unary  := '-' unary | '+' unary | atom
 *   atom   := NUMBER | NAME | '(' expr ')'
 *
 * NUMBER takes the sweep's suffixes (25k, 1.5M, 2B) and scientific notation;
 * NAME is an axis, another derived parameter or a config field. A recursive
 * descent parser compiles the text once into a small stack program, because
 * planning a large grid evaluates each expression once per run. Its
 * recursion is bounded: more than SW_EXPR_MAX_DEPTH parentheses and signs
 * nested inside one another is an error, not a stack overflow (40k '(' in
 * an 80 KB file crashed `xover plan`).
 */
#include "orchestrator/sweep/internal.h"

#include "orchestrator/util/util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_NUM, OP_NAME, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_NEG };

typedef struct {
    int op;
    double num;
    size_t name;
} ins;

struct sw_expr {
    ins *code;
    size_t n, cap;
    char **names;
    int *name_pos;
    size_t nnames;
    size_t depth; /* stack depth needed */
};

typedef struct {
    const char *s;
    size_t i;
    sw_expr *e;
    char *err;
    size_t errlen;
    int errpos;
    int failed;
    size_t sp, maxsp;
    int depth; /* parentheses and signs open around the current position */
} parser;

static void fail(parser *p, size_t pos, const char *msg)
{
    if (p->failed) return;
    p->failed = 1;
    p->errpos = (int)pos;
    snprintf(p->err, p->errlen, "%s", msg);
}

static void emit(parser *p, int op, double num, size_t name)
{
    sw_expr *e = p->e;
    ins *c = xo_grow(e->code, &e->cap, e->n + 1, sizeof *c, 16);
    if (!c) { fail(p, p->i, "out of memory"); return; }
    e->code = c;
    e->code[e->n++] = (ins){op, num, name};
    if (op == OP_NUM || op == OP_NAME) {
        if (++p->sp > p->maxsp) p->maxsp = p->sp;
    } else if (op != OP_NEG) {
        p->sp--;
    }
}

static void skip_space(parser *p)
{
    while (p->s[p->i] == ' ' || p->s[p->i] == '\t') p->i++;
}

static void parse_expr(parser *p);

/* Enter one more level of nesting at p->i: 0, or -1 (failed) past the bound. */
static int enter(parser *p)
{
    if (++p->depth <= SW_EXPR_MAX_DEPTH) return 0;
    char msg[96];
    snprintf(msg, sizeof msg, "expression nested too deeply (more than %d parentheses and signs)",
             SW_EXPR_MAX_DEPTH);
    fail(p, p->i, msg);
    return -1;
}

static void parse_atom(parser *p)
{
    skip_space(p);
    const char *s = p->s;
    size_t start = p->i;
    char c = s[p->i];
    if (c == '(') {
        if (enter(p)) return;
        p->i++;
        parse_expr(p);
        p->depth--;
        if (p->failed) return;
        skip_space(p);
        if (s[p->i] != ')') { fail(p, p->i, "expected ')'"); return; }
        p->i++;
        return;
    }
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)s[p->i + 1]))) {
        size_t j = p->i;
        while (isdigit((unsigned char)s[j]) || s[j] == '.' || s[j] == '_') j++;
        if ((s[j] == 'e' || s[j] == 'E') &&
            (isdigit((unsigned char)s[j + 1]) ||
             ((s[j + 1] == '-' || s[j + 1] == '+') && isdigit((unsigned char)s[j + 2])))) {
            j += 2;
            while (isdigit((unsigned char)s[j])) j++;
        }
        if (s[j] && strchr("kKMGBT", s[j])) j++;
        if (isalnum((unsigned char)s[j]) || s[j] == '_') {
            fail(p, start, "malformed number");
            return;
        }
        char buf[64];
        size_t len = j - start;
        if (len >= sizeof buf) { fail(p, start, "number too long"); return; }
        memcpy(buf, s + start, len);
        buf[len] = 0;
        double v;
        if (sw_parse_number(buf, &v)) { fail(p, start, "malformed number"); return; }
        p->i = j;
        emit(p, OP_NUM, v, 0);
        return;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        size_t j = p->i;
        while (isalnum((unsigned char)s[j]) || s[j] == '_' || s[j] == '.') j++;
        size_t len = j - start;
        sw_expr *e = p->e;
        size_t k;
        for (k = 0; k < e->nnames; k++)
            if (strlen(e->names[k]) == len && !strncmp(e->names[k], s + start, len)) break;
        if (k == e->nnames) {
            char **nn = realloc(e->names, (k + 1) * sizeof *nn);
            if (nn) e->names = nn;
            int *np = realloc(e->name_pos, (k + 1) * sizeof *np);
            if (np) e->name_pos = np;
            if (!nn || !np) { fail(p, start, "out of memory"); return; }
            e->names[k] = strndup(s + start, len);
            e->name_pos[k] = (int)start;
            e->nnames++;
        }
        p->i = j;
        emit(p, OP_NAME, 0, k);
        return;
    }
    if (!c) fail(p, start, "expression ends too early");
    else fail(p, start, "expected a number, a name or '('");
}

static void parse_unary(parser *p)
{
    skip_space(p);
    char c = p->s[p->i];
    if (c == '-' || c == '+') {
        if (enter(p)) return;
        p->i++;
        parse_unary(p);
        p->depth--;
        if (c == '-') emit(p, OP_NEG, 0, 0);
        return;
    }
    parse_atom(p);
}

static void parse_term(parser *p)
{
    parse_unary(p);
    for (;;) {
        if (p->failed) return;
        skip_space(p);
        char c = p->s[p->i];
        if (c != '*' && c != '/') return;
        p->i++;
        parse_unary(p);
        emit(p, c == '*' ? OP_MUL : OP_DIV, 0, 0);
    }
}

static void parse_expr(parser *p)
{
    parse_term(p);
    for (;;) {
        if (p->failed) return;
        skip_space(p);
        char c = p->s[p->i];
        if (c != '+' && c != '-') return;
        p->i++;
        parse_term(p);
        emit(p, c == '+' ? OP_ADD : OP_SUB, 0, 0);
    }
}

sw_expr *sw_expr_parse(const char *text, char *err, size_t errlen, int *errpos)
{
    sw_expr *e = calloc(1, sizeof *e);
    if (!e) { snprintf(err, errlen, "out of memory"); *errpos = 0; return NULL; }
    parser p = {.s = text, .e = e, .err = err, .errlen = errlen};
    parse_expr(&p);
    skip_space(&p);
    if (!p.failed && text[p.i]) fail(&p, p.i, "unexpected character in expression");
    if (p.failed) {
        *errpos = p.errpos;
        sw_expr_free(e);
        return NULL;
    }
    e->depth = p.maxsp;
    return e;
}

void sw_expr_free(sw_expr *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->nnames; i++) free(e->names[i]);
    free(e->names);
    free(e->name_pos);
    free(e->code);
    free(e);
}

size_t sw_expr_nnames(const sw_expr *e) { return e->nnames; }
const char *sw_expr_name(const sw_expr *e, size_t i) { return e->names[i]; }
int sw_expr_name_pos(const sw_expr *e, size_t i) { return e->name_pos[i]; }

double sw_expr_eval(const sw_expr *e, const double *vals)
{
    double stack_small[32];
    double *st = e->depth <= 32 ? stack_small : malloc(e->depth * sizeof *st);
    if (!st) return NAN;
    size_t sp = 0;
    for (size_t k = 0; k < e->n; k++) {
        const ins *in = &e->code[k];
        switch (in->op) {
        case OP_NUM: st[sp++] = in->num; break;
        case OP_NAME: st[sp++] = vals[in->name]; break;
        case OP_NEG: st[sp - 1] = -st[sp - 1]; break;
        case OP_ADD: sp--; st[sp - 1] += st[sp]; break;
        case OP_SUB: sp--; st[sp - 1] -= st[sp]; break;
        case OP_MUL: sp--; st[sp - 1] *= st[sp]; break;
        case OP_DIV: sp--; st[sp - 1] = st[sp] == 0 ? NAN : st[sp - 1] / st[sp]; break;
        }
    }
    double r = sp ? st[0] : NAN;
    if (st != stack_small) free(st);
    return r;
}

int sw_parse_number(const char *s, double *out)
{
    /* Only decimal numbers: strtod alone would also take "inf", "nan" and
     * hex, which no sweep means. Underscores group digits (1_000_000). */
    char buf[64];
    size_t n = 0;
    for (const char *c = s; *c; c++) {
        if (*c == '_') continue;
        if (n + 1 >= sizeof buf) return -1;
        buf[n++] = *c;
    }
    buf[n] = 0;
    if (!n) return -1;
    const char *c = buf;
    if (*c == '-' || *c == '+') c++;
    if (!isdigit((unsigned char)*c) && !(*c == '.' && isdigit((unsigned char)c[1]))) return -1;
    for (const char *d = c; *d && !strchr("kKMGBT", *d); d++)
        if (!isdigit((unsigned char)*d) && !strchr(".eE+-", *d)) return -1;
    char *end;
    double v = strtod(buf, &end);
    if (end == buf) return -1;
    double mult = 1;
    switch (*end) {
    case 0: break;
    case 'k': case 'K': mult = 1e3; end++; break;
    case 'M': mult = 1e6; end++; break;
    case 'G': case 'B': mult = 1e9; end++; break;
    case 'T': mult = 1e12; end++; break;
    default: return -1;
    }
    if (*end) return -1;
    v *= mult;
    /* 1.5M must be exactly 1500000, not 1499999.9999999998. */
    if (mult > 1 && fabs(v - nearbyint(v)) < 1e-6 * mult) v = nearbyint(v);
    if (!isfinite(v)) return -1;
    *out = v;
    return 0;
}
