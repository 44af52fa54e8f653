/* Embedding, Linear, softmax and RNN forward: normalise, validate, allocate, call the core without the GIL. */
#include "native.h"

#define CALL_CORE(status, call)        \
    do {                               \
        Py_BEGIN_ALLOW_THREADS         \
        status = (call);               \
        Py_END_ALLOW_THREADS           \
    } while (0)

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
 * being what backward needs. */
static PyObject *embedding_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 && nargs != 5)
        return PyErr_Format(PyExc_TypeError, "embedding_forward takes 4 or 5 arguments, got %zd", nargs);
    int save = 0;
    if (nargs == 5 && (save = PyObject_IsTrue(args[4])) < 0) return NULL;
    PyArrayObject *idx = NULL;
    if (save) {
        /* As the separate indices_copy + embedding_forward calls did: the indices' errors come first. */
        idx = embedding_indices(args[1], 1);
        if (idx == NULL) return NULL;
    }
    double max_norm = -1.0, norm_type = PyFloat_AsDouble(args[3]);
    if (norm_type == -1.0 && PyErr_Occurred()) goto fail;
    if (args[2] != Py_None) {
        max_norm = PyFloat_AsDouble(args[2]);
        if (max_norm == -1.0 && PyErr_Occurred()) goto fail;
    }
    /* Only max_norm writes into the weight: a read-only weight is fine without it. */
    PyArrayObject *weight = srnn_parameter(args[0], "Embedding.weight", max_norm >= 0);
    if (weight == NULL) goto fail;
    if (PyArray_NDIM(weight) != 2) {
        PyErr_Format(PyExc_ValueError, "Embedding.weight must be 2-d");
        goto fail;
    }
    if (idx == NULL && (idx = embedding_indices(args[1], 0)) == NULL) return NULL;

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

/* linear_forward(x, weight, bias or None[, packed weight or None]) -> (*x.shape[:-1], out_features) */
static PyObject *linear_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 && nargs != 4)
        return PyErr_Format(PyExc_TypeError, "linear_forward takes 3 or 4 arguments, got %zd", nargs);
    PyArrayObject *packed = NULL;
    if (nargs == 4 && args[3] != Py_None) {
        packed = packed_argument(args[3], "the packed Linear weight");
        if (packed == NULL) return NULL;
    }
    PyArrayObject *weight = srnn_parameter(args[1], "Linear.weight", 0);
    if (weight == NULL) return NULL;
    if (PyArray_NDIM(weight) != 2) return PyErr_Format(PyExc_ValueError, "Linear.weight must be 2-d");
    npy_intp out_f = PyArray_DIM(weight, 0), in_f = PyArray_DIM(weight, 1);
    PyArrayObject *bias = NULL;
    if (args[2] != Py_None) {
        bias = srnn_parameter(args[2], "Linear.bias", 0);
        if (bias == NULL) return NULL;
        if (PyArray_NDIM(bias) != 1 || PyArray_DIM(bias, 0) != out_f)
            return PyErr_Format(PyExc_ValueError, "Linear.bias must have shape (%zd,)", (Py_ssize_t)out_f);
    }
    PyArrayObject *x = srnn_as_float32(args[0], "Linear input");
    if (x == NULL) return NULL;
    int nd = PyArray_NDIM(x);
    if (nd == 0 || PyArray_DIM(x, nd - 1) != in_f) {
        char got[256];
        srnn_format_shape(PyArray_DIMS(x), nd, got, sizeof got);
        Py_DECREF(x);
        return PyErr_Format(PyExc_ValueError,
                            "Linear(in_features=%zd, out_features=%zd) expects input of shape (*, %zd), got %s",
                            (Py_ssize_t)in_f, (Py_ssize_t)out_f, (Py_ssize_t)in_f, got);
    }
    npy_intp dims[NPY_MAXDIMS];
    npy_intp m = 1;
    for (int i = 0; i < nd - 1; i++) {
        dims[i] = PyArray_DIM(x, i);
        if (__builtin_mul_overflow(m, dims[i], &m)) {
            Py_DECREF(x);
            return PyErr_Format(PyExc_OverflowError, "the Linear input's leading dimensions overflow 64 bits");
        }
    }
    dims[nd - 1] = out_f;
    PyArrayObject *out = (PyArrayObject *)srnn_new_array(nd, dims, NPY_FLOAT32, 0);
    if (out == NULL) { Py_DECREF(x); return NULL; }
    char err[SRNN_ERR_CAP];
    int32_t status;
    if (packed) {
        CALL_CORE(status, srnn_linear_forward_packed((const float *)PyArray_DATA(x), m, in_f,
                                                     (const float *)PyArray_DATA(packed), (int64_t)PyArray_SIZE(packed),
                                                     bias ? (const float *)PyArray_DATA(bias) : NULL, out_f,
                                                     (float *)PyArray_DATA(out), err, sizeof err));
    } else {
        CALL_CORE(status, srnn_linear_forward((const float *)PyArray_DATA(x), m, in_f, (const float *)PyArray_DATA(weight),
                                              bias ? (const float *)PyArray_DATA(bias) : NULL, out_f,
                                              (float *)PyArray_DATA(out), err, sizeof err));
    }
    Py_DECREF(x);
    if (status != SRNN_OK) { Py_DECREF(out); return srnn_raise(status, err); }
    return (PyObject *)out;
}

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

