// Vector math that Swift's SIMD types do not lower well (internal to the package; header only).
#ifndef SWIFTRNN_MATH_H
#define SWIFTRNN_MATH_H

typedef float srnn_float8 __attribute__((ext_vector_type(8)));

/// The correctly rounded square root of each lane (IEEE sqrt: the same bits as sqrtf), as one vector
/// instruction (vsqrtps). Swift's `SIMD8<Float>.squareRoot()` becomes eight scalar square roots, each
/// with a branch to libm's sqrtf for negative inputs.
static inline __attribute__((always_inline)) srnn_float8 srnn_sqrt8(srnn_float8 x) {
    return __builtin_elementwise_sqrt(x);
}

#endif /* SWIFTRNN_MATH_H */
