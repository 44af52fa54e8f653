/*
 * Shared declarations of the swiftrnn._native extension (one module built from every .c file here: one
 * file per layer or family — embedding.c, linear.c, rnn.c, loss.c, optim.c, random.c — plus the argument
 * helpers (args.h), the recycling allocator (alloc.c) and the module definition (module.c)).
 * The extension is thin: it converts Python inputs to C-contiguous NumPy arrays, checks what the core does
 * not (the RNN's shape rules live in the core: srnn_rnn_check_call), allocates outputs, releases the GIL
 * around one call into the Swift core (swiftrnn.h) and maps the core's status codes to Python exceptions.
 */
#ifndef SWIFTRNN_NATIVE_H
#define SWIFTRNN_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
/* PyDataMem_SetHandler (alloc.c) is NumPy 1.22+ API; the package requires NumPy 1.26+. */
#define NPY_TARGET_VERSION NPY_1_22_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL SRNN_NUMPY_API
#ifndef SRNN_MODULE_MAIN
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include "swiftrnn.h"

#if PY_VERSION_HEX < 0x030A0000
/* CPython 3.9's PyLong_AsLong* fall back to __int__ (a float 1.5 becomes 1 with a DeprecationWarning);
   3.10+ take only __index__ (a float is a TypeError). Give 3.9 the 3.10 behaviour, so an integer
   argument is checked the same way on every supported Python. */
static inline PyObject *srnn_py39_index(PyObject *o) {
    if (PyLong_Check(o)) { Py_INCREF(o); return o; }
    return PyNumber_Index(o);
}
static inline long long srnn_py39_as_long_long(PyObject *o) {
    PyObject *i = srnn_py39_index(o);
    if (i == NULL) return -1;
    long long v = PyLong_AsLongLong(i);
    Py_DECREF(i);
    return v;
}
static inline long srnn_py39_as_long(PyObject *o) {
    PyObject *i = srnn_py39_index(o);
    if (i == NULL) return -1;
    long v = PyLong_AsLong(i);
    Py_DECREF(i);
    return v;
}
static inline long long srnn_py39_as_long_long_and_overflow(PyObject *o, int *overflow) {
    *overflow = 0;
    PyObject *i = srnn_py39_index(o);
    if (i == NULL) return -1;
    long long v = PyLong_AsLongLongAndOverflow(i, overflow);
    Py_DECREF(i);
    return v;
}
#define PyLong_AsLongLong srnn_py39_as_long_long
#define PyLong_AsLong srnn_py39_as_long
#define PyLong_AsLongLongAndOverflow srnn_py39_as_long_long_and_overflow
#endif

/* Size of the buffer the core writes its error messages into. */
#define SRNN_ERR_CAP 512

/* Sets the Python exception that `status` stands for, with `message`; returns NULL. */
PyObject *srnn_raise(int32_t status, const char *message);

/* Writes a shape as Python prints a tuple, e.g. "(4, 2, 3)", "(5,)". */
void srnn_format_shape(const npy_intp *dims, int ndim, char *buf, size_t cap);

/*
 * A new reference to `obj` as a C-contiguous, aligned float32 array: any real floating dtype is cast,
 * non-contiguous input copied, nested lists and objects with __array__ accepted. Integer, bool,
 * complex, string and object data raise TypeError naming `what`.
 */
PyArrayObject *srnn_as_float32(PyObject *obj, const char *what);

/*
 * A new reference to `obj` as a C-contiguous int64 array of indices: Python ints, lists and arrays of
 * any integer dtype. Float, bool, complex, string and object data raise TypeError. Unsigned values
 * beyond int64 raise IndexError.
 */
PyArrayObject *srnn_as_indices(PyObject *obj, const char *what);

/* A module-owned parameter: must be a C-contiguous float32 ndarray (TypeError otherwise). Borrowed. */
PyArrayObject *srnn_parameter(PyObject *obj, const char *what, int writable);


/* Arrays from the recycling allocator (alloc.c): the blocks of freed large swiftrnn arrays are reused
 * by the next array of the same size instead of fresh (page-faulting) memory. New references or NULL
 * with an exception set. srnn_alloc_init runs once at import. */
int srnn_alloc_init(void);
PyArrayObject *srnn_new_array(int nd, const npy_intp *dims, int typenum, int zeroed);
PyArrayObject *srnn_copy_array(PyArrayObject *src);

/* The method tables of each source file, merged by module.c. */
extern PyMethodDef srnn_embedding_methods[];
extern PyMethodDef srnn_linear_methods[];
extern PyMethodDef srnn_rnn_methods[];
extern PyMethodDef srnn_loss_methods[];
extern PyMethodDef srnn_optim_methods[];
extern PyMethodDef srnn_random_methods[];
extern PyMethodDef srnn_alloc_methods[];

#endif
