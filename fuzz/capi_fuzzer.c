/*
 * A fuzz harness over the C ABI of the Swift core (Sources/CSwiftRNN/include/swiftrnn.h).
 *
 * The input bytes choose a function, its sizes, flags, pointers and buffer contents. Two kinds of call:
 *   - honest: sizes small enough to allocate, every buffer malloc'd to exactly the size the header says
 *     it must hold (so AddressSanitizer catches any read or write past it), contents arbitrary (NaN,
 *     inf, out-of-range indices, ...);
 *   - hostile: negative sizes, sizes whose products overflow 64 bits, NULL pointers, a wrong number of
 *     parameters, invalid enum codes. Buffers are tiny (or NULL): the core must reject the call before
 *     touching them.
 * Either way the only allowed outcome is a status code from srnn_status with a NUL-terminated message
 * inside err_cap (never a crash, a trap, a sanitizer report or a hang), and a few invariants checked
 * below (e.g. an embedding IndexError leaves `out` untouched; a successful lookup copies the rows).
 *
 * Built two ways (see scripts/fuzz.sh):
 *   - with libFuzzer: clang -fsanitize=fuzzer,address against a libswiftrnn_capi.so built with
 *     -sanitize=address and sanitizer coverage;
 *   - with -DSRNN_FUZZ_STANDALONE: a plain executable that feeds random inputs from a seed for a number
 *     of iterations or seconds (for valgrind, or a toolchain without libFuzzer).
 *
 * New C ABI functions (backward passes, optimizers, ...) get a new `fuzz_*` function and an entry in
 * `targets` at the bottom.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftrnn.h"

/* ---- reading the input ---------------------------------------------------------------------- */

typedef struct {
    const uint8_t *data;
    size_t size, pos;
} reader;

static uint8_t u8(reader *r) { return r->pos < r->size ? r->data[r->pos++] : 0; }

static uint64_t u64(reader *r) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | u8(r);
    return v;
}

/* A size for an honest call: mostly small, sometimes 0, at most `max`. */
static int64_t small_size(reader *r, int64_t max) {
    uint8_t b = u8(r);
    if (b < 16) return 0;
    return (int64_t)(b % (uint64_t)(max + 1));
}

/* A size for a hostile call: negative, huge, or overflowing when multiplied. */
static int64_t hostile_size(reader *r) {
    static const int64_t special[] = {
        -1, INT64_MIN, INT64_MAX, (int64_t)1 << 31, (int64_t)1 << 32, (int64_t)1 << 40, (int64_t)1 << 62,
        ((int64_t)1 << 62) + 1, ((int64_t)1 << 61), 3037000500LL /* ~sqrt(2^63) */, 0, 1, 2, 7,
        INT32_MAX, (int64_t)INT32_MAX + 1, -((int64_t)1 << 40), ((int64_t)1 << 60) / 3,
    };
    uint8_t b = u8(r);
    if (b < 128) return special[b % (sizeof special / sizeof *special)];
    if (b < 192) return (int64_t)u64(r);
    return (int64_t)(b - 192);
}

/* A float from the input: ordinary values, and now and then NaN, +-inf, huge, subnormal, -0. */
static float any_float(reader *r) {
    uint8_t b = u8(r);
    switch (b & 15) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return 3.0e38f;
    case 4: return -3.0e38f;
    case 5: return 1e-45f;
    case 6: return -0.0f;
    case 7: { uint32_t u = (uint32_t)u64(r); float f; memcpy(&f, &u, 4); return f; }
    default: return ((float)(int8_t)u8(r)) / 16.0f;
    }
}

static double any_double(reader *r) {
    uint8_t b = u8(r);
    switch (b & 7) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return -1.0;
    case 4: return 0.0;
    default: return (double)(int8_t)u8(r) / 8.0;
    }
}

/* ---- buffers -------------------------------------------------------------------------------- */

/* Stands in for a zero-element buffer: a valid, non-NULL address that must never be read or written
 * (4 bytes, so ASan reports any access past the first float). */
static float empty_slot[1];

/* Exactly `n` floats filled from the input (empty_slot for n == 0). Free with release(). */
static float *floats(reader *r, int64_t n) {
    if (n == 0) return empty_slot;
    float *p = malloc((size_t)n * sizeof(float));
    if (!p) abort();
    /* The input may run out before the buffer is full: repeat a prefix, cheap for big buffers. */
    int64_t distinct = n < 64 ? n : 64;
    for (int64_t i = 0; i < distinct; i++) p[i] = any_float(r);
    for (int64_t i = distinct; i < n; i++) p[i] = p[i % distinct] * 0.5f;
    return p;
}

static void release(void *p) {
    if (p != (void *)empty_slot) free(p);
}

/* A poisoned output buffer of exactly `n` floats, filled with a sentinel bit pattern. */
static const uint32_t SENTINEL = 0x7fc0beefu; /* a NaN with a payload no computation produces */

static float *out_buffer(int64_t n) {
    if (n == 0) return empty_slot;
    float *p = malloc((size_t)n * sizeof(float));
    if (!p) abort();
    for (int64_t i = 0; i < n; i++) memcpy(&p[i], &SENTINEL, 4);
    return p;
}

static int untouched(const float *p, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&p[i], &SENTINEL, 4) != 0) return 0;
    return 1;
}

/* ---- size arithmetic: what a caller could really have allocated ------------------------------ */

/* *out = a * b * c * 4 (bytes of a float buffer); 0 if a factor is negative or it overflows int64. */
static int bytes3(int64_t a, int64_t b, int64_t c, int64_t *out) {
    if (a < 0 || b < 0 || c < 0) return 0;
    int64_t t;
    if (__builtin_mul_overflow(a, b, &t) || __builtin_mul_overflow(t, c, &t) || __builtin_mul_overflow(t, 4, &t))
        return 0;
    *out = t;
    return 1;
}

/* Elements of a product known not to overflow (bytes3 said so). */
static int64_t elems(int64_t a, int64_t b, int64_t c) { return a * b * c; }

/* ---- checks --------------------------------------------------------------------------------- */

/* The error buffer: NULL, or `cap` bytes (cap chosen by the input, often small to test truncation). */
typedef struct {
    char *buf;
    size_t cap;
} errbuf;

static void fail(const char *what, int32_t status, const errbuf *e) {
    /* The message, if the call wrote a NUL-terminated one (a successful call leaves the buffer as is). */
    int have = e && e->buf && memchr(e->buf, 0, e->cap) != NULL;
    fprintf(stderr, "capi_fuzzer: invariant broken: %s (status %d, message \"%s\")\n", what, (int)status,
            have ? e->buf : "");
    abort();
}

static errbuf make_err(reader *r) {
    errbuf e = {NULL, 0};
    uint8_t b = u8(r);
    if (b < 8) return e; /* NULL, cap 0 */
    static const size_t caps[] = {1, 2, 3, 7, 8, 16, 33, 512};
    e.cap = caps[b % 8];
    e.buf = malloc(e.cap); /* exactly cap bytes: ASan catches a message written past it */
    if (!e.buf) abort();
    memset(e.buf, 'X', e.cap);
    return e;
}

/* Calls per (target, status), printed by the standalone driver and, with SRNN_FUZZ_STATS=1, at exit. */
static long long status_counts[16][SRNN_RUNTIME_ERROR + 1];
static int current_target;

static void check_status(int32_t status, errbuf *e) {
    if (status < SRNN_OK || status > SRNN_RUNTIME_ERROR) fail("status outside srnn_status", status, e);
    status_counts[current_target][status]++;
    if (status != SRNN_OK && e->buf) {
        if (memchr(e->buf, 0, e->cap) == NULL) fail("error message not NUL-terminated within err_cap", status, NULL);
        if (e->cap >= 16 && e->buf[0] == 0) fail("empty error message", status, e);
    }
    free(e->buf);
}

/* A hostile call: `possible` says whether a caller could have allocated buffers of these sizes;
 * `fits` whether they fit the tiny buffers the harness passes. Impossible calls must fail; possible
 * calls that do not fit are skipped (making them would break the caller's side of the contract). */
#define TINY 8

