/*
 * swiftrnn.h — the C ABI of the swiftrnn Swift core (library libswiftrnn_capi.so).
 *
 * Conventions, for every function below:
 *   - Arrays are float32 (or int64 for indices), C-contiguous, row-major; shapes are passed as int64.
 *   - The return value is an srnn_status. On failure a NUL-terminated message is written to
 *     `err` (at most `err_cap` bytes, truncated if longer) and no output buffer is left half-written
 *     in a way that matters: callers must treat outputs as undefined after a failure.
 *   - Nothing traps across this boundary: bad sizes, overflowing size arithmetic and out-of-range
 *     indices come back as status codes. Buffers must really hold the sizes passed (the caller's job).
 *   - No Swift object crosses it: only pointers to plain data.
 *   - Functions are thread-safe for distinct output buffers; they never touch global mutable state
 *     except the thread-count setting.
 */
#ifndef SWIFTRNN_H
#define SWIFTRNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SRNN_ABI_VERSION 2

/* Status codes; the CPython extension maps each to the built-in exception named here. */
typedef enum srnn_status {
    SRNN_OK = 0,
    SRNN_VALUE_ERROR = 1,    /* ValueError: a size, shape or value is invalid */
    SRNN_INDEX_ERROR = 2,    /* IndexError: an index is out of range */
    SRNN_OVERFLOW_ERROR = 3, /* OverflowError: size arithmetic overflows */
    SRNN_MEMORY_ERROR = 4,   /* MemoryError: a workspace could not be allocated */
    SRNN_TYPE_ERROR = 5,     /* TypeError */
    SRNN_RUNTIME_ERROR = 6   /* RuntimeError: anything else */
} srnn_status;

typedef enum srnn_nonlinearity {
    SRNN_TANH = 0,
    SRNN_RELU = 1
} srnn_nonlinearity;

/* Library facts, for `python -m swiftrnn info` and import-time checks. */
int32_t srnn_abi_version(void);
/* The GEMM kernels in use: "avx512" (the CPU has AVX-512 F/VL/BW/DQ and SWIFTRNN_SIMD is not "avx2"),
 * "avx2+fma" (other x86-64), "portable" (other architectures). */
const char *srnn_simd_level(void);
/* GFLOP/s the calling thread's core sustains on register-resident FMA chains at the kernels' vector
 * width, timed for about `seconds` (clamped to [1e-4, 10]; 0.1 if not finite): the ceiling of any GEMM. */
double srnn_fma_peak_gflops(double seconds);

/* Threads the kernels may use, 1 to srnn_max_num_threads(). Process-wide. */
int32_t srnn_max_num_threads(void);
void srnn_set_num_threads(int32_t n);
int32_t srnn_get_num_threads(void);

/*
 * Embedding lookup. weight is (num_embeddings, embedding_dim); indices has n entries; out is
 * (n, embedding_dim). An index outside [0, num_embeddings) is SRNN_INDEX_ERROR and out is untouched.
 * If max_norm > 0 (pass a negative value for "no max_norm"), the looked-up rows of `weight` whose
 * norm_type-norm exceeds max_norm are first rescaled in place to max_norm / (norm + 1e-7), as
 * torch.embedding_renorm_ does.
 */
int32_t srnn_embedding_forward(float *weight, int64_t num_embeddings, int64_t embedding_dim,
                               const int64_t *indices, int64_t n, double max_norm, double norm_type,
                               float *out, char *err, size_t err_cap);

/* Linear: out (m, out_features) = x (m, in_features) · weightᵀ (+ bias). bias may be NULL. */
int32_t srnn_linear_forward(const float *x, int64_t m, int64_t in_features, const float *weight,
                            const float *bias, int64_t out_features, float *out, char *err, size_t err_cap);

/*
 * Packed weights, for loops that multiply by the same weight many times (text generation: one token per
 * call). A weight stored (rows, cols) = (out, in) row-major, as Linear's and the RNN's, is packed into
 * srnn_packed_weight_size(rows, cols) floats (-1: a negative size or an overflow); the *_packed calls
 * then read the packing instead of the weight and give bit-identical results without packing per call.
 * The packing must be of the weight's current values: that is the caller's job.
 */
int64_t srnn_packed_weight_size(int64_t rows, int64_t cols);
int32_t srnn_pack_weight(const float *weight, int64_t rows, int64_t cols, float *packed, int64_t packed_size,
                         char *err, size_t err_cap);
