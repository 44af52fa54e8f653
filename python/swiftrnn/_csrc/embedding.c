/* nn.Embedding: lookup (with max_norm) and backward. Convert, check, call the core once (without the GIL for
 * large lookups), map status codes. */
#include "args.h"

/* Lookups that copy at most this many floats (256 KB) keep the GIL: they take a few microseconds, less
 * than what releasing and re-taking the GIL can cost once other threads wait for it (each release lets
 * a waiting thread run until its next switch interval before this one gets the GIL back). Larger ones
 * release it around the copy. */
#define EMBEDDING_GIL_FLOATS ((npy_intp)1 << 16)

/* Whether `obj` is what srnn_as_indices would hand back unchanged: an exact ndarray of native-byte-order
 * int64, C-contiguous and aligned. The common case of a lookup; it skips NumPy's conversion machinery. */
static int plain_int64_array(PyObject *obj) {
    if (!PyArray_CheckExact(obj)) return 0;
    PyArrayObject *a = (PyArrayObject *)obj;
    return PyArray_TYPE(a) == NPY_INT64 && PyArray_ISNOTSWAPPED(a) && PyArray_IS_C_CONTIGUOUS(a) &&
           PyArray_ISALIGNED(a);
}

/* A new reference to `obj` as C-contiguous int64 indices (srnn_as_indices' rules and errors). With
 * `private_copy`, the array never shares memory with obj (a training forward saves it for backward, so a
 * later change to the caller's array must not reach it). */
static PyArrayObject *embedding_indices(PyObject *obj, int private_copy) {
    if (plain_int64_array(obj)) {
        PyArrayObject *a = (PyArrayObject *)obj;
        if (!private_copy) {
            Py_INCREF(a);
            return a;
        }
        PyArrayObject *c = (PyArrayObject *)PyArray_SimpleNew(PyArray_NDIM(a), PyArray_DIMS(a), NPY_INT64);
        if (c != NULL) memcpy(PyArray_DATA(c), PyArray_DATA(a), (size_t)PyArray_NBYTES(a));
        return c;
    }
    PyArrayObject *a = srnn_as_indices(obj, "Embedding indices");
    if (a == NULL || !private_copy) return a;
    /* A fresh array NumPy made in the conversion (owning its data, no base) is already private. */
    if ((PyObject *)a != obj && PyArray_BASE(a) == NULL && PyArray_CHKFLAGS(a, NPY_ARRAY_OWNDATA)) return a;
    PyArrayObject *c = (PyArrayObject *)PyArray_NewCopy(a, NPY_CORDER);
    Py_DECREF(a);
    return c;
}

/* embedding_forward(weight, indices, max_norm or None, norm_type[, save]) -> (*indices.shape, dim)
 * With a true `save` (a training forward): (output, the indices as a private int64 array), the indices
 * being what backward needs. Without it, large lookups read the caller's index array without the GIL: the
 * core reads each index once (checks the value it copies with), so another thread changing the array
 * meanwhile can change the rows looked up but never make a read go out of bounds. */
static PyObject *embedding_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 && nargs != 5)
        return PyErr_Format(PyExc_TypeError, "embedding_forward takes 4 or 5 arguments, got %zd", nargs);
    /* 1. Conversions, every one before the weight is looked at (each may run user code). */
    int32_t save = 0;
    if (nargs == 5 && srnn_arg_flag(args[4], &save) < 0) return NULL;
    double max_norm = -1.0, norm_type;
    if (srnn_arg_double(args[3], &norm_type) < 0) return NULL;
    if (args[2] != Py_None && srnn_arg_double(args[2], &max_norm) < 0) return NULL;
    PyArrayObject *idx = embedding_indices(args[1], save);
    if (idx == NULL) return NULL;
    /* 2. The module's weight. Only max_norm writes into it: a read-only weight is fine without it. */
    PyArrayObject *weight = srnn_parameter(args[0], "Embedding.weight", max_norm >= 0);
    if (weight == NULL) goto fail;
    if (PyArray_NDIM(weight) != 2) {
        PyErr_Format(PyExc_ValueError, "Embedding.weight must be 2-d");
        goto fail;
    }

    npy_intp rows = PyArray_DIM(weight, 0), dim = PyArray_DIM(weight, 1);
    int nd = PyArray_NDIM(idx);
    npy_intp out_dims[NPY_MAXDIMS + 1];
    if (nd + 1 > NPY_MAXDIMS) {
        PyErr_Format(PyExc_ValueError, "indices have %d dimensions; at most %d are supported", nd, NPY_MAXDIMS - 1);
        goto fail;
    }
    for (int i = 0; i < nd; i++) out_dims[i] = PyArray_DIM(idx, i);
    out_dims[nd] = dim;
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(nd + 1, out_dims, NPY_FLOAT32);
    if (out == NULL) goto fail;

    char err[SRNN_ERR_CAP];
    int32_t status;
    float *w = (float *)PyArray_DATA(weight);
    const int64_t *ip = (const int64_t *)PyArray_DATA(idx);
    float *op = (float *)PyArray_DATA(out);
    npy_intp n = PyArray_SIZE(idx);
    /* max_norm rewrites rows of the shared weight: keep the GIL so threads never race on it. A small
     * lookup keeps it too (see EMBEDDING_GIL_FLOATS); PyArray_SIZE(out) cannot overflow, NumPy made it. */
    if (max_norm >= 0 || PyArray_SIZE(out) <= EMBEDDING_GIL_FLOATS) {
        status = srnn_embedding_forward(w, rows, dim, ip, n, max_norm, norm_type, op, err, sizeof err);
    } else {
        CALL_CORE(status, srnn_embedding_forward(w, rows, dim, ip, n, max_norm, norm_type, op, err, sizeof err));
    }
    if (status != SRNN_OK) {
        Py_DECREF(out);
        srnn_raise(status, err);
        goto fail;
    }
    if (save) {
        PyObject *pair = PyTuple_New(2);
        if (pair == NULL) {
            Py_DECREF(out);
            goto fail;
        }
        PyTuple_SET_ITEM(pair, 0, (PyObject *)out); /* the tuple takes both references */
        PyTuple_SET_ITEM(pair, 1, (PyObject *)idx);
        return pair;
    }
    Py_DECREF(idx);
    return (PyObject *)out;

