/* Training: backward passes, cross-entropy, optimizer steps, clipping. Parse, validate shapes (messages
 * name the expected and the actual shape), release the GIL around one core call, map status codes. */
#include "native.h"

#define CALL_CORE(status, call)        \
    do {                               \
        Py_BEGIN_ALLOW_THREADS         \
        status = (call);               \
        Py_END_ALLOW_THREADS           \
    } while (0)

#define SHAPE_CAP 256

/* Raises ValueError "expected <what> of shape <want>, got <got>" and returns NULL. */
static PyObject *shape_error(const char *what, const npy_intp *want, int want_nd, PyArrayObject *got) {
    char w[SHAPE_CAP], g[SHAPE_CAP];
    srnn_format_shape(want, want_nd, w, sizeof w);
    srnn_format_shape(PyArray_DIMS(got), PyArray_NDIM(got), g, sizeof g);
    return PyErr_Format(PyExc_ValueError, "expected %s of shape %s, got %s", what, w, g);
}

static int same_shape(PyArrayObject *a, const npy_intp *dims, int nd) {
    if (PyArray_NDIM(a) != nd) return 0;
    for (int i = 0; i < nd; i++)
        if (PyArray_DIM(a, i) != dims[i]) return 0;
    return 1;
}

/* A gradient buffer to accumulate into: a writable C-contiguous float32 array of the given shape. Borrowed. */
static PyArrayObject *grad_buffer(PyObject *obj, const char *what, const npy_intp *dims, int nd) {
    PyArrayObject *a = srnn_parameter(obj, what, 1);
    if (a == NULL) return NULL;
    if (!same_shape(a, dims, nd)) { shape_error(what, dims, nd, a); return NULL; }
    return a;
}

static int as_double(PyObject *o, double *out) {
    *out = PyFloat_AsDouble(o);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

static int as_int64(PyObject *o, int64_t *out) {
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) return -1;
    *out = (int64_t)v;
    return 0;
}

static int as_flag(PyObject *o, int32_t *out) {
    int v = PyObject_IsTrue(o);
    if (v < 0) return -1;
    *out = v;
    return 0;
}

/* float32_copy(obj, what) -> a new C-contiguous float32 array that never shares memory with obj. */
static PyObject *float32_copy(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) return PyErr_Format(PyExc_TypeError, "float32_copy takes 2 arguments, got %zd", nargs);
    const char *what = PyUnicode_AsUTF8(args[1]);
    if (what == NULL) return NULL;
    PyArrayObject *a = srnn_as_float32(args[0], what);
    if (a == NULL) return NULL;
    if ((PyObject *)a != args[0] && PyArray_BASE(a) == NULL && PyArray_CHKFLAGS(a, NPY_ARRAY_OWNDATA)) return (PyObject *)a;
    PyObject *c = (PyObject *)srnn_copy_array(a);
    Py_DECREF(a);
    return c;
}

#define MAX_RNN_PARAMS 4096

/*
 * rnn_backward(x, h0 or None, params, desc, masks or None, saved, grad_output, grad_hn or None, grads)
 *   -> (grad_input, grad_h0)
 * x, h0, masks, saved: what the training forward used and wrote (float32, C-contiguous). grads: a tuple
 * with one writable float32 array (shaped like its parameter) or None per parameter, accumulated into.
 */
