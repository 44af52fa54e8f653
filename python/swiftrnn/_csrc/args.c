/* The argument helpers of swiftrnn._native (args.h): conversions of Python objects to arrays and scalars,
 * shape messages, the parameter-gathering routine and the mapping of the core's status codes to exceptions. */
#include "args.h"

_Static_assert(sizeof(npy_intp) == sizeof(int64_t), "NumPy's dims are passed to the core as int64");

PyObject *srnn_raise(int32_t status, const char *message) {
    PyObject *type;
    switch (status) {
    case SRNN_VALUE_ERROR: type = PyExc_ValueError; break;
    case SRNN_INDEX_ERROR: type = PyExc_IndexError; break;
    case SRNN_OVERFLOW_ERROR: type = PyExc_OverflowError; break;
    case SRNN_MEMORY_ERROR: type = PyExc_MemoryError; break;
    case SRNN_TYPE_ERROR: type = PyExc_TypeError; break;
    default: type = PyExc_RuntimeError; break;
    }
    PyErr_SetString(type, message);
    return NULL;
}

void srnn_format_shape(const npy_intp *dims, int ndim, char *buf, size_t cap) {
    size_t used = 0;
    used += (size_t)snprintf(buf + used, cap - used, "(");
    for (int i = 0; i < ndim && used < cap; i++) {
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    }
    if (used < cap) snprintf(buf + used, cap - used, ndim == 1 ? ",)" : ")");
}

/* "float64", "int32", ... for messages. */
static const char *dtype_name(PyArrayObject *a) {
    switch (PyArray_TYPE(a)) {
    case NPY_BOOL: return "bool";
    case NPY_BYTE: return "int8";
    case NPY_UBYTE: return "uint8";
    case NPY_SHORT: return "int16";
    case NPY_USHORT: return "uint16";
    case NPY_INT: return "int32";
    case NPY_UINT: return "uint32";
    case NPY_LONG: return sizeof(long) == 8 ? "int64" : "int32";
    case NPY_ULONG: return sizeof(long) == 8 ? "uint64" : "uint32";
    case NPY_LONGLONG: return "int64";
    case NPY_ULONGLONG: return "uint64";
    case NPY_HALF: return "float16";
    case NPY_FLOAT: return "float32";
    case NPY_DOUBLE: return "float64";
    case NPY_LONGDOUBLE: return "longdouble";
    case NPY_CFLOAT: return "complex64";
    case NPY_CDOUBLE: return "complex128";
    case NPY_CLONGDOUBLE: return "clongdouble";
    case NPY_OBJECT: return "object";
    case NPY_STRING: return "bytes";
    case NPY_UNICODE: return "str";
    default: return "an unsupported dtype";
    }
}

/* PyArray_FromAny, plus objects that offer only the DLPack protocol (no __array__, no buffer): those go
 * through numpy.from_dlpack (zero-copy for CPU producers; NumPy's error for others). Arrays, sequences,
 * scalars, buffers and __array__ objects (torch tensors included) take the plain path. */
static PyArrayObject *from_any(PyObject *obj) {
    if (!PyArray_Check(obj) && !PyList_Check(obj) && !PyTuple_Check(obj) && !PyLong_Check(obj)
            && !PyFloat_Check(obj) && !PyObject_CheckBuffer(obj)
            && PyObject_HasAttrString(obj, "__dlpack__") && !PyObject_HasAttrString(obj, "__array__")
            && !PyObject_HasAttrString(obj, "__array_interface__")) {
        PyObject *numpy = PyImport_ImportModule("numpy");
        if (numpy == NULL) return NULL;
        PyObject *converted = PyObject_CallMethod(numpy, "from_dlpack", "O", obj);
        Py_DECREF(numpy);
        if (converted == NULL) return NULL;
        PyArrayObject *a = (PyArrayObject *)PyArray_FromAny(converted, NULL, 0, 0, 0, NULL);
        Py_DECREF(converted);
        return a;
    }
    return (PyArrayObject *)PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
}

/* After a failed conversion: a clearer exception for what users pass by mistake. torch's PackedSequence (a
 * named tuple NumPy reads as ragged) says what to do instead; NumPy's ValueError for ragged nested lists
 * gets the argument's name in front. */
static void explain_conversion_error(PyObject *obj, const char *what) {
    if (strcmp(Py_TYPE(obj)->tp_name, "PackedSequence") == 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError,
                     "%s is a PackedSequence, which only nn.RNN, nn.LSTM and nn.GRU take: pass packed.data (its rows) "
                     "here, or the padded batch (nn.utils.rnn.pad_packed_sequence)", what);
    } else if (PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        PyErr_Format(PyExc_ValueError, "%s is not a rectangular array of numbers: %S", what, value);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
}