/* Reads the 7 ints of an RNN description tuple:
 * (input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, bidirectional). */
int srnn_parse_rnn_desc(PyObject *t, srnn_rnn_desc *d) {
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 7) {
        PyErr_SetString(PyExc_TypeError, "the RNN description must be a tuple of 7 ints");
        return -1;
    }
    long long v[7];
    for (int i = 0; i < 7; i++) {
        v[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(t, i));
        if (v[i] == -1 && PyErr_Occurred()) return -1;
    }
    if (v[3] < INT32_MIN || v[3] > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "unknown nonlinearity code %lld", v[3]);
        return -1;
    }
    d->input_size = v[0]; d->hidden_size = v[1]; d->num_layers = v[2];
    d->nonlinearity = (int32_t)v[3]; d->has_bias = v[4] != 0; d->batch_first = v[5] != 0; d->bidirectional = v[6] != 0;
    return 0;
}

/* rnn_forward(x, h0 or None, params tuple, desc tuple, dropout_masks or None[, saved[, packed]]) -> (output, hn)
 * With `saved` (training, see srnn_rnn_forward_train): a writable float32 array of
 * num_layers * L * N * D * H elements that receives every layer's output before dropout.
 * With `packed` (inference only): a tuple of pack_weight(W_ih), pack_weight(W_hh) per layer and direction. */