fail:
    Py_XDECREF(idx);
    return NULL;
}

/*
 * embedding_backward(indices, grad_out, grad_weight, padding_idx or None, scale_grad_by_freq) -> None
 * indices: the saved int64 indices; grad_out: (*indices.shape, dim); grad_weight accumulated into.
 */
static PyObject *embedding_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    CHECK_NARGS("embedding_backward", 5);
    /* 1. Conversions first (each may run user code). */
    int64_t padding = -1;
    int32_t scale;
    if (args[3] != Py_None && srnn_arg_int64(args[3], &padding) < 0) return NULL;
    if (srnn_arg_flag(args[4], &scale) < 0) return NULL;
    PyArrayObject *gout = srnn_as_float32(args[1], "grad_output");
    if (gout == NULL) return NULL;
    /* 2. The saved indices and the module's gradient buffer; then shapes. */
    PyObject *result = NULL;
    if (!PyArray_Check(args[0]) || PyArray_TYPE((PyArrayObject *)args[0]) != NPY_INT64 ||
        !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)args[0])) {
        PyErr_Format(PyExc_TypeError, "the saved Embedding indices must be a C-contiguous int64 array");
        goto done;
    }
    PyArrayObject *idx = (PyArrayObject *)args[0];
    PyArrayObject *gw = srnn_parameter(args[2], "the weight gradient", 1);
    if (gw == NULL) goto done;
    if (PyArray_NDIM(gw) != 2) { PyErr_Format(PyExc_ValueError, "the weight gradient must be 2-d"); goto done; }
    int nd = PyArray_NDIM(idx);
    if (nd + 1 > NPY_MAXDIMS) { PyErr_Format(PyExc_ValueError, "too many index dimensions"); goto done; }
    npy_intp odims[NPY_MAXDIMS];
    for (int i = 0; i < nd; i++) odims[i] = PyArray_DIM(idx, i);
    odims[nd] = PyArray_DIM(gw, 1);
    if (!srnn_same_shape(gout, odims, nd + 1)) { srnn_shape_error("grad_output", odims, nd + 1, gout); goto done; }
    /* 3. The core. */
    char err[SRNN_ERR_CAP];
    int32_t status;
    CALL_CORE(status, srnn_embedding_backward((const int64_t *)PyArray_DATA(idx), PyArray_SIZE(idx),
                                              (const float *)PyArray_DATA(gout), PyArray_DIM(gw, 0), PyArray_DIM(gw, 1),
                                              padding, scale, (float *)PyArray_DATA(gw), err, sizeof err));
    if (status != SRNN_OK) { srnn_raise(status, err); goto done; }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    Py_DECREF(gout);
    return result;
}

PyMethodDef srnn_embedding_methods[] = {
    {"embedding_forward", FASTCALL(embedding_forward),
     "embedding_forward(weight, indices, max_norm, norm_type[, save]) -> array (*indices.shape, embedding_dim), "
     "or (array, private int64 copy of the indices) with a true save"},
    {"embedding_backward", FASTCALL(embedding_backward),
     "embedding_backward(indices, grad_out, grad_weight, padding_idx, scale_grad_by_freq) -> None"},
    {NULL, NULL, 0, NULL},
};
