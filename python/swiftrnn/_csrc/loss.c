/* softmax / log_softmax, cross-entropy (forward and backward) and sampling the next token from logits. */
#include "args.h"

/* softmax(x, dim, log) -> array shaped like x */
static PyObject *softmax(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) return PyErr_Format(PyExc_TypeError, "softmax takes 3 arguments, got %zd", nargs);
    int overflow = 0;
    long long dim = PyLong_AsLongLongAndOverflow(args[1], &overflow);
    if (dim == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return PyErr_Format(PyExc_TypeError, "dim must be an int, got %s", Py_TYPE(args[1])->tp_name);
    }
    int log = PyObject_IsTrue(args[2]);
    if (log < 0) return NULL;
    PyArrayObject *x = srnn_as_float32(args[0], log ? "log_softmax input" : "softmax input");
    if (x == NULL) return NULL;
    int nd = PyArray_NDIM(x);
    int span = nd == 0 ? 1 : nd; /* a 0-d input takes dim 0 or -1, as in torch */
    if (overflow || dim < -span || dim >= span) {
        Py_DECREF(x);
        return PyErr_Format(PyExc_IndexError, "dim %R is out of range for a %d-d input (expected %d to %d)",
                            args[1], nd, -span, span - 1);
    }
    if (dim < 0) dim += span;
    int64_t outer = 1, d = 1, inner = 1;
    for (int i = 0; i < nd; i++) {
        if (i < dim) outer *= PyArray_DIM(x, i);
        else if (i == dim) d = PyArray_DIM(x, i);
        else inner *= PyArray_DIM(x, i);
    }
    PyArrayObject *out = (PyArrayObject *)srnn_new_array(nd, PyArray_DIMS(x), NPY_FLOAT32, 0);
    if (out == NULL) { Py_DECREF(x); return NULL; }
    char err[SRNN_ERR_CAP];
    int32_t status;
    CALL_CORE(status, srnn_softmax((const float *)PyArray_DATA(x), outer, d, inner, log,
                                   (float *)PyArray_DATA(out), err, sizeof err));
    Py_DECREF(x);
    if (status != SRNN_OK) { Py_DECREF(out); return srnn_raise(status, err); }
    return (PyObject *)out;
}

/* The (outer, classes, inner) view of logits (ndim >= 1, classes on axis 1, or 0 for 1-d logits) and the
 * shape the targets must have (logits' shape without the class axis). */
static void class_view(PyArrayObject *logits, int64_t *outer, int64_t *classes, int64_t *inner,
                       npy_intp *tdims, int *tnd) {
    int nd = PyArray_NDIM(logits), cdim = nd == 1 ? 0 : 1;
    *outer = 1; *inner = 1; *tnd = 0;
    for (int i = 0; i < nd; i++) {
        if (i < cdim) *outer *= PyArray_DIM(logits, i);
        else if (i > cdim) *inner *= PyArray_DIM(logits, i);
        if (i != cdim) tdims[(*tnd)++] = PyArray_DIM(logits, i);
    }
    *classes = PyArray_DIM(logits, cdim);
}

/*
 * cross_entropy_forward(logits, target, weight or None, ignore_index, reduction, label_smoothing, want_probs)
 *   -> (loss, probs or None, target, weight or None)
 * logits: (C,), (N, C) or (N, C, d1, ...); target: class indices of shape (), (N,) or (N, d1, ...).
 * loss: a 0-d array for reduction mean/sum (1, 2), the target's shape for none (0). The last two are the
 * normalised int64 / float32 arrays the backward takes (copies, never the caller's arrays).
 */