static PyObject *rnn_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 9) return PyErr_Format(PyExc_TypeError, "rnn_backward takes 9 arguments, got %zd", nargs);
    srnn_rnn_desc desc;
    if (srnn_parse_rnn_desc(args[3], &desc) < 0) return NULL;
    int64_t num_params = srnn_rnn_num_params(&desc);
    if (num_params < 0 || num_params > MAX_RNN_PARAMS)
        return PyErr_Format(PyExc_ValueError, "invalid RNN sizes: input_size=%lld, hidden_size=%lld, num_layers=%lld",
                            (long long)desc.input_size, (long long)desc.hidden_size, (long long)desc.num_layers);
    PyObject *params = args[2], *grads = args[8];
    if (!PyTuple_Check(params) || PyTuple_GET_SIZE(params) != num_params)
        return PyErr_Format(PyExc_ValueError, "the RNN expects a tuple of %lld parameter arrays", (long long)num_params);
    if (!PyTuple_Check(grads) || PyTuple_GET_SIZE(grads) != num_params)
        return PyErr_Format(PyExc_ValueError, "the RNN expects a tuple of %lld gradient buffers", (long long)num_params);
    const float **pp = PyMem_Malloc(sizeof(float *) * (size_t)(num_params ? num_params : 1));
    float **gp = PyMem_Malloc(sizeof(float *) * (size_t)(num_params ? num_params : 1));
    PyArrayObject *gin = NULL, *gh0 = NULL;
    if (pp == NULL || gp == NULL) { PyErr_NoMemory(); goto fail; }
    for (int64_t i = 0; i < num_params; i++) {
        PyArrayObject *p = srnn_parameter(PyTuple_GET_ITEM(params, i), "an RNN parameter", 0);
        if (p == NULL) goto fail;
        int64_t shape[2];
        int32_t nd = srnn_rnn_param_shape(&desc, i, shape);
        npy_intp dims[2] = {(npy_intp)shape[0], nd == 2 ? (npy_intp)shape[1] : 0};
        if (!same_shape(p, dims, nd)) { shape_error("an RNN parameter", dims, nd, p); goto fail; }
        pp[i] = (const float *)PyArray_DATA(p);
        PyObject *g = PyTuple_GET_ITEM(grads, i);
        if (g == Py_None) { gp[i] = NULL; continue; }
        PyArrayObject *ga = grad_buffer(g, "an RNN parameter gradient", dims, nd);
        if (ga == NULL) goto fail;
        gp[i] = (float *)PyArray_DATA(ga);
    }

    PyArrayObject *x = srnn_parameter(args[0], "the saved RNN input", 0);
    if (x == NULL) goto fail;
    int xnd = PyArray_NDIM(x);
    if ((xnd != 2 && xnd != 3) || PyArray_DIM(x, xnd - 1) != desc.input_size) {
        PyErr_SetString(PyExc_ValueError, "the saved RNN input does not fit the RNN");
        goto fail;
    }
    int unbatched = xnd == 2;
    npy_intp L = unbatched ? PyArray_DIM(x, 0) : PyArray_DIM(x, desc.batch_first ? 1 : 0);
    npy_intp N = unbatched ? 1 : PyArray_DIM(x, desc.batch_first ? 0 : 1);
    npy_intp H = desc.hidden_size, D = desc.bidirectional ? 2 : 1;
    npy_intp hdims3[3] = {D * desc.num_layers, N, H}, hdims2[2] = {D * desc.num_layers, H};
    npy_intp *hdims = unbatched ? hdims2 : hdims3;
    int hnd = unbatched ? 2 : 3;
    npy_intp odims[3];
    for (int k = 0; k < xnd; k++) odims[k] = PyArray_DIM(x, k);
    odims[xnd - 1] = D * H;

    PyArrayObject *h0 = NULL, *masks = NULL, *saved, *gout, *ghn = NULL;
    if (args[1] != Py_None) {
        h0 = srnn_parameter(args[1], "the saved h0", 0);
        if (h0 == NULL) goto fail;
        if (!same_shape(h0, hdims, hnd)) { shape_error("the saved h0", hdims, hnd, h0); goto fail; }
    }
    if (args[4] != Py_None) {
        masks = srnn_parameter(args[4], "the saved dropout masks", 0);
        if (masks == NULL) goto fail;
        if (PyArray_SIZE(masks) != (npy_intp)(desc.num_layers - 1) * L * N * D * H) {
            PyErr_SetString(PyExc_ValueError, "the saved dropout masks do not fit the input");
            goto fail;
        }
    }
    saved = srnn_parameter(args[5], "the saved layer outputs", 0);
    if (saved == NULL) goto fail;
    if (PyArray_SIZE(saved) != (npy_intp)desc.num_layers * L * N * D * H) {
        PyErr_SetString(PyExc_ValueError, "the saved layer outputs do not fit the input");
        goto fail;
    }
    PyArrayObject *gout_arr = srnn_as_float32(args[6], "grad_output");
    if (gout_arr == NULL) goto fail;
    gout = gout_arr;
    if (!same_shape(gout, odims, xnd)) {
        shape_error("grad_output", odims, xnd, gout);
        Py_DECREF(gout);
        goto fail;
    }
    if (args[7] != Py_None) {
        ghn = srnn_as_float32(args[7], "grad_hn");
        if (ghn == NULL) { Py_DECREF(gout); goto fail; }
        if (!same_shape(ghn, hdims, hnd)) {
            shape_error("grad_hn", hdims, hnd, ghn);
            Py_DECREF(gout); Py_DECREF(ghn);
            goto fail;
        }
    }
    gin = (PyArrayObject *)srnn_new_array(xnd, PyArray_DIMS(x), NPY_FLOAT32, 1);
    gh0 = (PyArrayObject *)srnn_new_array(hnd, hdims, NPY_FLOAT32, 1);
    if (gin == NULL || gh0 == NULL) { Py_DECREF(gout); Py_XDECREF(ghn); goto fail; }

    char err[SRNN_ERR_CAP];
    int32_t status;
    CALL_CORE(status, srnn_rnn_backward(&desc, pp, num_params, (const float *)PyArray_DATA(x), L, N,
                                        h0 ? (const float *)PyArray_DATA(h0) : NULL,
                                        masks ? (const float *)PyArray_DATA(masks) : NULL,
                                        (const float *)PyArray_DATA(saved), (const float *)PyArray_DATA(gout),
                                        ghn ? (const float *)PyArray_DATA(ghn) : NULL, gp,
                                        (float *)PyArray_DATA(gin), (float *)PyArray_DATA(gh0), err, sizeof err));
    Py_DECREF(gout);
    Py_XDECREF(ghn);
    if (status != SRNN_OK) { srnn_raise(status, err); goto fail; }
    PyMem_Free(pp);
    PyMem_Free(gp);
    return Py_BuildValue("(NN)", gin, gh0);

