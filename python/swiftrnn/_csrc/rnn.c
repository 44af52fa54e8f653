/* nn.RNN: forward (inference, training, packed weights) and backward. Each converts its arguments, gathers
 * the parameters, asks the core for the call's shapes (srnn_rnn_check_call: the one owner of the RNN's shape
 * rules and messages), allocates the outputs and calls the core once without the GIL. */
#include "args.h"

/* Reads an RNN description tuple: (input_size, hidden_size, num_layers, nonlinearity, bias, batch_first,
 * bidirectional[, cell, proj_size]) — the last two default to the Elman RNN without projection. */
static int parse_rnn_desc(PyObject *t, srnn_rnn_desc *d) {
    Py_ssize_t n = PyTuple_Check(t) ? PyTuple_GET_SIZE(t) : -1;
    if (n != 7 && n != 9) {
        PyErr_SetString(PyExc_TypeError, "the RNN description must be a tuple of 7 or 9 ints");
        return -1;
    }
    int64_t v[9] = {0, 0, 0, 0, 0, 0, 0, SRNN_CELL_RNN, 0};
    for (Py_ssize_t i = 0; i < n; i++)
        if (srnn_arg_int64(PyTuple_GET_ITEM(t, i), &v[i]) < 0) return -1;
    if (v[3] < INT32_MIN || v[3] > INT32_MAX || v[7] < INT32_MIN || v[7] > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "unknown nonlinearity or cell code (%lld, %lld)", (long long)v[3], (long long)v[7]);
        return -1;
    }
    memset(d, 0, sizeof *d);
    d->input_size = v[0]; d->hidden_size = v[1]; d->num_layers = v[2];
    d->nonlinearity = (int32_t)v[3]; d->has_bias = v[4] != 0; d->batch_first = v[5] != 0; d->bidirectional = v[6] != 0;
    d->cell = (int32_t)v[7]; d->proj_size = v[8];
    return 0;
}

static const float *data_or_null(PyArrayObject *a) { return a ? (const float *)PyArray_DATA(a) : NULL; }

/* A spare buffer for the saved layer outputs, if `obj` is one of the right size (else NULL, no error). */
static PyArrayObject *reusable_saved(PyObject *obj, int64_t size) {
    if (!PyArray_CheckExact(obj)) return NULL;
    PyArrayObject *a = (PyArrayObject *)obj;
    if (PyArray_TYPE(a) != NPY_FLOAT32 || !PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISALIGNED(a) ||
        !PyArray_ISWRITEABLE(a) || !PyArray_ISNOTSWAPPED(a) || PyArray_SIZE(a) != size)
        return NULL;
    Py_INCREF(a);
    return a;
}

/*
 * rnn_forward(x, h0 or None, params, desc, dropout_masks or None[, save[, packed[, c0 or None[, batch_sizes]]]])
 *   -> (output, hn). An LSTM (desc's cell) returns (output, hn, cn), and takes its c0 as the 8th argument.
 *   batch_sizes (int64, or None): x is a packed batch's data (torch's PackedSequence), and so is the output.
 *   save: None (the default) or False for inference. True (or a spare array from an earlier call, reused when its size fits)
 *   for a training forward, which returns (output, hn, (x, h0, masks, saved)): private copies of the input and
 *   h0 and every layer's output before dropout, what rnn_backward takes.
 *   packed (inference only): a tuple of pack_weight(W_ih), pack_weight(W_hh) per layer and direction.
 */
