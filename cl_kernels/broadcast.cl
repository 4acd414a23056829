// Binary operations with numpy broadcasting over up to 8 dimensions and their gradients (the
// sum that folds a broadcast gradient back to an operand's shape is the reduction engine's,
// runtime/src/ops/reduction.cpp). Shapes travel as long8 extents
// (outermost first, rank of them used); an operand's strides are 0 along the dimensions it is
// broadcast over. Destinations take beta: 0 overwrites without reading.

#include "kernel_codes.h"
#include "strided_index.h"

float binary(const float x, const float y, const int op) {
  switch (op) {
    case BIN_ADD: return x + y;
    case BIN_SUB: return x - y;
    case BIN_MUL: return x * y;
    case BIN_DIV: return x / y;
    case BIN_POW: return pow(x, y);
    case BIN_PRELU: return x < 0.0f ? y * x : x;
    case BIN_MAX: return fmax(x, y);
    case BIN_MIN: return fmin(x, y);
    case BIN_EQUAL: return x == y ? 1.0f : 0.0f;
    case BIN_LESS: return x < y ? 1.0f : 0.0f;
    case BIN_LESS_EQUAL: return x <= y ? 1.0f : 0.0f;
    case BIN_GREATER: return x > y ? 1.0f : 0.0f;
    case BIN_GREATER_EQUAL: return x >= y ? 1.0f : 0.0f;
  }
  return NAN;
}

// d binary / d x (which == 0) or d binary / d y (which == 1).
float binary_derivative(const float x, const float y, const int op, const int which) {
  switch (op) {
    case BIN_ADD: return 1.0f;
    case BIN_SUB: return which ? -1.0f : 1.0f;
    case BIN_MUL: return which ? x : y;
    case BIN_DIV: return which ? -x / (y * y) : 1.0f / y;
    case BIN_POW: return which ? pow(x, y) * log(x) : y * pow(x, y - 1.0f);
    case BIN_PRELU: return which ? (x < 0.0f ? x : 0.0f) : (x < 0.0f ? y : 1.0f);
    case BIN_MAX: return (which ? y > x : x >= y) ? 1.0f : 0.0f;
    case BIN_MIN: return (which ? y < x : x <= y) ? 1.0f : 0.0f;
  }
  return NAN;
}

__kernel void broadcast_binary(__global const float* a, __global const float* b,
                               __global float* out, const ulong n, const int rank,
                               const long8 dims, const long8 sa, const long8 sb, const int op) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    ulong at_a, at_b;
    strided_offsets(i, n, rank, dims, sa, sb, &at_a, &at_b);
    out[i] = binary(a[at_a], b[at_b], op);
  }
}

// The same four output elements at a time, where the innermost dimension comes in float4s: n and
// that dimension's extent count float4s, offsets count floats. An operand whose innermost stride
// is 4 (it runs along it; its other strides are whole float4s) is read as a float4, one whose
// innermost stride is 0 (broadcast along it: a per-channel scale) as a float repeated.
float4 operand4(__global const float* p, const ulong at, const long inner_stride) {
  return inner_stride ? *(__global const float4*)(p + at) : (float4)(p[at]);
}

__kernel void broadcast_binary4(__global const float* a, __global const float* b,
                                __global float4* out, const ulong n, const int rank,
                                const long8 dims, const long8 sa, const long8 sb, const int op,
                                const long a_inner, const long b_inner) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    ulong at_a, at_b;  // floats: 32-bit arithmetic only where 4 n fits
    strided_offsets(i, 4 * n, rank, dims, sa, sb, &at_a, &at_b);
    const float4 x = operand4(a, at_a, a_inner), y = operand4(b, at_b, b_inner);
    out[i] = (float4)(binary(x.x, y.x, op), binary(x.y, y.y, op), binary(x.z, y.z, op),
                      binary(x.w, y.w, op));
  }
}

// g[i] = beta * g[i] + gy[i] * d out / d operand `which`, over the output's elements.
__kernel void broadcast_binary_grad(__global const float* a, __global const float* b,
                                    __global const float* gy, __global float* g, const ulong n,
                                    const int rank, const long8 dims, const long8 sa,
                                    const long8 sb, const int op, const int which,
                                    const float beta) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    ulong at_a, at_b;
    strided_offsets(i, n, rank, dims, sa, sb, &at_a, &at_b);
    const float v = gy[i] * binary_derivative(a[at_a], b[at_b], op, which);
    g[i] = beta == 0.0f ? v : v + beta * g[i];
  }
}

// out = c != 0 ? a : b, each operand read through its strides (where).
__kernel void broadcast_select(__global const float* c, __global const float* a,
                               __global const float* b, __global float* out, const ulong n,
                               const int rank, const long8 dims, const long8 c_strides,
                               const long8 a_strides, const long8 b_strides) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0))
    out[i] = c[strided_offset(i, n, rank, dims, c_strides)] != 0.0f
                 ? a[strided_offset(i, n, rank, dims, a_strides)]
                 : b[strided_offset(i, n, rank, dims, b_strides)];
}

// g[i] = beta * g[i] + (gy[i] where the condition picked operand `which` (0: a, 1: b), else 0).
__kernel void broadcast_select_grad(__global const float* c, __global const float* gy,
                                    __global float* g, const ulong n, const int rank,
                                    const long8 dims, const long8 c_strides, const int which,
                                    const float beta) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    const bool picked =
        (c[strided_offset(i, n, rank, dims, c_strides)] != 0.0f) == (which == 0);
    const float v = picked ? gy[i] : 0.0f;
    g[i] = beta == 0.0f ? v : v + beta * g[i];
  }
}