/* ---- targets -------------------------------------------------------------------------------- */

static void fuzz_info(reader *r) {
    if (srnn_abi_version() != SRNN_ABI_VERSION) fail("ABI version", 0, NULL);
    const char *level = srnn_simd_level();
    if (level == NULL || strlen(level) == 0) fail("SIMD level", 0, NULL);
    int32_t before = srnn_get_num_threads();
    int32_t n = (int32_t)(int8_t)u8(r) % 5; /* -4 ... 4: values below 1 mean 1 */
    srnn_set_num_threads(n);
    if (srnn_get_num_threads() < 1) fail("get_num_threads < 1", 0, NULL);
    srnn_set_num_threads(before);
}

static void fuzz_embedding(reader *r) {
    int hostile = (u8(r) & 3) == 0;
    errbuf e = make_err(r);
    double max_norm = (u8(r) & 1) ? -1.0 : any_double(r);
    double norm_type = any_double(r);
    if (hostile) {
        int64_t rows = hostile_size(r), dim = hostile_size(r), n = hostile_size(r), wb, ob, ib;
        float w[TINY] = {0}, out[TINY] = {0};
        int64_t idx[TINY] = {0};
        int use_w = u8(r) & 1, use_i = u8(r) & 1, use_o = u8(r) & 1;
        int possible = bytes3(rows, dim, 1, &wb) && bytes3(n, dim, 1, &ob) && bytes3(n, 2, 1, &ib);
        if (possible && (wb > 4 * TINY || ob > 4 * TINY || n > TINY)) { free(e.buf); return; }
        int32_t s = srnn_embedding_forward(use_w ? w : NULL, rows, dim, use_i ? idx : NULL, n, max_norm, norm_type,
                                           use_o ? out : NULL, e.buf, e.cap);
        if (!possible && s == SRNN_OK) fail("impossible embedding sizes accepted", s, &e);
        if (possible && n > 0 && dim > 0 && (!use_w || !use_i || !use_o) && s == SRNN_OK)
            fail("NULL embedding buffer accepted", s, &e);
        check_status(s, &e);
        return;
    }
    int64_t rows = small_size(r, 40), dim = small_size(r, 24), n = small_size(r, 40);
    float *w = floats(r, rows * dim);
    float *w_copy = out_buffer(rows * dim);
    if (rows * dim) memcpy(w_copy, w, (size_t)(rows * dim) * sizeof(float));
    int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint8_t b = u8(r);
        if (b < 240) idx[i] = rows ? (int64_t)(b % rows) : 0;
        else if (b < 250) idx[i] = (b & 1) ? -1 - (int64_t)(b & 7) : rows + (b & 7);
        else idx[i] = (int64_t)u64(r);
        if (idx[i] < 0 || idx[i] >= rows) bad = 1;
    }
    float *out = out_buffer(n * dim);
    int32_t s = srnn_embedding_forward(w, rows, dim, idx, n, max_norm, norm_type, out, e.buf, e.cap);
    if (bad && s != SRNN_INDEX_ERROR) fail("bad index not reported as SRNN_INDEX_ERROR", s, &e);
    if (!bad && s != SRNN_OK) fail("a valid embedding call failed", s, &e);
    if (s == SRNN_INDEX_ERROR) {
        if (!untouched(out, n * dim)) fail("IndexError wrote into out", s, &e);
        if (rows * dim && memcmp(w, w_copy, (size_t)(rows * dim) * sizeof(float)) != 0)
            fail("IndexError changed the weight", s, &e);
    }
    if (s == SRNN_OK && !(max_norm >= 0)) {
        /* Plain lookup: each output row is a bit-exact copy of its weight row; the weight is unchanged. */
        for (int64_t i = 0; i < n; i++)
            if (dim && memcmp(out + i * dim, w + idx[i] * dim, (size_t)dim * sizeof(float)) != 0)
                fail("lookup is not a copy of the row", s, NULL);
        if (rows * dim && memcmp(w, w_copy, (size_t)(rows * dim) * sizeof(float)) != 0)
            fail("lookup without max_norm changed the weight", s, NULL);
    }
    check_status(s, &e);
    release(w); release(w_copy); free(idx); release(out);
}

static void fuzz_linear(reader *r) {
    int hostile = (u8(r) & 3) == 0;
    errbuf e = make_err(r);
    if (hostile) {
        int64_t m = hostile_size(r), in_f = hostile_size(r), out_f = hostile_size(r), xb, wb, ob, bb;
        float buf[TINY] = {0}, out[TINY] = {0};
        int use_x = u8(r) & 1, use_w = u8(r) & 1, use_b = u8(r) & 1, use_o = u8(r) & 1;
        int possible = bytes3(m, in_f, 1, &xb) && bytes3(out_f, in_f, 1, &wb) && bytes3(m, out_f, 1, &ob) &&
                       bytes3(out_f, 1, 1, &bb);
        if (possible && (xb > 4 * TINY || wb > 4 * TINY || ob > 4 * TINY || bb > 4 * TINY)) { free(e.buf); return; }
        int32_t s = srnn_linear_forward(use_x ? buf : NULL, m, in_f, use_w ? buf : NULL, use_b ? buf : NULL, out_f,
                                        use_o ? out : NULL, e.buf, e.cap);
        if (!possible && s == SRNN_OK) fail("impossible linear sizes accepted", s, &e);
        if (possible && ob > 0 && !use_o && s == SRNN_OK) fail("NULL linear output accepted", s, &e);
        if (possible && ob > 0 && xb > 0 && (!use_x || !use_w) && s == SRNN_OK) fail("NULL linear input accepted", s, &e);
        check_status(s, &e);
        return;
    }
    int64_t m = small_size(r, 24), in_f = small_size(r, 40), out_f = small_size(r, 40);
    float *x = floats(r, m * in_f), *w = floats(r, out_f * in_f);
    float *b = (u8(r) & 1) ? floats(r, out_f) : NULL;
    float *out = out_buffer(m * out_f);
    int32_t s = srnn_linear_forward(x, m, in_f, w, b, out_f, out, e.buf, e.cap);
    if (s != SRNN_OK) fail("a valid linear call failed", s, &e);
    if (m * out_f && in_f == 0) {
        /* No inputs: out is the bias (or zeros). */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < out_f; j++) {
                float want = b ? b[j] : 0.0f, got = out[i * out_f + j];
                if (!(got == want) && !(isnan(got) && isnan(want))) fail("linear with in_features 0 is not the bias", s, NULL);
            }
    }
    for (int64_t i = 0; i < m * out_f; i++)
        if (memcmp(&out[i], &SENTINEL, 4) == 0) fail("linear output element left unwritten", s, NULL);
    check_status(s, &e);
    release(x); release(w); if (b) release(b); release(out);
}

/* Packed weights: honest calls must match srnn_linear_forward bit for bit; a packing of the wrong size, a
 * NULL where floats are needed and impossible sizes must be refused without touching anything. */