static PyObject *rnn_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 5 || nargs > 9)
        return PyErr_Format(PyExc_TypeError, "rnn_forward takes 5 to 9 arguments, got %zd", nargs);
    srnn_rnn_desc desc;
    if (parse_rnn_desc(args[3], &desc) < 0) return NULL;
    PyObject *save_arg = nargs >= 6 ? args[5] : Py_None;
    int32_t save = 0;
    if (save_arg != Py_None && !PyArray_Check(save_arg) && srnn_arg_flag(save_arg, &save) < 0) return NULL;
    if (PyArray_Check(save_arg)) save = 1;
    PyObject *packed_tuple = nargs >= 7 && args[6] != Py_None ? args[6] : NULL;
    PyObject *c0_arg = nargs >= 8 ? args[7] : Py_None, *sizes_arg = nargs == 9 ? args[8] : Py_None;
    int lstm = desc.cell == SRNN_CELL_LSTM;
    if (packed_tuple && save)
        return PyErr_Format(PyExc_ValueError, "packed weights are for inference calls, not for a training forward");

    /* 1. Conversions (they may run user code). A training forward keeps private copies. */
    PyArrayObject *x = NULL, *h0 = NULL, *c0 = NULL, *masks = NULL, *out = NULL, *hn = NULL, *cn = NULL, *saved = NULL;
    PyArrayObject *sizes = NULL;
    srnn_params params = {0}, packed = {0};
    x = save ? srnn_private_float32(args[0], "RNN input") : srnn_as_float32(args[0], "RNN input");
    if (x == NULL) goto fail;
    if (args[1] != Py_None) {
        h0 = save ? srnn_private_float32(args[1], "h0") : srnn_as_float32(args[1], "h0");
        if (h0 == NULL) goto fail;
    }
    if (c0_arg != Py_None) {
        c0 = save ? srnn_private_float32(c0_arg, "c0") : srnn_as_float32(c0_arg, "c0");
        if (c0 == NULL) goto fail;
    }
    /* The batch sizes are checked, then read again by the core: a private copy. */
    if (sizes_arg != Py_None && (sizes = srnn_private_indices(sizes_arg, "batch_sizes")) == NULL) goto fail;
    if (sizes && (PyArray_NDIM(sizes) != 1 || PyArray_SIZE(sizes) < 1)) {
        PyErr_SetString(PyExc_ValueError, "batch_sizes must be a non-empty 1-d array");
        goto fail;
    }
    if (sizes && packed_tuple) {
        PyErr_SetString(PyExc_ValueError, "packed weights are for padded batches, not with batch_sizes");
        goto fail;
    }
    const int64_t *bs = sizes ? (const int64_t *)PyArray_DATA(sizes) : NULL;
    int64_t num_steps = sizes ? (int64_t)PyArray_SIZE(sizes) : 0;
    /* 2. Module-owned arrays (no user code runs from here on). */
    if (args[4] != Py_None) {
        masks = srnn_parameter(args[4], "the dropout masks", 0);
        if (masks == NULL) goto fail;
        Py_INCREF(masks);
    }
    if (srnn_params_gather(args[2], "an RNN parameter", 0, 0, &params) < 0) goto fail;
    if (packed_tuple && srnn_params_gather(packed_tuple, "a packed RNN weight", 0, 0, &packed) < 0) goto fail;
    for (Py_ssize_t i = 0; i < packed.count; i++) {
        if (packed.shapes[i].ndim != 1) {
            PyErr_Format(PyExc_ValueError, "a packed RNN weight must be a 1-d array made by pack_weight, got %d-d",
                         (int)packed.shapes[i].ndim);
            goto fail;
        }
    }

    /* 3. Shapes, checked by the core. */
    char err[SRNN_ERR_CAP];
    srnn_rnn_plan plan;
    srnn_shape xs = srnn_shape_of(x), hs = h0 ? srnn_shape_of(h0) : (srnn_shape){0, NULL};
    srnn_shape cs = c0 ? srnn_shape_of(c0) : (srnn_shape){0, NULL};
    int32_t status = srnn_rnn_check_call(&desc, params.shapes, params.count, &xs, bs, num_steps, h0 ? &hs : NULL,
                                         c0 ? &cs : NULL, NULL, NULL, NULL, -1, masks ? (int64_t)PyArray_SIZE(masks) : -1,
                                         &plan, err, sizeof err);
    if (status != SRNN_OK) { srnn_raise(status, err); goto fail; }

    /* 4. Outputs. */
    out = srnn_new_array(plan.output_ndim, (const npy_intp *)plan.output_dims, NPY_FLOAT32, 0);
    hn = srnn_new_array(plan.state_ndim, (const npy_intp *)plan.state_dims, NPY_FLOAT32, 0);
    if (out == NULL || hn == NULL) goto fail;
    if (lstm && (cn = srnn_new_array(plan.state_ndim, (const npy_intp *)plan.cell_state_dims, NPY_FLOAT32, 0)) == NULL)
        goto fail;
    if (save) {
        saved = reusable_saved(save_arg, plan.saved_size);
        if (saved == NULL) {
            npy_intp n = (npy_intp)plan.saved_size;
            if ((saved = srnn_new_array(1, &n, NPY_FLOAT32, 0)) == NULL) goto fail;
        }
    }

    /* 5. One core call without the GIL. */
    const float *const *pp = (const float *const *)params.data;
    if (packed_tuple) {
        int64_t *sizes = PyMem_Malloc(sizeof(int64_t) * (size_t)(packed.count ? packed.count : 1));
        if (sizes == NULL) { PyErr_NoMemory(); goto fail; }
        for (Py_ssize_t i = 0; i < packed.count; i++) sizes[i] = packed.shapes[i].dims[0];  /* 1-d: checked above */
        CALL_CORE(status, srnn_recurrent_forward_packed(&desc, pp, params.count, (const float *const *)packed.data,
                                                        sizes, packed.count, data_or_null(x), plan.seq_len, plan.batch,
                                                        data_or_null(h0), data_or_null(c0), data_or_null(masks),
                                                        (float *)PyArray_DATA(out), (float *)PyArray_DATA(hn),
                                                        cn ? (float *)PyArray_DATA(cn) : NULL, err, sizeof err));
        PyMem_Free(sizes);
    } else {
        CALL_CORE(status, srnn_recurrent_forward(&desc, pp, params.count, data_or_null(x), plan.seq_len, plan.batch, bs,
                                                 data_or_null(h0), data_or_null(c0), data_or_null(masks),
                                                 (float *)PyArray_DATA(out), (float *)PyArray_DATA(hn),
                                                 cn ? (float *)PyArray_DATA(cn) : NULL,
                                                 saved ? (float *)PyArray_DATA(saved) : NULL, err, sizeof err));
    }
    if (status != SRNN_OK) { srnn_raise(status, err); goto fail; }
    srnn_params_release(&params);
    srnn_params_release(&packed);
    Py_XDECREF(sizes);  /* the Python side keeps its own batch sizes with the saved state */
    sizes = NULL;
    if (!save) {
        Py_DECREF(x);
        Py_XDECREF(h0);
        Py_XDECREF(c0);
        Py_XDECREF(masks);
        return lstm ? Py_BuildValue("(NNN)", out, hn, cn) : Py_BuildValue("(NN)", out, hn);
    }
    if (h0 == NULL) { Py_INCREF(Py_None); h0 = (PyArrayObject *)Py_None; }
    if (c0 == NULL) { Py_INCREF(Py_None); c0 = (PyArrayObject *)Py_None; }
    if (masks == NULL) { Py_INCREF(Py_None); masks = (PyArrayObject *)Py_None; }
    if (lstm) return Py_BuildValue("(NNN(NNNNN))", out, hn, cn, x, h0, masks, saved, c0);
    Py_DECREF(c0);
    return Py_BuildValue("(NN(NNNN))", out, hn, x, h0, masks, saved);