static PyObject *rnn_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 5 || nargs > 7)
        return PyErr_Format(PyExc_TypeError, "rnn_forward takes 5 to 7 arguments, got %zd", nargs);
    PyObject *packed_tuple = nargs == 7 && args[6] != Py_None ? args[6] : NULL;
    if (packed_tuple && nargs >= 6 && args[5] != Py_None)
        return PyErr_Format(PyExc_ValueError, "packed weights are for inference calls, not with saved layer outputs");
    if (packed_tuple && !PyTuple_Check(packed_tuple))
        return PyErr_Format(PyExc_TypeError, "the packed RNN weights must be a tuple, got %s", Py_TYPE(packed_tuple)->tp_name);
    srnn_rnn_desc desc;
    if (srnn_parse_rnn_desc(args[3], &desc) < 0) return NULL;
    int64_t num_params = srnn_rnn_num_params(&desc);
    if (num_params < 0)
        return PyErr_Format(PyExc_ValueError, "invalid RNN sizes: input_size=%lld, hidden_size=%lld, num_layers=%lld",
                            (long long)desc.input_size, (long long)desc.hidden_size, (long long)desc.num_layers);
    PyObject *params = args[2];
    if (!PyTuple_Check(params) || PyTuple_GET_SIZE(params) != num_params)
        return PyErr_Format(PyExc_ValueError, "the RNN expects a tuple of %lld parameter arrays", (long long)num_params);
    const float *pointers[64];
    const float **pp = pointers;
    if (num_params > 64) {
        pp = PyMem_Malloc(sizeof(float *) * (size_t)num_params);
        if (pp == NULL) return PyErr_NoMemory();
    }
    /* The packed weights: at most num_params of them (2 per layer-direction of 2 or 4 parameters). */
    Py_ssize_t num_packed = packed_tuple ? PyTuple_GET_SIZE(packed_tuple) : 0;
    const float **packed_pointers = NULL;
    int64_t *packed_sizes = NULL;
    PyArrayObject *x = NULL, *h0 = NULL, *masks = NULL, *out = NULL, *hn = NULL, *saved = NULL;
    if (packed_tuple) {
        if (num_packed > num_params) {
            PyErr_Format(PyExc_ValueError, "the RNN expects at most %lld packed weights, got %zd", (long long)num_params,
                         num_packed);
            goto fail;
        }
        packed_pointers = PyMem_Malloc(sizeof(float *) * (size_t)(num_packed + 1));
        packed_sizes = PyMem_Malloc(sizeof(int64_t) * (size_t)(num_packed + 1));
        if (packed_pointers == NULL || packed_sizes == NULL) { PyErr_NoMemory(); goto fail; }
        for (Py_ssize_t i = 0; i < num_packed; i++) {
            PyArrayObject *p = packed_argument(PyTuple_GET_ITEM(packed_tuple, i), "a packed RNN weight");
            if (p == NULL) goto fail;
            packed_pointers[i] = (const float *)PyArray_DATA(p);
            packed_sizes[i] = (int64_t)PyArray_SIZE(p);
        }
    }
    for (int64_t i = 0; i < num_params; i++) {
        PyArrayObject *p = srnn_parameter(PyTuple_GET_ITEM(params, i), "an RNN parameter", 0);
        if (p == NULL) goto fail;
        int64_t shape[2];
        int32_t nd = srnn_rnn_param_shape(&desc, i, shape);
        int same = nd == PyArray_NDIM(p);
        for (int k = 0; same && k < nd; k++) same = shape[k] == PyArray_DIM(p, k);
        if (!same) {
            char got[128], want[128];
            npy_intp expected[2] = {(npy_intp)shape[0], nd == 2 ? (npy_intp)shape[1] : 0};
            srnn_format_shape(PyArray_DIMS(p), PyArray_NDIM(p), got, sizeof got);
            srnn_format_shape(expected, nd, want, sizeof want);
            PyErr_Format(PyExc_ValueError, "RNN parameter %lld (state_dict order) has shape %s; expected %s",
                         (long long)i, got, want);
            goto fail;
        }
        pp[i] = (const float *)PyArray_DATA(p);
    }

    x = srnn_as_float32(args[0], "RNN input");
    if (x == NULL) goto fail;
    int xnd = PyArray_NDIM(x);
    char got[256], want[256];
    if (xnd != 2 && xnd != 3) {
        srnn_format_shape(PyArray_DIMS(x), xnd, got, sizeof got);
        PyErr_Format(PyExc_ValueError, "RNN expects a 2-d (unbatched) or 3-d (batched) input, got a %d-d input of shape %s",
                     xnd, got);
        goto fail;
    }
    int unbatched = xnd == 2;
    npy_intp L = unbatched ? PyArray_DIM(x, 0) : PyArray_DIM(x, desc.batch_first ? 1 : 0);
    npy_intp N = unbatched ? 1 : PyArray_DIM(x, desc.batch_first ? 0 : 1);
    npy_intp H = desc.hidden_size, D = desc.bidirectional ? 2 : 1;
    if (PyArray_DIM(x, xnd - 1) != desc.input_size) {
        srnn_format_shape(PyArray_DIMS(x), xnd, got, sizeof got);
        PyErr_Format(PyExc_ValueError, "RNN(input_size=%lld) expects input with %lld features in its last dimension, got shape %s",
                     (long long)desc.input_size, (long long)desc.input_size, got);
        goto fail;
    }
    if (L == 0) {
        srnn_format_shape(PyArray_DIMS(x), xnd, got, sizeof got);
        PyErr_Format(PyExc_ValueError, "the sequence length must be at least 1, got input of shape %s", got);
        goto fail;
    }
    npy_intp hdims[3] = {D * desc.num_layers, N, H};
    npy_intp hdims_unbatched[2] = {D * desc.num_layers, H};
    npy_intp *hshape = unbatched ? hdims_unbatched : hdims;
    int hnd = unbatched ? 2 : 3;
    if (args[1] != Py_None) {
        h0 = srnn_as_float32(args[1], "h0");
        if (h0 == NULL) goto fail;
        int same = PyArray_NDIM(h0) == hnd;
        for (int k = 0; same && k < hnd; k++) same = PyArray_DIM(h0, k) == hshape[k];
        if (!same) {
            srnn_format_shape(hshape, hnd, want, sizeof want);
            srnn_format_shape(PyArray_DIMS(h0), PyArray_NDIM(h0), got, sizeof got);
            PyErr_Format(PyExc_ValueError, "expected h0 of shape %s (num_layers * num_directions, %sH_out), got %s", want,
                         unbatched ? "" : "batch, ", got);
            goto fail;
        }
    }
    if (args[4] != Py_None) {
        masks = (PyArrayObject *)args[4];
        Py_INCREF(masks);
        npy_intp expect = (npy_intp)(desc.num_layers - 1);
        int overflow = __builtin_mul_overflow(expect, L, &expect) || __builtin_mul_overflow(expect, N, &expect) ||
                       __builtin_mul_overflow(expect, D * H, &expect);
        if (srnn_parameter((PyObject *)masks, "the dropout masks", 0) == NULL) goto fail;
        if (overflow || PyArray_SIZE(masks) != expect) {
            PyErr_Format(PyExc_ValueError, "the dropout masks must hold %zd elements", (Py_ssize_t)expect);
            goto fail;
        }
    }

    if (nargs >= 6 && args[5] != Py_None) {
        saved = srnn_parameter(args[5], "the saved layer outputs", 1);
        if (saved == NULL) goto fail;
        npy_intp expect = (npy_intp)desc.num_layers;
        int overflow = __builtin_mul_overflow(expect, L, &expect) || __builtin_mul_overflow(expect, N, &expect) ||
                       __builtin_mul_overflow(expect, D * H, &expect);
        if (overflow || PyArray_SIZE(saved) != expect) {
            PyErr_Format(PyExc_ValueError, "the saved layer outputs must hold %zd elements, got %zd",
                         (Py_ssize_t)expect, (Py_ssize_t)PyArray_SIZE(saved));
            goto fail;
        }
    }

    npy_intp odims[3];
    for (int k = 0; k < xnd; k++) odims[k] = PyArray_DIM(x, k);
    odims[xnd - 1] = D * H;
    out = (PyArrayObject *)srnn_new_array(xnd, odims, NPY_FLOAT32, 0);
    hn = (PyArrayObject *)srnn_new_array(hnd, hshape, NPY_FLOAT32, 0);
    if (out == NULL || hn == NULL) goto fail;

    char err[SRNN_ERR_CAP];
    int32_t status;
    if (saved) {
        CALL_CORE(status, srnn_rnn_forward_train(&desc, pp, num_params, (const float *)PyArray_DATA(x), L, N,
                                                 h0 ? (const float *)PyArray_DATA(h0) : NULL,
                                                 masks ? (const float *)PyArray_DATA(masks) : NULL,
                                                 (float *)PyArray_DATA(out), (float *)PyArray_DATA(hn),
                                                 (float *)PyArray_DATA(saved), err, sizeof err));
    } else if (packed_tuple) {
        CALL_CORE(status, srnn_rnn_forward_packed(&desc, pp, num_params, packed_pointers, packed_sizes, num_packed,
                                                  (const float *)PyArray_DATA(x), L, N,
                                                  h0 ? (const float *)PyArray_DATA(h0) : NULL,
                                                  masks ? (const float *)PyArray_DATA(masks) : NULL,
                                                  (float *)PyArray_DATA(out), (float *)PyArray_DATA(hn), err, sizeof err));
    } else {
        CALL_CORE(status, srnn_rnn_forward(&desc, pp, num_params, (const float *)PyArray_DATA(x), L, N,
                                           h0 ? (const float *)PyArray_DATA(h0) : NULL,
                                           masks ? (const float *)PyArray_DATA(masks) : NULL,
                                           (float *)PyArray_DATA(out), (float *)PyArray_DATA(hn), err, sizeof err));
    }
    if (status != SRNN_OK) { srnn_raise(status, err); goto fail; }
    Py_DECREF(x);
    Py_XDECREF(h0);
    Py_XDECREF(masks);
    if (pp != pointers) PyMem_Free(pp);
    PyMem_Free(packed_pointers);
    PyMem_Free(packed_sizes);
    return Py_BuildValue("(NN)", out, hn);