static void fuzz_packed(reader *r) {
    errbuf e = make_err(r);
    if ((u8(r) & 3) == 0) {
        int64_t rows = hostile_size(r), cols = hostile_size(r), size = hostile_size(r);
        float buf[TINY] = {0}, out[TINY] = {0};
        int64_t need = srnn_packed_weight_size(rows, cols);
        if (need < -1 || ((rows < 0 || cols < 0) && need != -1)) fail("a bad packed_weight_size", (int32_t)need, NULL);
        int use_w = u8(r) & 1, use_p = u8(r) & 1;
        /* An accepted call writes `size` floats and reads rows * cols <= size of them: only sizes that fit. */
        if (size > TINY) { free(e.buf); return; }
        int32_t s = srnn_pack_weight(use_w ? buf : NULL, rows, cols, use_p ? out : NULL, size, e.buf, e.cap);
        if (s == SRNN_OK && size != need) fail("a packing of the wrong size accepted", s, &e);
        if (s == SRNN_OK && size > 0 && (!use_w || !use_p)) fail("NULL packing buffers accepted", s, &e);
        check_status(s, &e);
        return;
    }
    int64_t m = small_size(r, 9), in_f = small_size(r, 40), out_f = small_size(r, 40);
    int64_t need = srnn_packed_weight_size(out_f, in_f);
    float *x = floats(r, m * in_f), *w = floats(r, out_f * in_f), *packed = out_buffer(need);
    float *b = (u8(r) & 1) ? floats(r, out_f) : NULL;
    float *out = out_buffer(m * out_f), *want = out_buffer(m * out_f);
    int32_t s = srnn_pack_weight(w, out_f, in_f, packed, need, e.buf, e.cap);
    if (s != SRNN_OK) fail("a valid pack_weight call failed", s, &e);
    int64_t wrong = need + ((u8(r) & 1) ? 16 : -16);
    if (wrong >= 0 && srnn_linear_forward_packed(x, m, in_f, packed, wrong, b, out_f, out, NULL, 0) == SRNN_OK)
        fail("a packed Linear weight of the wrong size accepted", SRNN_OK, NULL);
    int32_t s2 = srnn_linear_forward_packed(x, m, in_f, packed, need, b, out_f, out, NULL, 0);
    int32_t s3 = srnn_linear_forward(x, m, in_f, w, b, out_f, want, NULL, 0);
    if (s2 != SRNN_OK || s3 != SRNN_OK) fail("a valid (packed) linear call failed", s2 ? s2 : s3, NULL);
    /* The same bits, except that which NaN payload comes out of a NaN input may differ between paths. */
    for (int64_t i = 0; i < m * out_f; i++)
        if (!(isnan(out[i]) && isnan(want[i])) && memcmp(&out[i], &want[i], sizeof(float)) != 0)
            fail("packed and unpacked linear differ", s2, NULL);
    check_status(s, &e);
    release(x); release(w); release(packed); if (b) release(b); release(out); release(want);
}

static void fuzz_softmax(reader *r) {
    int hostile = (u8(r) & 3) == 0;
    errbuf e = make_err(r);
    int32_t log = (int32_t)(int8_t)u8(r);
    if (hostile) {
        int64_t outer = hostile_size(r), dim = hostile_size(r), inner = hostile_size(r), nb;
        float buf[TINY] = {0}, out[TINY] = {0};
        int use_x = u8(r) & 1, use_o = u8(r) & 1;
        int possible = bytes3(outer, dim, inner, &nb);
        if (possible && nb > 4 * TINY) { free(e.buf); return; }
        int32_t s = srnn_softmax(use_x ? buf : NULL, outer, dim, inner, log, use_o ? out : NULL, e.buf, e.cap);
        if (!possible && s == SRNN_OK) fail("impossible softmax sizes accepted", s, &e);
        if (possible && nb > 0 && (!use_x || !use_o) && s == SRNN_OK) fail("NULL softmax buffer accepted", s, &e);
        check_status(s, &e);
        return;
    }
    int64_t outer = small_size(r, 12), dim = small_size(r, 40), inner = small_size(r, 12);
    int64_t n = outer * dim * inner;
    float *x = floats(r, n);
    float *out = out_buffer(n);
    int32_t s = srnn_softmax(x, outer, dim, inner, log, out, e.buf, e.cap);
    if (s != SRNN_OK) fail("a valid softmax call failed", s, &e);
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&out[i], &SENTINEL, 4) == 0) fail("softmax output element left unwritten", s, NULL);
    if (!log) {
        /* Rows of finite values lie in [0, 1] and sum to 1. */
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) {
                int finite = 1;
                double sum = 0;
                for (int64_t d = 0; d < dim; d++) {
                    int64_t k = (o * dim + d) * inner + i;
                    finite &= isfinite(x[k]) != 0;
                    sum += out[k];
                }
                if (!finite || dim == 0) continue;
                if (fabs(sum - 1.0) > 1e-4) fail("softmax row of finite values does not sum to 1", s, NULL);
                for (int64_t d = 0; d < dim; d++) {
                    float v = out[(o * dim + d) * inner + i];
                    if (!(v >= 0 && v <= 1)) fail("softmax value outside [0, 1]", s, NULL);
                }
            }
    }
    check_status(s, &e);
    release(x); release(out);
}

/* The flag fields of an RNN description (nonlinearity: sometimes any int32); returns the flags byte read. */
static uint8_t read_desc_flags(reader *r, srnn_rnn_desc *d) {
    uint8_t flags = u8(r);
    d->nonlinearity = (flags & 0x40) ? (int32_t)u64(r) : (flags & 1);
    d->has_bias = (flags & 2) ? 1 : 0;
    d->bidirectional = (flags & 4) ? 1 : 0;
    d->batch_first = (flags & 8) ? 1 : 0;
    d->cell = SRNN_CELL_RNN;
    d->reserved = 0;
    d->proj_size = 0;
    return flags;
}

