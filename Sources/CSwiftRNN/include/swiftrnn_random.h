/*
 * swiftrnn_random.h — the random-number part of the swiftrnn C ABI (included by swiftrnn.h).
 *
 * A generator is a plain struct that the caller owns (the Python extension keeps one inside a bytes
 * buffer of srnn_generator_size() bytes); every function takes a pointer to it. The library keeps no
 * generator of its own and no lock: calls on the same srnn_generator must be serialised by the caller
 * (the CPython extension holds the GIL during them). Conventions as in swiftrnn.h: int32_t status
 * (srnn_status) out, message in err on failure.
 *
 * The streams reproduce PyTorch's CPU generator (mt19937 + torch's transformations) bit for bit on
 * x86-64 with AVX2/AVX-512 torch builds; see Sources/SwiftRNN/Random/ for what is matched how.
 * On failure the generator and the output are left untouched, except where noted.
 */
#ifndef SWIFTRNN_RANDOM_H
#define SWIFTRNN_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SRNN_MT_STATE_WORDS 624
/* Bytes of torch.get_rng_state() for a CPU generator (CPUGeneratorImplState). */
#define SRNN_TORCH_STATE_BYTES 5056
/* Torch's default seed for a new torch.Generator() (default_rng_seed_val). */
#define SRNN_DEFAULT_SEED UINT64_C(67280421310721)

#define SRNN_GENERATOR_HAS_DOUBLE_NORMAL 1u /* next_double_normal is valid */
#define SRNN_GENERATOR_HAS_FLOAT_NORMAL 2u  /* next_float_normal is valid */

/* Complete state of one generator (torch's CPUGeneratorImpl): plain data, copy it to fork a stream.
 * Functions reject (SRNN_VALUE_ERROR) a struct whose left/next are inconsistent. */
typedef struct srnn_generator {
    uint64_t initial_seed;          /* the seed last set (initial_seed()) */
    uint32_t mt[SRNN_MT_STATE_WORDS];
    int32_t left;                   /* draws before the next refill, 1..624 */
    int32_t next;                   /* next state word, 0 <= next <= 625 - left */
    double next_double_normal;      /* cached second Box-Muller sample of the scalar normal path */
    float next_float_normal;        /* carried for torch state round trips; never produced here */
    uint32_t flags;                 /* SRNN_GENERATOR_HAS_* */
} srnn_generator;

/* sizeof(srnn_generator), for callers that allocate it as raw bytes. */
size_t srnn_generator_size(void);

/* Seeds as torch.manual_seed(seed) (any uint64; Python maps negative seeds to two's complement).
 * Cannot fail. */
void srnn_generator_seed(srnn_generator *g, uint64_t seed);

/* Writes the torch.get_rng_state() bytes of g (SRNN_TORCH_STATE_BYTES, little-endian) into out. */
int32_t srnn_generator_get_state(const srnn_generator *g, uint8_t *out, size_t out_len, char *err, size_t err_cap);

/* Loads torch.get_rng_state() bytes into g: SRNN_VALUE_ERROR if len != SRNN_TORCH_STATE_BYTES or the
 * state is invalid. */
int32_t srnn_generator_set_state(srnn_generator *g, const uint8_t *state, size_t len, char *err, size_t err_cap);

/* Tensor.uniform_(from, to) on n float32s (torch.rand for 0, 1). from/to finite, from <= to. */
int32_t srnn_fill_uniform(srnn_generator *g, float *out, int64_t n, double from, double to,
                          char *err, size_t err_cap);

/* Tensor.normal_(mean, std) on n contiguous float32s (torch.randn for 0, 1). std >= 0. */
int32_t srnn_fill_normal(srnn_generator *g, float *out, int64_t n, double mean, double std,
                         char *err, size_t err_cap);

/* torch.randint(low, high, ...) as int64: values in [low, high); low < high. */
int32_t srnn_fill_randint(srnn_generator *g, int64_t *out, int64_t n, int64_t low, int64_t high,
                          char *err, size_t err_cap);

/* Tensor.bernoulli_(p) on n float32s (0 or 1). 0 <= p <= 1. */
int32_t srnn_fill_bernoulli(srnn_generator *g, float *out, int64_t n, double p, char *err, size_t err_cap);

/* The scaled mask F.dropout(x, p) multiplies by: 0 or 1/(1-p) (p == 0: ones, p == 1: zeros, no draws). */
int32_t srnn_fill_dropout_mask(srnn_generator *g, float *out, int64_t n, double p, char *err, size_t err_cap);

/* nn.Linear's initialisation: weight (out_features, in_features) kaiming_uniform_(a=sqrt(5)), then
 * bias (out_features) uniform(+-1/sqrt(in_features)). bias may be NULL. */
int32_t srnn_init_linear(srnn_generator *g, float *weight, int64_t out_features, int64_t in_features,
                         float *bias, char *err, size_t err_cap);

/* nn.RNN's initialisation: each of the num_params arrays params[i] (sizes[i] floats), in state_dict
 * order, uniform(+-1/sqrt(hidden_size)). On a size error nothing is drawn. */
int32_t srnn_init_rnn(srnn_generator *g, float *const *params, const int64_t *sizes, int64_t num_params,
                      int64_t hidden_size, char *err, size_t err_cap);

/* nn.Embedding's initialisation: weight (num_embeddings, embedding_dim) normal_(0, 1), then row
 * padding_idx zeroed. padding_idx must already be normalised to [0, num_embeddings) (torch's negative
 * padding_idx counts from the end); pass -1 for none. */
int32_t srnn_init_embedding(srnn_generator *g, float *weight, int64_t num_embeddings, int64_t embedding_dim,
                            int64_t padding_idx, char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTRNN_RANDOM_H */
