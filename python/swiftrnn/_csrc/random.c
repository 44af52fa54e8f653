/*
 * The random generator: fills and parameter initialisation over a caller-owned srnn_generator.
 *
 * Python owns each generator's state as a NumPy uint64 array of srnn_generator_size() bytes
 * (swiftrnn.random.Generator); every function here takes it first. These calls are short and keep the
 * GIL: two Python threads never run a fill on the same state at once, which is what makes the shared
 * default generator thread-safe without a lock of its own.
 */
#include "args.h"

#include <stdalign.h>

/* The srnn_generator inside a state array made by swiftrnn.random (NULL + TypeError otherwise). */
static srnn_generator *generator_of(PyObject *obj) {
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "generator state must be a NumPy array, got %s", Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    if (!PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISWRITEABLE(a) || PyArray_NBYTES(a) != (npy_intp)sizeof(srnn_generator) ||
        ((uintptr_t)PyArray_DATA(a) % alignof(srnn_generator)) != 0) {
        PyErr_Format(PyExc_TypeError, "generator state must be a writable, aligned, C-contiguous array of %zu bytes",
                     sizeof(srnn_generator));
        return NULL;
    }
    return (srnn_generator *)PyArray_DATA(a);
}

/* `obj` as a writable, aligned, C-contiguous ndarray of `type` to fill in place (borrowed). */
static PyArrayObject *fill_target(PyObject *obj, int type, const char *what) {
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a NumPy array, got %s", what, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    if (PyArray_TYPE(a) != type || !PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISALIGNED(a) || !PyArray_ISWRITEABLE(a)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a writable, C-contiguous %s array", what,
                     type == NPY_FLOAT32 ? "float32" : "int64");
        return NULL;
    }
    return a;
}

#define RETURN_STATUS(status, err)                   \
    do {                                             \
        if ((status) != SRNN_OK) return srnn_raise((status), (err)); \
        Py_RETURN_NONE;                              \
    } while (0)

static PyObject *generator_size(PyObject *self, PyObject *noargs) {
    return PyLong_FromSize_t(srnn_generator_size());
}

/* generator_seed(state, seed: int in [0, 2**64)) */
static PyObject *generator_seed(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    CHECK_NARGS("generator_seed", 2);
    srnn_generator *g = generator_of(args[0]);
    if (g == NULL) return NULL;
    unsigned long long seed = PyLong_AsUnsignedLongLong(args[1]);
    if (seed == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    srnn_generator_seed(g, (uint64_t)seed);
    Py_RETURN_NONE;
}

/* generator_initial_seed(state) -> int */
static PyObject *generator_initial_seed(PyObject *self, PyObject *arg) {
    srnn_generator *g = generator_of(arg);
    if (g == NULL) return NULL;
    return PyLong_FromUnsignedLongLong(g->initial_seed);
}

/* generator_get_state(state) -> uint8 array of torch.get_rng_state()'s layout */
static PyObject *generator_get_state(PyObject *self, PyObject *arg) {
    srnn_generator *g = generator_of(arg);
    if (g == NULL) return NULL;
    npy_intp n = SRNN_TORCH_STATE_BYTES;
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_UINT8);
    if (out == NULL) return NULL;
    char err[SRNN_ERR_CAP];
    int32_t status = srnn_generator_get_state(g, (uint8_t *)PyArray_DATA(out), (size_t)n, err, sizeof err);
    if (status != SRNN_OK) { Py_DECREF(out); return srnn_raise(status, err); }
    return (PyObject *)out;
}

/* generator_set_state(state, new_state: C-contiguous uint8 array) */
static PyObject *generator_set_state(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    CHECK_NARGS("generator_set_state", 2);
    srnn_generator *g = generator_of(args[0]);
    if (g == NULL) return NULL;
    if (!PyArray_Check(args[1]) || PyArray_TYPE((PyArrayObject *)args[1]) != NPY_UINT8 ||
        !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)args[1])) {
        return PyErr_Format(PyExc_TypeError, "generator_set_state expects a C-contiguous uint8 array");
    }
    PyArrayObject *bytes = (PyArrayObject *)args[1];
    char err[SRNN_ERR_CAP];
    int32_t status = srnn_generator_set_state(g, (const uint8_t *)PyArray_DATA(bytes), (size_t)PyArray_NBYTES(bytes),
                                              err, sizeof err);
    RETURN_STATUS(status, err);
}