fail:
    PyMem_Free(pp);
    PyMem_Free(gp);
    Py_XDECREF(gin);
    Py_XDECREF(gh0);
    return NULL;
}

/*
 * linear_backward(x, grad_out, weight, grad_weight or None, grad_bias or None, want_grad_input) -> grad_input or None
 * x: the saved float32 input (*, in); grad_out: (*, out); the gradient buffers are accumulated into.
 */
static PyObject *linear_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6) return PyErr_Format(PyExc_TypeError, "linear_backward takes 6 arguments, got %zd", nargs);
    PyArrayObject *x = srnn_parameter(args[0], "the saved Linear input", 0);
    PyArrayObject *weight = x ? srnn_parameter(args[2], "Linear.weight", 0) : NULL;
    if (weight == NULL) return NULL;
    if (PyArray_NDIM(weight) != 2 || PyArray_NDIM(x) < 1 || PyArray_DIM(x, PyArray_NDIM(x) - 1) != PyArray_DIM(weight, 1))
        return PyErr_Format(PyExc_ValueError, "the saved Linear input does not fit the weight");
    npy_intp out_f = PyArray_DIM(weight, 0), in_f = PyArray_DIM(weight, 1);
    int nd = PyArray_NDIM(x);
    npy_intp odims[NPY_MAXDIMS];
    npy_intp m = 1;
    for (int i = 0; i < nd - 1; i++) { odims[i] = PyArray_DIM(x, i); m *= odims[i]; }
    odims[nd - 1] = out_f;
    PyArrayObject *gw = NULL, *gb = NULL;
    if (args[3] != Py_None && (gw = grad_buffer(args[3], "the weight gradient", PyArray_DIMS(weight), 2)) == NULL) return NULL;
    npy_intp bdims[1] = {out_f};
    if (args[4] != Py_None && (gb = grad_buffer(args[4], "the bias gradient", bdims, 1)) == NULL) return NULL;
    int want_input = PyObject_IsTrue(args[5]);
    if (want_input < 0) return NULL;
    PyArrayObject *gout = srnn_as_float32(args[1], "grad_output");
    if (gout == NULL) return NULL;
    if (!same_shape(gout, odims, nd)) { shape_error("grad_output", odims, nd, gout); Py_DECREF(gout); return NULL; }
    PyArrayObject *gin = NULL;
    if (want_input) {
        gin = (PyArrayObject *)srnn_new_array(nd, PyArray_DIMS(x), NPY_FLOAT32, 1);
        if (gin == NULL) { Py_DECREF(gout); return NULL; }
    }
    char err[SRNN_ERR_CAP];
    int32_t status;
    CALL_CORE(status, srnn_linear_backward((const float *)PyArray_DATA(x), (const float *)PyArray_DATA(gout), m, in_f,
                                           (const float *)PyArray_DATA(weight), out_f,
                                           gin ? (float *)PyArray_DATA(gin) : NULL,
                                           gw ? (float *)PyArray_DATA(gw) : NULL,
                                           gb ? (float *)PyArray_DATA(gb) : NULL, err, sizeof err));
    Py_DECREF(gout);
    if (status != SRNN_OK) { Py_XDECREF(gin); return srnn_raise(status, err); }
    if (gin == NULL) Py_RETURN_NONE;
    return (PyObject *)gin;
}