static void fuzz_rnn(reader *r) {
    int hostile = (u8(r) & 3) == 0;
    errbuf e = make_err(r);
    srnn_rnn_desc d;
    uint8_t flags = read_desc_flags(r, &d);
    if (flags & 0x80) { d.has_bias *= 77; d.bidirectional *= -3; d.batch_first *= 200; } /* any nonzero is true */
    int64_t D = d.bidirectional ? 2 : 1;
    int valid_nl = d.nonlinearity == 0 || d.nonlinearity == 1;
    if (hostile) {
        d.input_size = hostile_size(r); d.hidden_size = hostile_size(r); d.num_layers = hostile_size(r);
        int64_t np = srnn_rnn_num_params(&d);
        int64_t H = d.hidden_size, I = d.input_size, NL = d.num_layers, t;
        int64_t shape[2] = {-7, -7};
        int64_t which = (u8(r) & 1) ? hostile_size(r) : (np > 0 ? (int64_t)(u64(r) % (uint64_t)np) : 0);
        int use_desc = u8(r) & 1, use_shape = u8(r) & 1;
        int32_t nd = srnn_rnn_param_shape(use_desc ? &d : NULL, which, use_shape ? shape : NULL);
        if (nd != -1 && nd != 1 && nd != 2) fail("param_shape returned an impossible ndim", nd, NULL);
        if (nd != -1 && (!use_desc || !use_shape || np < 0 || which < 0 || which >= np))
            fail("param_shape accepted a bad argument", nd, NULL);
        if (nd > 0 && (shape[0] != H || (nd == 2 && shape[1] != H && shape[1] != I && shape[1] != D * H)))
            fail("param_shape returned a wrong shape", nd, NULL);
        /* Possible description: what torch accepts and every weight's bytes fit in 64 bits. */
        int64_t wide = I > D * H ? I : D * H;
        int64_t per_dir = d.has_bias ? 4 : 2, first, later, rest, total;
        /* bytes3(D, H, wide) bounds H * I and H * H, so the per-direction counts below cannot overflow. */
        int desc_ok = valid_nl && I >= 0 && H >= 1 && NL >= 1 && bytes3(D, H, wide, &t) &&
                      bytes3(NL, D, per_dir * 2, &t) /* the pointer array: 8 bytes a parameter */;
        if (desc_ok) {
            first = H * (I + H + 2);
            later = H * (D * H + H + 2);
            desc_ok = !__builtin_mul_overflow(NL - 1, later, &rest) && !__builtin_add_overflow(first, rest, &total) &&
                      bytes3(total, D, 1, &t);
        }
        if (desc_ok != (np >= 0)) {
            fprintf(stderr, "desc: input_size=%lld hidden_size=%lld num_layers=%lld nonlinearity=%d D=%lld -> %lld\n",
                    (long long)I, (long long)H, (long long)NL, (int)d.nonlinearity, (long long)D, (long long)np);
            fail("num_params disagrees with the description's validity", (int32_t)np, NULL);
        }
        int64_t L = hostile_size(r), N = hostile_size(r), xb, ob, hb;
        int possible = desc_ok && L >= 1 && N >= 0 && bytes3(L, N, I, &xb) && bytes3(L, N, D * H, &ob) &&
                       bytes3(D * NL, N, H, &hb);
        float buf[TINY] = {0}, out[TINY] = {0}, hn[TINY] = {0};
        const float *params[TINY] = {buf, buf, buf, buf, buf, buf, buf, buf};
        int64_t pass_np = (u8(r) & 1) ? np : hostile_size(r);
        int use_p = u8(r) & 1, use_x = u8(r) & 1, use_h0 = u8(r) & 1, use_o = u8(r) & 1, use_hn = u8(r) & 1;
        use_desc = u8(r) & 1;
        if (possible) {
            /* Every buffer must fit the tiny ones, or the call would be a lie on the caller's side. */
            int64_t wb;
            int fits = np <= TINY && xb <= 4 * TINY && ob <= 4 * TINY && hb <= 4 * TINY &&
                       bytes3(H, wide, 1, &wb) && wb <= 4 * TINY;
            if (!fits) { free(e.buf); return; }
        }
        if (pass_np > TINY && use_p) { free(e.buf); return; } /* the core would read past params[] */
        int32_t s = srnn_rnn_forward(use_desc ? &d : NULL, use_p ? params : NULL, pass_np, use_x ? buf : NULL, L, N,
                                     use_h0 ? buf : NULL, NULL, use_o ? out : NULL, use_hn ? hn : NULL, e.buf, e.cap);
        if (s == SRNN_OK && (!possible || !use_desc || pass_np != np || !use_p))
            fail("impossible RNN call accepted", s, &e);
        if (s == SRNN_OK && N > 0 && (!use_o || !use_hn || (xb > 0 && !use_x))) fail("NULL RNN buffer accepted", s, &e);
        check_status(s, &e);
        return;
    }
    d.input_size = small_size(r, 12);
    d.hidden_size = small_size(r, 12);
    d.num_layers = small_size(r, 3);
    int64_t L = small_size(r, 6), N = small_size(r, 5);
    int64_t np = srnn_rnn_num_params(&d);
    int valid_desc = d.hidden_size > 0 && d.num_layers > 0 && valid_nl;
    if (valid_desc != (np >= 0)) fail("num_params disagrees with the description's validity", (int32_t)np, NULL);
    if (!valid_desc) {
        int32_t s = srnn_rnn_forward(&d, NULL, 0, NULL, L, N, NULL, NULL, NULL, NULL, e.buf, e.cap);
        if (s == SRNN_OK) fail("invalid RNN description accepted", s, &e);
        check_status(s, &e);
        return;
    }
    int64_t H = d.hidden_size, NL = d.num_layers;
    const float **params = malloc((size_t)np * sizeof(float *));
    float **owned = calloc((size_t)np, sizeof(float *));
    for (int64_t i = 0; i < np; i++) {
        int64_t shape[2] = {0, 0};
        int32_t nd = srnn_rnn_param_shape(&d, i, shape);
        if (nd != 1 && nd != 2) fail("param_shape failed on a valid index", nd, NULL);
        owned[i] = floats(r, nd == 1 ? shape[0] : shape[0] * shape[1]);
        params[i] = owned[i];
    }
    if (srnn_rnn_param_shape(&d, np, (int64_t[2]){0, 0}) != -1) fail("param_shape accepted index == num_params", 0, NULL);
    float *x = floats(r, elems(L, N, d.input_size));
    float *h0 = (u8(r) & 3) ? floats(r, elems(D * NL, N, H)) : NULL;
    float *masks = (u8(r) & 3) == 0 ? floats(r, elems(NL - 1, L, N * D * H)) : NULL;
    float *out = out_buffer(elems(L, N, D * H)), *hn = out_buffer(elems(D * NL, N, H));
    int32_t s = srnn_rnn_forward(&d, params, np, x, L, N, h0, masks, out, hn, e.buf, e.cap);
    if (L == 0 && s != SRNN_VALUE_ERROR) fail("seq_len 0 not rejected", s, &e);
    if (L > 0 && s != SRNN_OK) fail("a valid RNN call failed", s, &e);
    if (s == SRNN_OK) {
        for (int64_t i = 0; i < elems(L, N, D * H); i++)
            if (memcmp(&out[i], &SENTINEL, 4) == 0) fail("RNN output element left unwritten", s, NULL);
        for (int64_t i = 0; i < elems(D * NL, N, H); i++)
            if (memcmp(&hn[i], &SENTINEL, 4) == 0) fail("RNN hn element left unwritten", s, NULL);
    }
    check_status(s, &e);
    for (int64_t i = 0; i < np; i++) release(owned[i]);
    free(owned); free(params); release(x); if (h0) release(h0); if (masks) release(masks); release(out); release(hn);
}

/* ---- training (swiftrnn_train.h) ------------------------------------------------------------- */

/* A valid small RNN description from the input, with its parameter buffers. */
typedef struct {
    srnn_rnn_desc d;
    int64_t np, D, L, N;
    float **params; /* np buffers */
    int64_t *sizes;
} small_rnn;

static int make_small_rnn(reader *r, small_rnn *m) {
    uint8_t flags = u8(r);
    memset(&m->d, 0, sizeof m->d); /* the Elman RNN (cell 0), no projection */
    m->d.nonlinearity = flags & 1;
    m->d.has_bias = (flags >> 1) & 1;
    m->d.bidirectional = (flags >> 2) & 1;
    m->d.batch_first = (flags >> 3) & 1;
    m->d.input_size = small_size(r, 6);
    m->d.hidden_size = 1 + small_size(r, 6);
    m->d.num_layers = 1 + small_size(r, 2);
    m->L = 1 + small_size(r, 4);
    m->N = small_size(r, 3);
    m->D = m->d.bidirectional ? 2 : 1;
    m->np = srnn_rnn_num_params(&m->d);
    if (m->np <= 0) return 0;
    m->params = malloc((size_t)m->np * sizeof(float *));
    m->sizes = malloc((size_t)m->np * sizeof(int64_t));
    for (int64_t i = 0; i < m->np; i++) {
        int64_t shape[2] = {0, 1};
        int32_t nd = srnn_rnn_param_shape(&m->d, i, shape);
        m->sizes[i] = nd == 1 ? shape[0] : shape[0] * shape[1];
        m->params[i] = floats(r, m->sizes[i]);
    }
    return 1;
}

static void free_small_rnn(small_rnn *m) {
    for (int64_t i = 0; i < m->np; i++) release(m->params[i]);
    free(m->params);
    free(m->sizes);
}

/* Bit-identical, except that any two NaNs count as equal: the kernels promise the same value for every
 * element whatever the path, but not the same NaN sign or payload (it depends on FMA operand order). */
static int same_results(const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (isnan(a[i]) && isnan(b[i])) continue;
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) return 0;
    }
    return 1;
}