/* srnn_linear_forward with the packing of weight (out_features, in_features). */
int32_t srnn_linear_forward_packed(const float *x, int64_t m, int64_t in_features, const float *packed,
                                   int64_t packed_size, const float *bias, int64_t out_features, float *out,
                                   char *err, size_t err_cap);

/*
 * srnn_linear_forward (or its packed form: packed non-NULL, packed_size its size; else NULL and 0), then the
 * softmax (log-softmax if `log` != 0) of every output row, a block of rows at a time while it is in cache: the
 * bits of srnn_linear_forward followed by srnn_softmax over the last axis.
 */
int32_t srnn_linear_softmax_forward(const float *x, int64_t m, int64_t in_features, const float *weight,
                                    const float *packed, int64_t packed_size, const float *bias,
                                    int64_t out_features, int32_t log, float *out, char *err, size_t err_cap);

/*
 * Softmax (or log-softmax if `log` != 0) of x viewed as (outer, dim, inner) along the middle axis.
 */
int32_t srnn_softmax(const float *x, int64_t outer, int64_t dim, int64_t inner, int32_t log, float *out,
                     char *err, size_t err_cap);

/*
 * The next token from n logits (a text generator's step): the index of the largest when `greedy`, else a draw
 * with `uniform` (in [0, 1)) from softmax(logits / temperature), restricted to the top_k largest (top_k <= 0:
 * all) and to the most likely tokens whose probability reaches top_p (top_p >= 1: all). *index receives it.
 * SRNN_VALUE_ERROR for non-finite logits, n < 1, a temperature that is not positive and finite, top_p <= 0.
 */
int32_t srnn_sample(const float *logits, int64_t n, int32_t greedy, double temperature, int64_t top_k, double top_p,
                    double uniform, int64_t *index, char *err, size_t err_cap);

/* The recurrence of a layer: torch.nn.RNN (Elman), LSTM or GRU. */
typedef enum srnn_cell {
    SRNN_CELL_RNN = 0,
    SRNN_CELL_LSTM = 1,
    SRNN_CELL_GRU = 2
} srnn_cell;

/* A recurrent layer's description (torch.nn.RNN's / LSTM's / GRU's constructor arguments). */
typedef struct srnn_rnn_desc {
    int64_t input_size;
    int64_t hidden_size;
    int64_t num_layers;
    int32_t nonlinearity;  /* srnn_nonlinearity (the Elman RNN's; ignored by LSTM and GRU) */
    int32_t has_bias;      /* 0 or 1 */
    int32_t bidirectional; /* 0 or 1 */
    int32_t batch_first;   /* 0: x is (L, N, input_size); 1: x is (N, L, input_size) */
    int32_t cell;          /* srnn_cell */
    int32_t reserved;      /* 0 */
    int64_t proj_size;     /* LSTM only: h projected to proj_size by weight_hr (0: none); P = proj_size or H */
} srnn_rnn_desc;

/* An array's shape as srnn_rnn_check_call takes it: ndim sizes at dims (dims may be NULL when ndim is 0). */
typedef struct srnn_shape {
    int32_t ndim;
    const int64_t *dims;
} srnn_shape;

/* What one RNN call works with, as srnn_rnn_check_call derives it from desc and the input's shape. */
typedef struct srnn_rnn_plan {
    int64_t seq_len, batch;            /* L, and N (1 for an unbatched input) */
    int32_t output_ndim, state_ndim;   /* 3 and 3, or 2 and 2 unbatched */
    int64_t output_dims[3];            /* the input's shape with D*P features: (L, N, D*P), (N, L, D*P), (L, D*P) */
    int64_t state_dims[3];             /* h0 and hn: (D*num_layers, N, P) or (D*num_layers, P) */
    int64_t cell_state_dims[3];        /* an LSTM's c0 and cn: (D*num_layers, N, H) or (D*num_layers, H) */
    int64_t saved_size;                /* floats a training forward keeps (layer outputs, then gates) */
    int64_t dropout_mask_size;         /* floats of the dropout masks: (num_layers - 1) * L * N * D * P */
} srnn_rnn_plan;

/*
 * Checks one RNN call and fills *plan: the one place the shape rules of an RNN call and their messages
 * live (the Python extension calls it once per forward or backward, before allocating the outputs).
 * Checked against desc: the num_params parameters' shapes (state_dict order), x's, and where not NULL,
 * h0's, an LSTM's c0's, a backward's grad_output's, grad_hn's and grad_cn's; and the sizes in floats of
 * the saved layer outputs and of the dropout masks (a negative size: not given). SRNN_VALUE_ERROR names
 * the first that does not fit. With batch_sizes (num_steps values; NULL for a padded batch) x is a packed
 * batch's data (total, input_size), torch's PackedSequence: the plan's seq_len is num_steps, its batch
 * batch_sizes[0], its output (total, D*P).
 */