fail:
    srnn_params_release(&params);
    srnn_params_release(&packed);
    Py_XDECREF(x);
    Py_XDECREF(h0);
    Py_XDECREF(c0);
    Py_XDECREF(cn);
    Py_XDECREF(sizes);
    Py_XDECREF(masks);
    Py_XDECREF(out);
    Py_XDECREF(hn);
    Py_XDECREF(saved);
    return NULL;
}

/* Each gradient buffer (None: not wanted) shaped like its parameter. */
static int check_grads_like(const srnn_params *grads, const srnn_params *params, const char *what) {
    if (grads->count != params->count) {
        PyErr_Format(PyExc_ValueError, "expected %zd %ss, got %zd", params->count, what, grads->count);
        return -1;
    }
    for (Py_ssize_t i = 0; i < grads->count; i++) {
        const srnn_shape *g = &grads->shapes[i], *p = &params->shapes[i];
        if (g->ndim < 0) continue;
        int same = g->ndim == p->ndim;
        for (int k = 0; same && k < g->ndim; k++) same = g->dims[k] == p->dims[k];
        if (!same) {
            char want[SRNN_SHAPE_CAP], got[SRNN_SHAPE_CAP];
            srnn_format_shape((const npy_intp *)p->dims, p->ndim, want, sizeof want);
            srnn_format_shape((const npy_intp *)g->dims, g->ndim, got, sizeof got);
            PyErr_Format(PyExc_ValueError, "expected %s %zd of shape %s, got %s", what, i, want, got);
            return -1;
        }
    }
    return 0;
}