static void fuzz_rnn_train(reader *r) {
    errbuf e = make_err(r);
    small_rnn m;
    if (!make_small_rnn(r, &m)) { free(e.buf); return; }
    int64_t H = m.d.hidden_size, NL = m.d.num_layers, I = m.d.input_size, D = m.D, L = m.L, N = m.N;
    int64_t out_n = elems(L, N, D * H), hn_n = elems(D * NL, N, H), x_n = elems(L, N, I);
    float *x = floats(r, x_n);
    float *h0 = (u8(r) & 1) ? floats(r, hn_n) : NULL;
    float *masks = (u8(r) & 1) ? floats(r, elems(NL - 1, L, N * D * H)) : NULL;
    float *out = out_buffer(out_n), *hn = out_buffer(hn_n), *saved = out_buffer(elems(NL, L, N * D * H));
    float *out2 = out_buffer(out_n), *hn2 = out_buffer(hn_n);
    const float *const *pp = (const float *const *)m.params;
    int32_t s = srnn_rnn_forward_train(&m.d, pp, m.np, x, L, N, h0, masks, out, hn, saved, e.buf, e.cap);
    if (s != SRNN_OK) fail("a valid training forward failed", s, &e);
    int32_t s2 = srnn_rnn_forward(&m.d, pp, m.np, x, L, N, h0, masks, out2, hn2, NULL, 0);
    if (s2 != SRNN_OK) fail("a valid forward failed", s2, NULL);
    if (!same_results(out, out2, out_n)) fail("training forward output differs from forward", s, NULL);
    if (!same_results(hn, hn2, hn_n)) fail("training forward hn differs from forward", s, NULL);
    check_status(s, &e);

    /* Backward into gradient buffers, some of them NULL (skipped). */
    e = make_err(r);
    float *grad_out = floats(r, out_n), *grad_hn = (u8(r) & 1) ? floats(r, hn_n) : NULL;
    float **pgrads = calloc((size_t)m.np, sizeof(float *));
    for (int64_t i = 0; i < m.np; i++) pgrads[i] = (u8(r) & 3) ? out_buffer(m.sizes[i]) : NULL;
    float *grad_x = (u8(r) & 1) ? out_buffer(x_n) : NULL, *grad_h0 = (u8(r) & 1) ? out_buffer(hn_n) : NULL;
    /* Gradients accumulate: start them at zero. */
    for (int64_t i = 0; i < m.np; i++) if (pgrads[i] && m.sizes[i]) memset(pgrads[i], 0, (size_t)m.sizes[i] * 4);
    if (grad_x && x_n) memset(grad_x, 0, (size_t)x_n * 4);
    if (grad_h0 && hn_n) memset(grad_h0, 0, (size_t)hn_n * 4);
    s = srnn_rnn_backward(&m.d, pp, m.np, x, L, N, h0, masks, saved, grad_out, grad_hn, (float *const *)pgrads, grad_x,
                          grad_h0, e.buf, e.cap);
    if (s != SRNN_OK) fail("a valid RNN backward failed", s, &e);
    check_status(s, &e);

    /* The same call with a wrong parameter count, and with NULL saved: rejected. */
    e = make_err(r);
    s = srnn_rnn_backward(&m.d, pp, m.np + 1 + (u8(r) & 3), x, L, N, h0, masks, saved, grad_out, grad_hn,
                          (float *const *)pgrads, grad_x, grad_h0, e.buf, e.cap);
    if (s == SRNN_OK) fail("RNN backward accepted a wrong parameter count", s, &e);
    check_status(s, &e);
    if (N > 0) {
        e = make_err(r);
        s = srnn_rnn_backward(&m.d, pp, m.np, x, L, N, h0, masks, NULL, grad_out, grad_hn, (float *const *)pgrads,
                              grad_x, grad_h0, e.buf, e.cap);
        if (s == SRNN_OK) fail("RNN backward accepted NULL saved states", s, &e);
        check_status(s, &e);
    }
    for (int64_t i = 0; i < m.np; i++) if (pgrads[i]) release(pgrads[i]);
    free(pgrads);
    release(x); if (h0) release(h0); if (masks) release(masks);
    release(out); release(hn); release(saved); release(out2); release(hn2);
    release(grad_out); if (grad_hn) release(grad_hn); if (grad_x) release(grad_x); if (grad_h0) release(grad_h0);
    free_small_rnn(&m);
}

static void fuzz_layer_backward(reader *r) {
    int hostile = (u8(r) & 3) == 0;
    errbuf e = make_err(r);
    if (u8(r) & 1) { /* Linear */
        int64_t m = hostile ? hostile_size(r) : small_size(r, 12), in_f = hostile ? hostile_size(r) : small_size(r, 12);
        int64_t out_f = hostile ? hostile_size(r) : small_size(r, 12), xb, wb, ob;
        int possible = bytes3(m, in_f, 1, &xb) && bytes3(out_f, in_f, 1, &wb) && bytes3(m, out_f, 1, &ob) &&
                       bytes3(out_f, 1, 1, &ob) && bytes3(m, out_f, 1, &ob);
        if (hostile) {
            float buf[TINY] = {0}, g[TINY] = {0};
            if (possible && (xb > 4 * TINY || wb > 4 * TINY || ob > 4 * TINY || out_f > TINY)) { free(e.buf); return; }
            int32_t s = srnn_linear_backward((u8(r) & 1) ? buf : NULL, (u8(r) & 1) ? buf : NULL, m, in_f,
                                             (u8(r) & 1) ? buf : NULL, out_f, (u8(r) & 1) ? g : NULL,
                                             (u8(r) & 1) ? g : NULL, (u8(r) & 1) ? g : NULL, e.buf, e.cap);
            if (!possible && s == SRNN_OK) fail("impossible linear backward sizes accepted", s, &e);
            check_status(s, &e);
            return;
        }
        float *x = floats(r, m * in_f), *go = floats(r, m * out_f), *w = floats(r, out_f * in_f);
        float *gx = (u8(r) & 1) ? out_buffer(m * in_f) : NULL, *gw = (u8(r) & 1) ? out_buffer(out_f * in_f) : NULL;
        float *gb = (u8(r) & 1) ? out_buffer(out_f) : NULL;
        int32_t s = srnn_linear_backward(x, go, m, in_f, w, out_f, gx, gw, gb, e.buf, e.cap);
        if (s != SRNN_OK) fail("a valid linear backward failed", s, &e);
        check_status(s, &e);
        release(x); release(go); release(w); if (gx) release(gx); if (gw) release(gw); if (gb) release(gb);
        return;
    }
    /* Embedding */
    int64_t rows = hostile ? hostile_size(r) : small_size(r, 20), dim = hostile ? hostile_size(r) : small_size(r, 8);
    int64_t n = hostile ? hostile_size(r) : small_size(r, 20), pad = (u8(r) & 1) ? -1 - (u8(r) & 1) : (int64_t)u8(r) - 3;
    int32_t by_freq = (int32_t)(int8_t)u8(r);
    if (hostile) {
        int64_t wb, ob, ib;
        int possible = bytes3(rows, dim, 1, &wb) && bytes3(n, dim, 1, &ob) && bytes3(n, 2, 1, &ib);
        if (possible && (wb > 4 * TINY || ob > 4 * TINY || n > TINY)) { free(e.buf); return; }
        float g[TINY] = {0}, gw[TINY] = {0};
        int64_t idx[TINY] = {0};
        int32_t s = srnn_embedding_backward((u8(r) & 1) ? idx : NULL, n, (u8(r) & 1) ? g : NULL, rows, dim, pad, by_freq,
                                            (u8(r) & 1) ? gw : NULL, e.buf, e.cap);
        if (!possible && s == SRNN_OK) fail("impossible embedding backward sizes accepted", s, &e);
        check_status(s, &e);
        return;
    }
    int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint8_t b = u8(r);
        idx[i] = b < 240 ? (rows ? (int64_t)(b % rows) : 0) : (b & 1 ? -1 : rows + (b & 3));
        if (idx[i] < 0 || idx[i] >= rows) bad = 1;
    }
    float *go = floats(r, n * dim), *gw = out_buffer(rows * dim);
    int32_t s = srnn_embedding_backward(idx, n, go, rows, dim, pad, by_freq, gw, e.buf, e.cap);
    if (bad && dim > 0 && s != SRNN_INDEX_ERROR) fail("bad index not reported by embedding backward", s, &e);
    if (s == SRNN_INDEX_ERROR && !untouched(gw, rows * dim)) fail("embedding backward IndexError wrote into grad_weight", s, &e);
    check_status(s, &e);
    free(idx); release(go); release(gw);
}