static PyObject *cross_entropy_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    CHECK_NARGS("cross_entropy_forward", 7);
    /* 1. Conversions, all before any shape is read (each may run user code). */
    int64_t ignore_index, r;
    int32_t want_probs;
    double smoothing;
    if (srnn_arg_int64(args[3], &ignore_index) < 0 || srnn_arg_int64(args[4], &r) < 0 ||
        srnn_arg_double(args[5], &smoothing) < 0 || srnn_arg_flag(args[6], &want_probs) < 0)
        return NULL;
    if (r < INT32_MIN || r > INT32_MAX) return PyErr_Format(PyExc_ValueError, "unknown reduction code %lld", (long long)r);
    int32_t reduction = (int32_t)r;
    PyArrayObject *logits = NULL, *target = NULL, *weight = NULL, *loss = NULL, *probs = NULL;
    if ((logits = srnn_as_float32(args[0], "cross_entropy input")) == NULL) goto fail;
    /* A private copy of the targets: the core checks every class index, then reads them again (and the
     * backward reads them later still); the caller's array may change meanwhile. */
    if ((target = srnn_private_indices(args[1], "cross_entropy target (class indices)")) == NULL) goto fail;
    if (args[2] != Py_None && (weight = srnn_private_float32(args[2], "the class weight")) == NULL) goto fail;
    /* 2. Shapes. */
    int nd = PyArray_NDIM(logits);
    if (nd == 0) {
        PyErr_SetString(PyExc_ValueError, "cross_entropy expects input of shape (C,), (N, C) or (N, C, d1, ...), got a 0-d array");
        goto fail;
    }
    int64_t outer, classes, inner;
    npy_intp tdims[NPY_MAXDIMS];
    int tnd;
    class_view(logits, &outer, &classes, &inner, tdims, &tnd);
    if (!srnn_same_shape(target, tdims, tnd)) {
        char w[SRNN_SHAPE_CAP], g[SRNN_SHAPE_CAP], in[SRNN_SHAPE_CAP];
        srnn_format_shape(tdims, tnd, w, sizeof w);
        srnn_format_shape(PyArray_DIMS(target), PyArray_NDIM(target), g, sizeof g);
        srnn_format_shape(PyArray_DIMS(logits), nd, in, sizeof in);
        PyErr_Format(PyExc_ValueError, "expected target of shape %s for input of shape %s, got %s", w, in, g);
        goto fail;
    }
    npy_intp wdims[1] = {(npy_intp)classes};
    if (weight && !srnn_same_shape(weight, wdims, 1)) { srnn_shape_error("the class weight", wdims, 1, weight); goto fail; }
    /* 3. Outputs and the core. */
    loss = srnn_new_array(reduction == SRNN_REDUCTION_NONE ? tnd : 0, tdims, NPY_FLOAT32, 0);
    if (loss == NULL) goto fail;
    if (want_probs && (probs = srnn_new_array(nd, PyArray_DIMS(logits), NPY_FLOAT32, 0)) == NULL) goto fail;
    char err[SRNN_ERR_CAP];
    int32_t status;
    CALL_CORE(status, srnn_cross_entropy_forward((const float *)PyArray_DATA(logits), outer, classes, inner,
                                                 (const int64_t *)PyArray_DATA(target),
                                                 weight ? (const float *)PyArray_DATA(weight) : NULL, ignore_index,
                                                 reduction, smoothing, (float *)PyArray_DATA(loss),
                                                 probs ? (float *)PyArray_DATA(probs) : NULL, err, sizeof err));
    if (status != SRNN_OK) { srnn_raise(status, err); goto fail; }
    Py_DECREF(logits);
    if (probs == NULL) { Py_INCREF(Py_None); probs = (PyArrayObject *)Py_None; }
    if (weight == NULL) { Py_INCREF(Py_None); weight = (PyArrayObject *)Py_None; }
    return Py_BuildValue("(NNNN)", loss, probs, target, weight);

fail:
    Py_XDECREF(logits);
    Py_XDECREF(target);
    Py_XDECREF(weight);
    Py_XDECREF(loss);
    Py_XDECREF(probs);
    return NULL;
}

/*
 * cross_entropy_backward(probs, target, weight or None, ignore_index, reduction, label_smoothing, grad_loss)
 *   -> grad w.r.t. the logits (shaped like probs)
 * probs, target, weight: what the forward returned; grad_loss: a scalar for mean/sum, shaped like target for
 * none. probs is turned into the gradient in place and returned (the caller's saved state ends here).
 */
