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

#endif