/*
 * embedding_backward(indices, grad_out, grad_weight, padding_idx or None, scale_grad_by_freq) -> None
 * indices: the saved int64 indices; grad_out: (*indices.shape, dim); grad_weight accumulated into.
 */
static PyObject *embedding_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) return PyErr_Format(PyExc_TypeError, "embedding_backward takes 5 arguments, got %zd", nargs);
    if (!PyArray_Check(args[0]) || PyArray_TYPE((PyArrayObject *)args[0]) != NPY_INT64 ||
        !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)args[0]))
        return PyErr_Format(PyExc_TypeError, "the saved Embedding indices must be a C-contiguous int64 array");
    PyArrayObject *idx = (PyArrayObject *)args[0];
    PyArrayObject *gw = srnn_parameter(args[2], "the weight gradient", 1);
    if (gw == NULL) return NULL;
    if (PyArray_NDIM(gw) != 2) return PyErr_Format(PyExc_ValueError, "the weight gradient must be 2-d");
    int64_t padding = -1;
    if (args[3] != Py_None && as_int64(args[3], &padding) < 0) return NULL;
    int32_t scale;
    if (as_flag(args[4], &scale) < 0) return NULL;
    int nd = PyArray_NDIM(idx);
    if (nd + 1 > NPY_MAXDIMS) return PyErr_Format(PyExc_ValueError, "too many index dimensions");
    npy_intp odims[NPY_MAXDIMS];
    for (int i = 0; i < nd; i++) odims[i] = PyArray_DIM(idx, i);
    odims[nd] = PyArray_DIM(gw, 1);
    PyArrayObject *gout = srnn_as_float32(args[1], "grad_output");
    if (gout == NULL) return NULL;
    if (!same_shape(gout, odims, nd + 1)) { shape_error("grad_output", odims, nd + 1, gout); Py_DECREF(gout); return NULL; }
    char err[SRNN_ERR_CAP];
    int32_t status;
    CALL_CORE(status, srnn_embedding_backward((const int64_t *)PyArray_DATA(idx), PyArray_SIZE(idx),
                                              (const float *)PyArray_DATA(gout), PyArray_DIM(gw, 0), PyArray_DIM(gw, 1),
                                              padding, scale, (float *)PyArray_DATA(gw), err, sizeof err));
    Py_DECREF(gout);
    if (status != SRNN_OK) return srnn_raise(status, err);
    Py_RETURN_NONE;
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

static int parse_class_weight(PyObject *obj, int64_t classes, PyArrayObject **out) {
    *out = NULL;
    if (obj == Py_None) return 0;
    PyArrayObject *w = srnn_as_float32(obj, "the class weight");
    if (w == NULL) return -1;
    npy_intp dims[1] = {(npy_intp)classes};
    if (!same_shape(w, dims, 1)) { shape_error("the class weight", dims, 1, w); Py_DECREF(w); return -1; }
    *out = w;
    return 0;
}

/*
 * cross_entropy_forward(logits, target, weight or None, ignore_index, reduction, label_smoothing, want_probs)
 *   -> (loss, probs or None, target, weight or None)
 * logits: (C,), (N, C) or (N, C, d1, ...); target: class indices of shape (), (N,) or (N, d1, ...).
 * loss: a 0-d array for reduction mean/sum (1, 2), the target's shape for none (0). The last two are the
 * normalised int64 / float32 arrays the backward takes (copies, never the caller's arrays).
 */
