/* nn.Linear: forward (plain or with a packed weight), the packing, and backward. */
#include "args.h"

/* pack_weight(weight) -> 1-d float32 array: the packing of a (rows, cols) weight for the *_packed calls */
static PyObject *pack_weight(PyObject *self, PyObject *arg) {
    PyArrayObject *weight = srnn_parameter(arg, "the weight to pack", 0);
    if (weight == NULL) return NULL;
    if (PyArray_NDIM(weight) != 2)
        return PyErr_Format(PyExc_ValueError, "pack_weight expects a 2-d weight (out, in), got %d-d", PyArray_NDIM(weight));
    int64_t rows = PyArray_DIM(weight, 0), cols = PyArray_DIM(weight, 1);
    npy_intp size = (npy_intp)srnn_packed_weight_size(rows, cols);
    if (size < 0) return PyErr_Format(PyExc_OverflowError, "the packing of a (%lld, %lld) weight overflows",
                                      (long long)rows, (long long)cols);
    PyArrayObject *packed = (PyArrayObject *)srnn_new_array(1, &size, NPY_FLOAT32, 0);
    if (packed == NULL) return NULL;
    char err[SRNN_ERR_CAP];
    int32_t status;
    CALL_CORE(status, srnn_pack_weight((const float *)PyArray_DATA(weight), rows, cols, (float *)PyArray_DATA(packed),
                                       (int64_t)size, err, sizeof err));
    if (status != SRNN_OK) { Py_DECREF(packed); return srnn_raise(status, err); }
    return (PyObject *)packed;
}

/* A packed weight argument: a float32 array (its size is checked by the core against the weight's). */
static PyArrayObject *packed_argument(PyObject *obj, const char *what) {
    PyArrayObject *a = srnn_parameter(obj, what, 0);
    if (a != NULL && PyArray_NDIM(a) != 1) {
        PyErr_Format(PyExc_ValueError, "%s must be a 1-d array made by pack_weight, got %d-d", what, PyArray_NDIM(a));
        return NULL;
    }
    return a;
}

/* linear_forward(x, weight, bias or None[, packed weight or None[, save]]) -> (*x.shape[:-1], out_features)
 * With a true `save` (a training forward): (output, x as a private float32 array), what backward needs. */
static PyObject *linear_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 3 || nargs > 6)
        return PyErr_Format(PyExc_TypeError, "linear_forward takes 3 to 6 arguments, got %zd", nargs);
    /* 1. Conversions (they may run user code). */
    int32_t save = 0;
    int64_t softmax = 0;
    if (nargs >= 5 && srnn_arg_flag(args[4], &save) < 0) return NULL;
    if (nargs == 6 && srnn_arg_int64(args[5], &softmax) < 0) return NULL;
    if (softmax < 0 || softmax > 2)
        return PyErr_Format(PyExc_ValueError, "softmax must be 0 (none), 1 (softmax) or 2 (log_softmax), got %lld",
                            (long long)softmax);
    if (softmax && save)
        return PyErr_Format(PyExc_ValueError, "a softmax after the Linear is for inference calls, not a training forward");
    PyArrayObject *x = save ? srnn_private_float32(args[0], "Linear input") : srnn_as_float32(args[0], "Linear input");
    if (x == NULL) return NULL;
    /* 2. The module's arrays, then shapes. */
    PyArrayObject *out = NULL, *packed = NULL, *bias = NULL;
    if (nargs >= 4 && args[3] != Py_None && (packed = packed_argument(args[3], "the packed Linear weight")) == NULL)
        goto fail;
    PyArrayObject *weight = srnn_parameter(args[1], "Linear.weight", 0);
    if (weight == NULL) goto fail;
    if (PyArray_NDIM(weight) != 2) { PyErr_Format(PyExc_ValueError, "Linear.weight must be 2-d"); goto fail; }
    npy_intp out_f = PyArray_DIM(weight, 0), in_f = PyArray_DIM(weight, 1);
    if (args[2] != Py_None) {
        if ((bias = srnn_parameter(args[2], "Linear.bias", 0)) == NULL) goto fail;
        if (PyArray_NDIM(bias) != 1 || PyArray_DIM(bias, 0) != out_f) {
            PyErr_Format(PyExc_ValueError, "Linear.bias must have shape (%zd,)", (Py_ssize_t)out_f);
            goto fail;
        }
    }
    int nd = PyArray_NDIM(x);
    if (nd == 0 || PyArray_DIM(x, nd - 1) != in_f) {
        char got[SRNN_SHAPE_CAP];
        srnn_format_shape(PyArray_DIMS(x), nd, got, sizeof got);
        PyErr_Format(PyExc_ValueError, "Linear(in_features=%zd, out_features=%zd) expects input of shape (*, %zd), got %s",
                     (Py_ssize_t)in_f, (Py_ssize_t)out_f, (Py_ssize_t)in_f, got);
        goto fail;
    }
    npy_intp dims[NPY_MAXDIMS];
    npy_intp m = 1;
    for (int i = 0; i < nd - 1; i++) {
        dims[i] = PyArray_DIM(x, i);
        if (__builtin_mul_overflow(m, dims[i], &m)) {
            PyErr_Format(PyExc_OverflowError, "the Linear input's leading dimensions overflow 64 bits");
            goto fail;
        }
    }
    dims[nd - 1] = out_f;
    /* 3. Output, and the core. */
    if ((out = srnn_new_array(nd, dims, NPY_FLOAT32, 0)) == NULL) goto fail;
    char err[SRNN_ERR_CAP];
    int32_t status;
    const float *b = bias ? (const float *)PyArray_DATA(bias) : NULL;
    if (softmax) {
        CALL_CORE(status, srnn_linear_softmax_forward((const float *)PyArray_DATA(x), m, in_f,
                                                      (const float *)PyArray_DATA(weight),
                                                      packed ? (const float *)PyArray_DATA(packed) : NULL,
                                                      packed ? (int64_t)PyArray_SIZE(packed) : 0, b, out_f, softmax == 2,
                                                      (float *)PyArray_DATA(out), err, sizeof err));
    } else if (packed) {
        CALL_CORE(status, srnn_linear_forward_packed((const float *)PyArray_DATA(x), m, in_f,
                                                     (const float *)PyArray_DATA(packed), (int64_t)PyArray_SIZE(packed),
                                                     b, out_f, (float *)PyArray_DATA(out), err, sizeof err));
    } else {
        CALL_CORE(status, srnn_linear_forward((const float *)PyArray_DATA(x), m, in_f, (const float *)PyArray_DATA(weight),
                                              b, out_f, (float *)PyArray_DATA(out), err, sizeof err));
    }
    if (status != SRNN_OK) { srnn_raise(status, err); goto fail; }
    if (save) return Py_BuildValue("(NN)", out, x);
    Py_DECREF(x);
    return (PyObject *)out;

