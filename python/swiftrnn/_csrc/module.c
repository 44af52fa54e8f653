/* Module definition of swiftrnn._native: CPU check, NumPy import, library facts, the merged method table. */
#define SRNN_MODULE_MAIN
#include "args.h"

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
static PyMethodDef *const method_tables[] = {module_methods,         srnn_embedding_methods, srnn_linear_methods,
                                              srnn_rnn_methods,       srnn_loss_methods,      srnn_optim_methods,
                                              srnn_random_methods,    srnn_alloc_methods};

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