int32_t srnn_rnn_check_call(const srnn_rnn_desc *desc, const srnn_shape *params, int64_t num_params, const srnn_shape *x,
                            const int64_t *batch_sizes, int64_t num_steps, const srnn_shape *h0, const srnn_shape *c0,
                            const srnn_shape *grad_output, const srnn_shape *grad_hn, const srnn_shape *grad_cn,
                            int64_t saved_size, int64_t dropout_mask_size, srnn_rnn_plan *plan, char *err, size_t err_cap);

/* Number of parameter arrays srnn_rnn_forward expects (torch's state_dict order), or -1 if invalid. */
int64_t srnn_rnn_num_params(const srnn_rnn_desc *desc);

/*
 * The shape of parameter `index` in state_dict order: writes its dims into shape[0..ndim) and returns
 * ndim (1 or 2), or -1 if desc or index is invalid.
 */
int32_t srnn_rnn_param_shape(const srnn_rnn_desc *desc, int64_t index, int64_t shape[2]);

/*
 * Elman RNN forward, h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), over all layers and directions.
 *   params:  num_params pointers in torch's state_dict order: for each layer l, for each direction
 *            (forward, then _reverse): weight_ih (H, in_l), weight_hh (H, H), and if has_bias
 *            bias_ih (H), bias_hh (H); in_0 = input_size, in_l = D*H for l > 0.
 *   x:       (L, N, input_size), or (N, L, input_size) if batch_first.
 *   h0:      (D*num_layers, N, H), or NULL for zeros.
 *   dropout_masks: NULL, or (num_layers - 1) masks of (L, N, D*H) each (time-major), multiplied into
 *            the output of every layer but the last before it feeds the next one (already scaled by
 *            1/(1-p)).
 *   output:  (L, N, D*H), or (N, L, D*H) if batch_first.
 *   hn:      (D*num_layers, N, H).
 * seq_len must be >= 1; batch may be 0.
 */
int32_t srnn_rnn_forward(const srnn_rnn_desc *desc, const float *const *params, int64_t num_params,
                         const float *x, int64_t seq_len, int64_t batch, const float *h0,
                         const float *dropout_masks, float *output, float *hn, char *err, size_t err_cap);

/*
 * srnn_rnn_forward with every layer's and direction's W_ih and W_hh packed (srnn_pack_weight):
 * packed[2 i] and packed[2 i + 1] for layer-direction i in state_dict order (num_packed = 2 * D *
 * num_layers), packed_sizes their sizes in floats. Bit-identical to srnn_rnn_forward.
 */
int32_t srnn_rnn_forward_packed(const srnn_rnn_desc *desc, const float *const *params, int64_t num_params,
                                const float *const *packed, const int64_t *packed_sizes, int64_t num_packed,
                                const float *x, int64_t seq_len, int64_t batch, const float *h0,
                                const float *dropout_masks, float *output, float *hn, char *err, size_t err_cap);

/*
 * srnn_recurrent_forward (swiftrnn_train.h) over a padded batch, inference, with the packed W_ih and W_hh of
 * srnn_rnn_forward_packed for any cell: each packs rows = gate blocks x hidden_size (an LSTM's 4 H, a GRU's
 * 3 H); W_hh's columns are proj_size if set (an LSTM's W_hr is packed by the call), else hidden_size. c0 and
 * cn: an LSTM's (c0 may be NULL: zeros), NULL for the others. Bit-identical to the unpacked call.
 */
int32_t srnn_recurrent_forward_packed(const srnn_rnn_desc *desc, const float *const *params, int64_t num_params,
                                      const float *const *packed, const int64_t *packed_sizes, int64_t num_packed,
                                      const float *x, int64_t seq_len, int64_t batch, const float *h0, const float *c0,
                                      const float *dropout_masks, float *output, float *hn, float *cn, char *err,
                                      size_t err_cap);

#ifdef __cplusplus
}
#endif

#include "swiftrnn_random.h"
/* The training half: backward passes, cross-entropy, optimizers, clipping. */
#include "swiftrnn_train.h"

#endif /* SWIFTRNN_H */