static PyObject *cross_entropy_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7) return PyErr_Format(PyExc_TypeError, "cross_entropy_forward takes 7 arguments, got %zd", nargs);
    int64_t ignore_index;
    int32_t reduction, want_probs;
    double smoothing;
    if (as_int64(args[3], &ignore_index) < 0 || as_double(args[5], &smoothing) < 0 || as_flag(args[6], &want_probs) < 0)
        return NULL;
    long r = PyLong_AsLong(args[4]);
    if (r == -1 && PyErr_Occurred()) return NULL;
    reduction = (int32_t)r;
    PyArrayObject *logits = NULL, *target = NULL, *weight = NULL, *loss = NULL, *probs = NULL;
    logits = srnn_as_float32(args[0], "cross_entropy input");
    if (logits == NULL) goto fail;
    int nd = PyArray_NDIM(logits);
    if (nd == 0) {
        PyErr_SetString(PyExc_ValueError, "cross_entropy expects input of shape (C,), (N, C) or (N, C, d1, ...), got a 0-d array");
        goto fail;
    }
    int64_t outer, classes, inner;
    npy_intp tdims[NPY_MAXDIMS];
    int tnd;
    class_view(logits, &outer, &classes, &inner, tdims, &tnd);
    target = srnn_as_indices(args[1], "cross_entropy target (class indices)");
    if (target == NULL) goto fail;
    if (!same_shape(target, tdims, tnd)) {
        char w[SHAPE_CAP], g[SHAPE_CAP], in[SHAPE_CAP];
        srnn_format_shape(tdims, tnd, w, sizeof w);
        srnn_format_shape(PyArray_DIMS(target), PyArray_NDIM(target), g, sizeof g);
        srnn_format_shape(PyArray_DIMS(logits), nd, in, sizeof in);
        PyErr_Format(PyExc_ValueError, "expected target of shape %s for input of shape %s, got %s", w, in, g);
        goto fail;
    }
    if ((PyObject *)target == args[1]) {  /* keep a copy: the caller may change its array before backward */
        PyArrayObject *c = (PyArrayObject *)srnn_copy_array(target);
        Py_DECREF(target);
        target = c;
        if (target == NULL) goto fail;
    }
    if (parse_class_weight(args[2], classes, &weight) < 0) goto fail;
    loss = (PyArrayObject *)srnn_new_array(reduction == SRNN_REDUCTION_NONE ? tnd : 0, tdims, NPY_FLOAT32, 0);
    if (loss == NULL) goto fail;
    if (want_probs) {
        probs = (PyArrayObject *)srnn_new_array(nd, PyArray_DIMS(logits), NPY_FLOAT32, 0);
        if (probs == NULL) goto fail;
    }
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
    if (nargs != 7) return PyErr_Format(PyExc_TypeError, "cross_entropy_backward takes 7 arguments, got %zd", nargs);
    int64_t ignore_index;
    double smoothing;
    if (as_int64(args[3], &ignore_index) < 0 || as_double(args[5], &smoothing) < 0) return NULL;
    long r = PyLong_AsLong(args[4]);
    if (r == -1 && PyErr_Occurred()) return NULL;
    PyArrayObject *probs = srnn_parameter(args[0], "the saved probabilities", 1);
    if (probs == NULL) return NULL;
    if (!PyArray_Check(args[1]) || PyArray_TYPE((PyArrayObject *)args[1]) != NPY_INT64)
        return PyErr_Format(PyExc_TypeError, "the saved targets must be an int64 array");
    PyArrayObject *target = (PyArrayObject *)args[1];
    int64_t outer, classes, inner;
    npy_intp tdims[NPY_MAXDIMS];
    int tnd;
    class_view(probs, &outer, &classes, &inner, tdims, &tnd);
    if (!same_shape(target, tdims, tnd)) return PyErr_Format(PyExc_ValueError, "the saved targets do not fit the input");
    PyArrayObject *weight = NULL;
    if (args[2] != Py_None) {
        weight = srnn_parameter(args[2], "the class weight", 0);
        if (weight == NULL) return NULL;
        if (PyArray_SIZE(weight) != classes) return PyErr_Format(PyExc_ValueError, "the class weight does not fit the input");
    }
    PyArrayObject *gl = srnn_as_float32(args[6], "the loss gradient");
    if (gl == NULL) return NULL;
    int none = r == SRNN_REDUCTION_NONE;
    if (none ? !same_shape(gl, tdims, tnd) : PyArray_SIZE(gl) != 1) {
        shape_error("the loss gradient", tdims, none ? tnd : 0, gl);
        Py_DECREF(gl);
        return NULL;
    }
    char err[SRNN_ERR_CAP];
    int32_t status;
    CALL_CORE(status, srnn_cross_entropy_backward_in_place((float *)PyArray_DATA(probs), outer, classes, inner,
                                                           (const int64_t *)PyArray_DATA(target),
                                                           weight ? (const float *)PyArray_DATA(weight) : NULL,
                                                           ignore_index, (int32_t)r, smoothing,
                                                           (const float *)PyArray_DATA(gl), err, sizeof err));
    Py_DECREF(gl);
    if (status != SRNN_OK) return srnn_raise(status, err);
    Py_INCREF(probs);
    return (PyObject *)probs;
}

/* An optimizer state buffer: writable C-contiguous float32 of exactly n elements. Borrowed. */
static PyArrayObject *state_buffer(PyObject *obj, const char *what, npy_intp n) {
    PyArrayObject *a = srnn_parameter(obj, what, 1);
    if (a == NULL) return NULL;
    if (PyArray_SIZE(a) != n) {
        PyErr_Format(PyExc_ValueError, "expected %s with %zd elements, got %zd", what, (Py_ssize_t)n,
                     (Py_ssize_t)PyArray_SIZE(a));
        return NULL;
    }
    return a;
}

