/*
 * Argument helpers of swiftrnn._native: one convention for every entry point.
 *
 *   - Every helper that can fail returns 0 on success and -1 with a Python exception set (pointer-returning
 *     helpers: NULL with an exception set).
 *   - An entry point first converts every argument (scalars, then arrays: a conversion may run user Python,
 *     __array__, __float__, __index__, __bool__, which may change other arguments in place), then gathers the
 *     module-owned parameters (no user code runs there), then validates shapes — through the core for the
 *     layers whose shape rules live there — then allocates outputs, and calls the core once with the GIL
 *     released (CALL_CORE). Nothing is read from caller memory that a later step trusts to be unchanged.
 */
#ifndef SWIFTRNN_ARGS_H
#define SWIFTRNN_ARGS_H

#include "native.h"

/* Releases the GIL around one call into the core. */
#define CALL_CORE(status, call)        \
    do {                               \
        Py_BEGIN_ALLOW_THREADS         \
        status = (call);               \
        Py_END_ALLOW_THREADS           \
    } while (0)

/* A METH_FASTCALL entry of a method table. */
#define FASTCALL(f) (PyCFunction)(void (*)(void))(f), METH_FASTCALL

/* TypeError unless a fast-call entry point got exactly `n` arguments. */
#define CHECK_NARGS(name, n)                                                                           \
    do {                                                                                               \
        if (nargs != (n)) return PyErr_Format(PyExc_TypeError, name " takes %d arguments, got %zd", (n), nargs); \
    } while (0)

/* Scalars: 0 on success, -1 with an exception set. */
int srnn_arg_double(PyObject *o, double *out);
int srnn_arg_int64(PyObject *o, int64_t *out);
int srnn_arg_flag(PyObject *o, int32_t *out); /* truthiness, as `bool(o)` */

/* Shapes and their messages. */
#define SRNN_SHAPE_CAP 256
int srnn_same_shape(PyArrayObject *a, const npy_intp *dims, int nd);
/* ValueError "expected <what> of shape <want>, got <got>"; returns NULL. */
PyObject *srnn_shape_error(const char *what, const npy_intp *want, int want_nd, PyArrayObject *got);
/* A gradient buffer to accumulate into: a writable C-contiguous float32 array of the given shape. Borrowed. */
PyArrayObject *srnn_grad_buffer(PyObject *obj, const char *what, const npy_intp *dims, int nd);
/* The shape of `a` as the core's checks take it (npy_intp and int64_t are the same width here). */
static inline srnn_shape srnn_shape_of(PyArrayObject *a) {
    return (srnn_shape){(int32_t)PyArray_NDIM(a), (const int64_t *)PyArray_DIMS(a)};
}

/* A new int64 array of the indices in `obj` that shares memory with nothing the caller holds: the core
 * may then check each index and read it again later without another thread changing it in between. */
PyArrayObject *srnn_private_indices(PyObject *obj, const char *what);
/* A new float32 array of `obj` that shares memory with nothing the caller holds (a training forward saves it). */
PyArrayObject *srnn_private_float32(PyObject *obj, const char *what);

/*
 * The module-owned arrays of one call, gathered once: a sequence of parameters (srnn_parameter's rules), or of
 * gradient buffers with None allowed. data[i] is NULL for a None entry (shapes[i].ndim -1, sizes[i] 0);
 * shapes[i] views the array's dims, sizes[i] is its element count. A sequence that is not a list or tuple is
 * turned into one first (iterating it may run user code: before any array is looked at). Small lists live
 * inline, larger ones in one heap block. srnn_params_release frees it (safe on a zeroed struct).
 */
#define SRNN_INLINE_PARAMS 16
typedef struct srnn_params {
    Py_ssize_t count;
    float **data;
    srnn_shape *shapes;
    int64_t *sizes;
    PyObject *seq;
    void *heap;
    float *inline_data[SRNN_INLINE_PARAMS];
    srnn_shape inline_shapes[SRNN_INLINE_PARAMS];
    int64_t inline_sizes[SRNN_INLINE_PARAMS];
} srnn_params;

int srnn_params_gather(PyObject *seq, const char *what, int writable, int allow_none, srnn_params *out);
void srnn_params_release(srnn_params *p);

#endif
