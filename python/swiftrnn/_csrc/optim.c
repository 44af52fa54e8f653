/* Optimizer steps (SGD, Adam/AdamW, one parameter or a whole group) and gradient clipping. */
#include "args.h"

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
    if (!srnn_same_shape(*g, PyArray_DIMS(*p), PyArray_NDIM(*p))) {
        srnn_shape_error("the gradient", PyArray_DIMS(*p), PyArray_NDIM(*p), *g);
        return -1;
    }
    return 0;
}

/* sgd_step(param, grad, momentum_buffer or None, buffer_is_new, lr, momentum, dampening, weight_decay,
 *          nesterov, maximize) -> None; updates param (and the buffer) in place. */
static PyObject *sgd_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    CHECK_NARGS("sgd_step", 10);
    /* Scalars first: converting them may run user code that changes the arrays. */
    int32_t is_new, nesterov, maximize;
    double lr, momentum, dampening, wd;
    if (srnn_arg_flag(args[3], &is_new) < 0 || srnn_arg_double(args[4], &lr) < 0 || srnn_arg_double(args[5], &momentum) < 0 ||
        srnn_arg_double(args[6], &dampening) < 0 || srnn_arg_double(args[7], &wd) < 0 || srnn_arg_flag(args[8], &nesterov) < 0 ||
        srnn_arg_flag(args[9], &maximize) < 0)
        return NULL;
    PyArrayObject *p, *g, *buf = NULL;
    if (param_and_grad(args[0], args[1], &p, &g) < 0) return NULL;
    npy_intp n = PyArray_SIZE(p);
    if (args[2] != Py_None && (buf = state_buffer(args[2], "the momentum buffer", n)) == NULL) return NULL;
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
    CHECK_NARGS("adam_step", 13);
    /* Scalars first: converting them may run user code that changes the arrays. */
    int64_t step;
    int32_t decoupled, maximize;
    double lr, b1, b2, eps, wd;
    if (srnn_arg_int64(args[5], &step) < 0 || srnn_arg_double(args[6], &lr) < 0 || srnn_arg_double(args[7], &b1) < 0 ||
        srnn_arg_double(args[8], &b2) < 0 || srnn_arg_double(args[9], &eps) < 0 || srnn_arg_double(args[10], &wd) < 0 ||
        srnn_arg_flag(args[11], &decoupled) < 0 || srnn_arg_flag(args[12], &maximize) < 0)
        return NULL;
    PyArrayObject *p, *g, *m, *v, *vmax = NULL;
    if (param_and_grad(args[0], args[1], &p, &g) < 0) return NULL;
    npy_intp n = PyArray_SIZE(p);
    if ((m = state_buffer(args[2], "exp_avg", n)) == NULL || (v = state_buffer(args[3], "exp_avg_sq", n)) == NULL)
        return NULL;
    if (args[4] != Py_None && (vmax = state_buffer(args[4], "max_exp_avg_sq", n)) == NULL) return NULL;
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
    CHECK_NARGS("adam_step_group", 13);
    double lr, b1, b2, eps, wd;
    int32_t decoupled, maximize;
    if (srnn_arg_double(args[6], &lr) < 0 || srnn_arg_double(args[7], &b1) < 0 || srnn_arg_double(args[8], &b2) < 0 ||
        srnn_arg_double(args[9], &eps) < 0 || srnn_arg_double(args[10], &wd) < 0 || srnn_arg_flag(args[11], &decoupled) < 0 ||
        srnn_arg_flag(args[12], &maximize) < 0)
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
    /* The step numbers first: converting one may run user code that changes the arrays checked below. */
    for (Py_ssize_t i = 0; i < count; i++) {
        if (srnn_arg_int64(PySequence_Fast_GET_ITEM(lists[5], i), &items[i].step) < 0) goto done;
        if (items[i].step < 1) {
            PyErr_Format(PyExc_ValueError, "the step number must be at least 1, got %lld", (long long)items[i].step);
            goto done;
        }
    }
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
        items[i] = (adam_item){(float *)PyArray_DATA(p), (float *)PyArray_DATA(m), (float *)PyArray_DATA(v),
                               vmax ? (float *)PyArray_DATA(vmax) : NULL, (const float *)PyArray_DATA(g), n, items[i].step};
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

/* clip_grad_norm(grads, max_norm, norm_type, error_if_nonfinite) -> total norm (float) */
static PyObject *clip_grad_norm(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    CHECK_NARGS("clip_grad_norm", 4);
    double max_norm, norm_type;
    int32_t error_if_nonfinite;
    if (srnn_arg_double(args[1], &max_norm) < 0 || srnn_arg_double(args[2], &norm_type) < 0 ||
        srnn_arg_flag(args[3], &error_if_nonfinite) < 0)
        return NULL;
    srnn_params g;
    PyObject *result = NULL;
    if (srnn_params_gather(args[0], "a gradient", 1, 0, &g) == 0) {
        char err[SRNN_ERR_CAP];
        int32_t status;
        float total = 0;
        CALL_CORE(status, srnn_clip_grad_norm(g.data, g.sizes, g.count, max_norm, norm_type, error_if_nonfinite,
                                              &total, err, sizeof err));
        result = status == SRNN_OK ? PyFloat_FromDouble(total) : srnn_raise(status, err);
    }
    srnn_params_release(&g);
    return result;
}

/* clip_grad_value(grads, clip_value) -> None */
static PyObject *clip_grad_value(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    CHECK_NARGS("clip_grad_value", 2);
    double clip;
    if (srnn_arg_double(args[1], &clip) < 0) return NULL;
    srnn_params g;
    int32_t status = SRNN_OK;
    char err[SRNN_ERR_CAP];
    if (srnn_params_gather(args[0], "a gradient", 1, 0, &g) == 0) {
        CALL_CORE(status, srnn_clip_grad_value(g.data, g.sizes, g.count, clip, err, sizeof err));
        if (status != SRNN_OK) srnn_raise(status, err);
    }
    srnn_params_release(&g);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

PyMethodDef srnn_optim_methods[] = {
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