fail:
    Py_XDECREF(x);
    Py_XDECREF(out);
    return NULL;
}

/*
 * linear_backward(x, grad_out, weight, grad_weight or None, grad_bias or None, want_grad_input) -> grad_input or None
 * x: the saved float32 input (*, in); grad_out: (*, out); the gradient buffers are accumulated into.
 */
static PyObject *linear_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    CHECK_NARGS("linear_backward", 6);
    /* 1. Conversions. */
    int32_t want_input;
    if (srnn_arg_flag(args[5], &want_input) < 0) return NULL;
    PyArrayObject *gout = srnn_as_float32(args[1], "grad_output"), *gin = NULL;
    if (gout == NULL) return NULL;
    /* 2. The saved input and the module's arrays, then shapes. */
    PyArrayObject *x = srnn_parameter(args[0], "the saved Linear input", 0);
    PyArrayObject *weight = x ? srnn_parameter(args[2], "Linear.weight", 0) : NULL;
    if (weight == NULL) goto fail;
    if (PyArray_NDIM(weight) != 2 || PyArray_NDIM(x) < 1 || PyArray_DIM(x, PyArray_NDIM(x) - 1) != PyArray_DIM(weight, 1)) {
        PyErr_Format(PyExc_ValueError, "the saved Linear input does not fit the weight");
        goto fail;
    }
    npy_intp out_f = PyArray_DIM(weight, 0), in_f = PyArray_DIM(weight, 1);
    int nd = PyArray_NDIM(x);
    npy_intp odims[NPY_MAXDIMS];
    npy_intp m = 1;
    for (int i = 0; i < nd - 1; i++) { odims[i] = PyArray_DIM(x, i); m *= odims[i]; }
    odims[nd - 1] = out_f;
    PyArrayObject *gw = NULL, *gb = NULL;
    if (args[3] != Py_None && (gw = srnn_grad_buffer(args[3], "the weight gradient", PyArray_DIMS(weight), 2)) == NULL)
        goto fail;
    npy_intp bdims[1] = {out_f};
    if (args[4] != Py_None && (gb = srnn_grad_buffer(args[4], "the bias gradient", bdims, 1)) == NULL) goto fail;
    if (!srnn_same_shape(gout, odims, nd)) { srnn_shape_error("grad_output", odims, nd, gout); goto fail; }
    /* 3. Output and the core. */
    if (want_input && (gin = srnn_new_array(nd, PyArray_DIMS(x), NPY_FLOAT32, 1)) == NULL) goto fail;
    char err[SRNN_ERR_CAP];
    int32_t status;
    CALL_CORE(status, srnn_linear_backward((const float *)PyArray_DATA(x), (const float *)PyArray_DATA(gout), m, in_f,
                                           (const float *)PyArray_DATA(weight), out_f,
                                           gin ? (float *)PyArray_DATA(gin) : NULL,
                                           gw ? (float *)PyArray_DATA(gw) : NULL,
                                           gb ? (float *)PyArray_DATA(gb) : NULL, err, sizeof err));
    if (status != SRNN_OK) { srnn_raise(status, err); goto fail; }
    Py_DECREF(gout);
    if (gin == NULL) Py_RETURN_NONE;
    return (PyObject *)gin;

fail:
    Py_DECREF(gout);
    Py_XDECREF(gin);
    return NULL;
}

PyMethodDef srnn_linear_methods[] = {
    {"pack_weight", pack_weight, METH_O,
     "pack_weight(weight) -> 1-d float32 array: a (out, in) weight packed for linear_forward / rnn_forward's `packed`"},
    {"linear_forward", FASTCALL(linear_forward),
     "linear_forward(x, weight, bias[, packed[, save[, softmax]]]) -> array (*, out_features), or with a true save "
     "(array, private float32 copy of x) for linear_backward; softmax 1 or 2: the softmax or log_softmax of each "
     "output row, fused (inference)"},
    {"linear_backward", FASTCALL(linear_backward),
     "linear_backward(x, grad_out, weight, grad_weight, grad_bias, want_grad_input) -> grad_input or None"},
    {NULL, NULL, 0, NULL},
};