/* A parameter and its gradient, same shape; both borrowed. */
static int param_and_grad(PyObject *p_obj, PyObject *g_obj, PyArrayObject **p, PyArrayObject **g) {
    *p = srnn_parameter(p_obj, "a parameter", 1);
    if (*p == NULL) return -1;
    *g = srnn_parameter(g_obj, "a gradient", 0);
    if (*g == NULL) return -1;
    if (!same_shape(*g, PyArray_DIMS(*p), PyArray_NDIM(*p))) {
        shape_error("the gradient", PyArray_DIMS(*p), PyArray_NDIM(*p), *g);
        return -1;
    }
    return 0;
}

/* sgd_step(param, grad, momentum_buffer or None, buffer_is_new, lr, momentum, dampening, weight_decay,
 *          nesterov, maximize) -> None; updates param (and the buffer) in place. */
static PyObject *sgd_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 10) return PyErr_Format(PyExc_TypeError, "sgd_step takes 10 arguments, got %zd", nargs);
    PyArrayObject *p, *g, *buf = NULL;
    if (param_and_grad(args[0], args[1], &p, &g) < 0) return NULL;
    npy_intp n = PyArray_SIZE(p);
    if (args[2] != Py_None && (buf = state_buffer(args[2], "the momentum buffer", n)) == NULL) return NULL;
    int32_t is_new, nesterov, maximize;
    double lr, momentum, dampening, wd;
    if (as_flag(args[3], &is_new) < 0 || as_double(args[4], &lr) < 0 || as_double(args[5], &momentum) < 0 ||
        as_double(args[6], &dampening) < 0 || as_double(args[7], &wd) < 0 || as_flag(args[8], &nesterov) < 0 ||
        as_flag(args[9], &maximize) < 0)
        return NULL;
    char err[SRNN_ERR_CAP];
    int32_t status;
    CALL_CORE(status, srnn_sgd_step((float *)PyArray_DATA(p), (const float *)PyArray_DATA(g), n,
                                    buf ? (float *)PyArray_DATA(buf) : NULL, is_new, lr, momentum, dampening, wd,
                                    nesterov, maximize, err, sizeof err));
    if (status != SRNN_OK) return srnn_raise(status, err);
    Py_RETURN_NONE;
}

/* adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq or None, step, lr, beta1, beta2, eps,
 *           weight_decay, decoupled_weight_decay, maximize) -> None; updates param and state in place. */
static PyObject *adam_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 13) return PyErr_Format(PyExc_TypeError, "adam_step takes 13 arguments, got %zd", nargs);
    PyArrayObject *p, *g, *m, *v, *vmax = NULL;
    if (param_and_grad(args[0], args[1], &p, &g) < 0) return NULL;
    npy_intp n = PyArray_SIZE(p);
    if ((m = state_buffer(args[2], "exp_avg", n)) == NULL || (v = state_buffer(args[3], "exp_avg_sq", n)) == NULL)
        return NULL;
    if (args[4] != Py_None && (vmax = state_buffer(args[4], "max_exp_avg_sq", n)) == NULL) return NULL;
    int64_t step;
    int32_t decoupled, maximize;
    double lr, b1, b2, eps, wd;
    if (as_int64(args[5], &step) < 0 || as_double(args[6], &lr) < 0 || as_double(args[7], &b1) < 0 ||
        as_double(args[8], &b2) < 0 || as_double(args[9], &eps) < 0 || as_double(args[10], &wd) < 0 ||
        as_flag(args[11], &decoupled) < 0 || as_flag(args[12], &maximize) < 0)
        return NULL;
    char err[SRNN_ERR_CAP];
    int32_t status;
    CALL_CORE(status, srnn_adam_step((float *)PyArray_DATA(p), (const float *)PyArray_DATA(g), n,
                                     (float *)PyArray_DATA(m), (float *)PyArray_DATA(v),
                                     vmax ? (float *)PyArray_DATA(vmax) : NULL, step, lr, b1, b2, eps, wd, decoupled,
                                     maximize, err, sizeof err));
    if (status != SRNN_OK) return srnn_raise(status, err);
    Py_RETURN_NONE;
}

/*
 * adam_step_group(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs or None, steps, lr, beta1, beta2, eps,
 *                 weight_decay, decoupled_weight_decay, maximize) -> None
 * adam_step for every parameter of a group in one call: lists of equal length (steps: the step number of each
 * parameter after this update). Everything is checked first; then all updates run without the GIL, in order,
 * each exactly as adam_step would.
 */
