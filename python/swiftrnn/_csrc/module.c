/* Module definition of swiftrnn._native: CPU check, NumPy import, shared helpers. */
#define SRNN_MODULE_MAIN
#include "native.h"

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
                     "%s is a PackedSequence, which swiftrnn does not take: pass the padded batch "
                     "(torch.nn.utils.rnn.pad_packed_sequence). Each sequence's result depends only on itself, so "
                     "a unidirectional RNN's outputs at t < length are those of the packed run; run a sequence "
                     "alone for its hn at its own last step", what);
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

PyArrayObject *srnn_as_float32(PyObject *obj, const char *what) {
    PyArrayObject *a = from_any(obj);
    if (a == NULL) {
        explain_conversion_error(obj, what);
        return NULL;
    }
    int t = PyArray_TYPE(a);
    int empty_sequence = PyArray_SIZE(a) == 0 && (PyList_Check(obj) || PyTuple_Check(obj));
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
    PyArrayObject *a = from_any(obj);
    if (a == NULL) {
        explain_conversion_error(obj, what);
        return NULL;
    }
    int t = PyArray_TYPE(a);
    int empty_sequence = PyArray_SIZE(a) == 0 && (PyList_Check(obj) || PyTuple_Check(obj));
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

static PyObject *abi_version(PyObject *self, PyObject *noargs) { return PyLong_FromLong(srnn_abi_version()); }
static PyObject *simd_level(PyObject *self, PyObject *noargs) { return PyUnicode_FromString(srnn_simd_level()); }

static PyObject *fma_peak_gflops(PyObject *self, PyObject *arg) {
    double seconds = PyFloat_AsDouble(arg);
    if (seconds == -1.0 && PyErr_Occurred()) return NULL;
    if (!(seconds > 0 && seconds <= 10)) {
        PyErr_Format(PyExc_ValueError, "fma_peak_gflops expects a time in seconds in (0, 10], got %R", arg);
        return NULL;
    }
    double gflops;
    Py_BEGIN_ALLOW_THREADS
    gflops = srnn_fma_peak_gflops(seconds);
    Py_END_ALLOW_THREADS
    return PyFloat_FromDouble(gflops);
}

static PyObject *set_num_threads(PyObject *self, PyObject *arg) {
    int overflow = 0;
    long n = PyLong_AsLongAndOverflow(arg, &overflow);
    if (n == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return PyErr_Format(PyExc_TypeError, "set_num_threads expects an int, got %s", Py_TYPE(arg)->tp_name);
    }
    long max_threads = srnn_max_num_threads();
    if (overflow || n < 1 || n > max_threads) {
        PyErr_Format(PyExc_ValueError, "set_num_threads expects a number of threads from 1 to %ld, got %R",
                     max_threads, arg);
        return NULL;
    }
    srnn_set_num_threads((int32_t)n);
    Py_RETURN_NONE;
}

static PyObject *get_num_threads(PyObject *self, PyObject *noargs) { return PyLong_FromLong(srnn_get_num_threads()); }

static PyMethodDef module_methods[] = {
    {"abi_version", abi_version, METH_NOARGS, "The C ABI version of the Swift core."},
    {"simd_level", simd_level, METH_NOARGS, "The SIMD kernels in use: avx512, avx2+fma or portable (SWIFTRNN_SIMD=avx2 forces avx2+fma)."},
    {"fma_peak_gflops", fma_peak_gflops, METH_O,
     "fma_peak_gflops(seconds): GFLOP/s of one core on register-resident FMA chains at the kernels' vector width "
     "(the ceiling of any GEMM), timed for about `seconds`."},
    {"set_num_threads", set_num_threads, METH_O, "Set how many threads the kernels may use."},
    {"get_num_threads", get_num_threads, METH_NOARGS, "How many threads the kernels may use."},
    {NULL, NULL, 0, NULL},
};

/* Every source file's table, merged into one at import. */
static PyMethodDef *const method_tables[] = {module_methods, srnn_layer_methods, srnn_random_methods,
                                              srnn_train_methods, srnn_alloc_methods};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "swiftrnn._native", "The C extension over the swiftrnn Swift core.", -1, NULL,
};

PyMODINIT_FUNC PyInit__native(void) {
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(SRNN_PORTABLE_CORE)
    /* The core is compiled with AVX2 + FMA: refuse to load rather than die with SIGILL later (unless it was
     * built with SWIFTRNN_PORTABLE=1, without them). */
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        PyErr_SetString(PyExc_ImportError,
                        "swiftrnn needs an x86-64 CPU with AVX2 and FMA (Intel Haswell / AMD Excavator or newer); "
                        "this CPU lacks them; build from source with SWIFTRNN_PORTABLE=1 for a slower core without them");
        return NULL;
    }
#endif
    if (srnn_abi_version() != SRNN_ABI_VERSION) {
        PyErr_Format(PyExc_ImportError, "swiftrnn: the Swift core has ABI version %d but the extension expects %d; "
                     "reinstall swiftrnn", (int)srnn_abi_version(), SRNN_ABI_VERSION);
        return NULL;
    }
    import_array();
    if (srnn_alloc_init() < 0) return NULL;

    size_t total = 0;
    for (size_t t = 0; t < sizeof method_tables / sizeof *method_tables; t++)
        for (PyMethodDef *m = method_tables[t]; m->ml_name; m++) total++;
    /* Lives as long as the process: the module's functions point into it. */
    PyMethodDef *all = PyMem_RawCalloc(total + 1, sizeof(PyMethodDef));
    if (all == NULL) return PyErr_NoMemory();
    size_t k = 0;
    for (size_t t = 0; t < sizeof method_tables / sizeof *method_tables; t++)
        for (PyMethodDef *m = method_tables[t]; m->ml_name; m++) all[k++] = *m;
    native_module.m_methods = all;
    return PyModule_Create(&native_module);
}