/*
 * rnn_backward(x, h0 or None, params, desc, masks or None, saved, grad_output, grad_hn or None, grads
 *              [, c0 or None, grad_cn or None[, batch_sizes]]) -> (grad_input, grad_h0), or for an LSTM
 *              (grad_input, grad_h0, grad_c0); with batch_sizes, x, grad_output and grad_input are packed rows.
 * x, h0, masks, saved: what the training forward returned. grads: a tuple with one writable float32 array
 * (shaped like its parameter) or None per parameter, accumulated into.
 */
static PyObject *rnn_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 9 && nargs != 11 && nargs != 12)
        return PyErr_Format(PyExc_TypeError, "rnn_backward takes 9, 11 or 12 arguments, got %zd", nargs);
    srnn_rnn_desc desc;
    if (parse_rnn_desc(args[3], &desc) < 0) return NULL;
    int lstm = desc.cell == SRNN_CELL_LSTM;
    PyObject *c0_arg = nargs >= 11 ? args[9] : Py_None, *gcn_arg = nargs >= 11 ? args[10] : Py_None;
    PyObject *sizes_arg = nargs == 12 ? args[11] : Py_None;
    PyArrayObject *gout = NULL, *ghn = NULL, *gcn = NULL, *gin = NULL, *gh0 = NULL, *gc0 = NULL, *sizes = NULL;
    srnn_params params = {0}, grads = {0};
    /* 1. Conversions. */
    if ((gout = srnn_as_float32(args[6], "grad_output")) == NULL) goto fail;
    if (args[7] != Py_None && (ghn = srnn_as_float32(args[7], "grad_hn")) == NULL) goto fail;
    if (gcn_arg != Py_None && (gcn = srnn_as_float32(gcn_arg, "grad_cn")) == NULL) goto fail;
    if (sizes_arg != Py_None && (sizes = srnn_private_indices(sizes_arg, "batch_sizes")) == NULL) goto fail;
    if (sizes && (PyArray_NDIM(sizes) != 1 || PyArray_SIZE(sizes) < 1)) {
        PyErr_SetString(PyExc_ValueError, "batch_sizes must be a non-empty 1-d array");
        goto fail;
    }
    const int64_t *bs = sizes ? (const int64_t *)PyArray_DATA(sizes) : NULL;
    int64_t num_steps = sizes ? (int64_t)PyArray_SIZE(sizes) : 0;
    /* 2. The forward's own arrays and the module's. */
    PyArrayObject *x = srnn_parameter(args[0], "the saved RNN input", 0), *h0 = NULL, *masks = NULL, *saved;
    if (x == NULL) goto fail;
    if (args[1] != Py_None && (h0 = srnn_parameter(args[1], "the saved h0", 0)) == NULL) goto fail;
    if (args[4] != Py_None && (masks = srnn_parameter(args[4], "the saved dropout masks", 0)) == NULL) goto fail;
    if ((saved = srnn_parameter(args[5], "the saved layer outputs", 0)) == NULL) goto fail;
    PyArrayObject *c0 = NULL;
    if (c0_arg != Py_None && (c0 = srnn_parameter(c0_arg, "the saved c0", 0)) == NULL) goto fail;
    if (srnn_params_gather(args[2], "an RNN parameter", 0, 0, &params) < 0) goto fail;
    if (srnn_params_gather(args[8], "an RNN parameter gradient", 1, 1, &grads) < 0) goto fail;
    if (check_grads_like(&grads, &params, "RNN parameter gradient") < 0) goto fail;
    /* 3. Shapes. */
    char err[SRNN_ERR_CAP];
    srnn_rnn_plan plan;
    srnn_shape xs = srnn_shape_of(x), hs = h0 ? srnn_shape_of(h0) : (srnn_shape){0, NULL};
    srnn_shape gos = srnn_shape_of(gout), ghs = ghn ? srnn_shape_of(ghn) : (srnn_shape){0, NULL};
    srnn_shape cs = c0 ? srnn_shape_of(c0) : (srnn_shape){0, NULL}, gcs = gcn ? srnn_shape_of(gcn) : (srnn_shape){0, NULL};
    int32_t status = srnn_rnn_check_call(&desc, params.shapes, params.count, &xs, bs, num_steps, h0 ? &hs : NULL,
                                         c0 ? &cs : NULL, &gos, ghn ? &ghs : NULL, gcn ? &gcs : NULL,
                                         (int64_t)PyArray_SIZE(saved), masks ? (int64_t)PyArray_SIZE(masks) : -1, &plan,
                                         err, sizeof err);
    if (status != SRNN_OK) { srnn_raise(status, err); goto fail; }
    /* 4. Outputs. */
    gin = srnn_new_array(PyArray_NDIM(x), PyArray_DIMS(x), NPY_FLOAT32, 1);
    gh0 = srnn_new_array(plan.state_ndim, (const npy_intp *)plan.state_dims, NPY_FLOAT32, 1);
    if (gin == NULL || gh0 == NULL) goto fail;
    if (lstm && (gc0 = srnn_new_array(plan.state_ndim, (const npy_intp *)plan.cell_state_dims, NPY_FLOAT32, 1)) == NULL)
        goto fail;
    /* 5. The core. */
    CALL_CORE(status, srnn_recurrent_backward(&desc, (const float *const *)params.data, params.count, data_or_null(x),
                                              plan.seq_len, plan.batch, bs, data_or_null(h0), data_or_null(c0),
                                              data_or_null(masks), data_or_null(saved), data_or_null(gout),
                                              data_or_null(ghn), data_or_null(gcn), grads.data,
                                              (float *)PyArray_DATA(gin), (float *)PyArray_DATA(gh0),
                                              gc0 ? (float *)PyArray_DATA(gc0) : NULL, err, sizeof err));
    if (status != SRNN_OK) { srnn_raise(status, err); goto fail; }
    srnn_params_release(&params);
    srnn_params_release(&grads);
    Py_DECREF(gout);
    Py_XDECREF(ghn);
    Py_XDECREF(gcn);
    Py_XDECREF(sizes);
    return lstm ? Py_BuildValue("(NNN)", gin, gh0, gc0) : Py_BuildValue("(NN)", gin, gh0);

fail:
    srnn_params_release(&params);
    srnn_params_release(&grads);
    Py_XDECREF(gout);
    Py_XDECREF(ghn);
    Py_XDECREF(gcn);
    Py_XDECREF(sizes);
    Py_XDECREF(gin);
    Py_XDECREF(gh0);
    Py_XDECREF(gc0);
    return NULL;
}

PyMethodDef srnn_rnn_methods[] = {
    {"rnn_forward", FASTCALL(rnn_forward),
     "rnn_forward(x, h0, params, desc, dropout_masks[, save[, packed[, c0[, batch_sizes]]]]) -> (output, hn) (an LSTM: "
     "(output, hn, cn)), "
     "with a true save also (x, h0, masks, saved[, c0]) for rnn_backward"},
    {"rnn_backward", FASTCALL(rnn_backward),
     "rnn_backward(x, h0, params, desc, masks, saved, grad_output, grad_hn, grads[, c0, grad_cn[, batch_sizes]]) -> "
     "(grad_input, grad_h0[, grad_c0])"},
    {NULL, NULL, 0, NULL},
};