static void fuzz_cross_entropy(reader *r) {
    int hostile = (u8(r) & 3) == 0;
    errbuf e = make_err(r);
    int32_t reduction = (u8(r) & 7) == 0 ? (int32_t)(int8_t)u8(r) : (int32_t)(u8(r) % 3);
    double smoothing = (u8(r) & 3) == 0 ? any_double(r) : (double)(u8(r) % 5) / 4.0;
    int64_t ignore = (u8(r) & 1) ? -100 : (int64_t)(int8_t)u8(r);
    if (hostile) {
        int64_t outer = hostile_size(r), classes = hostile_size(r), inner = hostile_size(r), nb, tb;
        int possible = bytes3(outer, classes, inner, &nb) && bytes3(outer, inner, 2, &tb) && bytes3(classes, 1, 1, &tb);
        if (possible && (nb > 4 * TINY || outer * inner > TINY || classes > TINY)) { free(e.buf); return; }
        float buf[TINY] = {0}, loss[TINY] = {0}, probs[TINY] = {0};
        int64_t t[TINY] = {0};
        int32_t s = srnn_cross_entropy_forward((u8(r) & 1) ? buf : NULL, outer, classes, inner, (u8(r) & 1) ? t : NULL,
                                               (u8(r) & 1) ? buf : NULL, ignore, reduction, smoothing,
                                               (u8(r) & 1) ? loss : NULL, (u8(r) & 1) ? probs : NULL, e.buf, e.cap);
        if (!possible && s == SRNN_OK) fail("impossible cross-entropy sizes accepted", s, &e);
        check_status(s, &e);
        e = make_err(r);
        s = srnn_cross_entropy_backward((u8(r) & 1) ? buf : NULL, outer, classes, inner, (u8(r) & 1) ? t : NULL, NULL,
                                        ignore, reduction, smoothing, (u8(r) & 1) ? loss : NULL,
                                        (u8(r) & 1) ? probs : NULL, e.buf, e.cap);
        if (!possible && s == SRNN_OK) fail("impossible cross-entropy backward sizes accepted", s, &e);
        check_status(s, &e);
        return;
    }
    int64_t outer = small_size(r, 6), classes = small_size(r, 9), inner = small_size(r, 3);
    int64_t n = outer * classes * inner, positions = outer * inner;
    float *logits = floats(r, n), *weight = (u8(r) & 1) ? floats(r, classes) : NULL;
    int64_t *targets = malloc((size_t)(positions ? positions : 1) * sizeof(int64_t));
    int bad = 0;
    for (int64_t i = 0; i < positions; i++) {
        uint8_t b = u8(r);
        targets[i] = b < 220 ? (classes ? (int64_t)(b % classes) : 0) : (b < 240 ? ignore : (b & 1 ? -7 : classes));
        if (targets[i] != ignore && (targets[i] < 0 || targets[i] >= classes)) bad = 1;
    }
    int valid_reduction = reduction >= 0 && reduction <= 2;
    int64_t loss_n = reduction == SRNN_REDUCTION_NONE ? positions : 1;
    float *loss = out_buffer(loss_n ? loss_n : 1), *probs = (u8(r) & 3) ? out_buffer(n) : NULL;
    int32_t s = srnn_cross_entropy_forward(logits, outer, classes, inner, targets, weight, ignore, reduction, smoothing,
                                           loss, probs, e.buf, e.cap);
    if (!valid_reduction && s == SRNN_OK) fail("unknown reduction accepted", s, &e);
    if (valid_reduction && bad && s == SRNN_OK) fail("bad target accepted by cross-entropy", s, &e);
    check_status(s, &e);
    if (s == SRNN_OK && probs && n) {
        float *grad_loss = floats(r, loss_n ? loss_n : 1), *grad_logits = out_buffer(n);
        memset(grad_logits, 0, (size_t)n * 4);
        e = make_err(r);
        s = srnn_cross_entropy_backward(probs, outer, classes, inner, targets, weight, ignore, reduction, smoothing,
                                        grad_loss, grad_logits, e.buf, e.cap);
        if (s != SRNN_OK) fail("a valid cross-entropy backward failed", s, &e);
        check_status(s, &e);
        e = make_err(r);
        s = srnn_cross_entropy_backward_in_place(probs, outer, classes, inner, targets, weight, ignore, reduction,
                                                 smoothing, grad_loss, e.buf, e.cap);
        if (s != SRNN_OK) fail("a valid in-place cross-entropy backward failed", s, &e);
        /* In place gives what the out-of-place call gave (same inputs, zero start). */
        for (int64_t i = 0; i < n; i++)
            if (!(probs[i] == grad_logits[i]) && !(isnan(probs[i]) && isnan(grad_logits[i])))
                fail("in-place cross-entropy backward differs from the out-of-place one", s, NULL);
        check_status(s, &e);
        release(grad_loss); release(grad_logits);
    }
    release(logits); if (weight) release(weight); free(targets); release(loss); if (probs) release(probs);
}

static void fuzz_optimizers(reader *r) {
    errbuf e = make_err(r);
    uint8_t which = u8(r) % 4;
    int hostile = (u8(r) & 7) == 0;
    int64_t n = hostile ? hostile_size(r) : small_size(r, 40);
    if (hostile && n > 0) {
        /* Only NULL buffers with a positive count or a negative count: a caller cannot have more. */
        int32_t s = which < 2 ? srnn_sgd_step(NULL, NULL, n, NULL, 1, 0.1, 0.9, 0, 0, 0, 0, e.buf, e.cap)
                              : srnn_adam_step(NULL, NULL, n, NULL, NULL, NULL, 1, 1e-3, 0.9, 0.999, 1e-8, 0, 0, 0, e.buf, e.cap);
        if (s == SRNN_OK) fail("optimizer step accepted NULL buffers", s, &e);
        check_status(s, &e);
        return;
    }
    if (n < 0) {
        int32_t s = srnn_sgd_step(NULL, NULL, n, NULL, 1, 0.1, 0, 0, 0, 0, 0, e.buf, e.cap);
        if (s == SRNN_OK) fail("negative optimizer size accepted", s, &e);
        check_status(s, &e);
        return;
    }
    float *p = floats(r, n), *g = floats(r, n), *b1 = floats(r, n), *b2 = floats(r, n), *b3 = floats(r, n);
    double lr = any_double(r), a = any_double(r), b = any_double(r), c = any_double(r);
    int32_t s;
    if (which == 0) {
        s = srnn_sgd_step(p, g, n, (u8(r) & 1) ? b1 : NULL, u8(r) & 1, lr, (u8(r) & 1) ? 0.0 : a, b, c, u8(r) & 1,
                          u8(r) & 1, e.buf, e.cap);
    } else if (which == 1) {
        int64_t step = (u8(r) & 3) == 0 ? (int64_t)(int8_t)u8(r) : 1 + u8(r);
        s = srnn_adam_step(p, g, n, b1, b2, (u8(r) & 1) ? b3 : NULL, step, lr, a, b, c, any_double(r), u8(r) & 1,
                           u8(r) & 1, e.buf, e.cap);
        if (step < 1 && s == SRNN_OK) fail("Adam step number < 1 accepted", s, &e);
    } else {
        /* Clipping over several gradients (some empty, some NULL with count 0). */
        int64_t num = small_size(r, 5);
        float *grads[6] = {0};
        int64_t counts[6] = {0};
        for (int64_t i = 0; i < num; i++) {
            counts[i] = small_size(r, 10);
            grads[i] = counts[i] ? floats(r, counts[i]) : ((u8(r) & 1) ? NULL : empty_slot);
        }
        float total = 0;
        if (which == 2) {
            s = srnn_clip_grad_norm(grads, counts, num, any_double(r), any_double(r), u8(r) & 1, &total, e.buf, e.cap);
        } else {
            s = srnn_clip_grad_value(grads, counts, num, any_double(r), e.buf, e.cap);
        }
        if (s != SRNN_OK && s != SRNN_RUNTIME_ERROR && s != SRNN_VALUE_ERROR) fail("unexpected clipping status", s, &e);
        for (int64_t i = 0; i < num; i++) if (grads[i]) release(grads[i]);
    }
    check_status(s, &e);
    release(p); release(g); release(b1); release(b2); release(b3);
}

/* ---- random (swiftrnn_random.h) ---------------------------------------------------------------- */