static PyObject *cross_entropy_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    CHECK_NARGS("cross_entropy_backward", 7);
    /* 1. Conversions first. */
    int64_t ignore_index, r;
    double smoothing;
    if (srnn_arg_int64(args[3], &ignore_index) < 0 || srnn_arg_int64(args[4], &r) < 0 ||
        srnn_arg_double(args[5], &smoothing) < 0)
        return NULL;
    if (r < INT32_MIN || r > INT32_MAX) return PyErr_Format(PyExc_ValueError, "unknown reduction code %lld", (long long)r);
    PyArrayObject *gl = srnn_as_float32(args[6], "the loss gradient");
    if (gl == NULL) return NULL;
    /* 2. What the forward returned, then shapes. */
    PyObject *result = NULL;
    PyArrayObject *probs = srnn_parameter(args[0], "the saved probabilities", 1);
    if (probs == NULL) goto done;
    if (!PyArray_Check(args[1]) || PyArray_TYPE((PyArrayObject *)args[1]) != NPY_INT64 ||
        !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)args[1])) {
        PyErr_Format(PyExc_TypeError, "the saved targets must be a C-contiguous int64 array");
        goto done;
    }
    PyArrayObject *target = (PyArrayObject *)args[1];
    if (PyArray_NDIM(probs) == 0) { PyErr_Format(PyExc_ValueError, "the saved probabilities must have a class axis"); goto done; }
    int64_t outer, classes, inner;
    npy_intp tdims[NPY_MAXDIMS];
    int tnd;
    class_view(probs, &outer, &classes, &inner, tdims, &tnd);
    if (!srnn_same_shape(target, tdims, tnd)) { PyErr_Format(PyExc_ValueError, "the saved targets do not fit the input"); goto done; }
    PyArrayObject *weight = NULL;
    if (args[2] != Py_None) {
        if ((weight = srnn_parameter(args[2], "the class weight", 0)) == NULL) goto done;
        if (PyArray_SIZE(weight) != classes) { PyErr_Format(PyExc_ValueError, "the class weight does not fit the input"); goto done; }
    }
    int none = r == SRNN_REDUCTION_NONE;
    if (none ? !srnn_same_shape(gl, tdims, tnd) : PyArray_SIZE(gl) != 1) {
        srnn_shape_error("the loss gradient", tdims, none ? tnd : 0, gl);
        goto done;
    }
    /* 3. The core, in place. */
    char err[SRNN_ERR_CAP];
    int32_t status;
    CALL_CORE(status, srnn_cross_entropy_backward_in_place((float *)PyArray_DATA(probs), outer, classes, inner,
                                                           (const int64_t *)PyArray_DATA(target),
                                                           weight ? (const float *)PyArray_DATA(weight) : NULL,
                                                           ignore_index, (int32_t)r, smoothing,
                                                           (const float *)PyArray_DATA(gl), err, sizeof err));
    if (status != SRNN_OK) { srnn_raise(status, err); goto done; }
    Py_INCREF(probs);
    result = (PyObject *)probs;
done:
    Py_DECREF(gl);
    return result;
}

/* sample(logits, greedy, temperature, top_k or None, top_p or None, uniform) -> int: the next token (srnn_sample) */
static PyObject *sample(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    CHECK_NARGS("sample", 6);
    int32_t greedy;
    double temperature, top_p = 1.0, uniform;
    int64_t top_k = 0;
    if (srnn_arg_flag(args[1], &greedy) < 0 || srnn_arg_double(args[2], &temperature) < 0 ||
        (args[3] != Py_None && srnn_arg_int64(args[3], &top_k) < 0) ||
        (args[4] != Py_None && srnn_arg_double(args[4], &top_p) < 0) || srnn_arg_double(args[5], &uniform) < 0)
        return NULL;
    if (args[3] != Py_None && top_k < 1) return PyErr_Format(PyExc_ValueError, "top_k must be at least 1, got %lld", (long long)top_k);
    PyArrayObject *logits = srnn_as_float32(args[0], "logits");
    if (logits == NULL) return NULL;
    char err[SRNN_ERR_CAP];
    int64_t index = -1;
    /* A few microseconds for a vocabulary's row: the GIL stays. */
    int32_t status = srnn_sample((const float *)PyArray_DATA(logits), (int64_t)PyArray_SIZE(logits), greedy, temperature,
                                 top_k, top_p, uniform, &index, err, sizeof err);
    Py_DECREF(logits);
    if (status != SRNN_OK) return srnn_raise(status, err);
    return PyLong_FromLongLong((long long)index);
}

PyMethodDef srnn_loss_methods[] = {
    {"softmax", FASTCALL(softmax), "softmax(x, dim, log) -> array shaped like x"},
    {"cross_entropy_forward", FASTCALL(cross_entropy_forward),
     "cross_entropy_forward(logits, target, weight, ignore_index, reduction, label_smoothing, want_probs)"
     " -> (loss, probs, target, weight)"},
    {"cross_entropy_backward", FASTCALL(cross_entropy_backward),
     "cross_entropy_backward(probs, target, weight, ignore_index, reduction, label_smoothing, grad_loss) -> grad"},
    {"sample", FASTCALL(sample),
     "sample(logits, greedy, temperature, top_k, top_p, uniform) -> the next token's index (logits flattened)"},
    {NULL, NULL, 0, NULL},
};
