/* Output arrays whose memory is recycled: a NumPy memory handler (PyDataMem_Handler) that keeps the
 * blocks of freed swiftrnn arrays for the next array of the same size.
 *
 * A training step allocates and drops the same large arrays every time (activations, logits, gradients,
 * ~10 MB for a char-LM step). From glibc each such block is a fresh mmap: every page faults and is
 * zeroed by the kernel, which measured ~4 ms of system time per step. Here the freed blocks of large
 * arrays wait in a small bounded cache (exact byte sizes, most recently freed first) and are handed out
 * again. Only the arrays this extension allocates use the handler (it is installed around their
 * creation, never for the caller's own NumPy arrays); such arrays own their memory as any other
 * (`base is None`, OWNDATA) and NumPy frees them through the handler.
 *
 * Bounds: blocks below SMALL_BYTES go straight to malloc/free (glibc recycles those itself); at most
 * MAX_BLOCKS blocks and MAX_BYTES bytes wait in the cache; a block that would exceed either evicts the
 * oldest ones. Thread-safe (a spin lock: the critical sections are a few loads and stores).
 */
#include "native.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define SMALL_BYTES (64 * 1024)
#define MAX_BLOCKS 48
#define MAX_BYTES ((size_t)96 * 1024 * 1024)

typedef struct {
    void *ptr;
    size_t size;
} block;

static block cache[MAX_BLOCKS]; /* cache[0] oldest ... cache[count-1] newest */
static int count;
static size_t cached_bytes;
static atomic_flag lock = ATOMIC_FLAG_INIT;

static void acquire(void) {
    while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire)) {
    }
}

static void release(void) { atomic_flag_clear_explicit(&lock, memory_order_release); }

/* A cached block of exactly `size` bytes (the newest such), or NULL. */
static void *take(size_t size) {
    void *p = NULL;
    acquire();
    for (int i = count - 1; i >= 0; i--) {
        if (cache[i].size == size) {
            p = cache[i].ptr;
            memmove(&cache[i], &cache[i + 1], (size_t)(count - 1 - i) * sizeof(block));
            count--;
            cached_bytes -= size;
            break;
        }
    }
    release();
    return p;
}

static void *cache_malloc(void *ctx, size_t size) {
    if (size >= SMALL_BYTES) {
        void *p = take(size);
        if (p) return p;
    }
    return malloc(size);
}

static void *cache_calloc(void *ctx, size_t nelem, size_t elsize) {
    size_t size;
    if (__builtin_mul_overflow(nelem, elsize, &size)) return NULL;
    if (size >= SMALL_BYTES) {
        void *p = take(size);
        if (p) return memset(p, 0, size);
    }
    return calloc(nelem, elsize);
}

static void *cache_realloc(void *ctx, void *ptr, size_t new_size) { return realloc(ptr, new_size); }

static void cache_free(void *ctx, void *ptr, size_t size) {
    if (ptr == NULL) return;
    if (size < SMALL_BYTES || size > MAX_BYTES / 4) { free(ptr); return; }
    void *evicted[MAX_BLOCKS];
    int n_evicted = 0;
    acquire();
    while (count > 0 && (count == MAX_BLOCKS || cached_bytes + size > MAX_BYTES)) {
        evicted[n_evicted++] = cache[0].ptr;
        cached_bytes -= cache[0].size;
        memmove(&cache[0], &cache[1], (size_t)(count - 1) * sizeof(block));
        count--;
    }
    cache[count].ptr = ptr;
    cache[count].size = size;
    count++;
    cached_bytes += size;
    release();
    for (int i = 0; i < n_evicted; i++) free(evicted[i]);
}

static PyDataMem_Handler handler = {
    "swiftrnn_recycling_allocator",
    1,
    {NULL, cache_malloc, cache_calloc, cache_realloc, cache_free},
};

static PyObject *handler_capsule; /* lives as long as the process */

int srnn_alloc_init(void) {
    handler_capsule = PyCapsule_New(&handler, "mem_handler", NULL);
    return handler_capsule ? 0 : -1;
}

/* Runs `make` with the recycling handler installed in this context, then restores the previous one. */
#define WITH_HANDLER(result, make)                                    \
    do {                                                              \
        PyObject *old_ = PyDataMem_SetHandler(handler_capsule);       \
        if (old_ == NULL) { result = NULL; break; }                   \
        result = (make);                                              \
        PyObject *ours_ = PyDataMem_SetHandler(old_);                 \
        Py_DECREF(old_);                                              \
        if (ours_ == NULL) { Py_XDECREF(result); result = NULL; break; } \
        Py_DECREF(ours_);                                             \
    } while (0)

