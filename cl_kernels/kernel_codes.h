// Codes that the host passes to kernels, in one place: the kernels #include this file (the build
// inlines it into each source that does, cmake/embed_kernels_script.cmake) and so does the host
// (runtime/src/ops), so the two cannot disagree.
#ifndef CLNN_KERNEL_CODES_H
#define CLNN_KERNEL_CODES_H

// Binary operations: broadcast.cl's `op`, and elementwise.cl's fast kernels (add, sub, mul).
#define BIN_ADD 0
#define BIN_SUB 1
#define BIN_MUL 2
#define BIN_DIV 3
#define BIN_POW 4
#define BIN_PRELU 5  // x < 0 ? y * x : x, y the slope
#define BIN_MAX 6    // ties: the gradient goes to x
#define BIN_MIN 7
// Comparisons: 1 where true, else 0; no gradient.
#define BIN_EQUAL 8
#define BIN_LESS 9
#define BIN_LESS_EQUAL 10
#define BIN_GREATER 11
#define BIN_GREATER_EQUAL 12

// Resize (resize.cl): coordinate transformation modes, and how nearest rounds ties.
#define RESIZE_HALF_PIXEL 0
#define RESIZE_ASYMMETRIC 1
#define RESIZE_ALIGN_CORNERS 2
#define RESIZE_PYTORCH_HALF_PIXEL 3
#define RESIZE_PREFER_FLOOR 0
#define RESIZE_PREFER_CEIL 1
#define RESIZE_FLOOR 2
#define RESIZE_CEIL 3

// Reductions: reduce.cl's -DREDUCE_OP=<code>, how the passes combine elements.
#define REDUCE_SUM 0
#define REDUCE_MAX 1
#define REDUCE_MIN 2
#define REDUCE_PROD 3

// Activations: activation.cl's -DACTIVATION=<code>, with parameters p and q where marked.
#define ACT_RELU 0
#define ACT_LEAKY_RELU 1  // p: slope
#define ACT_SIGMOID 2
#define ACT_TANH 3
#define ACT_ELU 4  // p: alpha
#define ACT_GELU 5
#define ACT_SQRT 6
#define ACT_EXP 7
#define ACT_SELU 8          // p: alpha, q: gamma
#define ACT_HARD_SIGMOID 9  // p: alpha, q: beta
#define ACT_CLIP 10         // p: min, q: max
#define ACT_ABS 11
#define ACT_LOG 12
#define ACT_RECIPROCAL 13
#define ACT_FLOOR 14
#define ACT_CEIL 15
#define ACT_ROUND 16  // halves to even
#define ACT_SIGN 17
#define ACT_ERF 18
#define ACT_SOFTPLUS 19
#define ACT_SOFTSIGN 20
#define ACT_HARD_SWISH 21  // x * clamp(x / 6 + 1/2, 0, 1)
#define ACT_MISH 22
#define ACT_SIN 23
#define ACT_COS 24
#define ACT_TAN 25
#define ACT_ASIN 26
#define ACT_ACOS 27
#define ACT_ATAN 28
#define ACT_SINH 29
#define ACT_COSH 30
#define ACT_ASINH 31
#define ACT_ACOSH 32
#define ACT_ATANH 33
#define ACT_CELU 34              // p: alpha
#define ACT_THRESHOLDED_RELU 35  // p: alpha
#define ACT_SHRINK 36            // p: bias, q: lambd
#define ACT_SHIFT 37             // x + p

#endif