/* `obj` as an array of whatever dtype it has (the clearer errors for a failed conversion), and whether it is
 * an empty list or tuple (which has NumPy's default dtype, float64, and fits any dtype). */
static PyArrayObject *convert(PyObject *obj, const char *what, int *empty_sequence) {
    PyArrayObject *a = from_any(obj);
    if (a == NULL) {
        explain_conversion_error(obj, what);
        return NULL;
    }
    *empty_sequence = PyArray_SIZE(a) == 0 && (PyList_Check(obj) || PyTuple_Check(obj));
    return a;
}

PyArrayObject *srnn_as_float32(PyObject *obj, const char *what) {
    int empty_sequence;
    PyArrayObject *a = convert(obj, what, &empty_sequence);
    if (a == NULL) return NULL;
    int t = PyArray_TYPE(a);
    if (!PyTypeNum_ISFLOAT(t) && !empty_sequence) {
        PyErr_Format(PyExc_TypeError, "%s must hold floating-point numbers, got dtype %s", what, dtype_name(a));
        Py_DECREF(a);
        return NULL;
    }
    PyArrayObject *f = (PyArrayObject *)PyArray_FROM_OTF((PyObject *)a, NPY_FLOAT32,
                                                         NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
    Py_DECREF(a);
    return f;
}

PyArrayObject *srnn_as_indices(PyObject *obj, const char *what) {
    int empty_sequence;
    PyArrayObject *a = convert(obj, what, &empty_sequence);
    if (a == NULL) return NULL;
    int t = PyArray_TYPE(a);
    if (t == NPY_OBJECT && PyArray_SIZE(a) > 0) {
        /* NumPy keeps Python ints beyond 64 bits as objects: if every element is an int, the first one
         * that does not fit is an index out of any range. Anything else is a TypeError below. */
        PyArrayObject *c = (PyArrayObject *)PyArray_FROM_OTF((PyObject *)a, NPY_OBJECT, NPY_ARRAY_IN_ARRAY);
        if (c == NULL) { Py_DECREF(a); return NULL; }
        PyObject **items = (PyObject **)PyArray_DATA(c);
        npy_intp n = PyArray_SIZE(c);
        PyObject *huge = NULL;
        int all_ints = 1;
        for (npy_intp i = 0; i < n && all_ints; i++) {
            PyObject *item = items[i];
            all_ints = item != NULL && PyLong_Check(item) && !PyBool_Check(item);
            if (all_ints && huge == NULL) {
                int overflow = 0;
                (void)PyLong_AsLongLongAndOverflow(item, &overflow);
                if (overflow) huge = item;
            }
        }
        if (all_ints && huge != NULL) {
            PyErr_Format(PyExc_IndexError, "%s: index %S is out of range (it does not fit in 64 bits)", what, huge);
            Py_DECREF(c);
            Py_DECREF(a);
            return NULL;
        }
        Py_DECREF(c);
    }
    if ((!PyTypeNum_ISINTEGER(t) || PyTypeNum_ISBOOL(t)) && !empty_sequence) {
        PyErr_Format(PyExc_TypeError, "%s must be integers (any integer dtype), got dtype %s", what, dtype_name(a));
        Py_DECREF(a);
        return NULL;
    }
    if (t == NPY_ULONGLONG || (t == NPY_ULONG && sizeof(long) == 8)) {
        /* Values beyond int64 would wrap to negative numbers: name them as they are. */
        npy_intp n = PyArray_SIZE(a);
        PyArrayObject *c = (PyArrayObject *)PyArray_FROM_OTF((PyObject *)a, NPY_ULONGLONG, NPY_ARRAY_IN_ARRAY);
        Py_DECREF(a);
        if (c == NULL) return NULL;
        const unsigned long long *v = (const unsigned long long *)PyArray_DATA(c);
        for (npy_intp i = 0; i < n; i++) {
            if (v[i] > (unsigned long long)INT64_MAX) {
                PyErr_Format(PyExc_IndexError, "%s: index %llu is out of range", what, v[i]);
                Py_DECREF(c);
                return NULL;
            }
        }
        a = c;
    }
    PyArrayObject *r = (PyArrayObject *)PyArray_FROM_OTF((PyObject *)a, NPY_INT64,
                                                         NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
    Py_DECREF(a);
    return r;
}

PyArrayObject *srnn_parameter(PyObject *obj, const char *what, int writable) {
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a float32 NumPy array, got %s", what, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    if (PyArray_TYPE(a) != NPY_FLOAT32 || !PyArray_ISNOTSWAPPED(a) || !PyArray_IS_C_CONTIGUOUS(a) ||
        !PyArray_ISALIGNED(a) || (writable && !PyArray_ISWRITEABLE(a))) {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous, aligned, native-byte-order%s float32 array (dtype %s); "
                     "assign parameters through load_state_dict", what, writable ? ", writable" : "", dtype_name(a));
        return NULL;
    }
    return a;
}