static void fuzz_random(reader *r) {
    errbuf e = make_err(r);
    if (srnn_generator_size() != sizeof(srnn_generator)) fail("srnn_generator_size", 0, NULL);
    srnn_generator *g = malloc(sizeof *g);
    uint8_t how = u8(r);
    if (how & 1) {
        srnn_generator_seed(g, u64(r));
    } else {
        /* Arbitrary bytes: the library must reject an inconsistent struct, not index past mt[]. */
        uint8_t *raw = (uint8_t *)g;
        for (size_t i = 0; i < sizeof *g; i++) raw[i] = u8(r);
        if (how & 2) { srnn_generator_seed(g, 5); g->left = (int32_t)(int8_t)u8(r) * 7; g->next = (int32_t)(int8_t)u8(r) * 9; }
    }
    int seeded = how & 1;  /* the others may be inconsistent structs, which every call must refuse */
    int hostile = (u8(r) & 7) == 0;
    int64_t n = hostile ? hostile_size(r) : small_size(r, 700); /* > 624: crosses a refill */
    int32_t s;
    srnn_generator before = *g;
    switch (u8(r) % 9) {
    case 0: case 1: case 2: case 3: case 4: {
        if (hostile && n != 0) {
            float *o = (u8(r) & 1) && n < 0 ? empty_slot : NULL;
            s = srnn_fill_uniform(g, o, n, 0, 1, e.buf, e.cap);
            if (s == SRNN_OK) fail("random fill accepted an impossible buffer", s, &e);
            break;
        }
        float *out = out_buffer(n);
        double a = any_double(r), b = any_double(r);
        switch (u8(r) % 4) {
        case 0: s = srnn_fill_uniform(g, out, n, a, b, e.buf, e.cap); break;
        case 1: s = srnn_fill_normal(g, out, n, a, b, e.buf, e.cap); break;
        case 2: s = srnn_fill_bernoulli(g, out, n, a, e.buf, e.cap); break;
        default: s = srnn_fill_dropout_mask(g, out, n, a, e.buf, e.cap); break;
        }
        if (s != SRNN_OK && (!untouched(out, n) || memcmp(&before, g, sizeof before) != 0))
            fail("a failed random fill changed the output or the generator", s, &e);
        release(out);
        break;
    }
    case 5: {
        if (hostile) { free(e.buf); free(g); return; }
        int64_t *out = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
        int64_t low = (int64_t)u64(r) >> (u8(r) % 64), high = (int64_t)u64(r) >> (u8(r) % 64);
        s = srnn_fill_randint(g, out, n, low, high, e.buf, e.cap);
        if (s == SRNN_OK)
            for (int64_t i = 0; i < n; i++)
                if (out[i] < low || out[i] >= high) fail("randint value out of [low, high)", s, NULL);
        free(out);
        break;
    }
    case 6: {
        size_t len = (u8(r) & 1) ? SRNN_TORCH_STATE_BYTES : (size_t)u8(r) * 23;
        uint8_t *bytes = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++) bytes[i] = u8(r);
        s = srnn_generator_set_state(g, (u8(r) & 15) ? bytes : NULL, len, e.buf, e.cap);
        if (s != SRNN_OK && memcmp(&before, g, sizeof before) != 0) fail("a failed set_state changed the generator", s, &e);
        if (s == SRNN_OK) {
            /* A state that loads round-trips. */
            uint8_t *back = malloc(SRNN_TORCH_STATE_BYTES);
            if (srnn_generator_get_state(g, back, SRNN_TORCH_STATE_BYTES, NULL, 0) != SRNN_OK) fail("get_state after set_state", s, NULL);
            srnn_generator g2 = *g;
            if (srnn_generator_set_state(&g2, back, SRNN_TORCH_STATE_BYTES, NULL, 0) != SRNN_OK) fail("state round trip", s, NULL);
            free(back);
        }
        free(bytes);
        break;
    }
    case 7: {
        size_t len = (u8(r) & 1) ? SRNN_TORCH_STATE_BYTES + (u8(r) & 7) : (size_t)u8(r) * 19;
        uint8_t *out = malloc(len ? len : 1);
        s = srnn_generator_get_state(g, out, len, e.buf, e.cap);
        if (s == SRNN_OK && len < SRNN_TORCH_STATE_BYTES) fail("get_state into a short buffer", s, &e);
        free(out);
        break;
    }
    default: {
        int64_t a = hostile ? hostile_size(r) : small_size(r, 12), b = hostile ? hostile_size(r) : small_size(r, 12), t;
        if (hostile && bytes3(a, b, 1, &t) && (a * b > 0 || a > 0)) { free(e.buf); free(g); return; }
        switch (u8(r) % 3) {
        case 0: {
            float *w = hostile ? NULL : out_buffer(a * b), *bias = (u8(r) & 1) && !hostile ? out_buffer(a) : NULL;
            s = srnn_init_linear(g, w, a, b, bias, e.buf, e.cap);
            if (!hostile && seeded && s != SRNN_OK) fail("a valid init_linear failed", s, &e);
            if (w) release(w);
            if (bias) release(bias);
            break;
        }
        case 1: {
            int64_t pad = (int64_t)(int8_t)u8(r);
            float *w = hostile ? NULL : out_buffer(a * b);
            s = srnn_init_embedding(g, w, a, b, pad, e.buf, e.cap);
            if (!hostile && seeded && (pad >= -1 && pad < a) && s != SRNN_OK) fail("a valid init_embedding failed", s, &e);
            if (w) release(w);
            break;
        }
        default: {
            int64_t num = hostile ? 0 : small_size(r, 4), sizes[5] = {0};
            float *bufs[5] = {0};
            for (int64_t i = 0; i < num; i++) { sizes[i] = small_size(r, 9); bufs[i] = out_buffer(sizes[i]); }
            if (num && (u8(r) & 7) == 0) sizes[0] = -1 - (u8(r) & 3);
            s = srnn_init_rnn(g, bufs, sizes, num, 1 + small_size(r, 8), e.buf, e.cap);
            if (num && sizes[0] < 0 && s == SRNN_OK) fail("negative RNN parameter size accepted", s, &e);
            for (int64_t i = 0; i < num; i++) release(bufs[i]);
            break;
        }
        }
        break;
    }
    }
    check_status(s, &e);
    free(g);
}

/* srnn_rnn_check_call, the owner of the RNN's shape rules: hostile descriptions, shapes of any rank with
 * hostile sizes, NULLs. It must never trap, and what it accepts must be self-consistent: the plan's shapes
 * follow from x's, and its sizes are products that fit in 64 bits. */