/* fill_uniform / fill_normal(state, out float32, a, b): uniform_(from=a, to=b) / normal_(mean=a, std=b) */
#define FLOAT_FILL_2(name, call)                                                                  \
    static PyObject *name(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {              \
        CHECK_NARGS(#name, 4);                                                                    \
        double a, b; /* scalars first: converting them may run user code that changes the arrays */ \
        if (srnn_arg_double(args[2], &a) < 0 || srnn_arg_double(args[3], &b) < 0) return NULL;  \
        srnn_generator *g = generator_of(args[0]);                                                \
        if (g == NULL) return NULL;                                                               \
        PyArrayObject *out = fill_target(args[1], NPY_FLOAT32, #name);                            \
        if (out == NULL) return NULL;                                                             \
        char err[SRNN_ERR_CAP];                                                                   \
        int32_t status = call(g, (float *)PyArray_DATA(out), PyArray_SIZE(out), a, b, err, sizeof err); \
        RETURN_STATUS(status, err);                                                               \
    }
FLOAT_FILL_2(fill_uniform, srnn_fill_uniform)
FLOAT_FILL_2(fill_normal, srnn_fill_normal)

/* fill_bernoulli / fill_dropout_mask(state, out float32, p) */
#define FLOAT_FILL_1(name, call)                                                                  \
    static PyObject *name(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {              \
        CHECK_NARGS(#name, 3);                                                                    \
        double p; /* the scalar first: converting it may run user code that changes the arrays */ \
        if (srnn_arg_double(args[2], &p) < 0) return NULL;                                        \
        srnn_generator *g = generator_of(args[0]);                                                \
        if (g == NULL) return NULL;                                                               \
        PyArrayObject *out = fill_target(args[1], NPY_FLOAT32, #name);                            \
        if (out == NULL) return NULL;                                                             \
        char err[SRNN_ERR_CAP];                                                                   \
        int32_t status = call(g, (float *)PyArray_DATA(out), PyArray_SIZE(out), p, err, sizeof err); \
        RETURN_STATUS(status, err);                                                               \
    }
FLOAT_FILL_1(fill_bernoulli, srnn_fill_bernoulli)
FLOAT_FILL_1(fill_dropout_mask, srnn_fill_dropout_mask)

/* fill_randint(state, out int64, low, high) */
static PyObject *fill_randint(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    CHECK_NARGS("fill_randint", 4);
    int64_t low, high; /* scalars first: converting them may run user code that changes the arrays */
    if (srnn_arg_int64(args[2], &low) < 0 || srnn_arg_int64(args[3], &high) < 0) return NULL;
    srnn_generator *g = generator_of(args[0]);
    if (g == NULL) return NULL;
    PyArrayObject *out = fill_target(args[1], NPY_INT64, "fill_randint");
    if (out == NULL) return NULL;
    char err[SRNN_ERR_CAP];
    int32_t status = srnn_fill_randint(g, (int64_t *)PyArray_DATA(out), PyArray_SIZE(out), low, high, err, sizeof err);
    RETURN_STATUS(status, err);
}

/* init_linear(state, weight (out, in) float32, bias (out,) float32 or None) */
static PyObject *init_linear(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    CHECK_NARGS("init_linear", 3);
    srnn_generator *g = generator_of(args[0]);
    if (g == NULL) return NULL;
    PyArrayObject *weight = fill_target(args[1], NPY_FLOAT32, "Linear.weight");
    if (weight == NULL) return NULL;
    if (PyArray_NDIM(weight) != 2) return PyErr_Format(PyExc_ValueError, "Linear.weight must be 2-d");
    npy_intp out_features = PyArray_DIM(weight, 0), in_features = PyArray_DIM(weight, 1);
    float *bias = NULL;
    if (args[2] != Py_None) {
        PyArrayObject *b = fill_target(args[2], NPY_FLOAT32, "Linear.bias");
        if (b == NULL) return NULL;
        if (PyArray_NDIM(b) != 1 || PyArray_DIM(b, 0) != out_features) {
            return PyErr_Format(PyExc_ValueError, "Linear.bias must have shape (%zd,)", (Py_ssize_t)out_features);
        }
        bias = (float *)PyArray_DATA(b);
    }
    char err[SRNN_ERR_CAP];
    int32_t status = srnn_init_linear(g, (float *)PyArray_DATA(weight), out_features, in_features, bias, err, sizeof err);
    RETURN_STATUS(status, err);
}

/* init_rnn(state, params: sequence of float32 arrays in state_dict order, hidden_size) */
static PyObject *init_rnn(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    CHECK_NARGS("init_rnn", 3);
    int64_t hidden_size;
    if (srnn_arg_int64(args[2], &hidden_size) < 0) return NULL;
    srnn_params p;
    if (srnn_params_gather(args[1], "RNN parameter", 1, 0, &p) < 0) { srnn_params_release(&p); return NULL; }
    srnn_generator *g = generator_of(args[0]);
    char err[SRNN_ERR_CAP];
    int32_t status = g ? srnn_init_rnn(g, p.data, p.sizes, p.count, hidden_size, err, sizeof err) : SRNN_OK;
    srnn_params_release(&p);
    if (g == NULL) return NULL;
    RETURN_STATUS(status, err);
}

/* init_embedding(state, weight (num, dim) float32, padding_idx: int in [0, num) or None) */
static PyObject *init_embedding(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    CHECK_NARGS("init_embedding", 3);
    int64_t padding_idx = -1; /* the scalar first: converting it may run user code that changes the weight */
    if (args[2] != Py_None && srnn_arg_int64(args[2], &padding_idx) < 0) return NULL;
    srnn_generator *g = generator_of(args[0]);
    if (g == NULL) return NULL;
    PyArrayObject *weight = fill_target(args[1], NPY_FLOAT32, "Embedding.weight");
    if (weight == NULL) return NULL;
    if (PyArray_NDIM(weight) != 2) return PyErr_Format(PyExc_ValueError, "Embedding.weight must be 2-d");
    if (args[2] != Py_None && padding_idx < 0) {
        return PyErr_Format(PyExc_ValueError, "init_embedding expects a normalised padding_idx >= 0, got %lld",
                            (long long)padding_idx);
    }
    char err[SRNN_ERR_CAP];
    int32_t status = srnn_init_embedding(g, (float *)PyArray_DATA(weight), PyArray_DIM(weight, 0),
                                         PyArray_DIM(weight, 1), padding_idx, err, sizeof err);
    RETURN_STATUS(status, err);
}


PyMethodDef srnn_random_methods[] = {
    {"generator_size", generator_size, METH_NOARGS, "generator_size() -> bytes of one generator state"},
    {"generator_seed", FASTCALL(generator_seed), "generator_seed(state, seed) -- torch.manual_seed"},
    {"generator_initial_seed", generator_initial_seed, METH_O, "generator_initial_seed(state) -> int"},
    {"generator_get_state", generator_get_state, METH_O, "generator_get_state(state) -> uint8 array (torch layout)"},
    {"generator_set_state", FASTCALL(generator_set_state), "generator_set_state(state, uint8 array)"},
    {"fill_uniform", FASTCALL(fill_uniform), "fill_uniform(state, out, from, to) -- Tensor.uniform_"},
    {"fill_normal", FASTCALL(fill_normal), "fill_normal(state, out, mean, std) -- Tensor.normal_"},
    {"fill_randint", FASTCALL(fill_randint), "fill_randint(state, out, low, high) -- torch.randint"},
    {"fill_bernoulli", FASTCALL(fill_bernoulli), "fill_bernoulli(state, out, p) -- Tensor.bernoulli_"},
    {"fill_dropout_mask", FASTCALL(fill_dropout_mask), "fill_dropout_mask(state, out, p) -- scaled dropout mask"},
    {"init_linear", FASTCALL(init_linear), "init_linear(state, weight, bias) -- nn.Linear's init"},
    {"init_rnn", FASTCALL(init_rnn), "init_rnn(state, params, hidden_size) -- nn.RNN's init"},
    {"init_embedding", FASTCALL(init_embedding), "init_embedding(state, weight, padding_idx) -- nn.Embedding's init"},
    {NULL, NULL, 0, NULL},
};