PyArrayObject *srnn_new_array(int nd, const npy_intp *dims, int typenum, int zeroed) {
    PyObject *a;
    /* Small arrays never reach the cache: skip the two handler swaps (context-variable writes), which
     * would cost more than a tiny call's whole lookup (RNN(4,4), Embedding rows). */
    size_t bytes = 4; /* float32 / int32; int64 arrays are at least this big */
    for (int i = 0; i < nd; i++) {
        if (dims[i] < 0 || __builtin_mul_overflow(bytes, (size_t)dims[i], &bytes)) { bytes = SIZE_MAX; break; }
    }
    if (bytes < SMALL_BYTES) {
        a = zeroed ? PyArray_ZEROS(nd, (npy_intp *)dims, typenum, 0) : PyArray_SimpleNew(nd, (npy_intp *)dims, typenum);
        return (PyArrayObject *)a;
    }
    WITH_HANDLER(a, zeroed ? PyArray_ZEROS(nd, (npy_intp *)dims, typenum, 0)
                           : PyArray_SimpleNew(nd, (npy_intp *)dims, typenum));
    return (PyArrayObject *)a;
}

PyArrayObject *srnn_copy_array(PyArrayObject *src) {
    if (PyArray_IS_C_CONTIGUOUS(src) && PyArray_ISNOTSWAPPED(src)) {
        /* The common case (a converted argument): a plain copy of the bytes into a new array, which for a
         * small array skips the handler swaps as srnn_new_array does (they cost more than a tiny copy). */
        PyArrayObject *a = srnn_new_array(PyArray_NDIM(src), PyArray_DIMS(src), PyArray_TYPE(src), 0);
        if (a != NULL) memcpy(PyArray_DATA(a), PyArray_DATA(src), (size_t)PyArray_NBYTES(src));
        return a;
    }
    PyObject *a;
    WITH_HANDLER(a, PyArray_NewCopy(src, NPY_CORDER));
    return (PyArrayObject *)a;
}

/* Shape tuple -> dims; -1 with an exception set. */
static int parse_shape(PyObject *shape, npy_intp *dims, int *nd) {
    if (!PyTuple_Check(shape)) {
        PyErr_SetString(PyExc_TypeError, "shape must be a tuple");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(shape);
    if (n > NPY_MAXDIMS) {
        PyErr_Format(PyExc_ValueError, "at most %d dimensions", NPY_MAXDIMS);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long long v = PyLong_AsLongLong(PyTuple_GET_ITEM(shape, i));
        if (v == -1 && PyErr_Occurred()) return -1;
        if (v < 0) {
            PyErr_SetString(PyExc_ValueError, "negative dimension");
            return -1;
        }
        dims[i] = (npy_intp)v;
    }
    *nd = (int)n;
    return 0;
}

/* float32_empty(shape) / float32_zeros(shape): new float32 arrays from the recycling allocator. */
static PyObject *float32_empty(PyObject *self, PyObject *shape) {
    npy_intp dims[NPY_MAXDIMS];
    int nd;
    if (parse_shape(shape, dims, &nd) < 0) return NULL;
    return (PyObject *)srnn_new_array(nd, dims, NPY_FLOAT32, 0);
}

static PyObject *float32_zeros(PyObject *self, PyObject *shape) {
    npy_intp dims[NPY_MAXDIMS];
    int nd;
    if (parse_shape(shape, dims, &nd) < 0) return NULL;
    return (PyObject *)srnn_new_array(nd, dims, NPY_FLOAT32, 1);
}

/* For tests: (blocks, bytes) waiting in the cache. */
static PyObject *allocator_cache_info(PyObject *self, PyObject *noargs) {
    int n;
    size_t bytes;
    acquire();
    n = count;
    bytes = cached_bytes;
    release();
    return Py_BuildValue("(in)", n, (Py_ssize_t)bytes);
}

PyMethodDef srnn_alloc_methods[] = {
    {"float32_empty", float32_empty, METH_O, "float32_empty(shape) -> uninitialised float32 array (recycled memory)"},
    {"float32_zeros", float32_zeros, METH_O, "float32_zeros(shape) -> zeroed float32 array (recycled memory)"},
    {"allocator_cache_info", allocator_cache_info, METH_NOARGS,
     "allocator_cache_info() -> (blocks, bytes) of freed array memory kept for reuse"},
    {NULL, NULL, 0, NULL},
};