static void fuzz_rnn_check_call(reader *r) {
    errbuf e = make_err(r);
    srnn_rnn_desc d;
    uint8_t flags = read_desc_flags(r, &d);
    int hostile = (flags & 0x30) == 0;
    uint8_t cell = u8(r);
    d.cell = (cell & 0x80) ? (int32_t)u64(r) : (int32_t)(cell % 3);
    d.proj_size = (cell & 0x40) ? (hostile ? hostile_size(r) : small_size(r, 6)) : 0;
    d.input_size = hostile ? hostile_size(r) : small_size(r, 6);
    d.hidden_size = hostile ? hostile_size(r) : small_size(r, 6);
    d.num_layers = hostile ? hostile_size(r) : small_size(r, 3);
    int64_t np = srnn_rnn_num_params(&d);
    /* Up to TINY parameter shapes: the right ones (from srnn_rnn_param_shape) or hostile ones. */
    int64_t pdims[TINY][2];
    srnn_shape params[TINY];
    int64_t pass_np = (u8(r) & 3) ? np : (int64_t)(u8(r) % (TINY + 1));
    if (pass_np < 0 || pass_np > TINY) pass_np = u8(r) % (TINY + 1);
    for (int64_t i = 0; i < pass_np; i++) {
        int32_t nd = srnn_rnn_param_shape(&d, i, pdims[i]);
        if (nd < 0 || (u8(r) & 7) == 0) {
            nd = (int32_t)(u8(r) % 4) - 1;
            pdims[i][0] = hostile_size(r);
            pdims[i][1] = hostile_size(r);
        }
        params[i] = (srnn_shape){nd, pdims[i]};
    }
    /* x, h0, grad_output, grad_hn: ranks -1..4 (x usually 2 or 3), sizes small or hostile. */
    int64_t dims[4][4];
    srnn_shape shapes[4];
    for (int k = 0; k < 4; k++) {
        uint8_t b = u8(r);
        int32_t nd = (b & 3) ? (k == 0 ? 2 + (b >> 7) : 3 - (b >> 7)) : (int32_t)(u8(r) % 6) - 1;
        for (int j = 0; j < 4; j++) dims[k][j] = (u8(r) & 7) ? small_size(r, 9) : hostile_size(r);
        if (k == 0 && nd >= 1 && nd <= 4 && (u8(r) & 1)) dims[k][nd - 1] = d.input_size;
        shapes[k] = (srnn_shape){nd, (u8(r) & 15) ? dims[k] : NULL};
    }
    /* Usually the shapes that fit x (so that accepted calls are common), sometimes the hostile ones above. */
    const srnn_shape *x0 = &shapes[0];
    int64_t D0 = d.bidirectional ? 2 : 1, L0 = -1, N0 = -1, fit_saved = -1, fit_masks = -1;
    if ((x0->ndim == 2 || x0->ndim == 3) && x0->dims && (u8(r) & 3)) {
        int unbatched = x0->ndim == 2;
        L0 = unbatched ? x0->dims[0] : x0->dims[d.batch_first ? 1 : 0];
        N0 = unbatched ? 1 : x0->dims[d.batch_first ? 0 : 1];
        int64_t P0 = d.proj_size > 0 ? d.proj_size : d.hidden_size;
        int64_t hd[3] = {D0 * d.num_layers, N0, P0}, hu[2] = {D0 * d.num_layers, P0};
        memcpy(dims[1], unbatched ? hu : hd, sizeof(int64_t) * (unbatched ? 2 : 3));
        memcpy(dims[3], dims[1], sizeof dims[3]);
        memcpy(dims[2], x0->dims, sizeof(int64_t) * (size_t)x0->ndim);
        dims[2][x0->ndim - 1] = D0 * P0;
        for (int k = 1; k < 4; k++) shapes[k] = (srnn_shape){x0->ndim, dims[k]};
        int64_t t;
        if (d.cell == SRNN_CELL_RNN && bytes3(d.num_layers, L0 * N0, D0 * P0, &t) && L0 >= 0 && N0 >= 0 && L0 < 64 &&
            N0 < 64) {
            fit_saved = t / 4;
            fit_masks = (d.num_layers - 1) * L0 * N0 * D0 * P0;
        }
    }
    uint8_t use = u8(r);
    if (u8(r) & 1) use |= 7;
    srnn_rnn_plan plan;
    memset(&plan, 0xAB, sizeof plan);
    int64_t saved = (use & 0x40) ? ((u8(r) & 1) ? fit_saved : hostile_size(r)) : -1;
    int64_t masks = (use & 0x80) ? ((u8(r) & 1) ? fit_masks : hostile_size(r)) : -1;
    /* An LSTM's c0 and grad_cn: the cell-state shape (H features) when h's is projected, else h's. */
    int64_t cdims[4] = {0, 0, 0, 0};
    srnn_shape cshape = shapes[1];
    if (shapes[1].dims && shapes[1].ndim >= 1 && shapes[1].ndim <= 4) {
        memcpy(cdims, shapes[1].dims, sizeof(int64_t) * (size_t)shapes[1].ndim);
        cdims[shapes[1].ndim - 1] = d.hidden_size;
        cshape.dims = cdims;
    }
    uint8_t cuse = u8(r);
    /* Sometimes a packed batch: batch sizes from the input (valid or not) over x's first dimension. */
    int64_t bsizes[8];
    int64_t nsteps = (cuse & 4) ? (int64_t)(u8(r) % 8) : 0;
    for (int64_t k = 0; k < nsteps; k++) bsizes[k] = (u8(r) & 7) ? (int64_t)(8 - k) : hostile_size(r);
    int32_t s = srnn_rnn_check_call((use & 1) ? &d : NULL, (use & 2) ? params : NULL, pass_np, (use & 4) ? &shapes[0] : NULL,
                                    nsteps ? bsizes : NULL, nsteps, (use & 8) ? &shapes[1] : NULL, (cuse & 1) ? &cshape : NULL,
                                    (use & 16) ? &shapes[2] : NULL, (use & 32) ? &shapes[3] : NULL,
                                    (cuse & 2) ? &cshape : NULL, saved, masks, (u8(r) & 31) ? &plan : NULL,
                                    e.buf, e.cap);
    if (s == SRNN_OK && nsteps) {
        int64_t total = 0;
        for (int64_t k = 0; k < nsteps; k++) {
            if (bsizes[k] < 1 || (k && bsizes[k] > bsizes[k - 1])) fail("check_call accepted bad batch sizes", s, &e);
            total += bsizes[k];
        }
        if (plan.output_ndim != 2 || plan.output_dims[0] != total || plan.seq_len != nsteps || plan.batch != bsizes[0])
            fail("a packed plan that does not follow from its batch sizes", s, &e);
    } else if (s == SRNN_OK) {
        if (np < 0 || pass_np != np) fail("check_call accepted an invalid description or parameter count", s, &e);
        const srnn_shape *x = &shapes[0];
        int64_t D = d.bidirectional ? 2 : 1, H = d.proj_size > 0 ? d.proj_size : d.hidden_size, t;
        if (x->ndim != 2 && x->ndim != 3) fail("check_call accepted an input that is not 2-d or 3-d", s, &e);
        if (plan.output_ndim != x->ndim || plan.state_ndim != x->ndim) fail("plan ranks disagree with x", s, &e);
        if (plan.seq_len < 1 || plan.batch < 0) fail("plan with an impossible L or N", s, &e);
        for (int j = 0; j + 1 < x->ndim; j++)
            if (plan.output_dims[j] != x->dims[j]) fail("plan's output shape is not x's", s, &e);
        if (plan.output_dims[x->ndim - 1] != D * H) fail("plan's output features are not D*H", s, &e);
        if (d.cell == SRNN_CELL_RNN && (!bytes3(d.num_layers, plan.seq_len * plan.batch, D * H, &t) || plan.saved_size * 4 != t))
            fail("plan's saved size is not num_layers*L*N*D*H", s, &e);
        if (plan.saved_size < 0 || plan.dropout_mask_size < 0) fail("plan with a negative size", s, &e);
    }
    check_status(s, &e);
}

typedef void (*target_fn)(reader *);
static const target_fn targets[] = {fuzz_info,      fuzz_embedding,      fuzz_linear,        fuzz_softmax,
                                    fuzz_rnn,       fuzz_rnn_train,      fuzz_layer_backward, fuzz_cross_entropy,
                                    fuzz_optimizers, fuzz_random,        fuzz_packed,         fuzz_rnn_check_call};
static const char *const target_names[] = {"info",       "embedding", "linear",        "softmax",    "rnn",
                                           "rnn_train",  "backward",  "cross_entropy", "optimizers", "random",
                                           "packed",     "rnn_check_call"};
#define NUM_TARGETS (int)(sizeof targets / sizeof *targets)

static void print_stats(void) {
    static const char *const names[] = {"ok", "value", "index", "overflow", "memory", "type", "runtime"};
    for (int t = 1; t < NUM_TARGETS; t++) {
        fprintf(stderr, "  %-13s", target_names[t]);
        for (int s = 0; s <= SRNN_RUNTIME_ERROR; s++) fprintf(stderr, " %s=%lld", names[s], status_counts[t][s]);
        fprintf(stderr, "\n");
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *stats = getenv("SRNN_FUZZ_STATS");
    if (stats && *stats == '1') atexit(print_stats);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size, 0};
    /* Several calls per input, so sequences (e.g. set_num_threads, then a forward) get explored too. */
    for (int calls = 0; calls < 4 && r.pos < r.size; calls++) {
        current_target = u8(&r) % NUM_TARGETS;
        targets[current_target](&r);
    }
    return 0;
}

#ifdef SRNN_FUZZ_STANDALONE
/* A plain random driver: ./capi_fuzz_standalone [seconds=10] [seed=1] [max_iterations=0 (no limit)] */
#include <time.h>

static uint64_t rng_state;
static uint64_t next_random(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 10.0;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    long long max_iter = argc > 3 ? atoll(argv[3]) : 0;
    uint8_t buf[4096];
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long long iter = 0;
    for (;; iter++) {
        if (max_iter && iter >= max_iter) break;
        if ((iter & 63) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if ((double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) * 1e-9 >= seconds) break;
        }
        size_t n = (size_t)(next_random() % sizeof buf);
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)next_random();
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("capi_fuzz_standalone: %lld inputs, no invariant broken; calls by status:\n", iter);
    fflush(stdout);
    print_stats();
    return 0;
}
#endif