fail:
    Py_XDECREF(x);
    Py_XDECREF(h0);
    Py_XDECREF(masks);
    Py_XDECREF(out);
    Py_XDECREF(hn);
    if (pp != pointers) PyMem_Free(pp);
    PyMem_Free(packed_pointers);
    PyMem_Free(packed_sizes);
    return NULL;
}

PyMethodDef srnn_layer_methods[] = {
    {"embedding_forward", (PyCFunction)(void (*)(void))embedding_forward, METH_FASTCALL,
     "embedding_forward(weight, indices, max_norm, norm_type[, save]) -> array (*indices.shape, embedding_dim), "
     "or (array, private int64 copy of the indices) with a true save"},
    {"pack_weight", pack_weight, METH_O,
     "pack_weight(weight) -> 1-d float32 array: a (out, in) weight packed for linear_forward / rnn_forward's `packed`"},
    {"linear_forward", (PyCFunction)(void (*)(void))linear_forward, METH_FASTCALL,
     "linear_forward(x, weight, bias[, packed]) -> array (*, out_features)"},
    {"softmax", (PyCFunction)(void (*)(void))softmax, METH_FASTCALL,
     "softmax(x, dim, log) -> array shaped like x"},
    {"rnn_forward", (PyCFunction)(void (*)(void))rnn_forward, METH_FASTCALL,
     "rnn_forward(x, h0, params, desc, dropout_masks[, saved[, packed]]) -> (output, hn)"},
    {NULL, NULL, 0, NULL},
};
