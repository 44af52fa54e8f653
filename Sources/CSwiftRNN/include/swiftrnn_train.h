/*
 * swiftrnn_train.h — the training half of the C ABI (included by swiftrnn.h): backward passes,
 * cross-entropy, optimizer steps and gradient clipping. The conventions of swiftrnn.h hold: float32
 * C-contiguous buffers, int64 sizes, an srnn_status return with a message in `err`, nothing traps.
 *
 * Every backward ACCUMULATES (+=) into its gradient buffers: the caller zeroes them first (or keeps
 * earlier gradients, which then add up as in torch). A NULL gradient buffer is skipped. Optimizer
 * state (momentum buffers, moments) is plain float buffers the caller owns.
 */
#ifndef SWIFTRNN_TRAIN_H
#define SWIFTRNN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Training-mode RNN forward: srnn_rnn_forward, and additionally `saved` (num_layers, L, N, D*H),
 * time-major whatever batch_first says: every layer's output before dropout, which
 * srnn_rnn_backward needs. Results in output/hn are those of srnn_rnn_forward.
 */
int32_t srnn_rnn_forward_train(const srnn_rnn_desc *desc, const float *const *params, int64_t num_params,
                               const float *x, int64_t seq_len, int64_t batch, const float *h0,
                               const float *dropout_masks, float *output, float *hn, float *saved,
                               char *err, size_t err_cap);

/*
 * Backpropagation through time for srnn_rnn_forward_train, all layers and directions.
 *   desc, params, x, seq_len, batch, h0, dropout_masks: as the forward took them (h0 may be NULL).
 *   saved:       the forward's `saved`.
 *   grad_output: shaped like output; grad_hn: shaped like hn, or NULL for zeros.
 *   param_grads: num_params pointers shaped like params, accumulated into; NULL entries skipped.
 *   grad_x:      shaped like x, accumulated into, or NULL; grad_h0: shaped like hn, or NULL.
 */
int32_t srnn_rnn_backward(const srnn_rnn_desc *desc, const float *const *params, int64_t num_params,
                          const float *x, int64_t seq_len, int64_t batch, const float *h0,
                          const float *dropout_masks, const float *saved, const float *grad_output,
                          const float *grad_hn, float *const *param_grads, float *grad_x, float *grad_h0,
                          char *err, size_t err_cap);

/*
 * Any recurrent layer (desc->cell: RNN, LSTM, GRU): srnn_rnn_forward_train's and srnn_rnn_backward's
 * calls with an LSTM's cell state too. c0: (D*num_layers, N, H) or NULL for zeros; cn: the same shape
 * (an LSTM needs it; NULL otherwise); saved: plan.saved_size floats for a training forward, NULL for
 * inference. grad_cn: shaped like cn or NULL; grad_c0: shaped like c0, accumulated into, or NULL.
 * batch_sizes: NULL for a padded batch; else seq_len values from batch down (non-increasing, >= 1): x, output
 * (and grad_output, grad_x) are a packed batch's rows, (sum(batch_sizes), features), step t running the first
 * batch_sizes[t] sequences (torch's PackedSequence, sorted longest first).
 */
int32_t srnn_recurrent_forward(const srnn_rnn_desc *desc, const float *const *params, int64_t num_params,
                               const float *x, int64_t seq_len, int64_t batch, const int64_t *batch_sizes,
                               const float *h0, const float *c0,
                               const float *dropout_masks, float *output, float *hn, float *cn, float *saved,
                               char *err, size_t err_cap);
int32_t srnn_recurrent_backward(const srnn_rnn_desc *desc, const float *const *params, int64_t num_params,
                                const float *x, int64_t seq_len, int64_t batch, const int64_t *batch_sizes,
                                const float *h0, const float *c0,
                                const float *dropout_masks, const float *saved, const float *grad_output,
                                const float *grad_hn, const float *grad_cn, float *const *param_grads,
                                float *grad_x, float *grad_h0, float *grad_c0, char *err, size_t err_cap);

/*
 * Linear backward: x (m, in_features), grad_out (m, out_features), weight (out_features, in_features).
 *   grad_x (m, in_features) += grad_out · weight;  grad_weight += grad_outᵀ · x;  grad_bias += Σ_rows grad_out.
 */
int32_t srnn_linear_backward(const float *x, const float *grad_out, int64_t m, int64_t in_features,
                             const float *weight, int64_t out_features, float *grad_x, float *grad_weight,
                             float *grad_bias, char *err, size_t err_cap);