int srnn_arg_double(PyObject *o, double *out) {
    *out = PyFloat_AsDouble(o);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

int srnn_arg_int64(PyObject *o, int64_t *out) {
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) return -1;
    *out = (int64_t)v;
    return 0;
}

int srnn_arg_flag(PyObject *o, int32_t *out) {
    int v = PyObject_IsTrue(o);
    if (v < 0) return -1;
    *out = v;
    return 0;
}

int srnn_same_shape(PyArrayObject *a, const npy_intp *dims, int nd) {
    if (PyArray_NDIM(a) != nd) return 0;
    for (int i = 0; i < nd; i++)
        if (PyArray_DIM(a, i) != dims[i]) return 0;
    return 1;
}

PyObject *srnn_shape_error(const char *what, const npy_intp *want, int want_nd, PyArrayObject *got) {
    char w[SRNN_SHAPE_CAP], g[SRNN_SHAPE_CAP];
    srnn_format_shape(want, want_nd, w, sizeof w);
    srnn_format_shape(PyArray_DIMS(got), PyArray_NDIM(got), g, sizeof g);
    return PyErr_Format(PyExc_ValueError, "expected %s of shape %s, got %s", what, w, g);
}

PyArrayObject *srnn_grad_buffer(PyObject *obj, const char *what, const npy_intp *dims, int nd) {
    PyArrayObject *a = srnn_parameter(obj, what, 1);
    if (a == NULL) return NULL;
    if (!srnn_same_shape(a, dims, nd)) { srnn_shape_error(what, dims, nd, a); return NULL; }
    return a;
}

/* Whether `a`, converted from `obj`, is memory NumPy made in the conversion (owning its data, no base):
 * then nothing the caller holds shares it. */
static int fresh_conversion(PyArrayObject *a, PyObject *obj) {
    return (PyObject *)a != obj && PyArray_BASE(a) == NULL && PyArray_CHKFLAGS(a, NPY_ARRAY_OWNDATA);
}

PyArrayObject *srnn_private_indices(PyObject *obj, const char *what) {
    PyArrayObject *a = srnn_as_indices(obj, what);
    if (a == NULL || fresh_conversion(a, obj)) return a;
    PyArrayObject *c = srnn_copy_array(a);
    Py_DECREF(a);
    return c;
}

PyArrayObject *srnn_private_float32(PyObject *obj, const char *what) {
    PyArrayObject *a = srnn_as_float32(obj, what);
    if (a == NULL || fresh_conversion(a, obj)) return a;
    PyArrayObject *c = srnn_copy_array(a);
    Py_DECREF(a);
    return c;
}

int srnn_params_gather(PyObject *seq, const char *what, int writable, int allow_none, srnn_params *out) {
    memset(out, 0, sizeof *out);
    out->seq = PySequence_Fast(seq, "expected a sequence of arrays");
    if (out->seq == NULL) {
        PyErr_Format(PyExc_TypeError, "%s: expected a sequence of float32 arrays, got %s", what, Py_TYPE(seq)->tp_name);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(out->seq);
    out->count = n;
    out->data = out->inline_data;
    out->shapes = out->inline_shapes;
    out->sizes = out->inline_sizes;
    if (n > SRNN_INLINE_PARAMS) {
        size_t each = sizeof(float *) + sizeof(srnn_shape) + sizeof(int64_t);
        if ((size_t)n > PY_SSIZE_T_MAX / each || (out->heap = PyMem_Malloc((size_t)n * each)) == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        out->shapes = (srnn_shape *)out->heap;
        out->sizes = (int64_t *)(out->shapes + n);
        out->data = (float **)(out->sizes + n);
    }
    PyObject **items = PySequence_Fast_ITEMS(out->seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (items[i] == Py_None && allow_none) {
            out->data[i] = NULL;
            out->shapes[i] = (srnn_shape){-1, NULL};
            out->sizes[i] = 0;
            continue;
        }
        PyArrayObject *a = srnn_parameter(items[i], what, writable);
        if (a == NULL) return -1;
        out->data[i] = (float *)PyArray_DATA(a);
        out->shapes[i] = srnn_shape_of(a);
        out->sizes[i] = (int64_t)PyArray_SIZE(a);
    }
    return 0;
}

void srnn_params_release(srnn_params *p) {
    PyMem_Free(p->heap);
    Py_CLEAR(p->seq);
    p->heap = NULL;
}