typedef struct {
    float *p, *m, *v, *vmax;
    const float *g;
    npy_intp n;
    int64_t step;
} adam_item;

static PyObject *adam_step_group(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 13) return PyErr_Format(PyExc_TypeError, "adam_step_group takes 13 arguments, got %zd", nargs);
    double lr, b1, b2, eps, wd;
    int32_t decoupled, maximize;
    if (as_double(args[6], &lr) < 0 || as_double(args[7], &b1) < 0 || as_double(args[8], &b2) < 0 ||
        as_double(args[9], &eps) < 0 || as_double(args[10], &wd) < 0 || as_flag(args[11], &decoupled) < 0 ||
        as_flag(args[12], &maximize) < 0)
        return NULL;
    PyObject *lists[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    static const char *names[6] = {"params", "grads", "exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs", "steps"};
    adam_item *items = NULL;
    PyObject *result = NULL;
    Py_ssize_t count = 0;
    for (int k = 0; k < 6; k++) {
        if (k == 4 && args[4] == Py_None) continue;
        lists[k] = PySequence_Fast(args[k], "adam_step_group expects lists");
        if (lists[k] == NULL) goto done;
        Py_ssize_t len = PySequence_Fast_GET_SIZE(lists[k]);
        if (k == 0) count = len;
        else if (len != count) {
            PyErr_Format(PyExc_ValueError, "adam_step_group: %s has %zd entries, params %zd", names[k], len, count);
            goto done;
        }
    }
    items = PyMem_Malloc(sizeof(adam_item) * (size_t)(count ? count : 1));
    if (items == NULL) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyArrayObject *p, *g, *m, *v, *vmax = NULL;
        if (param_and_grad(PySequence_Fast_GET_ITEM(lists[0], i), PySequence_Fast_GET_ITEM(lists[1], i), &p, &g) < 0)
            goto done;
        npy_intp n = PyArray_SIZE(p);
        if ((m = state_buffer(PySequence_Fast_GET_ITEM(lists[2], i), "exp_avg", n)) == NULL ||
            (v = state_buffer(PySequence_Fast_GET_ITEM(lists[3], i), "exp_avg_sq", n)) == NULL)
            goto done;
        if (lists[4] != NULL && (vmax = state_buffer(PySequence_Fast_GET_ITEM(lists[4], i), "max_exp_avg_sq", n)) == NULL)
            goto done;
        int64_t step;
        if (as_int64(PySequence_Fast_GET_ITEM(lists[5], i), &step) < 0) goto done;
        if (step < 1) {
            PyErr_Format(PyExc_ValueError, "the step number must be at least 1, got %lld", (long long)step);
            goto done;
        }
        items[i] = (adam_item){(float *)PyArray_DATA(p), (float *)PyArray_DATA(m), (float *)PyArray_DATA(v),
                               vmax ? (float *)PyArray_DATA(vmax) : NULL, (const float *)PyArray_DATA(g), n, step};
    }
    char err[SRNN_ERR_CAP];
    int32_t status = SRNN_OK;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count && status == SRNN_OK; i++)
        status = srnn_adam_step(items[i].p, items[i].g, items[i].n, items[i].m, items[i].v, items[i].vmax, items[i].step,
                                lr, b1, b2, eps, wd, decoupled, maximize, err, sizeof err);
    Py_END_ALLOW_THREADS
    if (status != SRNN_OK) { srnn_raise(status, err); goto done; }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    for (int k = 0; k < 6; k++) Py_XDECREF(lists[k]);
    PyMem_Free(items);
    return result;
}

/* The data pointers and sizes of a sequence of writable float32 gradient arrays. */
static int gradient_list(PyObject *seq_obj, PyObject **seq, float ***ptrs, int64_t **counts, Py_ssize_t *n) {
    *seq = PySequence_Fast(seq_obj, "expected a sequence of gradient arrays");
    if (*seq == NULL) return -1;
    *n = PySequence_Fast_GET_SIZE(*seq);
    *ptrs = PyMem_Malloc(sizeof(float *) * (size_t)(*n ? *n : 1));
    *counts = PyMem_Malloc(sizeof(int64_t) * (size_t)(*n ? *n : 1));
    if (*ptrs == NULL || *counts == NULL) { PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i < *n; i++) {
        PyArrayObject *g = srnn_parameter(PySequence_Fast_GET_ITEM(*seq, i), "a gradient", 1);
        if (g == NULL) return -1;
        (*ptrs)[i] = (float *)PyArray_DATA(g);
        (*counts)[i] = PyArray_SIZE(g);
    }
    return 0;
}