/*
 * Embedding backward: grad_weight (num_embeddings, embedding_dim)[indices[i]] += scale · grad_out[i] for
 * the n positions in order; scale = 1, or 1 / (occurrences of indices[i]) if scale_grad_by_freq. Positions
 * whose index equals padding_idx (pass a negative value for none) contribute nothing. An index outside
 * [0, num_embeddings) is SRNN_INDEX_ERROR and nothing is written.
 */
int32_t srnn_embedding_backward(const int64_t *indices, int64_t n, const float *grad_out, int64_t num_embeddings,
                                int64_t embedding_dim, int64_t padding_idx, int32_t scale_grad_by_freq,
                                float *grad_weight, char *err, size_t err_cap);

typedef enum srnn_reduction {
    SRNN_REDUCTION_NONE = 0,
    SRNN_REDUCTION_MEAN = 1,
    SRNN_REDUCTION_SUM = 2
} srnn_reduction;

/*
 * Cross-entropy forward over logits viewed as (outer, classes, inner), classes along the middle axis;
 * targets: outer*inner class indices (int64), each in [0, classes) or equal to ignore_index (else
 * SRNN_INDEX_ERROR); weight: (classes) or NULL; label_smoothing in [0, 1].
 *   loss:  outer*inner values for SRNN_REDUCTION_NONE (0 where ignored), else 1 value ('mean' divides
 *          by the summed weight of the targets not ignored: NaN if there are none, as torch).
 *   probs: NULL, or softmax(logits) along the classes, shaped like logits, for the backward.
 */
int32_t srnn_cross_entropy_forward(const float *logits, int64_t outer, int64_t classes, int64_t inner,
                                   const int64_t *targets, const float *weight, int64_t ignore_index,
                                   int32_t reduction, double label_smoothing, float *loss, float *probs,
                                   char *err, size_t err_cap);

/*
 * Cross-entropy backward: grad_logits (shaped like logits) += d(loss)/d(logits) · grad_loss, from the
 * forward's probs; grad_loss holds 1 value, or outer*inner values for SRNN_REDUCTION_NONE.
 */
int32_t srnn_cross_entropy_backward(const float *probs, int64_t outer, int64_t classes, int64_t inner,
                                    const int64_t *targets, const float *weight, int64_t ignore_index,
                                    int32_t reduction, double label_smoothing, const float *grad_loss,
                                    float *grad_logits, char *err, size_t err_cap);

/*
 * srnn_cross_entropy_backward that turns the forward's probs into the gradient in place (the rows of
 * ignored positions become zeros): for a caller with no further use for the probabilities.
 */
int32_t srnn_cross_entropy_backward_in_place(float *probs, int64_t outer, int64_t classes, int64_t inner,
                                             const int64_t *targets, const float *weight, int64_t ignore_index,
                                             int32_t reduction, double label_smoothing, const float *grad_loss,
                                             char *err, size_t err_cap);

/*
 * One torch.optim.SGD step for one parameter of n floats. momentum_buffer (n floats) is needed when
 * momentum != 0; buffer_is_new = 1 on its first step (it is then set to the gradient).
 */
int32_t srnn_sgd_step(float *param, const float *grad, int64_t n, float *momentum_buffer, int32_t buffer_is_new,
                      double lr, double momentum, double dampening, double weight_decay, int32_t nesterov,
                      int32_t maximize, char *err, size_t err_cap);

/*
 * One torch.optim.Adam step (AdamW if decoupled_weight_decay) for one parameter of n floats; `step` is
 * the step number after this update (1 first). max_exp_avg_sq: n floats for amsgrad, else NULL.
 */
int32_t srnn_adam_step(float *param, const float *grad, int64_t n, float *exp_avg, float *exp_avg_sq,
                       float *max_exp_avg_sq, int64_t step, double lr, double beta1, double beta2, double eps,
                       double weight_decay, int32_t decoupled_weight_decay, int32_t maximize,
                       char *err, size_t err_cap);

/*
 * torch.nn.utils.clip_grad_norm_ over `num` gradients (grads[i] holds counts[i] floats): writes the
 * total norm_type-norm to *total_norm, then scales every gradient by min(max_norm / (total + 1e-6), 1).
 * With error_if_nonfinite and a non-finite total: SRNN_RUNTIME_ERROR, nothing scaled.
 */
int32_t srnn_clip_grad_norm(float *const *grads, const int64_t *counts, int64_t num, double max_norm,
                            double norm_type, int32_t error_if_nonfinite, float *total_norm,
                            char *err, size_t err_cap);

/* torch.nn.utils.clip_grad_value_: clamps every gradient element to [-clip_value, clip_value]. */
int32_t srnn_clip_grad_value(float *const *grads, const int64_t *counts, int64_t num, double clip_value,
                             char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTRNN_TRAIN_H */