/* clip_grad_norm(grads, max_norm, norm_type, error_if_nonfinite) -> total norm (float) */
static PyObject *clip_grad_norm(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) return PyErr_Format(PyExc_TypeError, "clip_grad_norm takes 4 arguments, got %zd", nargs);
    double max_norm, norm_type;
    int32_t error_if_nonfinite;
    if (as_double(args[1], &max_norm) < 0 || as_double(args[2], &norm_type) < 0 || as_flag(args[3], &error_if_nonfinite) < 0)
        return NULL;
    PyObject *seq = NULL, *result = NULL;
    float **ptrs = NULL;
    int64_t *counts = NULL;
    Py_ssize_t n = 0;
    if (gradient_list(args[0], &seq, &ptrs, &counts, &n) == 0) {
        char err[SRNN_ERR_CAP];
        int32_t status;
        float total = 0;
        CALL_CORE(status, srnn_clip_grad_norm(ptrs, counts, n, max_norm, norm_type, error_if_nonfinite, &total,
                                              err, sizeof err));
        result = status == SRNN_OK ? PyFloat_FromDouble(total) : srnn_raise(status, err);
    }
    Py_XDECREF(seq);
    PyMem_Free(ptrs);
    PyMem_Free(counts);
    return result;
}

/* clip_grad_value(grads, clip_value) -> None */
static PyObject *clip_grad_value(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) return PyErr_Format(PyExc_TypeError, "clip_grad_value takes 2 arguments, got %zd", nargs);
    double clip;
    if (as_double(args[1], &clip) < 0) return NULL;
    PyObject *seq = NULL, *result = NULL;
    float **ptrs = NULL;
    int64_t *counts = NULL;
    Py_ssize_t n = 0;
    if (gradient_list(args[0], &seq, &ptrs, &counts, &n) == 0) {
        char err[SRNN_ERR_CAP];
        int32_t status;
        CALL_CORE(status, srnn_clip_grad_value(ptrs, counts, n, clip, err, sizeof err));
        if (status == SRNN_OK) { Py_INCREF(Py_None); result = Py_None; } else { srnn_raise(status, err); }
    }
    Py_XDECREF(seq);
    PyMem_Free(ptrs);
    PyMem_Free(counts);
    return result;
}

#define FASTCALL(f) (PyCFunction)(void (*)(void))(f), METH_FASTCALL

PyMethodDef srnn_train_methods[] = {
    {"float32_copy", FASTCALL(float32_copy), "float32_copy(obj, what) -> a float32 C-contiguous copy of obj"},
    {"rnn_backward", FASTCALL(rnn_backward),
     "rnn_backward(x, h0, params, desc, masks, saved, grad_output, grad_hn, grads) -> (grad_input, grad_h0)"},
    {"linear_backward", FASTCALL(linear_backward),
     "linear_backward(x, grad_out, weight, grad_weight, grad_bias, want_grad_input) -> grad_input or None"},
    {"embedding_backward", FASTCALL(embedding_backward),
     "embedding_backward(indices, grad_out, grad_weight, padding_idx, scale_grad_by_freq) -> None"},
    {"cross_entropy_forward", FASTCALL(cross_entropy_forward),
     "cross_entropy_forward(logits, target, weight, ignore_index, reduction, label_smoothing, want_probs)"
     " -> (loss, probs, target, weight)"},
    {"cross_entropy_backward", FASTCALL(cross_entropy_backward),
     "cross_entropy_backward(probs, target, weight, ignore_index, reduction, label_smoothing, grad_loss) -> grad"},
    {"sgd_step", FASTCALL(sgd_step), "sgd_step(param, grad, buf, buf_is_new, lr, momentum, dampening, wd, nesterov, maximize)"},
    {"adam_step", FASTCALL(adam_step),
     "adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, wd, decoupled, maximize)"},
    {"adam_step_group", FASTCALL(adam_step_group),
     "adam_step_group(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps, wd, decoupled,"
     " maximize): adam_step for every parameter of a group, one call"},
    {"clip_grad_norm", FASTCALL(clip_grad_norm), "clip_grad_norm(grads, max_norm, norm_type, error_if_nonfinite) -> total"},
    {"clip_grad_value", FASTCALL(clip_grad_value), "clip_grad_value(grads, clip_value) -> None"},
    {NULL, NULL, 0, NULL},
};
